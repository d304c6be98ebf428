//! The `cairn` command-line tool.

mod bench;
mod error;

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
    after_help = "Logging: set RUST_LOG (for example RUST_LOG=info); the default is warn."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure the performance of cairn's components on this machine.
    Bench(BenchArgs),
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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Bench(BenchArgs {
            target: BenchTarget::Wal(args),
        }) => bench::wal::run(&args),
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
