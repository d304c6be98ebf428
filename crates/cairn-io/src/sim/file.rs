//! Handles to simulated files. A handle names an inode, not a path, so it keeps working
//! across renames and removals, and it dies with the epoch it was opened in.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::state::{Inner, Ino, MAX_FILE_BYTES, PendingOp, os_error, write_into};
use super::types::OpKind;
use crate::{DIRECT_IO_ALIGN, File};

/// Locks the shared state. A panic while holding the lock (only tests panic) leaves the state
/// consistent enough to inspect, so poisoning is ignored.
pub(super) fn lock(shared: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What every call on a handle from before a crash returns.
pub(super) fn stale_handle() -> io::Error {
    io::Error::other("handle from before a simulated crash")
}

/// An open simulated file.
pub(super) struct SimFile {
    pub(super) shared: Arc<Mutex<Inner>>,
    pub(super) ino: Ino,
    pub(super) epoch: u64,
    pub(super) writable: bool,
    pub(super) direct: bool,
}

impl std::fmt::Debug for SimFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimFile")
            .field("ino", &self.ino)
            .field("epoch", &self.epoch)
            .field("writable", &self.writable)
            .field("direct", &self.direct)
            .finish()
    }
}

/// `EINVAL` for an `O_DIRECT` transfer whose offset, length or memory address is not a
/// multiple of [`DIRECT_IO_ALIGN`], as ext4 answers (tmpfs would accept it).
fn check_direct(direct: bool, addr: *const u8, len: usize, offset: u64) -> io::Result<()> {
    let align = DIRECT_IO_ALIGN as u64;
    let aligned = offset.is_multiple_of(align)
        && len.is_multiple_of(DIRECT_IO_ALIGN)
        && (addr as usize).is_multiple_of(DIRECT_IO_ALIGN);
    if direct && !aligned {
        Err(os_error(libc::EINVAL))
    } else {
        Ok(())
    }
}

/// `EFBIG` past the simulation's largest file; the end offset otherwise.
fn end_offset(offset: u64, len: u64) -> io::Result<u64> {
    offset
        .checked_add(len)
        .filter(|&end| end <= MAX_FILE_BYTES)
        .ok_or_else(|| os_error(libc::EFBIG))
}

impl SimFile {
    /// Runs `body` on the shared state after the stale-handle check and, if `op` is given,
    /// after counting the call and firing any fault armed for it.
    fn call<T>(
        &self,
        op: Option<OpKind>,
        body: impl FnOnce(&mut Inner, Ino) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut inner = lock(&self.shared);
        if inner.epoch != self.epoch {
            return Err(stale_handle());
        }
        if let Some(op) = op {
            inner.enter(op)?;
        }
        body(&mut inner, self.ino)
    }
}

impl File for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.call(Some(OpKind::Read), |inner, ino| {
            check_direct(self.direct, buf.as_ptr(), buf.len(), offset)?;
            let content = &inner.inode(ino)?.current;
            let start = (offset.min(content.len() as u64)) as usize;
            let n = buf.len().min(content.len() - start);
            buf[..n].copy_from_slice(&content[start..start + n]);
            inner.stats.bytes_read += n as u64;
            Ok(n)
        })
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.call(Some(OpKind::Write), |inner, ino| {
            if !self.writable {
                return Err(os_error(libc::EBADF));
            }
            check_direct(self.direct, buf.as_ptr(), buf.len(), offset)?;
            let len = buf.len() as u64;
            let end = end_offset(offset, len)?;
            let current_len = inner.inode(ino)?.current.len() as u64;
            if len > 0 {
                inner.check_capacity(end.saturating_sub(current_len))?;
            }
            let forbid = inner.forbid_durable_overwrite;
            let inode = inner.inode_mut(ino)?;
            let violation = (forbid && inode.durable_written.intersects_bytes(offset, len))
                .then(|| format!("{}: {len} bytes at offset {offset}", inode.path.display()));
            write_into(&mut inode.current, offset, buf);
            if len > 0 {
                inode.pending.push(PendingOp::Write {
                    offset,
                    bytes: buf.to_vec(),
                });
            }
            inner.overwrite_violations.extend(violation);
            inner.stats.bytes_written += len;
            Ok(())
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        self.call(Some(OpKind::SyncData), |inner, ino| {
            inner.inode_mut(ino)?.sync();
            Ok(())
        })
    }

    fn len_bytes(&self) -> io::Result<u64> {
        self.call(
            None,
            |inner, ino| Ok(inner.inode(ino)?.current.len() as u64),
        )
    }

    fn set_len(&self, len_bytes: u64) -> io::Result<()> {
        self.call(Some(OpKind::SetLen), |inner, ino| {
            if !self.writable {
                return Err(os_error(libc::EINVAL));
            }
            end_offset(len_bytes, 0)?;
            let inode = inner.inode_mut(ino)?;
            let op = PendingOp::SetLen(len_bytes);
            op.apply(&mut inode.current);
            inode.pending.push(op);
            Ok(())
        })
    }

    fn preallocate(&self, len_bytes: u64) -> io::Result<()> {
        self.call(Some(OpKind::Preallocate), |inner, ino| {
            if !self.writable {
                return Err(os_error(libc::EBADF));
            }
            end_offset(len_bytes, 0)?;
            let current_len = inner.inode(ino)?.current.len() as u64;
            inner.check_capacity(len_bytes.saturating_sub(current_len))?;
            let inode = inner.inode_mut(ino)?;
            let op = PendingOp::Preallocate(len_bytes);
            op.apply(&mut inode.current);
            inode.pending.push(op);
            Ok(())
        })
    }

    fn is_direct(&self) -> bool {
        self.direct
    }
}

impl Drop for SimFile {
    fn drop(&mut self) {
        let mut inner = lock(&self.shared);
        if inner.epoch == self.epoch
            && let Some(inode) = inner.inodes.get_mut(&self.ino)
        {
            inode.open_handles = inode.open_handles.saturating_sub(1);
        }
    }
}
