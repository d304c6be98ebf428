//! Whole-directory recovery on hostile bytes: a WAL directory on the real file system (a
//! tempdir under /tmp/cairn-fuzz/<pid>) holding one or two files named like segments, then
//! `Wal::open` and a full replay.
//!
//! Accepted: `Ok` or a typed `WalError`; never a panic, never unbounded allocation (run with
//! `-rss_limit_mb=2048`). Also checked, because they are the point of the recovery rules:
//! - a replayed record is always one that was written (same LSN, same type, flags, ids and
//!   payload): damage never turns into wrong data;
//! - damage surfaces as a corruption error, never as an I/O error;
//! - under the strict policy with `verify_on_open`, a log that opened replays without error;
//! - recovery is idempotent: reopening the recovered directory succeeds and replays the same.
//!
//! Input: `[flags][mode-specific bytes…]`. `flags & 3` picks the mode:
//! - 0, 1: mutate a template: real segments written by `Wal` (template `(flags >> 2) & 1`,
//!   the second one encrypted), then a list of `[selector][offset u32][…]` edits (overwrite,
//!   zero, flip a bit, truncate, append, copy a block within or across segments);
//! - 2: structured: the fuzzer describes headers (LSNs, chain fields, ids) and a sequence of
//!   frames and paddings whose CRCs the harness computes (or breaks on request), so recovery's
//!   logic past the checksums gets explored;
//! - 3: raw: file bytes straight from the input (optionally with a repaired header).
//!
//! `flags & 0x10` selects `RecoveryPolicy::Salvage`, `flags & 0x20` disables `verify_on_open`.
//!
//! `CAIRN_FUZZ_VERBOSE=1` prints each run's outcome (to check what a corpus exercises).
//! `CAIRN_FUZZ_MAX_LSN=<u64>` keeps the LSNs the structured mode writes at or below that value
//! (default: any u64), to fuzz past a known LSN-overflow finding until it is fixed.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use cairn_fuzz::{
    BLOCK_BYTES, Cursor, Frame, HeaderFields, PADDING_TYPE, fix_segment_header, push_frame,
    push_padding, segment_header,
};
use cairn_wal::{
    DirectIo, KeyRing, Lsn, Record, RecoveryPolicy, Wal, WalError, WalOptions, WalRecord,
    parse_segment_file_name, segment_file_name,
};
use libfuzzer_sys::fuzz_target;

/// Small segments keep every file (and each run) small.
const SEGMENT_TARGET_BYTES: u64 = 16 * 1024;
/// Cap on a file the structured and raw modes build.
const MAX_FILE_BYTES: usize = 256 * 1024;

/// The largest LSN the structured mode writes (see `CAIRN_FUZZ_MAX_LSN`).
fn max_lsn() -> u64 {
    static MAX: OnceLock<u64> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("CAIRN_FUZZ_MAX_LSN")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&m| m > 0)
            .unwrap_or(u64::MAX)
    })
}

fn verbose() -> bool {
    static VERBOSE: OnceLock<bool> = OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("CAIRN_FUZZ_VERBOSE").is_some())
}

fn cap_lsn(lsn: u64) -> u64 {
    let max = max_lsn();
    if lsn > max { lsn % max } else { lsn }
}

fn options(salvage: bool, verify: bool, keys: Option<KeyRing>) -> WalOptions {
    WalOptions {
        direct_io: DirectIo::Off,
        segment_target_bytes: SEGMENT_TARGET_BYTES,
        recovery: if salvage {
            RecoveryPolicy::Salvage
        } else {
            RecoveryPolicy::Strict
        },
        verify_on_open: verify,
        key_ring: keys,
        ..WalOptions::default()
    }
}

fn template_key() -> KeyRing {
    KeyRing::new(1, [0x42; 32])
}

/// Real segment files written by `Wal`, and what they hold.
struct Template {
    /// `(file name, bytes)`, oldest first.
    files: Vec<(String, Vec<u8>)>,
    written: BTreeMap<u64, WalRecord>,
    keys: Option<KeyRing>,
}

struct State {
    /// Every run's directory is created (and removed) in here: `/tmp/cairn-fuzz/<pid>`.
    base: std::path::PathBuf,
    templates: [Template; 2],
}

