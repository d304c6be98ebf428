//! InfluxDB-compatible writes: v1 `POST /write?db=&precision=` and v2
//! `POST /api/v2/write?bucket=&precision=` take line protocol (plain or gzip).
//!
//! The answer comes only once the engine has returned, so a 204 means every row is durable.
//! Bad lines do not stop the good ones (InfluxDB's behaviour): the good lines ARE written and
//! the answer is 400 `{"code": "invalid", "message": "partial write: N of M lines rejected:
//! line 3: ...", "line": 3, "errors": [{"line", "column", "message"}]}` naming the bad lines.
//! A line longer than `max_line_bytes` is a bad line; a body that is not UTF-8 is refused
//! whole (nothing is written).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cairn_engine::{Db, EngineError, LineError, LineErrorPolicy, Precision, WriteLinesReport};

use super::{body, reply};
use crate::metrics::Protocol;
use crate::state::ServerState;

/// Bad lines named in the message.
const MESSAGE_ERRORS: usize = 20;
/// Bad lines listed in `errors` (bounds the answer to a body full of bad lines).
const LISTED_ERRORS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    V1,
    V2,
}

impl Api {
    /// The query parameter naming the database.
    fn database_param(self) -> &'static str {
        match self {
            Api::V1 => "db",
            Api::V2 => "bucket",
        }
    }
}

pub(super) async fn v1(
    State(state): State<Arc<ServerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    write(state, Api::V1, &uri, &headers, body).await
}

pub(super) async fn v2(
    State(state): State<Arc<ServerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    write(state, Api::V2, &uri, &headers, body).await
}

async fn write(
    state: Arc<ServerState>,
    api: Api,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let (database, precision) = match target(api, uri) {
        Ok(t) => t,
        Err(message) => {
            return reply::closing(reply::influx(StatusCode::BAD_REQUEST, "invalid", message));
        }
    };
    let text = match body::read(body, headers, &state.config.limits).await {
        Ok(t) => t,
        Err(e) => return e.influx_response(),
    };
    let db = state.db.clone();
    let max_line = state.config.limits.max_line_bytes;
    let target_db = database.clone();
    // Tracked, so shutdown waits for a write whose client went away.
    let job = state
        .tasks
        .spawn_blocking(move || ingest(&db, &target_db, text, precision, max_line));
    match job.await {
        Ok(Ingest::NotUtf8 { line, column }) => reply::json_value(StatusCode::BAD_REQUEST, &{
            let message = format!(
                "line {line}, column {column}: not valid UTF-8; line protocol must be \
                     UTF-8 (nothing was written)"
            );
            serde_json::json!({
                "code": "invalid",
                "message": message,
                "error": message,
                "line": line,
            })
        }),
        Ok(Ingest::Written { report, long }) => answer(&state, report, long),
        Ok(Ingest::Failed(e)) => engine_error(&database, e),
        Err(e) => reply::influx(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
            format!("the write task failed: {e}"),
        ),
    }
}

/// The database and precision from the query string. v2's bucket may be `db/rp` (InfluxDB
/// 1.8's compatibility form); the retention policy is ignored.
fn target(api: Api, uri: &Uri) -> Result<(String, Precision), String> {
    let params = Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| format!("bad query string: {e}"))?;
    let name = api.database_param();
    let database = match params.get(name).map(|s| s.trim()) {
        Some(d) if !d.is_empty() => match api {
            Api::V1 => d.to_owned(),
            Api::V2 => d.split('/').next().unwrap_or(d).to_owned(),
        },
        _ => {
            return Err(format!(
                "missing query parameter \"{name}\": name the database to write to, e.g. \
                 ?{name}=default"
            ));
        }
    };
    let precision = match params.get("precision").map(String::as_str) {
        None | Some("") => Precision::Nanoseconds,
        // v1 spells nanoseconds `n`.
        Some("n") if api == Api::V1 => Precision::Nanoseconds,
        Some(p) => Precision::parse(p).map_err(|e| format!("precision: {e}"))?,
    };
    Ok((database, precision))
}

enum Ingest {
    NotUtf8 {
        line: usize,
        column: usize,
    },
    Written {
        report: WriteLinesReport,
        /// Lines over `max_line_bytes`, blanked before parsing.
        long: Vec<LineError>,
    },
    Failed(EngineError),
}

