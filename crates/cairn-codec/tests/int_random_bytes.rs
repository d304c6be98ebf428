//! Untrusted bytes into the integer decoders: random strings and mutated valid encodings,
//! for every codec and several row counts, give `Ok` with exactly `rows` values or `Err`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_codec::int::{self, IntCodec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ROWS: [usize; 4] = [0, 1, 1024, 5000];

/// Decodes after a sentinel already in the output; on Ok, exactly `rows` values follow it.
/// Returns whether the bytes decoded.
fn decode_checked(codec: IntCodec, bytes: &[u8], rows: usize) -> bool {
    let mut out = vec![-7i64];
    match int::decode(codec, bytes, rows, &mut out) {
        Ok(()) => {
            assert_eq!(out.len(), rows + 1, "{codec:?} rows {rows}");
            assert_eq!(out[0], -7);
            true
        }
        Err(_) => false,
    }
}

#[test]
fn random_byte_strings_never_panic() {
    let mut rng = StdRng::seed_from_u64(0xC0DEC);
    let mut ok = 0;
    for _ in 0..3000 {
        let len = rng.random_range(0..4096);
        let mut bytes = vec![0u8; len];
        rng.fill(&mut bytes[..]);
        // Small headers and widths too, so parsing gets past the first checks.
        if len >= 16 && rng.random_bool(0.5) {
            bytes[..8].copy_from_slice(&rng.random_range(0u64..8).to_le_bytes());
            for b in &mut bytes[8..16] {
                *b %= 8;
            }
        }
        for codec in IntCodec::ALL {
            for rows in ROWS {
                ok += usize::from(decode_checked(codec, &bytes, rows));
            }
        }
    }
    // Const and Plain accept any 8-byte or 8*rows-byte input; a few others may match.
    println!("{ok} random inputs decoded");
}

/// Valid encodings of a few shapes, for every codec that applies.
fn valid_encodings(rng: &mut StdRng) -> Vec<(IntCodec, usize, Vec<u8>)> {
    let mut out = Vec::new();
    for rows in ROWS {
        let shapes: [Vec<i64>; 4] = [
            vec![rng.random(); rows],
            (0..rows).map(|_| rng.random_range(-50..50)).collect(),
            (0..rows as i64)
                .map(|i| 1_700_000_000_000 + 1000 * i + i % 3)
                .collect(),
            (0..rows).map(|i| (i / 700) as i64).collect(),
        ];
        for values in shapes {
            for codec in IntCodec::ALL {
                let mut enc = Vec::new();
                if int::encode(codec, &values, &mut enc).is_ok() {
                    assert!(decode_checked(codec, &enc, rows));
                    out.push((codec, rows, enc));
                }
            }
        }
    }
    out
}

fn mutate(rng: &mut StdRng, bytes: &mut Vec<u8>) {
    match rng.random_range(0..6) {
        0 if !bytes.is_empty() => {
            let i = rng.random_range(0..bytes.len());
            bytes[i] ^= 1 << rng.random_range(0..8);
        }
        1 if !bytes.is_empty() => {
            let i = rng.random_range(0..bytes.len());
            bytes[i] = rng.random();
        }
        2 => {
            let keep = rng.random_range(0..=bytes.len());
            bytes.truncate(keep);
        }
        3 => {
            let extra = rng.random_range(1..64);
            bytes.extend((0..extra).map(|_| rng.random::<u8>()));
        }
        4 if bytes.len() >= 8 => {
            // An aligned 8-byte field (count, reference, first value) set to an extreme.
            let i = 8 * rng.random_range(0..bytes.len() / 8);
            let v = [0u64, 1, u64::MAX, 1 << 63, 5000, 5001][rng.random_range(0..6)];
            bytes[i..i + 8].copy_from_slice(&v.to_le_bytes());
        }
        _ if !bytes.is_empty() => {
            // A width byte (or any byte) set to a boundary value.
            let i = rng.random_range(0..bytes.len());
            bytes[i] = [0u8, 1, 63, 64, 65, 255][rng.random_range(0..6)];
        }
        _ => bytes.push(rng.random()),
    }
}

#[test]
fn mutated_encodings_never_panic() {
    let mut rng = StdRng::seed_from_u64(0xBAD_BEEF);
    let valid = valid_encodings(&mut rng);
    let mut ok = 0;
    for _ in 0..20 {
        for (codec, rows, enc) in &valid {
            let mut bytes = enc.clone();
            for _ in 0..rng.random_range(1..4) {
                mutate(&mut rng, &mut bytes);
            }
            ok += usize::from(decode_checked(*codec, &bytes, *rows));
            let other = ROWS[rng.random_range(0..ROWS.len())];
            decode_checked(*codec, &bytes, other);
            // The same bytes read as another codec.
            let as_other = IntCodec::ALL[rng.random_range(0..IntCodec::ALL.len())];
            decode_checked(as_other, &bytes, *rows);
        }
    }
    // Many mutations (a flipped residual bit, a changed reference) still decode: the
    // decoders were exercised past their checks, not only refused at the door.
    println!("{ok} of {} mutated encodings decoded", 20 * valid.len());
    assert!(ok > valid.len());
}

#[test]
fn huge_row_counts_are_refused_without_allocating() {
    let mut enc = Vec::new();
    int::encode(IntCodec::For, &[1, 2, 3], &mut enc).unwrap();
    for codec in IntCodec::ALL {
        if codec == IntCodec::Const {
            continue; // Const honestly expands to the caller's row count.
        }
        let mut out = Vec::new();
        assert!(int::decode(codec, &enc, usize::MAX, &mut out).is_err());
        assert!(int::decode(codec, &enc, 1 << 40, &mut out).is_err());
        assert_eq!(out.capacity(), 0, "{codec:?} allocated before checking");
    }
}
