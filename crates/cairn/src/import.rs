//! `cairn import`: CSV or line-protocol files into an embedded database (a data directory no
//! server holds). CSV goes into an existing collection in atomic, durable batches and stops at
//! the first bad row; line protocol creates collections as its writes do, skips bad lines and
//! reports each with its file and line number.

mod csv;
mod lp;
mod progress;

use std::io::Read;
use std::path::{Path, PathBuf};

use cairn::{Db, DbOptions, EngineError, Precision};
use clap::{Args, ValueEnum};

use crate::error::CliError;
use progress::Progress;

/// Options of `cairn import`.
#[derive(Debug, Args)]
#[command(after_help = "\
CSV: the header names the columns (any order; columns the file lacks are NULL, a missing \
TIME_KEY gets the import time); without --no-header the fields are the collection's columns \
in declared order. Timestamps: RFC 3339, 'YYYY-MM-DD HH:MM:SS[.fraction]' (UTC) or integer \
nanoseconds. An empty unquoted field is NULL. Each batch is one atomic durable write; at the \
first bad row the import stops, names the file, line and column, and says how many rows were \
written (they stay).

Line protocol: each measurement goes to the collection of that name (created if missing). \
Bad lines are reported as FILE:LINE and skipped; the exit status is non-zero if any was.

The data directory must not be in use: to load into a running server, use psql's \\copy for \
CSV, or curl --data-binary @FILE 'http://127.0.0.1:8086/write?db=default' for line protocol.

Examples:
  cairn import --data-dir ./data --into dns dns.csv
  cairn import --data-dir ./data metrics.lp
  zcat big.csv.gz | cairn import --data-dir ./data --into dns --format csv -")]
pub struct ImportArgs {
    /// Data directory. Default: the one `cairn serve` uses ($XDG_DATA_HOME/cairn or
    /// ~/.local/share/cairn).
    #[arg(long, env = "CAIRN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database to import into.
    #[arg(long, default_value = cairn::DEFAULT_DATABASE, value_name = "NAME")]
    pub database: String,
    /// Collection the CSV rows go to (it must exist). Not for line protocol, whose lines
    /// name their collection.
    #[arg(long, value_name = "COLLECTION")]
    pub into: Option<String>,
    /// Input format [default: from the extension: .csv, or .lp/.txt for line protocol].
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Unit of line-protocol timestamps [default: ns].
    #[arg(long, value_name = "ns|us|ms|s")]
    pub precision: Option<String>,
    /// The CSV has no header line.
    #[arg(long)]
    pub no_header: bool,
    /// CSV field delimiter (one character; `tab` or `\t` for a tab) [default: ,].
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// An unquoted CSV field equal to this is NULL [default: the empty field].
    #[arg(long, value_name = "TEXT")]
    pub null: Option<String>,
    /// CSV rows per atomic write.
    #[arg(long, value_name = "N", default_value_t = cairn_server::csv::DEFAULT_BATCH_ROWS)]
    pub batch_rows: usize,
    /// Files to import, in order; `-` reads standard input (give --format).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    Csv,
    /// InfluxDB line protocol.
    Lp,
}

pub fn run(args: &ImportArgs) -> Result<(), CliError> {
    let format = input_format(args)?;
    check_options(args, format)?;
    let dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => crate::shell::default_data_dir().map_err(CliError::Invalid)?,
    };
    let db = open(&dir)?;
    let result = match format {
        InputFormat::Csv => csv::import(&db, args),
        InputFormat::Lp => lp::import(&db, args),
    };
    let closed = db
        .close()
        .map_err(|e| CliError::Invalid(format!("closing the database: {e}")));
    result.and(closed)
}

/// The format: --format, else every file's extension (which must agree).
fn input_format(args: &ImportArgs) -> Result<InputFormat, CliError> {
    if let Some(f) = args.format {
        return Ok(f);
    }
    let mut found = None;
    for file in &args.files {
        let ext = file
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let f = match ext.as_deref() {
            Some("csv") => InputFormat::Csv,
            Some("lp" | "txt") => InputFormat::Lp,
            _ => {
                return Err(CliError::Invalid(format!(
                    "cannot tell the format of {} from its name; pass --format csv or --format lp",
                    file.display()
                )));
            }
        };
        if found.is_some_and(|g| g != f) {
            return Err(CliError::Invalid(
                "the files mix CSV and line protocol; import them in separate runs".into(),
            ));
        }
        found = Some(f);
    }
    found.ok_or_else(|| CliError::Invalid("no files to import".into()))
}

fn check_options(args: &ImportArgs, format: InputFormat) -> Result<(), CliError> {
    let refuse = |what: &str| Err(CliError::Invalid(what.into()));
    match format {
        InputFormat::Csv => {
            if args.into.is_none() {
                return refuse(
                    "CSV needs a collection: pass --into NAME (create it first, e.g. with \
                     cairn sql -c 'CREATE TIMESERIES ...')",
                );
            }
            if args.precision.is_some() {
                return refuse(
                    "--precision is for line protocol; CSV integer timestamps are nanoseconds \
                     (or write them as RFC 3339)",
                );
            }
        }
        InputFormat::Lp => {
            if args.into.is_some() {
                return refuse(
                    "line protocol names its collection in each line (the measurement); drop \
                     --into",
                );
            }
            if args.no_header || args.delimiter.is_some() || args.null.is_some() {
                return refuse("--no-header, --delimiter and --null are for CSV");
            }
        }
    }
    if args.batch_rows == 0 {
        return refuse("--batch-rows must be at least 1");
    }
    Ok(())
}

fn open(dir: &Path) -> Result<Db, CliError> {
    Db::open(dir, DbOptions::default()).map_err(|e| match e {
        EngineError::Locked { path } => CliError::Invalid(format!(
            "the data directory {} is in use by another process (a running `cairn serve`?). \
             Import through the server instead: psql's \\copy NAME FROM 'FILE' WITH (FORMAT \
             csv, HEADER) for CSV, or curl --data-binary @FILE \
             'http://127.0.0.1:8086/write?db=default' for line protocol",
            path.display()
        )),
        other => CliError::Invalid(format!(
            "cannot open the data directory {}: {other}",
            dir.display()
        )),
    })
}

/// The timestamp unit of line protocol.
fn precision(args: &ImportArgs) -> Result<Precision, CliError> {
    match &args.precision {
        None => Ok(Precision::Nanoseconds),
        Some(p) => Precision::parse(p).map_err(CliError::Invalid),
    }
}

/// A file or stdin (`-`), with its size when known (for the progress bar).
fn open_input(path: &Path) -> Result<Box<dyn Read>, CliError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = std::fs::File::open(path).map_err(CliError::io("open the input file", path))?;
    Ok(Box::new(file))
}

/// Total bytes of the inputs, unless one is stdin.
fn total_bytes(files: &[PathBuf]) -> Option<u64> {
    files
        .iter()
        .map(|f| {
            if f.as_os_str() == "-" {
                None
            } else {
                std::fs::metadata(f).ok().map(|m| m.len())
            }
        })
        .sum()
}

/// How a file is named in messages.
fn shown(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".into()
    } else {
        path.display().to_string()
    }
}

fn new_progress(args: &ImportArgs) -> Progress {
    Progress::new(total_bytes(&args.files))
}
