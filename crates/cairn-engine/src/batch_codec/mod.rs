//! The write-batch record: the one format-independent WAL payload every write is logged as
//! (line protocol, SQL `INSERT`, embedded `RecordBatch`es all become one of these).
//!
//! Encoding is a near-memcpy of the Arrow buffers. Decoding runs in recovery over whatever is
//! on disk, so it treats the bytes as untrusted: it never panics, allocates no more than the
//! payload length implies (plus a small constant per column), and rejects every inconsistency
//! with a typed [`BatchCodecError`]. A record that decodes re-encodes to the same bytes (the
//! encoding is canonical), which the tests check.
//!
//! # Format (version 1; all integers little-endian)
//!
//! ```text
//! offset  size  field
//! 0       4     magic "CWB1" (bytes 0x43 0x57 0x42 0x31)
//! 4       8     collection_id (u64)
//! 12      4     rows (u32), shared by every column; 0 is allowed
//! 16      2     column count (u16), >= 1
//! 18      ...   columns, each:
//!                 2     name length n (u16), 1..=255
//!                 n     name, UTF-8; names are unique within a record
//!                 1     ColumnType id (cairn_storage::ColumnType::id: 1 Timestamp, 2 I64,
//!                       3 U64, 4 F64, 5 Bool, 6 String)
//!                 1     flags: bit 0 = validity present; every other bit is 0
//!                 [ceil(rows/8) validity bytes, only when bit 0 is set: Arrow LSB-first bit
//!                  order, 1 = valid; at least one bit is 0 (else the flag must be clear);
//!                  padding bits of the last byte are 0]
//!                 values:
//!                   Timestamp, I64, U64, F64: rows * 8 bytes (i64/i64/u64/f64 bit patterns)
//!                   Bool: ceil(rows/8) bytes, LSB-first bits, padding bits of the last byte 0
//!                   String: u64 data length D (<= i32::MAX, Arrow's Utf8 limit),
//!                           rows * u32 END offsets (end of each value within the data;
//!                           non-decreasing, the last == D; 0 rows means D == 0; every
//!                           offset falls on a UTF-8 character boundary),
//!                           D bytes of UTF-8 data
//! end-4   4     CRC32C (Castagnoli) of every byte before it
//! ```
//!
//! Values of null slots are whatever Arrow held (strings of null slots may be non-empty); they
//! are stored and restored unchanged.
//!
//! Arrow mapping ([`arrow_type`]): Timestamp is `Timestamp(Nanosecond, "UTC")`, I64 `Int64`,
//! U64 `UInt64`, F64 `Float64`, Bool `Boolean`, String `Utf8`. Decoded schemas name fields by
//! the column names, with those types, all nullable.

mod decode;
mod encode;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, DataType, TimeUnit};
use cairn_storage::ColumnType;

pub use decode::decode;
pub use encode::{encode, encoded_len};

/// The first four bytes of every record.
pub const MAGIC: [u8; 4] = *b"CWB1";
/// Bytes before the first column: magic, collection id, rows, column count.
pub const HEADER_BYTES: usize = 18;
/// Bytes of the trailing CRC32C.
pub const CRC_BYTES: usize = 4;
/// Longest column name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// Flags bit 0: a validity bitmap follows.
const FLAG_VALIDITY: u8 = 1;

/// One column of a decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchColumn {
    pub name: String,
    pub column_type: ColumnType,
}

/// A decoded record: the collection it was written to and its rows.
#[derive(Debug, Clone)]
pub struct DecodedBatch {
    pub collection_id: u64,
    pub columns: Vec<BatchColumn>,
    pub batch: RecordBatch,
}

/// The Arrow type a column of type `t` has everywhere in the engine.
pub fn arrow_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        ColumnType::I64 => DataType::Int64,
        ColumnType::U64 => DataType::UInt64,
        ColumnType::F64 => DataType::Float64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::String => DataType::Utf8,
    }
}

