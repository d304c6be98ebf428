//! Arrays a scan builds: dictionary pages as dictionary arrays, schemas that follow their
//! arrays, and whole files as one batch.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray, new_null_array};
use arrow_schema::SchemaRef;
use cairn_storage::{ColumnData, ColumnSpec};

use crate::collection::PartFile;
use crate::convert::{arrow_schema, column_to_array, dictionary_array};
use crate::error::{EngineError, Result};

/// `base` with each field's type taken from its array (dictionary output).
pub(super) fn schema_of(base: &SchemaRef, arrays: &[ArrayRef]) -> SchemaRef {
    if base
        .fields()
        .iter()
        .zip(arrays)
        .all(|(f, a)| f.data_type() == a.data_type())
    {
        return base.clone();
    }
    Arc::new(arrow_schema::Schema::new(
        base.fields()
            .iter()
            .zip(arrays)
            .map(|(f, a)| {
                arrow_schema::Field::new(f.name(), a.data_type().clone(), f.is_nullable())
            })
            .collect::<Vec<_>>(),
    ))
}

pub(super) fn as_strings(a: &dyn arrow_array::Array) -> &StringArray {
    a.as_string::<i32>()
}

/// A dictionary page as `Dictionary(UInt32, Utf8)` over the file's dictionary `values`.
pub(super) fn dictionary_codes(col: cairn_storage::Column, values: &ArrayRef) -> Result<ArrayRef> {
    let cairn_storage::Column { data, validity } = col;
    let ColumnData::Dict { codes, .. } = data else {
        return Err(EngineError::InvalidWrite(
            "expected dictionary codes".into(),
        ));
    };
    let keys = arrow_array::UInt32Array::new(codes.into(), crate::convert::nulls(validity));
    let dict = arrow_array::DictionaryArray::<arrow_array::types::UInt32Type>::try_new(
        keys,
        values.clone(),
    )
    .map_err(|e| EngineError::InvalidWrite(format!("dictionary page: {e}")))?;
    Ok(Arc::new(dict))
}

/// Every row of `file` as a batch with `columns` (absent columns null).
pub fn read_whole_file(file: &PartFile, columns: &[ColumnSpec]) -> Result<RecordBatch> {
    let reader = file.reader()?;
    let footer = reader.footer();
    let rows = footer.row_count as usize;
    let schema = arrow_schema(columns);
    let arrays = columns
        .iter()
        .map(|spec| {
            let t = spec.column_type;
            match footer.columns.iter().position(|c| c.spec.name == spec.name) {
                Some(fc) => {
                    let dict = match reader.dictionary(fc)? {
                        Some(d) => Some(dictionary_array(&d)?),
                        None => None,
                    };
                    column_to_array(reader.read_column(fc)?, t, dict.as_ref())
                }
                None => Ok(new_null_array(&crate::batch_codec::arrow_type(t), rows)),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new_with_options(
        schema,
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| EngineError::InvalidWrite(e.to_string()))
}
