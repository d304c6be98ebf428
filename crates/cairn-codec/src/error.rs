//! The one error type of the codec crate. Every decoder takes untrusted bytes and returns
//! `Ok` or one of these; none panics, none allocates more than its header justifies.

/// Why bytes could not be decoded (or values encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended before a field or section that the header promised.
    #[error("truncated {what}: needed {needed} bytes at offset {offset}, {available} available")]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// An id byte (codec, type, outer stage) this version does not know.
    #[error("unknown {what} id {id}")]
    UnknownId { what: &'static str, id: u8 },
    /// A header field is outside what the format allows.
    #[error("invalid {field}: {value} (allowed: {allowed})")]
    Invalid {
        field: &'static str,
        value: u64,
        allowed: &'static str,
    },
    /// The bytes decoded, but not to what the header said (lengths, counts, trailing bytes).
    #[error("inconsistent {what}: expected {expected}, found {found}")]
    Mismatch {
        what: &'static str,
        expected: u64,
        found: u64,
    },
    /// A string column held bytes that are not UTF-8.
    #[error("string value {index} is not valid UTF-8")]
    InvalidUtf8 { index: usize },
    /// The LZ4 or zstd stage rejected its input.
    #[error("{stage} stage failed: {reason}")]
    Decompress { stage: &'static str, reason: String },
    /// Input the encoder cannot represent (for example a page over the size cap).
    #[error("cannot encode: {0}")]
    Unencodable(&'static str),
}

pub type Result<T, E = CodecError> = std::result::Result<T, E>;
