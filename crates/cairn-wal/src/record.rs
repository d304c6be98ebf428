//! The record frame: a 40-byte header followed by the payload.
//!
//! ```text
//! offset size field
//!  0     4    payload_len   u32 LE, stored payload bytes (ciphertext + 16-byte tag if encrypted)
//!  4     4    crc32c        u32 LE, CRC32C of: segment_id (u64 LE) ‖ bytes 0..4 ‖ bytes 8..40 ‖ payload
//!  8     8    lsn           u64 LE (0 for a padding record)
//! 16     2    record_type   u16 LE (0xff00..=0xffff reserved; 0xffff = padding)
//! 18     2    flags         u16 LE, the user's
//! 20     4    reserved      zero
//! 24     8    tenant_id     u64 LE
//! 32     8    database_id   u64 LE
//! 40     …    payload
//! ```
//!
//! Seeding the CRC with the segment id binds every record to the segment that wrote it: a
//! record left in a file by another segment can never validate here.

use crate::error::Corruption;

pub const RECORD_HEADER_BYTES: usize = 40;
/// Hard cap on a stored payload, checked before anything is allocated.
pub const MAX_PAYLOAD_BYTES: usize = 64 << 20;
/// First record type reserved for the WAL's own frames.
pub const RESERVED_TYPE_START: u16 = 0xff00;
/// The padding frame that ends every flush on a block boundary.
pub const PADDING_TYPE: u16 = 0xffff;
/// A padding payload holds the durable LSN known when the flush was written (8 bytes).
pub const MIN_PADDING_BYTES: usize = RECORD_HEADER_BYTES + 8;

/// A record to append. The payload is borrowed; the WAL copies it into its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The caller's record type, below [`RESERVED_TYPE_START`].
    pub record_type: u16,
    /// The caller's flags; stored and returned unchanged.
    pub flags: u16,
    pub tenant_id: u64,
    pub database_id: u64,
    pub payload: &'a [u8],
}

impl<'a> Record<'a> {
    /// A record of type `record_type` with no flags and ids 0.
    pub fn new(record_type: u16, payload: &'a [u8]) -> Self {
        Self {
            record_type,
            flags: 0,
            tenant_id: 0,
            database_id: 0,
            payload,
        }
    }
}

/// A record read back from the log, with its LSN and plaintext payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    pub lsn: crate::Lsn,
    pub record_type: u16,
    pub flags: u16,
    pub tenant_id: u64,
    pub database_id: u64,
    pub payload: Vec<u8>,
}

/// The decoded fixed header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub payload_len: u32,
    pub crc: u32,
    pub lsn: u64,
    pub record_type: u16,
    pub flags: u16,
    pub tenant_id: u64,
    pub database_id: u64,
}

impl FrameHeader {
    pub fn encode(&self) -> [u8; RECORD_HEADER_BYTES] {
        let mut b = [0u8; RECORD_HEADER_BYTES];
        b[0..4].copy_from_slice(&self.payload_len.to_le_bytes());
        b[4..8].copy_from_slice(&self.crc.to_le_bytes());
        b[8..16].copy_from_slice(&self.lsn.to_le_bytes());
        b[16..18].copy_from_slice(&self.record_type.to_le_bytes());
        b[18..20].copy_from_slice(&self.flags.to_le_bytes());
        b[24..32].copy_from_slice(&self.tenant_id.to_le_bytes());
        b[32..40].copy_from_slice(&self.database_id.to_le_bytes());
        b
    }

    /// Decodes the fixed header. Checks only what needs no payload: reserved bits and the
    /// length cap (before the caller allocates or reads the payload).
    pub fn decode(b: &[u8; RECORD_HEADER_BYTES]) -> Result<FrameHeader, Corruption> {
        let h = FrameHeader {
            payload_len: u32_at(b, 0),
            crc: u32_at(b, 4),
            lsn: u64_at(b, 8),
            record_type: u16::from_le_bytes([b[16], b[17]]),
            flags: u16::from_le_bytes([b[18], b[19]]),
            tenant_id: u64_at(b, 24),
            database_id: u64_at(b, 32),
        };
        if b.iter().all(|&x| x == 0) {
            return Err(Corruption::Zeroed);
        }
        if u32_at(b, 20) != 0 {
            return Err(Corruption::ReservedBits);
        }
        if h.lsn > crate::Lsn::MAX.0 {
            return Err(Corruption::LsnOutOfRange { lsn: h.lsn });
        }
        if h.payload_len as usize > MAX_PAYLOAD_BYTES + crate::crypto::TAG_BYTES {
            return Err(Corruption::LengthTooLarge {
                len: u64::from(h.payload_len),
                max: (MAX_PAYLOAD_BYTES + crate::crypto::TAG_BYTES) as u64,
            });
        }
        Ok(h)
    }

