//! cairn's catalog as DataFusion sees it: one catalog (`cairn`) whose schemas are cairn's
//! databases and whose tables are their collections, looked up live, so DDL from any session
//! (or the embedded API) is visible at once. `information_schema` is DataFusion's, over this.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

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
    /// Schemas registered beside the databases (the server's `pg_catalog`); they hide a
    /// database of the same name.
    system: RwLock<BTreeMap<String, Arc<dyn SchemaProvider>>>,
}

impl CairnCatalog {
    pub fn new(db: Arc<Db>, statistics: bool) -> Self {
        Self {
            db,
            statistics,
            system: RwLock::new(BTreeMap::new()),
        }
    }
}

impl CatalogProvider for CairnCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names = self.db.databases();
        let system = self.system.read().unwrap_or_else(|e| e.into_inner());
        names.retain(|n| !system.contains_key(n));
        names.extend(system.keys().cloned());
        names
    }

    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> Result<Option<Arc<dyn SchemaProvider>>> {
        Ok(self
            .system
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), schema))
    }

    fn deregister_schema(
        &self,
        name: &str,
        _cascade: bool,
    ) -> Result<Option<Arc<dyn SchemaProvider>>> {
        Ok(self
            .system
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name))
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if let Some(s) = self
            .system
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Some(s.clone());
        }
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
