//! `cairn bench ingest`: the embedded engine on the DNS data set. Line-protocol and Arrow
//! ingest (durable, then a checkpoint), warm scans, and recovery of a crashed database, each
//! measured in a child process of its own so that its peak RSS is its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::codec_dns::DnsSource;
use super::ingest_csv::{self, Inputs};
use super::ingest_phase;
use super::ingest_report;
use super::ingest_spill;
use super::report::{self, progress};
use super::{ScratchDir, evict_page_cache};
use crate::IngestBenchArgs;
use crate::error::{CliError, Result};

pub const DEFAULT_ROWS: usize = 10_000_000;
pub const QUICK_ROWS: usize = 100_000;
const MAX_ROWS: usize = 50_000_000;
/// Bytes of log the recovery phase writes before the crash.
const RECOVERY_WAL_BYTES: u64 = 1 << 30;
const QUICK_RECOVERY_WAL_BYTES: u64 = 16 << 20;
/// The memory budget of the bounded recovery: `DbOptions::default()`'s.
pub const RECOVERY_BUDGET_MIB: u64 = 64;

/// The figures one child printed (`figure <key> <value>` lines).
#[derive(Debug, Clone, Default)]
pub struct Figures(pub BTreeMap<String, f64>);

impl Figures {
    /// The figure `key`, NaN if the child did not print it.
    pub fn get(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(f64::NAN)
    }

    fn parse(stdout: &str) -> Figures {
        let mut map = BTreeMap::new();
        for line in stdout.lines() {
            let mut words = line.split_whitespace();
            if let (Some("figure"), Some(key), Some(value)) =
                (words.next(), words.next(), words.next())
                && let Ok(v) = value.parse()
            {
                map.insert(key.to_string(), v);
            }
        }
        Figures(map)
    }

    /// Rows per second over the writes only.
    pub fn write_rate(&self) -> f64 {
        self.get("rows") / self.get("write_secs")
    }

    /// Rows per second over the writes and the checkpoint after them.
    pub fn ingest_rate(&self) -> f64 {
        self.get("rows") / (self.get("write_secs") + self.get("checkpoint_secs"))
    }
}

