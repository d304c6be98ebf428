//! The measurements of `cairn bench ingest`. Each runs in a child process of its own
//! (`cairn bench ingest --phase NAME ...`, started by `ingest.rs`), so that its peak RSS
//! (`VmHWM`) is its own. A child prints its figures on stdout as `figure <key> <value>` lines.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn_engine::{CollectionOptions, Db, DbOptions, EngineError, Precision, ScanRequest};

use super::ingest_csv::{BATCH_ROWS, BatchReader, COLLECTION, dns_columns};
use super::process_cpu_time;
use crate::IngestBenchArgs;
use crate::error::{CliError, Result};

/// The column of the one-column scan.
pub const ONE_COLUMN: &str = "qtype";
/// Rows per write of the recovery phase's log (fewer, larger records: the log fills fast).
const RECOVERY_WRITE_ROWS: usize = 100_000;

/// Turns an engine error into the tool's error.
pub fn engine(context: &'static str) -> impl FnOnce(EngineError) -> CliError {
    move |e| CliError::Invalid(format!("{context}: {e}"))
}

/// Prints one figure for the parent.
fn emit(key: &str, value: f64) {
    println!("figure {key} {value}");
}

fn emit_secs(key: &str, d: Duration) {
    emit(key, d.as_secs_f64());
}

/// Runs the phase `args.phase` names.
pub fn run(args: &IngestBenchArgs, phase: &str) -> Result<()> {
    let db_dir = args
        .db_dir
        .as_deref()
        .ok_or_else(|| CliError::Invalid("--phase needs --db-dir".into()))?;
    let input = || {
        args.input
            .as_deref()
            .ok_or_else(|| CliError::Invalid(format!("--phase {phase} needs --input")))
    };
    let rows = args.data.rows.unwrap_or(usize::MAX);
    let cpu = process_cpu_time();
    let started = Instant::now();
    match phase {
        "lp" => lp(db_dir, input()?, rows)?,
        "csv" => csv_only(input()?, rows)?,
        "arrow" => arrow(db_dir, input()?, rows, args.threads.max(1))?,
        "scan" => scan(db_dir)?,
        "recovery-write" => recovery_write(db_dir, input()?, rows, args.wal_bytes)?,
        "recovery-open" => recovery_open(db_dir, args.budget_mib)?,
        other => return Err(CliError::Invalid(format!("unknown phase {other:?}"))),
    }
    emit_secs("phase_secs", started.elapsed());
    emit_secs("cpu_secs", process_cpu_time().saturating_sub(cpu));
    let (hwm, rss) = memory_status();
    emit("peak_rss_bytes", hwm as f64);
    emit("rss_bytes", rss as f64);
    Ok(())
}

/// `VmHWM` and `VmRSS` of this process in bytes (0 where /proc is missing).
fn memory_status() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// (allocated bytes, file lengths) of everything under `dir`, and of its `wal` subtree.
pub fn disk_usage(dir: &Path) -> Result<((u64, u64), (u64, u64))> {
    let mut total = (0, 0);
    let mut wal = (0, 0);
    let mut stack = vec![(dir.to_path_buf(), false)];
    while let Some((d, in_wal)) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(CliError::io("list directory", &d))? {
            let entry = entry.map_err(CliError::io("list directory", &d))?;
            let meta = entry
                .metadata()
                .map_err(CliError::io("stat", &entry.path()))?;
            if meta.is_dir() {
                stack.push((entry.path(), in_wal || entry.file_name() == "wal"));
                continue;
            }
            let sizes = (
                std::os::unix::fs::MetadataExt::blocks(&meta) * 512,
                meta.len(),
            );
            total = (total.0 + sizes.0, total.1 + sizes.1);
            if in_wal {
                wal = (wal.0 + sizes.0, wal.1 + sizes.1);
            }
        }
    }
    Ok((total, wal))
}

fn create(db_dir: &Path, opts: DbOptions, coll: Option<CollectionOptions>) -> Result<Db> {
    let db = Db::open(db_dir, opts).map_err(engine("open the database"))?;
    db.create_collection(COLLECTION, dns_columns(), coll)
        .map_err(engine("create the collection"))?;
    Ok(db)
}