/// `/tmp/cairn-fuzz/<pid>`, after removing what runs of processes that no longer exist left
/// behind (a crash, or `cargo fuzz tmin`, never gets to clean up).
fn base_dir() -> std::path::PathBuf {
    let root = Path::new("/tmp/cairn-fuzz");
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            let stale = e
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if stale {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let base = root.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("base dir");
    base
}

fn payload(lsn: u64, len: usize) -> Vec<u8> {
    let mut x = lsn.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn make_template(keys: Option<KeyRing>) -> Template {
    let dir = tempfile::tempdir().expect("template dir");
    let wal = Wal::open(dir.path(), options(false, true, keys.clone())).expect("template WAL");
    let mut written = BTreeMap::new();
    for i in 1..=60u64 {
        let len = ((i * 397) % 1500) as usize;
        let p = payload(i, len);
        let rec = Record {
            record_type: (i % 5) as u16,
            flags: (i % 3) as u16,
            tenant_id: i % 2,
            database_id: 7,
            payload: &p,
        };
        let lsn = wal.append(rec).expect("append");
        written.insert(
            lsn.0,
            WalRecord {
                lsn,
                record_type: rec.record_type,
                flags: rec.flags,
                tenant_id: rec.tenant_id,
                database_id: rec.database_id,
                payload: p.clone(),
            },
        );
        // Several flushes per segment, so durable-LSN claims are on disk.
        if i % 4 == 0 {
            wal.sync().expect("sync");
        }
    }
    wal.close().expect("close template");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path())
        .expect("list template")
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            parse_segment_file_name(&name)?;
            Some((name, std::fs::read(e.path()).ok()?))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 3, "template has {} segments", files.len());
    Template {
        files,
        written,
        keys,
    }
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| State {
        base: base_dir(),
        templates: [make_template(None), make_template(Some(template_key()))],
    })
}

/// What the directory may legitimately replay: for each LSN, the records written with it.
type Expected = Option<BTreeMap<u64, Vec<WalRecord>>>;

fn block_range(len: usize, block: usize) -> Option<std::ops::Range<usize>> {
    let start = block.checked_mul(BLOCK_BYTES)?;
    (start + BLOCK_BYTES <= len).then(|| start..start + BLOCK_BYTES)
}

/// Mode 0/1: copies one or two real segments and edits them.
fn build_from_template(dir: &Path, c: &mut Cursor<'_>, t: &Template) -> Expected {
    let n = t.files.len();
    let chosen: &[(String, Vec<u8>)] = match c.u8() % 4 {
        0 => &t.files[n - 1..],
        1 => &t.files[n - 2..],
        2 => &t.files[..1],
        _ => &t.files[..2],
    };
    let mut files: Vec<(String, Vec<u8>)> = chosen.to_vec();
    let mut ops = 0;
    while !c.is_empty() && ops < 64 {
        ops += 1;
        let sel = c.u8();
        let k = usize::from(sel & 1) % files.len();
        let bytes = &mut files[k].1;
        let len = bytes.len();
        let at = c.u32() as usize % (len + 1);
        match (sel >> 1) % 7 {
            0 => {
                let n = usize::from(c.u8()) + 1;
                let src = c.take(n);
                let end = (at + src.len()).min(len);
                bytes[at..end].copy_from_slice(&src[..end - at]);
            }
            1 => {
                let end = (at + usize::from(c.u16()) + 1).min(len);
                bytes[at..end].fill(0);
            }
            2 => {
                if at < len {
                    bytes[at] ^= 1 << (c.u8() % 8);
                }
            }
            3 => bytes.truncate(at),
            4 => {
                let n = usize::from(c.u8()) + 1;
                if sel & 0x80 != 0 {
                    bytes.resize(len + n * 64, 0);
                } else {
                    let extra = c.bytes(n);
                    bytes.extend_from_slice(&extra);
                }
            }
            5 => {
                let blocks = len / BLOCK_BYTES;
                if blocks > 0 {
                    let from = block_range(len, usize::from(c.u8()) % blocks);
                    let to = block_range(len, usize::from(c.u8()) % blocks);
                    if let (Some(from), Some(to)) = (from, to) {
                        bytes.copy_within(from, to.start);
                    }
                }
            }
            _ => {
                // A block of another segment (another segment id) transplanted here.
                let (_, other) = &t.files[usize::from(c.u8()) % n];
                let from = block_range(other.len(), usize::from(c.u8()) % 8);
                let to = block_range(len, at / BLOCK_BYTES);
                if let (Some(from), Some(to)) = (from, to) {
                    bytes[to].copy_from_slice(&other[from]);
                }
            }
        }
    }
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).expect("write segment");
    }
    Some(
        t.written
            .iter()
            .map(|(&lsn, r)| (lsn, vec![r.clone()]))
            .collect(),
    )
}

