//! A deterministic, seeded, in-memory file system for crash and fault tests.
//!
//! [`SimFs`] keeps, per file, the durable content and the ordered list of writes (and size
//! changes) since the last `sync_data`, and per directory the durable entries and the entry
//! changes since the last `sync_dir`. [`SimFs::crash`] then decides, with an RNG seeded from
//! a `u64`, which unsynced changes survive power loss under a [`CrashModel`], so a failing
//! seed reproduces exactly. Faults ([`SimFs::fail_after`], [`SimFs::fail_always`], a
//! capacity limit), corruption at rest ([`SimFs::flip_bit`] and friends), ext4's `O_DIRECT`
//! alignment rule and a detector for rewrites of acknowledged sectors
//! ([`SimFs::set_forbid_durable_overwrite`]) cover what the write-ahead log must survive.
//!
//! Paths are normalised by components and relative ones are taken relative to `/`;
//! directories exist durably once created (only their file entries can be lost). Errors are
//! raw OS errors (`ENOENT`, `EEXIST`, `EINVAL`, `ENOSPC`, `EIO`, ...) as the kernel gives.

mod crash;
mod file;
mod fs_impl;
mod sectors;
mod state;
mod types;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::RngCore;

pub use types::{CrashModel, FaultKind, OpKind, SimStats};

use state::{Inner, Inode, normalize, os_error, split};

/// The simulated file system. Clones share one state, so a test can keep a clone to crash
/// or inspect what the code under test writes through another.
#[derive(Clone)]
pub struct SimFs {
    shared: Arc<Mutex<Inner>>,
    seed: u64,
}

impl std::fmt::Debug for SimFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimFs")
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Default for SimFs {
    /// Seed 0, [`CrashModel::AnySubset`].
    fn default() -> Self {
        Self::new(0)
    }
}

impl SimFs {
    /// An empty file system (only `/`) whose crashes use [`CrashModel::AnySubset`].
    pub fn new(seed: u64) -> Self {
        Self::with_crash_model(seed, CrashModel::AnySubset)
    }

