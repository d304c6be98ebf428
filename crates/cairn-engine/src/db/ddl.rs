//! Catalog changes: logged durably in the WAL, then written to the catalog file, then made
//! live. A change returns only once both are durable.

use std::sync::Arc;

use cairn_storage::{ColumnRole, ColumnSpec};
use cairn_wal::Record;

use super::{Db, Inner, REC_DDL, split_name};
use crate::catalog::codec::{encode_catalog, encode_ddl};
use crate::catalog::{
    CollectionDef, CollectionOptions, DatabaseDef, DatabaseOptions, DdlOp, validate_schema,
};
use crate::collection::Collection;
use crate::error::{EngineError, Result};
use crate::manifest::Manifest;
use crate::{files, ident};

impl Db {
    pub fn create_database(&self, name: &str, options: DatabaseOptions) -> Result<()> {
        ident::validate("database", name)?;
        self.inner.check_open()?;
        self.inner.ddl(|cat| {
            if cat.database(name).is_some() {
                return Err(EngineError::AlreadyExists {
                    kind: "database",
                    name: name.into(),
                });
            }
            Ok(DdlOp::CreateDatabase(DatabaseDef {
                id: cat.next_id.max(1),
                name: name.into(),
                options: options.clone(),
            }))
        })
    }

    /// Drops a database and every collection in it (their files are deleted).
    pub fn drop_database(&self, name: &str) -> Result<()> {
        self.inner.check_open()?;
        if name == crate::DEFAULT_DATABASE {
            return Err(EngineError::InvalidWrite(
                "the default database cannot be dropped".into(),
            ));
        }
        let id = self.inner.database_id(name)?;
        self.inner.ddl(|_| Ok(DdlOp::DropDatabase { id }))
    }

    /// Creates a collection (`name` or `db.name`) with `columns` (exactly one TIME_KEY
    /// timestamp; tags are strings; every other column nullable). `None` options take
    /// [`crate::DbOptions::default_collection`].
    pub fn create_collection(
        &self,
        name: &str,
        columns: Vec<ColumnSpec>,
        options: Option<CollectionOptions>,
    ) -> Result<Arc<CollectionDef>> {
        self.inner.create_collection(name, columns, options)?;
        self.collection(name)
    }

    /// Drops a collection; its files are deleted once no scan holds them.
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        self.inner.check_open()?;
        let id = self.inner.find(name)?.id;
        self.inner.ddl(|_| Ok(DdlOp::DropCollection { id }))
    }

    /// Adds nullable columns (rows written before read them as NULL).
    pub fn add_columns(&self, name: &str, columns: Vec<ColumnSpec>) -> Result<()> {
        self.inner.check_open()?;
        let id = self.inner.find(name)?.id;
        for c in &columns {
            if c.role == ColumnRole::TimeKey || !c.nullable {
                return Err(EngineError::InvalidSchema(format!(
                    "an added column ({:?}) must be a nullable field or tag",
                    c.name
                )));
            }
        }
        self.inner.ddl(|_| {
            Ok(DdlOp::AddColumns {
                id,
                columns: columns.clone(),
            })
        })
    }

    /// Replaces a collection's options.
    pub fn set_collection_options(&self, name: &str, options: CollectionOptions) -> Result<()> {
        self.inner.check_open()?;
        options.validate()?;
        let c = self.inner.find(name)?;
        if c.lock().def.options.partition_interval_ns != options.partition_interval_ns {
            return Err(EngineError::InvalidOption {
                name: "partition_interval",
                detail: "cannot change once a collection exists".into(),
            });
        }
        self.inner.ddl(|_| {
            Ok(DdlOp::SetOptions {
                id: c.id,
                options: options.clone(),
            })
        })
    }
}

