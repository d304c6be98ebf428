//! `CollectionTable`: a collection as a DataFusion table. Scans push projection, the filters
//! the engine applies exactly (see `pushdown`) and LIMIT into the engine; INSERT writes through
//! the engine's durable write path, the whole statement as one atomic write.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cairn_engine::batch_codec::arrow_type;
use cairn_engine::{CollectionDef, Db, ScanRequest};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, not_impl_err};
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use futures::StreamExt;

use crate::error::to_df;
use crate::pushdown::{apply, translate};
use crate::scan_exec::ScanExec;

pub struct CollectionTable {
    db: Arc<Db>,
    def: Arc<CollectionDef>,
    /// `database.collection`
    qualified: String,
    schema: SchemaRef,
    statistics: bool,
}

impl fmt::Debug for CollectionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectionTable")
            .field("collection", &self.qualified)
            .finish_non_exhaustive()
    }
}

impl CollectionTable {
    pub fn new(db: Arc<Db>, database: &str, def: Arc<CollectionDef>, statistics: bool) -> Self {
        Self {
            qualified: format!("{database}.{}", def.name),
            schema: table_schema(&def),
            db,
            def,
            statistics,
        }
    }
}

/// The SQL schema of a collection: the engine's Arrow schema with every column nullable
/// (an INSERT may leave out the TIME_KEY: the row then gets the server's time).
pub fn table_schema(def: &CollectionDef) -> SchemaRef {
    Arc::new(Schema::new(
        def.schema
            .columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(c.column_type), true))
            .collect::<Vec<_>>(),
    ))
}

#[async_trait]
impl TableProvider for CollectionTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match translate(f, &self.def) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut request = ScanRequest {
            projection: projection.map(|p| {
                p.iter()
                    .map(|&i| self.schema.field(i).name().clone())
                    .collect()
            }),
            ..ScanRequest::default()
        };
        let mut all_exact = true;
        for f in filters {
            match translate(f, &self.def) {
                Some(p) => apply(&mut request, p),
                None => all_exact = false,
            }
        }
        // DataFusion passes a limit only when no filter remains above the scan.
        if all_exact {
            request.limit = limit;
        }
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let partitions = state.config().target_partitions().max(1);
        let db = self.db.clone();
        let name = self.qualified.clone();
        let statistics = self.statistics;
        let exec = tokio::task::spawn_blocking(move || {
            ScanExec::try_new(db, name, request, schema, partitions, statistics)
        })
        .await
        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))??;
        Ok(Arc::new(exec))
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if op != InsertOp::Append {
            return not_impl_err!("{op} into a collection (only INSERT INTO appends)");
        }
        let sink = CollectionSink {
            db: self.db.clone(),
            collection: self.qualified.clone(),
            schema: self.schema.clone(),
        };
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }
}

/// Writes an INSERT's rows: all of them in one durable, atomic write.
#[derive(Debug)]
struct CollectionSink {
    db: Arc<Db>,
    collection: String,
    schema: SchemaRef,
}

impl DisplayAs for CollectionSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CairnInsert: collection={}", self.collection)
    }
}

#[async_trait]
impl DataSink for CollectionSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        mut data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> Result<u64> {
        let schema = data.schema();
        let mut batches = Vec::new();
        while let Some(b) = data.next().await {
            batches.push(b?);
        }
        let batch = concat_batches(&schema, &batches)?;
        if batch.num_rows() == 0 {
            return Ok(0);
        }
        let db = self.db.clone();
        let name = self.collection.clone();
        tokio::task::spawn_blocking(move || db.write(&name, &batch).map_err(to_df))
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?
    }
}