/// Why a batch could not be encoded, or why bytes are not a valid record. Decode errors carry
/// the byte `offset` within the record where the problem was found; `column` is the 0-based
/// column index.
#[derive(Debug, thiserror::Error)]
pub enum BatchCodecError {
    // ---- encode: the caller's batch does not fit the format ----
    #[error("batch has {columns} columns but {types} column types were given")]
    TypeCountMismatch { columns: usize, types: usize },
    #[error("column {column}: arrow type {found} does not match {column_type:?} ({expected})")]
    ArrowTypeMismatch {
        column: usize,
        column_type: ColumnType,
        expected: DataType,
        found: DataType,
    },
    #[error("batch has no columns; a record holds 1..={max}")]
    NoColumns { max: usize },
    #[error("batch has {columns} columns; a record holds at most {max}")]
    TooManyColumns { columns: usize, max: usize },
    #[error("batch has {rows} rows; a record holds at most {max}")]
    TooManyRows { rows: usize, max: usize },
    #[error("column {column}: name is {len} bytes, expected 1..={max}")]
    InvalidColumnName {
        column: usize,
        len: usize,
        max: usize,
    },

    // ---- encode and decode ----
    #[error("column {column}: duplicate column name {name:?}")]
    DuplicateColumnName { column: usize, name: String },

    // ---- decode: the bytes are not a valid record ----
    #[error("record is {len} bytes, shorter than the {min} bytes of header and CRC")]
    TooShort { len: usize, min: usize },
    #[error("bad magic {found:02x?}, expected {MAGIC:02x?}")]
    BadMagic { found: [u8; 4] },
    #[error("CRC mismatch at offset {offset}: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        offset: usize,
        stored: u32,
        computed: u32,
    },
    #[error("offset {offset}: column count is 0, expected at least 1")]
    ZeroColumns { offset: usize },
    #[error("offset {offset}: column count is {count}, at most {max} are allowed")]
    ColumnCountTooLarge {
        offset: usize,
        count: usize,
        max: usize,
    },
    #[error("offset {offset}: {what} needs {needed} bytes but only {available} remain")]
    Truncated {
        offset: usize,
        what: &'static str,
        needed: u64,
        available: usize,
    },
    #[error("offset {offset}: column {column} name length {len}, expected 1..={max}")]
    NameLength {
        column: usize,
        offset: usize,
        len: usize,
        max: usize,
    },
    #[error("offset {offset}: column {column} name is not UTF-8")]
    NameNotUtf8 { column: usize, offset: usize },
    #[error("offset {offset}: column {column} has unknown column type id {id}")]
    UnknownColumnType {
        column: usize,
        offset: usize,
        id: u8,
    },
    #[error("offset {offset}: column {column} flags {flags:#04x} set bits other than bit 0")]
    UnknownFlags {
        column: usize,
        offset: usize,
        flags: u8,
    },
    #[error("offset {offset}: column {column} has a validity bitmap without any null")]
    ValidityWithoutNulls { column: usize, offset: usize },
    #[error("offset {offset}: column {column} {what}: padding bits of the last byte are not 0")]
    NonZeroPadding {
        column: usize,
        offset: usize,
        what: &'static str,
    },
    #[error("offset {offset}: column {column} string data length {len} exceeds {max}")]
    StringDataTooLarge {
        column: usize,
        offset: usize,
        len: u64,
        max: u64,
    },
    #[error(
        "offset {offset}: column {column} row {row} end offset {found} is below the previous \
         {previous}"
    )]
    OffsetDecreasing {
        column: usize,
        offset: usize,
        row: usize,
        previous: u32,
        found: u32,
    },
    #[error(
        "offset {offset}: column {column} last end offset {found}, expected data length {expected}"
    )]
    LastOffsetMismatch {
        column: usize,
        offset: usize,
        expected: u64,
        found: u32,
    },
    #[error("offset {offset}: column {column} string data is not UTF-8")]
    InvalidUtf8 { column: usize, offset: usize },
    #[error(
        "offset {offset}: column {column} row {row} ends at data byte {value}, inside a \
         multi-byte character"
    )]
    SplitCharacter {
        column: usize,
        offset: usize,
        row: usize,
        value: u32,
    },
    #[error("offset {offset}: {count} bytes follow the last column, expected only the CRC")]
    TrailingBytes { offset: usize, count: usize },
    /// Arrow refused arrays the decoder had already validated: a bug in this module.
    #[error("arrow rejected decoded arrays: {0}")]
    Arrow(#[source] ArrowError),
}
