//! cairn-wal: the durable, segmented write-ahead log everything in cairn stands on.
//!
//! It owns the promise that an acknowledged write survives `kill -9` and power loss:
//! [`Wal::append_durable`] returns only after an `fdatasync` covering the record. It assigns
//! LSNs (dense, increasing, never reused, never going backwards across restarts), batches
//! concurrent appends into group commits, writes segments with `O_DIRECT` and io_uring where
//! the platform allows, optionally encrypts them (AES-256-GCM), and on open recovers exactly
//! the durable prefix: a torn tail is cut, damage to possibly acknowledged data is an error
//! that names segment, offset and LSN.
//!
//! It must never: run an async runtime, interpret payloads, retry a failed `fsync`, rewrite
//! bytes of an earlier flush, append to a segment written before the current open, or
//! allocate a length read from disk before checking it against the format's cap. All file
//! access goes through [`cairn_io`]. The byte layout is in `docs/formats/wal.md`.

mod commit;
mod crypto;
mod encode;
mod error;
pub mod inspect;
mod lsn;
mod options;
mod reader;
mod record;
mod recovery;
mod replay;
mod segment;
mod wal;

pub use commit::WalStats;
pub use crypto::KeyRing;
pub use error::{Corruption, Result, WalError};
pub use lsn::{Lsn, LsnRange};
pub use options::{BackendChoice, DirectIo, RecoveryPolicy, WalOptions};
pub use record::{MAX_PAYLOAD_BYTES, RECORD_HEADER_BYTES, RESERVED_TYPE_START, Record, WalRecord};
pub use recovery::TornTail;
pub use replay::Replay;
pub use segment::{
    BLOCK_BYTES, FORMAT_VERSION, SEGMENT_HEADER_BYTES, SegmentHeader, parse_segment_file_name,
    segment_file_name,
};
pub use wal::{IoPath, RecoveryReport, SegmentInfo, TruncateReport, Wal};

/// Decoders exposed for fuzzing and the `inspect` tool: each takes untrusted bytes and returns
/// a value or a typed [`Corruption`], never panics.
pub mod decode {
    pub use crate::record::FrameHeader;
    pub use crate::segment::SegmentHeader;
}
