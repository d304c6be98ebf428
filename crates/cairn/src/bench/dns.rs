//! `cairn bench dns`: the ten queries of the DNS-telemetry peer benchmark
//! (`shared/bench/common.py`) against the embedded engine, then DuckDB and chDB (their own
//! scripts, in child processes) on the same rows, with every answer checked against the
//! generator's `expected.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn::{DbOptions, QueryError};

use super::ScratchDir;
use super::codec_dns;
use super::dns_json::{self, Lookup};
use super::dns_peers::{self, Peer, PeerRun, QuerySpec};
use super::dns_report;
use super::ingest_csv::{BatchReader, COLLECTION};
use super::ingest_phase::{disk_usage, engine};
use super::report::{self, Json, progress};
use crate::DnsBenchArgs;
use crate::error::{CliError, Result};

pub const DEFAULT_ROWS: usize = 1_000_000;
pub const QUICK_ROWS: usize = 100_000;
const MAX_ROWS: usize = 50_000_000;
const DEFAULT_REPEAT: usize = 3;
/// Rows per Arrow batch of the load (each write is durable: fewer, larger writes).
const LOAD_BATCH_ROWS: usize = 100_000;
/// The table of `run_cairn.py`, declared the same way.
pub const CREATE: &str = "CREATE TIMESERIES dns (ts TIMESTAMP TIME_KEY, client_ip VARCHAR TAG, \
     qname VARCHAR TAG, qtype VARCHAR TAG, rcode VARCHAR TAG, cached BOOLEAN, elapsed_ms DOUBLE)";

/// The data files of one run.
#[derive(Debug, Clone)]
pub struct DnsData {
    pub csv: PathBuf,
    /// The path prefix the peer scripts take (`--data`): `<base>.csv`, `<base>.expected.json`.
    pub base: PathBuf,
    /// `answers` (or `prefix_answers[rows]`) of the expected.json: query id to
    /// `{rows, checksum}`.
    pub answers: Json,
    /// `--max-rows` for the peers when the files hold more rows than the run uses.
    pub max_rows: Option<usize>,
}

/// The load into cairn (not the focus).
#[derive(Debug, Clone, Default)]
pub struct LoadFigures {
    pub rows: u64,
    pub write: Duration,
    pub checkpoint: Duration,
    pub disk_bytes: u64,
    pub wal_bytes: u64,
    /// Partition files and time partitions after the checkpoint.
    pub files: usize,
    pub partitions: usize,
}

/// One query against cairn.
#[derive(Debug, Clone)]
pub struct CairnQuery {
    pub spec: QuerySpec,
    pub runs_ms: Vec<f64>,
    pub rows: usize,
    pub error: Option<String>,
    pub checksum: Option<String>,
    pub expected_rows: usize,
    pub expected_checksum: String,
}

impl CairnQuery {
    pub fn best_ms(&self) -> f64 {
        self.runs_ms.iter().copied().fold(f64::NAN, f64::min)
    }

