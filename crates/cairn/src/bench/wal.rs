//! `cairn bench wal`: the WAL against the raw limits of the disk it runs on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_io::{Backend, RealFs, probe_direct_io};
use cairn_wal::{BackendChoice, DirectIo};

use super::cipher::{self, CipherSpeed};
use super::raw::{self, Prefill, Sequential, SyncLoop};
use super::report::{self, load_average, progress};
use super::wal_cells::{self, AppendCell, CellEnv, ReplayCell, WalConfig};
use super::{ScratchDir, TMPFS_MAGIC, fs_magic, fs_name};
use super::{wal_goals, wal_json, wal_report};
use crate::WalBenchArgs;
use crate::error::{CliError, Result};

const MIB: u64 = 1 << 20;
/// Payload sizes of the durable-append matrix.
pub const PAYLOADS_BYTES: [usize; 2] = [100, 4096];
/// Records per `append_batch_durable` call, and their payload size (1 MiB per batch).
pub const BATCH_RECORDS: usize = 256;
pub const BATCH_PAYLOAD_BYTES: usize = 4096;

/// What one run measures, and how much.
#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    /// Duration of each timed measurement.
    pub duration: Duration,
    /// A timed measurement also stops after this much payload (bounds disk use).
    pub max_payload_bytes: u64,
    pub writers: Vec<usize>,
    pub sync_zero_filled_file_bytes: u64,
    pub sync_fallocated_file_bytes: u64,
    pub sequential_bytes: u64,
    pub replay_4k_bytes: u64,
    pub replay_100b_bytes: u64,
    /// The 4 KiB replay logs of the encryption comparison (small with --quick: AES is slow
    /// in debug builds).
    pub replay_encryption_bytes: u64,
    /// Bytes encrypted (and decrypted) by the cipher-alone measurement.
    pub cipher_bytes: u64,
}

impl Plan {
    fn new(args: &WalBenchArgs) -> Result<Plan> {
        let default_secs = if args.quick { 0.3 } else { 2.0 };
        let secs = args.seconds.unwrap_or(default_secs);
        if !(secs.is_finite() && secs > 0.0 && secs <= 3600.0) {
            return Err(CliError::Invalid(format!(
                "--seconds must be a positive number of seconds up to 3600, not {secs}"
            )));
        }
        let duration = Duration::from_secs_f64(secs);
        Ok(if args.quick {
            Plan {
                quick: true,
                duration,
                max_payload_bytes: 256 * MIB,
                writers: vec![1, 64],
                sync_zero_filled_file_bytes: 8 * MIB,
                sync_fallocated_file_bytes: 64 * MIB,
                sequential_bytes: 32 * MIB,
                replay_4k_bytes: 32 * MIB,
                replay_100b_bytes: 4 * MIB,
                replay_encryption_bytes: 2 * MIB,
                cipher_bytes: MIB,
            }
        } else {
            Plan {
                quick: false,
                duration,
                max_payload_bytes: 2048 * MIB,
                writers: vec![1, 4, 16, 64],
                sync_zero_filled_file_bytes: 64 * MIB,
                sync_fallocated_file_bytes: 512 * MIB,
                sequential_bytes: 256 * MIB,
                replay_4k_bytes: 512 * MIB,
                replay_100b_bytes: 256 * MIB,
                replay_encryption_bytes: 512 * MIB,
                cipher_bytes: 256 * MIB,
            }
        })
    }
}