/// Counters every ingest phase reports after its writes and checkpoint.
fn emit_after_ingest(db: Db, db_dir: &Path, rows: u64, writes: Duration) -> Result<()> {
    let wal = db.wal().stats();
    emit("wal_fsyncs", wal.fsyncs.load(Ordering::Relaxed) as f64);
    emit(
        "wal_bytes_written",
        wal.bytes_written.load(Ordering::Relaxed) as f64,
    );
    emit("peak_rss_writes_bytes", memory_status().0 as f64);
    let before = db.collection_stats(COLLECTION).map_err(engine("stats"))?;
    emit("files_before_checkpoint", before.files as f64);
    let t = Instant::now();
    let flushed = db.checkpoint().map_err(engine("checkpoint"))?;
    emit_secs("checkpoint_secs", t.elapsed());
    emit("checkpoint_rows_flushed", flushed.rows_flushed as f64);
    let after = db.collection_stats(COLLECTION).map_err(engine("stats"))?;
    if after.file_rows != rows || after.memtable_rows != 0 {
        return Err(CliError::Invalid(format!(
            "after the checkpoint the files hold {} rows and memory {} (expected {rows} and 0)",
            after.file_rows, after.memtable_rows
        )));
    }
    emit("rows", rows as f64);
    emit_secs("write_secs", writes);
    emit("files", after.files as f64);
    emit("file_bytes", after.file_bytes as f64);
    let ((all, all_len), (wal, wal_len)) = disk_usage(db_dir)?;
    emit("disk_bytes", all as f64);
    emit("disk_len_bytes", all_len as f64);
    emit("disk_wal_bytes", wal as f64);
    emit("disk_wal_len_bytes", wal_len as f64);
    db.close().map_err(engine("close"))
}

/// Phase 1, line protocol: batches of `BATCH_ROWS` lines from one thread, durable, then a
/// checkpoint.
fn lp(db_dir: &Path, input: &Path, rows: usize) -> Result<()> {
    let db = create(db_dir, DbOptions::default(), None)?;
    let file = std::fs::File::open(input).map_err(CliError::io("open LP file", input))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut text = String::with_capacity(2 << 20);
    let (mut written, mut read) = (0u64, 0usize);
    let mut reading = Duration::ZERO;
    let started = Instant::now();
    while read < rows {
        text.clear();
        let t = Instant::now();
        let mut lines = 0;
        while lines < BATCH_ROWS && read < rows {
            let n = reader
                .read_line(&mut text)
                .map_err(CliError::io("read LP file", input))?;
            if n == 0 {
                break;
            }
            lines += 1;
            read += 1;
        }
        reading += t.elapsed();
        if lines == 0 {
            break;
        }
        let report = db
            .write_lines(&text, Precision::Nanoseconds)
            .map_err(engine("write_lines"))?;
        if let Some(e) = report.errors.first() {
            return Err(CliError::Invalid(format!(
                "{}: {} bad lines, the first: {e:?}",
                input.display(),
                report.errors.len()
            )));
        }
        written += report.rows_written;
    }
    let writes = started.elapsed();
    emit_secs("read_file_secs", reading);
    emit_after_ingest(db, db_dir, written, writes)
}

/// The CSV parsed into batches and dropped: the ceiling of the Arrow figures.
fn csv_only(input: &Path, rows: usize) -> Result<()> {
    let started = Instant::now();
    let reader = BatchReader::spawn(input, rows, BATCH_ROWS, false)?;
    let mut n = 0u64;
    while let Some(b) = reader.next() {
        n += b.num_rows() as u64;
    }
    reader.join()?;
    emit_secs("write_secs", started.elapsed());
    emit("rows", n as f64);
    Ok(())
}

/// Phase 2, Arrow: batches parsed from the CSV by a reader thread, written by `threads`
/// writers.
fn arrow(db_dir: &Path, input: &Path, rows: usize, threads: usize) -> Result<()> {
    let db = create(db_dir, DbOptions::default(), None)?;
    let written = AtomicU64::new(0);
    let started = Instant::now();
    let reader = BatchReader::spawn(input, rows, BATCH_ROWS, false)?;
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    while let Some(b) = reader.next() {
                        let n = db.write(COLLECTION, &b).map_err(engine("write"))?;
                        written.fetch_add(n, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| CliError::ThreadPanicked)?)
            .collect()
    });
    let writes = started.elapsed();
    reader.join()?;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    emit_after_ingest(db, db_dir, written.load(Ordering::Relaxed), writes)
}

