//! The `cairn` command-line tool.

mod bench;
mod crash_child;
mod error;
mod import;
mod inspect;
mod serve;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// cairn: a local-first, real-time, edge-to-cloud database.
#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about,
    long_about = None,
    after_help = "Logging: set RUST_LOG (for example RUST_LOG=debug); the default is info for serve, warn otherwise."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run cairn as a server: PostgreSQL wire protocol, HTTP and line protocol over TCP.
    ///
    /// With no flags it serves the data directory $XDG_DATA_HOME/cairn (or
    /// ~/.local/share/cairn) on loopback only: PostgreSQL on 127.0.0.1:5432, HTTP on
    /// 127.0.0.1:8086 (POST /query, InfluxDB /write and /api/v2/write, /health, /metrics) and
    /// line protocol on 127.0.0.1:9009. Without configured users only loopback clients are
    /// accepted, as user `cairn` with no password. SIGINT or SIGTERM stops it gracefully:
    /// in-flight requests finish, memtables are flushed and the log synced.
    Serve(cairn_server::ServeArgs),
    /// Run SQL: an interactive shell (history, aligned tables) or one statement with -c.
    Sql(shell::SqlArgs),
    /// Load CSV or line-protocol files into a collection, with a progress bar.
    Import(import::ImportArgs),
    /// Show and verify a data directory, WAL segments and partition files: catalog,
    /// manifests, headers, footers, pages; every checksum verified.
    Inspect(inspect::InspectArgs),
    /// Measure the performance of cairn's components on this machine.
    Bench(BenchArgs),
    /// Test support: write until killed (see tests/kill9.rs).
    #[command(name = "__crash-child", hide = true)]
    CrashChild(crash_child::CrashChildArgs),
}

#[derive(Debug, Args)]
struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(Debug, Subcommand)]
enum BenchTarget {
    /// Benchmark the write-ahead log against the raw limits of the disk.
    ///
    /// Measures, on one file system in one run: raw O_DIRECT 4 KiB write + fdatasync rate and
    /// sequential write bandwidth, durable appends (1-64 writers, 100 B and 4 KiB payloads),
    /// batch durable throughput, buffered appends, replay speed and open time, the pwrite and
    /// io_uring backends, O_DIRECT on and off, and the cost of encryption. Prints tables and a
    /// goals section (PASS/MISS). Every WAL gets a fresh directory that is deleted after its
    /// measurement; a measurement stops after its duration or after 2 GiB of payload (256 MiB
    /// with --quick), whichever comes first, so disk use stays below about 3 GB.
    Wal(WalBenchArgs),
    /// Benchmark the column codecs and the packed partition file against zstd-3.
    ///
    /// Two data sets of the same row count: DNS telemetry (the CSV of
    /// shared/bench/gen_dns.py, generated with python3 on first use and kept in <dir>/data;
    /// DNS-like rows generated in Rust if python3 or the script is missing) and a TSBS-style
    /// cpu table generated in Rust (1000 hosts every 10 s, 10 tags, 10 random-walk fields).
    /// Prints, per column: the codec chosen, bytes per value, encode and decode MB/s, and the
    /// same for zstd-3 of the raw values, with the ratio (WIN/LOSS). Then the DNS rows as one
    /// partition file: bytes per row, write and scan speed (warm and cold), what opening it
    /// and reading one column read, and the same file encrypted. Ends with a goals section
    /// (PASS/MISS). Needs about 6 GB of memory and 1 GB of disk for 10M rows.
    Codec(CodecBenchArgs),
    /// Benchmark the embedded engine: ingest, scans and recovery on the DNS data set.
    ///
    /// The DNS rows of shared/bench/gen_dns.py (found or generated as `bench codec` does; the
    /// line protocol file is made from the CSV if missing), into a collection declared first
    /// (ts TIME_KEY, four string tags, cached BOOLEAN, elapsed_ms DOUBLE). Measures: line
    /// protocol ingest (10,000 lines per durable write_lines call, one thread) and Arrow
    /// ingest (10,000-row batches parsed from the CSV on the fly, one and two writers), each
    /// then a checkpoint: rows/s, peak RSS, bytes on disk per row; warm full and one-column
    /// scans; recovery of about 1 GB of WAL after a crash (GB/s). Every phase runs in a child
    /// process of its own. Ends with goals (PASS/MISS). Needs about 3 GB of disk for 10M rows.
    Ingest(IngestBenchArgs),
    /// Run the 10 DNS-telemetry queries against cairn, DuckDB and chDB on the same rows.
    ///
    /// The DNS rows of shared/bench/gen_dns.py (dns_<N>.csv and dns_<N>.expected.json in
    /// <dir>/data, generated with python3 if missing) are loaded into a fresh embedded
    /// database (CREATE TIMESERIES dns ..., Arrow batches parsed from the CSV, CHECKPOINT).
    /// Then the 10 queries of shared/bench/common.py (cairn's dialect), each run --repeat
    /// times in process, best wall-clock time counted (planning, execution and collecting the
    /// Arrow batches). Every answer is checked against expected.json with common.checksum
    /// outside the timed section; a mismatch is printed and makes the command fail at the end.
    /// Then each peer runs the same queries on the same rows through its own script
    /// (shared/bench/run_duckdb.py, run_chdb.py; pip install duckdb chdb), one at a time in a
    /// child process. Prints one row per query: the times, cairn ÷ the best peer, and whether
    /// each engine's answer matched. Needs python3 and shared/bench beside the repository.
    Dns(DnsBenchArgs),
}

