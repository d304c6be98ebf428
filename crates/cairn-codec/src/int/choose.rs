//! Picking a codec by estimated size, without encoding the page.
//!
//! One pass counts runs (giving Const and the run-length estimate); frame-of-reference,
//! delta and delta-of-delta sizes come from the bit widths of up to [`SAMPLE_VECTORS`]
//! vectors spread evenly over the page. Among the codecs within [`NEAR_TIE`] of the
//! smallest estimate, the fastest decoder wins: Const > For > Delta > DoD > Rle. Plain is
//! picked only when no other estimate is smaller.

use super::IntCodec;
use super::frame::{block_bytes, min_max, range_width};
use super::rle::RunStats;
use crate::bitpack::VECTOR;

/// Vectors whose widths are measured.
const SAMPLE_VECTORS: usize = 8;
/// Estimates within this factor of the smallest count as a tie.
const NEAR_TIE: f64 = 1.03;

/// Indexes of up to [`SAMPLE_VECTORS`] vectors spread over `nv`, first and last included.
fn sample(nv: usize) -> Vec<usize> {
    if nv <= SAMPLE_VECTORS {
        return (0..nv).collect();
    }
    (0..SAMPLE_VECTORS)
        .map(|j| j * (nv - 1) / (SAMPLE_VECTORS - 1))
        .collect()
}

/// Estimated bytes of the frame-of-reference encoding, from the sampled vectors' widths.
fn estimate_for(values: &[i64], sample: &[usize]) -> usize {
    let (mut bits, mut seen) = (0usize, 0usize);
    for &k in sample {
        let chunk = &values[k * VECTOR..((k + 1) * VECTOR).min(values.len())];
        let (lo, hi) = min_max(chunk);
        bits += chunk.len() * range_width(lo, hi) as usize;
        seen += chunk.len();
    }
    let n = values.len();
    block_bytes(
        n,
        (bits as f64 / seen.max(1) as f64 * n as f64 / 8.0) as usize,
    )
}

/// Estimated encoded bytes of each codec for `values` (None: not applicable), in the order
/// of decode speed.
pub(super) fn estimates(values: &[i64]) -> [(IntCodec, Option<usize>); 6] {
    let n = values.len();
    let stats = RunStats::of(values);
    let sample = sample(n.div_ceil(VECTOR));
    let (delta, dod) = super::delta::estimate(values, &sample);
    [
        (IntCodec::Const, (stats.runs <= 1).then_some(8)),
        (IntCodec::For, Some(estimate_for(values, &sample))),
        (IntCodec::Delta, Some(delta)),
        (IntCodec::DeltaOfDelta, Some(dod)),
        (IntCodec::Rle, Some(stats.estimate())),
        (IntCodec::Plain, Some(8 * n)),
    ]
}

pub(super) fn choose(values: &[i64]) -> IntCodec {
    if values.is_empty() {
        return IntCodec::Plain;
    }
    let estimates = estimates(values);
    let plain = 8 * values.len();
    let best = estimates
        .iter()
        .filter(|&&(c, _)| c != IntCodec::Plain)
        .filter_map(|&(_, e)| e)
        .min()
        .unwrap_or(plain);
    // Plain is kept when nothing is smaller (it decodes as a copy, faster than a width-64
    // frame); otherwise the fastest codec within the near-tie margin wins.
    if plain <= best {
        return IntCodec::Plain;
    }
    let limit = (best as f64 * NEAR_TIE) as usize;
    estimates
        .iter()
        .find(|&&(_, e)| e.is_some_and(|e| e <= limit))
        .map_or(IntCodec::Plain, |&(c, _)| c)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn samples_spread_over_the_page() {
        assert_eq!(sample(0), Vec::<usize>::new());
        assert_eq!(sample(3), vec![0, 1, 2]);
        assert_eq!(sample(15), vec![0, 2, 4, 6, 8, 10, 12, 14]);
    }

    #[test]
    fn picks_match_the_data() {
        assert_eq!(choose(&[]), IntCodec::Plain);
        assert_eq!(choose(&[3; 5000]), IntCodec::Const);
        let small: Vec<i64> = (0..5000).map(|i| (i * 7919) % 100).collect();
        assert_eq!(choose(&small), IntCodec::For);
        let ts: Vec<i64> = (0..5000)
            .map(|i| 1_700_000_000_000 + 17 * i + (i * 7919) % 13)
            .collect();
        assert_eq!(choose(&ts), IntCodec::Delta);
        // A constant interval packs to width 0 in both; delta decodes faster.
        let regular: Vec<i64> = (0..5000)
            .map(|i| 1_700_000_000_000_000_000 + 1_000_000_000 * i)
            .collect();
        assert_eq!(choose(&regular), IntCodec::Delta);
        // A steadily growing interval is constant in delta-of-delta only.
        let accelerating: Vec<i64> = (0..5000).map(|i| 1_000_000 + 3 * i * i).collect();
        assert_eq!(choose(&accelerating), IntCodec::DeltaOfDelta);
        let runs: Vec<i64> = (0..65536).map(|i| (i / 1000) * 1_000_003 % 77).collect();
        assert_eq!(choose(&runs), IntCodec::Rle);
        let random: Vec<i64> = (0..5000u64)
            .map(|i| {
                let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let x = (x ^ (x >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                (x ^ (x >> 29)) as i64
            })
            .collect();
        assert_eq!(choose(&random), IntCodec::Plain);
    }

    /// Sampled estimates land near the real size; the run-length one is an upper bound
    /// (page-wide widths).
    #[test]
    fn estimates_track_real_sizes() {
        let ts: Vec<i64> = (0..100_000)
            .map(|i| 1_700_000_000_000 + 17 * i + (i * 7919) % 13)
            .collect();
        for (codec, estimate) in estimates(&ts) {
            let Some(estimate) = estimate else { continue };
            let mut out = Vec::new();
            super::super::encode(codec, &ts, &mut out).unwrap();
            let ratio = out.len() as f64 / estimate as f64;
            if codec == IntCodec::Rle {
                assert!(ratio <= 1.0, "{codec:?}: {} vs {estimate}", out.len());
                continue;
            }
            assert!(
                (0.8..=1.25).contains(&ratio),
                "{codec:?}: {} vs {estimate}",
                out.len()
            );
        }
    }
}
