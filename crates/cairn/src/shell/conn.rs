//! Where `cairn sql` runs statements: a data directory opened in this process, or a server
//! over the PostgreSQL protocol (simple query protocol, text results). Both give back the
//! same [`Outcome`]: column names and kinds, rows as text, and a command tag.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::{DbOptions, EngineError, QueryError, QueryOutput};
use cairn_query::arrow::array::{Array, ArrayRef, AsArray};
use cairn_query::arrow::datatypes::{DataType, TimeUnit};
use cairn_query::arrow::util::display::{ArrayFormatter, FormatOptions};
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// How a column's values are shown: numbers right-aligned and unquoted in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Number,
    Bool,
    Text,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

/// What one statement returned.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Empty for a command without rows.
    pub columns: Vec<Column>,
    /// `None` is NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// `INSERT 0 5`, `CREATE TIMESERIES`, `SELECT 3`, ...
    pub tag: String,
}

impl Outcome {
    pub fn has_rows(&self) -> bool {
        !self.columns.is_empty()
    }
}

/// A statement's error: the message and its SQLSTATE.
#[derive(Debug, Clone)]
pub struct StatementError {
    pub message: String,
    pub sqlstate: String,
}

impl std::fmt::Display for StatementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (SQLSTATE {})", self.message, self.sqlstate)
    }
}

/// An open connection.
pub enum Conn {
    Embedded(cairn::Db),
    Remote(Remote),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conn::Embedded(db) => write!(f, "Embedded({})", db.path().display()),
            Conn::Remote(r) => write!(f, "Remote({})", r.url),
        }
    }
}

pub struct Remote {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    url: String,
    database: String,
}

/// Why a connection could not be made, in words a user can act on.
pub enum OpenError {
    /// Another process (a server) holds the data directory.
    Locked(PathBuf),
    Other(String),
}

/// The data directory `cairn serve` uses when given none: $XDG_DATA_HOME/cairn, else
/// ~/.local/share/cairn. (The same rule as cairn_server::config; keep them in step.)
pub fn default_data_dir() -> Result<PathBuf, String> {
    cairn_server::config::default_data_dir().map_err(|_| {
        "no data directory: pass --data-dir or --url (HOME and XDG_DATA_HOME are unset)".into()
    })
}

/// The server `cairn serve` runs with no flags, as its built-in user.
pub fn default_url() -> String {
    format!(
        "postgres://{}@{}/{}",
        cairn_server::config::BUILTIN_USER,
        cairn_server::config::DEFAULT_PG_LISTEN,
        cairn::DEFAULT_DATABASE
    )
}

impl Conn {
    pub fn open_dir(dir: &Path) -> Result<Conn, OpenError> {
        match cairn::Db::open(dir, DbOptions::default()) {
            Ok(db) => Ok(Conn::Embedded(db)),
            Err(EngineError::Locked { path }) => Err(OpenError::Locked(path)),
            Err(e) => Err(OpenError::Other(format!(
                "cannot open the data directory {}: {e}",
                dir.display()
            ))),
        }
    }

