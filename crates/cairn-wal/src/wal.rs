//! The public handle: open (with recovery), append, sync, replay, truncate, close.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use cairn_io::{Backend, FsRef, LockGuard, OpenOptions, RealFs, probe_direct_io};

use crate::commit::{self, LogConfig, Shared, SharedInit, WalStats};
use crate::error::{Result, WalError};
use crate::options::{BackendChoice, DirectIo, RecoveryPolicy, WalOptions};
use crate::record::{MAX_PAYLOAD_BYTES, Record, WalRecord};
use crate::recovery::{self, SegmentMeta, TornTail};
use crate::replay::Replay;
use crate::segment::{BLOCK_BYTES, SegmentCtx};
use crate::{Lsn, LsnRange};

/// The I/O path chosen at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoPath {
    pub backend: Backend,
    pub direct_io: bool,
}

/// What opening the log found and did.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    pub segments: usize,
    /// Records checked in sealed segments (when `verify_on_open`) and in the last segment.
    pub records_scanned: u64,
    /// The torn tail cut off the last segment, if any.
    pub torn_tail: Option<TornTail>,
    /// Under the salvage policy: damage that was cut off, as text.
    pub salvaged: Vec<String>,
    /// The LSN the next append gets.
    pub next_lsn: Lsn,
}

/// One segment file as [`Wal::segments`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub path: PathBuf,
    pub first_lsn: Lsn,
    pub len_bytes: u64,
    pub encrypted: bool,
    /// The segment currently receiving writes (never deleted by truncation).
    pub active: bool,
}

/// What [`Wal::truncate_before`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TruncateReport {
    pub segments_deleted: usize,
    pub bytes_reclaimed: u64,
}

/// A durable segmented write-ahead log. `Send + Sync`: share it with `Arc` and append from
/// any number of threads.
pub struct Wal {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    io_path: IoPath,
    policy: RecoveryPolicy,
    report: RecoveryReport,
    truncate_lock: Mutex<()>,
    _lock: LockGuard,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.shared.cfg.dir)
            .field("io_path", &self.io_path)
            .finish()
    }
}

const LOCK_FILE: &str = "LOCK";

impl Wal {
    /// Opens (creating if needed) the log in `dir` on the real file system.
    pub fn open(dir: impl AsRef<Path>, options: WalOptions) -> Result<Wal> {
        let backend = match options.backend {
            BackendChoice::Auto => Backend::detect(),
            BackendChoice::Pwrite => Backend::Pwrite,
            BackendChoice::IoUring => {
                if Backend::detect() != Backend::IoUring {
                    return Err(WalError::InvalidOption {
                        name: "backend",
                        detail:
                            "io_uring was requested but this kernel or sandbox does not allow it"
                                .into(),
                    });
                }
                Backend::IoUring
            }
        };
        Self::open_with_fs(
            Arc::new(RealFs::new(backend)),
            backend,
            dir.as_ref(),
            options,
        )
    }

