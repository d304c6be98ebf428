//! The PostgreSQL wire protocol (v3), through the `pgwire` crate: startup with SCRAM-SHA-256
//! or loopback trust ([`auth`]), the simple and extended query protocols and COPY
//! ([`protocol`]), session settings and transaction blocks ([`conn`], [`settings`]), and the
//! catalogs and functions PostgreSQL clients expect ([`compat`]). Optional TLS (rustls).

pub mod auth;
pub mod compat;
pub mod conn;
pub mod copy;
pub mod framing;
pub mod info_schema;
pub mod intercept;
pub mod names;
pub mod protocol;
pub mod search_path;
pub mod settings;
pub mod text;
pub mod wire_guard;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pgwire::api::ConnectionManager;
use pgwire::api::cancel::DefaultCancelHandler;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::error::{Result, ServerError};
use crate::metrics::Protocol;
use crate::state::{Accepted, ServerState, accept_loop};
use auth::{Credentials, Startup};
use conn::Conn;
use protocol::Handler;

pub use pgwire::tokio::TlsAcceptor;

/// Loads the certificate chain and PKCS#8 key for TLS.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    use pgwire::tokio::tokio_rustls::rustls::ServerConfig;
    use pgwire::tokio::tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| ServerError::Tls(format!("cannot read {}: {e}", p.display())))
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<std::result::Result<Vec<CertificateDer<'_>>, _>>()
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "{}: no PEM certificate found",
            cert.display()
        )));
    }
    let key_der: PrivateKeyDer<'_> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| ServerError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| ServerError::Tls(format!("{}: no PEM private key found", key.display())))?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

pub async fn serve(listener: TcpListener, state: Arc<ServerState>, tls: Option<TlsAcceptor>) {
    let manager = Arc::new(ConnectionManager::new());
    let credentials =
        (!state.config.users.is_empty()).then(|| Arc::new(Credentials::new(&state.config.users)));
    accept_loop(
        listener,
        state,
        Protocol::Pg,
        move |state, conn| {
            let manager = manager.clone();
            let credentials = credentials.clone();
            let tls = tls.clone();
            async move { connection(state, conn, tls, manager, credentials).await }
        },
        refuse,
    )
    .await;
}

async fn connection(
    state: Arc<ServerState>,
    accepted: Accepted,
    tls: Option<TlsAcceptor>,
    manager: Arc<ConnectionManager>,
    credentials: Option<Arc<Credentials>>,
) {
    let Accepted {
        stream,
        peer,
        permit: _permit,
    } = accepted;
    let slot: Arc<OnceLock<Arc<Conn>>> = Arc::new(OnceLock::new());
    let served = framing::serve_socket(
        stream,
        tls,
        Arc::new(Handler::new(slot.clone())),
        Arc::new(Startup::new(
            state.clone(),
            slot.clone(),
            manager.clone(),
            credentials,
        )),
        Arc::new(DefaultCancelHandler::new(manager)),
        state.config.limits.max_message_bytes,
        state.config.limits.idle_timeout,
    );
    tokio::select! {
        r = served => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "postgres connection ended");
            }
        }
        () = idle_at_shutdown(&state, &slot) => {
            tracing::debug!(%peer, "postgres connection closed for shutdown");
        }
    }
}

/// Resolves once shutdown has begun and the connection has no statement running, so an
/// in-flight statement (a write, a COPY batch) is answered before the connection closes.
async fn idle_at_shutdown(state: &ServerState, slot: &OnceLock<Arc<Conn>>) {
    state.shutdown.cancelled().await;
    loop {
        let busy = slot.get().map_or(0, |c| c.busy());
        if busy == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Answers a connection over the limit with PostgreSQL's "too many connections" and closes.
async fn refuse(mut stream: TcpStream) {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "53300"),
        (
            b'M',
            "sorry, too many clients already (cairn's connection limit; raise --max-connections)",
        ),
    ] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = vec![b'E'];
    msg.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    msg.extend_from_slice(&body);
    if let Err(e) = stream.write_all(&msg).await {
        tracing::debug!(error = %e, "refusing a connection");
    }
    let _closed = stream.shutdown().await;
}
