//! The sqllogictest suite: every `tests/slt/*.slt` file run in-process against a fresh
//! database in four data modes, so the same SQL is checked over data that sits in memtables,
//! in flushed files, in a mix of both, and data that went through a close and reopen:
//!
//! - `memtable`: nothing extra;
//! - `flushed`: `db.flush()` after every successful INSERT;
//! - `mixed`: `db.flush()` after every second successful INSERT;
//! - `restart`: after every successful statement that writes or changes the schema (INSERT,
//!   CREATE, DROP, ALTER, CHECKPOINT) the database is closed and reopened from the same
//!   directory, alternately flushed and closed (data comes back from files) and dropped
//!   without closing (data comes back by replaying the WAL); the new session `USE`s the
//!   database the old one was in.
//!
//! The mode is an sqllogictest label, so a file can say `onlyif memtable` or `skipif restart`
//! where output legitimately differs (EXPLAIN's file and page counts).
//!
//! `SLT_FILTER=substring` runs only the files whose name contains it. `SLT_COMPLETE=1` (or
//! `=flushed`, `=mixed`, `=restart`) rewrites the files with that mode's output (`1`:
//! `memtable`); review every change before keeping it: the point of the suite is answers
//! checked by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_engine::{Db, DbOptions};
use cairn_query::arrow::array::{Array, RecordBatch};
use cairn_query::arrow::datatypes::DataType;
use cairn_query::arrow::util::display::{ArrayFormatter, FormatOptions};
use cairn_query::{QueryError, Session};
use sqllogictest::{
    AsyncDB, DBOutput, DefaultColumnType, Record, RecordOutput, Runner, default_column_validator,
    default_normalizer, default_validator,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Memtable,
    Flushed,
    Mixed,
    Restart,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Memtable => "memtable",
            Mode::Flushed => "flushed",
            Mode::Mixed => "mixed",
            Mode::Restart => "restart",
        }
    }
}

/// An error as the suite sees it: cairn's message and its SQLSTATE.
#[derive(Debug)]
struct SltError {
    message: String,
    sqlstate: String,
}

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SltError {}

impl From<QueryError> for SltError {
    fn from(e: QueryError) -> Self {
        SltError {
            message: e.to_string(),
            sqlstate: e.sqlstate().to_owned(),
        }
    }
}

/// The harness's own failures (flush, reopen): never expected by a test file.
fn harness_error(what: &str, e: impl std::fmt::Display) -> SltError {
    SltError {
        message: format!("HARNESS FAILURE: {what}: {e}"),
        sqlstate: "XX000".to_owned(),
    }
}

/// One test file's database: its own directory, the open `Db` and a session over it.
struct CairnDb {
    mode: Mode,
    dir: tempfile::TempDir,
    db: Option<Arc<Db>>,
    session: Option<Session>,
    /// Successful INSERTs so far (`mixed` flushes on every second).
    inserts: u64,
    /// Successful writes and schema changes so far (`restart` flushes on every other).
    changes: u64,
}

fn open_options() -> DbOptions {
    DbOptions {
        background: false,
        ..DbOptions::default()
    }
}

impl CairnDb {
    fn new(mode: Mode) -> Result<Self, SltError> {
        let dir = tempfile::tempdir().map_err(|e| harness_error("temp dir", e))?;
        let db =
            Arc::new(Db::open(dir.path(), open_options()).map_err(|e| harness_error("open", e))?);
        let session = Session::new(db.clone());
        Ok(CairnDb {
            mode,
            dir,
            db: Some(db),
            session: Some(session),
            inserts: 0,
            changes: 0,
        })
    }

    fn db(&self) -> &Arc<Db> {
        self.db
            .as_ref()
            .expect("the database is open (a failed reopen is reported above)")
    }

    fn session(&self) -> &Session {
        self.session
            .as_ref()
            .expect("the session is open (a failed reopen is reported above)")
    }

    /// Closes the database (flushing it first when `flush`, else dropping it without
    /// `close`, so the next open replays the WAL) and opens it again with a new session in
    /// the same current database.
    async fn restart(&mut self, flush: bool) -> Result<(), SltError> {
        let current = self.session().database();
        self.session = None;
        let db = match Arc::try_unwrap(self.db.take().expect("database open")) {
            Ok(db) => db,
            Err(shared) => {
                self.session = Some(Session::new(shared.clone()));
                self.db = Some(shared);
                return Err(harness_error(
                    "restart",
                    "the Db is still shared after its session was dropped",
                ));
            }
        };
        if flush {
            db.flush()
                .map_err(|e| harness_error("flush before close", e))?;
            db.close().map_err(|e| harness_error("close", e))?;
        } else {
            drop(db);
        }
        let db = Arc::new(
            Db::open(self.dir.path(), open_options()).map_err(|e| harness_error("reopen", e))?,
        );
        let session = Session::new(db.clone());
        if session.database() != current {
            // The database may have been dropped while current: then there is none to
            // return to, and the session starts in the default one.
            if let Err(e) = session.sql(&format!("USE \"{current}\""), &[]).await
                && db.databases().contains(&current)
            {
                return Err(harness_error("USE after reopen", e));
            }
        }
        self.db = Some(db);
        self.session = Some(session);
        Ok(())
    }

