//! Which SQL filters the engine applies itself, translated into a [`ScanRequest`]: comparisons
//! of a column with a literal, `IN` lists, `BETWEEN`, `IS [NOT] NULL`; comparisons of the
//! TIME_KEY become the scan's time range. Every one of these the engine applies exactly (with
//! Arrow's comparison kernels, so with DataFusion's semantics), so each is reported `Exact`
//! and DataFusion does not filter again. Anything else stays with DataFusion.

use cairn_engine::{CmpOp, CollectionDef, ColumnType, Predicate, Scalar, ScanRequest, TimeRange};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

/// The part of a scan request one filter expression becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    Time(TimeRange),
    Predicate(Predicate),
}

/// `expr` as engine filters, or `None` when the engine cannot apply it exactly.
pub fn translate(expr: &Expr, def: &CollectionDef) -> Option<Vec<Pushed>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            op: Operator::Or, ..
        }) => {
            // `c = a OR c = b OR c IN (d, e)` (DataFusion writes short IN lists this way).
            let mut column = None;
            let mut values = Vec::new();
            for e in disjuncts(expr) {
                for p in translate(e, def)? {
                    let (c, mut vs) = match p {
                        Pushed::Predicate(Predicate::Cmp {
                            column,
                            op: CmpOp::Eq,
                            value,
                        }) => (column, vec![value]),
                        Pushed::Predicate(Predicate::InList { column, values }) => (column, values),
                        Pushed::Time(TimeRange {
                            min: Some(a),
                            max: Some(b),
                        }) if a == b => {
                            (def.time_key_name().to_owned(), vec![Scalar::Timestamp(a)])
                        }
                        _ => return None,
                    };
                    if column.get_or_insert_with(|| c.clone()) != &c {
                        return None;
                    }
                    values.append(&mut vs);
                }
            }
            Some(vec![Pushed::Predicate(Predicate::InList {
                column: column?,
                values,
            })])
        }
        Expr::Column(c) if column_type(def, &c.name) == Some(ColumnType::Bool) => {
            Some(vec![predicate(&c.name, CmpOp::Eq, Scalar::Bool(true))])
        }
        Expr::Not(inner) => match inner.as_ref() {
            Expr::Column(c) if column_type(def, &c.name) == Some(ColumnType::Bool) => {
                Some(vec![predicate(&c.name, CmpOp::Eq, Scalar::Bool(false))])
            }
            _ => None,
        },
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let op = cmp_op(*op)?;
            let (column, lit, op) = match (column_of(left), literal_of(right)) {
                (Some(c), Some(l)) => (c, l, op),
                _ => (column_of(right)?, literal_of(left)?, flip(op)),
            };
            Some(vec![compare(def, column, op, lit)?])
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let column = column_of(expr)?;
            Some(vec![
                compare(def, column, CmpOp::GtEq, literal_of(low)?)?,
                compare(def, column, CmpOp::LtEq, literal_of(high)?)?,
            ])
        }
        Expr::InList(list) if !list.negated => {
            let column = column_of(&list.expr)?;
            let t = column_type(def, column)?;
            let values = list
                .list
                .iter()
                .map(|e| scalar(literal_of(e)?, t))
                .collect::<Option<Vec<_>>>()?;
            Some(vec![Pushed::Predicate(Predicate::InList {
                column: column.to_owned(),
                values,
            })])
        }
        Expr::IsNull(e) => {
            let column = column_of(e)?;
            column_type(def, column)?;
            Some(vec![Pushed::Predicate(Predicate::IsNull {
                column: column.to_owned(),
            })])
        }
        Expr::IsNotNull(e) => {
            let column = column_of(e)?;
            column_type(def, column)?;
            Some(vec![Pushed::Predicate(Predicate::IsNotNull {
                column: column.to_owned(),
            })])
        }
        _ => None,
    }
}

/// Adds translated filters to `req` (time ranges intersect).
pub fn apply(req: &mut ScanRequest, pushed: Vec<Pushed>) {
    for p in pushed {
        match p {
            Pushed::Time(t) => {
                req.time.min = match (req.time.min, t.min) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                req.time.max = match (req.time.max, t.max) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            Pushed::Predicate(p) => req.predicates.push(p),
        }
    }
}

/// The operands of a chain of ORs.
fn disjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut v = disjuncts(left);
            v.extend(disjuncts(right));
            v
        }
        other => vec![other],
    }
}

