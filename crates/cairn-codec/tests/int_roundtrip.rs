//! Integer codecs: bit-exact round trips of every codec (and of `choose`'s pick) over the
//! shapes columns take, and the sizes `choose` must reach on timestamps and sorted codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use cairn_codec::CodecError;
use cairn_codec::int::{self, IntCodec};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Encodes after `prefix` bytes already in the buffer (as a page body would) and decodes
/// after a value already in the output; returns the encoding's own bytes.
fn round_trip(codec: IntCodec, values: &[i64], prefix: usize) -> Vec<u8> {
    let mut enc = vec![0x5A; prefix];
    int::encode(codec, values, &mut enc).unwrap();
    let enc = enc.split_off(prefix);
    assert_eq!(enc.len() % 8, 0, "{codec:?} length not a multiple of 8");
    let mut back = vec![i64::MIN + 1];
    int::decode(codec, &enc, values.len(), &mut back).unwrap();
    assert_eq!(back.len(), values.len() + 1, "{codec:?}");
    assert!(back[1..] == *values, "{codec:?} changed values");
    enc
}

/// Every codec that applies, then `choose`'s pick; returns (pick, its size, best size).
fn check_all(values: &[i64]) -> (IntCodec, usize, usize) {
    let all_equal = values.windows(2).all(|w| w[0] == w[1]);
    let mut best = usize::MAX;
    for codec in IntCodec::ALL {
        if codec == IntCodec::Const && !all_equal {
            let mut out = Vec::new();
            assert!(matches!(
                int::encode(codec, values, &mut out),
                Err(CodecError::Unencodable(_))
            ));
            continue;
        }
        best = best.min(round_trip(codec, values, 16).len());
    }
    let pick = int::choose(values);
    let size = round_trip(pick, values, 8).len();
    (pick, size, best)
}

const LENGTHS: [usize; 7] = [0, 1, 1023, 1024, 1025, 5000, 2049];

/// Column shapes: `kind` picks the generator, `seed` its randomness.
fn column(kind: u8, n: usize, seed: u64) -> Vec<i64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let base_ms: i64 = 1_700_000_000_000 + rng.random_range(0..1_000_000_000);
    match kind {
        0 => (0..n).map(|_| rng.random()).collect(),
        1 => vec![rng.random(); n],
        2 => {
            let pool = [i64::MIN, i64::MAX, 0, -1, 1, i64::MIN + 1, i64::MAX - 1];
            (0..n)
                .map(|_| pool[rng.random_range(0..pool.len())])
                .collect()
        }
        // A random walk with huge steps of either sign (wrapping).
        3 => {
            let mut v = rng.random::<i64>();
            (0..n)
                .map(|_| {
                    v = v.wrapping_add(rng.random());
                    v
                })
                .collect()
        }
        // Unsorted ms timestamps: arrival order within an hour.
        4 => (0..n)
            .map(|_| base_ms + rng.random_range(-3_600_000..3_600_000))
            .collect(),
        // ms timestamps at 1 s with occasional jitter.
        5 => (0..n as i64)
            .map(|i| {
                base_ms
                    + 1000 * i
                    + if rng.random_ratio(1, 50) {
                        rng.random_range(-5..=5)
                    } else {
                        0
                    }
            })
            .collect(),
        // ns timestamps at 10 ms with jitter of a few µs on every sample.
        6 => (0..n as i64)
            .map(|i| base_ms * 1_000_000 + 10_000_000 * i + rng.random_range(0..5_000))
            .collect(),
        // Long runs of a few values.
        7 => {
            let mut v = Vec::with_capacity(n);
            while v.len() < n {
                let run = rng.random_range(1..3000).min(n - v.len());
                v.extend(std::iter::repeat_n(rng.random_range(-3..3i64), run));
            }
            v
        }
        // Small values around a large negative offset.
        8 => (0..n)
            .map(|_| -(1 << 40) + rng.random_range(0..1000))
            .collect(),
        // Counters whose rate grows steadily.
        _ => (0..n as i64).map(|i| 5_000 + 7 * i + i * i / 3).collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn shapes_round_trip(kind in 0u8..10, len in 0usize..LENGTHS.len(), extra in 0usize..3000,
                         use_extra in any::<bool>(), seed in any::<u64>()) {
        let n = if use_extra { extra } else { LENGTHS[len] };
        let values = column(kind, n, seed);
        let (pick, size, best) = check_all(&values);
        // Sampling may miss, but never by much on these shapes.
        prop_assert!(size <= best + best / 4 + 64, "{pick:?} {size} vs best {best} (kind {kind}, n {n})");
    }

    #[test]
    fn arbitrary_values_round_trip(values in prop::collection::vec(any::<i64>(), 0..2100)) {
        check_all(&values);
    }

    #[test]
    fn small_alphabets_round_trip(values in prop::collection::vec(-2i64..=2, 0..2100)) {
        check_all(&values);
    }
}

