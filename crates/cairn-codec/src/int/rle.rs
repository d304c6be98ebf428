//! Run-length codec: maximal runs of equal values.
//!
//! ```text
//! u64 run count r (<= rows)
//! frame-of-reference block of the r run values   (frame.rs)
//! frame-of-reference block of the r run lengths  (each >= 1, summing to rows)
//! ```
//!
//! The decoder checks the count against `rows` before reading on, and each length as it
//! expands it (no zero, no overflow, never past `rows`); the sum must end exactly at `rows`.

use super::frame::{Frames, block_bytes, range_width};
use crate::bitpack::VECTOR;
use crate::bytes::{Reader, put_u64};
use crate::error::{CodecError, Result};

/// Run values and run lengths of `values`.
fn runs(values: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let mut run_values = Vec::new();
    let mut run_lengths = Vec::new();
    let mut start = 0;
    for i in 1..=values.len() {
        if i == values.len() || values[i] != values[i - 1] {
            run_values.push(values[start]);
            run_lengths.push((i - start) as i64);
            start = i;
        }
    }
    (run_values, run_lengths)
}

/// Header: run count (u64). Then the block of run values, then the block of run lengths.
pub(super) fn encode(values: &[i64], out: &mut Vec<u8>) {
    let (run_values, run_lengths) = runs(values);
    put_u64(out, run_values.len() as u64);
    super::frame::encode(&run_values, out);
    super::frame::encode(&run_lengths, out);
}

pub(super) fn decode(bytes: &[u8], rows: usize, out: &mut Vec<i64>) -> Result<()> {
    let mut r = Reader::new(bytes);
    let count = r.u64("run count")?;
    if count > rows as u64 {
        return Err(CodecError::Invalid {
            field: "run count",
            value: count,
            allowed: "<= row count",
        });
    }
    let count = count as usize;
    let mut run_values = Frames::parse(&mut r, count)?.cursor();
    let mut run_lengths = Frames::parse(&mut r, count)?.cursor();
    r.finish("run-length encoding")?;
    super::reserve(out, rows)?;
    let mut value_scratch = [0u64; VECTOR];
    let mut length_scratch = [0u64; VECTOR];
    let mut total = 0usize;
    while let Some((values, value_ref)) = run_values.next(&mut value_scratch)? {
        // Both blocks hold `count` entries, so their vectors pair up one to one.
        let Some((lengths, length_ref)) = run_lengths.next(&mut length_scratch)? else {
            break;
        };
        for (&v, &l) in values.iter().zip(lengths) {
            let length = l.wrapping_add(length_ref);
            let end = usize::try_from(length)
                .ok()
                .filter(|&len| len > 0)
                .and_then(|len| total.checked_add(len))
                .filter(|&end| end <= rows)
                .ok_or(CodecError::Invalid {
                    field: "run length",
                    value: length,
                    allowed: "1..=rows not yet covered",
                })?;
            out.extend(std::iter::repeat_n(
                v.wrapping_add(value_ref) as i64,
                end - total,
            ));
            total = end;
        }
    }
    if total != rows {
        return Err(CodecError::Mismatch {
            what: "sum of run lengths",
            expected: rows as u64,
            found: total as u64,
        });
    }
    Ok(())
}

/// Run statistics gathered in one pass, for [`estimate`] and for spotting constant pages.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunStats {
    pub runs: usize,
    min_value: i64,
    max_value: i64,
    min_length: usize,
    max_length: usize,
}

impl RunStats {
    pub(super) fn of(values: &[i64]) -> Self {
        let first = values.first().copied().unwrap_or(0);
        let mut s = RunStats {
            runs: 0,
            min_value: first,
            max_value: first,
            min_length: usize::MAX,
            max_length: 0,
        };
        let mut start = 0;
        let mut prev = first;
        for (i, &v) in values.iter().enumerate() {
            if v != prev {
                s.close(prev, i - start);
                start = i;
                prev = v;
            }
        }
        if !values.is_empty() {
            s.close(prev, values.len() - start);
        }
        s
    }

    fn close(&mut self, value: i64, length: usize) {
        self.runs += 1;
        self.min_value = self.min_value.min(value);
        self.max_value = self.max_value.max(value);
        self.min_length = self.min_length.min(length);
        self.max_length = self.max_length.max(length);
    }

    /// Upper estimate of the encoded bytes: every run at the page-wide widths.
    pub(super) fn estimate(&self) -> usize {
        let w_value = range_width(self.min_value, self.max_value) as usize;
        let w_length = range_width(self.min_length as i64, self.max_length as i64) as usize;
        let packed = |w: usize| (self.runs * w).div_ceil(64) * 8;
        8 + block_bytes(self.runs, packed(w_value)) + block_bytes(self.runs, packed(w_length))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn round_trip(values: &[i64]) -> usize {
        let mut enc = Vec::new();
        encode(values, &mut enc);
        let mut back = Vec::new();
        decode(&enc, values.len(), &mut back).unwrap();
        assert_eq!(back, values);
        let stats = RunStats::of(values);
        assert!(enc.len() <= stats.estimate(), "{} > estimate", enc.len());
        enc.len()
    }

    #[test]
    fn runs_round_trip() {
        assert_eq!(round_trip(&[]), 8);
        round_trip(&[i64::MIN]);
        round_trip(&[i64::MIN, i64::MIN, i64::MAX, 0, 0, 0]);
        let v: Vec<i64> = (0..5000).map(|i| (i / 7) % 3).collect();
        round_trip(&v);
    }

    #[test]
    fn sorted_codes_are_tiny() {
        let v: Vec<i64> = (0..65536).map(|i| i * 10 / 65536).collect();
        assert!(round_trip(&v) < 100);
        assert_eq!(RunStats::of(&v).runs, 10);
    }

    fn encoded(values: &[i64]) -> Vec<u8> {
        let mut enc = Vec::new();
        encode(values, &mut enc);
        enc
    }

    #[test]
    fn lengths_must_cover_rows_exactly() {
        let enc = encoded(&[1, 1, 2]);
        let mut out = Vec::new();
        assert!(decode(&enc, 2, &mut out).is_err());
        assert!(decode(&enc, 4, &mut out).is_err());
        // A run count above the row count is refused before anything is read.
        let mut bad = enc.clone();
        bad[..8].copy_from_slice(&100u64.to_le_bytes());
        assert!(matches!(
            decode(&bad, 3, &mut out),
            Err(CodecError::Invalid {
                field: "run count",
                ..
            })
        ));
    }

    #[test]
    fn zero_and_huge_lengths_are_errors() {
        // Two runs with lengths 0 and 3 (reference 0, width 2, residuals 0 and 3).
        let mut enc = encoded(&[5, 6, 6]);
        let lengths_at = enc.len() - 24;
        enc[lengths_at] = 2;
        enc[lengths_at + 8..lengths_at + 16].copy_from_slice(&0i64.to_le_bytes());
        enc[lengths_at + 16..].copy_from_slice(&(3u64 << 2).to_le_bytes());
        let mut out = Vec::new();
        assert!(decode(&enc, 3, &mut out).is_err());
        let mut enc = encoded(&[5, 6, 6]);
        enc[lengths_at + 8..lengths_at + 16].copy_from_slice(&(-1i64).to_le_bytes());
        assert!(decode(&enc, 3, &mut out).is_err());
    }
}
