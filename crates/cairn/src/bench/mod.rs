//! Benchmarks (`cairn bench wal`, `cairn bench codec`, `cairn bench ingest`) and what they
//! share: scratch directories, file-system checks, timed multi-threaded loads and latency
//! percentiles.

pub mod codec;
pub mod dns;
pub mod ingest;
pub mod wal;

mod cipher;
mod codec_columns;
mod codec_dns;
mod codec_forced;
mod codec_partition;
mod codec_report;
mod datasets;
mod dns_json;
mod dns_peers;
mod dns_report;
mod ingest_csv;
mod ingest_phase;
mod ingest_report;
mod ingest_spill;
mod raw;
pub(crate) mod report;
mod wal_cells;
mod wal_goals;
mod wal_json;
mod wal_report;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{CliError, Result};

/// A directory that is removed (with everything in it) when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `path`, which must not exist yet.
    pub fn create(path: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
            .map_err(CliError::io("create benchmark directory", &path))?;
        std::fs::create_dir(&path).map_err(CliError::io("create benchmark directory", &path))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!(
                "warning: could not remove {}: {e}; delete it by hand",
                self.path.display()
            );
        }
    }
}

/// `f_type` of tmpfs in `statfs`.
pub const TMPFS_MAGIC: u64 = 0x0102_1994;

/// The file-system type of `path` (`statfs` `f_type`).
pub fn fs_magic(path: &Path) -> Result<u64> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| CliError::Invalid(format!("path {} contains a NUL byte", path.display())))?;
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: c_path is a valid NUL-terminated string and stat points to writable memory of
    // the right type; statfs fills it on success.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(CliError::Io {
            context: "statfs",
            path: path.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: statfs returned 0, so the struct is initialised.
    let stat = unsafe { stat.assume_init() };
    // f_type is a signed word on some targets; the magic numbers are 32-bit patterns.
    Ok(stat.f_type as u64 & 0xffff_ffff)
}

/// A human name for a `statfs` magic number.
pub fn fs_name(magic: u64) -> &'static str {
    match magic {
        0xEF53 => "ext2/3/4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        TMPFS_MAGIC => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x6969 => "nfs",
        0x2FC1_2FC1 => "zfs",
        0xF2F5_2010 => "f2fs",
        0x6573_5546 => "fuse",
        _ => "unknown",
    }
}

/// Drops the clean page-cache pages of every file directly in `dir`, so that the next read
/// comes from the disk (`posix_fadvise(DONTNEED)`; needs no privileges).
pub fn evict_page_cache(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(CliError::io("list directory", dir))? {
        let path = entry.map_err(CliError::io("list directory", dir))?.path();
        if !path.is_file() {
            continue;
        }
        let file = std::fs::File::open(&path).map_err(CliError::io("open for eviction", &path))?;
        // SAFETY: plain system call on a descriptor we own for the duration of the call.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if rc != 0 {
            return Err(CliError::Io {
                context: "posix_fadvise(DONTNEED)",
                path,
                source: std::io::Error::from_raw_os_error(rc),
            });
        }
    }
    Ok(())
}

/// CPU time (user + system) this process has used so far, all threads together.
pub fn process_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time (user + system) the calling thread has used so far.
pub fn thread_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; clock_gettime fills it.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time used during `elapsed` as a percentage of one core (200 = two cores busy).
pub fn cpu_pct(cpu: Duration, elapsed: Duration) -> f64 {
    per_sec(cpu.as_secs_f64(), elapsed) * 100.0
}

/// When a timed load stops: after `duration`, or once `max_payload_bytes` were done.
#[derive(Debug)]
pub struct Budget {
    pub duration: Duration,
    pub max_payload_bytes: u64,
    done_payload_bytes: AtomicU64,
}

impl Budget {
    pub fn new(duration: Duration, max_payload_bytes: u64) -> Self {
        Self {
            duration,
            max_payload_bytes,
            done_payload_bytes: AtomicU64::new(0),
        }
    }

