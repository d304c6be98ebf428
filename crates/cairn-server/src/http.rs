//! HTTP: `POST /query`, `/write`, `/api/v2/write`, `/health`, `/metrics` (being written).

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::state::ServerState;

pub async fn serve(listener: TcpListener, state: Arc<ServerState>) {
    let _unused = (listener, state);
}
