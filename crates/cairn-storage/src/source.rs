//! Where a reader gets bytes from: positioned reads of a local file, a buffer in memory,
//! or (later) ranged GETs from object storage. Every read names its offset and length, so
//! a remote source maps one read to one `Range: bytes=a-b` request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_io::{FileRef, Fs, OpenOptions};

/// A read-only, random-access byte source.
pub trait ByteSource: Send + Sync + std::fmt::Debug {
    /// A name for errors (the file path, or an object key).
    fn name(&self) -> &Path;
    fn len_bytes(&self) -> std::io::Result<u64>;
    /// Fills `buf` from `offset`; fails with `UnexpectedEof` past the end.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}

/// A local file read with `pread`.
#[derive(Debug)]
pub struct FileSource {
    file: FileRef,
    path: PathBuf,
}

impl FileSource {
    pub fn open(fs: &dyn Fs, path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            file: fs.open(path, OpenOptions::read())?,
            path: path.to_path_buf(),
        })
    }
}

impl ByteSource for FileSource {
    fn name(&self) -> &Path {
        &self.path
    }
    fn len_bytes(&self) -> std::io::Result<u64> {
        self.file.len_bytes()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

/// Bytes in memory (tests, fuzzing, objects fetched whole).
#[derive(Debug, Clone)]
pub struct MemSource {
    name: PathBuf,
    bytes: Arc<[u8]>,
}

impl MemSource {
    pub fn new(name: impl Into<PathBuf>, bytes: impl Into<Arc<[u8]>>) -> Self {
        Self {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

impl ByteSource for MemSource {
    fn name(&self) -> &Path {
        &self.name
    }
    fn len_bytes(&self) -> std::io::Result<u64> {
        Ok(self.bytes.len() as u64)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Wraps a source and counts reads and bytes (benchmarks, and tests that prove a read
/// touched only what it needed).
#[derive(Debug)]
pub struct CountingSource<S> {
    inner: S,
    reads: AtomicU64,
    bytes: AtomicU64,
    log: std::sync::Mutex<Vec<(u64, u64)>>,
}

impl<S: ByteSource> CountingSource<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            reads: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            log: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Every read as (offset, length), in order.
    pub fn log(&self) -> Vec<(u64, u64)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        self.reads.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
    }
}

impl<S: ByteSource> ByteSource for CountingSource<S> {
    fn name(&self) -> &Path {
        self.inner.name()
    }
    fn len_bytes(&self) -> std::io::Result<u64> {
        self.inner.len_bytes()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        if let Ok(mut l) = self.log.lock() {
            l.push((offset, buf.len() as u64));
        }
        self.inner.read_exact_at(buf, offset)
    }
}

impl<S: ByteSource + ?Sized> ByteSource for Arc<S> {
    fn name(&self) -> &Path {
        (**self).name()
    }
    fn len_bytes(&self) -> std::io::Result<u64> {
        (**self).len_bytes()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        (**self).read_exact_at(buf, offset)
    }
}
