//! One PostgreSQL connection's message loop, as pgwire's `process_socket`, with the bytes
//! read checked by [`Capped`] on the way in: a message longer than the limit, a malformed
//! length, a query string without its NUL or with invalid UTF-8 is answered with a FATAL
//! error (54000, 08P01, 22021) and the connection is closed, before pgwire buffers it or
//! decodes it lossily.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};

use super::auth::Startup;
use super::protocol::{Handler, PgStatement};
use super::wire_guard::{Capped, Refusal};

/// How long a client may take from connecting to finishing authentication (pgwire's value).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves one connection as pgwire's `process_socket` does, with messages longer than
/// `max_message` refused.
pub async fn serve_socket(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    handler: Arc<Handler>,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
    max_message: usize,
    stall_limit: Duration,
) -> io::Result<()> {
    let startup_deadline = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_deadline);
    let negotiated = tokio::select! {
        () = &mut startup_deadline => return Ok(()),
        s = negotiate_tls::<PgStatement>(tcp, tls) => s?,
    };
    let Some(framed) = negotiated else {
        return Ok(());
    };
    let old = framed.into_parts();
    let mut guard = Capped::new(old.io, max_message).with_stall_limit(stall_limit);
    // Bytes pgwire read before handing over (the start of the startup packet) are scanned too.
    guard.scan_bytes(&old.read_buf)?;
    let mut parts = FramedParts::new(guard, old.codec);
    parts.read_buf = old.read_buf;
    parts.write_buf = old.write_buf;
    let mut socket = Framed::from_parts(parts);
    socket.set_state(PgWireConnectionState::AwaitingStartup);

    loop {
        let next = if matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        ) {
            tokio::select! {
                () = &mut startup_deadline => return Ok(()),
                m = socket.next() => m,
            }
        } else {
            socket.next().await
        };
        let msg = match next {
            None => return Ok(()),
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                let PgWireError::IoError(e) = e else {
                    // A message pgwire cannot decode: a FATAL error, then the connection
                    // closes (PostgreSQL's answer to a protocol violation).
                    let mut info: ErrorInfo = e.into();
                    info.severity = "FATAL".to_owned();
                    let _sent = socket
                        .send(PgWireBackendMessage::ErrorResponse(info.into()))
                        .await;
                    return Ok(());
                };
                if let Some(refusal) = Refusal::of(&e) {
                    let info = refusal.error(max_message);
                    let _sent = socket
                        .send(PgWireBackendMessage::ErrorResponse(info.into()))
                        .await;
                }
                return Err(e);
            }
        };
        if matches!(msg, PgWireFrontendMessage::Terminate(_)) {
            return Ok(());
        }
        let extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => msg.is_extended_query(),
        };
        if let Err(e) = process_message(
            msg,
            &mut socket,
            startup.clone(),
            handler.clone(),
            handler.clone(),
            handler.clone(),
            cancel.clone(),
        )
        .await
        {
            process_error(&mut socket, e, extended_query).await?;
        }
    }
}
