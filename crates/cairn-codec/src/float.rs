//! f64 encodings, all bit-exact (NaN payloads and signs, -0.0, infinities, subnormals).
//!
//! * [`FloatCodec::Plain`]: `rows` little-endian f64, exactly `8 * rows` bytes.
//! * [`FloatCodec::Alp`]: adaptive lossless floating point over 1024-value vectors
//!   (format in [`alp`]); decimals become small integers, bit-packed.
//! * [`FloatCodec::Gorilla`]: XOR with the previous value (format in [`gorilla`]); for
//!   slowly changing values that are not decimals.
//!
//! Every decoder takes untrusted bytes, appends exactly `rows` values or returns an error,
//! consumes its whole input and reserves at most `rows` values.

mod alp;
mod alp_sample;
mod gorilla;

use crate::bitpack::VECTOR;
use crate::error::{CodecError, Result};

/// The f64 leaf codecs (ids are stored in page headers; never reuse one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FloatCodec {
    Plain = 1,
    Alp = 2,
    Gorilla = 3,
}

impl FloatCodec {
    pub const ALL: [FloatCodec; 3] = [FloatCodec::Plain, FloatCodec::Alp, FloatCodec::Gorilla];

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.id() == id)
            .ok_or(CodecError::UnknownId {
                what: "float codec",
                id,
            })
    }
}

/// Appends the encoding of `values` with `codec` to `out` (whose length is a multiple of 8
/// at entry; ALP's packed words are 8-aligned relative to that start).
pub fn encode(codec: FloatCodec, values: &[f64], out: &mut Vec<u8>) -> Result<()> {
    match codec {
        FloatCodec::Plain => {
            encode_plain(values, out);
            Ok(())
        }
        FloatCodec::Alp => alp::encode(values, out),
        FloatCodec::Gorilla => {
            gorilla::encode(values, out);
            Ok(())
        }
    }
}

/// Decodes exactly `rows` values from `bytes` (the whole encoding) and appends them to `out`.
pub fn decode(codec: FloatCodec, bytes: &[u8], rows: usize, out: &mut Vec<f64>) -> Result<()> {
    match codec {
        FloatCodec::Plain => decode_plain(bytes, rows, out),
        FloatCodec::Alp => alp::decode(bytes, rows, out),
        FloatCodec::Gorilla => gorilla::decode(bytes, rows, out),
    }
}

fn encode_plain(values: &[f64], out: &mut Vec<u8>) {
    out.reserve(values.len() * 8);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn decode_plain(bytes: &[u8], rows: usize, out: &mut Vec<f64>) -> Result<()> {
    let expected = rows.checked_mul(8).ok_or(CodecError::Invalid {
        field: "float row count",
        value: rows as u64,
        allowed: "rows * 8 within usize",
    })?;
    if bytes.len() != expected {
        return Err(CodecError::Mismatch {
            what: "plain f64 bytes",
            expected: expected as u64,
            found: bytes.len() as u64,
        });
    }
    out.reserve(rows);
    out.extend(bytes.chunks_exact(8).map(|c| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        f64::from_le_bytes(b)
    }));
    Ok(())
}

/// Vectors of the page that [`choose`] encodes to estimate sizes.
const CHOOSE_SAMPLE_VECTORS: usize = 8;
/// Gorilla is a candidate only at or below this fraction of plain's size.
const GORILLA_MAX_RATIO: f64 = 0.95;
/// ALP is a candidate only below this fraction of plain's size.
const ALP_MAX_RATIO: f64 = 0.95;
/// When both qualify, Gorilla wins only if it is below this fraction of ALP's size (ALP
/// decodes several times faster, so near-ties go to ALP).
const GORILLA_OVER_ALP_RATIO: f64 = 0.8;
/// ALP qualifies only if at most this fraction of the sample are exceptions.
const ALP_MAX_EXCEPTION_RATIO: f64 = 0.25;

/// The codec expected to give a small output for `values` that still decodes fast:
/// ALP and Gorilla each encode a sample (whole vectors spread over the page) and are
/// compared with plain's 8 bytes per value.
pub fn choose(values: &[f64]) -> FloatCodec {
    if values.is_empty() {
        return FloatCodec::Plain;
    }
    let sample = sample_vectors(values);
    let plain = (sample.len() * 8) as f64;
    let (alp_bytes, exceptions) = alp::estimate(&sample);
    let alp_ok = (alp_bytes as f64) < ALP_MAX_RATIO * plain
        && exceptions as f64 <= ALP_MAX_EXCEPTION_RATIO * sample.len() as f64;
    let mut gorilla_bytes = Vec::new();
    gorilla::encode(&sample, &mut gorilla_bytes);
    let gorilla = gorilla_bytes.len() as f64;
    let gorilla_ok = gorilla <= GORILLA_MAX_RATIO * plain;
    match (alp_ok, gorilla_ok) {
        (true, true) if gorilla < GORILLA_OVER_ALP_RATIO * alp_bytes as f64 => FloatCodec::Gorilla,
        (true, _) => FloatCodec::Alp,
        (false, true) => FloatCodec::Gorilla,
        (false, false) => FloatCodec::Plain,
    }
}