    pub fn frame_len(&self) -> usize {
        RECORD_HEADER_BYTES + self.payload_len as usize
    }

    pub fn is_padding(&self) -> bool {
        self.record_type == PADDING_TYPE
    }
}

/// The CRC of a frame: segment id, then the header without its CRC field, then the payload.
pub fn frame_crc(segment_id: u64, header: &[u8; RECORD_HEADER_BYTES], payload: &[u8]) -> u32 {
    let mut crc = crc32c::crc32c(&segment_id.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &header[0..4]);
    crc = crc32c::crc32c_append(crc, &header[8..RECORD_HEADER_BYTES]);
    crc32c::crc32c_append(crc, payload)
}

/// Checks a decoded frame's CRC against its bytes.
pub fn verify_crc(
    segment_id: u64,
    header: &FrameHeader,
    raw_header: &[u8; RECORD_HEADER_BYTES],
    payload: &[u8],
) -> Result<(), Corruption> {
    let computed = frame_crc(segment_id, raw_header, payload);
    if computed != header.crc {
        return Err(Corruption::RecordCrc {
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

/// Appends a padding frame of exactly `total_len` bytes (at least [`MIN_PADDING_BYTES`])
/// carrying `durable_lsn`, the LSN known durable when this flush was built.
pub fn write_padding(
    out: &mut cairn_io::AlignedBuf,
    segment_id: u64,
    total_len: usize,
    durable_lsn: u64,
) {
    debug_assert!(total_len >= MIN_PADDING_BYTES);
    let payload_len = total_len - RECORD_HEADER_BYTES;
    let header = FrameHeader {
        payload_len: payload_len as u32,
        crc: 0,
        lsn: 0,
        record_type: PADDING_TYPE,
        flags: 0,
        tenant_id: 0,
        database_id: 0,
    };
    let raw = header.encode();
    let mut crc = frame_crc(segment_id, &raw, &durable_lsn.to_le_bytes());
    // The rest of the padding payload is zeros: fold them into the CRC without a buffer.
    let zeros = [0u8; 512];
    let mut left = payload_len - 8;
    while left > 0 {
        let n = left.min(zeros.len());
        crc = crc32c::crc32c_append(crc, &zeros[..n]);
        left -= n;
    }
    let header = FrameHeader { crc, ..header };
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(&durable_lsn.to_le_bytes());
    out.extend_filled(0, payload_len - 8);
}

/// The durable-LSN claim carried by a padding payload.
pub fn padding_claim(payload: &[u8]) -> u64 {
    payload.get(0..8).map_or(0, |b| u64_at(b, 0))
}

/// Bytes of padding needed after `len` bytes so the flush ends on a `block` boundary with
/// room for a padding frame.
pub fn padding_for(len: usize, block: usize) -> usize {
    let mut pad = (block - len % block) % block;
    if pad < MIN_PADDING_BYTES {
        pad += block;
    }
    pad
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_checks() {
        let h = FrameHeader {
            payload_len: 5,
            crc: 7,
            lsn: 42,
            record_type: 3,
            flags: 0xabcd,
            tenant_id: u64::MAX,
            database_id: 9,
        };
        assert_eq!(FrameHeader::decode(&h.encode()).unwrap(), h);
        assert_eq!(FrameHeader::decode(&[0u8; 40]), Err(Corruption::Zeroed));
        let mut raw = h.encode();
        raw[21] = 1;
        assert_eq!(FrameHeader::decode(&raw), Err(Corruption::ReservedBits));
        let big = FrameHeader {
            payload_len: u32::MAX,
            ..h
        };
        assert!(matches!(
            FrameHeader::decode(&big.encode()),
            Err(Corruption::LengthTooLarge { .. })
        ));
    }

    #[test]
    fn padding_fills_to_the_block_and_verifies() {
        for used in [0usize, 1, 100, 4096 - 48, 4096 - 47, 4095, 4096, 10_000] {
            let pad = padding_for(used, 4096);
            assert_eq!((used + pad) % 4096, 0, "used {used}");
            assert!(pad >= MIN_PADDING_BYTES);
            let mut out = cairn_io::AlignedBuf::new();
            write_padding(&mut out, 77, pad, 1234);
            assert_eq!(out.len(), pad);
            let mut raw = [0u8; 40];
            raw.copy_from_slice(&out.as_slice()[..40]);
            let h = FrameHeader::decode(&raw).unwrap();
            assert!(h.is_padding());
            assert_eq!(h.frame_len(), pad);
            verify_crc(77, &h, &raw, &out.as_slice()[40..]).unwrap();
            assert!(verify_crc(78, &h, &raw, &out.as_slice()[40..]).is_err());
            assert_eq!(padding_claim(&out.as_slice()[40..]), 1234);
        }
    }
}
