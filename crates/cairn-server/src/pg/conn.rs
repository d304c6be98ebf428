//! One PostgreSQL connection's state and how it runs a statement: the SQL session, the
//! settings, the transaction block, and the answer as pgwire responses (rows streamed as the
//! query produces them, under the time limit).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use cairn_query::datafusion::arrow::array::RecordBatch;
use cairn_query::datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use cairn_query::datafusion::error::DataFusionError;
use cairn_query::{Execution, QueryError, QueryOutput, ScalarValue, Session};
use futures::{Stream, StreamExt, stream};
use pgwire::api::portal::Format;
use pgwire::api::results::{QueryResponse, Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use tokio::time::Sleep;

use super::compat;
use super::intercept::Intercept;
use super::settings::Settings;
use crate::sql::{new_session, timeout_error};
use crate::state::ServerState;

/// The transaction block: cairn runs every statement atomically and durably on its own, so
/// a block only tracks what a ROLLBACK could not undo.
#[derive(Debug, Default)]
struct Block {
    open: bool,
    /// Statements that wrote inside the open block.
    writes: u64,
    /// A statement failed inside the block: until ROLLBACK/COMMIT, others are refused
    /// (PostgreSQL's 25P02).
    failed: bool,
}

pub struct Conn {
    pub state: Arc<ServerState>,
    pub session: Session,
    pub settings: Arc<Mutex<Settings>>,
    block: Mutex<Block>,
    /// `pg_catalog` is installed (on the first statement that may need it).
    catalog: std::sync::Once,
    /// Statements running or streaming rows (shutdown waits for 0).
    busy: Arc<AtomicUsize>,
    pub closing: AtomicBool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.catalog.is_completed() {
            compat::uninstall(&self.session);
        }
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// An error as the client sees it.
pub fn error_info(code: &str, message: impl Into<String>) -> ErrorInfo {
    ErrorInfo::new("ERROR".to_owned(), code.to_owned(), message.into())
}

pub fn query_error(e: &QueryError) -> ErrorInfo {
    let mut info = error_info(e.sqlstate(), e.to_string());
    match e.sqlstate() {
        "53200" => {
            info.hint = Some(
                "the statement needs more memory than one query may use: raise the server's \
                 --query-memory-bytes, or narrow the query"
                    .into(),
            );
        }
        "57014" => {
            info.hint = Some(
                "raise statement_timeout (SET statement_timeout = '10min') up to the server's \
                 --query-timeout"
                    .into(),
            );
        }
        _ => {}
    }
    info
}

/// A DataFusion error from a running stream (ours come back wrapped as External).
fn df_error(e: DataFusionError) -> ErrorInfo {
    if let DataFusionError::External(inner) = &e
        && let Some(q) = inner.downcast_ref::<QueryError>()
    {
        return query_error(q);
    }
    query_error(&QueryError::from(e))
}

pub fn user_error(info: ErrorInfo) -> PgWireError {
    PgWireError::UserError(Box::new(info))
}

impl Conn {
    pub fn new(state: Arc<ServerState>, database: &str, user: &str) -> Result<Conn, QueryError> {
        let session = new_session(&state);
        compat::install_functions(&session);
        session.use_database(database)?;
        compat::set_current_database(&session, database);
        let settings = Arc::new(Mutex::new(Settings::new(database, user)));
        compat::install_current_setting(&session, settings.clone());
        Ok(Conn {
            settings,
            session,
            state,
            block: Mutex::new(Block::default()),
            catalog: std::sync::Once::new(),
            busy: Arc::new(AtomicUsize::new(0)),
            closing: AtomicBool::new(false),
        })
    }

    /// Installs `pg_catalog` before the first statement that may use it.
    pub fn prepare_for(&self, text: &str) {
        if compat::needs_catalog(text) {
            self.catalog
                .call_once(|| compat::install_catalog(&self.session));
        }
    }

    /// The statement as DataFusion can plan it (PostgreSQL catalog queries rewritten).
    pub fn rewrite(&self, text: &str) -> String {
        compat::rewrite(text, &self.settings())
    }

    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }

    fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn block(&self) -> std::sync::MutexGuard<'_, Block> {
        self.block.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The time limit of the next statement: the client's `statement_timeout`, capped by
    /// the server's limit.
    fn time_limit(&self) -> Option<Duration> {
        let server = self.state.config.limits.query_timeout;
        match (self.settings().statement_timeout, server) {
            (Some(c), Some(s)) => Some(c.min(s)),
            (c, s) => c.or(s),
        }
    }

    /// Refuses statements after a failure inside a transaction block (until it ends).
    pub fn check_block(&self, intercept: Option<&Intercept>) -> PgWireResult<()> {
        let ends = matches!(intercept, Some(Intercept::Rollback | Intercept::Commit));
        if self.block().failed && !ends {
            return Err(user_error(error_info(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            )));
        }
        Ok(())
    }

    /// Records a failed statement (inside a block, the block is then failed).
    pub fn note_failure(&self) {
        let mut b = self.block();
        if b.open {
            b.failed = true;
        }
    }

    fn note_write(&self) {
        let mut b = self.block();
        if b.open {
            b.writes += 1;
        }
    }

    /// Answers an intercepted statement; `None` for one the SQL session runs after all
    /// (`SHOW COLLECTIONS` and the like).
    pub fn intercept(&self, i: &Intercept) -> Option<PgWireResult<Response>> {
        Some(match i {
            Intercept::Begin => {
                let mut b = self.block();
                b.open = true;
                Ok(Response::TransactionStart(Tag::new("BEGIN")))
            }
            Intercept::Commit => {
                let mut b = self.block();
                let failed = b.failed;
                *b = Block::default();
                // PostgreSQL answers COMMIT of a failed block with ROLLBACK.
                Ok(Response::TransactionEnd(Tag::new(if failed {
                    "ROLLBACK"
                } else {
                    "COMMIT"
                })))
            }
            Intercept::Rollback => {
                let mut b = self.block();
                let writes = b.writes;
                *b = Block::default();
                if writes > 0 {
                    b.open = true;
                    b.failed = true;
                    Err(user_error(error_info(
                        "0A000",
                        format!(
                            "ROLLBACK cannot undo: {writes} statement(s) in this transaction \
                             block already wrote, and cairn applies every statement atomically \
                             and durably on its own (no multi-statement transactions); their \
                             rows stay. End the block with ROLLBACK or COMMIT."
                        ),
                    )))
                } else {
                    Ok(Response::TransactionEnd(Tag::new("ROLLBACK")))
                }
            }
            Intercept::Set { name, value } => {
                let databases = self.state.db.databases();
                let changed = self.settings().set(name, value.as_deref(), &databases);
                match changed {
                    Ok(Some(db)) => match self.session.use_database(&db) {
                        Ok(()) => {
                            compat::set_current_database(&self.session, &db);
                            Ok(Response::Execution(Tag::new("SET")))
                        }
                        Err(e) => Err(user_error(query_error(&e))),
                    },
                    Ok(None) => Ok(Response::Execution(Tag::new("SET"))),
                    Err((code, msg)) => Err(user_error(error_info(code, msg))),
                }
            }
            Intercept::Show(name) => {
                let value = self.settings().show(name)?;
                Ok(Response::Query(single_text(name, &value)))
            }
            Intercept::Noop(tag) => Ok(Response::Execution(Tag::new(tag))),
            Intercept::Refuse(msg) => Err(user_error(error_info(
                if msg.starts_with("syntax error") {
                    "42601"
                } else {
                    "0A000"
                },
                msg.clone(),
            ))),
            Intercept::CopyIn(_) => return None,
        })
    }

    /// Runs one SQL statement through the session; rows are streamed in `format`.
    pub async fn run_sql(
        self: &Arc<Self>,
        text: &str,
        params: &[ScalarValue],
        format: &Format,
    ) -> PgWireResult<Response> {
        let started = Instant::now();
        let limit = self.time_limit();
        let busy = BusyGuard::new(self.busy.clone());
        let run = self.session.execute(text, params);
        let result = match limit {
            Some(l) => match tokio::time::timeout(l, run).await {
                Ok(r) => r,
                Err(_) => Err(timeout_error(l)),
            },
            None => run.await,
        };
        let execution = match result {
            Ok(e) => e,
            Err(e) => {
                self.state.metrics.query(started.elapsed(), false);
                return Err(user_error(query_error(&e)));
            }
        };
        match execution {
            Execution::Done(out) => {
                self.state.metrics.query(started.elapsed(), true);
                self.after_command(&out);
                if out.has_rows() {
                    let tag = out.tag.clone();
                    let schema = out.schema.clone();
                    let batches = stream::iter(out.batches.into_iter().map(Ok));
                    rows_response(&tag, &schema, format, batches)
                } else {
                    Ok(Response::Execution(tag_of(&out)))
                }
            }
            Execution::Rows {
                tag,
                schema,
                stream,
            } => {
                let watched = Watched {
                    inner: stream,
                    deadline: limit.map(|l| (Box::pin(tokio::time::sleep(l)), l)),
                    done: false,
                    failed: false,
                    started,
                    state: self.state.clone(),
                    _busy: busy,
                };
                rows_response(
                    &tag,
                    &super::names::pg_names(text, &schema),
                    format,
                    watched,
                )
            }
        }
    }

    /// Bookkeeping after a command: writes inside a block, the current database.
    fn after_command(&self, out: &QueryOutput) {
        let tag = out.tag.as_str();
        if tag == "INSERT"
            || tag.starts_with("CREATE")
            || tag.starts_with("DROP")
            || tag.starts_with("ALTER")
            || tag == "CHECKPOINT"
            || tag == "COPY"
        {
            self.note_write();
        }
        if tag == "USE" {
            let db = self.session.database();
            compat::set_current_database(&self.session, &db);
            self.settings().database_changed(&db);
        }
    }

    /// Counts a COPY's rows as a write of the block.
    pub fn copied(&self) {
        self.note_write();
    }
}

fn tag_of(out: &QueryOutput) -> Tag {
    match (out.tag.as_str(), out.rows_affected) {
        ("INSERT", Some(n)) => Tag::new("INSERT").with_oid(0).with_rows(n as usize),
        (t, _) => Tag::new(t),
    }
}

/// A one-row, one-column text answer (`SHOW name`).
fn single_text(name: &str, value: &str) -> QueryResponse {
    let column = name.replace(' ', "_");
    let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new(column, DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(
            cairn_query::datafusion::arrow::array::StringArray::from(vec![value]),
        )],
    );
    let fields = Arc::new(
        arrow_schema_to_pg_fields(&schema, &Format::UnifiedText, None).unwrap_or_default(),
    );
    let rows: Vec<PgWireResult<DataRow>> = match batch {
        Ok(b) => encode_recordbatch(fields.clone(), b).collect(),
        Err(e) => vec![Err(PgWireError::ApiError(Box::new(e)))],
    };
    let mut r = QueryResponse::new(fields, stream::iter(rows));
    r.set_command_tag("SHOW");
    r
}