    /// Counts `payload_bytes` done; true while the byte budget is not used up.
    pub fn spend(&self, payload_bytes: u64) -> bool {
        let before = self
            .done_payload_bytes
            .fetch_add(payload_bytes, Ordering::Relaxed);
        before + payload_bytes < self.max_payload_bytes
    }
}

/// What one thread of a timed load did.
#[derive(Debug, Default)]
pub struct ThreadTally {
    pub ops: u64,
    pub payload_bytes: u64,
    /// Latency of each operation in nanoseconds (saturating at `u32::MAX`).
    pub latencies_ns: Vec<u32>,
}

impl ThreadTally {
    pub fn record(&mut self, started: Instant, payload_bytes: u64) {
        let ns = started.elapsed().as_nanos();
        self.latencies_ns
            .push(u32::try_from(ns).unwrap_or(u32::MAX));
        self.ops += 1;
        self.payload_bytes += payload_bytes;
    }
}

/// What all threads of a timed load did together.
#[derive(Debug)]
pub struct LoadResult {
    pub ops: u64,
    pub payload_bytes: u64,
    pub elapsed: Duration,
    pub latency: Percentiles,
}

/// Runs `body(thread_index, deadline)` on `threads` threads that start together; the
/// elapsed time runs from the common start until the last thread returns.
pub fn run_threads<F>(threads: usize, duration: Duration, body: F) -> Result<LoadResult>
where
    F: Fn(usize, Instant) -> Result<ThreadTally> + Sync,
{
    let barrier = Barrier::new(threads + 1);
    let (tallies, elapsed) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let barrier = &barrier;
                let body = &body;
                scope.spawn(move || {
                    barrier.wait();
                    body(i, Instant::now() + duration)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let tallies: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (tallies, start.elapsed())
    });
    let mut ops = 0;
    let mut payload_bytes = 0;
    let mut latencies_ns = Vec::new();
    for tally in tallies {
        let tally = tally.map_err(|_| CliError::ThreadPanicked)??;
        ops += tally.ops;
        payload_bytes += tally.payload_bytes;
        latencies_ns.extend_from_slice(&tally.latencies_ns);
    }
    Ok(LoadResult {
        ops,
        payload_bytes,
        elapsed,
        latency: Percentiles::from_ns(latencies_ns),
    })
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Percentiles {
    pub fn from_ns(mut latencies_ns: Vec<u32>) -> Self {
        if latencies_ns.is_empty() {
            return Self::default();
        }
        latencies_ns.sort_unstable();
        let at = |q: f64| {
            let rank = ((latencies_ns.len() as f64 * q).ceil() as usize).max(1);
            f64::from(latencies_ns[rank.min(latencies_ns.len()) - 1]) / 1_000.0
        };
        Self {
            p50_us: at(0.50),
            p99_us: at(0.99),
            max_us: at(1.0),
        }
    }
}

/// `count / seconds`, 0 for an empty interval.
pub fn per_sec(count: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count / secs } else { 0.0 }
}

/// Megabytes (10^6 bytes) per second.
pub fn mb_per_sec(bytes: u64, elapsed: Duration) -> f64 {
    per_sec(bytes as f64, elapsed) / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_nearest_rank() {
        let p = Percentiles::from_ns((1..=100).map(|i| i * 1_000).collect());
        assert_eq!(p.p50_us, 50.0);
        assert_eq!(p.p99_us, 99.0);
        assert_eq!(p.max_us, 100.0);
        assert_eq!(Percentiles::from_ns(Vec::new()), Percentiles::default());
    }

    #[test]
    fn budget_stops_at_the_byte_cap() {
        let b = Budget::new(Duration::from_secs(1), 10);
        assert!(b.spend(4));
        assert!(b.spend(4));
        assert!(!b.spend(4));
    }
}
