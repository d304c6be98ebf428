//! Streaming frame reader over one segment file: bounded memory, lengths checked before
//! anything is allocated, every frame CRC-verified against its segment id.

use std::sync::Arc;

use cairn_io::{AlignedBuf, FileRef, align_up};

use crate::Lsn;
use crate::crypto::TAG_BYTES;
use crate::error::{Corruption, Result, WalError};
use crate::record::{FrameHeader, RECORD_HEADER_BYTES, WalRecord, padding_claim, verify_crc};
use crate::segment::{BLOCK_BYTES, SegmentCtx};

/// Reads are whole aligned blocks of about this size, so the same code serves `O_DIRECT`
/// handles (which bypass the page cache and its read-ahead limits) and buffered ones.
const READ_CHUNK_BYTES: usize = 2 << 20;
const ALIGN: u64 = BLOCK_BYTES as u64;

fn align_down(offset: u64) -> u64 {
    offset & !(ALIGN - 1)
}

/// One step of reading a segment.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A CRC-valid record (payload still as stored: ciphertext when encrypted).
    Record {
        offset: u64,
        header: FrameHeader,
        raw: [u8; RECORD_HEADER_BYTES],
        payload: Vec<u8>,
    },
    /// A CRC-valid padding frame ending on a block boundary, with its durable-LSN claim.
    Padding { claim: u64 },
    /// Nothing but zero bytes (or nothing at all) from here to the end of the file.
    End { offset: u64 },
    /// Bytes that are not a valid frame.
    Bad { offset: u64, problem: Corruption },
}

pub(crate) struct FrameReader {
    file: FileRef,
    pub(crate) ctx: Arc<SegmentCtx>,
    file_len: u64,
    /// Bytes `[buf_start, buf_start + buf.len())` of the file; `buf_start` is block-aligned
    /// and so is the end, except at the end of the file.
    buf: AlignedBuf,
    /// File offset of `buf[0]`.
    buf_start: u64,
    /// File offset of the next frame.
    pos: u64,
    /// Everything from this offset to the end of the file is known to be zero.
    zero_from: u64,
    /// `(from, at)`: bytes `from..at` are zero and the byte at `at` is not.
    next_nonzero: Option<(u64, u64)>,
}

impl FrameReader {
    pub(crate) fn new(file: FileRef, ctx: Arc<SegmentCtx>, file_len: u64) -> Self {
        Self {
            file,
            ctx,
            file_len,
            buf: AlignedBuf::with_capacity(
                (align_up(file_len, ALIGN) as usize).min(READ_CHUNK_BYTES),
            ),
            buf_start: BLOCK_BYTES as u64,
            pos: BLOCK_BYTES as u64,
            zero_from: u64::MAX,
            next_nonzero: None,
        }
    }

