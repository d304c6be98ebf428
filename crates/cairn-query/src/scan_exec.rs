//! `CairnScanExec`: the physical scan of one collection. It holds a snapshot taken at
//! planning, split into one engine scan per DataFusion partition (files and memtable chunks
//! dealt round-robin), runs each on a blocking thread and streams its batches. It shows what
//! pruning leaves (files and pages scanned against the total) in `EXPLAIN`, reports what
//! was actually touched as metrics in `EXPLAIN ANALYZE`, and gives exact row counts and
//! min / max for unfiltered scans so `COUNT(*)`, `MIN` and `MAX` come from statistics.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use cairn_engine::{CmpOp, Db, Predicate, Scalar, Scan, ScanEstimate, ScanRequest, ScanSummary};
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ColumnStatistics, Result, ScalarValue, Statistics, internal_err};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType, SchedulingType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};

use crate::leaf::ReadMetrics;
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream,
};

use crate::error::to_df;

pub struct ScanExec {
    db: Arc<Db>,
    collection: String,
    time_key: String,
    request: ScanRequest,
    /// Output schema (the table's, projected): the TIME_KEY is nullable here.
    schema: SchemaRef,
    /// One engine scan per partition, taken when the partition executes; executing again
    /// takes a fresh snapshot.
    parts: Mutex<Vec<Option<Scan>>>,
    partitions: usize,
    /// What pruning leaves, from footers and statistics (for EXPLAIN).
    planned: ScanEstimate,
    /// Exact summaries per partition (`None`: the scan filters), computed on first use.
    summaries: OnceLock<Result<Vec<Option<ScanSummary>>, String>>,
    /// Report exact statistics (off: every statistic unknown).
    statistics: bool,
    metrics: ExecutionPlanMetricsSet,
    props: Arc<PlanProperties>,
}

