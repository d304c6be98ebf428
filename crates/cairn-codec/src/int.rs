//! Integer encodings of i64 values (the page layer maps u64 columns order-preservingly with
//! `v ^ 1 << 63` and widens dictionary codes), over 1024-value vectors.
//!
//! The row count is not stored: the caller passes it to [`decode`], which produces exactly
//! that many values or an error. All integers are little-endian; every section length is a
//! multiple of 8, so packed words start 8-aligned relative to the start of the encoding.
//!
//! ```text
//! Plain (1)   rows x i64
//! Const (2)   i64 value                       (0 for zero rows)
//! Rle (3)     u64 run count (<= rows)
//!             FOR block of the run values     (run count entries)
//!             FOR block of the run lengths    (each >= 1, summing to rows)
//! For (4)     FOR block of the values         (rows entries)
//! Delta (5)   i64 first value                 (0 for zero rows)
//!             FOR block of d[i] = v[i] - v[i-1] (rows entries; slot 0 holds d[1])
//! DoD (6)     i64 first value, i64 first delta v[1] - v[0]   (0 where absent)
//!             FOR block of dd[i] = d[i] - d[i-1] (rows entries; slots 0, 1 hold dd[2])
//!
//! FOR block of n entries (nv = ceil(n / 1024) vectors):
//!   nv x u8 bit widths (0..=64), zero-padded to a multiple of 8
//!   nv x i64 references: each vector's signed minimum
//!   per full vector: 128 * width bytes, residuals v - min packed by `bitpack::pack`
//!   partial last vector of t values: ceil(t * width / 64) u64 words, residual i at bits
//!     [i * width, (i + 1) * width), least significant first
//! ```
//!
//! Differences and residuals use wrapping arithmetic, so every i64 series round-trips
//! (unsorted timestamps, i64::MIN next to i64::MAX). Delta and DoD slots before the first
//! real difference hold a filler that never widens the first frame; the decoder derives its
//! start state from the header and whatever those slots hold.
//!
//! No zigzag: a frame relative to the signed minimum already maps a vector onto 0..range, and
//! zigzag before it would double the range of one-signed data. Nothing is stored as a varint,
//! so no other signed field needs it either.
//!
//! Decoding walks one vector at a time: unpack into a stack scratch vector (a static zero
//! vector for width 0), then one branch-free pass adds the reference (and runs the prefix
//! sums for Delta and DoD) while appending to the output.

mod choose;
mod delta;
mod frame;
mod rle;

use crate::error::{CodecError, Result};

/// The integer leaf codecs (ids are stored in page headers; never reuse one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IntCodec {
    Plain = 1,
    Const = 2,
    Rle = 3,
    For = 4,
    Delta = 5,
    DeltaOfDelta = 6,
}

impl IntCodec {
    pub const ALL: [IntCodec; 6] = [
        IntCodec::Plain,
        IntCodec::Const,
        IntCodec::Rle,
        IntCodec::For,
        IntCodec::Delta,
        IntCodec::DeltaOfDelta,
    ];

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.id() == id)
            .ok_or(CodecError::UnknownId {
                what: "integer codec",
                id,
            })
    }
}

/// Appends the encoding of `values` with `codec` to `out`. Fails only for Const when the
/// values are not all equal.
pub fn encode(codec: IntCodec, values: &[i64], out: &mut Vec<u8>) -> Result<()> {
    match codec {
        IntCodec::Plain => {
            out.reserve(8 * values.len());
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        IntCodec::Const => {
            let first = values.first().copied().unwrap_or(0);
            if values.iter().any(|&v| v != first) {
                return Err(CodecError::Unencodable(
                    "const codec for values that differ",
                ));
            }
            out.extend_from_slice(&first.to_le_bytes());
        }
        IntCodec::Rle => rle::encode(values, out),
        IntCodec::For => frame::encode(values, out),
        IntCodec::Delta => delta::encode_delta(values, out),
        IntCodec::DeltaOfDelta => delta::encode_dod(values, out),
    }
    Ok(())
}

/// Decodes exactly `rows` values from `bytes` (the whole encoding) and appends them to `out`.
/// On error, `out` may hold part of the values after its original contents.
pub fn decode(codec: IntCodec, bytes: &[u8], rows: usize, out: &mut Vec<i64>) -> Result<()> {
    match codec {
        IntCodec::Plain => decode_plain(bytes, rows, out),
        IntCodec::Const => {
            let mut r = crate::bytes::Reader::new(bytes);
            let value = r.i64("const value")?;
            r.finish("const encoding")?;
            reserve(out, rows)?;
            out.extend(std::iter::repeat_n(value, rows));
            Ok(())
        }
        IntCodec::Rle => rle::decode(bytes, rows, out),
        IntCodec::For => decode_for(bytes, rows, out),
        IntCodec::Delta => delta::decode_delta(bytes, rows, out),
        IntCodec::DeltaOfDelta => delta::decode_dod(bytes, rows, out),
    }
}

/// The codec expected to give the smallest output for `values`: Const if all are equal; else
/// run-length from one pass counting runs, frame-of-reference / delta / delta-of-delta from
/// the bit widths of up to 8 vectors spread over the page; within 3% of the smallest the
/// fastest decoder wins (Const > For > Delta > DoD > Rle); Plain only when nothing is
/// smaller (and for an empty slice).
pub fn choose(values: &[i64]) -> IntCodec {
    choose::choose(values)
}

/// Reserves room for `rows` more values, as an error rather than an abort if impossible.
fn reserve(out: &mut Vec<i64>, rows: usize) -> Result<()> {
    out.try_reserve(rows).map_err(|_| CodecError::Invalid {
        field: "integer row count",
        value: rows as u64,
        allowed: "a count whose values fit in memory",
    })
}

fn decode_plain(bytes: &[u8], rows: usize, out: &mut Vec<i64>) -> Result<()> {
    if Some(bytes.len()) != rows.checked_mul(8) {
        return Err(CodecError::Mismatch {
            what: "plain integer bytes",
            expected: (rows as u64).saturating_mul(8),
            found: bytes.len() as u64,
        });
    }
    reserve(out, rows)?;
    out.extend(bytes.chunks_exact(8).map(|c| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        i64::from_le_bytes(b)
    }));
    Ok(())
}

