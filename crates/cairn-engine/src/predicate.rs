//! Column predicates a scan applies exactly, and the pruning they allow from min/max
//! statistics. A scan's predicates are ANDed.
//!
//! Comparison follows Arrow's kernels (and so DataFusion's): floats by IEEE total order
//! (NaN equals NaN and is the largest value; -0.0 < +0.0), strings bytewise, and a comparison
//! with a NULL value is never true. Statistics use the same orders, so pruning never drops a
//! row the kernel would keep.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampNanosecondArray,
    UInt64Array,
};
use arrow_ord::cmp;
use cairn_storage::{ColumnSpec, ColumnType, StatValue, Stats};

use crate::error::{EngineError, Result};

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(String),
    /// Nanoseconds since the Unix epoch.
    Timestamp(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Cmp {
        column: String,
        op: CmpOp,
        value: Scalar,
    },
    /// The column equals one of `values`.
    InList {
        column: String,
        values: Vec<Scalar>,
    },
    IsNull {
        column: String,
    },
    IsNotNull {
        column: String,
    },
}

impl Predicate {
    pub fn column(&self) -> &str {
        match self {
            Predicate::Cmp { column, .. }
            | Predicate::InList { column, .. }
            | Predicate::IsNull { column }
            | Predicate::IsNotNull { column } => column,
        }
    }
}

/// A predicate checked against a column's type, with its literals in that type.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    pub column: usize,
    pub kind: BoundKind,
}

#[derive(Debug, Clone)]
pub(crate) enum BoundKind {
    Cmp(CmpOp, Value),
    InList(Vec<Value>),
    IsNull,
    IsNotNull,
}

/// A literal converted to a column's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(String),
}

fn convert(spec: &ColumnSpec, v: &Scalar) -> Result<Value> {
    let bad = || {
        EngineError::InvalidWrite(format!(
            "cannot compare column {:?} ({}) with {v:?}",
            spec.name,
            spec.column_type.name()
        ))
    };
    Ok(match (spec.column_type, v) {
        (ColumnType::Timestamp, Scalar::Timestamp(t) | Scalar::I64(t)) => Value::I64(*t),
        (ColumnType::I64, Scalar::I64(x)) => Value::I64(*x),
        (ColumnType::I64, Scalar::U64(x)) => Value::I64(i64::try_from(*x).map_err(|_| bad())?),
        (ColumnType::U64, Scalar::U64(x)) => Value::U64(*x),
        (ColumnType::U64, Scalar::I64(x)) => Value::U64(u64::try_from(*x).map_err(|_| bad())?),
        (ColumnType::F64, Scalar::F64(x)) => Value::F64(*x),
        (ColumnType::Bool, Scalar::Bool(b)) => Value::Bool(*b),
        (ColumnType::String, Scalar::Str(s)) => Value::Str(s.clone()),
        _ => return Err(bad()),
    })
}

/// Checks `preds` against `columns` (the collection's schema).
pub(crate) fn bind(preds: &[Predicate], columns: &[ColumnSpec]) -> Result<Vec<Bound>> {
    preds
        .iter()
        .map(|p| {
            let column = columns
                .iter()
                .position(|c| c.name == p.column())
                .ok_or_else(|| EngineError::InvalidWrite(format!("no column {:?}", p.column())))?;
            let spec = &columns[column];
            let kind = match p {
                Predicate::Cmp { op, value, .. } => BoundKind::Cmp(*op, convert(spec, value)?),
                Predicate::InList { values, .. } => BoundKind::InList(
                    values
                        .iter()
                        .map(|v| convert(spec, v))
                        .collect::<Result<_>>()?,
                ),
                Predicate::IsNull { .. } => BoundKind::IsNull,
                Predicate::IsNotNull { .. } => BoundKind::IsNotNull,
            };
            Ok(Bound { column, kind })
        })
        .collect()
}

fn scalar_array(v: &Value, t: ColumnType) -> ArrayRef {
    match (v, t) {
        (Value::I64(x), ColumnType::Timestamp) => {
            Arc::new(TimestampNanosecondArray::from(vec![*x]).with_timezone("UTC"))
        }
        (Value::I64(x), _) => Arc::new(Int64Array::from(vec![*x])),
        (Value::U64(x), _) => Arc::new(UInt64Array::from(vec![*x])),
        (Value::F64(x), _) => Arc::new(Float64Array::from(vec![*x])),
        (Value::Bool(x), _) => Arc::new(BooleanArray::from(vec![*x])),
        (Value::Str(x), _) => Arc::new(StringArray::from(vec![x.as_str()])),
    }
}