impl fmt::Debug for ScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanExec")
            .field("collection", &self.collection)
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl ScanExec {
    pub fn try_new(
        db: Arc<Db>,
        collection: String,
        request: ScanRequest,
        schema: SchemaRef,
        partitions: usize,
        statistics: bool,
    ) -> Result<Self> {
        let parts = db
            .scan_split(&collection, &request, partitions)
            .map_err(to_df)?;
        let mut planned = ScanEstimate::default();
        for p in &parts {
            let e = p.estimate().map_err(to_df)?;
            let (t, s) = (&mut planned.stats, e.stats);
            t.files_total += s.files_total;
            t.files_scanned += s.files_scanned;
            t.pages_total += s.pages_total;
            t.pages_scanned += s.pages_scanned;
            t.memtable_chunks += s.memtable_chunks;
            planned.partitions_total.extend(e.partitions_total);
            planned.partitions_scanned.extend(e.partitions_scanned);
        }
        let props = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(parts.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        )
        .with_scheduling_type(SchedulingType::Cooperative);
        let time_key = db
            .collection(&collection)
            .map_err(to_df)?
            .time_key_name()
            .to_owned();
        Ok(ScanExec {
            db,
            collection,
            time_key,
            request,
            schema,
            partitions: parts.len(),
            parts: Mutex::new(parts.into_iter().map(Some).collect()),
            planned,
            summaries: OnceLock::new(),
            statistics,
            metrics: ExecutionPlanMetricsSet::new(),
            props: Arc::new(props),
        })
    }

    pub fn request(&self) -> &ScanRequest {
        &self.request
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The collection's TIME_KEY column.
    pub fn time_key(&self) -> &str {
        &self.time_key
    }

    /// What pruning leaves, from statistics.
    pub fn planned(&self) -> &ScanEstimate {
        &self.planned
    }

    /// Takes partition `p`'s scan; on a second execution, a fresh snapshot for all.
    fn take(&self, p: usize) -> Result<Scan> {
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        if parts.get(p).is_none_or(Option::is_none) {
            let fresh = self
                .db
                .scan_split(&self.collection, &self.request, self.partitions)
                .map_err(to_df)?;
            *parts = fresh.into_iter().map(Some).collect();
        }
        match parts.get_mut(p).and_then(Option::take) {
            Some(s) => Ok(s),
            None => internal_err!("scan partition {p} of {}", self.partitions),
        }
    }

    fn summaries(&self) -> Result<&Vec<Option<ScanSummary>>> {
        let r = self.summaries.get_or_init(|| {
            let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
            parts
                .iter()
                .map(|p| match p {
                    Some(scan) => scan.summary().map_err(|e| e.to_string()),
                    None => Ok(None),
                })
                .collect()
        });
        r.as_ref()
            .map_err(|e| datafusion::error::DataFusionError::Execution(e.clone()))
    }

    fn statistics_of(&self, partition: Option<usize>) -> Result<Statistics> {
        let unknown = Statistics::new_unknown(&self.schema);
        if !self.statistics {
            return Ok(unknown);
        }
        let summaries = self.summaries()?;
        let chosen: Vec<&Option<ScanSummary>> = match partition {
            Some(p) => summaries.get(p).into_iter().collect(),
            None => summaries.iter().collect(),
        };
        let Some(chosen) = chosen
            .into_iter()
            .map(Option::as_ref)
            .collect::<Option<Vec<&ScanSummary>>>()
        else {
            return Ok(unknown);
        };
        let rows: u64 = chosen.iter().map(|s| s.rows).sum();
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        for i in 0..self.schema.fields().len() {
            let mut nulls = 0u64;
            let mut exact = true;
            let (mut lo, mut hi): (Option<ScalarValue>, Option<ScalarValue>) = (None, None);
            for s in &chosen {
                let c = &s.columns[i];
                nulls += c.nulls;
                exact &= c.exact;
                let as_value = |v: &Option<Scalar>| v.as_ref().map(scalar_value);
                lo = pick(lo, as_value(&c.min), true);
                hi = pick(hi, as_value(&c.max), false);
            }
            let bound = |v: Option<ScalarValue>| match v {
                Some(v) if exact => Precision::Exact(v),
                _ => Precision::Absent,
            };
            columns.push(ColumnStatistics {
                null_count: Precision::Exact(nulls as usize),
                min_value: bound(lo),
                max_value: bound(hi),
                ..ColumnStatistics::new_unknown()
            });
        }
        Ok(Statistics {
            num_rows: Precision::Exact(rows as usize),
            total_byte_size: Precision::Absent,
            column_statistics: columns,
        })
    }
}

/// The smaller (`min`) or larger of two bounds of one column.
fn pick(a: Option<ScalarValue>, b: Option<ScalarValue>, min: bool) -> Option<ScalarValue> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let b_first = match b.partial_cmp(&a) {
                Some(o) => o.is_lt() == min && o.is_ne(),
                None => false,
            };
            Some(if b_first { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

pub fn scalar_value(v: &Scalar) -> ScalarValue {
    match v {
        Scalar::I64(x) => ScalarValue::Int64(Some(*x)),
        Scalar::U64(x) => ScalarValue::UInt64(Some(*x)),
        Scalar::F64(x) => ScalarValue::Float64(Some(*x)),
        Scalar::Bool(x) => ScalarValue::Boolean(Some(*x)),
        Scalar::Str(x) => ScalarValue::Utf8(Some(x.clone())),
        Scalar::Timestamp(x) => ScalarValue::TimestampNanosecond(Some(*x), Some("UTC".into())),
    }
}

/// A pushed predicate as SQL-like text.
pub fn predicate_text(p: &Predicate) -> String {
    let v = |s: &Scalar| match s {
        Scalar::Str(x) => format!("'{}'", x.replace('\'', "''")),
        Scalar::Timestamp(x) => format!("{x}ns"),
        other => scalar_value(other).to_string(),
    };
    match p {
        Predicate::Cmp { column, op, value } => {
            let op = match op {
                CmpOp::Eq => "=",
                CmpOp::NotEq => "!=",
                CmpOp::Lt => "<",
                CmpOp::LtEq => "<=",
                CmpOp::Gt => ">",
                CmpOp::GtEq => ">=",
            };
            format!("{column} {op} {}", v(value))
        }
        Predicate::InList { column, values } => {
            let list: Vec<String> = values.iter().map(v).collect();
            format!("{column} IN ({})", list.join(", "))
        }
        Predicate::IsNull { column } => format!("{column} IS NULL"),
        Predicate::IsNotNull { column } => format!("{column} IS NOT NULL"),
    }
}

impl DisplayAs for ScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.request;
        if !matches!(t, DisplayFormatType::TreeRender) {
            write!(f, "CairnScanExec: collection={}", self.collection)?;
        }
        let cols: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write!(f, " projection=[{}]", cols.join(", "))?;
        if r.time.min.is_some() || r.time.max.is_some() {
            let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            write!(f, " time_ns=[{}, {}]", show(r.time.min), show(r.time.max))?;
        }
        if !r.predicates.is_empty() {
            let shown: Vec<String> = r.predicates.iter().map(predicate_text).collect();
            write!(f, " predicates=[{}]", shown.join(" AND "))?;
        }
        if let Some(l) = r.limit {
            write!(f, " limit={l}")?;
        }
        write!(
            f,
            " {} parts={}",
            estimate_text(&self.planned),
            self.partitions
        )
    }
}

/// `time_partitions=a/b files=c/d pages=e/f memtable_chunks=g`: what pruning leaves of the
/// snapshot.
pub fn estimate_text(e: &ScanEstimate) -> String {
    let p = &e.stats;
    format!(
        "time_partitions={}/{} files={}/{} pages={}/{} memtable_chunks={}",
        e.partitions_scanned.len(),
        e.partitions_total.len(),
        p.files_scanned,
        p.files_total,
        p.pages_scanned,
        p.pages_total,
        p.memtable_chunks
    )
}

impl ExecutionPlan for ScanExec {
    fn name(&self) -> &'static str {
        "CairnScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    crate::leaf::leaf_plan_methods!();

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut scan = self.take(partition)?;
        let schema = self.schema.clone();
        let read = ReadMetrics::new(&self.metrics, partition);
        let mut builder = RecordBatchReceiverStream::builder(schema.clone(), 2);
        let tx = builder.tx();
        builder.spawn_blocking(move || {
            for item in scan.by_ref() {
                let item = item.map_err(to_df).and_then(|b| {
                    read.rows.add(b.num_rows());
                    rewrap(&schema, b)
                });
                let failed = item.is_err();
                if tx.blocking_send(item).is_err() || failed {
                    break;
                }
            }
            read.record(&scan.stats());
            Ok(())
        });
        Ok(builder.build())
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        Ok(Arc::new(self.statistics_of(args.partition())?))
    }
}

/// The engine's batch under the table's schema (same arrays; nullability may differ).
fn rewrap(schema: &SchemaRef, b: RecordBatch) -> Result<RecordBatch> {
    let rows = b.num_rows();
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        b.columns().to_vec(),
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}