impl Inner {
    pub(crate) fn create_collection(
        &self,
        name: &str,
        columns: Vec<ColumnSpec>,
        options: Option<CollectionOptions>,
    ) -> Result<()> {
        self.check_open()?;
        let (db, coll) = split_name(name);
        ident::validate("database", db)?;
        ident::validate("collection", coll)?;
        validate_schema(&columns)?;
        let options = options.unwrap_or_else(|| self.opts.default_collection.clone());
        options.validate()?;
        self.ddl(|cat| {
            let d = cat
                .database(db)
                .ok_or_else(|| EngineError::NoSuchDatabase(db.into()))?;
            if cat.collection(d.id, coll).is_some() {
                return Err(EngineError::AlreadyExists {
                    kind: "collection",
                    name: name.into(),
                });
            }
            Ok(DdlOp::CreateCollection(CollectionDef {
                id: cat.next_id.max(1),
                database_id: d.id,
                name: coll.into(),
                schema: cairn_storage::Schema {
                    columns: columns.clone(),
                },
                options: options.clone(),
            }))
        })
    }

    /// Builds a change from the current catalog, checks that it applies, logs it durably,
    /// persists the catalog, then makes it live.
    pub(crate) fn ddl(
        &self,
        make: impl FnOnce(&crate::catalog::Catalog) -> Result<DdlOp>,
    ) -> Result<()> {
        let mut cat = self.catalog();
        let op = make(&cat)?;
        let mut next = cat.clone();
        next.apply(&op, 0)?;
        let payload = encode_ddl(&op);
        let lsn = self
            .wal
            .append_durable(Record::new(REC_DDL, &payload))
            .map_err(|e| {
                self.fail(format!("logging a catalog change: {e}"));
                EngineError::from(e)
            })?;
        next.lsn = lsn.0;
        if let Err(e) = files::replace_durably(
            &*self.fs,
            &self.root.join(files::CATALOG),
            &encode_catalog(&next),
        ) {
            // Logged but not in the catalog file: recovery applies it; this process must not
            // go on with a catalog that disagrees with the log.
            self.fail(format!("writing the catalog: {e}"));
            return Err(e);
        }
        *cat = next;
        self.apply_live(&op, &cat);
        Ok(())
    }

    /// Makes a logged change live in the collection map (after the catalog is updated).
    pub(crate) fn apply_live(&self, op: &DdlOp, cat: &crate::catalog::Catalog) {
        let mut cols = self.collections.write().unwrap_or_else(|e| e.into_inner());
        match op {
            DdlOp::CreateDatabase(_) => {}
            DdlOp::CreateCollection(def) => {
                let dir = files::collection_dir(&self.root, def.id);
                cols.insert(
                    def.id,
                    Arc::new(Collection::new(
                        Arc::new(def.clone()),
                        dir,
                        Manifest::default(),
                        Vec::new(),
                    )),
                );
            }
            DdlOp::DropCollection { .. } | DdlOp::DropDatabase { .. } => {
                let gone: Vec<u64> = cols
                    .keys()
                    .copied()
                    .filter(|id| !cat.collections.contains_key(id))
                    .collect();
                for id in gone {
                    if let Some(c) = cols.remove(&id) {
                        self.retire(&c);
                    }
                }
            }
            DdlOp::AddColumns { id, .. } | DdlOp::SetOptions { id, .. } => {
                if let (Some(c), Some(def)) = (cols.get(id), cat.collections.get(id)) {
                    c.lock().set_def(Arc::new(def.clone()));
                }
            }
        }
    }

    /// Forgets a dropped collection: memory released, files deleted once unread.
    fn retire(&self, c: &Collection) {
        let mut st = c.lock();
        st.dropped = true;
        let freed: usize = st.mem.values().map(|m| m.bytes).sum::<usize>()
            + st.frozen.iter().map(|f| f.bytes).sum::<usize>();
        st.mem.clear();
        st.frozen.clear();
        st.pending.clear();
        for f in &st.version.files {
            f.mark_obsolete();
        }
        st.version = Arc::default();
        drop(st);
        self.add_mem(-(freed as isize));
        let manifest = c.dir.join(files::MANIFEST);
        match self.fs.remove_file(&manifest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "removing a dropped collection's manifest"),
        }
    }
}