/// Mode 2: segments described by the input, with CRCs computed by the harness.
fn build_structured(dir: &Path, c: &mut Cursor<'_>) -> Expected {
    let mut emitted: BTreeMap<u64, Vec<WalRecord>> = BTreeMap::new();
    let segments = 1 + usize::from(c.u8() & 1);
    // (first LSN, next expected LSN) of the previous segment built.
    let mut prev: Option<(u64, u64)> = None;
    for s in 0..segments {
        let hf = c.u8();
        let first_lsn = match hf & 3 {
            0 => prev.map_or(1, |(_, next)| next),
            1 => 1 + u64::from(c.u8()),
            2 => u64::MAX - u64::from(c.u8()),
            _ => c.u64(),
        };
        let first_lsn = cap_lsn(first_lsn).max(1);
        let prev_first_lsn = if hf & 4 != 0 {
            c.u64()
        } else {
            prev.map_or(0, |(first, _)| first)
        };
        let prev_last_lsn = if hf & 8 != 0 { c.u64() } else { first_lsn - 1 };
        let segment_id = if hf & 16 != 0 {
            c.u64()
        } else {
            0x5eed_0000 + s as u64
        };
        let name_lsn = if hf & 32 != 0 { c.u64() } else { first_lsn };
        let header = segment_header(&HeaderFields {
            segment_id,
            first_lsn,
            prev_first_lsn,
            prev_last_lsn,
            created_unix_ms: 0,
        });
        let mut file = header.to_vec();
        file.resize(BLOCK_BYTES, 0);
        let mut expected = first_lsn;
        let mut frames = 0;
        while !c.is_empty() && frames < 64 && file.len() < MAX_FILE_BYTES {
            frames += 1;
            let op = c.u8();
            let valid = op & 0x80 == 0;
            match op % 8 {
                0..=3 => {
                    let lsn = cap_lsn(match (op >> 3) & 3 {
                        0 | 1 => expected,
                        2 => expected.wrapping_add(u64::from(c.u8())).wrapping_sub(128),
                        _ => c.u64(),
                    });
                    let len = match (op >> 5) & 3 {
                        0 | 1 => usize::from(c.u8()),
                        2 => usize::from(c.u16()) % 8192,
                        _ => 0,
                    };
                    let record_type = if op & 0x40 != 0 {
                        c.u16()
                    } else {
                        u16::from(c.u8())
                    };
                    let f = Frame {
                        lsn,
                        record_type,
                        flags: u16::from(c.u8()),
                        tenant_id: u64::from(c.u8()),
                        database_id: 1,
                    };
                    let p = c.bytes(len);
                    push_frame(&mut file, segment_id, &f, &p, valid);
                    if valid && record_type != PADDING_TYPE {
                        emitted.entry(lsn).or_default().push(WalRecord {
                            lsn: Lsn(lsn),
                            record_type,
                            flags: f.flags,
                            tenant_id: f.tenant_id,
                            database_id: f.database_id,
                            payload: p,
                        });
                    }
                    if lsn == expected {
                        expected = expected.wrapping_add(1);
                    }
                }
                4 | 5 => {
                    let claim = match (op >> 3) & 3 {
                        0 => expected.wrapping_sub(1),
                        1 => 0,
                        2 => expected.wrapping_add(u64::from(c.u8())),
                        _ => c.u64(),
                    };
                    push_padding(&mut file, segment_id, claim, valid);
                }
                6 => {
                    let n = usize::from(c.u8()) + 1;
                    let garbage = c.bytes(n);
                    file.extend_from_slice(&garbage);
                }
                _ => {
                    let n = usize::from(c.u16()) % (2 * BLOCK_BYTES) + 1;
                    file.resize(file.len() + n, 0);
                }
            }
        }
        let tail = c.u8();
        if tail & 1 != 0 {
            // Preallocated space: zeros up to the next 16 KiB.
            let to = file.len().div_ceil(16 * 1024) * 16 * 1024;
            file.resize(to, 0);
        }
        if tail & 2 != 0 {
            let cut = usize::from(c.u16()) % BLOCK_BYTES;
            file.truncate(file.len().saturating_sub(cut));
        }
        std::fs::write(dir.join(segment_file_name(name_lsn)), &file).expect("write segment");
        prev = Some((first_lsn, expected));
    }
    Some(emitted)
}

