//! The JSON answers: `{"code", "message"}` as InfluxDB shapes its errors (write, auth,
//! routing), `{"error", "sqlstate"}` for `/query`, and how a SQLSTATE maps to an HTTP status.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// A response with a JSON body.
pub(super) fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(super) fn json_value(status: StatusCode, value: &serde_json::Value) -> Response {
    json(status, value.to_string().into_bytes())
}

/// InfluxDB's error shape: `{"code": "invalid", "message": "..."}`.
/// InfluxDB's error shapes at once: v2's `code` and `message` and v1's `error` (which
/// Telegraf's v1 output reads).
pub(super) fn influx(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let message = message.into();
    json_value(
        status,
        &serde_json::json!({ "code": code, "message": message, "error": message }),
    )
}

/// `/query`'s error shape: `{"error": "...", "sqlstate": "42601"}`.
pub(super) fn sql_error(message: impl Into<String>, sqlstate: &str) -> Response {
    json_value(
        status_for_sqlstate(sqlstate),
        &serde_json::json!({ "error": message.into(), "sqlstate": sqlstate }),
    )
}

/// Marks an answer given before the request body was read: the connection closes after it
/// (hyper would otherwise close it without saying so when the unread body is large, and a
/// client that pools connections would send its next request into a closed socket).
pub(super) fn closing(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// The HTTP status of a failed statement: 404 for an unknown database, 408 for the time
/// limit, 503 when the server cannot serve it now, 500 for internal and I/O failures, 413
/// for a body too large, 400 for everything the client can fix in its SQL.
pub(super) fn status_for_sqlstate(sqlstate: &str) -> StatusCode {
    match sqlstate {
        "3D000" => StatusCode::NOT_FOUND,
        "57014" => StatusCode::REQUEST_TIMEOUT,
        "54000" => StatusCode::PAYLOAD_TOO_LARGE,
        "55006" => StatusCode::SERVICE_UNAVAILABLE,
        s if s.starts_with("57") || s.starts_with("53") => StatusCode::SERVICE_UNAVAILABLE,
        s if s.starts_with("58") || s.starts_with("XX") => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}
