//! Group commit: appenders enqueue, one writer thread writes, one sync thread syncs.
//!
//! - Appenders encode their records into the queue under one mutex; that is where LSNs are
//!   assigned and where each record's segment is decided (its CRC seed and encryption key
//!   depend on it), so LSNs are dense and ordered.
//! - The writer takes everything queued, pads each segment's part to a block boundary with a
//!   padding frame (which records the durable LSN known at that moment), and writes it at the
//!   segment's next block: bytes of an earlier flush are never rewritten.
//! - The sync thread runs `fdatasync` and then publishes the durable LSN. The writer hands it
//!   a batch only when it is idle, so while batch N is being synced, batch N+1 is written and
//!   batch N+2 accumulates: the batch size follows the load with no timer.
//! - Any write or sync error poisons the log: every waiter whose record is not yet durable and
//!   every later append gets that error; nothing is retried.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use cairn_io::{AlignedBuf, FileRef, FsRef, OpenOptions};

use crate::Lsn;
use crate::crypto::{KeyRing, TAG_BYTES};
use crate::encode;
use crate::error::{Result, WalError};
use crate::record::{RECORD_HEADER_BYTES, RESERVED_TYPE_START, Record, padding_for, write_padding};
use crate::recovery::SegmentMeta;
use crate::segment::{BLOCK_BYTES, SegmentCtx};

/// Counters exported for benchmarks and metrics.
#[derive(Debug, Default)]
pub struct WalStats {
    pub records_appended: AtomicU64,
    pub flushes: AtomicU64,
    pub bytes_written: AtomicU64,
    pub padding_bytes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub segments_created: AtomicU64,
}

/// Queued, not yet written frames of one segment.
struct Part {
    seg: Arc<SegmentCtx>,
    buf: AlignedBuf,
    last_lsn: u64,
}

pub(crate) struct Queue {
    pub next_lsn: u64,
    /// The segment new records go to.
    current: Arc<SegmentCtx>,
    /// Bytes of `current` already written or queued (including its header block).
    current_bytes: u64,
    parts: VecDeque<Part>,
    pending_bytes: usize,
    pending_records: usize,
    spare: Vec<AlignedBuf>,
    shutdown: bool,
    /// The writer sleeps on `work_cv`; appenders only signal it then (saves a futex wake
    /// per append).
    writer_waiting: bool,
}

#[derive(Default)]
struct SyncSlot {
    job: Option<(FileRef, u64)>,
    busy: bool,
    shutdown: bool,
}

/// What the log was opened with: fixed for its lifetime.
pub(crate) struct LogConfig {
    pub fs: FsRef,
    pub dir: PathBuf,
    pub direct: bool,
    pub keys: Option<KeyRing>,
    pub segment_target_bytes: u64,
    pub max_record_bytes: usize,
    pub max_pending_bytes: usize,
    pub preallocate: bool,
}

pub(crate) struct Shared {
    pub cfg: LogConfig,
    queue: Mutex<Queue>,
    work_cv: Condvar,
    space_cv: Condvar,
    sync: Mutex<SyncSlot>,
    sync_cv: Condvar,
    pub durable_lsn: AtomicU64,
    /// A sync has been handed to the sync thread and has not finished.
    sync_in_flight: AtomicBool,
    /// Moving average of `fdatasync` time, for the writer's linger bound.
    sync_avg_ns: AtomicU64,
    /// Threads blocked in `wait_durable`, with the LSN each waits for. The sync thread wakes
    /// exactly those its fsync covered (no thundering herd of all waiters per fsync).
    waiters: Mutex<Vec<(u64, std::thread::Thread)>>,
    poison: OnceLock<Arc<WalError>>,
    /// Segments on disk, oldest first; the last one is the one being written.
    pub segments: Mutex<Vec<SegmentMeta>>,
    pub stats: WalStats,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (every critical section
    // finishes its updates before anything can panic); keep going rather than cascade.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct SharedInit {
    pub cfg: LogConfig,
    pub next_lsn: u64,
    pub segments: Vec<SegmentMeta>,
    pub active: Arc<SegmentCtx>,
}

impl Shared {
    pub(crate) fn new(init: SharedInit) -> Arc<Shared> {
        let durable = init.next_lsn - 1;
        Arc::new(Shared {
            cfg: init.cfg,
            queue: Mutex::new(Queue {
                next_lsn: init.next_lsn,
                current: init.active,
                current_bytes: BLOCK_BYTES as u64,
                parts: VecDeque::new(),
                pending_bytes: 0,
                pending_records: 0,
                spare: Vec::new(),
                shutdown: false,
                writer_waiting: false,
            }),
            work_cv: Condvar::new(),
            space_cv: Condvar::new(),
            sync: Mutex::new(SyncSlot::default()),
            sync_cv: Condvar::new(),
            durable_lsn: AtomicU64::new(durable),
            sync_in_flight: AtomicBool::new(false),
            sync_avg_ns: AtomicU64::new(100_000),
            waiters: Mutex::new(Vec::new()),
            poison: OnceLock::new(),
            segments: Mutex::new(init.segments),
            stats: WalStats::default(),
        })
    }