    pub fn connect(url: &str) -> Result<Conn, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the client runtime: {e}"))?;
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            format!(
                "{url:?} is not a PostgreSQL URL ({e}); write postgres://user[:password]@host:port/database"
            )
        })?;
        let database = config
            .get_dbname()
            .unwrap_or(cairn::DEFAULT_DATABASE)
            .to_owned();
        let (client, connection) = runtime
            .block_on(config.connect(NoTls))
            .map_err(|e| connect_error(url, &e))?;
        runtime.spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("connection to the server lost: {e}");
            }
        });
        Ok(Conn::Remote(Remote {
            runtime,
            client,
            url: url.to_owned(),
            database,
        }))
    }

    /// The current database (for the prompt).
    pub fn database(&self) -> String {
        match self {
            Conn::Embedded(db) => db.session().database(),
            Conn::Remote(r) => r.database.clone(),
        }
    }

    /// Runs one statement.
    pub fn run(&mut self, statement: &str) -> Result<Outcome, StatementError> {
        match self {
            Conn::Embedded(db) => match db.sql(statement, &[]) {
                Ok(out) => outcome_of(&out).map_err(|message| StatementError {
                    message,
                    sqlstate: "XX000".into(),
                }),
                Err(e) => Err(query_error(&e)),
            },
            Conn::Remote(r) => r.run(statement),
        }
    }

    /// Closes the connection; an embedded database is flushed and closed.
    pub fn close(self) -> Result<(), String> {
        match self {
            Conn::Embedded(db) => db.close().map_err(|e| format!("closing the database: {e}")),
            Conn::Remote(r) => {
                drop(r.client);
                r.runtime.shutdown_background();
                Ok(())
            }
        }
    }
}

fn connect_error(url: &str, e: &tokio_postgres::Error) -> String {
    let mut why = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        why = format!("{why}: {s}");
        source = s.source();
    }
    format!(
        "cannot connect to {url}: {why}. Check that `cairn serve` is running and listening \
         there (--pg-listen, default {}), and that the user and password are right (without \
         configured users a server accepts only loopback connections as user `{}`)",
        cairn_server::config::DEFAULT_PG_LISTEN,
        cairn_server::config::BUILTIN_USER
    )
}

fn query_error(e: &QueryError) -> StatementError {
    StatementError {
        message: e.to_string(),
        sqlstate: e.sqlstate().to_owned(),
    }
}

impl Remote {
    fn run(&mut self, statement: &str) -> Result<Outcome, StatementError> {
        let messages = self
            .runtime
            .block_on(self.client.simple_query(statement))
            .map_err(|e| match e.as_db_error() {
                Some(db) => StatementError {
                    message: db.message().to_owned(),
                    sqlstate: db.code().code().to_owned(),
                },
                None => StatementError {
                    message: format!("the connection to {} failed: {e}", self.url),
                    sqlstate: "08006".into(),
                },
            })?;
        let mut out = Outcome::default();
        let mut count = None;
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(cols) => {
                    out.columns = cols
                        .iter()
                        .map(|c| Column {
                            name: c.name().to_owned(),
                            kind: Kind::Text,
                        })
                        .collect();
                }
                SimpleQueryMessage::Row(row) => {
                    if out.columns.is_empty() {
                        out.columns = row
                            .columns()
                            .iter()
                            .map(|c| Column {
                                name: c.name().to_owned(),
                                kind: Kind::Text,
                            })
                            .collect();
                    }
                    out.rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => count = Some(n),
                _ => {}
            }
        }
        guess_kinds(&mut out);
        out.tag = remote_tag(statement, out.has_rows(), count.unwrap_or(0));
        if first_word(statement).eq_ignore_ascii_case("USE") {
            self.refresh_database();
        }
        Ok(out)
    }

    fn refresh_database(&mut self) {
        let current = self
            .runtime
            .block_on(self.client.simple_query("SELECT current_database()"));
        if let Ok(messages) = current {
            for m in messages {
                if let SimpleQueryMessage::Row(row) = m
                    && let Some(name) = row.get(0)
                {
                    self.database = name.to_owned();
                }
            }
        }
    }
}

fn first_word(statement: &str) -> &str {
    statement
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .find(|w| !w.is_empty())
        .unwrap_or("")
}

/// The simple query protocol gives only the affected row count of a command, not its tag:
/// rebuild PostgreSQL's tag from the statement's leading keywords.
fn remote_tag(statement: &str, has_rows: bool, count: u64) -> String {
    let mut words = statement
        .split_whitespace()
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase());
    let first = words.next().unwrap_or_default();
    match first.as_str() {
        _ if has_rows => format!("SELECT {count}"),
        "INSERT" => format!("INSERT 0 {count}"),
        "UPDATE" | "DELETE" | "COPY" => format!("{first} {count}"),
        "CREATE" | "DROP" | "ALTER" => match words.next() {
            Some(second) => format!("{first} {second}"),
            None => first,
        },
        _ => first,
    }
}

