//! The one error type of the storage crate. Every corruption names the file, the byte offset
//! and what was expected, so an operator can find the damage.

use std::path::PathBuf;

use cairn_codec::CodecError;

/// What went wrong reading or writing a partition file.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is shorter than its manifest entry says, or shorter than a tail.
    #[error("{path}: truncated: {actual_len} bytes, expected {expected_len}")]
    Truncated {
        path: PathBuf,
        expected_len: u64,
        actual_len: u64,
    },
    /// The last four bytes are not the partition magic.
    #[error(
        "{path}: bad magic {found:02x?} at offset {offset}, expected {expected:02x?} \
         (not a cairn partition file, or its end was cut or overwritten)"
    )]
    BadMagic {
        path: PathBuf,
        offset: u64,
        found: [u8; 4],
        expected: [u8; 4],
    },
    #[error("{path}: format version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        path: PathBuf,
        found: u16,
        supported: u16,
    },
    #[error("{path}: footer length {footer_len} does not fit in a {file_len}-byte file")]
    FooterLengthBeyondFile {
        path: PathBuf,
        footer_len: u64,
        file_len: u64,
    },
    #[error(
        "{path}: footer checksum mismatch at offset {offset}: stored {stored:#010x}, computed {computed:#010x}"
    )]
    FooterChecksum {
        path: PathBuf,
        offset: u64,
        stored: u32,
        computed: u32,
    },
    /// The footer's checksum matched but its content is not a valid footer.
    #[error("{path}: corrupt footer at byte {offset} of the footer: {reason}")]
    FooterCorrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(
        "{path}: checksum mismatch in {what} of column {column:?} at offset {offset} \
         ({len} bytes): stored {stored:#010x}, computed {computed:#010x}"
    )]
    PageChecksum {
        path: PathBuf,
        column: String,
        what: String,
        offset: u64,
        len: u64,
        stored: u32,
        computed: u32,
    },
    /// A page's checksum matched but it does not decode (or disagrees with the footer).
    #[error("{path}: corrupt {what} of column {column:?} at offset {offset}: {source}")]
    PageCorrupt {
        path: PathBuf,
        column: String,
        what: String,
        offset: u64,
        #[source]
        source: CodecError,
    },
    /// An encrypted page failed authentication although its checksum matched: it was
    /// modified deliberately (the checksum was recomputed) or written under another key.
    #[error(
        "{path}: {what} of column {column:?} at offset {offset} failed authentication (tampered)"
    )]
    TamperedPage {
        path: PathBuf,
        column: String,
        what: String,
        offset: u64,
    },
    #[error("{path}: the footer failed authentication (tampered)")]
    TamperedFooter { path: PathBuf },
    #[error("{path}: wrong key for key id {key_id} (the key check value differs)")]
    WrongKey { path: PathBuf, key_id: u32 },
    #[error("{path}: encrypted with key id {key_id}, which the key ring does not hold")]
    MissingKey { path: PathBuf, key_id: u32 },
    #[error("{path}: the file is encrypted; open it with a key ring")]
    KeyRequired { path: PathBuf },
    /// What the caller asked to write cannot be written.
    #[error("cannot write partition: {0}")]
    InvalidInput(String),
    #[error("no column {0:?} in this partition")]
    NoSuchColumn(String),
    #[error("encoding column {column:?}: {source}")]
    Encode {
        column: String,
        #[source]
        source: CodecError,
    },
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
