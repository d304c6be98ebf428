//! The embedded database handle.

mod commit;
mod ddl;
mod maintenance;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;

use cairn_io::{Backend, FsRef, LockGuard, RealFs};
use cairn_storage::ReadOptions;
use cairn_wal::Wal;

use crate::catalog::{Catalog, CollectionDef};
use crate::collection::Collection;
use crate::error::{EngineError, Result};
use crate::files;
use crate::options::DbOptions;
use crate::{DEFAULT_DATABASE, ident};

/// WAL record types written by the engine.
pub(crate) const REC_WRITE: u16 = 1;
pub(crate) const REC_DDL: u16 = 2;
/// Record flag: more records of the same atomic write follow.
pub(crate) const FLAG_CONTINUED: u16 = 1;

/// What a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub files_written: usize,
    pub rows_flushed: u64,
    pub bytes_written: u64,
    pub wal_segments_deleted: usize,
}

/// Counters of the whole database since it was opened, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineCounters {
    /// Rows written and acknowledged.
    pub rows_written: u64,
    /// Memtables flushed into partition files.
    pub flushes: u64,
    /// Rows and bytes those flushes wrote.
    pub flushed_rows: u64,
    pub flushed_bytes: u64,
    /// Files written by compaction (each replacing several).
    pub compactions: u64,
}

/// Counters of one collection, for tests, `EXPLAIN` and operators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionStats {
    pub memtable_rows: u64,
    pub memtable_bytes: u64,
    pub memtables: usize,
    pub files: usize,
    pub file_rows: u64,
    pub file_bytes: u64,
    /// Time partitions with data in memory or files.
    pub partitions: usize,
}

pub(crate) struct Inner {
    pub root: PathBuf,
    pub fs: FsRef,
    pub wal: Wal,
    pub opts: DbOptions,
    pub read_options: ReadOptions,
    pub catalog: Mutex<Catalog>,
    pub collections: RwLock<BTreeMap<u64, Arc<Collection>>>,
    /// Bytes held by memtables (active and frozen).
    pub mem_used: AtomicI64,
    pub mem_changed: (Mutex<()>, Condvar),
    pub wake: (Mutex<bool>, Condvar),
    pub failed: Mutex<Option<String>>,
    pub closed: AtomicBool,
    pub rows_written: AtomicU64,
    pub flushes: AtomicU64,
    pub flushed_rows: AtomicU64,
    pub flushed_bytes: AtomicU64,
    pub compactions: AtomicU64,
    _lock: LockGuard,
}

/// An open database: `Send + Sync`, share it between threads (`Arc<Db>` or `&Db`).
pub struct Db {
    pub(crate) inner: Arc<Inner>,
    background: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("root", &self.inner.root)
            .finish()
    }
}

/// Splits `db.collection` (or `collection`, in the default database).
pub(crate) fn split_name(name: &str) -> (&str, &str) {
    match name.split_once('.') {
        Some((d, c)) => (d, c),
        None => (DEFAULT_DATABASE, name),
    }
}

