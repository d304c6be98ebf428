//! HTTP: SQL as JSON (`POST /query`), InfluxDB-compatible line-protocol writes (`POST /write`,
//! `POST /api/v2/write`, `GET /ping`), `GET /health` and Prometheus `GET /metrics`.
//!
//! Each connection is served by hyper (HTTP/1.1, keep-alive) over an axum router; it never
//! holds storage logic, only translates to [`crate::sql`] and the engine's line-protocol API.
//! A hostile client cannot hold the server: a request head must arrive within `idle_timeout`
//! (slowloris), a request body may not stall longer than that between chunks, a response write
//! may not stall longer than that (a client that does not read), and bodies are capped at
//! `max_body_bytes` after gzip decoding. On shutdown a connection finishes the request in hand
//! (a write in progress completes and is answered), then closes.

mod auth;
mod body;
mod encode;
mod io;
mod query;
mod reply;
mod status;
mod write;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::metrics::Protocol;
use crate::state::{Accepted, ServerState, accept_loop};

/// The routes, for the 404 answer.
const ENDPOINTS: &str = "POST /query, POST /write, POST /api/v2/write, GET /ping, GET /health, \
                         GET /metrics";

/// How long a refused connection is given to read its 503 before it is closed.
const REFUSAL_LINGER: Duration = Duration::from_millis(500);
/// How long, and for how many bytes, a closing connection keeps reading (see [`linger`]).
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 16 << 20;

/// Serves HTTP on `listener` until shutdown.
pub async fn serve(listener: TcpListener, state: Arc<ServerState>) {
    let router = router(state.clone());
    let limit = state.config.limits.max_connections;
    accept_loop(
        listener,
        state,
        Protocol::Http,
        move |state, conn| connection(state, conn, router.clone()),
        move |stream| refuse(stream, limit),
    )
    .await;
}

fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/query", post(query::handle))
        .route("/write", post(write::v1))
        .route("/api/v2/write", post(write::v2))
        .route("/ping", get(status::ping))
        .route("/health", get(status::health))
        .route("/metrics", get(status::metrics))
        .fallback(status::not_found)
        .method_not_allowed_fallback(status::method_not_allowed)
        .with_state(state)
}

/// One client connection: requests are authorised (see [`auth`]) and routed until the client
/// closes, a timeout fires, or the server shuts down.
async fn connection(state: Arc<ServerState>, conn: Accepted, router: Router) {
    let Accepted {
        stream,
        peer,
        permit: _permit,
    } = conn;
    let idle = state.config.limits.idle_timeout;
    let svc_state = state.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let state = svc_state.clone();
        let router = router.clone();
        Box::pin(async move {
            if let Err(refused) = auth::check(&state, peer, req.uri(), req.headers()) {
                return Ok(refused);
            }
            router.oneshot(req).await
        })
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(idle)
        .keep_alive(true);
    let io = TokioIo::new(io::WriteDeadline::new(stream, idle));
    let mut conn = builder.serve_connection(io, service);
    let mut draining = false;
    let result = loop {
        tokio::select! {
            r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => break r,
            () = state.shutdown.cancelled(), if !draining => {
                draining = true;
                std::pin::Pin::new(&mut conn).graceful_shutdown();
            }
        }
    };
    let timed_out = match &result {
        Ok(()) => false,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "http connection closed");
            e.is_timeout()
        }
    };
    let mut stream = conn.into_parts().io.into_inner().into_inner();
    if timed_out || state.shutdown.is_cancelled() {
        return;
    }
    linger(&mut stream).await;
}

/// Closes a connection the way Apache's lingering close does: send FIN, then read and drop
/// what the client still sends (a body the server refused without reading it) for a moment.
/// Closing a socket with unread data sends a reset, which can destroy the answer before a
/// client that writes its whole body first has read it.
async fn linger(stream: &mut TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = vec![0u8; 64 << 10];
    let mut left = LINGER_BYTES;
    let drain = async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 || n >= left {
                break;
            }
            left -= n;
        }
    };
    let _drained = tokio::time::timeout(LINGER, drain).await;
}

/// The answer at the connection limit: 503 with a JSON body, then close. The client's
/// request is drained for a moment so that closing does not reset the connection before the
/// client has read the answer.
async fn refuse(mut stream: TcpStream, limit: usize) {
    let body = serde_json::json!({
        "code": "unavailable",
        "message": format!(
            "too many connections: the server is at its limit of {limit} \
             (--max-connections); retry later"
        ),
    })
    .to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).await.is_err()
        || stream.write_all(body.as_bytes()).await.is_err()
        || stream.shutdown().await.is_err()
    {
        return;
    }
    let mut sink = [0u8; 4096];
    let drain = async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _drained = tokio::time::timeout(REFUSAL_LINGER, drain).await;
}