#[test]
fn edge_lengths_of_every_shape() {
    for kind in 0..10 {
        for n in LENGTHS {
            check_all(&column(kind, n, 7 * n as u64 + u64::from(kind)));
        }
    }
}

/// 1M strictly increasing ms timestamps, steps 1 + 0..=16 ms.
fn jittered_ms(n: usize, seed: u64) -> Vec<i64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = 1_700_000_000_000i64;
    (0..n)
        .map(|_| {
            t += 1 + rng.random_range(0..=16);
            t
        })
        .collect()
}

#[test]
fn jittered_ms_timestamps_take_under_0_7_bytes_per_value() {
    let values = jittered_ms(1 << 20, 1);
    let (pick, size, _) = check_all(&values);
    let per_value = size as f64 / values.len() as f64;
    assert!(per_value <= 0.7, "{pick:?}: {per_value:.3} bytes/value");
}

#[test]
fn sorted_codes_with_ten_values_take_under_200_bytes() {
    let values: Vec<i64> = (0..65536).map(|i| i * 10 / 65536).collect();
    let (pick, size, _) = check_all(&values);
    assert!(size < 200, "{pick:?}: {size} bytes");
}

#[test]
fn regular_timestamps_cost_almost_nothing() {
    let values: Vec<i64> = (0..1 << 20).map(|i| 1_700_000_000_000 + 1000 * i).collect();
    let (pick, size, _) = check_all(&values);
    assert!(size * 100 < values.len(), "{pick:?}: {size} bytes");
    // With a sample late by 1 ms every 10 000 rows, the vectors holding one pay 2 bits.
    let jittered: Vec<i64> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| v + i64::from(i % 10_000 == 5))
        .collect();
    let mut enc = Vec::new();
    int::encode(IntCodec::DeltaOfDelta, &jittered, &mut enc).unwrap();
    assert!(enc.len() * 8 < 2 * jittered.len(), "{} bytes", enc.len());
}

/// Decode throughput in MB/s of output (8 bytes per value); run with
/// `cargo test --release -p cairn-codec --test int_roundtrip -- --ignored --nocapture`.
#[test]
#[ignore = "prints throughput; run in release mode"]
fn decode_throughput() {
    let n = 1 << 20;
    let mut rng = StdRng::seed_from_u64(3);
    let small: Vec<i64> = (0..n).map(|_| rng.random_range(0..1 << 20)).collect();
    let cases = [
        ("for, 20-bit values", IntCodec::For, small),
        ("delta, ms steps 1..=17", IntCodec::Delta, jittered_ms(n, 2)),
        (
            "dod, ms steps 1..=17",
            IntCodec::DeltaOfDelta,
            jittered_ms(n, 2),
        ),
        (
            "dod, regular 1 s",
            IntCodec::DeltaOfDelta,
            (0..n as i64)
                .map(|i| 1_700_000_000_000 + 1000 * i)
                .collect(),
        ),
    ];
    for (name, codec, values) in cases {
        let start = Instant::now();
        let picked = int::choose(&values);
        let choose_ms = start.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        let mut enc = Vec::new();
        int::encode(codec, &values, &mut enc).unwrap();
        let encode_s = start.elapsed().as_secs_f64();
        let reps = 50;
        // Warm: the output buffer is reused. Fresh: a new Vec per decode, as a page read does.
        let (mut warm, mut fresh) = (f64::MAX, 0.0);
        let mut out = Vec::with_capacity(n);
        for _ in 0..reps {
            out.clear();
            let start = Instant::now();
            int::decode(codec, &enc, n, &mut out).unwrap();
            warm = f64::min(warm, start.elapsed().as_secs_f64());
            let start = Instant::now();
            let mut new = Vec::new();
            int::decode(codec, &enc, n, &mut new).unwrap();
            fresh += start.elapsed().as_secs_f64() / f64::from(reps);
            std::hint::black_box(new);
        }
        assert_eq!(out, values);
        let mbps = |s: f64| (8 * n) as f64 / s / 1e6;
        println!(
            "{name:24} {:5.3} B/value  decode warm {:6.0} MB/s, fresh {:6.0} MB/s  \
             encode {:5.0} MB/s  choose {choose_ms:4.1} ms -> {picked:?}",
            enc.len() as f64 / n as f64,
            mbps(warm),
            mbps(fresh),
            mbps(encode_s),
        );
    }
}