impl Db {
    /// Opens (creating if needed) the database in `dir`: loads the catalog and manifests,
    /// replays the WAL above what files hold, and removes files no manifest names.
    pub fn open(dir: impl AsRef<Path>, options: DbOptions) -> Result<Db> {
        let (fs, backend) = match &options.fs {
            Some((fs, b)) => (fs.clone(), *b),
            None => {
                let b = Backend::detect();
                (Arc::new(RealFs::new(b)) as FsRef, b)
            }
        };
        let root = dir.as_ref().to_path_buf();
        fs.create_dir_all(&root)
            .map_err(|e| EngineError::io("create data directory", &root, e))?;
        let lock = fs
            .lock_exclusive(&root.join(files::LOCK))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock => EngineError::Locked { path: root.clone() },
                _ => EngineError::io("lock data directory", &root, e),
            })?;
        let wal = Wal::open_with_fs(
            fs.clone(),
            backend,
            &root.join(files::WAL_DIR),
            options.wal.clone(),
        )?;
        let read_options = ReadOptions {
            keys: options.wal.key_ring.clone(),
            ..ReadOptions::default()
        };
        let inner = Arc::new(Inner {
            root,
            fs,
            wal,
            read_options,
            catalog: Mutex::new(Catalog::default()),
            collections: RwLock::new(BTreeMap::new()),
            mem_used: AtomicI64::new(0),
            mem_changed: (Mutex::new(()), Condvar::new()),
            wake: (Mutex::new(false), Condvar::new()),
            failed: Mutex::new(None),
            closed: AtomicBool::new(false),
            rows_written: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            flushed_rows: AtomicU64::new(0),
            flushed_bytes: AtomicU64::new(0),
            compactions: AtomicU64::new(0),
            opts: options,
            _lock: lock,
        });
        crate::recovery::recover(&inner)?;
        let background = if inner.opts.background {
            maintenance::spawn(inner.clone())?
        } else {
            Vec::new()
        };
        Ok(Db {
            inner,
            background: Mutex::new(background),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.root
    }

    /// The log (for statistics and tests).
    pub fn wal(&self) -> &Wal {
        &self.inner.wal
    }

    /// Database names.
    pub fn databases(&self) -> Vec<String> {
        let c = self.inner.catalog();
        c.databases.values().map(|d| d.name.clone()).collect()
    }

    /// The collections of `database`, by name.
    pub fn collections(&self, database: &str) -> Result<Vec<Arc<CollectionDef>>> {
        let db_id = self.inner.database_id(database)?;
        let cols = self
            .inner
            .collections
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = cols
            .values()
            .map(|c| c.lock().def.clone())
            .filter(|d| d.database_id == db_id)
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The definition of a collection (`name` or `db.name`).
    pub fn collection(&self, name: &str) -> Result<Arc<CollectionDef>> {
        Ok(self.inner.find(name)?.lock().def.clone())
    }

    /// Counters of a collection.
    pub fn collection_stats(&self, name: &str) -> Result<CollectionStats> {
        let c = self.inner.find(name)?;
        let st = c.lock();
        let mut parts = std::collections::BTreeSet::new();
        let mut s = CollectionStats::default();
        for m in st.mem.values() {
            s.memtables += 1;
            s.memtable_rows += m.rows as u64;
            s.memtable_bytes += m.bytes as u64;
            parts.insert(m.partition);
        }
        for f in &st.frozen {
            s.memtables += 1;
            s.memtable_rows += f.rows as u64;
            s.memtable_bytes += f.bytes as u64;
            parts.insert(f.partition);
        }
        for f in &st.version.files {
            s.files += 1;
            s.file_rows += f.meta.rows;
            s.file_bytes += f.meta.len_bytes;
            parts.insert(f.meta.partition);
        }
        s.partitions = parts.len();
        Ok(s)
    }

    /// Bytes held by all memtables.
    pub fn memory_used(&self) -> u64 {
        self.inner.mem_used.load(Ordering::Acquire).max(0) as u64
    }

    /// Flushes every memtable to partition files and truncates the WAL below what they cover.
    pub fn flush(&self) -> Result<FlushReport> {
        self.inner.check_open()?;
        self.inner.flush_all(|_, _| true)
    }

    /// `flush`, then compaction and retention everywhere; afterwards the WAL holds only
    /// what was written since.
    pub fn checkpoint(&self) -> Result<FlushReport> {
        let report = self.flush()?;
        self.inner.maintain(true)?;
        Ok(report)
    }

    /// Runs retention and compaction now (the background thread does this on its own).
    pub fn maintain(&self) -> Result<()> {
        self.inner.check_open()?;
        self.inner.maintain(true)
    }

    /// Why the database stopped taking writes (a failed log write or flush), if it did; a
    /// closed database reports that it is closed.
    pub fn failure(&self) -> Option<String> {
        if let Some(why) = self.inner.failure() {
            return Some(why);
        }
        self.inner
            .closed
            .load(Ordering::Acquire)
            .then(|| "the database is closed".to_owned())
    }

    /// Counters since open (rows written, flushes, compactions).
    pub fn counters(&self) -> EngineCounters {
        let i = &self.inner;
        EngineCounters {
            rows_written: i.rows_written.load(Ordering::Relaxed),
            flushes: i.flushes.load(Ordering::Relaxed),
            flushed_rows: i.flushed_rows.load(Ordering::Relaxed),
            flushed_bytes: i.flushed_bytes.load(Ordering::Relaxed),
            compactions: i.compactions.load(Ordering::Relaxed),
        }
    }

    /// [`Db::close`] for a shared `Db` (a server holding it in an `Arc`): stops the
    /// background threads, flushes every memtable and syncs the log. Every later write or
    /// query is refused as closed.
    pub fn close_shared(&self) -> Result<()> {
        self.shutdown(true)
    }

    /// Flushes everything, syncs and closes. Dropping a `Db` without `close` loses nothing
    /// acknowledged (recovery replays the WAL) but leaves the replay work for the next open.
    pub fn close(self) -> Result<()> {
        self.shutdown(true)
    }

    fn shutdown(&self, flush: bool) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.wake_maintenance();
        let handles =
            std::mem::take(&mut *self.background.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            if h.join().is_err() {
                tracing::error!("a background thread panicked");
            }
        }
        let flushed = if flush && self.inner.failure().is_none() {
            self.inner.flush_all(|_, _| true).map(|_| ())
        } else {
            Ok(())
        };
        let synced = self.inner.wal.sync().map(|_| ()).map_err(EngineError::from);
        flushed.and(synced)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown(false) {
            tracing::warn!(error = %e, "closing the database on drop");
        }
    }
}

impl Inner {
    pub fn catalog(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn fail(&self, why: String) {
        tracing::error!(reason = %why, "the database stops accepting writes");
        let mut f = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        f.get_or_insert(why);
    }

    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(EngineError::Closed);
        }
        match self.failure() {
            Some(f) => Err(EngineError::Failed(f)),
            None => Ok(()),
        }
    }

    pub fn database_id(&self, name: &str) -> Result<u64> {
        self.catalog()
            .database(name)
            .map(|d| d.id)
            .ok_or_else(|| EngineError::NoSuchDatabase(name.to_string()))
    }

    /// The collection `name` (`db.name` or a name in the default database).
    pub fn find(&self, name: &str) -> Result<Arc<Collection>> {
        let (db, coll) = split_name(name);
        ident::validate("database", db)?;
        ident::validate("collection", coll)?;
        let id = {
            let cat = self.catalog();
            let d = cat
                .database(db)
                .ok_or_else(|| EngineError::NoSuchDatabase(db.to_string()))?;
            cat.collection(d.id, coll)
                .map(|c| c.id)
                .ok_or_else(|| EngineError::NoSuchCollection(name.to_string()))?
        };
        self.collections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
            .ok_or_else(|| EngineError::NoSuchCollection(name.to_string()))
    }

    pub fn all_collections(&self) -> Vec<Arc<Collection>> {
        self.collections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn add_mem(&self, delta: isize) {
        if delta != 0 {
            self.mem_used.fetch_add(delta as i64, Ordering::AcqRel);
            if delta < 0 {
                self.mem_changed.1.notify_all();
            }
        }
    }

    pub fn wake_maintenance(&self) {
        let mut w = self.wake.0.lock().unwrap_or_else(|e| e.into_inner());
        *w = true;
        self.wake.1.notify_all();
    }
}
