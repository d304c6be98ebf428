//! Helpers shared by the fuzz targets: a forgiving input cursor and the bits of the WAL byte
//! layout (docs/formats/wal.md) the targets need to build inputs that get past the CRCs.
//!
//! The layout is re-implemented here on purpose (like `tests/wal_corruption.rs`): the targets
//! build segments from the documented format, not from the crate's private encoders.

/// Reads integers and byte strings off the fuzz input; past the end it yields zeros, so every
/// input is a valid program.
#[derive(Debug)]
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn remaining(&self) -> usize {
        self.data.len()
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// Exactly `n` bytes, zero-filled past the end of the input.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = self.take(n).to_vec();
        v.resize(n, 0);
        v
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let n = self.data.len();
        self.take(n)
    }

    pub fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    pub fn u16(&mut self) -> u16 {
        let mut b = [0u8; 2];
        let t = self.take(2);
        b[..t.len()].copy_from_slice(t);
        u16::from_le_bytes(b)
    }

    pub fn u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        let t = self.take(4);
        b[..t.len()].copy_from_slice(t);
        u32::from_le_bytes(b)
    }

    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        let t = self.take(8);
        b[..t.len()].copy_from_slice(t);
        u64::from_le_bytes(b)
    }
}

pub const SEGMENT_HEADER_BYTES: usize = 128;
pub const BLOCK_BYTES: usize = 4096;
pub const FRAME_HEADER_BYTES: usize = 40;
pub const PADDING_TYPE: u16 = 0xffff;
/// The smallest padding frame: header plus the 8-byte durable-LSN claim.
pub const MIN_PADDING_BYTES: usize = FRAME_HEADER_BYTES + 8;

/// Makes the first 128 bytes of `b` pass the checks before the field checks: magic, version,
/// header size, block size, and the header CRC (over whatever the other bytes are).
pub fn fix_segment_header(b: &mut [u8]) {
    if b.len() < SEGMENT_HEADER_BYTES {
        return;
    }
    b[0..8].copy_from_slice(b"CAIRNWAL");
    b[8..10].copy_from_slice(&1u16.to_le_bytes());
    b[10..12].copy_from_slice(&(SEGMENT_HEADER_BYTES as u16).to_le_bytes());
    b[12..16].copy_from_slice(&(BLOCK_BYTES as u32).to_le_bytes());
    fix_segment_header_crc(b);
}

/// Recomputes only the header CRC (bytes 124..128 over 0..124).
pub fn fix_segment_header_crc(b: &mut [u8]) {
    if b.len() < SEGMENT_HEADER_BYTES {
        return;
    }
    let crc = crc32c::crc32c(&b[..124]);
    b[124..128].copy_from_slice(&crc.to_le_bytes());
}

/// The fields of a plaintext segment header the fuzzer controls.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderFields {
    pub segment_id: u64,
    pub first_lsn: u64,
    pub prev_first_lsn: u64,
    pub prev_last_lsn: u64,
    pub created_unix_ms: u64,
}

/// A valid (plaintext) 128-byte header with these fields.
pub fn segment_header(f: &HeaderFields) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut b = [0u8; SEGMENT_HEADER_BYTES];
    b[16..24].copy_from_slice(&f.segment_id.to_le_bytes());
    b[24..32].copy_from_slice(&f.first_lsn.to_le_bytes());
    b[32..40].copy_from_slice(&f.prev_first_lsn.to_le_bytes());
    b[40..48].copy_from_slice(&f.created_unix_ms.to_le_bytes());
    b[88..96].copy_from_slice(&f.prev_last_lsn.to_le_bytes());
    fix_segment_header(&mut b);
    b
}

/// A frame header (CRC field zero: see [`frame_crc`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Frame {
    pub lsn: u64,
    pub record_type: u16,
    pub flags: u16,
    pub tenant_id: u64,
    pub database_id: u64,
}

/// CRC32C of `segment_id ‖ header[0..4] ‖ header[8..40] ‖ payload`.
pub fn frame_crc(segment_id: u64, header: &[u8; FRAME_HEADER_BYTES], payload: &[u8]) -> u32 {
    let mut crc = crc32c::crc32c(&segment_id.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &header[0..4]);
    crc = crc32c::crc32c_append(crc, &header[8..FRAME_HEADER_BYTES]);
    crc32c::crc32c_append(crc, payload)
}

/// Appends a frame to `out`; with `valid_crc` its CRC is right for `segment_id`, otherwise it
/// is off by one.
pub fn push_frame(out: &mut Vec<u8>, segment_id: u64, f: &Frame, payload: &[u8], valid_crc: bool) {
    let mut h = [0u8; FRAME_HEADER_BYTES];
    h[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[8..16].copy_from_slice(&f.lsn.to_le_bytes());
    h[16..18].copy_from_slice(&f.record_type.to_le_bytes());
    h[18..20].copy_from_slice(&f.flags.to_le_bytes());
    h[24..32].copy_from_slice(&f.tenant_id.to_le_bytes());
    h[32..40].copy_from_slice(&f.database_id.to_le_bytes());
    let crc = frame_crc(segment_id, &h, payload).wrapping_add(u32::from(!valid_crc));
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
}

/// Appends a padding frame that ends `out` on a block boundary (what every flush ends with),
/// carrying the durable-LSN `claim`.
pub fn push_padding(out: &mut Vec<u8>, segment_id: u64, claim: u64, valid_crc: bool) {
    let mut pad = (BLOCK_BYTES - out.len() % BLOCK_BYTES) % BLOCK_BYTES;
    if pad < MIN_PADDING_BYTES {
        pad += BLOCK_BYTES;
    }
    let mut payload = vec![0u8; pad - FRAME_HEADER_BYTES];
    payload[..8].copy_from_slice(&claim.to_le_bytes());
    let f = Frame {
        record_type: PADDING_TYPE,
        ..Frame::default()
    };
    push_frame(out, segment_id, &f, &payload, valid_crc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_headers_and_frames_decode() {
        let h = segment_header(&HeaderFields {
            segment_id: 7,
            first_lsn: 10,
            prev_first_lsn: 1,
            prev_last_lsn: 9,
            created_unix_ms: 0,
        });
        let d = cairn_wal::decode::SegmentHeader::decode(&h).unwrap();
        assert_eq!((d.segment_id, d.first_lsn), (7, 10));
        let mut out = vec![0u8; BLOCK_BYTES];
        push_frame(&mut out, 7, &Frame::default(), b"abc", true);
        push_padding(&mut out, 7, 5, true);
        assert_eq!(out.len() % BLOCK_BYTES, 0);
        let mut raw = [0u8; FRAME_HEADER_BYTES];
        raw.copy_from_slice(&out[BLOCK_BYTES..BLOCK_BYTES + FRAME_HEADER_BYTES]);
        let f = cairn_wal::decode::FrameHeader::decode(&raw).unwrap();
        assert_eq!(f.payload_len, 3);
    }
}
