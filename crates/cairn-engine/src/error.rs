//! The engine's error type.

use std::path::PathBuf;

use cairn_storage::StorageError;
use cairn_wal::WalError;

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidIdentifier {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("database {0:?} does not exist (create it first, or write to \"default\")")]
    NoSuchDatabase(String),
    #[error("collection {0:?} does not exist")]
    NoSuchCollection(String),
    #[error("{kind} {name:?} already exists")]
    AlreadyExists { kind: &'static str, name: String },
    #[error("invalid schema: {0}")]
    InvalidSchema(String),
    #[error("column {column:?}, row {row}: {message}")]
    InvalidValue {
        column: String,
        row: usize,
        message: String,
    },
    #[error("invalid write: {0}")]
    InvalidWrite(String),
    #[error("invalid option {name}: {detail}")]
    InvalidOption { name: &'static str, detail: String },
    #[error("corrupt {what} {}: at offset {offset}: {detail}", path.display())]
    Corrupt {
        what: &'static str,
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    #[error("the data directory {} is in use by another process", path.display())]
    Locked { path: PathBuf },
    #[error("the database is closed")]
    Closed,
    #[error(
        "the database stopped accepting writes after an earlier failure ({0}); restart it to recover from the log"
    )]
    Failed(String),
}

impl EngineError {
    pub(crate) fn io(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        EngineError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}
