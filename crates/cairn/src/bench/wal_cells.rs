//! One WAL measurement ("cell") each: a fresh WAL in a fresh directory, a timed load, the
//! figures, and the directory deleted again.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn_wal::{BackendChoice, DirectIo, IoPath, KeyRing, Lsn, Record, Wal, WalOptions, WalStats};

use super::{
    Budget, Percentiles, ScratchDir, ThreadTally, cpu_pct, evict_page_cache, mb_per_sec, per_sec,
    process_cpu_time, run_threads,
};
use crate::error::{CliError, Result};

/// The record type every benchmark record uses.
const RECORD_TYPE: u16 = 1;
/// The key of the encrypted cells (a fixed test key; never use it for real data).
const BENCH_KEY: [u8; 32] = [7u8; 32];

/// How a cell's WAL is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalConfig {
    pub backend: BackendChoice,
    pub direct_io: DirectIo,
    pub encrypted: bool,
}

impl WalConfig {
    pub const DEFAULT: WalConfig = WalConfig {
        backend: BackendChoice::Auto,
        direct_io: DirectIo::Auto,
        encrypted: false,
    };

    pub fn options(&self, verify_on_open: bool) -> WalOptions {
        WalOptions {
            backend: self.backend,
            direct_io: self.direct_io,
            key_ring: self.encrypted.then(|| KeyRing::new(1, BENCH_KEY)),
            verify_on_open,
            ..WalOptions::default()
        }
    }
}

/// Where cells put their WALs and how long each runs.
#[derive(Debug)]
pub struct CellEnv<'a> {
    pub root: &'a Path,
    pub duration: Duration,
    pub max_payload_bytes: u64,
    next_id: AtomicU64,
}

impl<'a> CellEnv<'a> {
    pub fn new(root: &'a Path, duration: Duration, max_payload_bytes: u64) -> Self {
        Self {
            root,
            duration,
            max_payload_bytes,
            next_id: AtomicU64::new(0),
        }
    }

    fn fresh_dir(&self, kind: &str) -> Result<ScratchDir> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        ScratchDir::create(self.root.join(format!("{id:03}-{kind}")))
    }

    fn budget(&self) -> Budget {
        Budget::new(self.duration, self.max_payload_bytes)
    }
}

/// The kind of append load of an [`AppendCell`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendKind {
    /// `append_durable`, one record per call.
    Durable,
    /// `append_batch_durable`.
    Batch,
    /// `append` (not durable) from one thread, then one `sync`.
    Buffered,
}

impl AppendKind {
    pub fn key(self) -> &'static str {
        match self {
            AppendKind::Durable => "durable",
            AppendKind::Batch => "batch_durable",
            AppendKind::Buffered => "buffered",
        }
    }
}

/// The figures of one append load.
#[derive(Debug, Clone)]
pub struct AppendCell {
    pub kind: AppendKind,
    pub config: WalConfig,
    pub io_path: IoPath,
    pub threads: usize,
    pub payload_bytes: usize,
    pub records_per_call: usize,
    /// API calls completed (appends or batches).
    pub calls: u64,
    pub records: u64,
    pub payload_total_bytes: u64,
    pub elapsed: Duration,
    pub records_per_sec: f64,
    pub calls_per_sec: f64,
    pub payload_mb_per_sec: f64,
    /// Bytes the WAL wrote (frames and padding) per second.
    pub written_mb_per_sec: f64,
    /// Latency of one call.
    pub latency: Percentiles,
    pub fsyncs: u64,
    pub records_per_fsync: f64,
    /// Buffered cells: the final `sync` (included in `elapsed`).
    pub final_sync: Duration,
    /// CPU time of the whole process during the load, in percent of one core.
    pub cpu_pct: f64,
}

#[derive(Debug, Clone, Copy)]
struct StatsSnapshot {
    records: u64,
    bytes_written: u64,
    fsyncs: u64,
}

impl StatsSnapshot {
    fn of(stats: &WalStats) -> Self {
        Self {
            records: stats.records_appended.load(Ordering::Relaxed),
            bytes_written: stats.bytes_written.load(Ordering::Relaxed),
            fsyncs: stats.fsyncs.load(Ordering::Relaxed),
        }
    }

    fn since(self, before: StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            records: self.records - before.records,
            bytes_written: self.bytes_written - before.bytes_written,
            fsyncs: self.fsyncs - before.fsyncs,
        }
    }
}

fn open(dir: &Path, config: WalConfig, verify_on_open: bool) -> Result<Wal> {
    Wal::open(dir, config.options(verify_on_open)).map_err(CliError::wal("open WAL"))
}

struct Measured {
    cpu: Duration,
    calls: u64,
    payload_total_bytes: u64,
    elapsed: Duration,
    latency: Percentiles,
    final_sync: Duration,
}

/// What a cell runs, independent of its results.
#[derive(Debug, Clone, Copy)]
struct Shape {
    kind: AppendKind,
    config: WalConfig,
    threads: usize,
    payload_bytes: usize,
    records_per_call: usize,
}