/// Over the text protocol the column types are unknown: a column is shown as numbers when
/// every value is one, as booleans when every value is `t` or `f`.
fn guess_kinds(out: &mut Outcome) {
    for (i, col) in out.columns.iter_mut().enumerate() {
        let mut values = out
            .rows
            .iter()
            .filter_map(|r| r.get(i).and_then(|v| v.as_deref()));
        let mut any = false;
        let mut numbers = true;
        let mut bools = true;
        for v in values.by_ref() {
            any = true;
            numbers &= v.parse::<f64>().is_ok();
            bools &= v == "t" || v == "f";
        }
        col.kind = match (any, numbers, bools) {
            (true, true, _) => Kind::Number,
            (true, _, true) => Kind::Bool,
            _ => Kind::Text,
        };
    }
}

/// An embedded statement's Arrow output as text.
fn outcome_of(out: &QueryOutput) -> Result<Outcome, String> {
    let mut result = Outcome {
        tag: out.command_tag(),
        ..Outcome::default()
    };
    if !out.has_rows() {
        return Ok(result);
    }
    result.columns = out
        .schema
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            kind: kind_of(f.data_type()),
        })
        .collect();
    let options = FormatOptions::new()
        .with_null("")
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:z"));
    for batch in &out.batches {
        let columns: Vec<ArrayRef> = batch.columns().iter().map(utc_as_naive).collect();
        let formatters = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot show the result: {e}"))?;
        for row in 0..batch.num_rows() {
            result.rows.push(
                columns
                    .iter()
                    .zip(&formatters)
                    .map(|(c, f)| c.is_valid(row).then(|| f.value(row).to_string()))
                    .collect(),
            );
        }
    }
    Ok(result)
}

fn kind_of(t: &DataType) -> Kind {
    if t.is_numeric() {
        Kind::Number
    } else if t == &DataType::Boolean {
        Kind::Bool
    } else {
        Kind::Text
    }
}

/// A UTC timestamp column relabelled as zone-less, so it prints as a plain UTC date-time
/// (cairn's timestamps are UTC instants).
fn utc_as_naive(a: &ArrayRef) -> ArrayRef {
    use cairn_query::arrow::datatypes::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    let DataType::Timestamp(unit, Some(tz)) = a.data_type() else {
        return a.clone();
    };
    if !matches!(tz.as_ref(), "UTC" | "+00:00" | "Z") {
        return a.clone();
    }
    match unit {
        TimeUnit::Second => Arc::new(
            a.as_primitive::<TimestampSecondType>()
                .clone()
                .with_timezone_opt(None::<&str>),
        ),
        TimeUnit::Millisecond => Arc::new(
            a.as_primitive::<TimestampMillisecondType>()
                .clone()
                .with_timezone_opt(None::<&str>),
        ),
        TimeUnit::Microsecond => Arc::new(
            a.as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone_opt(None::<&str>),
        ),
        TimeUnit::Nanosecond => Arc::new(
            a.as_primitive::<TimestampNanosecondType>()
                .clone()
                .with_timezone_opt(None::<&str>),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_tags_follow_postgresql() {
        assert_eq!(
            remote_tag("insert into t values (1)", false, 3),
            "INSERT 0 3"
        );
        assert_eq!(
            remote_tag("CREATE TIMESERIES cpu (ts TIMESTAMP TIME_KEY)", false, 0),
            "CREATE TIMESERIES"
        );
        assert_eq!(remote_tag("select 1", true, 1), "SELECT 1");
        assert_eq!(remote_tag("checkpoint;", false, 0), "CHECKPOINT");
    }
}
