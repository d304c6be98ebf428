//! Float codecs: bit-exact round trips for every codec and shape of data, output sizes of
//! `choose` on decimal data, and (ignored) a decode-speed printout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_codec::float::{self, FloatCodec};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Encodes and decodes with `codec` (after a prefix already in `out`) and compares bits.
fn check(codec: FloatCodec, values: &[f64]) -> Result<usize, TestCaseError> {
    let mut bytes = vec![0xAB; 8];
    float::encode(codec, values, &mut bytes).unwrap();
    let leaf = &bytes[8..];
    let mut back = vec![-1.0];
    float::decode(codec, leaf, values.len(), &mut back).unwrap();
    prop_assert_eq!(back.len(), values.len() + 1);
    prop_assert_eq!(back[0].to_bits(), (-1.0f64).to_bits());
    for (i, (a, b)) in values.iter().zip(&back[1..]).enumerate() {
        prop_assert_eq!(a.to_bits(), b.to_bits(), "{:?} value {}", codec, i);
    }
    Ok(leaf.len())
}

fn check_all(values: &[f64]) -> Result<(), TestCaseError> {
    for codec in FloatCodec::ALL {
        check(codec, values)?;
    }
    let chosen = float::choose(values);
    check(chosen, values)?;
    Ok(())
}

fn lengths() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1),
        Just(1023),
        Just(1024),
        Just(1025),
        Just(5000),
        0usize..2100,
    ]
}

fn decimal(digits: u32) -> impl Strategy<Value = f64> {
    (-2_000_000_000i64..2_000_000_000).prop_map(move |m| m as f64 / 10f64.powi(digits as i32))
}

fn special() -> impl Strategy<Value = f64> {
    prop_oneof![
        // Any NaN: all-ones exponent, non-zero mantissa, either sign, quiet or signalling.
        (any::<bool>(), 1u64..(1 << 52)).prop_map(|(neg, m)| {
            f64::from_bits(u64::from(neg) << 63 | 0x7ff0_0000_0000_0000 | m)
        }),
        Just(-0.0),
        Just(0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (any::<bool>(), 1u64..(1 << 52))
            .prop_map(|(neg, m)| f64::from_bits(u64::from(neg) << 63 | m)),
        Just(f64::MIN),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        (0u32..=6).prop_flat_map(decimal),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_bit_patterns(values in lengths().prop_flat_map(|n| {
        prop::collection::vec(any::<u64>().prop_map(f64::from_bits), n)
    })) {
        check_all(&values)?;
    }

    #[test]
    fn decimals_with_fixed_digits(values in (0u32..=6, lengths()).prop_flat_map(|(d, n)| {
        prop::collection::vec(decimal(d), n)
    })) {
        check_all(&values)?;
    }

    #[test]
    fn decimals_with_mixed_digits(values in lengths().prop_flat_map(|n| {
        prop::collection::vec((0u32..=6).prop_flat_map(decimal), n)
    })) {
        check_all(&values)?;
    }

    #[test]
    fn specials_mixed_with_decimals(values in lengths().prop_flat_map(|n| {
        prop::collection::vec(special(), n)
    })) {
        check_all(&values)?;
    }

    #[test]
    fn all_equal(v in special(), n in lengths()) {
        check_all(&vec![v; n])?;
    }
}

#[test]
fn fixed_lengths_each_shape() {
    let mut rng = StdRng::seed_from_u64(7);
    for n in [0usize, 1, 1023, 1024, 1025, 5000] {
        let random: Vec<f64> = (0..n).map(|_| f64::from_bits(rng.random())).collect();
        let dec: Vec<f64> = (0..n)
            .map(|_| f64::from(rng.random_range(-50_000..50_000)) / 1000.0)
            .collect();
        let mut mixed = dec.clone();
        for (i, v) in mixed.iter_mut().enumerate().step_by(7) {
            *v = [-0.0, f64::NAN, f64::INFINITY, f64::from_bits(3), f64::MAX][i % 5];
        }
        for values in [&random, &dec, &mixed] {
            check_all(values).unwrap();
        }
    }
}

/// 100K values with 2 decimals in [0, 100).
fn two_decimals(rng: &mut StdRng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| f64::from(rng.random_range(0..10_000)) / 100.0)
        .collect()
}

/// Log-normal (median 20, sigma 0.8, capped at 2000), rounded to 3 decimals.
fn log_normal_three_decimals(rng: &mut StdRng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let x = (20.0 * (0.8 * z).exp()).min(2000.0);
            (x * 1000.0).round() / 1000.0
        })
        .collect()
}

#[test]
fn choose_compresses_two_decimals() {
    let values = two_decimals(&mut StdRng::seed_from_u64(1), 100_000);
    let codec = float::choose(&values);
    let bytes = check(codec, &values).unwrap();
    let per_value = bytes as f64 / values.len() as f64;
    println!("two decimals: {codec:?}, {per_value:.3} bytes/value");
    assert!(per_value <= 2.5, "{codec:?} {per_value}");
}

#[test]
fn choose_compresses_log_normal_three_decimals() {
    let values = log_normal_three_decimals(&mut StdRng::seed_from_u64(2), 100_000);
    let codec = float::choose(&values);
    let bytes = check(codec, &values).unwrap();
    let per_value = bytes as f64 / values.len() as f64;
    println!("log-normal three decimals: {codec:?}, {per_value:.3} bytes/value");
    assert!(per_value <= 3.2, "{codec:?} {per_value}");
}

/// `cargo test --release -p cairn-codec --test float_roundtrip -- --ignored --nocapture`
#[test]
#[ignore = "prints decode throughput; run in release mode"]
fn decode_speed() {
    const N: usize = 1 << 20;
    let mut rng = StdRng::seed_from_u64(3);
    let sets = [
        ("2-decimal", two_decimals(&mut rng, N)),
        (
            "log-normal 3-decimal",
            log_normal_three_decimals(&mut rng, N),
        ),
        (
            "random doubles",
            (0..N).map(|_| rng.random::<f64>() * 1000.0).collect(),
        ),
    ];
    for (name, values) in &sets {
        println!("{name}: choose -> {:?}", float::choose(values));
        for codec in FloatCodec::ALL {
            let mut bytes = Vec::new();
            let t = std::time::Instant::now();
            float::encode(codec, values, &mut bytes).unwrap();
            let enc = t.elapsed().as_secs_f64();
            let mut out = Vec::with_capacity(N);
            let reps = 20;
            let t = std::time::Instant::now();
            for _ in 0..reps {
                out.clear();
                float::decode(codec, &bytes, N, &mut out).unwrap();
            }
            let dec = t.elapsed().as_secs_f64() / f64::from(reps);
            assert!(
                out.iter()
                    .zip(values)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            println!(
                "  {codec:?}: {:.3} bytes/value, encode {:.0} MB/s, decode {:.0} MB/s",
                bytes.len() as f64 / N as f64,
                (N * 8) as f64 / enc / 1e6,
                (N * 8) as f64 / dec / 1e6,
            );
        }
    }
}
