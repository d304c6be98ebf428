//! Delta and delta-of-delta codecs: differences (wrapping) stored as a frame-of-reference
//! block, so unsorted series and huge or negative steps need no special case.
//!
//! ```text
//! Delta  i64 first value (0 for no rows)
//!        frame-of-reference block of rows slots: d[i] = v[i] - v[i-1]; slot 0 holds d[1]
//! DoD    i64 first value, i64 first delta v[1] - v[0] (0 where absent)
//!        frame-of-reference block of rows slots: dd[i] = d[i] - d[i-1]; slots 0, 1 hold dd[2]
//! ```
//!
//! Both store one slot per row, so vector k of the block covers rows `1024k..`. The slots
//! before the first real difference hold a filler equal to the first real one, which never
//! widens vector 0's frame; the decoder folds whatever they hold into its start state, so
//! its loop is the same for every slot.

use super::frame::{Frames, block_bytes, min_max, range_width};
use crate::bitpack::VECTOR;
use crate::bytes::{Reader, put_i64};
use crate::error::Result;

/// `d[i] = v[i] - v[i-1]` for i >= 1; `d[0]` = `d[1]` (0 for one value).
fn deltas(values: &[i64]) -> Vec<i64> {
    let mut d = Vec::with_capacity(values.len());
    d.extend(values.first().map(|_| 0));
    d.extend(values.windows(2).map(|w| w[1].wrapping_sub(w[0])));
    if let Some(&d1) = d.get(1) {
        d[0] = d1;
    }
    d
}

/// Header: the first value (0 if none). Then the block of deltas.
pub(super) fn encode_delta(values: &[i64], out: &mut Vec<u8>) {
    put_i64(out, values.first().copied().unwrap_or(0));
    super::frame::encode(&deltas(values), out);
}

pub(super) fn decode_delta(bytes: &[u8], rows: usize, out: &mut Vec<i64>) -> Result<()> {
    let mut r = Reader::new(bytes);
    let first = r.i64("delta first value")? as u64;
    let mut cursor = Frames::parse(&mut r, rows)?.cursor();
    r.finish("delta encoding")?;
    super::reserve(out, rows)?;
    let mut scratch = [0u64; VECTOR];
    // acc + d[0] == first, whatever filler d[0] holds.
    let mut acc: Option<u64> = None;
    while let Some((residuals, reference)) = cursor.next(&mut scratch)? {
        let mut a = match acc {
            Some(a) => a,
            None => first.wrapping_sub(residuals.first().map_or(0, |&x| x.wrapping_add(reference))),
        };
        out.extend(residuals.iter().map(|&x| {
            a = a.wrapping_add(x.wrapping_add(reference));
            a as i64
        }));
        acc = Some(a);
    }
    Ok(())
}

/// `dd[i] = d[i] - d[i-1]` for i >= 2; `dd[0]`, `dd[1]` = `dd[2]` (0 if fewer than 3).
fn delta_of_deltas(values: &[i64]) -> Vec<i64> {
    let mut dd = Vec::with_capacity(values.len());
    dd.extend(values.iter().take(2).map(|_| 0));
    dd.extend(values.windows(3).map(|w| {
        w[2].wrapping_sub(w[1])
            .wrapping_sub(w[1].wrapping_sub(w[0]))
    }));
    if let Some(&dd2) = dd.get(2) {
        dd[0] = dd2;
        dd[1] = dd2;
    }
    dd
}

/// Header: the first value and the first delta `v[1] - v[0]` (0 where absent). Then the
/// block of delta-of-deltas.
pub(super) fn encode_dod(values: &[i64], out: &mut Vec<u8>) {
    let first = values.first().copied().unwrap_or(0);
    let first_delta = values.get(1).map_or(0, |&v1| v1.wrapping_sub(first));
    put_i64(out, first);
    put_i64(out, first_delta);
    super::frame::encode(&delta_of_deltas(values), out);
}