fn finish(shape: Shape, wal: Wal, before: StatsSnapshot, m: Measured) -> Result<AppendCell> {
    let delta = StatsSnapshot::of(wal.stats()).since(before);
    let io_path = wal.io_path();
    wal.close().map_err(CliError::wal("close WAL"))?;
    Ok(AppendCell {
        kind: shape.kind,
        config: shape.config,
        io_path,
        threads: shape.threads,
        payload_bytes: shape.payload_bytes,
        records_per_call: shape.records_per_call,
        calls: m.calls,
        records: delta.records,
        payload_total_bytes: m.payload_total_bytes,
        elapsed: m.elapsed,
        records_per_sec: per_sec(delta.records as f64, m.elapsed),
        calls_per_sec: per_sec(m.calls as f64, m.elapsed),
        payload_mb_per_sec: mb_per_sec(m.payload_total_bytes, m.elapsed),
        written_mb_per_sec: mb_per_sec(delta.bytes_written, m.elapsed),
        latency: m.latency,
        fsyncs: delta.fsyncs,
        records_per_fsync: if delta.fsyncs > 0 {
            delta.records as f64 / delta.fsyncs as f64
        } else {
            0.0
        },
        final_sync: m.final_sync,
        cpu_pct: cpu_pct(m.cpu, m.elapsed),
    })
}

/// `writers` threads each calling `append_durable` with `payload_bytes` payloads.
pub fn durable(
    env: &CellEnv<'_>,
    config: WalConfig,
    writers: usize,
    payload_bytes: usize,
) -> Result<AppendCell> {
    batch_or_durable(env, config, AppendKind::Durable, writers, 1, payload_bytes)
}

/// `threads` threads each calling `append_batch_durable` with batches of
/// `records_per_batch` records of `payload_bytes`.
pub fn batch(
    env: &CellEnv<'_>,
    config: WalConfig,
    threads: usize,
    records_per_batch: usize,
    payload_bytes: usize,
) -> Result<AppendCell> {
    let kind = AppendKind::Batch;
    batch_or_durable(env, config, kind, threads, records_per_batch, payload_bytes)
}

fn batch_or_durable(
    env: &CellEnv<'_>,
    config: WalConfig,
    kind: AppendKind,
    threads: usize,
    records_per_call: usize,
    payload_bytes: usize,
) -> Result<AppendCell> {
    let dir = env.fresh_dir(kind.key())?;
    let wal = open(dir.path(), config, true)?;
    let budget = env.budget();
    let before = StatsSnapshot::of(wal.stats());
    let call_bytes = (payload_bytes * records_per_call) as u64;
    let cpu_before = process_cpu_time();
    let load = run_threads(threads, budget.duration, |thread, deadline| {
        let payload = vec![(thread % 251) as u8; payload_bytes];
        let records = vec![Record::new(RECORD_TYPE, &payload); records_per_call];
        let mut tally = ThreadTally {
            latencies_ns: Vec::with_capacity(1 << 14),
            ..ThreadTally::default()
        };
        loop {
            let started = Instant::now();
            if started >= deadline {
                break;
            }
            if kind == AppendKind::Batch {
                wal.append_batch_durable(&records)
                    .map_err(CliError::wal("append_batch_durable"))?;
            } else {
                wal.append_durable(records[0])
                    .map_err(CliError::wal("append_durable"))?;
            }
            tally.record(started, call_bytes);
            if !budget.spend(call_bytes) {
                break;
            }
        }
        Ok(tally)
    })?;
    let measured = Measured {
        cpu: process_cpu_time().saturating_sub(cpu_before),
        calls: load.ops,
        payload_total_bytes: load.payload_bytes,
        elapsed: load.elapsed,
        latency: load.latency,
        final_sync: Duration::ZERO,
    };
    let shape = Shape {
        kind,
        config,
        threads,
        payload_bytes,
        records_per_call,
    };
    let cell = finish(shape, wal, before, measured)?;
    drop(dir);
    Ok(cell)
}

/// One thread calling `append` (not durable) with `payload_bytes` payloads for the duration,
/// then `sync` once; the rate includes the final sync.
pub fn buffered(env: &CellEnv<'_>, config: WalConfig, payload_bytes: usize) -> Result<AppendCell> {
    let kind = AppendKind::Buffered;
    let dir = env.fresh_dir(kind.key())?;
    let wal = open(dir.path(), config, true)?;
    let budget = env.budget();
    let before = StatsSnapshot::of(wal.stats());
    let payload = vec![0x42u8; payload_bytes];
    let record = Record::new(RECORD_TYPE, &payload);
    let cpu_before = process_cpu_time();
    let start = Instant::now();
    let deadline = start + budget.duration;
    let mut calls = 0u64;
    loop {
        // Check the clock every 64 appends only: an append takes well under a microsecond.
        for _ in 0..64 {
            wal.append(record).map_err(CliError::wal("append"))?;
        }
        calls += 64;
        if !budget.spend(64 * payload_bytes as u64) || Instant::now() >= deadline {
            break;
        }
    }
    let sync_start = Instant::now();
    wal.sync().map_err(CliError::wal("sync"))?;
    let final_sync = sync_start.elapsed();
    let elapsed = start.elapsed();
    let measured = Measured {
        cpu: process_cpu_time().saturating_sub(cpu_before),
        calls,
        payload_total_bytes: calls * payload_bytes as u64,
        elapsed,
        latency: Percentiles::default(),
        final_sync,
    };
    let shape = Shape {
        kind,
        config,
        threads: 1,
        payload_bytes,
        records_per_call: 1,
    };
    let cell = finish(shape, wal, before, measured)?;
    drop(dir);
    Ok(cell)
}

