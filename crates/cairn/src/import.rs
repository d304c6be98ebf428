//! `cairn import`: CSV or line-protocol files into an embedded database (a data directory no
//! server holds) or into a running server. CSV goes into an existing collection in atomic,
//! durable batches (in-process, or the server's `COPY ... FROM STDIN`) and stops at the first
//! bad row; line protocol creates collections as its writes do (in-process, or POSTs of
//! 10,000 lines to the server's `/write`), skips bad lines and reports each with its file and
//! line number.

mod copy;
mod csv;
mod lp;
mod lp_http;
mod progress;
mod remote;

use std::io::Read;
use std::path::{Path, PathBuf};

use cairn::{Db, DbOptions, EngineError, Precision};
use clap::{Args, ValueEnum};

use crate::error::CliError;
use progress::Progress;
use remote::Server;

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

Into a server: with --url, or when neither --data-dir nor --url is given and a running \
`cairn serve` holds the default data directory (a note says so), the import goes through that \
server instead of opening the directory. CSV is sent as COPY name FROM STDIN (FORMAT csv, ...) \
to the PostgreSQL address (--url, default postgres://cairn@127.0.0.1:5432/default); line \
protocol is POSTed in requests of 10,000 lines to the HTTP address's /write (--http, default \
port 8086 on the --url's host, else http://127.0.0.1:8086), each acknowledged once durable. \
Bad lines and rows are reported as above; a failed request stops the import and says how many \
lines the server had acknowledged. The database is --database, else the --url's. --http alone \
does not choose a server: give --url too (line protocol into a server elsewhere needs both).

Examples:
  cairn import --data-dir ./data --into dns dns.csv
  cairn import --data-dir ./data metrics.lp
  zcat big.csv.gz | cairn import --data-dir ./data --into dns --format csv -
  cairn import --url postgres://cairn@127.0.0.1:5432/default --into dns dns.csv
  cairn import --url postgres://cairn@db.example:5432/default --http http://db.example:8086 metrics.lp")]
pub struct ImportArgs {
    /// Data directory to open in this process (it must not be in use by a server). Default:
    /// the one `cairn serve` uses ($XDG_DATA_HOME/cairn or ~/.local/share/cairn), or, if a
    /// running server holds it, that server.
    #[arg(long, env = "CAIRN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Import into the server at this PostgreSQL URL instead of a data directory, e.g.
    /// postgres://cairn@127.0.0.1:5432/default (takes precedence over --data-dir). CSV goes
    /// through it by COPY; line protocol goes to --http.
    #[arg(long, env = "CAIRN_URL", value_name = "URL")]
    pub url: Option<String>,
    /// The server's HTTP address for line protocol, e.g. http://127.0.0.1:8086 (credentials
    /// as http://USER:PASSWORD@HOST:PORT) [default: port 8086 on the --url's host].
    #[arg(long, env = "CAIRN_HTTP_URL", value_name = "URL")]
    pub http: Option<String>,
    /// Database to import into [default: the --url's database, else default].
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
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
    /// CSV rows per atomic write, in this process (a server's COPY batches rows itself)
    /// [default: 65536].
    #[arg(long, value_name = "N")]
    pub batch_rows: Option<usize>,
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
    match target(args, format)? {
        Target::Server(server) => match format {
            InputFormat::Csv => copy::import(&server, args),
            InputFormat::Lp => lp_http::import(&server, args),
        },
        Target::Dir(db) => {
            let result = match format {
                InputFormat::Csv => csv::import(&db, args),
                InputFormat::Lp => lp::import(&db, args),
            };
            let closed = db
                .close()
                .map_err(|e| CliError::Invalid(format!("closing the database: {e}")));
            result.and(closed)
        }
    }
}

/// Where the rows go.
enum Target {
    /// A data directory opened in this process.
    Dir(Db),
    Server(Server),
}

/// Chooses as `cairn sql` does: --url names a server; otherwise the data directory is opened,
/// and the default one (no --data-dir) falls back to the server holding it.
fn target(args: &ImportArgs, format: InputFormat) -> Result<Target, CliError> {
    if let Some(url) = &args.url {
        return Server::new(args, url).map(Target::Server);
    }
    let (dir, explicit) = match &args.data_dir {
        Some(d) => (d.clone(), true),
        None => (
            crate::shell::default_data_dir().map_err(CliError::Invalid)?,
            false,
        ),
    };
    if let Some(http) = &args.http
        && (explicit || !dir.exists())
    {
        // Nothing to fall back from: --http alone would be ignored.
        return Err(http_without_server(http, &dir));
    }
    match Db::open(&dir, DbOptions::default()) {
        Ok(db) => match &args.http {
            Some(http) => {
                // Nothing was written; the mistake is the error worth reporting.
                let _closed = db.close();
                Err(http_without_server(http, &dir))
            }
            None => Ok(Target::Dir(db)),
        },
        Err(EngineError::Locked { path }) if !explicit => {
            let server = Server::new(args, &crate::shell::default_url())?;
            eprintln!(
                "note: {} is in use by a running server; importing through it at {}",
                path.display(),
                server.address(format)
            );
            Ok(Target::Server(server))
        }
        Err(EngineError::Locked { path }) => Err(CliError::Invalid(format!(
            "the data directory {} is in use by another process (a running `cairn serve`?); \
             import through that server instead with --url {} (and --http {} for line \
             protocol if it is not on port 8086 of the same host)",
            path.display(),
            crate::shell::default_url(),
            remote::DEFAULT_HTTP
        ))),
        Err(other) => Err(CliError::Invalid(format!(
            "cannot open the data directory {}: {other}",
            dir.display()
        ))),
    }
}

/// --http without a server to use it for.
fn http_without_server(http: &str, dir: &Path) -> CliError {
    // Shown without credentials.
    let http = remote::HttpAddr::parse(http).map_or_else(|_| "--http".to_owned(), |a| a.base);
    CliError::Invalid(format!(
        "--http is only used when importing into a server (--url, or a running server that \
         holds the default data directory), and this import would open the data directory {} \
         in this process. To import into the server at {http}, also pass --url \
         postgres://cairn@HOST:5432/DATABASE (its PostgreSQL address); to import into {}, \
         drop --http (and unset CAIRN_HTTP_URL)",
        dir.display(),
        dir.display()
    ))
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
    if args.batch_rows == Some(0) {
        return refuse("--batch-rows must be at least 1");
    }
    Ok(())
}

/// The database of an in-process import.
fn database(args: &ImportArgs) -> &str {
    args.database.as_deref().unwrap_or(cairn::DEFAULT_DATABASE)
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
