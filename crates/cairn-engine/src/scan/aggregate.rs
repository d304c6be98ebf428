//! Grouped aggregation inside the engine: `COUNT`, `SUM`, `AVG`, `MIN`, `MAX` grouped by
//! string and boolean columns and by time buckets, over a filtered scan. String columns
//! stored with a dictionary are grouped on their codes (each file's dictionary is looked up
//! once, never each row's string), time buckets on the sorted TIME_KEY; the scan's parts run
//! on threads of their own and their groups are merged. The SQL layer uses this for the
//! aggregations it can express; every result equals the generic plan's (differential tests).

use std::sync::Arc;

use arrow_array::RecordBatch;
use cairn_storage::ColumnType;

use super::{Scan, ScanRequest, ScanStats, TimeRange};
use crate::db::Db;
use crate::error::{EngineError, Result};
use crate::predicate::Predicate;

use super::groups::Aggregator;

/// At most this many GROUP BY keys.
pub const MAX_GROUP_KEYS: usize = 4;

/// One GROUP BY key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    /// A string or boolean column's value (NULL is a group of its own).
    Column(String),
    /// The start of the TIME_KEY's bucket: `origin + floor((t - origin) / width) * width`.
    TimeBucket { width_ns: i64, origin_ns: i64 },
}

/// One aggregate, with SQL's semantics: NULL inputs are skipped; SUM / AVG / MIN / MAX of no
/// value are NULL; COUNT is never NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggregateFn {
    /// `COUNT(*)`
    CountRows,
    /// `COUNT(column)`: rows where the column is not NULL.
    Count(String),
    /// Integers wrap on overflow, as DataFusion's SUM does.
    Sum(String),
    /// As a double.
    Avg(String),
    Min(String),
    Max(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AggregateRequest {
    pub time: TimeRange,
    /// ANDed, applied exactly.
    pub predicates: Vec<Predicate>,
    pub group_by: Vec<GroupKey>,
    pub aggregates: Vec<AggregateFn>,
}

/// One row per group (in no particular order): the group keys, then the aggregates. Key
/// columns are Utf8, Boolean or `Timestamp(ns, "UTC")`; COUNT is Int64, AVG Float64, SUM
/// and MIN / MAX the column's type. Without GROUP BY there is exactly one row.
#[derive(Debug, Clone)]
pub struct AggregateResult {
    pub batch: RecordBatch,
    pub stats: ScanStats,
}

/// Where a request's inputs are in the scan's output (its projection).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub keys: Vec<KeySource>,
    pub aggregates: Vec<(AggregateFn, Option<(usize, ColumnType)>)>,
    pub key_names: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum KeySource {
    Strings(usize),
    Bools(usize),
    Bucket {
        column: usize,
        width_ns: i64,
        origin_ns: i64,
    },
}

impl Db {
    /// Aggregates `collection` as `req` says, reading with up to `threads` threads.
    pub fn aggregate(
        &self,
        collection: &str,
        req: &AggregateRequest,
        threads: usize,
    ) -> Result<AggregateResult> {
        if req.group_by.len() > MAX_GROUP_KEYS {
            return Err(EngineError::InvalidWrite(format!(
                "at most {MAX_GROUP_KEYS} group keys"
            )));
        }
        let def = self.collection(collection)?;
        let mut projection: Vec<String> = Vec::new();
        let mut position = |name: &str| match projection.iter().position(|p| p == name) {
            Some(i) => i,
            None => {
                projection.push(name.to_owned());
                projection.len() - 1
            }
        };
        let column_type = |name: &str| {
            def.schema
                .columns
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.column_type)
                .ok_or_else(|| EngineError::InvalidWrite(format!("no column {name:?}")))
        };
        let mut keys = Vec::new();
        let mut key_names = Vec::new();
        for k in &req.group_by {
            keys.push(match k {
                GroupKey::Column(c) => match column_type(c)? {
                    ColumnType::String => KeySource::Strings(position(c)),
                    ColumnType::Bool => KeySource::Bools(position(c)),
                    t => {
                        return Err(EngineError::InvalidWrite(format!(
                            "grouping by a {} column ({c:?}) is not done in the engine",
                            t.name()
                        )));
                    }
                },
                GroupKey::TimeBucket {
                    width_ns,
                    origin_ns,
                } => {
                    if *width_ns <= 0 {
                        return Err(EngineError::InvalidWrite(
                            "bucket width must be positive".into(),
                        ));
                    }
                    KeySource::Bucket {
                        column: position(def.time_key_name()),
                        width_ns: *width_ns,
                        origin_ns: *origin_ns,
                    }
                }
            });
            key_names.push(match k {
                GroupKey::Column(c) => c.clone(),
                GroupKey::TimeBucket { .. } => def.time_key_name().to_owned(),
            });
        }
        let mut aggregates = Vec::new();
        for a in &req.aggregates {
            let input = match a {
                AggregateFn::CountRows => None,
                AggregateFn::Count(c) => Some((position(c), column_type(c)?)),
                AggregateFn::Sum(c)
                | AggregateFn::Avg(c)
                | AggregateFn::Min(c)
                | AggregateFn::Max(c) => {
                    let t = column_type(c)?;
                    let numeric = matches!(t, ColumnType::I64 | ColumnType::U64 | ColumnType::F64);
                    let ordered = numeric || t == ColumnType::Timestamp;
                    let ok = match a {
                        AggregateFn::Min(_) | AggregateFn::Max(_) => ordered,
                        _ => numeric,
                    };
                    if !ok {
                        return Err(EngineError::InvalidWrite(format!(
                            "{a:?} of a {} column is not done in the engine",
                            t.name()
                        )));
                    }
                    Some((position(c), t))
                }
            };
            aggregates.push((a.clone(), input));
        }
        let layout = Arc::new(Layout {
            keys,
            aggregates,
            key_names,
        });
        let scan_req = ScanRequest {
            projection: Some(projection),
            time: req.time,
            predicates: req.predicates.clone(),
            limit: None,
        };
        let mut parts = self.scan_split(collection, &scan_req, threads.max(1))?;
        for p in &mut parts {
            p.dictionary_output = true;
        }
        let results: Vec<Result<(Aggregator, ScanStats)>> = std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    let layout = layout.clone();
                    s.spawn(move || run_part(part, layout))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(EngineError::InvalidWrite(
                            "an aggregation thread panicked".into(),
                        ))
                    })
                })
                .collect()
        });
        let mut total: Option<Aggregator> = None;
        let mut stats = ScanStats::default();
        for r in results {
            let (agg, s) = r?;
            stats.files_total += s.files_total;
            stats.files_scanned += s.files_scanned;
            stats.pages_total += s.pages_total;
            stats.pages_scanned += s.pages_scanned;
            stats.memtable_chunks += s.memtable_chunks;
            stats.rows_out += s.rows_out;
            total = Some(match total {
                None => agg,
                Some(mut t) => {
                    t.merge(agg)?;
                    t
                }
            });
        }
        let total = match total {
            Some(t) => t,
            None => Aggregator::new(layout.clone()),
        };
        Ok(AggregateResult {
            batch: total.finish()?,
            stats,
        })
    }
}

fn run_part(mut part: Scan, layout: Arc<Layout>) -> Result<(Aggregator, ScanStats)> {
    let mut agg = Aggregator::new(layout);
    for batch in part.by_ref() {
        agg.update(&batch?)?;
    }
    Ok((agg, part.stats()))
}
