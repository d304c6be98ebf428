//! Exact row counts, null counts and minimum / maximum of an unfiltered scan, from file
//! footers and the memtable chunks, without reading a page: `COUNT(*)`, `MIN` and `MAX`
//! answered from statistics.

use arrow_arith::aggregate::{max, max_boolean, max_string, min, min_boolean, min_string};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use cairn_storage::{ColumnType, StatValue, Stats};

use super::Scan;
use crate::convert::conform;
use crate::error::Result;
use crate::predicate::Scalar;

/// What an unfiltered scan would return, summarised exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSummary {
    pub rows: u64,
    /// One per returned column, in output order.
    pub columns: Vec<ColumnSummary>,
}

/// `min` / `max` are `None` when the column has no value, or when a bound is not known
/// exactly (a long string bound stored truncated): then `exact` is false.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSummary {
    pub nulls: u64,
    pub min: Option<Scalar>,
    pub max: Option<Scalar>,
    pub exact: bool,
}

impl ColumnSummary {
    fn empty() -> Self {
        ColumnSummary {
            nulls: 0,
            min: None,
            max: None,
            exact: true,
        }
    }

    fn merge(&mut self, nulls: u64, bounds: Option<Option<(Scalar, Scalar)>>) {
        self.nulls += nulls;
        match bounds {
            None => self.exact = false,
            Some(None) => {}
            Some(Some((lo, hi))) => {
                if self.min.as_ref().is_none_or(|m| less(&lo, m)) {
                    self.min = Some(lo);
                }
                if self.max.as_ref().is_none_or(|m| less(m, &hi)) {
                    self.max = Some(hi);
                }
            }
        }
    }
}

impl Scan {
    /// The exact summary of what this scan returns, or `None` when it filters (a time range
    /// or predicates): then only reading the rows can say. Reads footers, not pages.
    pub fn summary(&self) -> Result<Option<ScanSummary>> {
        if !self.bounds.is_empty() || self.time != (i64::MIN, i64::MAX) {
            return Ok(None);
        }
        let mut rows = 0;
        let mut columns = vec![ColumnSummary::empty(); self.projection.len()];
        for chunk in &self.chunks {
            let chunk = conform(chunk, &self.full_schema)?;
            rows += chunk.num_rows() as u64;
            for (out, &i) in columns.iter_mut().zip(&self.projection) {
                let t = self.full[i].column_type;
                let a = chunk.column(i);
                out.merge(a.null_count() as u64, Some(array_bounds(&chunk, i, t)));
            }
        }
        for file in &self.files {
            let reader = file.reader()?;
            let footer = reader.footer();
            rows += footer.row_count;
            for (out, &i) in columns.iter_mut().zip(&self.projection) {
                let t = self.full[i].column_type;
                match footer
                    .columns
                    .iter()
                    .find(|c| c.spec.name == self.full[i].name)
                {
                    Some(c) => out.merge(c.null_count, stat_bounds(&c.stats, t)),
                    None => out.merge(footer.row_count, Some(None)),
                }
            }
        }
        Ok(Some(ScanSummary { rows, columns }))
    }
}

/// Bounds of column `i` of `chunk`.
fn array_bounds(chunk: &RecordBatch, i: usize, t: ColumnType) -> Option<(Scalar, Scalar)> {
    let a = chunk.column(i);
    match t {
        ColumnType::I64 => {
            let a = a.as_primitive::<Int64Type>();
            Some((Scalar::I64(min(a)?), Scalar::I64(max(a)?)))
        }
        ColumnType::U64 => {
            let a = a.as_primitive::<UInt64Type>();
            Some((Scalar::U64(min(a)?), Scalar::U64(max(a)?)))
        }
        ColumnType::F64 => {
            let a = a.as_primitive::<Float64Type>();
            Some((Scalar::F64(min(a)?), Scalar::F64(max(a)?)))
        }
        ColumnType::Timestamp => {
            let a = a.as_primitive::<TimestampNanosecondType>();
            Some((Scalar::Timestamp(min(a)?), Scalar::Timestamp(max(a)?)))
        }
        ColumnType::Bool => {
            let a = a.as_boolean();
            Some((Scalar::Bool(min_boolean(a)?), Scalar::Bool(max_boolean(a)?)))
        }
        ColumnType::String => {
            let a = a.as_string::<i32>();
            Some((
                Scalar::Str(min_string(a)?.to_owned()),
                Scalar::Str(max_string(a)?.to_owned()),
            ))
        }
    }
}

/// Footer bounds as scalars: `Some(None)` for no value, `None` when not exact.
fn stat_bounds(stats: &Stats, t: ColumnType) -> Option<Option<(Scalar, Scalar)>> {
    let Some((lo, hi)) = &stats.bounds else {
        return Some(None);
    };
    let scalar = |v: &StatValue| -> Option<Scalar> {
        Some(match (v, t) {
            (StatValue::I64(x), ColumnType::Timestamp) => Scalar::Timestamp(*x),
            (StatValue::I64(x), _) => Scalar::I64(*x),
            (StatValue::U64(x), _) => Scalar::U64(*x),
            (StatValue::F64(x), _) => Scalar::F64(*x),
            (StatValue::Bool(x), _) => Scalar::Bool(*x),
            (
                StatValue::Bytes {
                    value,
                    truncated: false,
                },
                _,
            ) => Scalar::Str(String::from_utf8(value.clone()).ok()?),
            (StatValue::Bytes { .. }, _) => return None,
        })
    };
    Some(Some((scalar(lo)?, scalar(hi)?)))
}

/// `a < b` for two values of one column (floats by total order, as the statistics are).
fn less(a: &Scalar, b: &Scalar) -> bool {
    match (a, b) {
        (Scalar::I64(a), Scalar::I64(b)) | (Scalar::Timestamp(a), Scalar::Timestamp(b)) => a < b,
        (Scalar::U64(a), Scalar::U64(b)) => a < b,
        (Scalar::F64(a), Scalar::F64(b)) => a.total_cmp(b).is_lt(),
        (Scalar::Bool(a), Scalar::Bool(b)) => a < b,
        (Scalar::Str(a), Scalar::Str(b)) => a < b,
        _ => false,
    }
}
