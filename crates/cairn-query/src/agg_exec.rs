//! The aggregation fast path: a physical optimizer rule that replaces DataFusion's
//! partial + final aggregation over a [`ScanExec`] with [`AggregateExec`](CairnAggregateExec)
//! running inside the engine, when every group key is a string or boolean column or
//! `time_bucket(constant, TIME_KEY [, constant])` and every aggregate is `COUNT(*)`,
//! `COUNT(col)`, `SUM`, `AVG`, `MIN` or `MAX` of a plain column (no DISTINCT, FILTER or ORDER
//! BY). Tags are then grouped on their dictionary codes and buckets on the sorted time key.
//! Anything else keeps DataFusion's plan. Results equal the generic plan's (differential
//! tests in `tests/fast_paths.rs`).

use std::fmt;
use std::sync::Arc;

use cairn_engine::{AggregateFn, AggregateRequest, Db, GroupKey, MAX_GROUP_KEYS, ScanEstimate};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::expressions::{CastExpr, Column, Literal};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};

use crate::leaf::ReadMetrics;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream,
};

use crate::error::to_df;
use crate::scan_exec::ScanExec;
use crate::time_bucket::{DEFAULT_ORIGIN_NS, width_ns};

/// Rewrites eligible aggregations into [`CairnAggregateExec`].
#[derive(Debug, Default)]
pub struct EngineAggregation;

