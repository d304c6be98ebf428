//! The catalog: databases, collections, their schemas and options.
//!
//! Changes (DDL) are logged in the WAL as [`DdlOp`] records and then written to the `CATALOG`
//! file (atomically replaced) together with the LSN of the last change it holds. Recovery loads
//! the file and re-applies logged changes above that LSN, so a crash between the two steps
//! loses nothing. Ids are never reused: a dropped collection's records in the WAL are skipped
//! by id, and a new collection of the same name gets a new id.

pub(crate) mod codec;

use std::collections::BTreeMap;

use cairn_storage::{ColumnRole, ColumnSpec, ColumnType, Schema};

use crate::error::{EngineError, Result};
use crate::ident;

/// Nanoseconds in a day.
pub const DAY_NS: i64 = 86_400_000_000_000;

/// How rows are ordered inside a partition file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// By the TIME_KEY only (best for time-range scans and timestamp compression).
    #[default]
    Time,
    /// By the tag columns in schema order, then time (best for per-series scans).
    TagsThenTime,
}

/// Per-collection options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionOptions {
    /// Width of a time partition in nanoseconds (files never span two partitions).
    pub partition_interval_ns: i64,
    /// Partitions whose whole time range is older than `now - retention` are dropped, and
    /// writes older than that are refused. `None`: keep forever.
    pub retention_ns: Option<i64>,
    /// A memtable over this many bytes is flushed.
    pub memtable_max_bytes: u64,
    /// A memtable older than this (since its first write) is flushed.
    pub memtable_max_age_ms: u64,
    /// Writes may add columns (line protocol adds fields and tags it has not seen).
    pub allow_new_columns: bool,
    pub sort: SortOrder,
}

impl Default for CollectionOptions {
    fn default() -> Self {
        Self {
            partition_interval_ns: DAY_NS,
            retention_ns: None,
            memtable_max_bytes: 32 << 20,
            memtable_max_age_ms: 300_000,
            allow_new_columns: true,
            sort: SortOrder::Time,
        }
    }
}

impl CollectionOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |name, detail: &str| {
            Err(EngineError::InvalidOption {
                name,
                detail: detail.into(),
            })
        };
        if self.partition_interval_ns < 1_000_000_000 {
            return bad("partition_interval", "must be at least one second");
        }
        if self.retention_ns.is_some_and(|r| r <= 0) {
            return bad("retention", "must be positive");
        }
        if self.memtable_max_bytes < 1024 {
            return bad("memtable_max_bytes", "must be at least 1024");
        }
        Ok(())
    }
}

/// Per-database options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseOptions {
    /// Line protocol may create a collection for a measurement it has not seen.
    pub auto_create_collections: bool,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            auto_create_collections: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseDef {
    pub id: u64,
    pub name: String,
    pub options: DatabaseOptions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionDef {
    pub id: u64,
    pub database_id: u64,
    pub name: String,
    /// Columns in order; exactly one TIME_KEY. Columns are only ever added.
    pub schema: Schema,
    pub options: CollectionOptions,
}

impl CollectionDef {
    pub fn time_key(&self) -> usize {
        self.schema.time_key().unwrap_or(0)
    }

    pub fn time_key_name(&self) -> &str {
        &self.schema.columns[self.time_key()].name
    }
}

/// Checks a collection schema: valid names, exactly one TIME_KEY, tags are strings.
pub fn validate_schema(columns: &[ColumnSpec]) -> Result<()> {
    for c in columns {
        ident::validate("column", &c.name)?;
    }
    let keys = columns
        .iter()
        .filter(|c| c.role == ColumnRole::TimeKey)
        .count();
    if keys != 1 {
        return Err(EngineError::InvalidSchema(format!(
            "a collection needs exactly one TIME_KEY timestamp column, found {keys}"
        )));
    }
    for c in columns {
        if c.role != ColumnRole::TimeKey && !c.nullable {
            return Err(EngineError::InvalidSchema(format!(
                "column {:?}: only the TIME_KEY is NOT NULL (rows written before a column was added have none)",
                c.name
            )));
        }
        if c.role == ColumnRole::Tag && c.column_type != ColumnType::String {
            return Err(EngineError::InvalidSchema(format!(
                "tag column {:?} must be a string",
                c.name
            )));
        }
    }
    Schema::new(columns.to_vec())
        .map(|_| ())
        .map_err(|e| EngineError::InvalidSchema(e.to_string()))
}

/// One logged catalog change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DdlOp {
    CreateDatabase(DatabaseDef),
    DropDatabase { id: u64 },
    CreateCollection(CollectionDef),
    DropCollection { id: u64 },
    AddColumns { id: u64, columns: Vec<ColumnSpec> },
    SetOptions { id: u64, options: CollectionOptions },
}

/// The catalog as held in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub databases: BTreeMap<u64, DatabaseDef>,
    pub collections: BTreeMap<u64, CollectionDef>,
    pub next_id: u64,
    /// LSN of the last change applied (0: none).
    pub lsn: u64,
}

impl Catalog {
    pub fn database(&self, name: &str) -> Option<&DatabaseDef> {
        self.databases.values().find(|d| d.name == name)
    }

    pub fn collection(&self, database_id: u64, name: &str) -> Option<&CollectionDef> {
        self.collections
            .values()
            .find(|c| c.database_id == database_id && c.name == name)
    }

    /// Applies a change. Fails (changing nothing) if it does not fit the current catalog;
    /// callers validate before logging, so a logged change always applies.
    pub fn apply(&mut self, op: &DdlOp, lsn: u64) -> Result<()> {
        match op {
            DdlOp::CreateDatabase(d) => {
                if self.database(&d.name).is_some() || self.databases.contains_key(&d.id) {
                    return Err(EngineError::AlreadyExists {
                        kind: "database",
                        name: d.name.clone(),
                    });
                }
                self.databases.insert(d.id, d.clone());
                self.next_id = self.next_id.max(d.id + 1);
            }
            DdlOp::DropDatabase { id } => {
                if self.databases.remove(id).is_none() {
                    return Err(EngineError::NoSuchDatabase(format!("#{id}")));
                }
                self.collections.retain(|_, c| c.database_id != *id);
            }
            DdlOp::CreateCollection(c) => {
                if !self.databases.contains_key(&c.database_id) {
                    return Err(EngineError::NoSuchDatabase(format!("#{}", c.database_id)));
                }
                if self.collection(c.database_id, &c.name).is_some()
                    || self.collections.contains_key(&c.id)
                {
                    return Err(EngineError::AlreadyExists {
                        kind: "collection",
                        name: c.name.clone(),
                    });
                }
                self.collections.insert(c.id, c.clone());
                self.next_id = self.next_id.max(c.id + 1);
            }
            DdlOp::DropCollection { id } => {
                if self.collections.remove(id).is_none() {
                    return Err(EngineError::NoSuchCollection(format!("#{id}")));
                }
            }
            DdlOp::AddColumns { id, columns } => {
                let c = self
                    .collections
                    .get_mut(id)
                    .ok_or_else(|| EngineError::NoSuchCollection(format!("#{id}")))?;
                let mut all = c.schema.columns.clone();
                all.extend(columns.iter().cloned());
                validate_schema(&all)?;
                c.schema.columns = all;
            }
            DdlOp::SetOptions { id, options } => {
                let c = self
                    .collections
                    .get_mut(id)
                    .ok_or_else(|| EngineError::NoSuchCollection(format!("#{id}")))?;
                c.options = options.clone();
            }
        }
        self.lsn = self.lsn.max(lsn);
        Ok(())
    }
}
