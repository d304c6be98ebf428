//! The command-line tool's error type.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use cairn_codec::CodecError;
use cairn_storage::StorageError;
use cairn_wal::WalError;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// A file-system call failed.
    Io {
        context: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A WAL call failed.
    Wal {
        context: &'static str,
        source: WalError,
    },
    /// A codec call failed.
    Codec {
        context: &'static str,
        source: CodecError,
    },
    /// A partition-file call failed (boxed: the storage error is large).
    Storage {
        context: &'static str,
        source: Box<StorageError>,
    },
    /// A benchmark thread panicked.
    ThreadPanicked,
    /// A command-line value or a measured result is not acceptable.
    Invalid(String),
}

impl CliError {
    pub fn io(context: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CliError {
        let path = path.to_path_buf();
        move |source| CliError::Io {
            context,
            path,
            source,
        }
    }

    pub fn wal(context: &'static str) -> impl FnOnce(WalError) -> CliError {
        move |source| CliError::Wal { context, source }
    }

    pub fn codec(context: &'static str) -> impl FnOnce(CodecError) -> CliError {
        move |source| CliError::Codec { context, source }
    }

    pub fn storage(context: &'static str) -> impl FnOnce(StorageError) -> CliError {
        move |source| CliError::Storage {
            context,
            source: Box::new(source),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Io { context, path, .. } => write!(f, "{context} ({})", path.display()),
            CliError::Wal { context, .. }
            | CliError::Codec { context, .. }
            | CliError::Storage { context, .. } => write!(f, "{context}"),
            CliError::ThreadPanicked => write!(f, "a benchmark thread panicked"),
            CliError::Invalid(detail) => write!(f, "{detail}"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Io { source, .. } => Some(source),
            CliError::Wal { source, .. } => Some(source),
            CliError::Codec { source, .. } => Some(source),
            CliError::Storage { source, .. } => Some(source.as_ref()),
            CliError::ThreadPanicked | CliError::Invalid(_) => None,
        }
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;
