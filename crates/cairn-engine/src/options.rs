//! How a [`crate::Db`] is opened.

use std::sync::Arc;
use std::time::Duration;

use cairn_io::{Backend, FsRef};
use cairn_storage::WriteOptions;
use cairn_wal::WalOptions;

use crate::catalog::CollectionOptions;
use crate::clock::{Clock, SystemClock};

/// Options of [`crate::Db::open`].
#[derive(Clone)]
pub struct DbOptions {
    /// The log's options. Its key ring, if any, also encrypts partition files.
    pub wal: WalOptions,
    /// How partition files are written (page size, codecs); `keys` is taken from `wal`.
    pub partition: WriteOptions,
    /// Bytes all memtables together may hold. A write that would go over waits until a flush
    /// frees memory (backpressure) instead of growing without bound.
    pub memory_budget_bytes: usize,
    /// Options of collections created without explicit ones (line protocol, `create_collection`
    /// with `None`).
    pub default_collection: CollectionOptions,
    /// Run flushes, compaction and retention on a background thread. Without it they run
    /// only when called, or inline when a write finds the memory budget exhausted.
    pub background: bool,
    /// How often the background thread looks for work.
    pub maintenance_interval: Duration,
    /// A time partition with at least this many files is compacted into one.
    pub compaction_min_files: usize,
    /// Acknowledge writes only once they are durable (the default). `false` acknowledges once
    /// they are logged and applied: a crash may then lose the latest writes.
    pub durable_writes: bool,
    /// LZ4-compress write records in the WAL when that saves at least an eighth (less log
    /// bandwidth and disk per durable row; see docs/formats/engine.md). Off by default: on
    /// the 2-core reference machine the compression CPU (~0.45 µs per DNS row, on the
    /// writer's thread) cost more than the log time it saved (line protocol 8.5–9.1 s vs
    /// 11.9–14.0 s for 10M rows). Worth it where the log device, not the CPU, is the limit.
    pub compress_wal: bool,
    pub clock: Arc<dyn Clock>,
    /// The file system (tests use the simulated one). `None`: the real one.
    pub fs: Option<(FsRef, Backend)>,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            // Replay reads and checks every record anyway (from the first segment), so a
            // separate full verification pass at open would read the log twice.
            wal: WalOptions {
                verify_on_open: false,
                ..WalOptions::default()
            },
            partition: WriteOptions::default(),
            memory_budget_bytes: 64 << 20,
            default_collection: CollectionOptions::default(),
            background: true,
            maintenance_interval: Duration::from_millis(200),
            compaction_min_files: 4,
            durable_writes: true,
            compress_wal: false,
            clock: Arc::new(SystemClock),
            fs: None,
        }
    }
}

impl std::fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbOptions")
            .field("memory_budget_bytes", &self.memory_budget_bytes)
            .field("default_collection", &self.default_collection)
            .field("background", &self.background)
            .field("durable_writes", &self.durable_writes)
            .finish_non_exhaustive()
    }
}
