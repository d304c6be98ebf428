//! ALP: adaptive lossless floating point (Afroozeh, Kuffó, Boncz, SIGMOD 2023). A decimal
//! `v` with at most `e` fractional digits becomes the integer `n = round(v * 10^e * 10^-f)`,
//! kept only if `float(n) * 10^f * 10^-e` gives back exactly the bits of `v` (the same
//! expression decodes; see `alp_sample::decode_biased`). Every other value (-0.0, NaN,
//! infinities, non-decimals, huge values) is an exception stored raw and patched in.
//!
//! ```text
//! zero or more vectors of 1024 values (the last one holds the rest of `rows`), each:
//!   0  u8   exponent e         0..=18
//!   1  u8   factor f           0..=e
//!   2  u8   bit width w        0..=64
//!   3  u8   0
//!   4  u16  exception count k  0..=values in this vector
//!   6  u16  0
//!   8  i64  reference          minimum encoded integer of the vector
//!  16  128*w bytes             1024 residuals n - reference (u64, wrapping), bit-packed
//!                              (crate::bitpack); exception and padding slots hold a
//!                              filler inside the vector's range
//!      k * u64                 the exceptions' raw bits
//!      k * u16                 their positions in the vector, strictly ascending
//!      zero bytes to the next multiple of 8
//! ```
//!
//! Every vector is a multiple of 8 bytes, so packed words start 8-aligned relative to the
//! start of the encoding.

use super::alp_sample::{self, Combo, MAX_EXPONENT, bias, decode_biased, try_encode};
use crate::bitpack::{self, VECTOR, bit_width, packed_bytes};
use crate::bytes::{Reader, put_i64, put_u8, put_u16, put_u64};
use crate::error::{CodecError, Result};

/// Bytes of a vector's fixed header.
const VECTOR_HEADER_BYTES: usize = 16;

/// Appends the ALP encoding of `values`.
pub(super) fn encode(values: &[f64], out: &mut Vec<u8>) -> Result<()> {
    encode_counting(values, out);
    Ok(())
}

/// Encoded bytes and exception count for `values` (used to choose a codec).
pub(super) fn estimate(values: &[f64]) -> (usize, usize) {
    let mut out = Vec::new();
    let exceptions = encode_counting(values, &mut out);
    (out.len(), exceptions)
}

/// Encodes and returns the number of exceptions.
fn encode_counting(values: &[f64], out: &mut Vec<u8>) -> usize {
    if values.is_empty() {
        return 0;
    }
    let candidates = alp_sample::page_candidates(values);
    let mut scratch = Scratch {
        ints: [0; VECTOR],
        residuals: [0; VECTOR],
        positions: Vec::new(),
    };
    let mut exceptions = 0;
    for vector in values.chunks(VECTOR) {
        let combo = alp_sample::vector_combo(vector, &candidates);
        exceptions += encode_vector(vector, combo, &mut scratch, out);
    }
    exceptions
}

struct Scratch {
    ints: [i64; VECTOR],
    residuals: [u64; VECTOR],
    positions: Vec<u16>,
}

/// Appends one vector (1..=1024 values) and returns its exception count.
fn encode_vector(vector: &[f64], combo: Combo, s: &mut Scratch, out: &mut Vec<u8>) -> usize {
    let len = vector.len();
    let scale = combo.scale();
    s.positions.clear();
    let mut filler = None;
    for (i, (&v, n)) in vector.iter().zip(s.ints.iter_mut()).enumerate() {
        let (encoded, ok) = try_encode(v, combo, scale);
        *n = encoded;
        if ok {
            filler.get_or_insert(encoded);
        } else {
            s.positions.push(i as u16);
        }
    }
    let filler = filler.unwrap_or(0);
    for &p in &s.positions {
        s.ints[p as usize] = filler;
    }
    s.ints[len..].fill(filler);
    let (mut min, max) = s
        .ints
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &n| (lo.min(n), hi.max(n)));
    let mut width = bit_width(max.wrapping_sub(min) as u64);
    if vector_bytes(width, s.positions.len()) > vector_bytes(0, len) {
        // The sample misjudged the pair: storing every value raw is smaller.
        s.positions.clear();
        s.positions.extend(0..len as u16);
        s.ints.fill(0);
        (min, width) = (0, 0);
    }
    for (r, &n) in s.residuals.iter_mut().zip(&s.ints) {
        *r = n.wrapping_sub(min) as u64;
    }
    let k = s.positions.len();
    out.reserve(VECTOR_HEADER_BYTES + packed_bytes(width) + k * 10 + 8);
    put_u8(out, combo.exponent);
    put_u8(out, combo.factor);
    put_u8(out, width);
    put_u8(out, 0);
    put_u16(out, k as u16);
    put_u16(out, 0);
    put_i64(out, min);
    bitpack::pack(&s.residuals, width, out);
    for &p in &s.positions {
        put_u64(out, vector[p as usize].to_bits());
    }
    for &p in &s.positions {
        put_u16(out, p);
    }
    out.resize(out.len() + pad8(k * 2), 0);
    k
}

