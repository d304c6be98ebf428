//! cairn's catalog as DataFusion sees it: one catalog (`cairn`) whose schemas are cairn's
//! databases and whose tables are their collections, looked up live, so DDL from any session
//! (or the embedded API) is visible at once. `information_schema` is DataFusion's, over this.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_engine::{Db, EngineError};
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::common::Result;

use crate::error::to_df;
use crate::table::CollectionTable;

/// The catalog name (`SELECT * FROM cairn.default.dns`).
pub const CATALOG: &str = "cairn";

#[derive(Debug)]
pub struct CairnCatalog {
    db: Arc<Db>,
    /// Scans report exact statistics (COUNT / MIN / MAX answered from them).
    statistics: bool,
}

impl CairnCatalog {
    pub fn new(db: Arc<Db>, statistics: bool) -> Self {
        Self { db, statistics }
    }
}

impl CatalogProvider for CairnCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.db.databases()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.db.databases().iter().any(|d| d == name).then(|| {
            Arc::new(DatabaseSchema {
                db: self.db.clone(),
                database: name.to_owned(),
                statistics: self.statistics,
            }) as Arc<dyn SchemaProvider>
        })
    }
}

#[derive(Debug)]
pub struct DatabaseSchema {
    db: Arc<Db>,
    database: String,
    statistics: bool,
}

#[async_trait]
impl SchemaProvider for DatabaseSchema {
    fn table_names(&self) -> Vec<String> {
        self.db
            .collections(&self.database)
            .map(|cs| cs.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match self.db.collection(&format!("{}.{name}", self.database)) {
            Ok(def) => Ok(Some(Arc::new(CollectionTable::new(
                self.db.clone(),
                &self.database,
                def,
                self.statistics,
            )))),
            Err(EngineError::NoSuchCollection(_) | EngineError::InvalidIdentifier { .. }) => {
                Ok(None)
            }
            Err(e) => Err(to_df(e)),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.db
            .collection(&format!("{}.{name}", self.database))
            .is_ok()
    }
}
