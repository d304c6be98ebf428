//! Stable-toolchain smoke test of the WAL's untrusted-input paths (the `fuzz/` targets do the
//! same at depth with libFuzzer): random bytes into the header decoders, every single bit flip
//! of valid headers. (`wal_random_damage.rs` does the same for whole damaged logs.)
//!
//! Every case is driven by a seeded generator; a failure names the seed and the case. Set
//! `CAIRN_DECODE_SEED=<u64>` to run another sequence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Rng, base_seed, case_seed};

use std::panic::catch_unwind;

use cairn_wal::decode::{FrameHeader, SegmentHeader};
use cairn_wal::{
    Corruption, DirectIo, KeyRing, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, Wal, WalOptions,
};

/// Real segment header blocks (4096 bytes each), plain and encrypted, as a `Wal` writes them.
/// Taken from files rather than built from struct fields so the test follows format changes.
fn real_header_blocks() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for keys in [None, Some(KeyRing::new(9, [0x5a; 32]))] {
        let dir = common::tempdir();
        let options = WalOptions {
            direct_io: DirectIo::Off,
            segment_target_bytes: 64 * 1024,
            key_ring: keys,
            ..WalOptions::default()
        };
        let wal = Wal::open(dir.path(), options).expect("open");
        for i in 0..40u64 {
            wal.append(common::record(i, &common::payload(i, 3000)))
                .expect("append");
        }
        wal.close().expect("close");
        for path in common::segment_files(dir.path()) {
            let mut block = std::fs::read(&path).expect("read segment");
            block.truncate(4096);
            assert_eq!(block.len(), 4096, "{}", path.display());
            out.push(block);
        }
    }
    assert!(out.len() >= 4, "expected several segments");
    out
}

/// A random frame header that decodes.
fn sample_frame_header(rng: &mut Rng) -> [u8; RECORD_HEADER_BYTES] {
    let mut b = [0u8; RECORD_HEADER_BYTES];
    rng.fill(&mut b);
    b[0..4].copy_from_slice(&(rng.below(1 << 20) as u32).to_le_bytes());
    b[20..24].fill(0);
    b[15] &= 0x7f; // LSNs are at most 2^63 - 1
    b
}

/// (a) Random byte strings, raw and with a valid magic/version/CRC so the field checks run.
#[test]
fn segment_header_decode_takes_any_bytes() {
    let base = base_seed();
    let mut ok = 0u32;
    for case in 0..20_000u64 {
        let seed = case_seed(base, 1, case);
        let mut rng = Rng::new(seed);
        let len = rng.below(300) as usize;
        let mut b = rng.bytes(len);
        // Most raw strings die at the magic; make a share of them reach the deeper checks.
        let mode = rng.below(4);
        if mode >= 1 && b.len() >= 10 {
            b[0..8].copy_from_slice(b"CAIRNWAL");
            b[8..10].copy_from_slice(&1u16.to_le_bytes());
        }
        if mode >= 2 && b.len() >= SEGMENT_HEADER_BYTES {
            b[10..12].copy_from_slice(&(SEGMENT_HEADER_BYTES as u16).to_le_bytes());
            b[12..16].copy_from_slice(&4096u32.to_le_bytes());
            // LSNs within the cap, reserved bytes zero, key fields only when encrypted.
            b[31] &= 0x7f;
            b[39] &= 0x7f;
            b[95] &= 0x7f;
            b[49..52].fill(0);
            b[96..124].fill(0);
            b[48] = 0;
            b[52..88].fill(0);
            if mode == 3 {
                b[48] = rng.below(3) as u8;
                if b[48] != 1 {
                    b[52..88].fill(rng.below(2) as u8);
                }
            }
            let crc = crc32c::crc32c(&b[..124]);
            b[124..128].copy_from_slice(&crc.to_le_bytes());
        }
        let result = catch_unwind(|| SegmentHeader::decode(&b));
        let decoded = result.unwrap_or_else(|_| {
            panic!("SegmentHeader::decode panicked: seed {base} case {case}, input {b:02x?}")
        });
        match decoded {
            Ok(h) => {
                ok += 1;
                assert!(b.len() >= SEGMENT_HEADER_BYTES, "seed {base} case {case}");
                assert_ne!(h.segment_id, 0, "seed {base} case {case}");
                assert_ne!(h.first_lsn, 0, "seed {base} case {case}");
                let again = SegmentHeader::decode(&h.encode());
                assert_eq!(
                    again.as_ref(),
                    Ok(&h),
                    "re-encode/decode differs: seed {base} case {case}"
                );
            }
            Err(Corruption::Truncated { len, available }) => {
                assert_eq!(len, SEGMENT_HEADER_BYTES as u64, "seed {base} case {case}");
                assert_eq!(available, b.len() as u64, "seed {base} case {case}");
                assert!(b.len() < SEGMENT_HEADER_BYTES, "seed {base} case {case}");
            }
            Err(
                Corruption::BadMagic { .. }
                | Corruption::UnsupportedVersion { .. }
                | Corruption::HeaderCrc { .. }
                | Corruption::HeaderField { .. },
            ) => {}
            Err(other) => panic!("unexpected corruption {other:?}: seed {base} case {case}"),
        }
    }
    assert!(ok > 200, "too few valid headers generated ({ok})");
}