/// Runs on a blocking thread: checks UTF-8, drops over-long lines, writes the rest durably.
fn ingest(db: &Db, database: &str, text: Vec<u8>, precision: Precision, max_line: usize) -> Ingest {
    let text = match String::from_utf8(text) {
        Ok(t) => t,
        Err(e) => {
            let bytes = e.as_bytes();
            let valid = &bytes[..e.utf8_error().valid_up_to()];
            let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            return Ingest::NotUtf8 {
                line: valid.iter().filter(|&&b| b == b'\n').count() + 1,
                column: valid.len() - line_start + 1,
            };
        }
    };
    let (text, long) = drop_long_lines(text, max_line);
    match db.write_lines_to(database, &text, precision, LineErrorPolicy::SkipBadLines) {
        Ok(report) => Ingest::Written { report, long },
        Err(e) => Ingest::Failed(e),
    }
}

/// Blanks every line longer than `max` bytes (an empty line is skipped by the parser, so the
/// other lines keep their numbers) and reports it as a bad line.
fn drop_long_lines(text: String, max: usize) -> (String, Vec<LineError>) {
    let long_line = |l: &str| l.trim_end_matches(['\n', '\r']).len() > max;
    if !text.split_inclusive('\n').any(long_line) {
        return (text, Vec::new());
    }
    let mut kept = String::with_capacity(text.len());
    let mut errors = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if long_line(line) {
            errors.push(LineError {
                line: i + 1,
                column: max + 1,
                message: format!(
                    "the line is {} bytes, longer than the limit of {max} (--max-line-bytes)",
                    line.trim_end_matches(['\n', '\r']).len()
                ),
            });
            if line.ends_with('\n') {
                kept.push('\n');
            }
        } else {
            kept.push_str(line);
        }
    }
    (kept, errors)
}

/// 204 when every line was written, else 400 naming the bad lines (the good ones are written).
fn answer(state: &ServerState, report: WriteLinesReport, long: Vec<LineError>) -> Response {
    state
        .metrics
        .rows_ingested(Protocol::Http, report.rows_written);
    let mut errors = report.errors;
    if !long.is_empty() {
        errors.extend(long);
        errors.sort_by_key(|e| e.line);
    }
    if errors.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    state.metrics.lines_rejected(errors.len() as u64);
    let total = report.rows_written + errors.len() as u64;
    let mut message = format!(
        "partial write: {} of {total} lines rejected: ",
        errors.len()
    );
    for (i, e) in errors.iter().take(MESSAGE_ERRORS).enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(&format!("line {}: {}", e.line, e.message));
    }
    if errors.len() > MESSAGE_ERRORS {
        message.push_str(&format!("; and {} more", errors.len() - MESSAGE_ERRORS));
    }
    let listed: Vec<serde_json::Value> = errors
        .iter()
        .take(LISTED_ERRORS)
        .map(|e| serde_json::json!({ "line": e.line, "column": e.column, "message": e.message }))
        .collect();
    reply::json_value(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({
            "code": "invalid",
            "message": message,
            "error": message,
            "line": errors.first().map(|e| e.line),
            "errors": listed,
        }),
    )
}

fn engine_error(database: &str, e: EngineError) -> Response {
    match e {
        EngineError::NoSuchDatabase(_) => reply::influx(
            StatusCode::NOT_FOUND,
            "not found",
            format!("database \"{database}\" not found"),
        ),
        EngineError::Closed | EngineError::Failed(_) | EngineError::Locked { .. } => reply::influx(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
        EngineError::InvalidWrite(_)
        | EngineError::InvalidValue { .. }
        | EngineError::InvalidSchema(_)
        | EngineError::InvalidIdentifier { .. } => {
            reply::influx(StatusCode::BAD_REQUEST, "invalid", e.to_string())
        }
        _ => reply::influx(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
            format!("the write failed: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn long_lines_are_blanked_and_numbered() {
        let text =
            "a v=1\nbbbbbbbbbbbbbbbbbbbb v=2\r\na v=3\ncccccccccccccccccccccccccccc v=4".to_owned();
        let (kept, errors) = drop_long_lines(text, 10);
        assert_eq!(kept, "a v=1\n\na v=3\n");
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 4]);
        assert!(errors[0].message.contains("--max-line-bytes"));
    }

    #[test]
    fn query_parameters() {
        let uri: Uri = "/write?db=metrics&precision=n&rp=x".parse().unwrap();
        assert_eq!(
            target(Api::V1, &uri).unwrap(),
            ("metrics".to_owned(), Precision::Nanoseconds)
        );
        let uri: Uri = "/api/v2/write?bucket=metrics/autogen&precision=ms"
            .parse()
            .unwrap();
        assert_eq!(
            target(Api::V2, &uri).unwrap(),
            ("metrics".to_owned(), Precision::Milliseconds)
        );
        let e = target(Api::V2, &"/api/v2/write?org=x".parse().unwrap()).unwrap_err();
        assert!(e.contains("\"bucket\""), "{e}");
        let e = target(Api::V1, &"/write?db=x&precision=h".parse().unwrap()).unwrap_err();
        assert!(e.contains("precision"), "{e}");
    }
}
