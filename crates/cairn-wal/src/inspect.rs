//! Read-only frame walking for tools (`cairn inspect`): the recovery reader's own frame
//! parser, without a key ring and without the recovery decisions.
//!
//! A frame's CRC covers its stored bytes, so every frame of an encrypted segment is checked
//! without the key; only the authentication tags (and the plaintext) need it. Nothing here
//! writes, truncates or creates a file.

use std::path::Path;
use std::sync::Arc;

use cairn_io::{Fs, OpenOptions};

use crate::error::{Corruption, Result, WalError};
use crate::reader::{Frame, FrameReader};
use crate::record::FrameHeader;
use crate::segment::{SEGMENT_HEADER_BYTES, SegmentCtx, SegmentHeader};

pub use crate::record::PADDING_TYPE;

/// One step of walking a segment.
#[derive(Debug)]
pub enum InspectedFrame {
    /// A CRC-valid record; `payload` is as stored (ciphertext and tag when encrypted).
    Record {
        offset: u64,
        header: FrameHeader,
        payload: Vec<u8>,
    },
    /// A CRC-valid padding frame ending on a block boundary, with its durable-LSN claim.
    Padding { offset: u64, len: u64, claim: u64 },
    /// Only zero bytes (or nothing) from `offset` to the end of the file.
    End { offset: u64 },
    /// Bytes at `offset` that are not a valid frame.
    Bad { offset: u64, problem: Corruption },
}

/// The frames of one segment file, in file order.
pub struct SegmentFrames {
    reader: FrameReader,
}

impl std::fmt::Debug for SegmentFrames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentFrames")
            .field("segment", &self.reader.ctx.path)
            .field("position", &self.reader.position())
            .finish_non_exhaustive()
    }
}

impl SegmentFrames {
    /// Opens the segment at `path` read-only and decodes its header (magic, version, CRC and
    /// fields checked). The header error is `WalError::Corrupt` at offset 0.
    pub fn open(fs: &dyn Fs, path: &Path) -> Result<(SegmentHeader, SegmentFrames)> {
        let file = fs
            .open(path, OpenOptions::read())
            .map_err(|e| WalError::io("open segment", path, e))?;
        let len = file
            .len_bytes()
            .map_err(|e| WalError::io("stat segment", path, e))?;
        let mut raw = [0u8; SEGMENT_HEADER_BYTES];
        let n = (len.min(SEGMENT_HEADER_BYTES as u64)) as usize;
        file.read_exact_at(&mut raw[..n], 0)
            .map_err(|e| WalError::io("read segment header", path, e))?;
        let header = SegmentHeader::decode(&raw[..n]).map_err(|problem| WalError::Corrupt {
            segment: path.to_path_buf(),
            offset: 0,
            lsn: None,
            problem,
        })?;
        let ctx = Arc::new(SegmentCtx {
            raw_header: header.encode(),
            header: header.clone(),
            cipher: None,
            path: path.to_path_buf(),
        });
        Ok((
            header,
            SegmentFrames {
                reader: FrameReader::new(file, ctx, len),
            },
        ))
    }

    /// Reads the frame at the current position and advances past it if it is valid.
    pub fn next_frame(&mut self) -> Result<InspectedFrame> {
        let start = self.reader.position();
        Ok(match self.reader.next_frame()? {
            Frame::Record {
                offset,
                header,
                payload,
                ..
            } => InspectedFrame::Record {
                offset,
                header,
                payload,
            },
            Frame::Padding { claim } => InspectedFrame::Padding {
                offset: start,
                len: self.reader.position() - start,
                claim,
            },
            Frame::End { offset } => InspectedFrame::End { offset },
            Frame::Bad { offset, problem } => InspectedFrame::Bad { offset, problem },
        })
    }

    /// Continues at `offset` (a later block boundary, when probing past damage).
    pub fn seek(&mut self, offset: u64) {
        self.reader.seek(offset);
    }

    /// File offset of the next frame.
    pub fn position(&self) -> u64 {
        self.reader.position()
    }

    pub fn file_len(&self) -> u64 {
        self.reader.file_len()
    }
}
