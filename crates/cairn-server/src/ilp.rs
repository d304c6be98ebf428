//! Line protocol over TCP: newline-delimited lines into the default database, nanosecond
//! timestamps. There is no reply channel: every read's complete lines are written as one
//! batch (durable before the next read), bad lines are logged with their line number (counted
//! from the connection's first line) and counted in `cairn_lines_rejected_total`, and the good
//! lines of the batch are written. A line longer than `max_line_bytes` is dropped unread up to
//! its newline, so one client cannot make the server buffer it.

use std::sync::Arc;

use cairn_engine::{LineErrorPolicy, Precision};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::metrics::Protocol;
use crate::state::{Accepted, ServerState, accept_loop};

/// Bytes read per system call; also the most a batch holds beyond one line.
const READ_BYTES: usize = 1 << 20;

pub async fn serve(listener: TcpListener, state: Arc<ServerState>) {
    accept_loop(
        listener,
        state,
        Protocol::Ilp,
        |state, conn| async move { connection(state, conn).await },
        |_stream| async {},
    )
    .await;
}

async fn connection(state: Arc<ServerState>, conn: Accepted) {
    let Accepted {
        mut stream,
        peer,
        permit: _permit,
    } = conn;
    let max_line = state.config.limits.max_line_bytes;
    let mut buf: Vec<u8> = Vec::with_capacity(READ_BYTES);
    let mut chunk = vec![0u8; READ_BYTES];
    // Lines before `buf`'s first byte.
    let mut lines_before = 0usize;
    // Inside an over-long line: drop bytes up to the next newline.
    let mut skipping = false;
    loop {
        let n = tokio::select! {
            () = state.shutdown.cancelled() => 0,
            r = stream.read(&mut chunk) => match r {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "line protocol connection");
                    0
                }
            },
        };
        if n == 0 {
            // End of stream: a last line without newline still counts.
            if !skipping && !buf.is_empty() {
                write_batch(&state, peer, &buf, lines_before).await;
            }
            return;
        }
        let mut data = &chunk[..n];
        if skipping {
            match memchr(data) {
                Some(i) => {
                    skipping = false;
                    lines_before += 1;
                    data = &data[i + 1..];
                }
                None => continue,
            }
        }
        buf.extend_from_slice(data);
        // Complete lines go now; the partial last line waits for the next read.
        let Some(last_nl) = buf.iter().rposition(|&b| b == b'\n') else {
            if buf.len() > max_line {
                reject_long_line(&state, peer, lines_before + 1, max_line);
                buf.clear();
                skipping = true;
            }
            continue;
        };
        let rest = buf.split_off(last_nl + 1);
        let lines = buf.iter().filter(|&&b| b == b'\n').count();
        write_batch(&state, peer, &buf, lines_before).await;
        lines_before += lines;
        buf = rest;
        if buf.len() > max_line {
            reject_long_line(&state, peer, lines_before + 1, max_line);
            buf.clear();
            skipping = true;
        }
    }
}

fn memchr(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == b'\n')
}

fn reject_long_line(state: &ServerState, peer: std::net::SocketAddr, line: usize, max: usize) {
    state.metrics.lines_rejected(1);
    tracing::warn!(
        %peer,
        line,
        "line protocol: line {line} is longer than {max} bytes (--max-line-bytes); dropped"
    );
}

/// Writes the complete lines in `text` (line numbers start after `lines_before`).
async fn write_batch(
    state: &Arc<ServerState>,
    peer: std::net::SocketAddr,
    text: &[u8],
    lines_before: usize,
) {
    let text = match std::str::from_utf8(text) {
        Ok(t) => t.to_owned(),
        Err(_) => valid_lines(state, peer, text, lines_before),
    };
    let db = state.db.clone();
    let result = tokio::task::spawn_blocking(move || {
        db.write_lines_to(
            cairn_engine::DEFAULT_DATABASE,
            &text,
            Precision::Nanoseconds,
            LineErrorPolicy::SkipBadLines,
        )
    })
    .await;
    match result {
        Ok(Ok(report)) => {
            state
                .metrics
                .rows_ingested(Protocol::Ilp, report.rows_written);
            if !report.errors.is_empty() {
                state.metrics.lines_rejected(report.errors.len() as u64);
                for e in report.errors.iter().take(10) {
                    tracing::warn!(
                        %peer,
                        "line protocol: line {}, column {}: {}",
                        e.line + lines_before,
                        e.column,
                        e.message
                    );
                }
                if report.errors.len() > 10 {
                    tracing::warn!(%peer, "line protocol: {} more bad lines", report.errors.len() - 10);
                }
            }
        }
        Ok(Err(e)) => tracing::error!(%peer, error = %e, "line protocol write failed"),
        Err(e) => tracing::error!(%peer, error = %e, "line protocol write task failed"),
    }
}

/// The text with every line that is not UTF-8 reported and blanked (an empty line is skipped
/// by the parser, so the other lines keep their numbers).
fn valid_lines(
    state: &ServerState,
    peer: std::net::SocketAddr,
    text: &[u8],
    lines_before: usize,
) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(line) {
            Ok(l) => out.push_str(l),
            Err(e) => {
                state.metrics.lines_rejected(1);
                tracing::warn!(
                    %peer,
                    "line protocol: line {}, column {}: not valid UTF-8; dropped",
                    lines_before + i + 1,
                    e.valid_up_to() + 1
                );
                if line.ends_with(b"\n") {
                    out.push('\n');
                }
            }
        }
    }
    out
}
