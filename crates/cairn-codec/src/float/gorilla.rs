//! Gorilla's XOR value encoding (Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory Time
//! Series Database", VLDB 2015, section 4.1.2), values only.
//!
//! ```text
//! rows = 0: no bytes
//! rows > 0:
//!   u64 LE  the first value's bits
//!   a bit stream (bit i is bit 7 - i % 8 of byte i / 8, i.e. MSB first), for each further
//!   value, with x = bits XOR previous bits:
//!     '0'                            x = 0
//!     '10' + (64 - L - T) bits       x >> T, where L, T are the leading/trailing zero
//!                                    counts of the window last set by a '11' record
//!                                    (not allowed before the first '11')
//!     '11' + 6 bits L + 6 bits M - 1 + M bits
//!                                    x >> (64 - L - M); sets the window to L leading and
//!                                    64 - L - M trailing zeros; L + M <= 64, M in 1..=64
//!   then zero bits to the end of the last byte (no further byte)
//! ```
//!
//! The encoder uses '10' when x fits the window and that is no longer than a new '11' record.

use crate::bytes::Reader;
use crate::error::{CodecError, Result};

/// Appends the Gorilla encoding of `values`.
pub(super) fn encode(values: &[f64], out: &mut Vec<u8>) {
    let Some((first, rest)) = values.split_first() else {
        return;
    };
    out.extend_from_slice(&first.to_bits().to_le_bytes());
    let mut w = BitWriter::new(out);
    let mut prev = first.to_bits();
    // The window as (leading zeros, meaningful bits); None before the first '11'.
    let mut window: Option<(u32, u32)> = None;
    for v in rest {
        let bits = v.to_bits();
        let x = bits ^ prev;
        prev = bits;
        if x == 0 {
            w.write(0, 1);
            continue;
        }
        let lead = x.leading_zeros();
        let trail = x.trailing_zeros();
        let len = 64 - lead - trail;
        match window {
            Some((wl, wm)) if lead >= wl && trail >= 64 - wl - wm && wm <= len + 12 => {
                w.write(0b10, 2);
                w.write(x >> (64 - wl - wm), wm);
            }
            _ => {
                w.write(0b11, 2);
                w.write(u64::from(lead), 6);
                w.write(u64::from(len - 1), 6);
                w.write(x >> trail, len);
                window = Some((lead, len));
            }
        }
    }
    w.finish();
}

/// MSB-first bit writer appending whole bytes to a Vec.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits, the oldest at bit 63.
    acc: u64,
    /// Number of pending bits (0..64).
    fill: u32,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Self {
            out,
            acc: 0,
            fill: 0,
        }
    }

    /// Writes the low `n` bits of `v` (n in 0..=64), most significant first.
    fn write(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        let free = 64 - self.fill;
        if n < free {
            self.acc |= v << (free - n);
            self.fill += n;
        } else {
            let spill = n - free;
            let word = self.acc | (v >> spill);
            self.out.extend_from_slice(&word.to_be_bytes());
            self.acc = if spill == 0 { 0 } else { v << (64 - spill) };
            self.fill = spill;
        }
    }

    /// Flushes the pending bits, zero-padded to a whole byte.
    fn finish(self) {
        let bytes = self.fill.div_ceil(8) as usize;
        self.out
            .extend_from_slice(&self.acc.to_be_bytes()[..bytes.min(8)]);
    }
}

/// Bounds-checked MSB-first bit reader.
struct BitReader<'a> {
    bytes: &'a [u8],
    /// Next bit to read.
    pos: usize,
    /// Total bits in `bytes`.
    total: usize,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            total: bytes.len().saturating_mul(8),
        }
    }

    /// The 64 bits starting at `pos`, zeros past the end.
    #[inline]
    fn peek(&self) -> u64 {
        let byte = self.pos / 8;
        let shift = (self.pos % 8) as u32;
        let mut buf = [0u8; 9];
        match self.bytes.get(byte..byte + 9) {
            Some(s) => buf.copy_from_slice(s),
            None => {
                let tail = self.bytes.get(byte..).unwrap_or(&[]);
                let n = tail.len().min(9);
                buf[..n].copy_from_slice(&tail[..n]);
            }
        }
        let mut head = [0u8; 8];
        head.copy_from_slice(&buf[..8]);
        let w = u64::from_be_bytes(head);
        if shift == 0 {
            w
        } else {
            (w << shift) | (u64::from(buf[8]) >> (8 - shift))
        }
    }

    /// Reads `n` bits (0..=64), failing if fewer remain.
    #[inline]
    fn read(&mut self, n: u32) -> Result<u64> {
        let n_bits = n as usize;
        if n_bits > self.total - self.pos {
            return Err(CodecError::Truncated {
                what: "Gorilla bit stream",
                offset: 8 + self.pos / 8,
                needed: n_bits.div_ceil(8),
                available: (self.total - self.pos) / 8,
            });
        }
        if n == 0 {
            return Ok(0);
        }
        let v = self.peek() >> (64 - n);
        self.pos += n_bits;
        Ok(v)
    }
}