/// Rows as pgwire data rows, encoded batch by batch as they arrive.
fn rows_response<S>(
    tag: &str,
    schema: &SchemaRef,
    format: &Format,
    batches: S,
) -> PgWireResult<Response>
where
    S: Stream<Item = Result<RecordBatch, DataFusionError>> + Send + 'static,
{
    let fields = Arc::new(arrow_schema_to_pg_fields(schema, format, None)?);
    let f = fields.clone();
    let format = format.clone();
    let rows = batches
        .map(move |b| {
            let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send + Sync> = match b {
                Ok(b) => encode_recordbatch(f.clone(), super::text::pg_text_columns(b, &format)),
                Err(e) => Box::new(std::iter::once(Err(user_error(df_error(e))))),
            };
            stream::iter(rows)
        })
        .flatten();
    let mut r = QueryResponse::new(fields, rows);
    r.set_command_tag(if tag == "SHOW" { "SHOW" } else { "SELECT" });
    Ok(Response::Query(r))
}

/// Counts a running statement for shutdown.
struct BusyGuard(Arc<AtomicUsize>);

impl BusyGuard {
    fn new(c: Arc<AtomicUsize>) -> BusyGuard {
        c.fetch_add(1, Ordering::AcqRel);
        BusyGuard(c)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A result stream under the time limit, counted in the metrics when it ends.
struct Watched<S> {
    inner: S,
    deadline: Option<(Pin<Box<Sleep>>, Duration)>,
    done: bool,
    failed: bool,
    started: Instant,
    state: Arc<ServerState>,
    _busy: BusyGuard,
}

impl<S> Watched<S> {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.state
                .metrics
                .query(self.started.elapsed(), !self.failed);
        }
    }
}

impl<S> Drop for Watched<S> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<S> Stream for Watched<S>
where
    S: Stream<Item = Result<RecordBatch, DataFusionError>> + Unpin,
{
    type Item = Result<RecordBatch, DataFusionError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some((sleep, limit)) = self.deadline.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            let limit = *limit;
            self.failed = true;
            self.finish();
            return Poll::Ready(Some(Err(DataFusionError::External(Box::new(
                timeout_error(limit),
            )))));
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(None) => {
                self.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                self.failed = true;
                self.finish();
                Poll::Ready(Some(Err(e)))
            }
            other => other,
        }
    }
}
