//! Turning a caller's Arrow batch into a write: columns checked against the collection's
//! schema and converted to the declared types, missing timestamps filled, rows outside the
//! retention window refused, rows split by time partition.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{Array, ArrayRef, RecordBatch, TimestampNanosecondArray, UInt32Array};
use arrow_cast::CastOptions;
use arrow_schema::{DataType, Field, Schema as ArrowSchema, TimeUnit};
use cairn_storage::{ColumnSpec, ColumnType};

use crate::batch_codec::arrow_type;
use crate::catalog::CollectionDef;
use crate::collection::Part;
use crate::error::{EngineError, Result};

/// A validated write for one collection.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The columns written (schema order, TIME_KEY included), in the declared types.
    pub batch: RecordBatch,
    pub types: Vec<ColumnType>,
}

/// The column type an Arrow type becomes when a write adds a column.
pub fn column_type_for(dt: &DataType) -> Option<ColumnType> {
    Some(match dt {
        DataType::Timestamp(..) => ColumnType::Timestamp,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => ColumnType::I64,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => ColumnType::U64,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => ColumnType::F64,
        DataType::Boolean => ColumnType::Bool,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::String,
        DataType::Dictionary(_, v) if column_type_for(v) == Some(ColumnType::String) => {
            ColumnType::String
        }
        _ => return None,
    })
}

fn convertible(to: ColumnType, from: &DataType) -> bool {
    if matches!(from, DataType::Null) {
        return true;
    }
    let Some(natural) = column_type_for(from) else {
        return false;
    };
    match to {
        ColumnType::I64 | ColumnType::U64 => matches!(natural, ColumnType::I64 | ColumnType::U64),
        ColumnType::F64 => matches!(natural, ColumnType::F64 | ColumnType::I64 | ColumnType::U64),
        t => natural == t,
    }
}

/// `a` as the declared type of `spec`; a value that does not fit is an error naming the row.
pub fn to_declared(a: &ArrayRef, spec: &ColumnSpec) -> Result<ArrayRef> {
    let target = arrow_type(spec.column_type);
    if a.data_type() == &target {
        return Ok(a.clone());
    }
    if !convertible(spec.column_type, a.data_type()) {
        return Err(EngineError::InvalidWrite(format!(
            "column {:?} is {} but the batch has {}",
            spec.name,
            spec.column_type.name(),
            a.data_type()
        )));
    }
    let opts = CastOptions {
        safe: true,
        ..CastOptions::default()
    };
    // A cast to a named zone ("UTC") needs chrono-tz; timestamps are UTC instants whatever
    // their zone (a zone-less one is taken as UTC), so cast the unit only and relabel.
    let cast_to = match spec.column_type {
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, None),
        _ => target.clone(),
    };
    let mut out = arrow_cast::cast_with_options(a, &cast_to, &opts)
        .map_err(|e| EngineError::InvalidWrite(format!("column {:?}: {e}", spec.name)))?;
    if spec.column_type == ColumnType::Timestamp {
        out = Arc::new(
            out.as_primitive::<TimestampNanosecondType>()
                .clone()
                .with_timezone("UTC"),
        );
    }
    if out.null_count() != a.null_count()
        && let Some(row) = (0..a.len()).find(|&i| a.is_valid(i) && out.is_null(i))
    {
        return Err(EngineError::InvalidValue {
            column: spec.name.clone(),
            row,
            message: format!(
                "the value does not fit the column's type {}",
                spec.column_type.name()
            ),
        });
    }
    Ok(out)
}

