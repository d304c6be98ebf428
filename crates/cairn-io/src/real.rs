//! The operating system's file system, with `pwrite` or io_uring writes.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::uring::Ring;
use crate::{Backend, DIRECT_IO_ALIGN, DirEntry, File, FileRef, Fs, LockGuard, OpenOptions};

/// The real file system. Writes and data syncs go through the chosen [`Backend`]; reads and
/// metadata calls are plain system calls.
#[derive(Debug, Clone)]
pub struct RealFs {
    backend: Backend,
}

impl RealFs {
    pub fn new(backend: Backend) -> Self {
        Self { backend }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Default for RealFs {
    fn default() -> Self {
        Self::new(Backend::Pwrite)
    }
}

#[derive(Debug)]
struct RealFile {
    file: fs::File,
    direct: bool,
    ring: Option<Ring>,
}

fn check_aligned(direct: bool, buf: &[u8], offset: u64) -> io::Result<()> {
    let align = DIRECT_IO_ALIGN as u64;
    if direct
        && (!offset.is_multiple_of(align)
            || !(buf.len() as u64).is_multiple_of(align)
            || !(buf.as_ptr() as usize).is_multiple_of(DIRECT_IO_ALIGN))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "unaligned O_DIRECT transfer: {} bytes at offset {offset} from address {:p}",
                buf.len(),
                buf.as_ptr()
            ),
        ));
    }
    Ok(())
}

impl File for RealFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        check_aligned(self.direct, buf, offset)?;
        loop {
            match self.file.read_at(buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        check_aligned(self.direct, buf, offset)?;
        match &self.ring {
            Some(ring) => ring.write_all_at(self.file.as_raw_fd(), buf, offset),
            None => self.file.write_all_at(buf, offset),
        }
    }

    fn sync_data(&self) -> io::Result<()> {
        match &self.ring {
            Some(ring) => ring.fdatasync(self.file.as_raw_fd()),
            None => self.file.sync_data(),
        }
    }

    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len_bytes: u64) -> io::Result<()> {
        self.file.set_len(len_bytes)
    }

    fn preallocate(&self, len_bytes: u64) -> io::Result<()> {
        let len = libc::off_t::try_from(len_bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "preallocation too large"))?;
        // SAFETY: plain system call on a valid descriptor we own.
        let rc = unsafe { libc::fallocate(self.file.as_raw_fd(), 0, 0, len) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EOPNOTSUPP) {
            // File systems without fallocate: extend the size instead (sparse).
            if self.len_bytes()? < len_bytes {
                return self.file.set_len(len_bytes);
            }
            return Ok(());
        }
        Err(err)
    }

    fn is_direct(&self) -> bool {
        self.direct
    }
}

impl Fs for RealFs {
    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<FileRef> {
        let mut open = fs::OpenOptions::new();
        open.read(true)
            .write(options.write)
            .create(options.create)
            .create_new(options.create_new);
        if options.direct {
            open.custom_flags(libc::O_DIRECT);
        }
        let file = open.open(path).map_err(|e| {
            if options.direct && e.raw_os_error() == Some(libc::EINVAL) {
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("O_DIRECT is not supported for {}: {e}", path.display()),
                )
            } else {
                e
            }
        })?;
        let ring = match self.backend {
            Backend::IoUring if options.write => Some(Ring::new()?),
            _ => None,
        };
        Ok(Arc::new(RealFile {
            file,
            direct: options.direct,
            ring,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut missing: Vec<PathBuf> = Vec::new();
        let mut cur = Some(path);
        while let Some(p) = cur {
            if p.as_os_str().is_empty() || p.exists() {
                break;
            }
            missing.push(p.to_path_buf());
            cur = p.parent();
        }
        fs::create_dir_all(path)?;
        for created in missing.iter().rev() {
            if let Some(parent) = created.parent().filter(|p| !p.as_os_str().is_empty()) {
                self.sync_dir(parent)?;
            }
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            out.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                len_bytes: meta.len(),
                is_dir: meta.is_dir(),
            });
        }
        Ok(out)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        fs::File::open(path)?.sync_all()
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn lock_exclusive(&self, path: &Path) -> io::Result<LockGuard> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        // SAFETY: plain system call on a valid descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked by another process ({err})", path.display()),
            ));
        }
        Ok(LockGuard::new(Box::new(file), path.to_path_buf()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AlignedBuf;

    fn roundtrip(backend: Backend, direct: bool) {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::new(backend);
        let path = dir.path().join("f");
        let f = fs
            .open(&path, OpenOptions::create_new().with_direct(direct))
            .unwrap();
        let mut buf = AlignedBuf::new();
        buf.extend_filled(7, 8192);
        f.write_all_at(buf.as_slice(), 4096).unwrap();
        f.sync_data().unwrap();
        assert_eq!(f.len_bytes().unwrap(), 12288);
        let mut back = AlignedBuf::new();
        back.extend_filled(0, 4096);
        f.read_exact_at(back.as_mut_slice(), 8192).unwrap();
        assert!(back.as_slice().iter().all(|&b| b == 7));
        f.read_exact_at(back.as_mut_slice(), 0).unwrap();
        assert!(back.as_slice().iter().all(|&b| b == 0));
        if direct {
            let err = f.write_all_at(&[1u8; 100], 0).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
        f.preallocate(1 << 20).unwrap();
        assert_eq!(f.len_bytes().unwrap(), 1 << 20);
        fs.sync_dir(dir.path()).unwrap();
        let names: Vec<_> = fs
            .list_dir(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["f".to_string()]);
        fs.rename(&path, &dir.path().join("g")).unwrap();
        fs.remove_file(&dir.path().join("g")).unwrap();
        assert!(!fs.exists(&path).unwrap());
    }

    #[test]
    fn pwrite_buffered_and_direct() {
        roundtrip(Backend::Pwrite, false);
        roundtrip(Backend::Pwrite, true);
    }

    #[test]
    fn io_uring_buffered_and_direct_where_available() {
        if Backend::detect() != Backend::IoUring {
            eprintln!("io_uring unavailable on this kernel; the pwrite test covers the fallback");
            return;
        }
        roundtrip(Backend::IoUring, false);
        roundtrip(Backend::IoUring, true);
    }

    #[test]
    fn second_lock_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::default();
        let lock = dir.path().join("LOCK");
        let held = fs.lock_exclusive(&lock).unwrap();
        let err = fs.lock_exclusive(&lock).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(held);
        fs.lock_exclusive(&lock).unwrap();
    }
}
