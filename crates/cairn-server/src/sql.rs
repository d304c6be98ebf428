//! SQL for every protocol: sessions with the configured memory limit, statements under the
//! configured time limit, counted in the metrics.

use std::sync::Arc;
use std::time::Instant;

use cairn_query::{QueryError, QueryOutput, ScalarValue, Session, SessionOptions};

use crate::state::ServerState;

/// A session over the server's database with the per-query memory limit.
pub fn new_session(state: &ServerState) -> Session {
    Session::with_options(
        state.db.clone(),
        SessionOptions {
            fast_paths: true,
            memory_limit: Some(state.config.limits.query_memory_bytes),
        },
    )
}

/// Runs `text` (one or more statements) and collects the last one's rows, under the query
/// time limit; recorded in the metrics.
pub async fn run_collect(
    state: &Arc<ServerState>,
    session: &Session,
    text: &str,
    params: &[ScalarValue],
) -> Result<QueryOutput, QueryError> {
    let started = Instant::now();
    let run = session.sql(text, params);
    let result = match state.config.limits.query_timeout {
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(r) => r,
            Err(_) => Err(timeout_error(limit)),
        },
        None => run.await,
    };
    state.metrics.query(started.elapsed(), result.is_ok());
    result
}

/// The error of a statement stopped by the time limit.
pub fn timeout_error(limit: std::time::Duration) -> QueryError {
    QueryError::Canceled(format!(
        "statement timeout: it ran longer than {:?} (raise --query-timeout)",
        limit
    ))
}
