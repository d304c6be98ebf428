//! Damaged logs on disk through `Wal::open` + replay, on the stable toolchain (the
//! `wal_open_segment_dir` fuzz target does the same at depth): real multi-segment logs, plain
//! and encrypted, get random bytes, zeros, bit flips and truncations; opening and replaying must
//! give `Ok` or a typed error, never a panic, and never a record that was not written.
//!
//! Every case is driven by a seeded generator; a failure names the seed and the case. Set
//! `CAIRN_DECODE_SEED=<u64>` to run another sequence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use cairn_wal::{
    DirectIo, KeyRing, Lsn, RECORD_HEADER_BYTES, RESERVED_TYPE_START, Record, SEGMENT_HEADER_BYTES,
    Wal, WalError, WalOptions, WalRecord, parse_segment_file_name,
};
use common::{Rng, base_seed, case_seed, segment_files};

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