pub(super) fn decode_dod(bytes: &[u8], rows: usize, out: &mut Vec<i64>) -> Result<()> {
    let mut r = Reader::new(bytes);
    let first = r.i64("delta-of-delta first value")? as u64;
    let first_delta = r.i64("delta-of-delta first delta")? as u64;
    let mut cursor = Frames::parse(&mut r, rows)?.cursor();
    r.finish("delta-of-delta encoding")?;
    super::reserve(out, rows)?;
    let mut scratch = [0u64; VECTOR];
    // Each slot does `delta += dd; value += delta`. The start state makes slot 0 yield
    // `first` and slot 1 yield `first + first_delta`, whatever fillers dd[0], dd[1] hold.
    let mut state: Option<(u64, u64)> = None;
    while let Some((residuals, reference)) = cursor.next(&mut scratch)? {
        let (mut value, mut delta) = match state {
            Some(s) => s,
            None => {
                let slot = |i: usize| residuals.get(i).map_or(0, |&x| x.wrapping_add(reference));
                let (dd0, dd1) = (slot(0), slot(1));
                let delta = first_delta.wrapping_sub(dd0).wrapping_sub(dd1);
                let value = first.wrapping_sub(first_delta).wrapping_add(dd1);
                (value, delta)
            }
        };
        out.extend(residuals.iter().map(|&x| {
            delta = delta.wrapping_add(x.wrapping_add(reference));
            value = value.wrapping_add(delta);
            value as i64
        }));
        state = Some((value, delta));
    }
    Ok(())
}

/// Estimated encoded bytes of (delta, delta-of-delta) for `values`, from the bit widths of
/// `sample` (indexes of vectors spread over the page).
pub(super) fn estimate(values: &[i64], sample: &[usize]) -> (usize, usize) {
    let (mut d_bits, mut dd_bits, mut seen) = (0usize, 0usize, 0usize);
    let mut d = Vec::with_capacity(VECTOR);
    let mut dd = Vec::with_capacity(VECTOR);
    for &k in sample {
        let start = k * VECTOR;
        let end = (start + VECTOR).min(values.len());
        // Differences that land in this vector's slots (rows 1.. and 2.. only).
        let from = start.max(1);
        d.clear();
        d.extend((from..end).map(|i| values[i].wrapping_sub(values[i - 1])));
        dd.clear();
        dd.extend(d.windows(2).map(|w| w[1].wrapping_sub(w[0])));
        if from >= 2 && from < end {
            // The first slot's delta-of-delta reaches back one row before the vector.
            let prev = values[from - 1].wrapping_sub(values[from - 2]);
            dd.push(
                values[from]
                    .wrapping_sub(values[from - 1])
                    .wrapping_sub(prev),
            );
        }
        let len = end - start;
        let (lo, hi) = min_max(&d);
        d_bits += len * range_width(lo, hi) as usize;
        let (lo, hi) = min_max(&dd);
        dd_bits += len * range_width(lo, hi) as usize;
        seen += len;
    }
    let n = values.len();
    let scale = |bits: usize| (bits as f64 / seen.max(1) as f64 * n as f64 / 8.0) as usize;
    (
        8 + block_bytes(n, scale(d_bits)),
        16 + block_bytes(n, scale(dd_bits)),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn check(values: &[i64]) {
        let mut enc = Vec::new();
        encode_delta(values, &mut enc);
        let mut back = vec![7];
        decode_delta(&enc, values.len(), &mut back).unwrap();
        assert_eq!(&back[1..], values);
        let mut enc = Vec::new();
        encode_dod(values, &mut enc);
        let mut back = vec![7];
        decode_dod(&enc, values.len(), &mut back).unwrap();
        assert_eq!(&back[1..], values);
    }

    #[test]
    fn short_and_extreme_series_round_trip() {
        check(&[]);
        check(&[i64::MIN]);
        check(&[i64::MAX, i64::MIN]);
        check(&[5, -5, i64::MAX, 0, i64::MIN, 3]);
        let v: Vec<i64> = (0..5000)
            .map(|i| (i as i64).wrapping_mul(0x5851_F42D_4C95_7F2D))
            .collect();
        check(&v);
    }

    #[test]
    fn regular_series_pack_to_width_zero() {
        let v: Vec<i64> = (0..4096).map(|i| 1_700_000_000_000 + 1000 * i).collect();
        check(&v);
        let mut enc = Vec::new();
        encode_dod(&v, &mut enc);
        // Header + 4 widths (padded to 8) + 4 references, no packed words.
        assert_eq!(enc.len(), 16 + 8 + 32);
        let mut enc = Vec::new();
        encode_delta(&v, &mut enc);
        assert_eq!(enc.len(), 8 + 8 + 32);
    }

    #[test]
    fn fillers_do_not_widen_the_first_frame() {
        let v: Vec<i64> = (0..1024).map(|i| 1_000_000 + 1000 * i + (i % 2)).collect();
        let d = deltas(&v);
        assert_eq!(d[0], d[1]);
        let (lo, hi) = min_max(&d);
        assert_eq!(range_width(lo, hi), 2);
    }
}