/// Up to [`CHOOSE_SAMPLE_VECTORS`] whole vectors, evenly spread, concatenated (the whole
/// input when it is that small).
fn sample_vectors(values: &[f64]) -> Vec<f64> {
    let vectors = values.len().div_ceil(VECTOR);
    if vectors <= CHOOSE_SAMPLE_VECTORS {
        return values.to_vec();
    }
    let mut sample = Vec::with_capacity(CHOOSE_SAMPLE_VECTORS * VECTOR);
    for i in 0..CHOOSE_SAMPLE_VECTORS {
        let start = i * vectors / CHOOSE_SAMPLE_VECTORS * VECTOR;
        let end = (start + VECTOR).min(values.len());
        sample.extend_from_slice(&values[start..end]);
    }
    sample
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn round_trip(codec: FloatCodec, values: &[f64]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(codec, values, &mut out).unwrap();
        let mut back = vec![1.5];
        decode(codec, &out, values.len(), &mut back).unwrap();
        assert_eq!(back.len(), values.len() + 1);
        for (i, (a, b)) in values.iter().zip(&back[1..]).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{codec:?} value {i}");
        }
        out
    }

    #[test]
    fn ids_round_trip() {
        for c in FloatCodec::ALL {
            assert_eq!(FloatCodec::from_id(c.id()).unwrap(), c);
        }
        assert!(FloatCodec::from_id(0).is_err());
        assert!(FloatCodec::from_id(4).is_err());
    }

    #[test]
    fn plain_is_eight_bytes_per_value_and_checks_length() {
        let values = [1.0, -0.0, f64::NAN, f64::from_bits(0x7ff0_0000_0000_0001)];
        let out = round_trip(FloatCodec::Plain, &values);
        assert_eq!(out.len(), 32);
        let mut back = Vec::new();
        assert!(decode(FloatCodec::Plain, &out[..31], 4, &mut back).is_err());
        assert!(decode(FloatCodec::Plain, &out, 3, &mut back).is_err());
        assert!(decode(FloatCodec::Plain, &out, usize::MAX, &mut back).is_err());
    }

    #[test]
    fn choose_picks_by_shape() {
        let decimals: Vec<f64> = (0..5000)
            .map(|i| f64::from((i * 37) % 10_000) / 100.0)
            .collect();
        assert_eq!(choose(&decimals), FloatCodec::Alp);
        let random: Vec<f64> = (0..5000u64)
            .map(|i| f64::from_bits(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i << 7)))
            .collect();
        assert_eq!(choose(&random), FloatCodec::Plain);
        // A slow walk of irrational values: not decimals, but neighbours share their top bits.
        let mut x = std::f64::consts::PI;
        let walk: Vec<f64> = (0..5000)
            .map(|i| {
                if i % 3 == 0 {
                    x += std::f64::consts::E;
                }
                x
            })
            .collect();
        assert_eq!(choose(&walk), FloatCodec::Gorilla);
        assert_eq!(choose(&[]), FloatCodec::Plain);
        assert_eq!(choose(&[0.5; 3000]), FloatCodec::Alp);
    }

    #[test]
    fn every_codec_round_trips_special_values() {
        let values = [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::from_bits(0xfff4_0000_dead_beef),
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MIN,
            f64::MAX,
            1.25,
            0.1,
        ];
        for c in FloatCodec::ALL {
            round_trip(c, &values);
            round_trip(c, &[]);
        }
    }

    /// Pins the bytes of each format (see the module docs of `alp` and `gorilla`).
    #[test]
    fn golden_bytes() {
        let values = [2.5, 2.5, -0.0];
        let mut alp = Vec::new();
        encode(FloatCodec::Alp, &values, &mut alp).unwrap();
        let mut want = vec![1, 0, 0, 0, 1, 0, 0, 0]; // e 1, f 0, width 0, k 1
        want.extend_from_slice(&25i64.to_le_bytes()); // reference: 2.5 * 10
        want.extend_from_slice(&(-0.0f64).to_bits().to_le_bytes()); // exception bits
        want.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]); // position 2, padding
        assert_eq!(alp, want);
        let mut gorilla = Vec::new();
        encode(FloatCodec::Gorilla, &values, &mut gorilla).unwrap();
        // 2.5 raw; '0'; '11' lead 0, length 14 (stored 13), bits 11000000000001; 3 pad bits.
        let want = [0, 0, 0, 0, 0, 0, 4, 0x40, 0x60, 0x1B, 0x80, 0x08];
        assert_eq!(gorilla, want);
        let mut plain = Vec::new();
        encode(FloatCodec::Plain, &values[..1], &mut plain).unwrap();
        assert_eq!(plain, [0, 0, 0, 0, 0, 0, 4, 0x40]);
    }

    #[test]
    fn sample_spans_the_page() {
        let values: Vec<f64> = (0..100_000).map(f64::from).collect();
        let s = sample_vectors(&values);
        assert_eq!(s.len(), CHOOSE_SAMPLE_VECTORS * VECTOR);
        assert_eq!(s[0], 0.0);
        assert!(s[s.len() - 1] > 80_000.0);
    }
}
