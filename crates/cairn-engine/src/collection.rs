//! One collection's live state: memtables, frozen memtables being flushed, the current
//! manifest version with its files, and the queue of logged writes not yet applied.
//!
//! Ordering invariant: a collection's writes are enqueued in LSN order (the WAL append happens
//! under the state lock) and applied in queue order, so at any moment every record of the
//! collection up to `applied_lsn` is in memtables or files and none above it is. A memtable
//! frozen at `applied_lsn = C` therefore holds every unflushed row of its partition logged at
//! or below C: recording C in the manifest after the file is durable is exact.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use cairn_io::FsRef;
use cairn_storage::{PartitionReader, ReadOptions};

use crate::catalog::CollectionDef;
use crate::convert::arrow_schema;
use crate::error::Result;
use crate::files;
use crate::manifest::{FileMeta, Manifest};
use crate::memtable::Memtable;

/// A partition file named by a manifest version. When a version that dropped it is current
/// and the last reader lets go, the file is deleted.
#[derive(Debug)]
pub struct PartFile {
    pub meta: FileMeta,
    pub path: PathBuf,
    fs: FsRef,
    read_options: ReadOptions,
    reader: Mutex<Option<Arc<PartitionReader>>>,
    obsolete: AtomicBool,
}

impl PartFile {
    pub fn new(
        meta: FileMeta,
        dir: &std::path::Path,
        fs: FsRef,
        read_options: ReadOptions,
    ) -> Self {
        Self {
            path: dir.join(files::partition_file_name(meta.file_id)),
            meta,
            fs,
            read_options,
            reader: Mutex::new(None),
            obsolete: AtomicBool::new(false),
        }
    }

    /// The in-memory handle of a file `coll`'s manifest names.
    pub fn of(inner: &crate::db::Inner, coll: &Collection, meta: FileMeta) -> Arc<PartFile> {
        Arc::new(PartFile::new(
            meta,
            &coll.dir,
            inner.fs.clone(),
            inner.read_options.clone(),
        ))
    }

    /// The file's reader, opened on first use (tail and footer read, length checked).
    pub fn reader(&self) -> Result<Arc<PartitionReader>> {
        let mut slot = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = &*slot {
            return Ok(r.clone());
        }
        let mut opts = self.read_options.clone();
        opts.expected_len = Some(self.meta.len_bytes);
        let r = Arc::new(PartitionReader::open_file(&*self.fs, &self.path, &opts)?);
        if r.footer().encryption.is_some() != self.meta.encrypted {
            return Err(crate::error::EngineError::Corrupt {
                what: "partition file",
                path: self.path.clone(),
                offset: r.len_bytes(),
                detail: format!(
                    "the manifest records it as {}, but the file is {}",
                    if self.meta.encrypted {
                        "encrypted"
                    } else {
                        "plaintext"
                    },
                    if self.meta.encrypted {
                        "plaintext (refusing a downgrade)"
                    } else {
                        "encrypted"
                    }
                ),
            });
        }
        *slot = Some(r.clone());
        Ok(r)
    }

    /// Deletes the file once the last holder drops it.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            match self.fs.remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(path = %self.path.display(), error = %e,
                    "could not delete a replaced partition file; the next open deletes it"),
            }
        }
    }
}

/// The files of one manifest version. Readers clone the `Arc` and keep what they started with.
#[derive(Debug, Default)]
pub struct Version {
    pub files: Vec<Arc<PartFile>>,
}

