//! Columnar accumulators of an engine aggregation: one vector slot per group.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampNanosecondArray, UInt64Array,
};
use cairn_storage::ColumnType;

use super::aggregate::AggregateFn;
use crate::error::{EngineError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Sum,
    Min,
    Max,
}

/// Values of one numeric kind per group, with "has a value" flags.
#[derive(Debug)]
struct Slots<T> {
    v: Vec<T>,
    seen: Vec<bool>,
}

impl<T: Copy + Default> Slots<T> {
    fn new() -> Self {
        Slots {
            v: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn push(&mut self) {
        self.v.push(T::default());
        self.seen.push(false);
    }

    fn fold(
        &mut self,
        g: usize,
        x: T,
        op: Op,
        better: impl Fn(T, T) -> bool,
        add: impl Fn(T, T) -> T,
    ) {
        if !self.seen[g] {
            self.v[g] = x;
            self.seen[g] = true;
            return;
        }
        self.v[g] = match op {
            Op::Sum => add(self.v[g], x),
            Op::Min if better(x, self.v[g]) => x,
            Op::Max if better(self.v[g], x) => x,
            _ => self.v[g],
        };
    }

    fn options(&self) -> impl Iterator<Item = Option<T>> + '_ {
        self.v.iter().zip(&self.seen).map(|(v, s)| s.then_some(*v))
    }
}

#[derive(Debug)]
enum State {
    Count(Vec<i64>),
    I64(Slots<i64>),
    U64(Slots<u64>),
    F64(Slots<f64>),
    Avg { sum: Vec<f64>, n: Vec<i64> },
}

#[derive(Debug)]
pub(crate) struct Acc {
    /// Input column position and type; `None`: COUNT(*).
    input: Option<(usize, ColumnType)>,
    op: Op,
    state: State,
}

fn lt_i64(a: i64, b: i64) -> bool {
    a < b
}
fn lt_u64(a: u64, b: u64) -> bool {
    a < b
}
fn lt_f64(a: f64, b: f64) -> bool {
    a.total_cmp(&b).is_lt()
}

impl Acc {
    pub fn new(f: &AggregateFn, input: Option<(usize, ColumnType)>) -> Acc {
        let t = input.map(|(_, t)| t);
        let op = match f {
            AggregateFn::Min(_) => Op::Min,
            AggregateFn::Max(_) => Op::Max,
            _ => Op::Sum,
        };
        let state = match (f, t) {
            (AggregateFn::CountRows | AggregateFn::Count(_), _) => State::Count(Vec::new()),
            (AggregateFn::Avg(_), _) => State::Avg {
                sum: Vec::new(),
                n: Vec::new(),
            },
            (_, Some(ColumnType::U64)) => State::U64(Slots::new()),
            (_, Some(ColumnType::F64)) => State::F64(Slots::new()),
            _ => State::I64(Slots::new()),
        };
        Acc {
            input: match f {
                AggregateFn::CountRows => None,
                _ => input,
            },
            op,
            state,
        }
    }

    pub fn push(&mut self) {
        match &mut self.state {
            State::Count(c) => c.push(0),
            State::I64(s) => s.push(),
            State::U64(s) => s.push(),
            State::F64(s) => s.push(),
            State::Avg { sum, n } => {
                sum.push(0.0);
                n.push(0);
            }
        }
    }

