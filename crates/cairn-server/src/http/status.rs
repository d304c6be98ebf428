//! `/ping`, `/health`, `/metrics`, and the answers for unknown paths and wrong methods.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use cairn_engine::Db;

use super::{ENDPOINTS, reply};
use crate::state::ServerState;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// 204 with `X-Influxdb-Version`: InfluxDB clients ping before they write.
pub(super) async fn ping() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(v) = HeaderValue::from_str(&format!("cairn-{VERSION}")) {
        r.headers_mut().insert("x-influxdb-version", v);
    }
    r
}

pub(super) async fn health(State(state): State<Arc<ServerState>>) -> Response {
    match failure(&state.db) {
        None => reply::json_value(
            StatusCode::OK,
            &serde_json::json!({
                "name": "cairn",
                "status": "pass",
                "message": "ready for queries and writes",
                "version": VERSION,
            }),
        ),
        Some(reason) => reply::json_value(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({
                "name": "cairn",
                "status": "fail",
                "message": reason,
                "version": VERSION,
            }),
        ),
    }
}

/// Why the database cannot take writes, if it cannot.
fn failure(db: &Db) -> Option<String> {
    db.failure()
}

pub(super) async fn metrics(State(state): State<Arc<ServerState>>) -> Response {
    let mut r = Response::new(Body::from(state.metrics.render(&state.db)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

pub(super) async fn not_found(uri: Uri) -> Response {
    reply::closing(reply::influx(
        StatusCode::NOT_FOUND,
        "not found",
        format!(
            "no endpoint at {}; the endpoints are {ENDPOINTS}",
            uri.path()
        ),
    ))
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    reply::closing(reply::influx(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed",
        format!(
            "{method} is not allowed on {}; the endpoints are {ENDPOINTS}",
            uri.path()
        ),
    ))
}