/// Phase 3, scans of the line-protocol data (after its checkpoint): every column, then one.
/// Three passes each; the first warms the page cache, the best of the other two counts.
fn scan(db_dir: &Path) -> Result<()> {
    let opts = DbOptions {
        background: false,
        ..DbOptions::default()
    };
    let db = Db::open(db_dir, opts).map_err(engine("open the database"))?;
    let one = ScanRequest {
        projection: Some(vec![ONE_COLUMN.to_string()]),
        ..ScanRequest::default()
    };
    for (key, req) in [("full", ScanRequest::default()), ("one", one)] {
        let mut best = Duration::MAX;
        let mut rows = 0;
        for pass in 0..3 {
            let t = Instant::now();
            rows = 0;
            for b in db.scan_iter(COLLECTION, &req).map_err(engine("scan"))? {
                rows += b.map_err(engine("scan"))?.num_rows() as u64;
            }
            if pass > 0 {
                best = best.min(t.elapsed());
            }
        }
        emit(&format!("{key}_rows"), rows as f64);
        emit_secs(&format!("{key}_secs"), best);
    }
    drop(db);
    Ok(())
}

/// Phase 4a, a log of at least `wal_bytes` that nothing flushes (budget and memtable limits
/// out of reach, no background thread), then the database dropped without `close`: a crash.
fn recovery_write(db_dir: &Path, input: &Path, rows: usize, wal_bytes: u64) -> Result<()> {
    let opts = DbOptions {
        background: false,
        memory_budget_bytes: usize::MAX / 4,
        ..DbOptions::default()
    };
    let coll = CollectionOptions {
        memtable_max_bytes: u64::MAX / 4,
        memtable_max_age_ms: u64::MAX / 4,
        ..CollectionOptions::default()
    };
    let db = create(db_dir, opts, Some(coll))?;
    let reader = BatchReader::spawn(input, rows, RECOVERY_WRITE_ROWS, true)?;
    let started = Instant::now();
    let mut written = 0u64;
    while db.wal().stats().bytes_written.load(Ordering::Relaxed) < wal_bytes {
        let Some(batch) = reader.next() else { break };
        written += db.write(COLLECTION, &batch).map_err(engine("write"))?;
    }
    emit_secs("write_secs", started.elapsed());
    reader.join()?;
    let stats = db.collection_stats(COLLECTION).map_err(engine("stats"))?;
    emit("files", stats.files as f64);
    emit("rows", written as f64);
    emit("memory_used_bytes", db.memory_used() as f64);
    let wal = db.wal().stats();
    emit(
        "wal_bytes_written",
        wal.bytes_written.load(Ordering::Relaxed) as f64,
    );
    emit(
        "wal_padding_bytes",
        wal.padding_bytes.load(Ordering::Relaxed) as f64,
    );
    emit("wal_fsyncs", wal.fsyncs.load(Ordering::Relaxed) as f64);
    drop(db);
    let (_, (wal_disk, wal_len)) = disk_usage(db_dir)?;
    emit("wal_disk_bytes", wal_disk as f64);
    emit("wal_len_bytes", wal_len as f64);
    Ok(())
}

/// Phase 4b, `Db::open` of the crashed database = replay, with a memory budget of `budget_mib`
/// (0: out of reach, so nothing is flushed and every row stays in memory). Dropped without
/// `close` afterwards, so the log is left as it was (unless the budget made replay flush).
fn recovery_open(db_dir: &Path, budget_mib: u64) -> Result<()> {
    let opts = DbOptions {
        background: false,
        memory_budget_bytes: if budget_mib == 0 {
            usize::MAX / 4
        } else {
            (budget_mib << 20) as usize
        },
        ..DbOptions::default()
    };
    let t = Instant::now();
    let db = Db::open(db_dir, opts).map_err(engine("open (replay)"))?;
    emit_secs("open_secs", t.elapsed());
    let s = db.collection_stats(COLLECTION).map_err(engine("stats"))?;
    emit("rows", (s.memtable_rows + s.file_rows) as f64);
    emit("files", s.files as f64);
    emit("memory_used_bytes", db.memory_used() as f64);
    drop(db);
    Ok(())
}

/// The arguments a child needs for `phase`.
pub fn child_args(
    phase: &str,
    db_dir: &Path,
    input: Option<&Path>,
    rows: usize,
) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = vec![
        "bench".into(),
        "ingest".into(),
        "--phase".into(),
        phase.into(),
        "--rows".into(),
        rows.to_string().into(),
        "--db-dir".into(),
        db_dir.into(),
    ];
    if let Some(p) = input {
        v.push("--input".into());
        v.push(PathBuf::from(p).into());
    }
    v
}