/// Mode 3: file bytes straight from the input.
fn build_raw(dir: &Path, c: &mut Cursor<'_>, flags: u8) -> Expected {
    let files = 1 + usize::from((flags >> 2) & 1);
    for i in 0..files {
        let len = if i + 1 == files {
            c.remaining()
        } else {
            usize::from(c.u16())
        };
        let mut bytes = c.bytes(len.min(MAX_FILE_BYTES));
        if flags & 8 != 0 {
            fix_segment_header(&mut bytes);
        }
        let name_lsn = bytes.get(24..32).map_or(1 + i as u64, |b| {
            u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
        });
        std::fs::write(dir.join(segment_file_name(name_lsn)), &bytes).expect("write segment");
    }
    None
}

/// What one open of the directory gave: the replay (records, then the error that ended it).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    records: Vec<WalRecord>,
    replay_error: Option<String>,
}

fn open_and_replay(dir: &Path, opts: &WalOptions) -> Result<Outcome, WalError> {
    let wal = Wal::open(dir, opts.clone())?;
    let mut out = Outcome {
        records: Vec::new(),
        replay_error: None,
    };
    for r in wal.replay(Lsn(1))? {
        match r {
            Ok(rec) => out.records.push(rec),
            Err(e) => {
                out.replay_error = Some(e.to_string());
                break;
            }
        }
    }
    wal.close()
        .unwrap_or_else(|e| panic!("closing a WAL that appended nothing failed: {e}"));
    Ok(out)
}

fn check_records(records: &[WalRecord], expected: &Expected) {
    let mut prev: Option<u64> = None;
    for r in records {
        let lsn = r.lsn.0;
        if let Some(p) = prev {
            assert!(lsn > p, "replay went backwards: {p} then {lsn}");
        }
        prev = Some(lsn);
        if let Some(expected) = expected {
            let candidates = expected.get(&lsn).map_or(&[][..], Vec::as_slice);
            assert!(
                candidates.contains(r),
                "replay returned a record that was never written: {r:?}; \
                 written with that LSN: {candidates:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let state = state();
    let mut c = Cursor::new(data);
    let flags = c.u8();
    let salvage = flags & 0x10 != 0;
    let verify = flags & 0x20 == 0;
    let dir = tempfile::tempdir_in(&state.base).expect("run dir");
    let (expected, keys) = match flags & 3 {
        0 | 1 => {
            let t = &state.templates[usize::from((flags >> 2) & 1)];
            (build_from_template(dir.path(), &mut c, t), t.keys.clone())
        }
        2 => (build_structured(dir.path(), &mut c), None),
        _ => (build_raw(dir.path(), &mut c, flags), None),
    };
    let opts = options(salvage, verify, keys);

    let result = open_and_replay(dir.path(), &opts);
    if verbose() {
        match &result {
            Ok(o) => eprintln!(
                "mode {} salvage {salvage} verify {verify}: ok, {} records, replay error {:?}",
                flags & 3,
                o.records.len(),
                o.replay_error
            ),
            Err(e) => eprintln!("mode {} salvage {salvage} verify {verify}: {e}", flags & 3),
        }
    }
    let first = match result {
        Ok(o) => o,
        Err(e) => {
            assert!(
                !matches!(e, WalError::Io { .. } | WalError::Poisoned(_)),
                "damaged segments gave an I/O error instead of a corruption error: {e}"
            );
            return;
        }
    };
    check_records(&first.records, &expected);
    if !salvage && verify {
        assert!(
            first.replay_error.is_none(),
            "strict, verified open succeeded but replay failed: {:?}",
            first.replay_error
        );
    }
    // Recovery is idempotent: the recovered directory opens again and replays the same.
    let second = open_and_replay(dir.path(), &opts)
        .unwrap_or_else(|e| panic!("reopening a recovered WAL failed: {e}"));
    assert_eq!(
        first, second,
        "the second open replays differently from the first"
    );
});