/// A memtable taken out of service and being written to a file; still visible to scans.
#[derive(Debug)]
pub struct Frozen {
    pub partition: i64,
    pub chunks: Vec<RecordBatch>,
    pub rows: usize,
    pub bytes: usize,
    pub first_lsn: u64,
    /// Every row of `partition` logged at or below this LSN is in `chunks` or in files.
    pub covered_lsn: u64,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// One part of a logged write: the rows of one time partition.
#[derive(Debug, Clone)]
pub struct Part {
    pub partition: i64,
    pub batch: RecordBatch,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// A logged write waiting to be applied.
#[derive(Debug)]
pub struct Pending {
    /// LSNs of this collection's records of the write (consecutive).
    pub first_lsn: u64,
    pub last_lsn: u64,
    /// The last LSN of the write group: applied only once that is durable, so a write is
    /// visible all at once or not at all.
    pub group_end: u64,
    pub parts: Vec<Part>,
}

#[derive(Debug)]
pub struct State {
    pub def: Arc<CollectionDef>,
    pub schema: SchemaRef,
    pub mem: BTreeMap<i64, Memtable>,
    pub frozen: Vec<Arc<Frozen>>,
    pub version: Arc<Version>,
    pub manifest: Manifest,
    pub pending: VecDeque<Pending>,
    pub applied_lsn: u64,
    pub dropped: bool,
}

impl State {
    /// The lowest LSN recovery would still need for this collection (None: nothing).
    pub fn needed_lsn(&self) -> Option<u64> {
        let m = self.mem.values().map(|m| m.first_lsn);
        let f = self.frozen.iter().map(|f| f.first_lsn);
        let p = self.pending.front().map(|p| p.first_lsn);
        m.chain(f).chain(p).min()
    }

    pub fn set_def(&mut self, def: Arc<CollectionDef>) {
        self.schema = arrow_schema(&def.schema.columns);
        self.def = def;
    }

    /// Applies queued writes whose group is durable (`durable` = the WAL's durable LSN), in
    /// order. Returns the change in memtable bytes.
    pub fn apply_ready(&mut self, durable: u64) -> Result<isize> {
        let mut delta = 0isize;
        while self.pending.front().is_some_and(|p| p.group_end <= durable) {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            delta += self.apply(p.first_lsn, p.last_lsn, p.parts)?;
        }
        Ok(delta)
    }

    /// Applies one write's parts logged at `first_lsn..=last_lsn` (also used by recovery, which
    /// passes only the parts the manifest does not cover).
    pub fn apply(&mut self, first_lsn: u64, last_lsn: u64, parts: Vec<Part>) -> Result<isize> {
        let mut delta = 0isize;
        for part in parts {
            let m = self
                .mem
                .entry(part.partition)
                .or_insert_with(|| Memtable::new(part.partition, first_lsn));
            delta += m.push(part.batch, part.min_ts, part.max_ts)?;
        }
        self.applied_lsn = self.applied_lsn.max(last_lsn);
        Ok(delta)
    }
}

/// A collection: its id, directory and locked state.
#[derive(Debug)]
pub struct Collection {
    pub id: u64,
    pub dir: PathBuf,
    pub state: Mutex<State>,
    /// Serialises flushes of this collection (oldest frozen memtable first).
    pub flush_lock: Mutex<()>,
    /// Serialises compaction and retention of this collection.
    pub compact_lock: Mutex<()>,
    /// Held around "new manifest from the current one → persist → install", so flushes and
    /// compactions running side by side never lose each other's changes.
    pub manifest_lock: Mutex<()>,
    /// The next partition file id (persisted as the manifest's `next_file_id`).
    next_file_id: std::sync::atomic::AtomicU64,
}

impl Collection {
    pub fn new(
        def: Arc<CollectionDef>,
        dir: PathBuf,
        manifest: Manifest,
        files: Vec<Arc<PartFile>>,
    ) -> Self {
        // Above every id the manifest names or has handed out; orphans of a crashed flush
        // are deleted at open before any new id is used.
        let next = manifest
            .files
            .iter()
            .map(|f| f.file_id + 1)
            .max()
            .unwrap_or(1)
            .max(manifest.next_file_id)
            .max(1);
        Self {
            next_file_id: std::sync::atomic::AtomicU64::new(next),
            id: def.id,
            dir,
            state: Mutex::new(State {
                schema: arrow_schema(&def.schema.columns),
                def,
                mem: BTreeMap::new(),
                frozen: Vec::new(),
                version: Arc::new(Version { files }),
                manifest,
                pending: VecDeque::new(),
                applied_lsn: 0,
                dropped: false,
            }),
            flush_lock: Mutex::new(()),
            compact_lock: Mutex::new(()),
            manifest_lock: Mutex::new(()),
        }
    }

    /// A new partition file id, never handed out before in this directory's life.
    pub fn allocate_file_id(&self) -> u64 {
        self.next_file_id.fetch_add(1, Ordering::AcqRel)
    }

    pub fn next_file_id(&self) -> u64 {
        self.next_file_id.load(Ordering::Acquire)
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
