//! Frame-of-reference blocks: `n` i64 values in 1024-value vectors, each stored as its
//! minimum (the *reference*, signed comparison) plus residuals `v.wrapping_sub(min) as u64`
//! bit-packed at the vector's width. `n` is not stored; the enclosing format knows it.
//!
//! ```text
//! widths      nv = ceil(n / 1024) u8, one per vector (0..=64), zero-padded to a multiple of 8
//! references  nv x i64 LE, the minimum of each vector
//! packed      each full vector: 128 * width bytes (FastLanes layout, `bitpack::pack`);
//!             the partial last vector of t = n % 1024 values: ceil(t * width / 64) u64 LE
//!             words, value i at bits [i * width, (i + 1) * width), least significant first
//! ```
//!
//! Every section length is a multiple of 8, so a block that starts 8-aligned ends 8-aligned
//! and each full vector's words are read in place. The offset of vector k's words is the
//! prefix sum of the earlier vectors' packed sizes. Packing the partial vector compactly
//! (instead of padding it to 1024 values) keeps small blocks small: a run-length page of
//! ten runs costs tens of bytes, not 128 bytes per bit of width.

use crate::bitpack::{self, VECTOR, bit_width, packed_bytes};
use crate::bytes::Reader;
use crate::error::{CodecError, Result};

/// Residuals of a width-0 vector.
static ZEROS: [u64; VECTOR] = [0; VECTOR];

/// Bytes of a partial vector of `t` values packed sequentially at `width` bits.
fn tail_bytes(t: usize, width: u8) -> usize {
    (t * width as usize).div_ceil(64) * 8
}

/// Bytes of vector `k` of a block of `n` values packed at `width`.
fn vector_bytes(n: usize, k: usize, width: u8) -> usize {
    let len = vector_len(n, k);
    if len == VECTOR {
        packed_bytes(width)
    } else {
        tail_bytes(len, width)
    }
}

/// Values in vector `k` of a block of `n` values (`k < ceil(n / 1024)`).
fn vector_len(n: usize, k: usize) -> usize {
    (n - k * VECTOR).min(VECTOR)
}

/// Signed minimum and maximum of a non-empty slice (`(0, 0)` for an empty one).
pub(super) fn min_max(values: &[i64]) -> (i64, i64) {
    let first = values.first().copied().unwrap_or(0);
    values
        .iter()
        .fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// Width of the residuals of a vector whose signed range is `min..=max`.
pub(super) fn range_width(min: i64, max: i64) -> u8 {
    bit_width(max.wrapping_sub(min) as u64)
}

/// Bytes of a block of `n` values whose packed vectors total `packed` bytes.
pub(super) fn block_bytes(n: usize, packed: usize) -> usize {
    let nv = n.div_ceil(VECTOR);
    nv.next_multiple_of(8) + 8 * nv + packed
}

/// Appends the frame-of-reference block of `values`.
pub(super) fn encode(values: &[i64], out: &mut Vec<u8>) {
    let frames: Vec<(i64, u8)> = values
        .chunks(VECTOR)
        .map(|c| {
            let (min, max) = min_max(c);
            (min, range_width(min, max))
        })
        .collect();
    let nv = frames.len();
    out.extend(frames.iter().map(|&(_, w)| w));
    out.resize(out.len() + (nv.next_multiple_of(8) - nv), 0);
    for &(min, _) in &frames {
        out.extend_from_slice(&min.to_le_bytes());
    }
    let mut residuals = [0u64; VECTOR];
    for (chunk, &(min, width)) in values.chunks(VECTOR).zip(&frames) {
        for (r, &v) in residuals.iter_mut().zip(chunk) {
            *r = v.wrapping_sub(min) as u64;
        }
        if chunk.len() == VECTOR {
            bitpack::pack(&residuals, width, out);
        } else {
            pack_tail(&residuals[..chunk.len()], width, out);
        }
    }
}

/// Appends `values` (fewer than 1024, each < 2^width) packed sequentially, LSB first.
fn pack_tail(values: &[u64], width: u8, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let w = width as usize;
    let mut words = vec![0u64; (values.len() * w).div_ceil(64)];
    for (i, &v) in values.iter().enumerate() {
        let bit = i * w;
        let (word, shift) = (bit / 64, bit % 64);
        words[word] |= v << shift;
        if shift + w > 64 {
            words[word + 1] |= v >> (64 - shift);
        }
    }
    for word in words {
        out.extend_from_slice(&word.to_le_bytes());
    }
}

/// Unpacks `t < 1024` values packed by [`pack_tail`]; `packed` is `tail_bytes(t, width)`
/// bytes and `width` is 1..=64 (checked by the caller).
fn unpack_tail(packed: &[u8], t: usize, width: u8, out: &mut [u64; VECTOR]) {
    // One spare zero word so a value's high part can always be read from `word + 1`.
    let mut words = [0u64; VECTOR + 1];
    for (w, chunk) in words.iter_mut().zip(packed.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    let w = width as usize;
    let mask = u64::MAX >> (64 - w);
    for (i, o) in out.iter_mut().take(t).enumerate() {
        let bit = i * w;
        let (word, shift) = (bit / 64, bit % 64);
        // `<< 1 << (63 - shift)` is a shift by 64 - shift that yields 0 when shift == 0.
        let hi = (words[word + 1] << 1) << (63 - shift);
        *o = ((words[word] >> shift) | hi) & mask;
    }
}

/// A parsed block: every section is present and every width is valid.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frames<'a> {
    n: usize,
    widths: &'a [u8],
    refs: &'a [u8],
    packed: &'a [u8],
}

impl<'a> Frames<'a> {
    /// Takes a block of `n` values off `r`, checking its widths, padding and lengths.
    pub(super) fn parse(r: &mut Reader<'a>, n: usize) -> Result<Self> {
        let nv = n.div_ceil(VECTOR);
        let padded = r.take(nv.next_multiple_of(8), "frame widths")?;
        let (widths, pad) = padded.split_at(nv);
        if let Some(&b) = pad.iter().find(|&&b| b != 0) {
            return Err(CodecError::Invalid {
                field: "frame width padding",
                value: u64::from(b),
                allowed: "0",
            });
        }
        let mut packed_len = 0usize;
        for (k, &w) in widths.iter().enumerate() {
            if w > 64 {
                return Err(CodecError::Invalid {
                    field: "frame bit width",
                    value: u64::from(w),
                    allowed: "0..=64",
                });
            }
            packed_len =
                packed_len
                    .checked_add(vector_bytes(n, k, w))
                    .ok_or(CodecError::Invalid {
                        field: "packed frame bytes",
                        value: u64::MAX,
                        allowed: "the bytes present",
                    })?;
        }
        let refs = r.take(8 * nv, "frame references")?;
        let packed = r.take(packed_len, "packed frames")?;
        Ok(Self {
            n,
            widths,
            refs,
            packed,
        })
    }

    pub(super) fn cursor(self) -> Cursor<'a> {
        Cursor {
            frames: self,
            k: 0,
            offset: 0,
        }
    }
}