/// Validates `batch` for `def`. Every column of `batch` must exist in the schema (the caller
/// adds new ones first). `now_ns` fills a missing or null TIME_KEY.
pub fn prepare(def: &CollectionDef, batch: &RecordBatch, now_ns: i64) -> Result<Prepared> {
    let rows = batch.num_rows();
    let schema = batch.schema();
    let mut given: BTreeMap<usize, ArrayRef> = BTreeMap::new();
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let Some(i) = def.schema.index_of(field.name()) else {
            return Err(EngineError::InvalidWrite(format!(
                "collection {:?} has no column {:?}",
                def.name,
                field.name()
            )));
        };
        if given
            .insert(i, to_declared(array, &def.schema.columns[i])?)
            .is_some()
        {
            return Err(EngineError::InvalidWrite(format!(
                "column {:?} appears twice in the batch",
                field.name()
            )));
        }
    }
    let tk = def.time_key();
    let ts = fill_time(given.remove(&tk), rows, now_ns);
    check_retention(def, &ts, now_ns)?;
    given.insert(tk, Arc::new(ts));
    let mut fields = Vec::with_capacity(given.len());
    let mut types = Vec::with_capacity(given.len());
    let mut arrays = Vec::with_capacity(given.len());
    for (i, a) in given {
        let spec = &def.schema.columns[i];
        fields.push(Field::new(&spec.name, arrow_type(spec.column_type), true));
        types.push(spec.column_type);
        arrays.push(a);
    }
    let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
        .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
    Ok(Prepared { batch, types })
}

fn fill_time(given: Option<ArrayRef>, rows: usize, now_ns: i64) -> TimestampNanosecondArray {
    match given {
        Some(a) => {
            let a = a.as_primitive::<TimestampNanosecondType>();
            if a.null_count() == 0 {
                a.clone()
            } else {
                a.iter()
                    .map(|v| Some(v.unwrap_or(now_ns)))
                    .collect::<TimestampNanosecondArray>()
            }
        }
        None => TimestampNanosecondArray::from(vec![now_ns; rows]),
    }
    .with_timezone("UTC")
}

fn check_retention(def: &CollectionDef, ts: &TimestampNanosecondArray, now_ns: i64) -> Result<()> {
    let Some(keep) = def.options.retention_ns else {
        return Ok(());
    };
    let cutoff = now_ns.saturating_sub(keep);
    if let Some(row) = ts.values().iter().position(|&t| t < cutoff) {
        return Err(EngineError::InvalidValue {
            column: def.time_key_name().to_string(),
            row,
            message: format!(
                "the timestamp is older than the collection's retention window ({} s)",
                keep / 1_000_000_000
            ),
        });
    }
    Ok(())
}

/// Start of the time partition holding `ts`.
pub fn partition_of(ts: i64, interval: i64) -> i64 {
    // Floor division: the partition of a negative timestamp starts at or before it. The
    // product cannot overflow because floor(ts / interval) * interval lies in [ts - interval, ts]
    // and an interval is positive; saturate anyway rather than wrap.
    ts.div_euclid(interval).saturating_mul(interval)
}

/// The rows of `batch` (whose TIME_KEY is `tk`) split by time partition.
pub fn split(batch: &RecordBatch, tk: usize, interval: i64) -> Result<Vec<Part>> {
    let ts = batch
        .column(tk)
        .as_primitive::<TimestampNanosecondType>()
        .values();
    let Some(&first) = ts.first() else {
        return Ok(Vec::new());
    };
    let p0 = partition_of(first, interval);
    let (mut lo, mut hi) = (first, first);
    let mut single = true;
    for &t in ts.iter() {
        lo = lo.min(t);
        hi = hi.max(t);
        single &= partition_of(t, interval) == p0;
    }
    if single {
        return Ok(vec![Part {
            partition: p0,
            batch: batch.clone(),
            min_ts: lo,
            max_ts: hi,
        }]);
    }
    let mut groups: BTreeMap<i64, (Vec<u32>, i64, i64)> = BTreeMap::new();
    for (i, &t) in ts.iter().enumerate() {
        let g = groups
            .entry(partition_of(t, interval))
            .or_insert_with(|| (Vec::new(), i64::MAX, i64::MIN));
        g.0.push(i as u32);
        g.1 = g.1.min(t);
        g.2 = g.2.max(t);
    }
    groups
        .into_iter()
        .map(|(partition, (idx, min_ts, max_ts))| {
            let idx = UInt32Array::from(idx);
            let batch = arrow_select::take::take_record_batch(batch, &idx)
                .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
            Ok(Part {
                partition,
                batch,
                min_ts,
                max_ts,
            })
        })
        .collect()
}
