//! The oracle's side of a scan: random requests (time range, predicates, projection), the
//! same filter applied to model rows, an exact comparison that shows what differs; and model
//! rows written as line protocol.

use cairn_engine::{CmpOp, ColumnRole, ColumnType, Predicate, Scalar, ScanRequest, TimeRange};

use super::{Col, HOUR, MAX_COLS, Rng, Row, T0, Val, gen_value};

/// A predicate over model rows (column index into the collection's columns).
#[derive(Debug, Clone)]
pub enum Pred {
    Cmp(usize, CmpOp, Val),
    In(usize, Vec<Val>),
    IsNull(usize),
    NotNull(usize),
}

impl Pred {
    fn holds(&self, row: &Row) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Pred::Cmp(c, op, v) => {
                let x = row[*c];
                if x == Val::Null {
                    return false;
                }
                let o = x.cmp(v);
                match op {
                    CmpOp::Eq => o == Equal,
                    CmpOp::NotEq => o != Equal,
                    CmpOp::Lt => o == Less,
                    CmpOp::LtEq => o != Greater,
                    CmpOp::Gt => o == Greater,
                    CmpOp::GtEq => o != Less,
                }
            }
            Pred::In(c, vs) => row[*c] != Val::Null && vs.contains(&row[*c]),
            Pred::IsNull(c) => row[*c] == Val::Null,
            Pred::NotNull(c) => row[*c] != Val::Null,
        }
    }

    fn to_engine(&self, cols: &[Col]) -> Predicate {
        let name = |c: &usize| cols[*c].name.clone();
        match self {
            Pred::Cmp(c, op, v) => Predicate::Cmp {
                column: name(c),
                op: *op,
                value: scalar(cols[*c].ty, *v),
            },
            Pred::In(c, vs) => Predicate::InList {
                column: name(c),
                values: vs.iter().map(|v| scalar(cols[*c].ty, *v)).collect(),
            },
            Pred::IsNull(c) => Predicate::IsNull { column: name(c) },
            Pred::NotNull(c) => Predicate::IsNotNull { column: name(c) },
        }
    }
}

fn scalar(ty: ColumnType, v: Val) -> Scalar {
    match (ty, v) {
        (ColumnType::Timestamp, Val::I(x)) => Scalar::Timestamp(x),
        (_, Val::I(x)) => Scalar::I64(x),
        (_, Val::U(x)) => Scalar::U64(x),
        (_, Val::F(x)) => Scalar::F64(x.0),
        (_, Val::B(b)) => Scalar::Bool(b),
        (_, Val::S(s)) => Scalar::Str(s.to_string()),
        (_, Val::Null) => panic!("a NULL literal"),
    }
}

/// A scan request with its meaning over model rows. Column 0 is the TIME_KEY.
#[derive(Debug, Clone)]
pub struct Query {
    pub req: ScanRequest,
    preds: Vec<Pred>,
    time: (i64, i64),
    /// Returned columns, as indices into the collection's columns.
    pub proj: Vec<usize>,
}

/// A literal for column `c`: mostly a value some row holds, so that matches are common.
fn literal(rng: &mut Rng, cols: &[Col], rows: &[Row], c: usize) -> Val {
    if !rows.is_empty() && rng.chance(70) {
        let v = rows[rng.below(rows.len() as u64) as usize][c];
        if v != Val::Null {
            return v;
        }
    }
    gen_value(rng, cols[c].ty)
}

fn time_bound(rng: &mut Rng, rows: &[Row]) -> i64 {
    match rows.first() {
        Some(_) if rng.chance(60) => {
            let Val::I(t) = rows[rng.below(rows.len() as u64) as usize][0] else {
                panic!("a row without a timestamp")
            };
            t + rng.range(-1, 2)
        }
        _ => T0 + rng.range(-2 * HOUR, 7 * HOUR),
    }
}

