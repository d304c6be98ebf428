//! cairn-storage: the packed partition file, cairn's immutable on-disk unit of columnar data.
//!
//! One file holds one chunk of a collection's time partition: every column cut into pages of
//! `page_rows` rows, each page compressed (cairn-codec), checksummed (CRC32C) and optionally
//! encrypted (AES-256-GCM) on its own; then the sparse time index, the footer (schema,
//! partition metadata, every page's extent, row and null counts and min/max, per-column
//! totals) and a 14-byte tail. Readers open with the tail and footer only and fetch exactly
//! the pages a request needs, from local disk or, by byte ranges, from object storage.
//!
//! It must never: read a whole file to serve part of it, trust a length or count from disk
//! before checking it, build a path from a user string, or leave a partially written file
//! under a final name (write to a temporary name, fsync, rename, fsync the directory). All
//! file access goes through [`cairn_io`]. The byte layout is in `docs/formats/partition.md`.

// Errors carry the file path and context by value; they are built only on failure paths,
// so their size costs nothing where it matters.
#![allow(clippy::result_large_err)]

mod cipher;
mod column;
mod error;
mod footer;
mod reader;
mod schema;
mod source;
mod sparse;
mod stats;
mod tail;
mod writer;

pub use column::{Column, ColumnData};
pub use error::{Result, StorageError};
pub use footer::{
    ColumnMeta, DictionaryMeta, EncryptionMeta, Extent, Footer, FooterError, PageMeta,
    SparseIndexMeta,
};
pub use reader::{PartitionReader, ReadOptions};
pub use schema::{ColumnRole, ColumnSpec, ColumnType, MAX_COLUMN_NAME_BYTES, MAX_COLUMNS, Schema};
pub use source::{ByteSource, CountingSource, FileSource, MemSource};
pub use stats::{StatValue, Stats};
pub use tail::{FORMAT_VERSION, MAGIC, TAIL_BYTES, Tail};
pub use writer::{
    ColumnInput, DictionaryPolicy, PartitionInfo, WriteOptions, WrittenPartition, tmp_path,
    write_partition,
};

/// Decoders exposed for fuzzing and tools (`cairn inspect`).
pub mod decode {
    pub use crate::footer::page_count;
    pub use crate::sparse::decode as sparse_index;
}
