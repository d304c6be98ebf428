//! cairn-io: the one seam through which cairn's storage crates touch files.
//!
//! Everything the WAL and the partition files do to a disk goes through [`Fs`] and [`File`]:
//! open (with or without `O_DIRECT`), positioned reads and writes, `fdatasync`, `set_len`,
//! preallocation, rename, remove, listing and directory fsync. Two families implement it:
//!
//! - [`RealFs`]: the operating system, with a run-time choice of write backend
//!   ([`Backend::Pwrite`] or [`Backend::IoUring`], see [`Backend::detect`]);
//! - [`SimFs`]: a deterministic in-memory file system that keeps durable and unsynced state
//!   apart and, driven by a seed, crashes (dropping or tearing unsynced writes at any byte),
//!   flips bits, zeroes sectors and fails calls with `ENOSPC` or `EIO`.
//!
//! This crate must never interpret file contents, never retry a failed `fsync` (after a failed
//! flush the kernel may have dropped the dirty pages; see PostgreSQL's fsync fix) and never
//! swallow an error: every call returns the OS (or simulated) error unchanged.

mod aligned;
mod real;
pub mod sim;
mod uring;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use aligned::AlignedBuf;
pub use real::RealFs;
pub use sim::SimFs;

/// The block size every `O_DIRECT` transfer is aligned to (offset, length and memory address).
/// The kernel accepts 512 on this machine; we use the physical block size so that the same
/// files work on 4Kn devices.
pub const DIRECT_IO_ALIGN: usize = 4096;

/// How a file is opened. Mirrors the subset of `std::fs::OpenOptions` the storage crates use,
/// plus `direct` for `O_DIRECT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    pub write: bool,
    /// Create the file if it does not exist.
    pub create: bool,
    /// Fail with `AlreadyExists` if the file exists.
    pub create_new: bool,
    /// Bypass the page cache: every transfer must be aligned to [`DIRECT_IO_ALIGN`].
    pub direct: bool,
}

impl OpenOptions {
    /// Read only.
    pub fn read() -> Self {
        Self::default()
    }
    /// Read and write an existing file.
    pub fn read_write() -> Self {
        Self {
            write: true,
            ..Self::default()
        }
    }
    /// Create a new file for reading and writing; fails if it exists.
    pub fn create_new() -> Self {
        Self {
            write: true,
            create: true,
            create_new: true,
            direct: false,
        }
    }
    pub fn with_direct(mut self, direct: bool) -> Self {
        self.direct = direct;
        self
    }
}

/// One directory entry as [`Fs::list_dir`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub len_bytes: u64,
    pub is_dir: bool,
}

/// An open file. All methods take `&self` so that one thread may write while another syncs.
pub trait File: Send + Sync + std::fmt::Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns the count (0 at end of file).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset` (looping over short writes).
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// `fdatasync`: data and the metadata needed to read it back (size) are durable.
    fn sync_data(&self) -> io::Result<()>;
    /// Current length in bytes.
    fn len_bytes(&self) -> io::Result<u64>;
    /// Truncates or extends the file to `len_bytes`.
    fn set_len(&self, len_bytes: u64) -> io::Result<()>;
    /// Reserves space for `len_bytes` without changing what reads return (`fallocate` with
    /// `FALLOC_FL_KEEP_SIZE` semantics are not used: the file size becomes at least
    /// `len_bytes` and the new range reads as zeros).
    fn preallocate(&self, len_bytes: u64) -> io::Result<()>;
    /// Whether the file was opened with `O_DIRECT` (transfers must be aligned).
    fn is_direct(&self) -> bool;

    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_at(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "short read: {} of {} bytes at offset {offset}",
                        done,
                        buf.len()
                    ),
                ));
            }
            done += n;
        }
        Ok(())
    }
    /// Appends `buf` at the current end of the file.
    fn append(&self, buf: &[u8]) -> io::Result<u64> {
        let offset = self.len_bytes()?;
        self.write_all_at(buf, offset)?;
        Ok(offset)
    }
}

/// A shared open file handle.
pub type FileRef = Arc<dyn File>;

/// A file system: where files live and how names change.
pub trait Fs: Send + Sync + std::fmt::Debug {
    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<FileRef>;
    /// Atomically renames `from` to `to`, replacing `to` if it exists. Not durable until the
    /// parent directory is synced with [`Fs::sync_dir`].
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file. Not durable until the parent directory is synced.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents (durably: each created level's parent is synced).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Lists a directory's entries (not `.` and `..`), in no particular order.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>>;
    /// Makes the directory's entries (creates, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Takes an exclusive advisory lock on `path` (created if missing) for as long as the
    /// returned guard lives; fails with `WouldBlock` if another holder has it. Two writers on
    /// one data directory are refused this way.
    fn lock_exclusive(&self, path: &Path) -> io::Result<LockGuard>;
}

/// Holds an exclusive lock taken by [`Fs::lock_exclusive`] until dropped.
#[derive(Debug)]
pub struct LockGuard {
    _inner: Box<dyn std::any::Any + Send + Sync>,
    path: PathBuf,
}

impl LockGuard {
    pub fn new(inner: Box<dyn std::any::Any + Send + Sync>, path: PathBuf) -> Self {
        Self {
            _inner: inner,
            path,
        }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Shared file-system handle.
pub type FsRef = Arc<dyn Fs>;

/// The write backend of the real file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `pwrite` + `fdatasync` system calls.
    Pwrite,
    /// io_uring `WRITE` and `FSYNC(DATASYNC)` submissions.
    IoUring,
}

impl Backend {
    /// io_uring if the kernel lets this process set up a ring and it supports the opcodes we
    /// use; `Pwrite` otherwise (containers often forbid io_uring with seccomp or
    /// `kernel.io_uring_disabled`).
    pub fn detect() -> Backend {
        if uring::available() {
            Backend::IoUring
        } else {
            Backend::Pwrite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Pwrite => "pwrite",
            Backend::IoUring => "io_uring",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Rounds `n` up to a multiple of `align` (a power of two).
pub fn align_up(n: u64, align: u64) -> u64 {
    debug_assert!(align.is_power_of_two());
    (n + align - 1) & !(align - 1)
}

/// Whether `path`'s file system accepts `O_DIRECT` with aligned transfers; probes by creating
/// and removing a small file in `dir`. Never answers `true` for a file system that ignores
/// the flag's alignment rules silently (tmpfs): such a file system also accepts our aligned
/// writes, so the answer only governs whether we ask for `O_DIRECT`.
pub fn probe_direct_io(fs: &dyn Fs, dir: &Path) -> bool {
    let probe = dir.join(".cairn-odirect-probe");
    let result = (|| -> io::Result<()> {
        if fs.exists(&probe)? {
            fs.remove_file(&probe)?;
        }
        let file = fs.open(&probe, OpenOptions::create_new().with_direct(true))?;
        let mut buf = AlignedBuf::with_capacity(DIRECT_IO_ALIGN);
        buf.extend_from_slice(&[0u8; DIRECT_IO_ALIGN]);
        file.write_all_at(buf.as_slice(), 0)?;
        file.sync_data()
    })();
    let removed = fs.remove_file(&probe);
    result.is_ok() && removed.is_ok()
}
