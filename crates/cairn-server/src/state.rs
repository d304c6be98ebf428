//! What every connection shares: the database, the configuration, the metrics, the
//! connection limit and the shutdown signal; and the accept loop all three listeners use.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use cairn_engine::Db;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ServerConfig;
use crate::metrics::{Metrics, Protocol};

#[derive(Debug)]
pub struct ServerState {
    pub db: Arc<Db>,
    pub config: ServerConfig,
    pub metrics: Metrics,
    /// One permit per open client connection, over all protocols.
    pub connections: Arc<Semaphore>,
    /// Cancelled when the server shuts down: listeners stop accepting, connections finish
    /// the request in hand and close.
    pub shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for in-flight requests.
    pub tasks: TaskTracker,
}

impl ServerState {
    pub fn new(db: Arc<Db>, config: ServerConfig) -> Arc<ServerState> {
        Arc::new(ServerState {
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            db,
            config,
            metrics: Metrics::default(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        })
    }
}

/// What an accepted connection gets: its socket, peer, and the permit that holds its place
/// under the connection limit (released when dropped).
#[derive(Debug)]
pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub permit: OwnedSemaphorePermit,
}

/// Accepts connections until shutdown. Each one gets a permit of the connection limit and
/// runs `handle` on its own task; at the limit, `refuse` answers it (a protocol-specific
/// "too many connections") and it is closed.
pub async fn accept_loop<H, F, R, RF>(
    listener: TcpListener,
    state: Arc<ServerState>,
    protocol: Protocol,
    handle: H,
    refuse: R,
) where
    H: Fn(Arc<ServerState>, Accepted) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
    R: Fn(TcpStream) -> RF + Send + Sync + 'static,
    RF: Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            () = state.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(protocol = protocol.name(), error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay");
        }
        match state.connections.clone().try_acquire_owned() {
            Ok(permit) => {
                let st = state.clone();
                let fut = handle(
                    st.clone(),
                    Accepted {
                        stream,
                        peer,
                        permit,
                    },
                );
                state.tasks.spawn(async move {
                    let _open = st.metrics.connection(protocol);
                    fut.await;
                });
            }
            Err(_) => {
                state.metrics.connection_refused();
                tracing::warn!(
                    protocol = protocol.name(),
                    %peer,
                    limit = state.config.limits.max_connections,
                    "connection refused: too many connections (raise --max-connections)"
                );
                let refused = refuse(stream);
                state.tasks.spawn(async move {
                    // A client that does not read its refusal must not hold a task forever.
                    let _done =
                        tokio::time::timeout(std::time::Duration::from_secs(2), refused).await;
                });
            }
        }
    }
}
