//! The PostgreSQL wire protocol (being written).

use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::error::Result;
use crate::state::ServerState;

pub type TlsAcceptor = ();

pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    let _unused = (cert, key);
    Ok(())
}

pub async fn serve(listener: TcpListener, state: Arc<ServerState>, tls: Option<TlsAcceptor>) {
    let _unused = (listener, state, tls);
}