    /// What the mode does after a statement with tag `tag` succeeded.
    async fn after(&mut self, tag: &str) -> Result<(), SltError> {
        let insert = tag == "INSERT";
        let change = insert
            || tag == "CHECKPOINT"
            || ["CREATE", "DROP", "ALTER"]
                .iter()
                .any(|w| tag.starts_with(w));
        if insert {
            self.inserts += 1;
        }
        if change {
            self.changes += 1;
        }
        match self.mode {
            Mode::Memtable => {}
            Mode::Flushed if insert => {
                self.db().flush().map_err(|e| harness_error("flush", e))?;
            }
            Mode::Mixed if insert && self.inserts.is_multiple_of(2) => {
                self.db().flush().map_err(|e| harness_error("flush", e))?;
            }
            Mode::Restart if change => {
                let flush = !self.changes.is_multiple_of(2);
                self.restart(flush).await?;
            }
            Mode::Flushed | Mode::Mixed | Mode::Restart => {}
        }
        Ok(())
    }
}

/// The sqllogictest type letter of a column: I integers, R floats, T text, ? anything else.
fn column_type(t: &DataType) -> DefaultColumnType {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            DefaultColumnType::FloatingPoint
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

/// Rows as text: NULL as `NULL`, the empty string as `(empty)`. A value spanning lines
/// (EXPLAIN's plans) continues on rows of its own, one per line.
fn render(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, SltError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| harness_error("format", e))?;
        for r in 0..batch.num_rows() {
            let mut row = Vec::with_capacity(formatters.len());
            let mut continued: Vec<String> = Vec::new();
            for (f, c) in formatters.iter().zip(batch.columns()) {
                let text = if c.is_null(r) {
                    "NULL".to_owned()
                } else {
                    f.value(r).to_string()
                };
                if text.is_empty() {
                    row.push("(empty)".to_owned());
                } else if text.contains('\n') {
                    let mut lines = text.lines();
                    row.push(lines.next().unwrap_or_default().to_owned());
                    continued.extend(lines.map(str::to_owned));
                } else {
                    row.push(text);
                }
            }
            rows.push(row);
            rows.extend(continued.into_iter().map(|l| vec![l]));
        }
    }
    Ok(rows)
}

#[async_trait::async_trait]
impl AsyncDB for CairnDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let out = self.session().sql(sql, &[]).await?;
        self.after(&out.tag).await?;
        if out.has_rows() {
            let types = out
                .schema
                .fields()
                .iter()
                .map(|f| column_type(f.data_type()))
                .collect();
            return Ok(DBOutput::Rows {
                types,
                rows: render(&out.batches)?,
            });
        }
        Ok(DBOutput::StatementComplete(out.rows_affected.unwrap_or(0)))
    }

    async fn shutdown(&mut self) {
        self.session = None;
        if let Some(db) = self.db.take()
            && let Ok(db) = Arc::try_unwrap(db)
        {
            let _closed = db.close();
        }
    }

    fn engine_name(&self) -> &str {
        "cairn"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }

    fn error_sql_state(err: &SltError) -> Option<String> {
        Some(err.sqlstate.clone())
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let filter = std::env::var("SLT_FILTER").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&filter))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

fn runner(mode: Mode) -> Runner<CairnDb, impl sqllogictest::MakeConnection<Conn = CairnDb>> {
    let mut r = Runner::new(move || async move { CairnDb::new(mode) });
    r.add_label(mode.label());
    r
}

/// Runs one file in `mode`, every record even after a failure; returns how many statements
/// and queries ran (skipped ones not counted) and the failures, each naming file, line and
/// mode.
async fn run_file(path: &Path, mode: Mode) -> (usize, Vec<String>) {
    let records = match sqllogictest::parse_file::<DefaultColumnType>(path) {
        Ok(r) => r,
        Err(e) => return (0, vec![format!("{}: parse: {e}", path.display())]),
    };
    let mut runner = runner(mode);
    let mut ran = 0;
    let mut failures = Vec::new();
    for record in records {
        if matches!(record, Record::Halt { .. }) {
            break;
        }
        match runner.run_async(record).await {
            Ok(RecordOutput::Query { .. } | RecordOutput::Statement { .. }) => ran += 1,
            Ok(_) => {}
            Err(e) => {
                ran += 1;
                failures.push(format!("[mode {}] {}", mode.label(), e.display(false)));
            }
        }
    }
    runner.shutdown_async().await;
    (ran, failures)
}

fn run_mode(mode: Mode) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let files = slt_files();
        if let Ok(complete) = std::env::var("SLT_COMPLETE") {
            let wanted = if complete == "1" {
                "memtable"
            } else {
                &complete
            };
            if mode.label() == wanted {
                for f in &files {
                    runner(mode)
                        .update_test_file(
                            f,
                            " ",
                            default_validator,
                            default_normalizer,
                            default_column_validator,
                        )
                        .await
                        .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                }
            }
            return;
        }
        let mut failures = Vec::new();
        let mut total = 0;
        for f in &files {
            let start = std::time::Instant::now();
            let (n, failed) = run_file(f, mode).await;
            total += n;
            eprintln!(
                "slt [{}] {}: {n} records, {} failed, {:.1?}",
                mode.label(),
                f.file_name().unwrap().to_string_lossy(),
                failed.len(),
                start.elapsed()
            );
            failures.extend(failed);
        }
        eprintln!(
            "slt [{}] {} files, {total} records, {} failed",
            mode.label(),
            files.len(),
            failures.len()
        );
        assert!(
            failures.is_empty(),
            "{} records failed in mode {}:\n\n{}",
            failures.len(),
            mode.label(),
            failures.join("\n")
        );
    });
}

#[test]
fn slt_memtable() {
    run_mode(Mode::Memtable);
}

#[test]
fn slt_flushed() {
    run_mode(Mode::Flushed);
}

#[test]
fn slt_mixed() {
    run_mode(Mode::Mixed);
}

#[test]
fn slt_restart() {
    run_mode(Mode::Restart);
}
