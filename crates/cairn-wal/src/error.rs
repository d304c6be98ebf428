//! The WAL's one error type.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// What exactly is wrong at a corrupt place of a segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    #[error("bad segment magic {found:02x?}")]
    BadMagic { found: [u8; 8] },
    #[error("unsupported segment format version {found} (this build reads {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("segment header CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    HeaderCrc { stored: u32, computed: u32 },
    #[error("segment header field {field} is invalid: {detail}")]
    HeaderField { field: &'static str, detail: String },
    #[error("file name says first LSN {name_lsn} but the header says {header_lsn}")]
    NameMismatch { name_lsn: u64, header_lsn: u64 },
    #[error("record length {len} exceeds the limit of {max} bytes")]
    LengthTooLarge { len: u64, max: u64 },
    #[error("record of {len} bytes runs past the end of the file ({available} bytes left)")]
    Truncated { len: u64, available: u64 },
    #[error("record CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    RecordCrc { stored: u32, computed: u32 },
    #[error("record header reserved bits are not zero")]
    ReservedBits,
    #[error("expected LSN {expected}, found {found}")]
    LsnMismatch { expected: u64, found: u64 },
    #[error("LSN {lsn} is above the largest allowed LSN 2^63-1")]
    LsnOutOfRange { lsn: u64 },
    #[error("a zeroed or unwritten region where a record was expected")]
    Zeroed,
    #[error("padding record of {len} bytes does not end on a block boundary")]
    BadPadding { len: u64 },
    #[error("authentication failed: the record was tampered with or encrypted with another key")]
    Tampered,
    #[error("the segment ends before LSN {expected_last} (last record found: {found_last})")]
    MissingTail { expected_last: u64, found_last: u64 },
}

/// Errors of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An earlier write or fsync failed; the WAL accepts nothing more (an fsync error is never
    /// retried: the kernel may already have dropped the dirty pages).
    #[error("the WAL is poisoned by an earlier failure and accepts no more writes: {0}")]
    Poisoned(Arc<WalError>),
    #[error("corrupt WAL segment {} at offset {offset}{}: {problem}", segment.display(), fmt_lsn(*lsn))]
    Corrupt {
        segment: PathBuf,
        offset: u64,
        lsn: Option<u64>,
        problem: Corruption,
    },
    #[error(
        "WAL segment missing before {}: it names predecessor first LSN {expected_prev_first_lsn}, found {found_prev_first_lsn}",
        segment.display()
    )]
    MissingSegment {
        segment: PathBuf,
        expected_prev_first_lsn: u64,
        found_prev_first_lsn: u64,
    },
    #[error("LSN gap at the start of {}: previous segment ends at {prev_last_lsn}, this one starts at {first_lsn}", segment.display())]
    LsnGap {
        segment: PathBuf,
        prev_last_lsn: u64,
        first_lsn: u64,
    },
    #[error("segment {} is encrypted with key id {key_id}, which the key ring does not hold", segment.display())]
    UnknownKey { segment: PathBuf, key_id: u32 },
    #[error("segment {} is encrypted and no key ring was given", segment.display())]
    KeyRequired { segment: PathBuf },
    #[error("wrong key for segment {} (key id {key_id}): the key check value does not match", segment.display())]
    WrongKey { segment: PathBuf, key_id: u32 },
    #[error("record payload of {len} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge { len: usize, max: usize },
    #[error("record type {0:#06x} is reserved for the WAL itself (user types are below 0xff00)")]
    ReservedRecordType(u16),
    #[error("invalid option {name}: {detail}")]
    InvalidOption { name: &'static str, detail: String },
    #[error("the WAL directory {} is in use by another process", path.display())]
    Locked { path: PathBuf },
    #[error("the LSN space is exhausted (2^63-1 records were appended)")]
    LsnExhausted,
    #[error("the WAL is closed")]
    Closed,
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
}

fn fmt_lsn(lsn: Option<u64>) -> String {
    lsn.map(|l| format!(" (LSN {l})")).unwrap_or_default()
}

impl WalError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        WalError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The corruption details, if this error reports damaged data.
    pub fn corruption(&self) -> Option<&Corruption> {
        match self {
            WalError::Corrupt { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

pub type Result<T, E = WalError> = std::result::Result<T, E>;