/// One full read of the log.
#[derive(Debug, Clone, Copy)]
pub struct ReplayPass {
    pub elapsed: Duration,
    pub payload_mb_per_sec: f64,
    pub records_per_sec: f64,
}

/// Replay and open figures of a log filled with `payload_total_bytes` of records.
#[derive(Debug, Clone)]
pub struct ReplayCell {
    pub config: WalConfig,
    pub payload_bytes: usize,
    pub records: u64,
    pub payload_total_bytes: u64,
    /// Bytes of frames and padding in the segments.
    pub log_bytes: u64,
    pub segments: usize,
    /// Filling the log with `append_batch` of about 1 MiB, then `close`.
    pub fill_elapsed: Duration,
    /// `Wal::open` with `verify_on_open: false`, page cache evicted.
    pub open_fast: Duration,
    /// First replay, page cache evicted (reads come from the disk).
    pub cold: ReplayPass,
    /// Second replay of the same log (page cache warm).
    pub warm: ReplayPass,
    /// `Wal::open` with `verify_on_open: true`, page cache evicted.
    pub open_verify: Duration,
    pub open_verify_records_scanned: u64,
}

fn replay_pass(wal: &Wal, records: u64, payload_total_bytes: u64) -> Result<ReplayPass> {
    let start = Instant::now();
    let mut count = 0u64;
    let mut bytes = 0u64;
    let mut check = 0u64;
    for record in wal.replay(Lsn(1)).map_err(CliError::wal("start replay"))? {
        let record = record.map_err(CliError::wal("replay"))?;
        count += 1;
        bytes += record.payload.len() as u64;
        check = check
            .wrapping_add(record.lsn.0 ^ u64::from(record.payload.last().copied().unwrap_or(0)));
    }
    let elapsed = start.elapsed();
    std::hint::black_box(check);
    if count != records || bytes != payload_total_bytes {
        return Err(CliError::Invalid(format!(
            "replay returned {count} records / {bytes} bytes, expected {records} / \
             {payload_total_bytes}"
        )));
    }
    Ok(ReplayPass {
        elapsed,
        payload_mb_per_sec: mb_per_sec(bytes, elapsed),
        records_per_sec: per_sec(count as f64, elapsed),
    })
}

/// Fills a log with `payload_total_bytes` of `payload_bytes` records, then measures open and
/// replay from the start.
pub fn replay(
    env: &CellEnv<'_>,
    config: WalConfig,
    payload_bytes: usize,
    payload_total_bytes: u64,
) -> Result<ReplayCell> {
    let dir = env.fresh_dir("replay")?;
    let records_per_batch = ((1usize << 20) / payload_bytes).max(1);
    let batch_bytes = (records_per_batch * payload_bytes) as u64;
    let batches = payload_total_bytes.div_ceil(batch_bytes).max(1);
    let payload = vec![0x3Cu8; payload_bytes];
    let batch = vec![Record::new(RECORD_TYPE, &payload); records_per_batch];

    let start = Instant::now();
    let wal = open(dir.path(), config, false)?;
    for _ in 0..batches {
        wal.append_batch(&batch)
            .map_err(CliError::wal("append_batch"))?;
    }
    wal.sync().map_err(CliError::wal("sync"))?;
    let log_bytes = wal.stats().bytes_written.load(Ordering::Relaxed);
    wal.close().map_err(CliError::wal("close WAL"))?;
    let fill_elapsed = start.elapsed();
    let records = batches * records_per_batch as u64;
    let payload_total_bytes = batches * batch_bytes;

    evict_page_cache(dir.path())?;
    let start = Instant::now();
    let wal = open(dir.path(), config, false)?;
    let open_fast = start.elapsed();
    let segments = wal.recovery_report().segments;
    evict_page_cache(dir.path())?;
    let cold = replay_pass(&wal, records, payload_total_bytes)?;
    let warm = replay_pass(&wal, records, payload_total_bytes)?;
    wal.close().map_err(CliError::wal("close WAL"))?;

    evict_page_cache(dir.path())?;
    let start = Instant::now();
    let wal = open(dir.path(), config, true)?;
    let open_verify = start.elapsed();
    let open_verify_records_scanned = wal.recovery_report().records_scanned;
    wal.close().map_err(CliError::wal("close WAL"))?;
    drop(dir);
    Ok(ReplayCell {
        config,
        payload_bytes,
        records,
        payload_total_bytes,
        log_bytes,
        segments,
        fill_elapsed,
        open_fast,
        cold,
        warm,
        open_verify,
        open_verify_records_scanned,
    })
}
