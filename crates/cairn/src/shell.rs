//! `cairn sql`: SQL against a data directory (opened in this process) or a server (PostgreSQL
//! protocol). `-c` and `-f` run statements and exit at the first error; piped input runs
//! the same way without prompts; on a terminal it is an interactive shell with history.

mod conn;
mod input;
mod interactive;
mod render;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::error::CliError;
use conn::{Conn, OpenError, StatementError};
pub(crate) use conn::{default_data_dir, default_url};
use input::{Meta, parse_meta, split_complete};
use render::Format;

/// Options of `cairn sql`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without --data-dir or --url, the data directory of `cairn serve` is opened ($XDG_DATA_HOME/cairn \
or ~/.local/share/cairn); if a running server holds it, the shell connects to that server at \
postgres://cairn@127.0.0.1:5432/default instead and says so.

Tables show NULL as an empty cell; --format csv writes NULL as an empty field and an empty \
string as \"\"; --format json writes null. Timestamps are shown in UTC.

Examples:
  cairn sql -c 'SHOW COLLECTIONS'
  cairn sql --data-dir ./data -c \"CREATE TIMESERIES cpu (ts TIMESTAMP TIME_KEY, host VARCHAR TAG, usage DOUBLE)\"
  cairn sql --url postgres://cairn@127.0.0.1:5432/default --format csv -c 'SELECT * FROM cpu'
  cairn sql -f schema.sql
  echo 'SELECT 1;' | cairn sql")]
pub struct SqlArgs {
    /// Data directory to open in this process (it must not be in use by a server).
    #[arg(long, env = "CAIRN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A server to connect to instead, e.g. postgres://cairn@127.0.0.1:5432/default
    /// (takes precedence over --data-dir).
    #[arg(long, env = "CAIRN_URL", value_name = "URL")]
    pub url: Option<String>,
    /// Run this SQL (one or more statements; repeat -c for more) and exit; stops at the
    /// first error with a non-zero exit status.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    pub command: Vec<String>,
    /// Run the statements of this file (after any -c) and exit; stops at the first error.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// How results are printed.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print how long each statement took.
    #[arg(long)]
    pub timing: bool,
}

pub fn run(args: &SqlArgs) -> Result<(), CliError> {
    let conn = open(args)?;
    let mut shell = Shell {
        conn,
        format: args.format,
        timing: args.timing,
    };
    let result = shell.run_all(args);
    let closed = shell.conn.close().map_err(CliError::Invalid);
    result.and(closed)
}

/// Opens what the arguments name; the default data directory falls back to the default
/// server when a server holds it.
fn open(args: &SqlArgs) -> Result<Conn, CliError> {
    if let Some(url) = &args.url {
        return Conn::connect(url).map_err(CliError::Invalid);
    }
    let (dir, explicit) = match &args.data_dir {
        Some(d) => (d.clone(), true),
        None => (conn::default_data_dir().map_err(CliError::Invalid)?, false),
    };
    match Conn::open_dir(&dir) {
        Ok(c) => Ok(c),
        Err(OpenError::Other(why)) => Err(CliError::Invalid(why)),
        Err(OpenError::Locked(path)) if explicit => Err(CliError::Invalid(format!(
            "the data directory {} is in use by another process (a running `cairn serve`?); \
             connect to that server instead with --url {}",
            path.display(),
            conn::default_url()
        ))),
        Err(OpenError::Locked(path)) => {
            let url = conn::default_url();
            eprintln!(
                "note: {} is in use by a running server; connecting to {url}",
                path.display()
            );
            Conn::connect(&url).map_err(CliError::Invalid)
        }
    }
}

/// What the session runs on and how it prints.
struct Shell {
    conn: Conn,
    format: Format,
    timing: bool,
}

/// What to do after a line of input.
enum Flow {
    Continue,
    Quit,
}

impl Shell {
    fn run_all(&mut self, args: &SqlArgs) -> Result<(), CliError> {
        for text in &args.command {
            self.run_text(text)?;
        }
        if let Some(path) = &args.file {
            let file = std::fs::File::open(path).map_err(CliError::io("open SQL file", path))?;
            self.run_script(std::io::BufReader::new(file))?;
        }
        if !args.command.is_empty() || args.file.is_some() {
            return Ok(());
        }
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            interactive::run(self)
        } else {
            self.run_script(stdin.lock())
        }
    }

    /// One `-c` text: a meta-command, or statements (a last one may lack its `;`).
    fn run_text(&mut self, text: &str) -> Result<(), CliError> {
        if text.trim_start().starts_with('\\') {
            self.meta(text).map(|_| ())
        } else {
            let (statements, rest) = split_complete(text);
            for s in statements
                .iter()
                .chain((!rest.trim().is_empty()).then_some(&rest))
            {
                self.statement(s)?;
            }
            Ok(())
        }
    }

    /// Statements from a file or a pipe, line by line, without prompts.
    fn run_script(&mut self, reader: impl BufRead) -> Result<(), CliError> {
        let mut pending = String::new();
        for line in reader.lines() {
            let line = line.map_err(|e| CliError::Invalid(format!("reading SQL: {e}")))?;
            if let Flow::Quit = self.feed_line(&mut pending, &line)? {
                return Ok(());
            }
        }
        if !pending.trim().is_empty() {
            self.statement(&pending)?;
        }
        Ok(())
    }

    /// Adds a line to `pending` and runs the statements it completes (or the meta-command
    /// it is, at a statement boundary).
    fn feed_line(&mut self, pending: &mut String, line: &str) -> Result<Flow, CliError> {
        if pending.trim().is_empty() && line.trim_start().starts_with('\\') {
            pending.clear();
            return self.meta(line);
        }
        pending.push_str(line);
        pending.push('\n');
        let (statements, rest) = split_complete(pending);
        *pending = rest;
        for s in &statements {
            self.statement(s)?;
        }
        Ok(Flow::Continue)
    }

    fn meta(&mut self, line: &str) -> Result<Flow, CliError> {
        match parse_meta(line) {
            Meta::Quit => return Ok(Flow::Quit),
            Meta::Help => println!("{}", input::HELP),
            Meta::Sql(sql) => self.statement(&sql)?,
            Meta::Timing(on) => {
                self.timing = on.unwrap_or(!self.timing);
                println!("Timing is {}.", if self.timing { "on" } else { "off" });
            }
            Meta::Unknown(cmd) => {
                return Err(CliError::Invalid(format!(
                    "unknown command {cmd}; \\? lists the commands"
                )));
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs one statement and prints its outcome; its error as a `CliError`.
    fn statement(&mut self, sql: &str) -> Result<(), CliError> {
        self.try_statement(sql)
            .map_err(|e| CliError::Invalid(e.to_string()))
    }

    fn try_statement(&mut self, sql: &str) -> Result<(), StatementError> {
        let started = Instant::now();
        let out = self.conn.run(sql)?;
        let elapsed = started.elapsed();
        let mut stdout = std::io::stdout().lock();
        let mut text = render::render(&out, self.format);
        if self.timing {
            text.push_str(&format!("Time: {:.3} ms\n", elapsed.as_secs_f64() * 1e3));
        }
        if let Err(e) = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            // A closed pipe (`| head`) ends the output, not the statement.
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(StatementError {
                    message: format!("writing the result: {e}"),
                    sqlstate: "58030".into(),
                });
            }
        }
        Ok(())
    }
}