    /// The answer has the expected row count and checksum.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.rows == self.expected_rows
            && self.checksum.as_deref() == Some(self.expected_checksum.as_str())
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Results {
    pub rows: usize,
    pub repeat: usize,
    pub quick: bool,
    pub data: DnsData,
    pub cores: usize,
    pub load_before: String,
    pub load_after: String,
    pub load: LoadFigures,
    pub queries: Vec<CairnQuery>,
    /// The peers asked for, in order (run or skipped).
    pub peers: Vec<PeerRun>,
}

/// Runs the benchmark; fails at the end if any cairn answer did not match.
pub fn run(args: &DnsBenchArgs) -> Result<()> {
    let started = Instant::now();
    let load_before = report::load_average();
    let quick = args.quick;
    let rows = args
        .data
        .rows
        .unwrap_or(if quick { QUICK_ROWS } else { DEFAULT_ROWS });
    if rows == 0 || rows > MAX_ROWS {
        return Err(CliError::Invalid(format!(
            "--rows must be between 1 and {MAX_ROWS}, not {rows}"
        )));
    }
    let repeat = args
        .repeat
        .unwrap_or(if quick { 1 } else { DEFAULT_REPEAT });
    if repeat == 0 {
        return Err(CliError::Invalid("--repeat must be at least 1".into()));
    }
    let peers = parse_peers(args.peers.as_deref(), quick)?;
    let shared = dns_peers::find_shared().ok_or_else(|| {
        CliError::Invalid(
            "shared/bench (common.py, gen_dns.py) not found above the working directory, the \
             binary or the crate: it defines the queries and checks the answers"
                .into(),
        )
    })?;
    let dir = args
        .data
        .dir
        .clone()
        .unwrap_or_else(super::codec::default_dir);
    let data = find_data(args.data.dns_csv.as_deref(), &dir.join("data"), rows)?;
    let specs = dns_peers::queries(&shared)?;
    let scratch = ScratchDir::create(dir.join(run_name()))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    dns_report::print_header(rows, repeat, &data, cores, &load_before, scratch.path());

    let db_dir = scratch.path().join("cairn");
    progress("loading into cairn");
    let (db, load) = load(&data.csv, rows, &db_dir)?;
    dns_report::print_load(&load);
    let (queries, results_json) = run_queries(&db, &specs, repeat, &data.answers)?;
    db.close().map_err(engine("close the database"))?;
    std::fs::remove_dir_all(&db_dir).map_err(CliError::io("remove the database", &db_dir))?;
    let queries = check(queries, &shared, &results_json)?;

    let mut peer_runs = Vec::new();
    for peer in peers {
        progress(peer.name());
        let work = scratch.path().join(peer.name().to_ascii_lowercase());
        let run = dns_peers::run(peer, &shared, &data.base, &work, repeat, data.max_rows);
        if let Some(why) = &run.skipped {
            println!("\nnote: {} skipped: {why}", peer.name());
        }
        peer_runs.push(run);
    }
    drop(scratch);
    let r = Results {
        rows,
        repeat,
        quick,
        data,
        cores,
        load_before,
        load_after: report::load_average(),
        load,
        queries,
        peers: peer_runs,
    };
    dns_report::print_table(&r);
    report::finish(started.elapsed(), quick, args.data.json.as_deref(), || {
        dns_report::to_json(&r).render()
    })?;
    let bad: Vec<&str> = r
        .queries
        .iter()
        .filter(|q| !q.ok())
        .map(|q| q.spec.id.as_str())
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(CliError::Invalid(format!(
            "cairn's answers to {} did not match expected.json",
            bad.join(", ")
        )))
    }
}

/// `--peers`: a comma-separated list of duckdb and chdb, or `none`.
fn parse_peers(list: Option<&str>, quick: bool) -> Result<Vec<Peer>> {
    let list = list.unwrap_or(if quick { "none" } else { "duckdb,chdb" });
    if list.trim().eq_ignore_ascii_case("none") || list.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut peers = Vec::new();
    for name in list.split(',') {
        let peer = Peer::parse(name).ok_or_else(|| {
            CliError::Invalid(format!(
                "--peers: unknown peer {name:?} (duckdb, chdb or none)"
            ))
        })?;
        if !peers.contains(&peer) {
            peers.push(peer);
        }
    }
    Ok(peers)
}

/// The CSV and expected.json: `--dns-csv` (with `<base>.expected.json` beside it), else
/// `<data_dir>/dns_<rows>.*`, generated with gen_dns.py if either file is missing.
fn find_data(dns_csv: Option<&Path>, data_dir: &Path, rows: usize) -> Result<DnsData> {
    let csv = match dns_csv {
        Some(path) => path.to_path_buf(),
        None => {
            let csv = data_dir.join(format!("dns_{rows}.csv"));
            if !csv.is_file() || !csv.with_extension("expected.json").is_file() {
                codec_dns::generate_csv(data_dir, rows).map_err(CliError::Invalid)?;
            }
            csv
        }
    };
    let base = csv.with_extension("");
    let expected_path = csv.with_extension("expected.json");
    let text = std::fs::read_to_string(&expected_path)
        .map_err(CliError::io("read the expected answers", &expected_path))?;
    let expected = dns_json::parse(&text)?;
    let total = expected.get("rows").and_then(Lookup::num).unwrap_or(0.0) as usize;
    let (answers, max_rows) = if total == rows {
        (expected.get("answers"), None)
    } else {
        let prefix = expected
            .get("prefix_answers")
            .and_then(|p| p.get(&rows.to_string()));
        (prefix, Some(rows))
    };
    let answers = answers.cloned().ok_or_else(|| {
        CliError::Invalid(format!(
            "{} holds the answers for {total} rows, not for {rows}",
            expected_path.display()
        ))
    })?;
    Ok(DnsData {
        csv,
        base,
        answers,
        max_rows,
    })
}

fn query_err(context: &'static str) -> impl FnOnce(QueryError) -> CliError {
    move |e| CliError::Invalid(format!("{context}: {e}"))
}

