//! The sparse time index: for each block of `block_rows` rows (1024 by default), the
//! minimum and maximum TIME_KEY as two i64 LE. It lets a time-range read skip blocks inside
//! a page whose overall range is wide (files sorted by tags, then time).

use cairn_codec::CodecError;

/// Encodes the per-block bounds of `times`.
pub fn encode(times: &[i64], block_rows: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(times.len().div_ceil(block_rows.max(1)) * 16);
    for block in times.chunks(block_rows.max(1)) {
        let lo = block.iter().copied().min().unwrap_or(0);
        let hi = block.iter().copied().max().unwrap_or(0);
        out.extend_from_slice(&lo.to_le_bytes());
        out.extend_from_slice(&hi.to_le_bytes());
    }
    out
}

/// Decodes exactly `blocks` (min, max) pairs.
pub fn decode(bytes: &[u8], blocks: usize) -> Result<Vec<(i64, i64)>, CodecError> {
    if bytes.len() != blocks.saturating_mul(16) {
        return Err(CodecError::Mismatch {
            what: "sparse index bytes",
            expected: blocks as u64 * 16,
            found: bytes.len() as u64,
        });
    }
    let mut out = Vec::with_capacity(blocks);
    for c in bytes.chunks_exact(16) {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&c[..8]);
        b.copy_from_slice(&c[8..]);
        let (lo, hi) = (i64::from_le_bytes(a), i64::from_le_bytes(b));
        if lo > hi {
            return Err(CodecError::Invalid {
                field: "sparse block bounds",
                value: lo as u64,
                allowed: "min <= max",
            });
        }
        out.push((lo, hi));
    }
    Ok(out)
}
