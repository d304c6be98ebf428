//! cairn as a server: one [`Db`] shared by the PostgreSQL wire protocol ([`pg`]), HTTP
//! ([`http`]: SQL as JSON, InfluxDB-compatible writes, health, Prometheus metrics) and line
//! protocol over TCP ([`ilp`]).
//!
//! [`Server::start`] opens the database and binds every configured listener;
//! [`Server::shutdown`] stops accepting, lets in-flight requests finish, flushes and syncs.

// Engine and query errors are large by design (they carry paths and context).
#![allow(clippy::result_large_err)]

pub mod config;
pub mod csv;
pub mod error;
pub mod http;
pub mod ilp;
pub mod metrics;
pub mod pg;
pub mod sql;
pub mod stall;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn_engine::{Db, DbOptions};
use tokio::net::TcpListener;

pub use config::{ServeArgs, ServerConfig};
pub use error::{Result, ServerError};
use state::ServerState;

/// How long shutdown waits for in-flight requests before closing the database anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A running server.
#[derive(Debug)]
pub struct Server {
    state: Arc<ServerState>,
    /// The bound addresses (port 0 in the configuration is resolved here).
    pub pg_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    pub ilp_addr: Option<SocketAddr>,
}

impl Server {
    /// Opens the database (recovering it) and starts every configured listener.
    pub async fn start(config: ServerConfig) -> Result<Server> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            ServerError::Config(format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let dir = config.data_dir.clone();
        let db = tokio::task::spawn_blocking(move || Db::open(&dir, DbOptions::default()))
            .await
            .map_err(|e| ServerError::Config(format!("opening the database: {e}")))??;
        Server::start_with(Arc::new(db), config).await
    }

    /// Starts the listeners over an already open database.
    pub async fn start_with(db: Arc<Db>, config: ServerConfig) -> Result<Server> {
        let pg = bind(config.pg_listen, "pg-listen").await?;
        let http = bind(config.http_listen, "http-listen").await?;
        let ilp = bind(config.ilp_listen, "ilp-listen").await?;
        let tls = match &config.tls {
            Some((cert, key)) => Some(pg::tls_acceptor(cert, key)?),
            None => None,
        };
        let state = ServerState::new(db, config);
        if state.config.users.is_empty() {
            tracing::warn!(
                "no users configured: only loopback clients are accepted, as user `{}` without \
                 a password; add [[users]] to the configuration file to accept others",
                config::BUILTIN_USER
            );
        }
        let local = |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok());
        let server = Server {
            pg_addr: local(&pg),
            http_addr: local(&http),
            ilp_addr: local(&ilp),
            state: state.clone(),
        };
        if let Some(l) = pg {
            state.tasks.spawn(pg::serve(l, state.clone(), tls));
        }
        if let Some(l) = http {
            state.tasks.spawn(http::serve(l, state.clone()));
        }
        if let Some(l) = ilp {
            state.tasks.spawn(ilp::serve(l, state.clone()));
        }
        tracing::info!(
            data_dir = %state.config.data_dir.display(),
            pg = ?server.pg_addr,
            http = ?server.http_addr,
            ilp = ?server.ilp_addr,
            "cairn is serving"
        );
        Ok(server)
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.state.db
    }

    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> Result<()> {
        wait_for_signal().await?;
        tracing::info!("shutting down: finishing in-flight requests");
        self.shutdown().await
    }

    /// Stops accepting, waits (up to 30 s) for in-flight requests, then flushes every
    /// memtable and syncs the log.
    pub async fn shutdown(self) -> Result<()> {
        self.state.shutdown.cancel();
        self.state.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.state.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "requests still running after {}s; closing anyway (their writes are either \
                 acknowledged and durable or not acknowledged)",
                SHUTDOWN_GRACE.as_secs()
            );
        }
        let db = self.state.db.clone();
        tokio::task::spawn_blocking(move || db.close_shared())
            .await
            .map_err(|e| ServerError::Config(format!("closing the database: {e}")))??;
        tracing::info!("cairn stopped; everything is flushed and synced");
        Ok(())
    }
}

async fn bind(addr: Option<SocketAddr>, what: &'static str) -> Result<Option<TcpListener>> {
    match addr {
        None => Ok(None),
        Some(addr) => TcpListener::bind(addr)
            .await
            .map(Some)
            .map_err(|source| ServerError::Bind { what, addr, source }),
    }
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