/// A fresh database in `db_dir`: CREATE TIMESERIES, the CSV's rows as Arrow batches (durable
/// writes), CHECKPOINT.
fn load(csv: &Path, rows: usize, db_dir: &Path) -> Result<(cairn::Db, LoadFigures)> {
    let db = cairn::Db::open(db_dir, DbOptions::default()).map_err(engine("open the database"))?;
    db.sql(CREATE, &[])
        .map_err(query_err("CREATE TIMESERIES"))?;
    let started = Instant::now();
    let reader = BatchReader::spawn(csv, rows, LOAD_BATCH_ROWS, false)?;
    let mut written = 0;
    while let Some(batch) = reader.next() {
        written += db.write(COLLECTION, &batch).map_err(engine("write"))?;
    }
    reader.join()?;
    let write = started.elapsed();
    let t = Instant::now();
    db.sql("CHECKPOINT", &[]).map_err(query_err("CHECKPOINT"))?;
    let checkpoint = t.elapsed();
    if written != rows as u64 {
        return Err(CliError::Invalid(format!(
            "{} holds {written} rows, fewer than --rows {rows}",
            csv.display()
        )));
    }
    let ((disk_bytes, _), (wal_bytes, _)) = disk_usage(db_dir)?;
    let stats = db.collection_stats(COLLECTION).map_err(engine("stats"))?;
    Ok((
        db,
        LoadFigures {
            rows: written,
            write,
            checkpoint,
            disk_bytes,
            wal_bytes,
            files: stats.files,
            partitions: stats.partitions,
        },
    ))
}

/// Runs every query `repeat` times (best wall-clock time counts: planning, execution and
/// collecting the batches). Returns the queries and, as a JSON object of query id to typed
/// rows, the first run's results (built outside the timed section).
fn run_queries(
    db: &cairn::Db,
    specs: &[QuerySpec],
    repeat: usize,
    answers: &Json,
) -> Result<(Vec<CairnQuery>, String)> {
    let mut out = Vec::new();
    let mut results = String::from("{");
    for spec in specs {
        progress(&format!("cairn {} {}", spec.id, spec.label));
        let expected = answers.get(&spec.id);
        let mut q = CairnQuery {
            spec: spec.clone(),
            runs_ms: Vec::new(),
            rows: 0,
            error: None,
            checksum: None,
            expected_rows: expected
                .and_then(|e| e.get("rows"))
                .and_then(Lookup::num)
                .unwrap_or(f64::NAN) as usize,
            expected_checksum: expected
                .and_then(|e| e.get("checksum"))
                .and_then(Lookup::text)
                .unwrap_or("?")
                .to_string(),
        };
        for run in 0..repeat {
            let t = Instant::now();
            let output = db.sql(&spec.text, &[]);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            match output {
                Ok(output) => {
                    q.runs_ms.push(ms);
                    if run == 0 {
                        if results.len() > 1 {
                            results.push(',');
                        }
                        dns_json::push_str(&mut results, &spec.id);
                        results.push(':');
                        q.rows = dns_json::push_rows(&mut results, &output.batches)?;
                    }
                }
                Err(e) => {
                    q.error = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(e) = &q.error {
            println!("\n!!! {} FAILED in cairn: {e}\n    {}", spec.id, spec.text);
        }
        out.push(q);
    }
    results.push('}');
    Ok((out, results))
}

/// Checks every answer with `common.checksum` (one python call); prints mismatches loudly.
fn check(mut queries: Vec<CairnQuery>, shared: &Path, results: &str) -> Result<Vec<CairnQuery>> {
    let sums: BTreeMap<String, String> = dns_peers::checksums(shared, results)?;
    for q in &mut queries {
        q.checksum = sums.get(&q.spec.id).cloned();
        if q.error.is_none() && !q.ok() {
            println!(
                "\n!!! MISMATCH {} ({}): cairn returned {} rows, checksum {}; expected {} rows, \
                 checksum {}\n    {}",
                q.spec.id,
                q.spec.label,
                q.rows,
                q.checksum.as_deref().unwrap_or("?"),
                q.expected_rows,
                q.expected_checksum,
                q.spec.text
            );
        }
    }
    Ok(queries)
}

fn run_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("dns-{}-{nanos}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse() {
        assert_eq!(
            parse_peers(None, false).unwrap(),
            [Peer::DuckDb, Peer::ChDb]
        );
        assert!(parse_peers(None, true).unwrap().is_empty());
        assert!(parse_peers(Some("none"), false).unwrap().is_empty());
        assert_eq!(parse_peers(Some("chdb"), true).unwrap(), [Peer::ChDb]);
        assert!(parse_peers(Some("postgres"), false).is_err());
    }
}
