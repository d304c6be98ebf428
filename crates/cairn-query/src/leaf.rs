//! What cairn's two leaf operators (`CairnScanExec`, `CairnAggregateExec`) share: their plan
//! properties, the `ExecutionPlan` methods of a node without children, and the metrics that
//! say what a read touched (shown by `EXPLAIN ANALYZE`).

use cairn_engine::ScanStats;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder};

/// The touched-files-and-pages counters of one partition, plus its output rows.
pub struct ReadMetrics {
    counters: [Count; 5],
    pub rows: Count,
}

impl ReadMetrics {
    pub fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        let counter = |name: &'static str| MetricBuilder::new(metrics).counter(name, partition);
        ReadMetrics {
            counters: [
                counter("files_total"),
                counter("files_scanned"),
                counter("pages_total"),
                counter("pages_scanned"),
                counter("memtable_chunks"),
            ],
            rows: MetricBuilder::new(metrics).output_rows(partition),
        }
    }

    pub fn record(&self, s: &ScanStats) {
        let values = [
            s.files_total,
            s.files_scanned,
            s.pages_total,
            s.pages_scanned,
            s.memtable_chunks,
        ];
        for (c, v) in self.counters.iter().zip(values) {
            c.add(v);
        }
    }
}

/// The `ExecutionPlan` methods of a leaf: no children, no expressions to visit.
macro_rules! leaf_plan_methods {
    () => {
        fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
            vec![]
        }

        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
        ) -> Result<TreeNodeRecursion> {
            Ok(TreeNodeRecursion::Continue)
        }

        fn replace_children(
            self: Arc<Self>,
            _: Vec<Arc<dyn ExecutionPlan>>,
            _: ReplaceChildrenOptions,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            Ok(self)
        }

        fn with_new_children(
            self: Arc<Self>,
            children: Vec<Arc<dyn ExecutionPlan>>,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            self.replace_children(
                children,
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )
        }

        fn metrics(&self) -> Option<MetricsSet> {
            Some(self.metrics.clone_inner())
        }
    };
}
pub(crate) use leaf_plan_methods;
