//! `COPY name [(columns)] FROM STDIN (FORMAT csv [, HEADER] [, DELIMITER] [, NULL] [, QUOTE])`:
//! the client's CSV is decoded as it arrives ([`crate::csv::CsvLoader`]) and written in
//! batches, each an atomic durable write. A header is matched to the collection's columns by
//! name (any order). If a row is bad, COPY stops there: its error names the line and column,
//! and says how many rows were already written (they stay, as every batch is durable when
//! written); the rest of the client's data is read and dropped.

use std::sync::Arc;

use cairn_query::datafusion::arrow::array::RecordBatch;
use cairn_query::datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use futures::stream;
use pgwire::api::results::{CopyResponse, Response, Tag};
use pgwire::error::{ErrorInfo, PgWireResult};

use super::conn::{Conn, error_info, query_error, user_error};
use super::intercept::CopyIn;
use crate::csv::CsvLoader;
use crate::metrics::Protocol;

/// A COPY in progress on a connection.
pub struct CopyState {
    /// `database.collection`
    collection: String,
    loader: CsvLoader,
    rows_written: u64,
    /// The batch being written (its rows) while the next one is decoded: decoding and the
    /// durable write overlap, one write at a time, in order.
    in_flight: Option<(u64, Write)>,
    /// The first error; later data is dropped until the client ends the COPY.
    error: Option<ErrorInfo>,
}

type Write = tokio::task::JoinHandle<Result<(), cairn_engine::EngineError>>;

impl std::fmt::Debug for CopyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyState")
            .field("collection", &self.collection)
            .field("rows_written", &self.rows_written)
            .finish_non_exhaustive()
    }
}

/// Starts a COPY: checks the collection and columns, answers CopyInResponse.
pub fn start(conn: &Conn, copy: &CopyIn) -> PgWireResult<(CopyState, Response)> {
    let (qualified, schema) = target(conn, copy)?;
    let columns = schema.fields().len();
    let loader = CsvLoader::new(schema, copy.options.clone())
        .map_err(|e| user_error(error_info("22P04", e.to_string())))?;
    let state = CopyState {
        collection: qualified,
        loader,
        rows_written: 0,
        in_flight: None,
        error: None,
    };
    Ok((
        state,
        Response::CopyIn(CopyResponse::new(0, columns, stream::empty())),
    ))
}

/// The qualified collection a COPY writes to and the schema of the columns it reads; an
/// error (42P01, 42703) if either does not exist. Checked at Parse too, so an extended-
/// protocol client learns it before it sends data, as from PostgreSQL.
pub fn target(conn: &Conn, copy: &CopyIn) -> PgWireResult<(String, SchemaRef)> {
    let qualified = if copy.table.contains('.') {
        copy.table.clone()
    } else {
        format!("{}.{}", conn.session.database(), copy.table)
    };
    let def = conn
        .state
        .db
        .collection(&qualified)
        .map_err(|e| user_error(query_error(&e.into())))?;
    let all: Vec<Field> = crate::csv::collection_schema(&def)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let fields = if copy.columns.is_empty() {
        all
    } else {
        let mut chosen = Vec::with_capacity(copy.columns.len());
        for name in &copy.columns {
            let lower = name.to_ascii_lowercase();
            match all.iter().find(|f| f.name() == name || *f.name() == lower) {
                Some(f) => chosen.push(f.clone()),
                None => {
                    return Err(user_error(error_info(
                        "42703",
                        format!("column \"{name}\" of collection {qualified} does not exist"),
                    )));
                }
            }
        }
        chosen
    };
    Ok((qualified, Arc::new(Schema::new(fields))))
}

impl CopyState {
    /// The client gave up (CopyFail): the rows written, once the batch in flight is done.
    pub async fn abort(mut self, conn: &Conn) -> u64 {
        self.settle(conn).await;
        self.rows_written
    }

    /// Takes the next chunk of the client's data.
    pub async fn data(&mut self, conn: &Conn, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        match self.loader.push(bytes) {
            Ok(batches) => self.write(conn, batches).await,
            Err(e) => {
                self.settle(conn).await;
                return self.fail("22P04", e.to_string());
            }
        }
        // One unfinished record may not grow without bound (an unclosed quote, a client
        // that never sends a newline).
        let max = conn.state.config.limits.max_line_bytes;
        if self.loader.pending_bytes() > max {
            self.settle(conn).await;
            self.fail(
                "54000",
                format!(
                    "a CSV record longer than {max} bytes (an unclosed quote?); raise \
                     --max-line-bytes for longer records"
                ),
            );
        }
    }

    /// The end of the client's data: the last rows, then the command tag or the error.
    pub async fn done(mut self, conn: &Conn) -> PgWireResult<Tag> {
        if self.error.is_none() {
            match self.loader.finish() {
                Ok(batches) => self.write(conn, batches).await,
                Err(e) => {
                    self.settle(conn).await;
                    self.fail("22P04", e.to_string());
                }
            }
        }
        self.settle(conn).await;
        if self.rows_written > 0 {
            conn.copied();
        }
        match self.error {
            Some(e) => Err(user_error(e)),
            None => Ok(Tag::new("COPY").with_rows(self.rows_written as usize)),
        }
    }

    /// Starts writing each batch once the one before it is durable.
    async fn write(&mut self, conn: &Conn, batches: Vec<RecordBatch>) {
        for batch in batches {
            if batch.num_rows() == 0 {
                continue;
            }
            self.settle(conn).await;
            if self.error.is_some() {
                return;
            }
            let db = conn.state.db.clone();
            let collection = self.collection.clone();
            let rows = batch.num_rows() as u64;
            // Tracked, so a shutdown waits for it.
            let job = conn
                .state
                .tasks
                .spawn_blocking(move || db.write(&collection, &batch).map(|_| ()));
            self.in_flight = Some((rows, job));
        }
    }

    /// Waits for the batch being written, if any, and counts its rows (or records its error).
    async fn settle(&mut self, conn: &Conn) {
        let Some((rows, job)) = self.in_flight.take() else {
            return;
        };
        match job.await {
            Ok(Ok(())) => {
                self.rows_written += rows;
                conn.state.metrics.rows_ingested(Protocol::Pg, rows);
            }
            Ok(Err(e)) => {
                let q = cairn_query::QueryError::from(e);
                self.fail(q.sqlstate(), q.to_string());
            }
            Err(e) => self.fail("XX000", format!("COPY write task failed: {e}")),
        }
    }

    fn fail(&mut self, code: &str, message: String) {
        let written = self.rows_written;
        let mut info = error_info(code, format!("COPY {}: {message}", self.collection));
        info.detail = Some(if written == 0 {
            "No rows were written.".to_owned()
        } else {
            format!(
                "{written} rows before it were already written and stay (COPY writes in \
                 batches, each durable when written)."
            )
        });
        self.error = Some(info);
    }
}