pub fn random_query(rng: &mut Rng, cols: &[Col], rows: &[Row]) -> Query {
    let (mut lo, mut hi) = (None, None);
    match rng.below(4) {
        0 => {}
        1 => lo = Some(time_bound(rng, rows)),
        2 => hi = Some(time_bound(rng, rows)),
        _ => {
            let (a, b) = (time_bound(rng, rows), time_bound(rng, rows));
            (lo, hi) = (Some(a.min(b)), Some(a.max(b)));
        }
    }
    let mut preds = Vec::new();
    for _ in 0..rng.below(3) {
        let c = rng.below(cols.len() as u64) as usize;
        let ops = [
            CmpOp::Eq,
            CmpOp::NotEq,
            CmpOp::Lt,
            CmpOp::LtEq,
            CmpOp::Gt,
            CmpOp::GtEq,
        ];
        preds.push(match rng.below(9) {
            0..=5 => Pred::Cmp(c, *rng.pick(&ops), literal(rng, cols, rows, c)),
            6 => {
                let n = 1 + rng.below(4);
                Pred::In(c, (0..n).map(|_| literal(rng, cols, rows, c)).collect())
            }
            7 => Pred::IsNull(c),
            _ => Pred::NotNull(c),
        });
    }
    let mut proj: Vec<usize> = (0..cols.len()).collect();
    if rng.chance(30) {
        proj.retain(|_| rng.chance(50));
        if proj.is_empty() {
            proj.push(rng.below(cols.len() as u64) as usize);
        }
    }
    let req = ScanRequest {
        projection: (proj.len() < cols.len())
            .then(|| proj.iter().map(|&c| cols[c].name.clone()).collect()),
        time: TimeRange { min: lo, max: hi },
        predicates: preds.iter().map(|p| p.to_engine(cols)).collect(),
        limit: None,
    };
    Query {
        req,
        preds,
        time: (lo.unwrap_or(i64::MIN), hi.unwrap_or(i64::MAX)),
        proj,
    }
}

impl Query {
    /// The columns the scan returns.
    pub fn columns(&self, cols: &[Col]) -> Vec<Col> {
        self.proj.iter().map(|&c| cols[c].clone()).collect()
    }

    /// The rows the scan must return (projected, sorted).
    pub fn expected(&self, rows: &[Row]) -> Vec<Row> {
        let mut out: Vec<Row> = rows
            .iter()
            .filter(|r| matches!(r[0], Val::I(t) if t >= self.time.0 && t <= self.time.1))
            .filter(|r| self.preds.iter().all(|p| p.holds(r)))
            .map(|r| {
                let mut p = [Val::Null; MAX_COLS];
                for (i, &c) in self.proj.iter().enumerate() {
                    p[i] = r[c];
                }
                p
            })
            .collect();
        out.sort_unstable();
        out
    }
}

/// Describes how two sorted row lists differ; `None` if they are equal.
pub fn diff(expected: &[Row], got: &[Row], cols: usize) -> Option<String> {
    if expected == got {
        return None;
    }
    let (mut i, mut j) = (0, 0);
    let (mut missing, mut extra) = (Vec::new(), Vec::new());
    while i < expected.len() || j < got.len() {
        match (expected.get(i), got.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                missing.push(*a);
                i += 1;
            }
            (Some(a), None) => {
                missing.push(*a);
                i += 1;
            }
            (_, Some(b)) => {
                extra.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    let show = |rows: &[Row]| {
        rows.iter()
            .take(4)
            .map(|r| format!("\n    {:?}", &r[..cols]))
            .collect::<String>()
    };
    Some(format!(
        "expected {} rows, got {}: {} missing{}\n  {} unexpected{}",
        expected.len(),
        got.len(),
        missing.len(),
        show(&missing),
        extra.len(),
        show(&extra)
    ))
}

fn escape_tag(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, ',' | '=' | ' ' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// `row` of collection `name` as one line of line protocol (nanosecond precision). Tags that
/// are NULL or empty and NULL fields are left out; `with_ts` false leaves the time out.
pub fn lp_line(
    rng: &mut Rng,
    name: &str,
    cols: &[Col],
    roles: &[ColumnRole],
    row: &Row,
    with_ts: bool,
) -> String {
    let mut line = name.to_string();
    let mut fields = Vec::new();
    for (c, spec) in cols.iter().enumerate().skip(1) {
        let v = row[c];
        if roles[c] == ColumnRole::Tag {
            if let Val::S(s) = v
                && !s.is_empty()
            {
                line.push_str(&format!(",{}={}", spec.name, escape_tag(s)));
            }
            continue;
        }
        let text = match v {
            Val::Null => continue,
            Val::I(x) => format!("{x}i"),
            Val::U(x) => format!("{x}u"),
            Val::F(x) => format!("{:?}", x.0),
            Val::B(b) => rng
                .pick(if b {
                    &["true", "t", "T"]
                } else {
                    &["false", "f", "F"]
                })
                .to_string(),
            Val::S(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        };
        fields.push(format!("{}={text}", spec.name));
    }
    line.push(' ');
    line.push_str(&fields.join(","));
    if with_ts {
        let Val::I(t) = row[0] else {
            panic!("a line without a timestamp value")
        };
        line.push_str(&format!(" {t}"));
    }
    line
}