fn cmp_op(op: Operator) -> Option<CmpOp> {
    Some(match op {
        Operator::Eq => CmpOp::Eq,
        Operator::NotEq => CmpOp::NotEq,
        Operator::Lt => CmpOp::Lt,
        Operator::LtEq => CmpOp::LtEq,
        Operator::Gt => CmpOp::Gt,
        Operator::GtEq => CmpOp::GtEq,
        _ => return None,
    })
}

/// `lit op col` as `col op' lit`.
fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::LtEq => CmpOp::GtEq,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::GtEq => CmpOp::LtEq,
        same => same,
    }
}

fn column_of(e: &Expr) -> Option<&str> {
    match e {
        Expr::Column(c) => Some(c.name.as_str()),
        _ => None,
    }
}

fn literal_of(e: &Expr) -> Option<&ScalarValue> {
    match e {
        Expr::Literal(v, _) if !v.is_null() => Some(v),
        _ => None,
    }
}

fn column_type(def: &CollectionDef, name: &str) -> Option<ColumnType> {
    def.schema
        .columns
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.column_type)
}

fn compare(def: &CollectionDef, column: &str, op: CmpOp, lit: &ScalarValue) -> Option<Pushed> {
    let t = column_type(def, column)?;
    let value = scalar(lit, t)?;
    if column == def.time_key_name()
        && let Scalar::Timestamp(ns) = value
    {
        let range = match op {
            CmpOp::Eq => TimeRange {
                min: Some(ns),
                max: Some(ns),
            },
            CmpOp::Lt => TimeRange {
                min: None,
                max: Some(ns.checked_sub(1)?),
            },
            CmpOp::LtEq => TimeRange {
                min: None,
                max: Some(ns),
            },
            CmpOp::Gt => TimeRange {
                min: Some(ns.checked_add(1)?),
                max: None,
            },
            CmpOp::GtEq => TimeRange {
                min: Some(ns),
                max: None,
            },
            CmpOp::NotEq => return Some(predicate(column, op, value)),
        };
        return Some(Pushed::Time(range));
    }
    Some(predicate(column, op, value))
}

fn predicate(column: &str, op: CmpOp, value: Scalar) -> Pushed {
    Pushed::Predicate(Predicate::Cmp {
        column: column.to_owned(),
        op,
        value,
    })
}

/// A literal as a value of a column of type `t`, only where the conversion is exact and the
/// engine's comparison then equals DataFusion's.
fn scalar(v: &ScalarValue, t: ColumnType) -> Option<Scalar> {
    use ScalarValue as V;
    Some(match (t, v) {
        (ColumnType::I64, V::Int64(Some(x))) => Scalar::I64(*x),
        (ColumnType::U64, V::UInt64(Some(x))) => Scalar::U64(*x),
        // The engine orders -0.0 below +0.0 (total order); DataFusion's comparisons take them
        // as equal. They agree for every other literal, so only a zero stays with DataFusion.
        (ColumnType::F64, V::Float64(Some(x))) if *x != 0.0 => Scalar::F64(*x),
        (ColumnType::Bool, V::Boolean(Some(x))) => Scalar::Bool(*x),
        (ColumnType::String, V::Utf8(Some(s)) | V::LargeUtf8(Some(s)) | V::Utf8View(Some(s))) => {
            Scalar::Str(s.clone())
        }
        (ColumnType::Timestamp, V::TimestampNanosecond(Some(x), _)) => Scalar::Timestamp(*x),
        (ColumnType::Timestamp, V::TimestampMicrosecond(Some(x), _)) => {
            Scalar::Timestamp(x.checked_mul(1_000)?)
        }
        (ColumnType::Timestamp, V::TimestampMillisecond(Some(x), _)) => {
            Scalar::Timestamp(x.checked_mul(1_000_000)?)
        }
        (ColumnType::Timestamp, V::TimestampSecond(Some(x), _)) => {
            Scalar::Timestamp(x.checked_mul(1_000_000_000)?)
        }
        _ => return None,
    })
}