/// The machine and file system the run measured.
#[derive(Debug, Clone)]
pub struct Machine {
    pub dir: PathBuf,
    pub fs_magic: u64,
    pub fs_name: &'static str,
    pub tmpfs: bool,
    pub io_uring: bool,
    pub o_direct: bool,
    pub auto_backend: Backend,
    pub cpus: usize,
    /// `/proc/loadavg` when the run started (other work on the machine skews the figures).
    pub load_average: String,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Results {
    pub plan: Plan,
    pub machine: Machine,
    pub sync_loops: Vec<SyncLoop>,
    pub sequential: Sequential,
    pub durable: Vec<AppendCell>,
    pub batch: Vec<AppendCell>,
    pub buffered: AppendCell,
    pub replay: Vec<ReplayCell>,
    pub backends: Vec<AppendCell>,
    pub direct_io: Vec<AppendCell>,
    /// Section 8: the cipher alone, then each case unencrypted and encrypted, back to back.
    pub cipher: CipherSpeed,
    pub encryption_appends: Vec<AppendCell>,
    pub encryption_replay: Vec<ReplayCell>,
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

/// Runs the benchmark and prints the report (and writes JSON if asked).
pub fn run(args: &WalBenchArgs) -> Result<()> {
    let plan = Plan::new(args)?;
    let (parent, default_parent) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => (default_dir(), true),
    };
    let scratch = ScratchDir::create(parent.join(run_name()))?;
    let results = measure(plan, scratch.path());
    drop(scratch);
    if default_parent && std::fs::remove_dir(&parent).is_err() {
        // Not empty (another run uses it) or already gone: leave it.
    }
    let results = results?;
    let goals = wal_goals::goals(&results);
    wal_goals::print_goals(&goals);
    report::finish(
        results.elapsed,
        results.plan.quick,
        args.json.as_deref(),
        || wal_json::to_json(&results, &goals).render(),
    )
}

fn default_dir() -> PathBuf {
    if Path::new("target").is_dir() {
        PathBuf::from("target").join("cairn-bench")
    } else {
        PathBuf::from("cairn-bench-data")
    }
}

fn run_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("wal-{}-{nanos}", std::process::id())
}

fn probe(dir: &Path) -> Result<Machine> {
    let magic = fs_magic(dir)?;
    let auto_backend = Backend::detect();
    Ok(Machine {
        dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
        fs_magic: magic,
        fs_name: fs_name(magic),
        tmpfs: magic == TMPFS_MAGIC,
        io_uring: auto_backend == Backend::IoUring,
        o_direct: probe_direct_io(&RealFs::new(Backend::Pwrite), dir),
        auto_backend,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average: load_average(),
    })
}