impl PhysicalOptimizerRule for EngineAggregation {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let threads = config.execution.target_partitions.max(1);
        plan.transform_up(|node| {
            if let Some(agg) = node.downcast_ref::<AggregateExec>()
                && let Some(new) = rewrite(agg, threads)
            {
                return Ok(Transformed::new(new, true, TreeNodeRecursion::Jump));
            }
            Ok(Transformed::no(node))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "cairn_engine_aggregation"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The partial aggregation and scan under a final one (through exchanges only).
fn partial_under(fin: &AggregateExec) -> Option<(&AggregateExec, &ScanExec)> {
    match fin.mode() {
        AggregateMode::Single | AggregateMode::SinglePartitioned => {
            Some((fin, fin.input().downcast_ref::<ScanExec>()?))
        }
        AggregateMode::Final | AggregateMode::FinalPartitioned => {
            let mut node = fin.input();
            loop {
                if let Some(p) = node.downcast_ref::<AggregateExec>() {
                    if *p.mode() != AggregateMode::Partial {
                        return None;
                    }
                    return Some((p, p.input().downcast_ref::<ScanExec>()?));
                }
                if !matches!(
                    node.name(),
                    "RepartitionExec" | "CoalescePartitionsExec" | "CoalesceBatchesExec"
                ) {
                    return None;
                }
                let children = node.children();
                if children.len() != 1 {
                    return None;
                }
                node = children[0];
            }
        }
        _ => None,
    }
}

fn rewrite(fin: &AggregateExec, threads: usize) -> Option<Arc<dyn ExecutionPlan>> {
    if fin.limit_options().is_some() {
        return None;
    }
    let (partial, scan) = partial_under(fin)?;
    let gb = partial.group_expr();
    if !gb.is_single()
        || gb.expr().len() > MAX_GROUP_KEYS
        || partial.filter_expr().iter().any(Option::is_some)
        || scan.request().limit.is_some()
    {
        return None;
    }
    let input = scan.schema();
    let column = |e: &Arc<dyn PhysicalExpr>| -> Option<(String, DataType)> {
        let c = e.downcast_ref::<Column>()?;
        let f = input.fields().get(c.index())?;
        Some((f.name().clone(), f.data_type().clone()))
    };
    let mut group_by = Vec::new();
    for (e, _) in gb.expr() {
        if let Some((name, t)) = column(e) {
            if !matches!(t, DataType::Utf8 | DataType::Boolean) {
                return None;
            }
            group_by.push(GroupKey::Column(name));
            continue;
        }
        let f = e.downcast_ref::<ScalarFunctionExpr>()?;
        if f.name() != "time_bucket" {
            return None;
        }
        let args = f.args();
        let width = width_ns(args.first()?.downcast_ref::<Literal>()?.value()).ok()??;
        let (ts, t) = column(args.get(1)?)?;
        if ts != scan.time_key() || !matches!(t, DataType::Timestamp(TimeUnit::Nanosecond, _)) {
            return None;
        }
        let origin = match args.get(2) {
            None => DEFAULT_ORIGIN_NS,
            Some(o) => match o.downcast_ref::<Literal>()?.value() {
                ScalarValue::TimestampNanosecond(Some(v), _) => *v,
                _ => return None,
            },
        };
        group_by.push(GroupKey::TimeBucket {
            width_ns: width,
            origin_ns: origin,
        });
    }
    let mut aggregates = Vec::new();
    for a in partial.aggr_expr() {
        if a.is_distinct() || !a.order_bys().is_empty() {
            return None;
        }
        let args = a.expressions();
        let name = a.fun().name().to_ascii_lowercase();
        let f = match (name.as_str(), args.as_slice()) {
            ("count", [e])
                if e.downcast_ref::<Literal>()
                    .is_some_and(|l| !l.value().is_null()) =>
            {
                AggregateFn::CountRows
            }
            ("count", [e]) => AggregateFn::Count(column(e)?.0),
            ("sum" | "avg" | "min" | "max", [e]) => {
                // AVG of an integer column reads it through a cast to DOUBLE, as the
                // engine's AVG does.
                let e = match e.downcast_ref::<CastExpr>() {
                    Some(cast) if name == "avg" && cast.cast_type() == &DataType::Float64 => {
                        cast.expr()
                    }
                    _ => e,
                };
                let (c, t) = column(e)?;
                let numeric = matches!(t, DataType::Int64 | DataType::UInt64 | DataType::Float64);
                let timestamp = matches!(t, DataType::Timestamp(TimeUnit::Nanosecond, _));
                match name.as_str() {
                    "sum" if numeric => AggregateFn::Sum(c),
                    "avg" if numeric => AggregateFn::Avg(c),
                    "min" if numeric || timestamp => AggregateFn::Min(c),
                    "max" if numeric || timestamp => AggregateFn::Max(c),
                    _ => return None,
                }
            }
            _ => return None,
        };
        aggregates.push(f);
    }
    let req = scan.request();
    let request = AggregateRequest {
        time: req.time,
        predicates: req.predicates.clone(),
        group_by,
        aggregates,
    };
    Some(Arc::new(CairnAggregateExec::new(
        scan.db().clone(),
        scan.collection().to_owned(),
        request,
        fin.schema(),
        threads,
        scan.planned().clone(),
    )))
}

pub struct CairnAggregateExec {
    db: Arc<Db>,
    collection: String,
    request: AggregateRequest,
    schema: SchemaRef,
    threads: usize,
    planned: ScanEstimate,
    metrics: ExecutionPlanMetricsSet,
    props: Arc<PlanProperties>,
}

impl fmt::Debug for CairnAggregateExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CairnAggregateExec")
            .field("collection", &self.collection)
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl CairnAggregateExec {
    fn new(
        db: Arc<Db>,
        collection: String,
        request: AggregateRequest,
        schema: SchemaRef,
        threads: usize,
        planned: ScanEstimate,
    ) -> Self {
        let props = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        CairnAggregateExec {
            db,
            collection,
            request,
            schema,
            threads,
            planned,
            metrics: ExecutionPlanMetricsSet::new(),
            props: Arc::new(props),
        }
    }
}

impl DisplayAs for CairnAggregateExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.request;
        let keys: Vec<String> = r
            .group_by
            .iter()
            .map(|k| match k {
                GroupKey::Column(c) => c.clone(),
                GroupKey::TimeBucket { width_ns, .. } => {
                    format!("time_bucket({})", crate::command::duration_text(*width_ns))
                }
            })
            .collect();
        let aggs: Vec<String> = r
            .aggregates
            .iter()
            .map(|a| match a {
                AggregateFn::CountRows => "count(*)".to_owned(),
                AggregateFn::Count(c) => format!("count({c})"),
                AggregateFn::Sum(c) => format!("sum({c})"),
                AggregateFn::Avg(c) => format!("avg({c})"),
                AggregateFn::Min(c) => format!("min({c})"),
                AggregateFn::Max(c) => format!("max({c})"),
            })
            .collect();
        write!(
            f,
            "CairnAggregateExec: collection={} group_by=[{}] aggregates=[{}]",
            self.collection,
            keys.join(", "),
            aggs.join(", ")
        )?;
        if r.time.min.is_some() || r.time.max.is_some() {
            let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            write!(f, " time_ns=[{}, {}]", show(r.time.min), show(r.time.max))?;
        }
        if !r.predicates.is_empty() {
            let shown: Vec<String> = r
                .predicates
                .iter()
                .map(crate::scan_exec::predicate_text)
                .collect();
            write!(f, " predicates=[{}]", shown.join(" AND "))?;
        }
        write!(f, " {}", crate::scan_exec::estimate_text(&self.planned))
    }
}

impl ExecutionPlan for CairnAggregateExec {
    fn name(&self) -> &'static str {
        "CairnAggregateExec"
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
        let db = self.db.clone();
        let collection = self.collection.clone();
        let request = self.request.clone();
        let schema = self.schema.clone();
        let threads = self.threads;
        let read = ReadMetrics::new(&self.metrics, partition);
        let out_schema = schema.clone();
        let fut = async move {
            let result = tokio::task::spawn_blocking(move || {
                db.aggregate(&collection, &request, threads).map_err(to_df)
            })
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))??;
            read.record(&result.stats);
            read.rows.add(result.batch.num_rows());
            conform(&out_schema, &result.batch)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::once(fut),
        )))
    }
}

/// The engine's result under the plan's schema (columns in the same order; types cast).
fn conform(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, a)| {
            if a.data_type() == f.data_type() {
                Ok(a.clone())
            } else {
                cast(a, f.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}