/// Where the Arrow cases' batches come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrowSource {
    /// Parsed before timing into a spill file, decoded by the reader thread (`ingest_spill`).
    PreParsed,
    /// Parsed from the CSV by the reader thread while the writers write.
    Csv,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Results {
    pub rows: usize,
    pub quick: bool,
    pub inputs: Inputs,
    pub lp: Figures,
    pub csv: Figures,
    /// (source, writer threads, figures) of each Arrow case.
    pub arrow: Vec<(ArrowSource, usize, Figures)>,
    pub scan: Figures,
    pub wal: Figures,
    /// (label, figures) of each replay.
    pub recovery: Vec<(&'static str, Figures)>,
    pub elapsed: std::time::Duration,
}

/// Runs the benchmark (or, with the hidden `--phase`, one measurement as a child).
pub fn run(args: &IngestBenchArgs) -> Result<()> {
    if let Some(phase) = &args.phase {
        return ingest_phase::run(args, phase);
    }
    let started = Instant::now();
    let rows = args
        .data
        .rows
        .unwrap_or(if args.quick { QUICK_ROWS } else { DEFAULT_ROWS });
    if rows == 0 || rows > MAX_ROWS {
        return Err(CliError::Invalid(format!(
            "--rows must be between 1 and {MAX_ROWS}, not {rows}"
        )));
    }
    let dir = args
        .data
        .dir
        .clone()
        .unwrap_or_else(super::codec::default_dir);
    let source = match &args.data.dns_csv {
        Some(path) => DnsSource::Csv(path.clone()),
        None => DnsSource::Cached {
            data_dir: dir.join("data"),
        },
    };
    let scratch = ScratchDir::create(dir.join(run_name()))?;
    let inputs = ingest_csv::prepare_inputs(&source, rows, scratch.path())?;
    ingest_report::print_header(rows, args.quick, &inputs, scratch.path());
    let mut r = Results {
        rows,
        quick: args.quick,
        inputs,
        lp: Figures::default(),
        csv: Figures::default(),
        arrow: Vec::new(),
        scan: Figures::default(),
        wal: Figures::default(),
        recovery: Vec::new(),
        elapsed: std::time::Duration::ZERO,
    };
    measure(&mut r, scratch.path(), args.quick)?;
    drop(scratch);
    r.elapsed = started.elapsed();
    let goals = ingest_report::goals(&r);
    super::wal_goals::print_goals(&goals);
    report::finish(r.elapsed, r.quick, args.data.json.as_deref(), || {
        ingest_report::to_json(&r, &goals).render()
    })
}

/// Runs every phase, printing each section as soon as it is measured.
fn measure(r: &mut Results, scratch: &Path, quick: bool) -> Result<()> {
    let (csv, lp) = (r.inputs.csv.clone(), r.inputs.lp.clone());
    let lp_db = scratch.join("lp");
    progress("line protocol ingest");
    r.lp = child("lp", &lp_db, Some(&lp), r.rows, &[])?;
    progress("scans");
    r.scan = child("scan", &lp_db, None, r.rows, &[])?;
    remove(&lp_db)?;
    progress("CSV parsing alone");
    r.csv = child("csv", &scratch.join("csv"), Some(&csv), r.rows, &[])?;
    progress("parsing the CSV into a spill file of batches");
    let spill = scratch.join(format!("dns.{}", ingest_spill::SPILL_EXT));
    ingest_spill::write(&csv, r.rows, &spill)?;
    for (source, threads) in [
        (ArrowSource::PreParsed, 1),
        (ArrowSource::PreParsed, 2),
        (ArrowSource::Csv, 1),
        (ArrowSource::Csv, 2),
    ] {
        progress(&format!("Arrow ingest, {source:?}, {threads} writers"));
        let db = scratch.join(format!("arrow-{threads}"));
        let input = match source {
            ArrowSource::PreParsed => &spill,
            ArrowSource::Csv => &csv,
        };
        let f = child(
            "arrow",
            &db,
            Some(input),
            r.rows,
            &["--threads".into(), threads.to_string()],
        )?;
        remove(&db)?;
        r.arrow.push((source, threads, f));
    }
    std::fs::remove_file(&spill).map_err(CliError::io("remove spill file", &spill))?;
    ingest_report::print_ingest(r);
    ingest_report::print_scan(r);
    let db = scratch.join("recovery");
    let wal_bytes = if quick {
        QUICK_RECOVERY_WAL_BYTES
    } else {
        RECOVERY_WAL_BYTES
    };
    progress("writing the log for recovery");
    r.wal = child(
        "recovery-write",
        &db,
        Some(&csv),
        r.rows,
        &["--wal-bytes".into(), wal_bytes.to_string()],
    )?;
    let cases: [(&'static str, u64, bool); 3] = [
        ("unbounded memory, cold cache", 0, true),
        ("unbounded memory, warm cache", 0, false),
        (
            "64 MiB budget (default), cold cache",
            RECOVERY_BUDGET_MIB,
            true,
        ),
    ];
    for (label, budget_mib, cold) in cases {
        progress(&format!("recovery: {label}"));
        if cold {
            evict_tree(&db)?;
        }
        let f = child(
            "recovery-open",
            &db,
            None,
            r.rows,
            &["--budget-mib".into(), budget_mib.to_string()],
        )?;
        r.recovery.push((label, f));
    }
    ingest_report::print_recovery(r);
    Ok(())
}

/// Runs `cairn bench ingest --phase <phase>` and collects its figures.
fn child(
    phase: &str,
    db_dir: &Path,
    input: Option<&Path>,
    rows: usize,
    extra: &[String],
) -> Result<Figures> {
    // /proc/self/exe still runs this binary if a rebuild replaced the file meanwhile.
    let exe = match Path::new("/proc/self/exe") {
        p if p.exists() => p.to_path_buf(),
        _ => std::env::current_exe()
            .map_err(CliError::io("find the cairn binary", Path::new(".")))?,
    };
    let output = Command::new(&exe)
        .args(ingest_phase::child_args(phase, db_dir, input, rows))
        .args(extra)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(CliError::io("run a benchmark phase", &exe))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(CliError::Invalid(format!(
            "phase {phase} failed ({}); its output:\n{stdout}",
            output.status
        )));
    }
    Ok(Figures::parse(&stdout))
}

fn remove(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(CliError::io("remove benchmark database", dir))?;
    }
    Ok(())
}

/// Drops every file under `dir` from the page cache.
fn evict_tree(dir: &Path) -> Result<()> {
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        evict_page_cache(&d)?;
        for e in std::fs::read_dir(&d).map_err(CliError::io("list directory", &d))? {
            let p = e.map_err(CliError::io("list directory", &d))?.path();
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    Ok(())
}

fn run_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("ingest-{}-{nanos}", std::process::id())
}
