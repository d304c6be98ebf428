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
pub mod lp;
mod manifest;
mod memtable;
mod options;
mod predicate;
mod recovery;
mod scan;
mod write;

pub use catalog::{CollectionDef, CollectionOptions, DatabaseDef, DatabaseOptions, SortOrder};
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{CollectionStats, Db, FlushReport};
pub use error::{EngineError, Result};
pub use ingest_lp::{LineErrorPolicy, WriteLinesReport};
pub use lp::{LineError, Precision};
pub use options::DbOptions;
pub use predicate::{CmpOp, Predicate, Scalar};
pub use scan::{ScanRequest, ScanResult, TimeRange};

pub use cairn_storage::{ColumnRole, ColumnSpec, ColumnType};

/// The database every `Db` has and the one used when none is named.
pub const DEFAULT_DATABASE: &str = "default";
