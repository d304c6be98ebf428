//! Where the writer's bytes go: the buffered temporary file, or a column's in-memory buffer
//! when columns are encoded in parallel.

use std::path::PathBuf;

use cairn_io::FileRef;

use super::WRITE_BUFFER_BYTES;
use crate::error::{Result, StorageError};
use crate::footer::Extent;

/// Where a column writer puts its regions.
pub(super) trait Sink {
    /// Appends a region and returns its extent (with the CRC of its bytes).
    fn put(&mut self, bytes: &[u8]) -> Result<Extent>;
}

/// A column's regions encoded in memory (offsets from 0), moved into the file afterwards.
#[derive(Default)]
pub(super) struct MemSink {
    pub(super) buf: Vec<u8>,
}

impl Sink for MemSink {
    fn put(&mut self, bytes: &[u8]) -> Result<Extent> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| StorageError::InvalidInput("a page over 4 GiB".into()))?;
        let extent = Extent {
            offset: self.buf.len() as u64,
            len,
            crc: crc32c::crc32c(bytes),
        };
        self.buf.extend_from_slice(bytes);
        Ok(extent)
    }
}

/// Buffered sequential output to the temporary file.
pub(super) struct Out {
    pub(super) file: FileRef,
    pub(super) buf: Vec<u8>,
    pub(super) written: u64,
    pub(super) path: PathBuf,
}

impl Sink for Out {
    fn put(&mut self, bytes: &[u8]) -> Result<Extent> {
        Out::put(self, bytes)
    }
}

impl Out {
    fn offset(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// Appends a region and returns its extent (with the CRC of its bytes).
    pub(super) fn put(&mut self, bytes: &[u8]) -> Result<Extent> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| StorageError::InvalidInput("a page over 4 GiB".into()))?;
        let extent = Extent {
            offset: self.offset(),
            len,
            crc: crc32c::crc32c(bytes),
        };
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= WRITE_BUFFER_BYTES {
            self.flush()?;
        }
        Ok(extent)
    }

    /// Appends bytes whose regions were already checksummed; returns their offset.
    pub(super) fn put_raw(&mut self, bytes: &[u8]) -> Result<u64> {
        let offset = self.offset();
        if bytes.len() >= WRITE_BUFFER_BYTES {
            self.flush()?;
            self.file
                .write_all_at(bytes, self.written)
                .map_err(|source| StorageError::Io {
                    op: "write",
                    path: self.path.clone(),
                    source,
                })?;
            self.written += bytes.len() as u64;
        } else {
            self.buf.extend_from_slice(bytes);
            if self.buf.len() >= WRITE_BUFFER_BYTES {
                self.flush()?;
            }
        }
        Ok(offset)
    }

    fn flush(&mut self) -> Result<()> {
        self.file
            .write_all_at(&self.buf, self.written)
            .map_err(|source| StorageError::Io {
                op: "write",
                path: self.path.clone(),
                source,
            })?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.file.sync_data().map_err(|source| StorageError::Io {
            op: "fsync",
            path: self.path.clone(),
            source,
        })?;
        Ok(self.written)
    }
}
