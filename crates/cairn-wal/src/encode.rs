//! Encoding record frames into the group-commit queue: reserve in LSN order, then seal
//! (encrypt, tag, CRC) in place. Large encrypted batches are sealed by several threads.

use cairn_io::AlignedBuf;

use crate::crypto::TAG_BYTES;
use crate::record::{FrameHeader, RECORD_HEADER_BYTES, Record, frame_crc};
use crate::segment::SegmentCtx;

/// Encrypted batches with at least this many payload bytes are sealed in parallel.
pub(crate) const PARALLEL_SEAL_BYTES: usize = 256 * 1024;

/// Appends the frame of `r` at `lsn` with its plaintext payload, a zero CRC and (for an
/// encrypted segment) room for the tag; returns its length. [`seal`] finishes it.
pub(crate) fn reserve(out: &mut AlignedBuf, seg: &SegmentCtx, lsn: u64, r: &Record<'_>) -> usize {
    let tag = if seg.cipher.is_some() { TAG_BYTES } else { 0 };
    let header = FrameHeader {
        payload_len: (r.payload.len() + tag) as u32,
        crc: 0,
        lsn,
        record_type: r.record_type,
        flags: r.flags,
        tenant_id: r.tenant_id,
        database_id: r.database_id,
    };
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(r.payload);
    out.extend_filled(0, tag);
    RECORD_HEADER_BYTES + r.payload.len() + tag
}

/// Encrypts a reserved frame's payload in place (when the segment is encrypted), writes the
/// tag, then the CRC over the stored bytes.
pub(crate) fn seal(seg: &SegmentCtx, frame: &mut [u8]) {
    let mut raw = [0u8; RECORD_HEADER_BYTES];
    raw.copy_from_slice(&frame[..RECORD_HEADER_BYTES]);
    let body = &mut frame[RECORD_HEADER_BYTES..];
    if let Some(cipher) = &seg.cipher {
        let lsn = u64::from_le_bytes([
            raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15],
        ]);
        let (plain, tag) = body.split_at_mut(body.len() - TAG_BYTES);
        tag.copy_from_slice(&cipher.seal(lsn, &raw, plain));
    }
    let crc = frame_crc(seg.id(), &raw, &frame[RECORD_HEADER_BYTES..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Seals the frames `(start, len)` of `buf` (ascending, disjoint) on up to
/// `available_parallelism` threads, splitting the work by bytes.
pub(crate) fn seal_parallel(seg: &SegmentCtx, buf: &mut [u8], frames: &[(usize, usize)]) {
    let mut slices: Vec<&mut [u8]> = Vec::with_capacity(frames.len());
    let mut rest = buf;
    let mut consumed = 0;
    for &(start, len) in frames {
        let (_, tail) = rest.split_at_mut(start - consumed);
        let (frame, tail) = tail.split_at_mut(len);
        slices.push(frame);
        rest = tail;
        consumed = start + len;
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let total: usize = frames.iter().map(|f| f.1).sum();
    let share = total.div_ceil(workers.max(1));
    let mut groups: Vec<Vec<&mut [u8]>> = Vec::new();
    let mut group_bytes = usize::MAX;
    for s in slices {
        if group_bytes >= share {
            groups.push(Vec::new());
            group_bytes = 0;
        }
        group_bytes += s.len();
        if let Some(g) = groups.last_mut() {
            g.push(s);
        }
    }
    std::thread::scope(|scope| {
        let mut groups = groups.into_iter();
        let mine = groups.next();
        for group in groups {
            scope.spawn(move || group.into_iter().for_each(|f| seal(seg, f)));
        }
        mine.into_iter().flatten().for_each(|f| seal(seg, f));
    });
}
