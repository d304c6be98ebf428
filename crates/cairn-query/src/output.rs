//! What a statement returns: rows (as Arrow batches with their schema) and the command tag a
//! PostgreSQL client shows (`SELECT 3`, `INSERT 0 5`, `CREATE TIMESERIES`).

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};

#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// The statement kind: `SELECT`, `INSERT`, `EXPLAIN`, `SHOW`, `CREATE TIMESERIES`, ...
    pub tag: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// Rows written by INSERT.
    pub rows_affected: Option<u64>,
}

impl QueryOutput {
    pub fn command(tag: &str, rows_affected: Option<u64>) -> Self {
        QueryOutput {
            tag: tag.to_owned(),
            schema: Arc::new(Schema::empty()),
            batches: Vec::new(),
            rows_affected,
        }
    }

    pub fn rows(tag: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        QueryOutput {
            tag: tag.to_owned(),
            schema,
            batches,
            rows_affected: None,
        }
    }

    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Whether the statement returns rows (a table, possibly empty) rather than a tag only.
    pub fn has_rows(&self) -> bool {
        !self.schema.fields().is_empty()
    }

    /// The PostgreSQL command-completion tag.
    pub fn command_tag(&self) -> String {
        match (self.tag.as_str(), self.rows_affected) {
            ("INSERT", Some(n)) => format!("INSERT 0 {n}"),
            (t, _) if self.has_rows() && matches!(t, "SELECT" | "SHOW" | "EXPLAIN") => {
                format!("SELECT {}", self.num_rows())
            }
            (t, _) => t.to_owned(),
        }
    }
}