/// Walks a block's vectors in order.
#[derive(Debug)]
pub(super) struct Cursor<'a> {
    frames: Frames<'a>,
    k: usize,
    offset: usize,
}

impl Cursor<'_> {
    /// The next vector's residuals (1024 values, fewer for the last) and reference, or None
    /// after the last. The residuals are in `scratch`, or in a static zero vector for width 0.
    pub(super) fn next<'s>(
        &mut self,
        scratch: &'s mut [u64; VECTOR],
    ) -> Result<Option<(&'s [u64], u64)>> {
        let f = &self.frames;
        let (Some(&width), Some(r)) =
            (f.widths.get(self.k), f.refs.get(self.k * 8..self.k * 8 + 8))
        else {
            return Ok(None);
        };
        let mut b = [0u8; 8];
        b.copy_from_slice(r);
        let reference = u64::from_le_bytes(b);
        let len = vector_len(f.n, self.k);
        let bytes = vector_bytes(f.n, self.k, width);
        let packed =
            f.packed
                .get(self.offset..self.offset + bytes)
                .ok_or(CodecError::Truncated {
                    what: "packed frame",
                    offset: self.offset,
                    needed: bytes,
                    available: f.packed.len().saturating_sub(self.offset),
                })?;
        self.k += 1;
        self.offset += bytes;
        if width == 0 {
            return Ok(Some((&ZEROS[..len], reference)));
        }
        if len == VECTOR {
            bitpack::unpack(packed, width, scratch)?;
        } else {
            unpack_tail(packed, len, width, scratch);
        }
        Ok(Some((&scratch[..len], reference)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn round_trip(values: &[i64]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(values, &mut out);
        assert_eq!(out.len() % 8, 0);
        let mut r = Reader::new(&out);
        let mut cursor = Frames::parse(&mut r, values.len()).unwrap().cursor();
        r.finish("test").unwrap();
        let mut back = Vec::new();
        let mut scratch = [0u64; VECTOR];
        while let Some((res, reference)) = cursor.next(&mut scratch).unwrap() {
            back.extend(res.iter().map(|&x| x.wrapping_add(reference) as i64));
        }
        assert_eq!(back, values);
        out
    }

    #[test]
    fn tails_of_every_width_round_trip() {
        for width in 1..=64u32 {
            let mask = u64::MAX >> (64 - width);
            let values: Vec<i64> = (0..1023u64)
                .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask) as i64)
                .collect();
            for t in [1, 2, 63, 64, 65, 1023] {
                round_trip(&values[..t]);
            }
        }
    }

    #[test]
    fn sizes_follow_the_layout() {
        assert_eq!(round_trip(&[]).len(), 0);
        // One vector of 10 values in 0..=9: 8 widths + 8 reference + ceil(40/64) words.
        let ten: Vec<i64> = (0..10).collect();
        assert_eq!(round_trip(&ten).len(), 8 + 8 + 8);
        // 1025 values: a full vector at width 3, then a one-value tail at width 0.
        let v: Vec<i64> = (0..1025).map(|i| -100 + i % 8).collect();
        assert_eq!(round_trip(&v).len(), 8 + 16 + 384);
        assert_eq!(block_bytes(1025, 384), 8 + 16 + 384);
        // A two-value tail of width 5 takes one word.
        let v: Vec<i64> = (0..1026).map(|i| -100 + (i * 5) % 32).collect();
        assert_eq!(round_trip(&v).len(), 8 + 16 + 640 + 8);
    }

    #[test]
    fn extremes_round_trip() {
        let v: Vec<i64> = (0..3000)
            .map(|i| if i % 3 == 0 { i64::MIN } else { i64::MAX - i })
            .collect();
        round_trip(&v);
    }

    #[test]
    fn bad_width_and_padding_are_errors() {
        let mut out = Vec::new();
        encode(&[1, 2, 3], &mut out);
        let mut bad = out.clone();
        bad[0] = 65;
        assert!(Frames::parse(&mut Reader::new(&bad), 3).is_err());
        let mut bad = out.clone();
        bad[1] = 1;
        assert!(Frames::parse(&mut Reader::new(&bad), 3).is_err());
        assert!(Frames::parse(&mut Reader::new(&out[..out.len() - 1]), 3).is_err());
    }
}
