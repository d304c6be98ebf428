//! `POST /query`: `{"sql": "...", "params": [1, "x", 2.5, true, null], "database": "default"}`
//! runs in a new session (under the query time limit) and answers the last statement's rows
//! as JSON (see [`super::encode`]), or `{"error", "sqlstate"}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cairn_query::ScalarValue;
use serde::Deserialize;

use super::{body, encode, reply};
use crate::sql;
use crate::state::ServerState;

/// SQLSTATE of a request the server cannot read (PostgreSQL's protocol_violation).
const BAD_REQUEST_SQLSTATE: &str = "08P01";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryRequest {
    sql: String,
    #[serde(default)]
    params: Vec<serde_json::Value>,
    #[serde(default)]
    database: Option<String>,
}

pub(super) async fn handle(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match body::read(body, &headers, &state.config.limits).await {
        Ok(b) => b,
        Err(e) => return e.sql_response(),
    };
    let request: QueryRequest = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return reply::sql_error(
                format!(
                    "the request body is not a query: {e}; send a JSON object \
                     {{\"sql\": \"...\", \"params\": [...], \"database\": \"...\"}} \
                     (params and database are optional)"
                ),
                BAD_REQUEST_SQLSTATE,
            );
        }
    };
    let params = match request
        .params
        .iter()
        .enumerate()
        .map(|(i, v)| param(i + 1, v))
        .collect::<Result<Vec<_>, String>>()
    {
        Ok(p) => p,
        Err(message) => return reply::sql_error(message, BAD_REQUEST_SQLSTATE),
    };
    let session = sql::new_session(&state);
    if let Some(database) = &request.database
        && let Err(e) = session.use_database(database)
    {
        return reply::sql_error(e.to_string(), e.sqlstate());
    }
    let output = match sql::run_collect(&state, &session, &request.sql, &params).await {
        Ok(o) => o,
        Err(e) => return reply::sql_error(e.to_string(), e.sqlstate()),
    };
    // Large results take a while to encode: keep that off the async workers.
    match tokio::task::spawn_blocking(move || encode::output(&output)).await {
        Ok(Ok(json)) => reply::json(StatusCode::OK, json),
        Ok(Err(e)) => reply::sql_error(format!("encoding the result failed: {e}"), "XX000"),
        Err(e) => reply::sql_error(format!("encoding the result failed: {e}"), "XX000"),
    }
}

/// A JSON parameter as a SQL value: integral numbers are BIGINT (BIGINT UNSIGNED past
/// i64::MAX), other numbers DOUBLE, strings TEXT, booleans BOOLEAN, null NULL.
fn param(n: usize, v: &serde_json::Value) -> Result<ScalarValue, String> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => ScalarValue::Null,
        Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Value::String(s) => ScalarValue::Utf8(Some(s.clone())),
        Value::Number(num) => {
            if let Some(i) = num.as_i64() {
                ScalarValue::Int64(Some(i))
            } else if let Some(u) = num.as_u64() {
                ScalarValue::UInt64(Some(u))
            } else {
                match num.as_f64() {
                    Some(f) => ScalarValue::Float64(Some(f)),
                    None => {
                        return Err(format!(
                            "parameter ${n}: {num} is not a number cairn can use"
                        ));
                    }
                }
            }
        }
        Value::Array(_) | Value::Object(_) => {
            return Err(format!(
                "parameter ${n}: arrays and objects cannot be parameters; pass a number, a \
                 string, a boolean or null"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn params_map_to_scalars() {
        let v: Vec<serde_json::Value> =
            serde_json::from_str(r#"[1, 2.5, "x", true, null, 18446744073709551615]"#).unwrap();
        let p: Vec<_> = v
            .iter()
            .enumerate()
            .map(|(i, v)| param(i + 1, v).unwrap())
            .collect();
        assert_eq!(
            p,
            vec![
                ScalarValue::Int64(Some(1)),
                ScalarValue::Float64(Some(2.5)),
                ScalarValue::Utf8(Some("x".into())),
                ScalarValue::Boolean(Some(true)),
                ScalarValue::Null,
                ScalarValue::UInt64(Some(u64::MAX)),
            ]
        );
        let e = param(2, &serde_json::json!([1])).unwrap_err();
        assert!(e.contains("$2"), "{e}");
    }
}