fn kernel(op: CmpOp, a: &dyn Array, v: &Value, t: ColumnType) -> Result<BooleanArray> {
    let s = arrow_array::Scalar::new(scalar_array(v, t));
    let r = match op {
        CmpOp::Eq => cmp::eq(&a, &s),
        CmpOp::NotEq => cmp::neq(&a, &s),
        CmpOp::Lt => cmp::lt(&a, &s),
        CmpOp::LtEq => cmp::lt_eq(&a, &s),
        CmpOp::Gt => cmp::gt(&a, &s),
        CmpOp::GtEq => cmp::gt_eq(&a, &s),
    };
    r.map_err(|e| EngineError::InvalidWrite(e.to_string()))
}

/// The rows a mask keeps: true and not null.
fn kept(x: &BooleanArray) -> arrow_buffer::BooleanBuffer {
    match x.nulls() {
        Some(n) => x.values() & n.inner(),
        None => x.values().clone(),
    }
}

/// The rows of `arrays` (indexed like the predicates' columns) that satisfy one predicate,
/// nulls as false.
pub(crate) fn evaluate(b: &Bound, array: &dyn Array, t: ColumnType) -> Result<BooleanArray> {
    let keep_nulls = |want_null: bool| {
        let len = array.len();
        let v: Vec<bool> = (0..len).map(|i| array.is_null(i) == want_null).collect();
        BooleanArray::from(v)
    };
    match &b.kind {
        BoundKind::Cmp(op, v) => kernel(*op, array, v, t),
        BoundKind::InList(values) => {
            let mut acc = BooleanArray::from(vec![false; array.len()]);
            for v in values {
                acc =
                    BooleanArray::new(&kept(&acc) | &kept(&kernel(CmpOp::Eq, array, v, t)?), None);
            }
            Ok(acc)
        }
        BoundKind::IsNull => Ok(keep_nulls(true)),
        BoundKind::IsNotNull => Ok(keep_nulls(false)),
    }
}

/// ANDs masks, nulls as false; `None` without masks.
pub(crate) fn and_all(masks: Vec<BooleanArray>) -> Option<BooleanArray> {
    let mut it = masks.iter();
    let mut acc = kept(it.next()?);
    for m in it {
        acc = &acc & &kept(m);
    }
    Some(BooleanArray::new(acc, None))
}

fn stat_cmp(s: &StatValue, v: &Value) -> Option<Ordering> {
    match (s, v) {
        (StatValue::I64(a), Value::I64(b)) => Some(a.cmp(b)),
        (StatValue::U64(a), Value::U64(b)) => Some(a.cmp(b)),
        (StatValue::F64(a), Value::F64(b)) => Some(a.total_cmp(b)),
        (StatValue::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (StatValue::Bytes { value, .. }, Value::Str(b)) => Some(value.as_slice().cmp(b.as_bytes())),
        _ => None,
    }
}

fn truncated_max(s: &StatValue) -> bool {
    matches!(
        s,
        StatValue::Bytes {
            truncated: true,
            ..
        }
    )
}

/// Whether rows with these statistics (`rows` rows, `nulls` of them null) may satisfy `b`.
/// `None` statistics with no nulls mean "unknown": never pruned.
pub(crate) fn may_match(b: &BoundKind, stats: &Stats, rows: u64, nulls: u64) -> bool {
    match b {
        BoundKind::IsNull => nulls > 0,
        BoundKind::IsNotNull => nulls < rows,
        BoundKind::Cmp(op, v) => range_may_match(*op, v, stats, rows, nulls),
        BoundKind::InList(vs) => vs
            .iter()
            .any(|v| range_may_match(CmpOp::Eq, v, stats, rows, nulls)),
    }
}

fn range_may_match(op: CmpOp, v: &Value, stats: &Stats, rows: u64, nulls: u64) -> bool {
    let Some((min, max)) = &stats.bounds else {
        // No present values: only nulls (never match a comparison), or unknown.
        return !(rows > 0 && nulls == rows);
    };
    let (Some(lo), Some(hi)) = (stat_cmp(min, v), stat_cmp(max, v)) else {
        return true;
    };
    let hi_known = !truncated_max(max);
    match op {
        // min <= v <= max
        CmpOp::Eq => lo != Ordering::Greater && (!hi_known || hi != Ordering::Less),
        // some value != v unless min == max == v
        CmpOp::NotEq => !(lo == Ordering::Equal && hi_known && hi == Ordering::Equal),
        CmpOp::Lt => lo == Ordering::Less,
        CmpOp::LtEq => lo != Ordering::Greater,
        CmpOp::Gt => !hi_known || hi == Ordering::Greater,
        CmpOp::GtEq => !hi_known || hi != Ordering::Less,
    }
}