    /// Opens the log on any [`cairn_io::Fs`] (the simulated one in tests). `backend` is only
    /// reported by [`Wal::io_path`].
    pub fn open_with_fs(
        fs: FsRef,
        backend: Backend,
        dir: &Path,
        options: WalOptions,
    ) -> Result<Wal> {
        validate(&options)?;
        fs.create_dir_all(dir)
            .map_err(|e| WalError::io("create WAL directory", dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fs.lock_exclusive(&lock_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => WalError::Locked {
                path: dir.to_path_buf(),
            },
            _ => WalError::io("lock WAL directory", &lock_path, e),
        })?;
        let direct = match options.direct_io {
            DirectIo::Off => false,
            DirectIo::On => true,
            DirectIo::Auto => probe_direct_io(&*fs, dir),
        };
        let io_path = IoPath {
            backend,
            direct_io: direct,
        };
        let keys = options.key_ring.clone();
        let mut segments = recovery::list_segments(&*fs, dir, keys.as_ref())?;
        let mut report = RecoveryReport {
            segments: segments.len(),
            ..RecoveryReport::default()
        };
        if options.verify_on_open {
            for pair in segments.windows(2) {
                let scan = recovery::scan_sealed(&*fs, &pair[0], &pair[1], options.recovery)?;
                report.records_scanned += scan.records;
                if let Some(err) = scan.salvaged {
                    tracing::warn!(error = %err, "salvage: damaged sealed segment; replay will stop there");
                    report.salvaged.push(err.to_string());
                }
            }
        }
        let (next_lsn, prev_first, prev_last, replace_last) = match segments.last() {
            None => (1, 0, 0, false),
            Some(last) => {
                let scan = recovery::scan_last(&*fs, last, options.recovery)?;
                report.records_scanned += scan.records;
                if let Some(err) = &scan.salvaged {
                    tracing::warn!(error = %err, "salvage: cutting the last segment at damaged data");
                    report.salvaged.push(err.to_string());
                }
                let file = fs
                    .open(&last.path, OpenOptions::read_write())
                    .map_err(|e| WalError::io("open segment", &last.path, e))?;
                if let Some(tail) = &scan.tail {
                    tracing::warn!(
                        segment = %tail.segment.display(), offset = tail.offset, bytes = tail.bytes_dropped,
                        problem = %tail.problem, "truncating torn WAL tail"
                    );
                    file.set_len(tail.offset)
                        .map_err(|e| WalError::io("truncate torn tail", &last.path, e))?;
                }
                // Whatever survived is durable from now on (it may only have been in the page
                // cache after a process crash).
                file.sync_data()
                    .map_err(|e| WalError::io("sync recovered segment", &last.path, e))?;
                report.torn_tail = scan.tail;
                // LSNs seen on disk are never reused, not even those of a cut torn tail.
                let next = (scan.max_lsn_seen + 1).max(last.first_lsn());
                if scan.records == 0 && next == last.first_lsn() {
                    let h = &last.ctx.header;
                    (next, h.prev_first_lsn, h.prev_last_lsn, true)
                } else {
                    (next, last.first_lsn(), scan.last_lsn, false)
                }
            }
        };
        // Never append to a segment written before this open: start a fresh one (replacing
        // the last segment atomically if it holds no record).
        let active = SegmentCtx::create(dir, next_lsn, prev_first, prev_last, keys.as_ref())?;
        if replace_last {
            segments.pop();
        }
        segments.push(SegmentMeta {
            path: active.path.clone(),
            ctx: active.clone(),
        });
        report.segments = segments.len();
        report.next_lsn = Lsn(next_lsn);
        let shared = Shared::new(SharedInit {
            cfg: LogConfig {
                fs,
                dir: dir.to_path_buf(),
                direct,
                keys,
                segment_target_bytes: options.segment_target_bytes,
                max_record_bytes: options.max_record_bytes,
                max_pending_bytes: options.max_pending_bytes,
                preallocate: options.preallocate,
            },
            next_lsn,
            segments,
            active: active.clone(),
        });
        let active_file = commit::create_segment_file(&shared, &active, replace_last)?;
        tracing::info!(
            dir = %dir.display(), backend = %backend, direct_io = direct, next_lsn,
            segments = report.segments, "WAL opened"
        );
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("cairn-wal-writer".into())
            .spawn(move || commit::run_writer(&writer_shared, active_file))
            .map_err(|e| WalError::io("spawn WAL writer", dir, e))?;
        let sync_shared = shared.clone();
        let syncer = std::thread::Builder::new()
            .name("cairn-wal-sync".into())
            .spawn(move || commit::run_syncer(&sync_shared))
            .map_err(|e| WalError::io("spawn WAL sync thread", dir, e))?;
        Ok(Wal {
            shared,
            threads: Mutex::new(vec![writer, syncer]),
            io_path,
            policy: options.recovery,
            report,
            truncate_lock: Mutex::new(()),
            _lock: lock,
        })
    }

    /// Appends a record and returns its LSN once it is queued (not yet durable: a crash may
    /// lose it). See [`Wal::append_durable`].
    pub fn append(&self, record: Record<'_>) -> Result<Lsn> {
        self.shared
            .enqueue(std::slice::from_ref(&record))
            .map(|(first, _)| first)
    }

    /// Appends a record and returns its LSN once it is on stable storage.
    pub fn append_durable(&self, record: Record<'_>) -> Result<Lsn> {
        let lsn = self.append(record)?;
        self.shared.wait_durable(lsn.0)?;
        Ok(lsn)
    }

    /// Appends records with consecutive LSNs (queued, not yet durable). Fails without
    /// appending anything if any record is invalid or `records` is empty.
    pub fn append_batch(&self, records: &[Record<'_>]) -> Result<LsnRange> {
        if records.is_empty() {
            return Err(WalError::InvalidOption {
                name: "records",
                detail: "an empty batch".into(),
            });
        }
        let (first, last) = self.shared.enqueue(records)?;
        Ok(LsnRange { first, last })
    }

    /// Appends records with consecutive LSNs and returns once all are durable.
    pub fn append_batch_durable(&self, records: &[Record<'_>]) -> Result<LsnRange> {
        let range = self.append_batch(records)?;
        self.shared.wait_durable(range.last.0)?;
        Ok(range)
    }

    /// Waits until every record appended before this call is durable; returns the durable
    /// LSN.
    pub fn sync(&self) -> Result<Lsn> {
        let target = self.shared.last_assigned();
        self.shared.wait_durable(target)?;
        Ok(self.durable_lsn())
    }

    /// Waits until `lsn` is durable.
    pub fn wait_durable(&self, lsn: Lsn) -> Result<()> {
        self.shared.wait_durable(lsn.0)
    }

    /// The highest LSN known to be on stable storage (`Lsn(0)` if none).
    pub fn durable_lsn(&self) -> Lsn {
        Lsn(self.shared.durable_lsn.load(Ordering::Acquire))
    }

    /// The LSN the next append will get.
    pub fn next_lsn(&self) -> Lsn {
        Lsn(self.shared.last_assigned() + 1)
    }

    /// Streams the durable records with LSN ≥ `from`, in order.
    pub fn replay(&self, from: Lsn) -> Result<Replay> {
        if let Some(e) = self.shared.poisoned() {
            return Err(e);
        }
        let segments: Arc<[SegmentMeta]> = self
            .shared
            .segments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .into();
        Ok(Replay::new(
            self.shared.cfg.fs.clone(),
            segments,
            from,
            self.durable_lsn(),
            self.policy,
        ))
    }

    /// Up to `max` durable records with LSN ≥ `from`, and whether more follow. Starts reading
    /// at the segment that holds `from`.
    pub fn replay_page(&self, from: Lsn, max: usize) -> Result<(Vec<WalRecord>, bool)> {
        let mut replay = self.replay(from)?;
        let mut out = Vec::with_capacity(max.min(4096));
        for record in replay.by_ref() {
            if out.len() == max {
                return Ok((out, true));
            }
            out.push(record?);
        }
        Ok((out, false))
    }

    /// Deletes every segment whose records all have LSN < `lsn` (never the active segment),
    /// oldest first, syncing the directory after each removal so that a crash leaves a
    /// contiguous suffix.
    pub fn truncate_before(&self, lsn: Lsn) -> Result<TruncateReport> {
        let _serial = self.truncate_lock.lock().unwrap_or_else(|e| e.into_inner());
        let lengths = self.file_lengths()?;
        let mut report = TruncateReport::default();
        loop {
            let victim = {
                let segs = self
                    .shared
                    .segments
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                match (segs.first(), segs.get(1)) {
                    (Some(first), Some(second)) if second.first_lsn() <= lsn.0 => {
                        first.path.clone()
                    }
                    _ => break,
                }
            };
            let fs = &self.shared.cfg.fs;
            let len = length_of(&lengths, &victim);
            match fs.remove_file(&victim) {
                Ok(()) => {}
                // An earlier call removed it and then failed to sync the directory: the
                // segment is still listed, and the sync below makes the removal durable.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(WalError::io("remove segment", &victim, e)),
            }
            fs.sync_dir(&self.shared.cfg.dir)
                .map_err(|e| WalError::io("sync WAL directory", &self.shared.cfg.dir, e))?;
            self.shared
                .segments
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(0);
            report.segments_deleted += 1;
            report.bytes_reclaimed += len;
        }
        Ok(report)
    }

    /// The segment files, oldest first.
    pub fn segments(&self) -> Result<Vec<SegmentInfo>> {
        // Serialised with truncation: every listed segment is then in the directory (rollover
        // creates the file before listing it).
        let _serial = self.truncate_lock.lock().unwrap_or_else(|e| e.into_inner());
        let segs = self
            .shared
            .segments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let lengths = self.file_lengths()?;
        let count = segs.len();
        Ok(segs
            .into_iter()
            .enumerate()
            .map(|(i, s)| SegmentInfo {
                first_lsn: Lsn(s.first_lsn()),
                encrypted: s.ctx.cipher.is_some(),
                active: i + 1 == count,
                len_bytes: length_of(&lengths, &s.path),
                path: s.path,
            })
            .collect())
    }

    /// File name → length of everything in the log directory, from one listing.
    fn file_lengths(&self) -> Result<HashMap<String, u64>> {
        let dir = &self.shared.cfg.dir;
        let entries = self
            .shared
            .cfg
            .fs
            .list_dir(dir)
            .map_err(|e| WalError::io("list WAL directory", dir, e))?;
        Ok(entries.into_iter().map(|e| (e.name, e.len_bytes)).collect())
    }

    /// Bytes used by all segment files.
    pub fn total_size_bytes(&self) -> Result<u64> {
        Ok(self.segments()?.iter().map(|s| s.len_bytes).sum())
    }

    pub fn io_path(&self) -> IoPath {
        self.io_path
    }

    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    pub fn stats(&self) -> &WalStats {
        &self.shared.stats
    }

    /// Syncs everything appended and stops the background threads.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        let synced = self.sync();
        self.shared.begin_shutdown();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            if t.join().is_err() {
                tracing::error!("a WAL thread panicked");
            }
        }
        synced.map(|_| ())
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "WAL close failed: records after the durable LSN may be lost");
        }
    }
}

fn validate(options: &WalOptions) -> Result<()> {
    if options.segment_target_bytes < (2 * BLOCK_BYTES) as u64 {
        return Err(WalError::InvalidOption {
            name: "segment_target_bytes",
            detail: format!(
                "{} is below the minimum of {}",
                options.segment_target_bytes,
                2 * BLOCK_BYTES
            ),
        });
    }
    if options.max_record_bytes > MAX_PAYLOAD_BYTES {
        return Err(WalError::InvalidOption {
            name: "max_record_bytes",
            detail: format!(
                "{} is above the format's limit of {MAX_PAYLOAD_BYTES}",
                options.max_record_bytes
            ),
        });
    }
    Ok(())
}

fn length_of(lengths: &HashMap<String, u64>, path: &Path) -> u64 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| lengths.get(n))
        .copied()
        .unwrap_or(0)
}