    pub fn update(&mut self, groups: &[u32], batch: &RecordBatch) -> Result<()> {
        let op = self.op;
        let Some((col, t)) = self.input else {
            if let State::Count(c) = &mut self.state {
                for &g in groups {
                    c[g as usize] += 1;
                }
            }
            return Ok(());
        };
        let a = batch.column(col);
        let nulls = a.nulls().filter(|n| n.null_count() > 0);
        let valid = |i: usize| nulls.is_none_or(|n| n.is_valid(i));
        match &mut self.state {
            State::Count(c) => {
                for (i, &g) in groups.iter().enumerate() {
                    if valid(i) {
                        c[g as usize] += 1;
                    }
                }
            }
            State::I64(s) => {
                let values: &[i64] = match t {
                    ColumnType::Timestamp => a.as_primitive::<TimestampNanosecondType>().values(),
                    _ => a.as_primitive::<Int64Type>().values(),
                };
                for (i, &g) in groups.iter().enumerate() {
                    if valid(i) {
                        s.fold(g as usize, values[i], op, lt_i64, i64::wrapping_add);
                    }
                }
            }
            State::U64(s) => {
                let values = a.as_primitive::<UInt64Type>().values();
                for (i, &g) in groups.iter().enumerate() {
                    if valid(i) {
                        s.fold(g as usize, values[i], op, lt_u64, u64::wrapping_add);
                    }
                }
            }
            State::F64(s) => {
                let values = a.as_primitive::<Float64Type>().values();
                for (i, &g) in groups.iter().enumerate() {
                    if valid(i) {
                        s.fold(g as usize, values[i], op, lt_f64, |x, y| x + y);
                    }
                }
            }
            State::Avg { sum, n } => {
                let value = |i: usize| -> f64 {
                    match t {
                        ColumnType::I64 => a.as_primitive::<Int64Type>().value(i) as f64,
                        ColumnType::U64 => a.as_primitive::<UInt64Type>().value(i) as f64,
                        _ => a.as_primitive::<Float64Type>().value(i),
                    }
                };
                if t == ColumnType::F64 {
                    let values = a.as_primitive::<Float64Type>().values();
                    for (i, &g) in groups.iter().enumerate() {
                        if valid(i) {
                            sum[g as usize] += values[i];
                            n[g as usize] += 1;
                        }
                    }
                } else {
                    for (i, &g) in groups.iter().enumerate() {
                        if valid(i) {
                            sum[g as usize] += value(i);
                            n[g as usize] += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds `other`'s groups: its group `g` is this one's `map[g]`.
    pub fn merge(&mut self, other: Acc, map: &[u32]) -> Result<()> {
        let op = self.op;
        match (&mut self.state, other.state) {
            (State::Count(a), State::Count(b)) => {
                for (g, x) in b.into_iter().enumerate() {
                    a[map[g] as usize] += x;
                }
            }
            (State::I64(a), State::I64(b)) => merge_slots(a, b, map, op, lt_i64, i64::wrapping_add),
            (State::U64(a), State::U64(b)) => merge_slots(a, b, map, op, lt_u64, u64::wrapping_add),
            (State::F64(a), State::F64(b)) => merge_slots(a, b, map, op, lt_f64, |x, y| x + y),
            (State::Avg { sum, n }, State::Avg { sum: s2, n: n2 }) => {
                for (g, (x, c)) in s2.into_iter().zip(n2).enumerate() {
                    sum[map[g] as usize] += x;
                    n[map[g] as usize] += c;
                }
            }
            _ => {
                return Err(EngineError::InvalidWrite(
                    "merging different aggregates".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn finish(self) -> ArrayRef {
        let ts = matches!(self.input, Some((_, ColumnType::Timestamp)));
        match self.state {
            State::Count(c) => Arc::new(Int64Array::from(c)),
            State::I64(s) if ts => {
                Arc::new(TimestampNanosecondArray::from_iter(s.options()).with_timezone("UTC"))
            }
            State::I64(s) => Arc::new(Int64Array::from_iter(s.options())),
            State::U64(s) => Arc::new(UInt64Array::from_iter(s.options())),
            State::F64(s) => Arc::new(Float64Array::from_iter(s.options())),
            State::Avg { sum, n } => Arc::new(Float64Array::from_iter(
                sum.iter()
                    .zip(&n)
                    .map(|(s, &c)| (c > 0).then(|| s / c as f64)),
            )),
        }
    }
}

fn merge_slots<T: Copy + Default>(
    a: &mut Slots<T>,
    b: Slots<T>,
    map: &[u32],
    op: Op,
    better: impl Fn(T, T) -> bool + Copy,
    add: impl Fn(T, T) -> T + Copy,
) {
    for (g, (x, seen)) in b.v.into_iter().zip(b.seen).enumerate() {
        if seen {
            a.fold(map[g] as usize, x, op, better, add);
        }
    }
}