/// (b) Random 40-byte arrays.
#[test]
fn frame_header_decode_takes_any_bytes() {
    let base = base_seed();
    for case in 0..20_000u64 {
        let seed = case_seed(base, 2, case);
        let mut rng = Rng::new(seed);
        let mut b = [0u8; RECORD_HEADER_BYTES];
        rng.fill(&mut b);
        // Give the later checks a chance: zero the reserved field or the length's top bytes.
        if rng.chance(50) {
            b[20..24].fill(0);
        }
        if rng.chance(50) {
            b[3] = 0;
            if rng.chance(50) {
                b[2] &= 0x03;
            }
        }
        if rng.chance(2) {
            b = [0u8; RECORD_HEADER_BYTES];
        }
        let decoded = catch_unwind(|| FrameHeader::decode(&b)).unwrap_or_else(|_| {
            panic!("FrameHeader::decode panicked: seed {base} case {case}, input {b:02x?}")
        });
        match decoded {
            Ok(h) => {
                assert_eq!(h.encode(), b, "re-encode differs: seed {base} case {case}");
                assert!(
                    h.payload_len as usize <= cairn_wal::MAX_PAYLOAD_BYTES + 16,
                    "seed {base} case {case}"
                );
            }
            Err(Corruption::Zeroed) => assert!(b.iter().all(|&x| x == 0), "seed {base} {case}"),
            Err(Corruption::ReservedBits) => {
                assert_ne!(b[20..24], [0u8; 4], "seed {base} case {case}")
            }
            Err(Corruption::LengthTooLarge { len, max }) => {
                assert!(len > max, "seed {base} case {case}");
                assert_eq!(len, u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            }
            Err(Corruption::LsnOutOfRange { lsn }) => {
                assert!(lsn > cairn_wal::Lsn::MAX.0, "seed {base} case {case}");
                assert_eq!(lsn.to_le_bytes(), b[8..16], "seed {base} case {case}");
            }
            Err(other) => panic!("unexpected corruption {other:?}: seed {base} case {case}"),
        }
    }
}

/// (b) Every single-bit flip of a valid segment header is rejected with the right error; bytes
/// after the header are ignored.
#[test]
fn every_bit_flip_of_a_segment_header_is_rejected() {
    for (case, block) in real_header_blocks().into_iter().enumerate() {
        let h = SegmentHeader::decode(&block)
            .unwrap_or_else(|e| panic!("header block {case} of a real WAL: {e}"));
        assert_eq!(
            SegmentHeader::decode(&h.encode()).as_ref(),
            Ok(&h),
            "block {case}"
        );
        for bit in 0..block.len() * 8 {
            let mut bad = block.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let got = SegmentHeader::decode(&bad);
            let ctx = format!("header block {case} bit {bit}: {got:?}");
            match bit / 8 {
                0..8 => assert!(matches!(got, Err(Corruption::BadMagic { .. })), "{ctx}"),
                8..10 => assert!(
                    matches!(got, Err(Corruption::UnsupportedVersion { .. })),
                    "{ctx}"
                ),
                10..128 => assert!(matches!(got, Err(Corruption::HeaderCrc { .. })), "{ctx}"),
                _ => assert_eq!(got.as_ref(), Ok(&h), "{ctx}"),
            }
        }
        // Every truncation is refused as truncated.
        for len in 0..SEGMENT_HEADER_BYTES {
            assert!(
                matches!(
                    SegmentHeader::decode(&block[..len]),
                    Err(Corruption::Truncated { .. })
                ),
                "header block {case} cut to {len}"
            );
        }
    }
}

/// (b) Flips in a valid frame header: reserved bytes give `ReservedBits`, the length's high
/// bits give `LengthTooLarge`, everything else decodes to exactly the flipped field.
#[test]
fn bit_flips_of_a_frame_header() {
    let base = base_seed();
    for case in 0..64u64 {
        let mut rng = Rng::new(case_seed(base, 4, case));
        let raw = sample_frame_header(&mut rng);
        let h = FrameHeader::decode(&raw)
            .unwrap_or_else(|e| panic!("seed {base} case {case}: {e} for {raw:02x?}"));
        assert_eq!(h.encode(), raw, "seed {base} case {case}");
        for bit in 0..RECORD_HEADER_BYTES * 8 {
            let mut bad = raw;
            bad[bit / 8] ^= 1 << (bit % 8);
            let got = FrameHeader::decode(&bad);
            let ctx = format!("seed {base} case {case} bit {bit}: {got:?}");
            match bit / 8 {
                20..24 => assert_eq!(got, Err(Corruption::ReservedBits), "{ctx}"),
                15 if bit % 8 == 7 => {
                    assert!(
                        matches!(got, Err(Corruption::LsnOutOfRange { .. })),
                        "{ctx}"
                    )
                }
                0..4 => {
                    let len = u32::from_le_bytes([bad[0], bad[1], bad[2], bad[3]]) as usize;
                    if len > cairn_wal::MAX_PAYLOAD_BYTES + 16 {
                        assert!(
                            matches!(got, Err(Corruption::LengthTooLarge { .. })),
                            "{ctx}"
                        );
                    } else {
                        assert_eq!(got.map(|g| g.encode()), Ok(bad), "{ctx}");
                    }
                }
                _ => assert_eq!(got.map(|g| g.encode()), Ok(bad), "{ctx}"),
            }
        }
    }
}
