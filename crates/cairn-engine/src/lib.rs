//! cairn's engine: databases and collections (the catalog), the write path (validate, log one
//! format-independent record to the WAL, apply to memtables once durable), flush to packed
//! partition files recorded in per-collection manifests, recovery, compaction, retention and
//! exact scans returning Arrow `RecordBatch`es. Synchronous: no async runtime, no DataFusion.
//!
//! The embedded API is [`Db`].

#![allow(clippy::result_large_err)]

pub mod batch_codec;
mod catalog;
mod clock;
mod collection;
mod compact;
mod convert;
mod db;
mod error;
mod files;
mod flush;
mod ident;
mod ingest_lp;
pub mod inspect;
pub mod lp;
mod manifest;
mod memtable;
mod options;
mod payload;
mod predicate;
mod recovery;
mod scan;
mod write;

pub use catalog::{CollectionDef, CollectionOptions, DatabaseDef, DatabaseOptions, SortOrder};
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{CollectionStats, Db, EngineCounters, FlushReport};
pub use error::{EngineError, Result};
pub use ingest_lp::{LineErrorPolicy, WriteLinesReport};
pub use lp::{LineError, Precision};
pub use options::DbOptions;
pub use predicate::{CmpOp, Predicate, Scalar};
pub use scan::{
    AggregateFn, AggregateRequest, AggregateResult, ColumnSummary, GroupKey, MAX_GROUP_KEYS, Scan,
    ScanEstimate, ScanRequest, ScanResult, ScanStats, ScanSummary, TimeRange,
};

pub use cairn_storage::{ColumnRole, ColumnSpec, ColumnType};

/// The database every `Db` has and the one used when none is named.
pub const DEFAULT_DATABASE: &str = "default";

/// Decoders of the engine's own files and records over untrusted bytes, for `cairn inspect`,
/// fuzzing and tests. Each returns a typed error (offset and reason) and never panics.
pub mod decode {
    /// Checks a CATALOG file; on success the number of databases and collections.
    pub fn catalog(bytes: &[u8]) -> Result<(usize, usize), (u64, String)> {
        crate::catalog::codec::decode_catalog(bytes)
            .map(|c| (c.databases.len(), c.collections.len()))
    }

    /// Checks a DDL record payload; on success its debug rendering.
    pub fn ddl(bytes: &[u8]) -> Result<String, (u64, String)> {
        crate::catalog::codec::decode_ddl(bytes).map(|op| format!("{op:?}"))
    }

    /// Checks a MANIFEST file; on success the number of files it names.
    pub fn manifest(bytes: &[u8]) -> Result<usize, (u64, String)> {
        crate::manifest::Manifest::decode(bytes).map(|m| m.files.len())
    }
}

// The embedded API is shared between threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Db>();
    fn send<T: Send>() {}
    send::<scan::Scan>();
};
