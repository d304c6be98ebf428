//! Float decoders on untrusted bytes: seeded random inputs and mutations of valid encodings
//! must give Ok with exactly `rows` values or an error, never a panic, and leave what was
//! already in the output untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_codec::float::{self, FloatCodec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ROWS: [usize; 4] = [0, 1, 1024, 5000];
const SEED: u64 = 0xF10A7;

fn decode_checked(codec: FloatCodec, bytes: &[u8], rows: usize) -> bool {
    let mut out = vec![42.0];
    match float::decode(codec, bytes, rows, &mut out) {
        Ok(()) => {
            assert_eq!(out.len(), rows + 1, "{codec:?} rows {rows}");
            assert_eq!(out[0], 42.0);
            true
        }
        Err(_) => {
            assert_eq!(out, [42.0], "{codec:?}: output changed on error");
            false
        }
    }
}

/// Valid encodings of several shapes of `rows` values.
fn samples(codec: FloatCodec, rows: usize, rng: &mut StdRng) -> Vec<Vec<u8>> {
    let decimals: Vec<f64> = (0..rows)
        .map(|_| f64::from(rng.random_range(0..100_000)) / 100.0)
        .collect();
    let random: Vec<f64> = (0..rows).map(|_| f64::from_bits(rng.random())).collect();
    let mut mixed = decimals.clone();
    for v in mixed.iter_mut().step_by(5) {
        *v = [-0.0, f64::NAN, f64::INFINITY, f64::from_bits(1), f64::MIN][rng.random_range(0..5)];
    }
    let steady: Vec<f64> = (0..rows).map(|i| (i / 7) as f64 * 0.37).collect();
    [decimals, random, mixed, steady]
        .iter()
        .map(|values| {
            let mut out = Vec::new();
            float::encode(codec, values, &mut out).unwrap();
            assert!(decode_checked(codec, &out, rows));
            out
        })
        .collect()
}

fn mutate(good: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut bad = good.to_vec();
    for _ in 0..rng.random_range(1..4) {
        match rng.random_range(0..6) {
            0 if !bad.is_empty() => {
                let i = rng.random_range(0..bad.len());
                bad[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !bad.is_empty() => {
                let i = rng.random_range(0..bad.len());
                bad[i] = rng.random();
            }
            2 => {
                let keep = rng.random_range(0..=bad.len());
                bad.truncate(keep);
            }
            3 => {
                for _ in 0..rng.random_range(1..16) {
                    bad.push(rng.random());
                }
            }
            4 if bad.len() >= 16 => {
                // Header fields sit in the first 16 bytes of ALP vectors and Gorilla streams.
                let i = rng.random_range(0..16);
                bad[i] = rng.random();
            }
            _ => {
                let i = rng.random_range(0..=bad.len());
                bad.insert(i, rng.random());
            }
        }
    }
    bad
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(SEED);
    for codec in FloatCodec::ALL {
        for rows in ROWS {
            for _ in 0..300 {
                let len = match rng.random_range(0..3) {
                    0 => rng.random_range(0..64),
                    1 => rng.random_range(0..4096),
                    _ => rows * rng.random_range(1..=10) + rng.random_range(0..32),
                };
                let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                decode_checked(codec, &bytes, rows);
            }
        }
    }
}

#[test]
fn mutated_encodings_never_panic() {
    let mut rng = StdRng::seed_from_u64(SEED + 1);
    for codec in FloatCodec::ALL {
        for rows in ROWS {
            for good in samples(codec, rows, &mut rng) {
                for _ in 0..150 {
                    let bad = mutate(&good, &mut rng);
                    decode_checked(codec, &bad, rows);
                }
                // A valid encoding decoded with another row count.
                for other in ROWS {
                    decode_checked(codec, &good, other);
                    decode_checked(codec, &good, other + 1);
                }
            }
        }
    }
}

#[test]
fn huge_row_counts_are_rejected_without_allocating() {
    for codec in FloatCodec::ALL {
        for rows in [1 << 20, usize::MAX / 8, usize::MAX] {
            assert!(!decode_checked(codec, &[0u8; 64], rows));
        }
    }
}