fn decode_for(bytes: &[u8], rows: usize, out: &mut Vec<i64>) -> Result<()> {
    let mut r = crate::bytes::Reader::new(bytes);
    let mut cursor = frame::Frames::parse(&mut r, rows)?.cursor();
    r.finish("frame-of-reference encoding")?;
    reserve(out, rows)?;
    let mut scratch = [0u64; crate::bitpack::VECTOR];
    while let Some((residuals, reference)) = cursor.next(&mut scratch)? {
        out.extend(residuals.iter().map(|&x| x.wrapping_add(reference) as i64));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn round_trip(codec: IntCodec, values: &[i64]) -> Vec<u8> {
        let mut enc = vec![0xAA; 8];
        encode(codec, values, &mut enc).unwrap();
        assert_eq!(enc.len() % 8, 0, "{codec:?}");
        let mut back = vec![-1];
        decode(codec, &enc[8..], values.len(), &mut back).unwrap();
        assert_eq!(&back[1..], values, "{codec:?}");
        enc.split_off(8)
    }

    #[test]
    fn ids_are_stable() {
        for (codec, id) in IntCodec::ALL.into_iter().zip(1..) {
            assert_eq!(codec.id(), id);
            assert_eq!(IntCodec::from_id(id).unwrap(), codec);
        }
        assert!(IntCodec::from_id(0).is_err());
        assert!(IntCodec::from_id(7).is_err());
    }

    #[test]
    fn every_codec_round_trips_mixed_extremes() {
        let v: Vec<i64> = (0..2049)
            .map(|i| match i % 4 {
                0 => i64::MIN,
                1 => i64::MAX,
                2 => -(i as i64),
                _ => 0,
            })
            .collect();
        for codec in IntCodec::ALL {
            if codec != IntCodec::Const {
                round_trip(codec, &v);
            }
            round_trip(codec, &[]);
            round_trip(codec, &[i64::MIN]);
            round_trip(codec, &[42; 1025]);
        }
    }

    #[test]
    fn const_refuses_differing_values() {
        let mut out = Vec::new();
        assert!(matches!(
            encode(IntCodec::Const, &[1, 2], &mut out),
            Err(CodecError::Unencodable(_))
        ));
        assert_eq!(round_trip(IntCodec::Const, &[]).len(), 8);
    }

    #[test]
    fn plain_and_const_check_lengths() {
        let mut out = Vec::new();
        assert!(decode(IntCodec::Plain, &[0; 15], 2, &mut out).is_err());
        assert!(decode(IntCodec::Plain, &[0; 8], usize::MAX, &mut out).is_err());
        assert!(decode(IntCodec::Const, &[0; 9], 2, &mut out).is_err());
        assert!(decode(IntCodec::Const, &[0; 7], 2, &mut out).is_err());
        assert!(decode(IntCodec::For, &[0; 16], usize::MAX, &mut out).is_err());
    }

    #[test]
    fn for_stores_narrow_frames() {
        let v: Vec<i64> = (0..4096).map(|i| -1_000_000_000 + (i % 16)).collect();
        // 4 widths (8) + 4 references (32) + 4 vectors at 4 bits (512 each).
        assert_eq!(round_trip(IntCodec::For, &v).len(), 8 + 32 + 4 * 512);
    }
}