    /// An empty file system whose [`SimFs::crash`] uses `model`.
    pub fn with_crash_model(seed: u64, model: CrashModel) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Inner::new(seed, model))),
            seed,
        }
    }

    /// The seed this file system was made with, for failure messages.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        file::lock(&self.shared)
    }

    /// The model [`SimFs::crash`] uses.
    pub fn crash_model(&self) -> CrashModel {
        self.lock().crash_model
    }

    /// Changes the model [`SimFs::crash`] uses.
    pub fn set_crash_model(&self, model: CrashModel) {
        self.lock().crash_model = model;
    }

    /// Power loss now, under the default model: see [`SimFs::crash_with`].
    pub fn crash(&self) {
        let model = self.crash_model();
        self.crash_with(model);
    }

    /// Power loss (or `kill -9` followed by the page cache going away) now, under `model`.
    /// Afterwards every handle and lock guard from before is dead (handles fail every call
    /// with `ErrorKind::Other`), and new opens see the post-crash state, in which
    /// everything is durable. Armed faults, counters and the capacity stay.
    pub fn crash_with(&self, model: CrashModel) {
        crash::crash(&mut self.lock(), model);
    }

    /// Makes call number `nth` (0-based, counted from now) of `op` fail with `kind`, once.
    /// A failed call changes nothing: a failed write lands no byte, a failed `sync_data`
    /// leaves its writes unsynced (to be dropped or torn by a later crash, as Linux may drop
    /// dirty pages after a failed flush).
    pub fn fail_after(&self, op: OpKind, nth: u64, kind: FaultKind) {
        let mut inner = self.lock();
        let index = inner.stats.calls(op) + nth;
        inner.faults.arm_once(op, index, kind);
    }

    /// Makes every future call of `op` fail with `kind` until [`SimFs::clear_faults`].
    pub fn fail_always(&self, op: OpKind, kind: FaultKind) {
        self.lock().faults.arm_always(op, kind);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Limits the sum of the current sizes of all files (named or open) to `capacity_bytes`:
    /// a write or preallocation that would pass it fails with `ENOSPC` and changes nothing.
    /// `set_len` extensions are sparse and never fail this way.
    pub fn set_capacity_bytes(&self, capacity_bytes: Option<u64>) {
        self.lock().capacity_bytes = capacity_bytes;
    }

    /// The sum the capacity limit is checked against.
    pub fn usage_bytes(&self) -> u64 {
        self.lock().usage_bytes()
    }

    /// Call counters so far.
    pub fn stats(&self) -> SimStats {
        self.lock().stats
    }

    /// When on, every write touching a 512-byte sector that holds bytes a synced write put
    /// there records a violation (the write still happens), even if it writes the same
    /// bytes: the WAL must never rewrite a sector holding acknowledged data, because a torn
    /// rewrite destroys it. Zeros from `set_len` or `preallocate` are not protected.
    pub fn set_forbid_durable_overwrite(&self, forbid: bool) {
        self.lock().forbid_durable_overwrite = forbid;
    }

    /// The violations recorded so far, as `"<path>: <len> bytes at offset <offset>"`.
    pub fn overwrite_violations(&self) -> Vec<String> {
        self.lock().overwrite_violations.clone()
    }

    /// Applies `change` to `[offset, offset + len_bytes)` of both the durable and the
    /// current content of the file at `path` (corruption at rest hits the platter and the
    /// page cache alike), where those bytes exist. `EINVAL` if the range passes the current
    /// end.
    fn corrupt(
        &self,
        path: &Path,
        offset: u64,
        len_bytes: u64,
        change: Corruption,
    ) -> io::Result<()> {
        let mut inner = self.lock();
        let (_, _, ino) = inner.resolve_file(path)?;
        check_range(inner.inode(ino)?.current.len(), offset, len_bytes)?;
        let garbage = match change {
            Corruption::Garbage => {
                let mut garbage = vec![0u8; len_bytes as usize];
                inner.rng.fill_bytes(&mut garbage);
                garbage
            }
            _ => Vec::new(),
        };
        let inode = inner.inode_mut(ino)?;
        for content in [&mut inode.durable, &mut inode.current] {
            let Some(range) = clip(content.len(), offset, len_bytes) else {
                continue;
            };
            let n = range.len();
            match change {
                Corruption::FlipBit(bit) => content[range].iter_mut().for_each(|b| *b ^= 1 << bit),
                Corruption::Zero => content[range].fill(0),
                Corruption::Garbage => content[range].copy_from_slice(&garbage[..n]),
            }
        }
        Ok(())
    }

    /// Flips bit `bit` (0 = least significant, taken mod 8) of byte `byte_offset`. `EINVAL`
    /// if the byte is past the current end.
    pub fn flip_bit(&self, path: &Path, byte_offset: u64, bit: u8) -> io::Result<()> {
        self.corrupt(path, byte_offset, 1, Corruption::FlipBit(bit % 8))
    }

    /// Zeroes `[offset, offset + len_bytes)`. `EINVAL` if the range passes the current end.
    pub fn zero_range(&self, path: &Path, offset: u64, len_bytes: u64) -> io::Result<()> {
        self.corrupt(path, offset, len_bytes, Corruption::Zero)
    }

    /// Overwrites `[offset, offset + len_bytes)` with seeded random bytes (the same bytes in
    /// the durable and the current content). `EINVAL` if the range passes the current end.
    pub fn write_garbage(&self, path: &Path, offset: u64, len_bytes: u64) -> io::Result<()> {
        self.corrupt(path, offset, len_bytes, Corruption::Garbage)
    }

    /// Truncates (or zero-extends) the file to `len_bytes` durably, as if the tail had been
    /// lost at rest. Unsynced writes stay pending and a crash may still replay them.
    pub fn truncate_file(&self, path: &Path, len_bytes: u64) -> io::Result<()> {
        if len_bytes > state::MAX_FILE_BYTES {
            return Err(os_error(libc::EFBIG));
        }
        let mut inner = self.lock();
        let (_, _, ino) = inner.resolve_file(path)?;
        let inode = inner.inode_mut(ino)?;
        inode.durable.resize(len_bytes as usize, 0);
        inode.current.resize(len_bytes as usize, 0);
        inode.durable_written.truncate_bytes(len_bytes);
        inode.pending.push(state::PendingOp::SetLen(len_bytes));
        Ok(())
    }

    /// The current content of the file at `path` (what reads return).
    pub fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        let inner = self.lock();
        let (_, _, ino) = inner.resolve_file(path)?;
        Ok(inner.inode(ino)?.current.clone())
    }

    /// The durable content of the file at `path`: what a crash under
    /// [`CrashModel::DropUnsynced`] would leave, if its entry is durable too.
    pub fn read_file_durable(&self, path: &Path) -> io::Result<Vec<u8>> {
        let inner = self.lock();
        let (_, _, ino) = inner.resolve_file(path)?;
        Ok(inner.inode(ino)?.durable.clone())
    }

    /// The names of the files (not subdirectories) currently in `dir`, sorted.
    pub fn file_names(&self, dir: &Path) -> io::Result<Vec<String>> {
        Ok(self
            .lock()
            .dir(&normalize(dir))?
            .current
            .keys()
            .cloned()
            .collect())
    }

    /// Creates or replaces the file at `path` with `bytes`, content and entry durable, for
    /// fixtures. Missing parent directories are created. The bytes count as written by a
    /// synced write for the overwrite detector.
    pub fn write_file_durable(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let path = normalize(path);
        let (dir, name) = split(&path).ok_or_else(|| os_error(libc::EISDIR))?;
        crate::Fs::create_dir_all(self, &dir)?;
        let mut inner = self.lock();
        if inner.dirs.contains_key(&path) {
            return Err(os_error(libc::EISDIR));
        }
        let ino = inner.new_inode();
        let mut inode = Inode {
            durable: bytes.to_vec(),
            current: bytes.to_vec(),
            ..Inode::default()
        };
        inode.durable_written.insert_bytes(0, bytes.len() as u64);
        inner.inodes.insert(ino, inode);
        inner.link(&dir, &name, ino);
        inner.commit_dir_ops(|op| op.keys().contains(&(dir.as_path(), name.as_str())));
        inner.collect_garbage();
        Ok(())
    }
}

/// How [`SimFs::corrupt`] damages a byte range.
#[derive(Debug, Clone, Copy)]
enum Corruption {
    FlipBit(u8),
    Zero,
    Garbage,
}

/// `EINVAL` unless `[offset, offset + len)` lies within `file_len` bytes.
fn check_range(file_len: usize, offset: u64, len: u64) -> io::Result<()> {
    match offset.checked_add(len) {
        Some(end) if end <= file_len as u64 => Ok(()),
        _ => Err(os_error(libc::EINVAL)),
    }
}

/// The part of `[offset, offset + len)` inside `content_len` bytes, if any.
fn clip(content_len: usize, offset: u64, len: u64) -> Option<std::ops::Range<usize>> {
    let start = offset.min(content_len as u64) as usize;
    let end = offset.saturating_add(len).min(content_len as u64) as usize;
    (start < end).then_some(start..end)
}
