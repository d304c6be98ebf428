//! Between Arrow arrays (memtables, scan output) and cairn-storage columns (partition files).
//! Both sides use the same buffer layouts, so conversions move buffers instead of copying
//! values, except where Arrow holds a bit-offset slice.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt32Array, UInt64Array, new_null_array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{Field, Schema as ArrowSchema, SchemaRef};
use cairn_codec::string::Dictionary;
use cairn_codec::{Bitmap, BitmapRef, PageValues};
use cairn_storage::{Column, ColumnData, ColumnInput, ColumnSpec, ColumnType};

use crate::batch_codec::arrow_type;
use crate::error::{EngineError, Result};

/// The Arrow schema of `columns` (every column nullable except the TIME_KEY).
pub fn arrow_schema(columns: &[ColumnSpec]) -> SchemaRef {
    Arc::new(ArrowSchema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(c.column_type), c.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// `batch` with exactly `columns` (by name, in order): columns it lacks are all null.
/// Columns are matched by name; their types must already agree.
pub fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let rows = batch.num_rows();
    let arrays = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(a) => a.clone(),
            None => new_null_array(f.data_type(), rows),
        })
        .collect();
    RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| EngineError::InvalidWrite(e.to_string()))
}

fn bitmap_of(buf: &BooleanBuffer) -> Buffer {
    if buf.offset() == 0 {
        buf.inner().clone()
    } else {
        buf.sliced()
    }
}

/// Holds the buffers a partition write borrows.
pub struct InputBuffers {
    columns: Vec<(ColumnType, ArrayRef, Option<Buffer>, Option<Buffer>)>,
}

impl InputBuffers {
    /// Prepares `arrays` (already conformed to `specs`) for [`Self::inputs`].
    pub fn new(specs: &[ColumnSpec], arrays: &[ArrayRef]) -> Self {
        let columns = specs
            .iter()
            .zip(arrays)
            .map(|(s, a)| {
                let validity = a.nulls().map(|n| bitmap_of(n.inner()));
                let bools =
                    (s.column_type == ColumnType::Bool).then(|| bitmap_of(a.as_boolean().values()));
                (s.column_type, a.clone(), validity, bools)
            })
            .collect();
        Self { columns }
    }

    pub fn inputs(&self) -> Result<Vec<ColumnInput<'_>>> {
        fn bits(b: &Option<Buffer>, len: usize) -> Result<BitmapRef<'_>> {
            let bytes = b.as_ref().map_or(&[][..], |b| b.as_slice());
            BitmapRef::new(bytes, len).ok_or_else(|| {
                EngineError::InvalidWrite("a bitmap is shorter than its array".into())
            })
        }
        self.columns
            .iter()
            .map(|(t, a, validity, bools)| {
                let len = a.len();
                let values = match t {
                    ColumnType::Timestamp => {
                        PageValues::I64(a.as_primitive::<TimestampNanosecondType>().values())
                    }
                    ColumnType::I64 => PageValues::I64(a.as_primitive::<Int64Type>().values()),
                    ColumnType::U64 => PageValues::U64(a.as_primitive::<UInt64Type>().values()),
                    ColumnType::F64 => PageValues::F64(a.as_primitive::<Float64Type>().values()),
                    ColumnType::Bool => PageValues::Bool(bits(bools, len)?),
                    ColumnType::String => {
                        let s = a.as_string::<i32>();
                        PageValues::Utf8 {
                            offsets: s.value_offsets(),
                            data: s.values().as_slice(),
                        }
                    }
                };
                let validity = match validity {
                    Some(_) => Some(bits(validity, len)?),
                    None => None,
                };
                Ok(ColumnInput { values, validity })
            })
            .collect()
    }
}

pub fn nulls(validity: Option<Bitmap>) -> Option<NullBuffer> {
    validity.map(|v| {
        let len = v.len();
        NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(v.into_bytes()), 0, len))
    })
}

/// Strings of a file's dictionary as one Arrow array (built once per file and column).
pub fn dictionary_array(d: &Dictionary) -> Result<StringArray> {
    StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(d.offsets.clone())),
        Buffer::from_vec(d.data.clone()),
        None,
    )
    .map_err(|e| EngineError::InvalidWrite(format!("dictionary: {e}")))
}

/// A decoded storage column as an Arrow array of `t`. `dict` holds the column's dictionary
/// strings when the file has one.
pub fn column_to_array(col: Column, t: ColumnType, dict: Option<&StringArray>) -> Result<ArrayRef> {
    let Column { data, validity } = col;
    let nulls = nulls(validity);
    let bad = |what: &str| EngineError::InvalidWrite(format!("column data does not match {what}"));
    Ok(match (t, data) {
        (ColumnType::Timestamp, ColumnData::I64(v)) => Arc::new(
            TimestampNanosecondArray::new(ScalarBuffer::from(v), nulls).with_timezone("UTC"),
        ),
        (ColumnType::I64, ColumnData::I64(v)) => Arc::new(Int64Array::new(v.into(), nulls)),
        (ColumnType::U64, ColumnData::U64(v)) => Arc::new(UInt64Array::new(v.into(), nulls)),
        (ColumnType::F64, ColumnData::F64(v)) => Arc::new(Float64Array::new(v.into(), nulls)),
        (ColumnType::Bool, ColumnData::Bool(b)) => {
            let len = b.len();
            Arc::new(BooleanArray::new(
                BooleanBuffer::new(Buffer::from_vec(b.into_bytes()), 0, len),
                nulls,
            ))
        }
        (ColumnType::String, ColumnData::Utf8 { offsets, data }) => Arc::new(
            StringArray::try_new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_vec(data),
                nulls,
            )
            .map_err(|e| EngineError::InvalidWrite(e.to_string()))?,
        ),
        (ColumnType::String, ColumnData::Dict { codes, .. }) => {
            let Some(values) = dict else {
                return Err(bad("a dictionary column without its dictionary"));
            };
            let idx = UInt32Array::new(codes.into(), nulls);
            arrow_select::take::take(values, &idx, None)
                .map_err(|e| EngineError::InvalidWrite(e.to_string()))?
        }
        (t, _) => return Err(bad(t.name())),
    })
}