    pub(crate) fn seek(&mut self, offset: u64) {
        self.pos = offset;
        if offset < self.buf_start || offset > self.buf_start + self.buf.len() as u64 {
            self.buf.clear();
            self.buf_start = align_down(offset);
        }
    }

    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Makes `buf` hold bytes `[pos, pos + n)` (n must not exceed what the file has left).
    fn fill(&mut self, n: usize) -> Result<&[u8]> {
        let need_end = self.pos + n as u64;
        if need_end > self.buf_start + self.buf.len() as u64 {
            // Keep from the block holding `pos`, then read whole blocks, at least a chunk.
            let keep_from = align_down(self.pos);
            self.buf.drain_front((keep_from - self.buf_start) as usize);
            self.buf_start = keep_from;
            let have_end = self.buf_start + self.buf.len() as u64;
            let want_end = need_end
                .max(have_end + READ_CHUNK_BYTES as u64)
                .min(align_up(self.file_len, ALIGN));
            let want_end = align_up(want_end, ALIGN);
            let old_len = self.buf.len();
            self.buf.extend_filled(0, (want_end - have_end) as usize);
            let got = read_up_to(
                &*self.file,
                &mut self.buf.as_mut_slice()[old_len..],
                have_end,
            )
            .map_err(|e| WalError::io("read segment", self.ctx.path.clone(), e))?;
            self.buf.truncate(old_len + got);
            if self.buf_start + (self.buf.len() as u64) < need_end {
                let short = std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "segment ended at {} while reading up to {need_end}",
                        self.buf_start + self.buf.len() as u64
                    ),
                );
                return Err(WalError::io("read segment", self.ctx.path.clone(), short));
            }
        }
        let rel = (self.pos - self.buf_start) as usize;
        Ok(&self.buf.as_slice()[rel..rel + n])
    }

    /// Whether every byte from the current position to the end of the file is zero (the
    /// unwritten, preallocated rest of a segment). Both answers are remembered (where the zero
    /// tail starts, where the next non-zero byte is), so probing a damaged segment block by
    /// block stays linear in its size.
    fn rest_is_zero(&mut self) -> Result<bool> {
        if self.pos >= self.zero_from {
            return Ok(true);
        }
        if self
            .next_nonzero
            .is_some_and(|(from, at)| from <= self.pos && self.pos <= at)
        {
            return Ok(false);
        }
        let mut at = align_down(self.pos);
        let chunk_bytes = (align_up(self.file_len - at, ALIGN) as usize).min(READ_CHUNK_BYTES);
        let mut chunk = AlignedBuf::with_capacity(chunk_bytes);
        while at < self.file_len {
            chunk.clear();
            chunk.extend_filled(0, chunk_bytes);
            let got = read_up_to(&*self.file, chunk.as_mut_slice(), at)
                .map_err(|e| WalError::io("read segment", self.ctx.path.clone(), e))?;
            let valid = got.min((self.file_len - at) as usize);
            let skip = (self.pos.saturating_sub(at) as usize).min(valid);
            if let Some(i) = first_nonzero(&chunk.as_slice()[skip..valid]) {
                self.next_nonzero = Some((self.pos, at + (skip + i) as u64));
                return Ok(false);
            }
            if got < chunk_bytes {
                break;
            }
            at += chunk_bytes as u64;
        }
        self.zero_from = self.pos;
        Ok(true)
    }

    /// Reads the frame at the current position and advances past it if it is valid.
    pub(crate) fn next_frame(&mut self) -> Result<Frame> {
        let offset = self.pos;
        let left = self.file_len.saturating_sub(offset);
        if left < RECORD_HEADER_BYTES as u64 {
            return Ok(if left == 0 || self.rest_is_zero()? {
                Frame::End { offset }
            } else {
                Frame::Bad {
                    offset,
                    problem: Corruption::Truncated {
                        len: RECORD_HEADER_BYTES as u64,
                        available: left,
                    },
                }
            });
        }
        let mut raw = [0u8; RECORD_HEADER_BYTES];
        raw.copy_from_slice(self.fill(RECORD_HEADER_BYTES)?);
        let header = match FrameHeader::decode(&raw) {
            Ok(h) => h,
            Err(Corruption::Zeroed) if self.rest_is_zero()? => return Ok(Frame::End { offset }),
            Err(problem) => return Ok(Frame::Bad { offset, problem }),
        };
        let frame_len = header.frame_len() as u64;
        if frame_len > left {
            return Ok(Frame::Bad {
                offset,
                problem: Corruption::Truncated {
                    len: frame_len,
                    available: left,
                },
            });
        }
        let segment_id = self.ctx.id();
        let frame = self.fill(frame_len as usize)?;
        let payload = &frame[RECORD_HEADER_BYTES..];
        if let Err(problem) = verify_crc(segment_id, &header, &raw, payload) {
            return Ok(Frame::Bad { offset, problem });
        }
        if header.is_padding() {
            if !(offset + frame_len).is_multiple_of(BLOCK_BYTES as u64) {
                return Ok(Frame::Bad {
                    offset,
                    problem: Corruption::BadPadding { len: frame_len },
                });
            }
            let claim = padding_claim(payload);
            self.pos = offset + frame_len;
            return Ok(Frame::Padding { claim });
        }
        let payload = payload.to_vec();
        self.pos = offset + frame_len;
        Ok(Frame::Record {
            offset,
            header,
            raw,
            payload,
        })
    }
}

/// A CRC-valid record must carry exactly the next LSN of its segment.
pub(crate) fn expect_lsn(found: u64, expected: u64) -> Result<(), Corruption> {
    if found == expected {
        Ok(())
    } else {
        Err(Corruption::LsnMismatch { expected, found })
    }
}

/// Turns a CRC-valid record frame of segment `ctx` into a plaintext [`WalRecord`],
/// authenticating it when the segment is encrypted.
pub(crate) fn open_frame(
    ctx: &SegmentCtx,
    offset: u64,
    header: FrameHeader,
    raw: &[u8; RECORD_HEADER_BYTES],
    mut payload: Vec<u8>,
) -> Result<WalRecord> {
    if let Some(cipher) = &ctx.cipher {
        let tampered = || WalError::Corrupt {
            segment: ctx.path.clone(),
            offset,
            lsn: Some(header.lsn),
            problem: Corruption::Tampered,
        };
        let body_len = payload.len().checked_sub(TAG_BYTES).ok_or_else(tampered)?;
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&payload[body_len..]);
        payload.truncate(body_len);
        if !cipher.open(header.lsn, raw, &mut payload, &tag) {
            return Err(tampered());
        }
    }
    Ok(WalRecord {
        lsn: Lsn(header.lsn),
        record_type: header.record_type,
        flags: header.flags,
        tenant_id: header.tenant_id,
        database_id: header.database_id,
        payload,
    })
}

/// The index of the first non-zero byte. Whole 4 KiB pieces are compared with slice
/// equality, which compiles to `memcmp` and is fast even in debug builds.
fn first_nonzero(bytes: &[u8]) -> Option<usize> {
    static ZEROS: [u8; 4096] = [0; 4096];
    let mut base = 0;
    for piece in bytes.chunks(ZEROS.len()) {
        if piece != &ZEROS[..piece.len()] {
            return piece.iter().position(|&b| b != 0).map(|i| base + i);
        }
        base += piece.len();
    }
    None
}

/// Reads into `buf` at `offset` until it is full or the file ends; returns the count.
fn read_up_to(file: &dyn cairn_io::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let wanted = buf.len() - done;
        let n = file.read_at(&mut buf[done..], offset + done as u64)?;
        done += n;
        // A short read of a regular file means its end (and under O_DIRECT the next offset
        // would not be aligned anyway).
        if n < wanted {
            break;
        }
    }
    Ok(done)
}
