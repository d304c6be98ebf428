//! Errors of starting and running the server.

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A bad setting; the message names it and says what to write instead.
    #[error("configuration: {0}")]
    Config(String),
    /// A listener could not be bound.
    #[error(
        "cannot listen on {addr} ({what}): {source}; is another server using the port? \
             Choose another address with --{what}"
    )]
    Bind {
        what: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] cairn_engine::EngineError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
}

pub type Result<T, E = ServerError> = std::result::Result<T, E>;