/// Decodes exactly `rows` values from `bytes` and appends them to `out` (unchanged on error).
pub(super) fn decode(bytes: &[u8], rows: usize, out: &mut Vec<f64>) -> Result<()> {
    let mut r = Reader::new(bytes);
    if rows == 0 {
        return r.finish("Gorilla encoding of zero rows");
    }
    let first = r.u64("Gorilla first value")?;
    let stream = r.rest();
    // Every further value takes at least one bit: reject before reserving for `rows`.
    if stream.len().saturating_mul(8) < rows - 1 {
        return Err(CodecError::Truncated {
            what: "Gorilla bit stream",
            offset: 8,
            needed: (rows - 1).div_ceil(8),
            available: stream.len(),
        });
    }
    let start = out.len();
    out.reserve(rows);
    let result = decode_stream(first, stream, rows, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// One peek decides the record (control bits and the '11' header fit in its top 14 bits), a
/// second reads the meaningful bits. Peeks past the end read zeros; the position is checked
/// against the stream length once per value, before the value is emitted.
fn decode_stream(first: u64, stream: &[u8], rows: usize, out: &mut Vec<f64>) -> Result<()> {
    let mut br = BitReader::new(stream);
    let mut prev = first;
    out.push(f64::from_bits(prev));
    // The window as (leading zeros, meaningful bits); None before the first '11'.
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..rows {
        let head = br.peek();
        if head >> 63 == 0 {
            br.pos += 1;
        } else {
            let (lead, len) = if head >> 62 & 1 == 0 {
                br.pos += 2;
                window.ok_or(CodecError::Invalid {
                    field: "Gorilla control bits",
                    value: 0b10,
                    allowed: "'10' only after a '11' record",
                })?
            } else {
                br.pos += 14;
                let lead = (head >> 56 & 63) as u32;
                let len = (head >> 50 & 63) as u32 + 1;
                if lead + len > 64 {
                    return Err(CodecError::Invalid {
                        field: "Gorilla leading zeros + length",
                        value: u64::from(lead + len),
                        allowed: "<= 64",
                    });
                }
                window = Some((lead, len));
                (lead, len)
            };
            let meaningful = br.peek() >> (64 - len);
            br.pos += len as usize;
            prev ^= meaningful << (64 - lead - len);
        }
        if br.pos > br.total {
            return Err(CodecError::Truncated {
                what: "Gorilla bit stream",
                offset: 8 + br.total / 8,
                needed: (br.pos - br.total).div_ceil(8),
                available: 0,
            });
        }
        out.push(f64::from_bits(prev));
    }
    let left = br.total - br.pos;
    if left >= 8 || br.read(left as u32)? != 0 {
        return Err(CodecError::Mismatch {
            what: "Gorilla stream bits after the last value (at most 7 zero bits)",
            expected: 0,
            found: left as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn round_trip(values: &[f64]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(values, &mut out);
        let mut back = Vec::new();
        decode(&out, values.len(), &mut back).unwrap();
        assert_eq!(back.len(), values.len());
        for (i, (a, b)) in values.iter().zip(&back).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "value {i}");
        }
        out
    }

    #[test]
    fn bit_writer_and_reader_agree() {
        let fields: Vec<(u64, u32)> = (0..500u64)
            .map(|i| {
                let n = (i * 7 % 65) as u32;
                (i.wrapping_mul(0x9E37_79B9_7F4A_7C15), n)
            })
            .collect();
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        for &(v, n) in &fields {
            w.write(v, n);
        }
        w.finish();
        let total: u32 = fields.iter().map(|f| f.1).sum();
        assert_eq!(out.len(), total.div_ceil(8) as usize);
        let mut r = BitReader::new(&out);
        for &(v, n) in &fields {
            let mask = if n == 64 { u64::MAX } else { (1 << n) - 1 };
            assert_eq!(r.read(n).unwrap(), v & mask, "width {n}");
        }
        assert!(r.read(8).is_err());
    }

    #[test]
    fn equal_values_cost_one_bit() {
        let out = round_trip(&[2.5; 801]);
        assert_eq!(out.len(), 8 + 100);
        let out = round_trip(&[7.0]);
        assert_eq!(out.len(), 8);
    }

    #[test]
    fn mixed_values_round_trip() {
        let mut values: Vec<f64> = (0..3000).map(|i| f64::from(i).sqrt()).collect();
        values[10] = f64::NAN;
        values[11] = -0.0;
        values[12] = f64::from_bits(1);
        values[13] = f64::MIN;
        values[14] = f64::INFINITY;
        round_trip(&values);
        round_trip(&[0.0, f64::from_bits(u64::MAX), 0.0, f64::from_bits(1 << 63)]);
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let values: Vec<f64> = (0..100).map(|i| f64::from(i) * 1.1).collect();
        let mut good = Vec::new();
        encode(&values, &mut good);
        let mut out = Vec::new();
        assert!(decode(&good[..good.len() - 1], 100, &mut out).is_err());
        // Padding bits read as "equal" records can add up to 7 values, never 8.
        assert!(decode(&good, 108, &mut out).is_err());
        assert!(decode(&good[..7], 1, &mut out).is_err());
        assert!(decode(&[0], 0, &mut out).is_err());
        let mut extra = good.clone();
        extra.push(0);
        assert!(decode(&extra, 100, &mut out).is_err());
        // '10' before any window: first value then bits 10.
        let bad = [0, 0, 0, 0, 0, 0, 0, 0, 0b1000_0000];
        assert!(decode(&bad, 2, &mut out).is_err());
        // '11', lead 63, length 2 (stored 1): 63 + 2 > 64.
        let bad = [0, 0, 0, 0, 0, 0, 0, 0, 0b1111_1111, 0b0000_0100, 0];
        assert!(decode(&bad, 2, &mut out).is_err());
        assert!(out.is_empty());
    }
}
