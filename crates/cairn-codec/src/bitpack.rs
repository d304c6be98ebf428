//! Bit-packing of 1024-value vectors in the FastLanes layout (the `fastlanes` crate's
//! kernels, which the compiler turns into SIMD code for every width).
//!
//! A vector of 1024 values packed at width `w` (0..=64) is exactly `128 * w` bytes: `16 * w`
//! little-endian u64 words in FastLanes' interleaved order. Width 0 is zero bytes and decodes
//! to 1024 zeros. Partial vectors are padded by the caller (with a value that keeps the width
//! small, e.g. the vector's minimum) and trimmed after decoding.
//!
//! Packed sections start at 8-byte-aligned offsets of their page body, so decoding reads the
//! words in place; a misaligned input (possible with a caller's arbitrary buffer) is copied
//! to an aligned scratch first and decodes identically.

use fastlanes::BitPacking;

use crate::error::{CodecError, Result};

#[cfg(not(target_endian = "little"))]
compile_error!("cairn-codec reads packed words in place and supports little-endian targets only");

/// Values per vector.
pub const VECTOR: usize = 1024;

/// Bytes of one vector packed at `width` bits.
pub const fn packed_bytes(width: u8) -> usize {
    128 * width as usize
}

/// Bits needed to represent `max` (0 for 0).
pub const fn bit_width(max: u64) -> u8 {
    (64 - max.leading_zeros()) as u8
}

fn check_width(width: u8) -> Result<()> {
    if width > 64 {
        return Err(CodecError::Invalid {
            field: "bit width",
            value: u64::from(width),
            allowed: "0..=64",
        });
    }
    Ok(())
}

/// Appends the 1024 `values` packed at `width` bits (`128 * width` bytes). Every value must
/// fit in `width` bits; higher bits are discarded.
pub fn pack(values: &[u64; VECTOR], width: u8, out: &mut Vec<u8>) {
    let width = width.min(64);
    if width == 0 {
        return;
    }
    let words = 16 * width as usize;
    let mut packed = vec![0u64; words];
    // SAFETY: input is exactly 1024 values and output exactly 1024 * width / 64 words, the
    // lengths `unchecked_pack` requires; width <= 64.
    unsafe { u64::unchecked_pack(width as usize, values, &mut packed) };
    out.reserve(words * 8);
    for w in packed {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

/// Unpacks one vector packed at `width` from `packed` (exactly `128 * width` bytes).
pub fn unpack(packed: &[u8], width: u8, out: &mut [u64; VECTOR]) -> Result<()> {
    check_width(width)?;
    if packed.len() != packed_bytes(width) {
        return Err(CodecError::Mismatch {
            what: "packed vector bytes",
            expected: packed_bytes(width) as u64,
            found: packed.len() as u64,
        });
    }
    if width == 0 {
        out.fill(0);
        return Ok(());
    }
    // SAFETY: u64 has no invalid bit patterns; `align_to` only yields a middle slice of
    // correctly aligned, fully initialised words.
    let (head, words, tail) = unsafe { packed.align_to::<u64>() };
    if head.is_empty() && tail.is_empty() {
        // SAFETY: `words` holds exactly 16 * width words and `out` exactly 1024 values.
        unsafe { u64::unchecked_unpack(width as usize, words, out) };
    } else {
        let mut scratch = [0u64; 16 * 64];
        let scratch = &mut scratch[..16 * width as usize];
        for (w, chunk) in scratch.iter_mut().zip(packed.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *w = u64::from_le_bytes(b);
        }
        // SAFETY: as above, with the aligned copy.
        unsafe { u64::unchecked_unpack(width as usize, scratch, out) };
    }
    Ok(())
}

/// Unpacks and adds `reference` to every value (wrapping): frame-of-reference decoding.
pub fn unpack_for(packed: &[u8], width: u8, reference: u64, out: &mut [u64; VECTOR]) -> Result<()> {
    unpack(packed, width, out)?;
    if reference != 0 {
        for v in out.iter_mut() {
            *v = v.wrapping_add(reference);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn round_trip_every_width_aligned_and_not() {
        for width in 0..=64u8 {
            let mask = if width == 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            let mut values = [0u64; VECTOR];
            for (i, v) in values.iter_mut().enumerate() {
                *v = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask;
            }
            let mut out = Vec::new();
            pack(&values, width, &mut out);
            assert_eq!(out.len(), packed_bytes(width));
            let mut back = [0u64; VECTOR];
            unpack(&out, width, &mut back).unwrap();
            assert_eq!(back, values, "width {width}");
            let mut shifted = vec![0u8; 1];
            shifted.extend_from_slice(&out);
            let mut back2 = [0u64; VECTOR];
            unpack(&shifted[1..], width, &mut back2).unwrap();
            assert_eq!(back2, values, "misaligned width {width}");
        }
    }

    #[test]
    fn bad_lengths_and_widths_are_errors() {
        let mut out = [0u64; VECTOR];
        assert!(unpack(&[0u8; 127], 1, &mut out).is_err());
        assert!(unpack(&[], 65, &mut out).is_err());
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(u64::MAX), 64);
    }
}