/// Encoded bytes of a vector with `width` and `exceptions`.
fn vector_bytes(width: u8, exceptions: usize) -> usize {
    VECTOR_HEADER_BYTES + packed_bytes(width) + (exceptions * 10).next_multiple_of(8)
}

/// Zero bytes that follow `n` bytes to reach a multiple of 8.
fn pad8(n: usize) -> usize {
    n.next_multiple_of(8) - n
}

/// Decodes exactly `rows` values from `bytes` and appends them to `out` (unchanged on error).
pub(super) fn decode(bytes: &[u8], rows: usize, out: &mut Vec<f64>) -> Result<()> {
    let vectors = rows.div_ceil(VECTOR);
    // Every vector takes at least its header: reject before reserving for `rows`.
    if bytes.len() / VECTOR_HEADER_BYTES < vectors {
        return Err(CodecError::Truncated {
            what: "ALP vectors",
            offset: 0,
            needed: vectors.saturating_mul(VECTOR_HEADER_BYTES),
            available: bytes.len(),
        });
    }
    let start = out.len();
    out.reserve(rows);
    let result = decode_vectors(bytes, rows, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn decode_vectors(bytes: &[u8], rows: usize, out: &mut Vec<f64>) -> Result<()> {
    let mut r = Reader::new(bytes);
    let mut residuals = [0u64; VECTOR];
    let mut left = rows;
    while left > 0 {
        let len = left.min(VECTOR);
        decode_vector(&mut r, len, &mut residuals, out)?;
        left -= len;
    }
    r.finish("ALP encoding length")
}

/// A vector's header fields, validated.
struct VectorHeader {
    combo: Combo,
    width: u8,
    exceptions: usize,
    reference: i64,
}

fn read_header(r: &mut Reader<'_>, len: usize) -> Result<VectorHeader> {
    let exponent = r.u8("ALP exponent")?;
    let factor = r.u8("ALP factor")?;
    let width = r.u8("ALP bit width")?;
    let zero_a = r.u8("ALP reserved byte")?;
    let exceptions = usize::from(r.u16("ALP exception count")?);
    let zero_b = r.u16("ALP reserved u16")?;
    let reference = r.i64("ALP reference")?;
    let invalid = |field, value: u64, allowed| CodecError::Invalid {
        field,
        value,
        allowed,
    };
    if exponent > MAX_EXPONENT {
        return Err(invalid("ALP exponent", exponent.into(), "0..=18"));
    }
    if factor > exponent {
        return Err(invalid("ALP factor", factor.into(), "0..=exponent"));
    }
    if width > 64 {
        return Err(invalid("ALP bit width", width.into(), "0..=64"));
    }
    if zero_a != 0 || zero_b != 0 {
        let value = u64::from(zero_a) | u64::from(zero_b) << 8;
        return Err(invalid("ALP reserved bits", value, "0"));
    }
    if exceptions > len {
        return Err(CodecError::Mismatch {
            what: "ALP exception count above the vector's values",
            expected: len as u64,
            found: exceptions as u64,
        });
    }
    Ok(VectorHeader {
        combo: Combo { exponent, factor },
        width,
        exceptions,
        reference,
    })
}

/// Decodes one vector of `len` values onto the end of `out`.
fn decode_vector(
    r: &mut Reader<'_>,
    len: usize,
    residuals: &mut [u64; VECTOR],
    out: &mut Vec<f64>,
) -> Result<()> {
    let h = read_header(r, len)?;
    let packed = r.take(packed_bytes(h.width), "ALP packed residuals")?;
    bitpack::unpack(packed, h.width, residuals)?;
    let base = bias(h.reference);
    let scale = h.combo.scale();
    let first = out.len();
    out.extend(
        residuals[..len]
            .iter()
            .map(|&x| decode_biased(x.wrapping_add(base), scale)),
    );
    let k = h.exceptions;
    let raw = r.take(k * 8, "ALP exception values")?;
    let positions = r.take(k * 2, "ALP exception positions")?;
    let pad = r.take(pad8(k * 2), "ALP exception padding")?;
    if pad.iter().any(|&b| b != 0) {
        return Err(CodecError::Invalid {
            field: "ALP exception padding",
            value: pad.iter().fold(0, |a, &b| a << 8 | u64::from(b)),
            allowed: "zero bytes",
        });
    }
    let slots = &mut out[first..];
    let mut next_allowed = 0usize;
    for (bits, pos) in raw.chunks_exact(8).zip(positions.chunks_exact(2)) {
        let pos = usize::from(u16::from_le_bytes([pos[0], pos[1]]));
        if pos < next_allowed || pos >= len {
            return Err(CodecError::Invalid {
                field: "ALP exception position",
                value: pos as u64,
                allowed: "strictly ascending, below the vector's value count",
            });
        }
        next_allowed = pos + 1;
        let mut b = [0u8; 8];
        b.copy_from_slice(bits);
        if let Some(slot) = slots.get_mut(pos) {
            *slot = f64::from_bits(u64::from_le_bytes(b));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn round_trip(values: &[f64]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(values, &mut out).unwrap();
        assert_eq!(out.len() % 8, 0);
        let mut back = Vec::new();
        decode(&out, values.len(), &mut back).unwrap();
        assert_eq!(back.len(), values.len());
        for (i, (a, b)) in values.iter().zip(&back).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "value {i}: {a} vs {b}");
        }
        out
    }

    #[test]
    fn decimals_pack_small() {
        let values: Vec<f64> = (0..3000).map(|i| f64::from(i % 1000) / 10.0).collect();
        let out = round_trip(&values);
        // 10 bits per value plus headers.
        assert!(out.len() < 3 * (16 + 128 * 10) + 200, "{}", out.len());
    }

    #[test]
    fn exceptions_are_patched_and_constant_is_tiny() {
        let mut values = vec![3.25; 1500];
        values[0] = -0.0;
        values[7] = f64::from_bits(0x7ff4_0000_0000_0042);
        values[1499] = std::f64::consts::PI;
        let out = round_trip(&values);
        assert_eq!(out.len(), 16 + 2 * 8 + 8 + 16 + 8 + 8);
        round_trip(&[f64::NAN; 1024]);
    }

    #[test]
    fn non_decimals_cost_at_most_raw_exceptions() {
        let mut x = 12345u64;
        let values: Vec<f64> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64 * 1000.0
            })
            .collect();
        let out = round_trip(&values);
        assert!(out.len() <= 4 * vector_bytes(0, 1024), "{}", out.len());
    }

    #[test]
    fn corrupt_headers_are_errors() {
        let values: Vec<f64> = (0..1024).map(|i| f64::from(i) * 0.5).collect();
        let mut good = Vec::new();
        encode(&values, &mut good).unwrap();
        let mut out = vec![9.0];
        for (offset, byte) in [(0, 19), (1, 200), (2, 65), (3, 1), (6, 1)] {
            let mut bad = good.clone();
            bad[offset] = byte;
            assert!(decode(&bad, 1024, &mut out).is_err(), "offset {offset}");
            assert_eq!(out, [9.0]);
        }
        assert!(decode(&good[..good.len() - 8], 1024, &mut out).is_err());
        assert!(decode(&good, 1023, &mut out).is_err());
        assert!(decode(&good, 1025, &mut out).is_err());
        assert!(decode(&good, usize::MAX, &mut out).is_err());
        assert!(decode(&[], 0, &mut out).is_ok());
        assert_eq!(out, [9.0]);
    }

    #[test]
    fn bad_exception_positions_are_errors() {
        let mut values = vec![1.5; 10];
        values[2] = -0.0;
        values[5] = -0.0;
        let mut good = Vec::new();
        encode(&values, &mut good).unwrap();
        let pos_at = good.len() - 8;
        let mut out = Vec::new();
        for (a, b) in [(5u16, 2u16), (2, 2), (2, 10)] {
            let mut bad = good.clone();
            bad[pos_at..pos_at + 2].copy_from_slice(&a.to_le_bytes());
            bad[pos_at + 2..pos_at + 4].copy_from_slice(&b.to_le_bytes());
            assert!(decode(&bad, 10, &mut out).is_err(), "{a} {b}");
        }
        let mut bad = good.clone();
        bad[pos_at + 7] = 1;
        assert!(decode(&bad, 10, &mut out).is_err());
    }
}
