//! io_uring write and fdatasync submissions for [`crate::RealFs`] with [`crate::Backend::IoUring`].

use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;

use io_uring::{IoUring, opcode, types};

/// One small ring per open file. Submissions are synchronous (submit, wait for the
/// completion): the WAL overlaps work across its writer and sync threads, not inside a ring.
pub(crate) struct Ring {
    ring: Mutex<IoUring>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ring")
    }
}

const RING_ENTRIES: u32 = 8;

/// Whether io_uring can be set up here and supports WRITE and FSYNC.
pub(crate) fn available() -> bool {
    let Ok(ring) = IoUring::new(RING_ENTRIES) else {
        return false;
    };
    let mut probe = io_uring::Probe::new();
    if ring.submitter().register_probe(&mut probe).is_err() {
        return false;
    }
    probe.is_supported(opcode::Write::CODE) && probe.is_supported(opcode::Fsync::CODE)
}

impl Ring {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self {
            ring: Mutex::new(IoUring::new(RING_ENTRIES)?),
        })
    }

    /// Submits one entry and waits for its completion; returns the completion's result.
    fn submit_one(&self, entry: io_uring::squeue::Entry) -> io::Result<i32> {
        let mut ring = self
            .ring
            .lock()
            .map_err(|_| io::Error::other("io_uring lock poisoned"))?;
        // SAFETY: the buffers referenced by `entry` are borrowed by our caller for the whole
        // call, and we wait for the completion before returning.
        unsafe {
            ring.submission()
                .push(&entry)
                .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        }
        loop {
            match ring.submit_and_wait(1) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let cqe = ring
            .completion()
            .next()
            .ok_or_else(|| io::Error::other("io_uring completion missing"))?;
        let res = cqe.result();
        if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else {
            Ok(res)
        }
    }

    pub(crate) fn write_all_at(&self, fd: RawFd, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let rest = &buf[done..];
            let len = u32::try_from(rest.len()).unwrap_or(!4095);
            let entry = opcode::Write::new(types::Fd(fd), rest.as_ptr(), len)
                .offset(offset + done as u64)
                .build();
            let written = self.submit_one(entry)?;
            if written == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "io_uring write returned 0",
                ));
            }
            done += written as usize;
        }
        Ok(())
    }

    pub(crate) fn fdatasync(&self, fd: RawFd) -> io::Result<()> {
        let entry = opcode::Fsync::new(types::Fd(fd))
            .flags(types::FsyncFlags::DATASYNC)
            .build();
        self.submit_one(entry).map(|_| ())
    }
}