    pub(crate) fn poisoned(&self) -> Option<WalError> {
        self.poison.get().map(|e| WalError::Poisoned(e.clone()))
    }

    /// Records the first failure and wakes everybody who might wait for progress.
    fn poison(&self, err: WalError) {
        if self.poison.set(Arc::new(err)).is_ok()
            && let Some(e) = self.poison.get()
        {
            tracing::error!(error = %e, "WAL poisoned: no further writes are accepted");
        }
        drop(lock(&self.queue));
        self.work_cv.notify_all();
        self.space_cv.notify_all();
        drop(lock(&self.sync));
        self.sync_cv.notify_all();
        self.wake_waiters(u64::MAX);
    }

    pub(crate) fn last_assigned(&self) -> u64 {
        lock(&self.queue).next_lsn - 1
    }

    /// Validates, assigns LSNs and queues `records`; returns the first and last LSN.
    pub(crate) fn enqueue(&self, records: &[Record<'_>]) -> Result<(Lsn, Lsn)> {
        for r in records {
            if r.record_type >= RESERVED_TYPE_START {
                return Err(WalError::ReservedRecordType(r.record_type));
            }
            if r.payload.len() > self.cfg.max_record_bytes {
                return Err(WalError::RecordTooLarge {
                    len: r.payload.len(),
                    max: self.cfg.max_record_bytes,
                });
            }
        }
        let mut q = lock(&self.queue);
        while q.pending_bytes >= self.cfg.max_pending_bytes
            && !q.parts.is_empty()
            && self.poison.get().is_none()
        {
            q = self.space_cv.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        if let Some(e) = self.poisoned() {
            return Err(e);
        }
        if q.shutdown {
            return Err(WalError::Closed);
        }
        let first = q.next_lsn;
        if first + records.len() as u64 > Lsn::MAX.0 + 1 {
            return Err(WalError::LsnExhausted);
        }
        // Large encrypted batches are reserved here in LSN order and sealed afterwards by
        // several threads; everything else is sealed frame by frame.
        let parallel = self.cfg.keys.is_some()
            && records.iter().map(|r| r.payload.len()).sum::<usize>()
                >= encode::PARALLEL_SEAL_BYTES;
        let mut deferred: Vec<(usize, usize, usize)> = Vec::new();
        let mut rollover_error = None;
        let tag = if self.cfg.keys.is_some() {
            TAG_BYTES
        } else {
            0
        };
        for r in records {
            let frame_len = (RECORD_HEADER_BYTES + r.payload.len() + tag) as u64;
            if q.current_bytes > BLOCK_BYTES as u64
                && q.current_bytes + frame_len > self.cfg.segment_target_bytes
            {
                let prev_first = q.current.header.first_lsn;
                match SegmentCtx::create(
                    &self.cfg.dir,
                    q.next_lsn,
                    prev_first,
                    q.next_lsn - 1,
                    self.cfg.keys.as_ref(),
                ) {
                    Ok(next) => q.current = next,
                    Err(e) => {
                        rollover_error = Some(e);
                        break;
                    }
                }
                q.current_bytes = BLOCK_BYTES as u64;
            }
            let lsn = q.next_lsn;
            let seg = q.current.clone();
            if q.parts.back().is_none_or(|p| !Arc::ptr_eq(&p.seg, &seg)) {
                let buf = q.spare.pop().unwrap_or_default();
                q.parts.push_back(Part {
                    seg: seg.clone(),
                    buf,
                    last_lsn: lsn,
                });
            }
            let part_index = q.parts.len() - 1;
            if let Some(part) = q.parts.back_mut() {
                let start = part.buf.len();
                let len = encode::reserve(&mut part.buf, &seg, lsn, r);
                if parallel {
                    deferred.push((part_index, start, len));
                } else {
                    encode::seal(&seg, &mut part.buf.as_mut_slice()[start..start + len]);
                }
                part.last_lsn = lsn;
            }
            q.next_lsn += 1;
            q.current_bytes += frame_len;
            q.pending_bytes += frame_len as usize;
            q.pending_records += 1;
        }
        let mut i = 0;
        while i < deferred.len() {
            let part_index = deferred[i].0;
            let end = i + deferred[i..]
                .iter()
                .take_while(|f| f.0 == part_index)
                .count();
            let frames: Vec<(usize, usize)> = deferred[i..end].iter().map(|f| (f.1, f.2)).collect();
            if let Some(part) = q.parts.get_mut(part_index) {
                let seg = part.seg.clone();
                encode::seal_parallel(&seg, part.buf.as_mut_slice(), &frames);
            }
            i = end;
        }
        if let Some(e) = rollover_error {
            // Records before the failed rollover are queued and will be written; the caller
            // learns that the batch did not go in whole.
            let wake = q.writer_waiting;
            drop(q);
            if wake {
                self.work_cv.notify_one();
            }
            return Err(e);
        }
        let last = q.next_lsn - 1;
        let wake = q.writer_waiting;
        drop(q);
        self.stats
            .records_appended
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        if wake {
            self.work_cv.notify_one();
        }
        Ok((Lsn(first), Lsn(last)))
    }

    /// Blocks until `lsn` is durable or the log is poisoned.
    pub(crate) fn wait_durable(&self, lsn: u64) -> Result<()> {
        if self.durable_lsn.load(Ordering::Acquire) >= lsn {
            return Ok(());
        }
        // Register, then re-check: the sync thread publishes the durable LSN before it takes
        // the waiter list, so either it sees this entry or this thread sees the new LSN.
        lock(&self.waiters).push((lsn, std::thread::current()));
        loop {
            if self.durable_lsn.load(Ordering::Acquire) >= lsn {
                return Ok(());
            }
            if let Some(e) = self.poisoned() {
                return Err(e);
            }
            // A stale unpark token only causes one more turn of this loop.
            std::thread::park();
        }
    }

    /// Wakes every waiter whose LSN is at or below `durable` (all of them for `u64::MAX`).
    /// Entries of waiters that returned without being woken are dropped here too.
    fn wake_waiters(&self, durable: u64) {
        let woken: Vec<std::thread::Thread> = {
            let mut waiters = lock(&self.waiters);
            let mut woken = Vec::new();
            waiters.retain(|(lsn, thread)| {
                let covered = *lsn <= durable;
                if covered {
                    woken.push(thread.clone());
                }
                !covered
            });
            woken
        };
        for thread in woken {
            thread.unpark();
        }
    }

    pub(crate) fn begin_shutdown(&self) {
        lock(&self.queue).shutdown = true;
        self.work_cv.notify_all();
        self.space_cv.notify_all();
    }
}

/// The segment file the writer appends to.
pub(crate) struct ActiveFile {
    pub seg: Arc<SegmentCtx>,
    pub file: FileRef,
    /// Next write offset (always a block boundary).
    pub offset: u64,
}

/// Creates a segment file durably: header written to a temporary name, preallocated,
/// synced, renamed into place, and the directory synced. Only with `replace_empty` may it
/// replace an existing file of the same name (an empty last segment found at open).
pub(crate) fn create_segment_file(
    shared: &Shared,
    seg: &Arc<SegmentCtx>,
    replace_empty: bool,
) -> Result<ActiveFile> {
    let path = &seg.path;
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let fs = &shared.cfg.fs;
    let io = |op: &'static str| move |e| WalError::io(op, path.clone(), e);
    if !replace_empty && fs.exists(path).map_err(io("check segment"))? {
        let exists = std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "a segment with this first LSN exists",
        );
        return Err(WalError::io("create segment", path.clone(), exists));
    }
    if fs.exists(&tmp).map_err(io("check temporary segment"))? {
        fs.remove_file(&tmp)
            .map_err(io("remove temporary segment"))?;
    }
    let file = fs
        .open(
            &tmp,
            OpenOptions::create_new().with_direct(shared.cfg.direct),
        )
        .map_err(io("create segment"))?;
    let mut block = AlignedBuf::with_capacity(BLOCK_BYTES);
    block.extend_from_slice(&seg.raw_header);
    block.extend_filled(0, BLOCK_BYTES - seg.raw_header.len());
    file.write_all_at(block.as_slice(), 0)
        .map_err(io("write segment header"))?;
    if shared.cfg.preallocate {
        file.preallocate(shared.cfg.segment_target_bytes.max(BLOCK_BYTES as u64))
            .map_err(io("preallocate segment"))?;
    }
    file.sync_data().map_err(io("sync new segment"))?;
    fs.rename(&tmp, path).map_err(io("rename new segment"))?;
    fs.sync_dir(&shared.cfg.dir)
        .map_err(|e| WalError::io("sync WAL directory", shared.cfg.dir.clone(), e))?;
    shared
        .stats
        .segments_created
        .fetch_add(1, Ordering::Relaxed);
    Ok(ActiveFile {
        seg: seg.clone(),
        file,
        offset: BLOCK_BYTES as u64,
    })
}

/// Above this many queued bytes the writer writes at once, even while a sync runs (large
/// batches overlap their write with the previous sync).
const LINGER_MAX_BYTES: usize = 1 << 20;

/// The writer thread's loop.
pub(crate) fn run_writer(shared: &Shared, mut active: ActiveFile) {
    let mut last_group_records = 1usize;
    while let Some((parts, records)) = take_group(shared, last_group_records) {
        last_group_records = records.max(1);
        shared.space_cv.notify_all();
        if let Err(err) = write_parts(shared, &mut active, parts) {
            shared.poison(err);
            break;
        }
    }
    wait_sync_idle(shared);
    lock(&shared.sync).shutdown = true;
    shared.sync_cv.notify_all();
}

/// Waits for the next group commit's records and takes them; `None` at shutdown or poison.
///
/// The wait adapts to load, with no fixed timer: while a sync is in flight nothing written
/// now could become durable sooner, so records keep accumulating (unless a megabyte is
/// queued); once the sync thread is idle, the writer gives the appenders that the last sync
/// just woke a moment to re-enqueue: until about as many records as the last group are
/// queued, for at most half the recent fsync time. A lone appender never waits (its group
/// size is 1).
fn take_group(shared: &Shared, target_records: usize) -> Option<(VecDeque<Part>, usize)> {
    let stop = |q: &Queue| q.shutdown || shared.poison.get().is_some();
    let mut q = lock(&shared.queue);
    while q.parts.is_empty() && !stop(&q) {
        q.writer_waiting = true;
        q = shared.work_cv.wait(q).unwrap_or_else(|e| e.into_inner());
    }
    while shared.sync_in_flight.load(Ordering::Acquire)
        && q.pending_bytes < LINGER_MAX_BYTES
        && !stop(&q)
    {
        q.writer_waiting = true;
        q = shared.work_cv.wait(q).unwrap_or_else(|e| e.into_inner());
    }
    let linger = std::time::Duration::from_nanos(shared.sync_avg_ns.load(Ordering::Relaxed) / 2)
        .clamp(
            std::time::Duration::from_micros(10),
            std::time::Duration::from_micros(500),
        );
    let deadline = std::time::Instant::now() + linger;
    while q.pending_records < target_records && q.pending_bytes < LINGER_MAX_BYTES && !stop(&q) {
        let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
            break;
        };
        q.writer_waiting = true;
        q = shared
            .work_cv
            .wait_timeout(q, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    q.writer_waiting = false;
    if shared.poison.get().is_some() || (q.parts.is_empty() && q.shutdown) {
        return None;
    }
    let records = q.pending_records;
    q.pending_bytes = 0;
    q.pending_records = 0;
    Some((std::mem::take(&mut q.parts), records))
}

fn write_parts(shared: &Shared, active: &mut ActiveFile, parts: VecDeque<Part>) -> Result<()> {
    for mut part in parts {
        if !Arc::ptr_eq(&part.seg, &active.seg) {
            // Everything of the old segment must be durable before the new one takes records:
            // recovery relies on a sealed segment being complete.
            wait_sync_idle(shared);
            if let Some(e) = shared.poisoned() {
                return Err(e);
            }
            *active = create_segment_file(shared, &part.seg, false)?;
            lock(&shared.segments).push(SegmentMeta {
                path: part.seg.path.clone(),
                ctx: part.seg.clone(),
            });
        }
        let pad = padding_for(part.buf.len(), BLOCK_BYTES);
        let claim = shared.durable_lsn.load(Ordering::Acquire);
        write_padding(&mut part.buf, active.seg.id(), pad, claim);
        active
            .file
            .write_all_at(part.buf.as_slice(), active.offset)
            .map_err(|e| WalError::io("write segment", active.seg.path.clone(), e))?;
        active.offset += part.buf.len() as u64;
        shared.stats.flushes.fetch_add(1, Ordering::Relaxed);
        shared
            .stats
            .bytes_written
            .fetch_add(part.buf.len() as u64, Ordering::Relaxed);
        shared
            .stats
            .padding_bytes
            .fetch_add(pad as u64, Ordering::Relaxed);
        {
            let mut q = lock(&shared.queue);
            if Arc::ptr_eq(&q.current, &part.seg) {
                q.current_bytes += pad as u64;
            }
            part.buf.clear();
            if q.spare.len() < 4 && part.buf.capacity() <= 4 << 20 {
                q.spare.push(std::mem::take(&mut part.buf));
            }
        }
        hand_to_sync(shared, active.file.clone(), part.last_lsn);
    }
    Ok(())
}

/// Waits until the sync thread has nothing queued or running (or the log is poisoned) and
/// returns its slot, still locked.
fn idle_sync_slot(shared: &Shared) -> MutexGuard<'_, SyncSlot> {
    let mut slot = lock(&shared.sync);
    while (slot.job.is_some() || slot.busy) && shared.poison.get().is_none() {
        slot = shared.sync_cv.wait(slot).unwrap_or_else(|e| e.into_inner());
    }
    slot
}

fn wait_sync_idle(shared: &Shared) {
    drop(idle_sync_slot(shared));
}

/// Queues a sync of `file` covering records up to `last_lsn`, once the sync thread is idle
/// (so at most one sync runs while the next batch is being written).
fn hand_to_sync(shared: &Shared, file: FileRef, last_lsn: u64) {
    let mut slot = idle_sync_slot(shared);
    slot.job = Some((file, last_lsn));
    shared.sync_in_flight.store(true, Ordering::Release);
    drop(slot);
    shared.sync_cv.notify_all();
}

/// The sync thread's loop.
pub(crate) fn run_syncer(shared: &Shared) {
    loop {
        let (file, last_lsn) = {
            let mut slot = lock(&shared.sync);
            loop {
                if shared.poison.get().is_some() {
                    return;
                }
                if let Some(job) = slot.job.take() {
                    slot.busy = true;
                    break job;
                }
                if slot.shutdown {
                    return;
                }
                slot = shared.sync_cv.wait(slot).unwrap_or_else(|e| e.into_inner());
            }
        };
        let started = std::time::Instant::now();
        let result = file.sync_data();
        let took_ns = started.elapsed().as_nanos() as u64;
        let avg = shared.sync_avg_ns.load(Ordering::Relaxed);
        shared
            .sync_avg_ns
            .store(avg - avg / 8 + took_ns / 8, Ordering::Relaxed);
        shared.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                shared.durable_lsn.fetch_max(last_lsn, Ordering::AcqRel);
                lock(&shared.sync).busy = false;
                shared.sync_in_flight.store(false, Ordering::Release);
                shared.sync_cv.notify_all();
                if lock(&shared.queue).writer_waiting {
                    shared.work_cv.notify_one();
                }
                shared.wake_waiters(shared.durable_lsn.load(Ordering::Acquire));
            }
            Err(e) => {
                lock(&shared.sync).busy = false;
                shared.poison(WalError::io("fdatasync segment", shared.cfg.dir.clone(), e));
                return;
            }
        }
    }
}
