//! How a WAL is opened.

use crate::crypto::KeyRing;
use crate::record::MAX_PAYLOAD_BYTES;

/// Whether segment files bypass the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DirectIo {
    /// Use `O_DIRECT` if a probe write in the WAL directory succeeds; buffered otherwise.
    #[default]
    Auto,
    /// Require `O_DIRECT`; opening fails where the file system refuses it.
    On,
    /// Always use the page cache.
    Off,
}

/// Which system calls write and sync segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// io_uring where the kernel allows it, `pwrite` + `fdatasync` otherwise.
    #[default]
    Auto,
    /// Require io_uring.
    IoUring,
    /// `pwrite` + `fdatasync`.
    Pwrite,
}

/// What recovery does with damaged records that may have been acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryPolicy {
    /// Refuse to open (or to replay) and name the segment, offset and LSN. Only a torn tail
    /// of the last segment, which provably held no acknowledged record, is cut off.
    #[default]
    Strict,
    /// Stop at the first damaged record: keep everything before it, drop it and everything
    /// after it, and report what was dropped. Chosen explicitly by an operator.
    Salvage,
}

/// Options of [`crate::Wal::open`].
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// A segment is rolled over once it would grow past this many bytes (soft limit: a batch
    /// is never split across segments). Segments are preallocated to this size.
    pub segment_target_bytes: u64,
    pub direct_io: DirectIo,
    pub backend: BackendChoice,
    pub recovery: RecoveryPolicy,
    /// Encrypt new segments with the ring's current key; read old segments with the key
    /// their header names.
    pub key_ring: Option<KeyRing>,
    /// Largest payload accepted by `append` (at most 64 MiB).
    pub max_record_bytes: usize,
    /// Appenders wait once this many bytes are queued and not yet written (backpressure).
    pub max_pending_bytes: usize,
    /// Read and check every sealed segment when opening (CRCs, LSN continuity, and the
    /// authentication tag of every encrypted record). The last segment is always scanned.
    pub verify_on_open: bool,
    /// Preallocate each segment to `segment_target_bytes` when it is created.
    pub preallocate: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            segment_target_bytes: 64 << 20,
            direct_io: DirectIo::Auto,
            backend: BackendChoice::Auto,
            recovery: RecoveryPolicy::Strict,
            key_ring: None,
            max_record_bytes: MAX_PAYLOAD_BYTES,
            max_pending_bytes: 64 << 20,
            verify_on_open: true,
            preallocate: true,
        }
    }
}