fn measure(plan: Plan, root: &Path) -> Result<Results> {
    let started = Instant::now();
    let machine = probe(root)?;
    wal_report::print_header(&plan, &machine);
    let mut notes = Vec::new();
    if machine.tmpfs {
        notes.push("the directory is on tmpfs: every figure above is meaningless".to_string());
    }
    let env = CellEnv::new(root, plan.duration, plan.max_payload_bytes);
    let batch = |config: WalConfig, threads: usize| {
        progress(&format!("batch durable: {threads} threads, {config:?}"));
        wal_cells::batch(&env, config, threads, BATCH_RECORDS, BATCH_PAYLOAD_BYTES)
    };
    let durable = |config: WalConfig, writers: usize, payload_bytes: usize| {
        progress(&format!(
            "durable: {writers} writers x {payload_bytes} B, {config:?}"
        ));
        wal_cells::durable(&env, config, writers, payload_bytes)
    };
    let replay = |config: WalConfig, payload_bytes: usize, total_bytes: u64| {
        progress(&format!("replay: {payload_bytes} B records, {config:?}"));
        wal_cells::replay(&env, config, payload_bytes, total_bytes)
    };

    // 1. and 2.: the raw limits.
    progress("raw write + fdatasync, raw sequential write and read");
    let direct = machine.o_direct;
    let sync_cases = [
        (Prefill::ZeroFilled, 4096, plan.sync_zero_filled_file_bytes),
        (Prefill::Fallocated, 4096, plan.sync_fallocated_file_bytes),
        (
            Prefill::ZeroFilled,
            1 << 20,
            plan.sync_zero_filled_file_bytes,
        ),
        (
            Prefill::Fallocated,
            1 << 20,
            plan.sync_fallocated_file_bytes,
        ),
    ];
    let mut sync_loops = Vec::new();
    for (prefill, block_bytes, file_bytes) in sync_cases {
        let dur = plan.duration;
        sync_loops.push(raw::sync_loop(
            root,
            prefill,
            direct,
            block_bytes,
            file_bytes,
            dur,
        )?);
    }
    let sequential = raw::sequential(root, direct, plan.sequential_bytes)?;
    wal_report::print_raw(&sync_loops, &sequential);

    // 3. durable appends, 4. batch durable, 5. buffered.
    let base = WalConfig::DEFAULT;
    let mut durable_cells = Vec::new();
    for &payload_bytes in &PAYLOADS_BYTES {
        for &writers in &plan.writers {
            durable_cells.push(durable(base, writers, payload_bytes)?);
        }
    }
    let title = "3. durable appends (append_durable, one record per call)";
    wal_report::print_appends(title, &durable_cells);
    let batch_cells = vec![batch(base, 1)?, batch(base, 2)?];
    let title = "4. batch durable (append_batch_durable, 256 x 4 KiB = 1 MiB per call)";
    wal_report::print_appends(title, &batch_cells);
    progress("buffered appends");
    let buffered = wal_cells::buffered(&env, base, 100)?;
    let title = "5. buffered appends (append, then one sync; latency not sampled)";
    wal_report::print_appends(title, std::slice::from_ref(&buffered));

    // 6. replay and open.
    let replay_cells = vec![
        replay(base, 4096, plan.replay_4k_bytes)?,
        replay(base, 100, plan.replay_100b_bytes)?,
    ];
    wal_report::print_replay("6. replay and open (segments of 64 MiB)", &replay_cells);

    // 7. backends and O_DIRECT.
    let mut backends = Vec::new();
    for backend in [BackendChoice::Pwrite, BackendChoice::IoUring] {
        if backend == BackendChoice::IoUring && !machine.io_uring {
            notes.push("io_uring is not available here (kernel or sandbox): skipped".into());
            continue;
        }
        let config = WalConfig { backend, ..base };
        backends.extend([
            durable(config, 1, 100)?,
            durable(config, 64, 100)?,
            batch(config, 1)?,
        ]);
    }
    let mut direct_io = Vec::new();
    for direct_io_mode in [DirectIo::On, DirectIo::Off] {
        if direct_io_mode == DirectIo::On && !machine.o_direct {
            notes.push("O_DIRECT is not supported in this directory: skipped".into());
            continue;
        }
        let config = WalConfig {
            direct_io: direct_io_mode,
            ..base
        };
        direct_io.extend([durable(config, 1, 100)?, batch(config, 1)?]);
    }
    let section7: Vec<AppendCell> = backends.iter().chain(&direct_io).cloned().collect();
    let title = "7. backends (O_DIRECT auto) and O_DIRECT on/off (backend auto)";
    wal_report::print_appends(title, &section7);

    // 8. encryption: each case unencrypted, then encrypted, back to back.
    let aes = WalConfig {
        encrypted: true,
        ..base
    };
    progress("AES-256-GCM alone");
    let cipher = cipher::aes_256_gcm(4096, plan.cipher_bytes)?;
    let mut encryption_appends = Vec::new();
    for config in [base, aes] {
        encryption_appends.push(durable(config, 64, 4096)?);
    }
    for config in [base, aes] {
        encryption_appends.push(batch(config, 1)?);
    }
    let mut encryption_replay = Vec::new();
    for config in [base, aes] {
        encryption_replay.push(replay(config, 4096, plan.replay_encryption_bytes)?);
    }

    let results = Results {
        plan,
        machine,
        sync_loops,
        sequential,
        durable: durable_cells,
        batch: batch_cells,
        buffered,
        replay: replay_cells,
        backends,
        direct_io,
        cipher,
        encryption_appends,
        encryption_replay,
        notes,
        elapsed: started.elapsed(),
    };
    wal_report::print_encryption(&results);
    wal_report::print_notes(&results.notes);
    Ok(results)
}
