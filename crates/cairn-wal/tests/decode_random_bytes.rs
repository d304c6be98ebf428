//! Stable-toolchain smoke test of the WAL's untrusted-input paths (the `fuzz/` targets do the
//! same at depth with libFuzzer): random bytes into the header decoders, every single bit flip
//! of valid headers, and damaged segment files on disk through `Wal::open` + replay.
//!
//! Every case is driven by a seeded generator; a failure names the seed and the case. Set
//! `CAIRN_DECODE_SEED=<u64>` to run another sequence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use cairn_wal::decode::{FrameHeader, SegmentHeader};
use cairn_wal::{
    Corruption, DirectIo, KeyRing, Lsn, RECORD_HEADER_BYTES, RESERVED_TYPE_START, Record,
    SEGMENT_HEADER_BYTES, Wal, WalError, WalOptions, WalRecord, parse_segment_file_name,
};

/// SplitMix64: tiny, seedable, and independent of the `rand` crate's changing API.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let x = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
}

fn base_seed() -> u64 {
    std::env::var("CAIRN_DECODE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00C0_FFEE_CA12_0001)
}

/// A distinct, reproducible seed per case.
fn case_seed(base: u64, part: u64, case: u64) -> u64 {
    Rng::new(base ^ part.wrapping_mul(0xA24B_AED4_963E_E407) ^ case).next_u64()
}

/// Real segment header blocks (4096 bytes each), plain and encrypted, as a `Wal` writes them.
/// Taken from files rather than built from struct fields so the test follows format changes.
fn real_header_blocks() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for keys in [None, Some(KeyRing::new(9, [0x5a; 32]))] {
        let dir = common::tempdir();
        let wal = Wal::open(dir.path(), damage_options(keys)).expect("open");
        for i in 0..40u64 {
            wal.append(common::record(i, &common::payload(i, 3000)))
                .expect("append");
        }
        wal.close().expect("close");
        for path in segment_files(dir.path()) {
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

// ---------------------------------------------------------------------------------------
// (c) Damaged segment files through `Wal::open` + replay.

const DAMAGE_CASES: u64 = 200;

fn damage_options(keys: Option<KeyRing>) -> WalOptions {
    WalOptions {
        direct_io: DirectIo::Off,
        verify_on_open: true,
        segment_target_bytes: 64 * 1024,
        key_ring: keys,
        ..WalOptions::default()
    }
}

/// Writes a small multi-segment WAL and returns every record written, by LSN.
fn write_wal(dir: &Path, rng: &mut Rng, keys: Option<KeyRing>) -> BTreeMap<u64, WalRecord> {
    let wal = Wal::open(dir, damage_options(keys)).expect("open a fresh WAL");
    let mut written = BTreeMap::new();
    let target = rng.range(70_000, 220_000) as usize;
    let mut bytes = 0usize;
    while bytes < target {
        let batch = if rng.chance(20) { rng.range(2, 8) } else { 1 };
        let records: Vec<(u16, u16, u64, u64, Vec<u8>)> = (0..batch)
            .map(|_| {
                let len = match rng.below(20) {
                    0 => rng.range(6000, 20_000),
                    1..=5 => rng.range(1500, 6000),
                    6 => 0,
                    _ => rng.below(1500),
                } as usize;
                (
                    rng.below(u64::from(RESERVED_TYPE_START)) as u16,
                    rng.next_u64() as u16,
                    rng.below(4),
                    rng.next_u64(),
                    rng.bytes(len),
                )
            })
            .collect();
        let recs: Vec<Record<'_>> = records
            .iter()
            .map(
                |(record_type, flags, tenant_id, database_id, payload)| Record {
                    record_type: *record_type,
                    flags: *flags,
                    tenant_id: *tenant_id,
                    database_id: *database_id,
                    payload,
                },
            )
            .collect();
        let first = wal.append_batch(&recs).expect("append").first;
        for (i, (record_type, flags, tenant_id, database_id, payload)) in
            records.into_iter().enumerate()
        {
            bytes += payload.len() + RECORD_HEADER_BYTES;
            let lsn = first.0 + i as u64;
            written.insert(
                lsn,
                WalRecord {
                    lsn: Lsn(lsn),
                    record_type,
                    flags,
                    tenant_id,
                    database_id,
                    payload,
                },
            );
        }
        // Several flushes per segment, so the padding claims matter.
        if rng.chance(5) {
            wal.sync().expect("sync");
        }
    }
    wal.close().expect("close");
    written
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(parse_segment_file_name)
                .is_some()
        })
        .collect();
    v.sort();
    v
}

/// An offset biased towards the header, the first frames and flush boundaries.
fn pick_offset(rng: &mut Rng, len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    let at = match rng.below(10) {
        0 => rng.below(SEGMENT_HEADER_BYTES as u64),
        1..=2 => 4096 + rng.below(256),
        3..=4 => rng.below(len.div_ceil(4096)) * 4096 + rng.below(64),
        _ => rng.below(len),
    };
    at.min(len - 1)
}

/// Applies one random kind of damage to one segment file; returns a description.
fn damage(rng: &mut Rng, files: &[PathBuf]) -> String {
    let path = &files[rng.below(files.len() as u64) as usize];
    let mut bytes = std::fs::read(path).unwrap();
    let len = bytes.len() as u64;
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let what = match rng.below(6) {
        0 => {
            let at = pick_offset(rng, len) as usize;
            let n = (rng.range(1, 600) as usize).min(bytes.len() - at);
            rng.fill(&mut bytes[at..at + n]);
            format!("random bytes at {at}..{}", at + n)
        }
        1 => {
            let at = pick_offset(rng, len) as usize;
            let n = (rng.range(1, 9000) as usize).min(bytes.len() - at);
            bytes[at..at + n].fill(0);
            format!("zeros at {at}..{}", at + n)
        }
        2 => {
            let at = pick_offset(rng, len) as usize;
            let bit = rng.below(8);
            bytes[at] ^= 1 << bit;
            format!("bit {bit} of byte {at} flipped")
        }
        3 => {
            let at = if rng.chance(50) {
                pick_offset(rng, len)
            } else {
                rng.below(len + 1)
            };
            bytes.truncate(at as usize);
            format!("truncated to {at}")
        }
        4 => {
            let n = rng.range(1, 10_000) as usize;
            let zeros = rng.chance(50);
            let extra = if zeros { vec![0; n] } else { rng.bytes(n) };
            bytes.extend(extra);
            format!(
                "{n} {} bytes appended",
                if zeros { "zero" } else { "random" }
            )
        }
        _ => {
            // Copy one block over another: valid frames in the wrong place.
            let blocks = len / 4096;
            if blocks < 3 {
                return format!("{name}: too short to move a block");
            }
            let from = rng.range(1, blocks) as usize * 4096;
            let to = rng.range(1, blocks) as usize * 4096;
            let block = bytes[from..from + 4096].to_vec();
            bytes[to..to + 4096].copy_from_slice(&block);
            format!("block at {from} copied over {to}")
        }
    };
    std::fs::write(path, &bytes).unwrap();
    format!("{name}: {what}")
}

#[derive(Default, Debug)]
struct Tally {
    ok_complete: u32,
    ok_truncated: u32,
    errors: BTreeMap<String, u32>,
}

fn error_kind(e: &WalError) -> String {
    match e {
        WalError::Corrupt { problem, .. } => {
            let s = format!("{problem:?}");
            let name = s.split([' ', '{', '(']).next().unwrap_or("").to_string();
            format!("Corrupt::{name}")
        }
        other => {
            let s = format!("{other:?}");
            s.split([' ', '{', '(']).next().unwrap_or("").to_string()
        }
    }
}

/// A real WAL written by `Wal` once and copied into a fresh directory for each case (writing
/// one per case would spend the time budget on fsyncs).
struct Template {
    files: Vec<(std::ffi::OsString, Vec<u8>)>,
    written: BTreeMap<u64, WalRecord>,
    keys: Option<KeyRing>,
    seed: u64,
}

const TEMPLATES: u64 = 20;

fn make_template(base: u64, index: u64) -> Template {
    let seed = case_seed(base, 6, index);
    let mut rng = Rng::new(seed);
    let dir = common::tempdir();
    // A quarter of them encrypted: damage must then fail authentication, never decrypt.
    let keys = (index % 4 == 3).then(|| KeyRing::new(3, [rng.next_u64() as u8; 32]));
    let written = write_wal(dir.path(), &mut rng, keys.clone());
    let files: Vec<_> = segment_files(dir.path())
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    assert!(
        files.len() >= 2,
        "seed {base} template {index}: expected several segments"
    );
    Template {
        files,
        written,
        keys,
        seed,
    }
}

fn run_damage_case(base: u64, case: u64, template: &Template, tally: &mut Tally) {
    let seed = case_seed(base, 5, case);
    let mut rng = Rng::new(seed);
    let ctx = format!(
        "seed {base} case {case} (case seed {seed:#x}, template seed {:#x})",
        template.seed
    );
    let dir = common::tempdir();
    for (name, bytes) in &template.files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let keys = template.keys.clone();
    let written = &template.written;
    let files = segment_files(dir.path());
    let last_first_lsn = files
        .last()
        .and_then(|p| p.file_name()?.to_str().and_then(parse_segment_file_name))
        .unwrap();
    let mut damages = Vec::new();
    for _ in 0..rng.range(1, 4) {
        damages.push(damage(&mut rng, &files));
    }
    let ctx = format!("{ctx}, damage {damages:?}");

    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let wal = match Wal::open(dir.path(), damage_options(keys.clone())) {
            Ok(wal) => wal,
            Err(e) => return Err(e),
        };
        let replayed: Vec<Result<WalRecord, WalError>> = wal.replay(Lsn(1))?.collect();
        wal.close()?;
        Ok(replayed)
    }));
    let result = match outcome {
        Ok(r) => r,
        Err(_) => panic!("Wal::open or replay panicked: {ctx}"),
    };
    match result {
        Err(e) => {
            assert!(
                !matches!(e, WalError::Io { .. } | WalError::Poisoned(_)),
                "damage gave an I/O error instead of a typed corruption: {e}; {ctx}"
            );
            *tally.errors.entry(error_kind(&e)).or_default() += 1;
        }
        Ok(replayed) => {
            let mut prev: Option<u64> = None;
            for r in &replayed {
                // Opening succeeded with the strict policy and full verification: every durable
                // record must replay.
                let r = r
                    .as_ref()
                    .unwrap_or_else(|e| panic!("replay failed after a clean open: {e}; {ctx}"));
                let lsn = r.lsn.0;
                let want = written
                    .get(&lsn)
                    .unwrap_or_else(|| panic!("replay invented LSN {lsn}; {ctx}"));
                assert_eq!(r, want, "replay returned a wrong record; {ctx}");
                if let Some(p) = prev {
                    assert_eq!(lsn, p + 1, "replay skipped LSNs; {ctx}");
                }
                prev = Some(lsn);
            }
            let last = prev.unwrap_or(0);
            // No append happened after the damage, so what replays is a prefix of what was
            // written.
            if let Some(first) = replayed.first().and_then(|r| r.as_ref().ok()) {
                assert_eq!(first.lsn, Lsn(1), "replay does not start at LSN 1; {ctx}");
            }
            // Only the last segment may lose a torn tail; sealed segments are all or error.
            assert!(
                last + 1 >= last_first_lsn,
                "records of a sealed segment vanished without an error (replayed up to {last}, \
                 last segment starts at {last_first_lsn}); {ctx}"
            );
            if last == *written.keys().last().unwrap() {
                tally.ok_complete += 1;
            } else {
                tally.ok_truncated += 1;
            }
        }
    }
}

#[test]
fn damaged_segments_open_to_ok_or_a_typed_error_never_to_wrong_records() {
    let base = base_seed();
    let templates: Vec<Template> = (0..TEMPLATES).map(|i| make_template(base, i)).collect();
    let mut tally = Tally::default();
    for case in 0..DAMAGE_CASES {
        let template = &templates[(case % TEMPLATES) as usize];
        run_damage_case(base, case, template, &mut tally);
    }
    eprintln!("damage outcomes (seed {base}): {tally:?}");
}