/// Options `cairn bench codec` and `cairn bench ingest` share: the DNS data and where to work.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Rows of each data set (default 10,000,000; 100,000 with --quick).
    #[arg(long, value_name = "N")]
    pub rows: Option<usize>,

    /// The DNS CSV to use (header ts,client_ip,qname,qtype,rcode,cached,elapsed_ms; the
    /// first --rows rows are read). Default: <dir>/data/dns_<N>.csv, generated with
    /// `python3 shared/bench/gen_dns.py --rows N --formats csv` if missing (DNS-like rows
    /// generated in Rust where that script is not found). `bench ingest` reads the line
    /// protocol from <PATH>.lp beside it, or makes that file from the CSV.
    #[arg(long, value_name = "PATH", env = "CAIRN_DNS_CSV")]
    pub dns_csv: Option<PathBuf>,

    /// Directory for the data sets (kept in <dir>/data for later runs) and the files a run
    /// writes (in a fresh subdirectory removed afterwards); a real disk file system, not
    /// tmpfs, for meaningful figures. Default: ./target/cairn-bench if ./target exists,
    /// ./cairn-bench-data otherwise.
    #[arg(long, value_name = "PATH", env = "CAIRN_BENCH_DIR")]
    pub dir: Option<PathBuf>,

    /// Also write every figure as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

/// Options of `cairn bench ingest`.
#[derive(Debug, Args)]
pub struct IngestBenchArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// 100,000 rows and 16 MiB of WAL for recovery (for smoke tests, not for figures).
    #[arg(long)]
    pub quick: bool,

    /// Internal: run one measurement and print its figures (the benchmark starts itself).
    #[arg(long, hide = true)]
    pub phase: Option<String>,
    #[arg(long, hide = true)]
    pub db_dir: Option<PathBuf>,
    #[arg(long, hide = true)]
    pub input: Option<PathBuf>,
    #[arg(long, hide = true, default_value_t = 1)]
    pub threads: usize,
    #[arg(long, hide = true, default_value_t = 0)]
    pub wal_bytes: u64,
    #[arg(long, hide = true, default_value_t = 0)]
    pub budget_mib: u64,
}

/// Options of `cairn bench dns`.
#[derive(Debug, Args)]
#[command(
    mut_arg("rows", |a| a.help(
        "Rows to load and query (default 1,000,000; 100,000 with --quick)"
    )),
    mut_arg("dns_csv", |a| a.help(
        "The DNS CSV to use (header ts,client_ip,qname,qtype,rcode,cached,elapsed_ms); the \
         answers are read from <PATH without .csv>.expected.json beside it (which must hold them \
         for --rows rows: the whole file, or a prefix gen_dns.py recorded), and the peers \
         read the same file. Default: <dir>/data/dns_<N>.csv, generated with `python3 \
         shared/bench/gen_dns.py --rows N --formats csv` if it or its .expected.json is \
         missing"
    ))
)]
pub struct DnsBenchArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// Runs of each query, in cairn and in each peer; the best counts (default 3; 1 with
    /// --quick).
    #[arg(long, value_name = "N")]
    pub repeat: Option<usize>,

    /// The peers to run after cairn, comma-separated: duckdb, chdb, or none (default
    /// duckdb,chdb; none with --quick). A peer whose python module is missing is skipped
    /// with a note.
    #[arg(long, value_name = "LIST")]
    pub peers: Option<String>,

    /// 100,000 rows, one run per query, no peers (for smoke tests, not for figures).
    #[arg(long)]
    pub quick: bool,
}

/// Options of `cairn bench codec`.
#[derive(Debug, Args)]
pub struct CodecBenchArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// 100,000 rows per data set (a few seconds; for smoke tests, not for figures).
    #[arg(long)]
    pub quick: bool,
}

/// Options of `cairn bench wal`.
#[derive(Debug, Args)]
pub struct WalBenchArgs {
    /// Directory to benchmark in. A fresh subdirectory is created inside it and removed
    /// afterwards. It must be on the real disk file system you want to measure (ext4, xfs,
    /// ...), never tmpfs: there fdatasync is a no-op and O_DIRECT alignment is not enforced, so
    /// the figures would be meaningless (a warning is printed if tmpfs is detected). Default:
    /// ./target/cairn-bench if ./target exists, ./cairn-bench-data otherwise.
    #[arg(long, value_name = "PATH", env = "CAIRN_BENCH_DIR")]
    pub dir: Option<PathBuf>,

    /// Run a reduced matrix with short measurements and small data sizes (a few seconds in
    /// total; for smoke tests, not for figures).
    #[arg(long)]
    pub quick: bool,

    /// Duration of each measurement in seconds (default: 2, or 0.3 with --quick). Fractions
    /// are allowed.
    #[arg(long, value_name = "N")]
    pub seconds: Option<f64>,

    /// Also write every figure as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server reports what it does at info; the other commands only warnings.
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // Colour only on a terminal: a log file or a pipe gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Sql(args) => shell::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Bench(BenchArgs {
            target: BenchTarget::Wal(args),
        }) => bench::wal::run(&args),
        Command::Bench(BenchArgs {
            target: BenchTarget::Codec(args),
        }) => bench::codec::run(&args),
        Command::Bench(BenchArgs {
            target: BenchTarget::Ingest(args),
        }) => bench::ingest::run(&args),
        Command::Bench(BenchArgs {
            target: BenchTarget::Dns(args),
        }) => bench::dns::run(&args),
        Command::CrashChild(args) => crash_child::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
