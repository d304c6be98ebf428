//! One named test per corruption shape. Each damages real segment files with plain
//! `std::fs` writes (using the documented byte layout, so these tests also pin the format) and
//! checks what opening and replaying then do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use cairn_wal::{Corruption, Lsn, RecoveryPolicy, Wal, WalError, WalOptions};
use common::*;

const BLOCK: usize = 4096;

/// (offset, lsn, record_type, frame_len) of every frame of a segment, read by the layout in
/// docs/formats/wal.md.
fn frames(bytes: &[u8]) -> Vec<(usize, u64, u16, usize)> {
    let mut out = Vec::new();
    let mut at = BLOCK;
    while at + 40 <= bytes.len() {
        let h = &bytes[at..at + 40];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let len = u32::from_le_bytes(h[0..4].try_into().unwrap()) as usize;
        let lsn = u64::from_le_bytes(h[8..16].try_into().unwrap());
        let ty = u16::from_le_bytes(h[16..18].try_into().unwrap());
        out.push((at, lsn, ty, 40 + len));
        at += 40 + len;
    }
    out
}

fn record_offset(bytes: &[u8], lsn: u64) -> (usize, usize) {
    let (off, _, _, len) = *frames(bytes)
        .iter()
        .find(|f| f.1 == lsn && f.2 != 0xffff)
        .expect("record present");
    (off, len)
}

/// Offset just past the last frame (a block boundary: every flush ends on one).
fn data_end(bytes: &[u8]) -> usize {
    frames(bytes)
        .last()
        .map_or(BLOCK, |(off, _, _, len)| off + len)
}

fn segment_id(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[16..24].try_into().unwrap())
}

/// A complete record frame encoded independently of the crate.
fn frame(segment_id: u64, lsn: u64, payload: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 40];
    h[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[8..16].copy_from_slice(&lsn.to_le_bytes());
    h[16..18].copy_from_slice(&7u16.to_le_bytes());
    h[24..32].copy_from_slice(&11u64.to_le_bytes());
    h[32..40].copy_from_slice(&22u64.to_le_bytes());
    let mut crc = crc32c::crc32c(&segment_id.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &h[0..4]);
    crc = crc32c::crc32c_append(crc, &h[8..40]);
    crc = crc32c::crc32c_append(crc, payload);
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(payload);
    out
}

fn fix_crc(bytes: &mut [u8], off: usize, len: usize) {
    let id = segment_id(bytes);
    let mut crc = crc32c::crc32c(&id.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &bytes[off..off + 4]);
    crc = crc32c::crc32c_append(crc, &bytes[off + 8..off + len]);
    bytes[off + 4..off + 8].copy_from_slice(&crc.to_le_bytes());
}

/// A closed WAL whose records 1..=n were each appended durably (one flush each) with 300-byte
/// payloads; returns the path of the segment holding them.
fn wal_with(dir: &Path, n: u64, options: WalOptions) -> PathBuf {
    let wal = open(dir, options);
    for i in 1..=n {
        wal.append_durable(record(i, &payload(i, 300))).unwrap();
    }
    wal.close().unwrap();
    segment_files(dir)
        .into_iter()
        .find(|p| frames(&std::fs::read(p).unwrap()).iter().any(|f| f.1 == 1))
        .unwrap()
}

/// A closed log of records 1..=n (300-byte payloads) over many small segments, appended
/// durably one by one (one flush each) or buffered (many records per flush).
fn multi_segment_log(dir: &Path, n: u64, durable: bool) {
    let wal = open(dir, small_segments());
    for i in 1..=n {
        let p = payload(i, 300);
        let r = record(i, &p);
        if durable {
            wal.append_durable(r).unwrap();
        } else {
            wal.append(r).unwrap();
        }
    }
    wal.close().unwrap();
}

fn replay_lsns(wal: &Wal) -> Vec<u64> {
    replay_all(wal).iter().map(|r| r.lsn.0).collect()
}

fn assert_corrupt(err: WalError, segment: &Path, offset: usize, lsn: u64) -> Corruption {
    match err {
        WalError::Corrupt {
            segment: s,
            offset: o,
            lsn: l,
            problem,
        } => {
            assert_eq!(s, segment);
            assert_eq!(o, offset as u64);
            assert_eq!(l, Some(lsn));
            problem
        }
        other => panic!("expected a corruption error, got {other}"),
    }
}

/// Writes `bytes` at `offset` and returns the file length before.
fn write_at(path: &Path, offset: usize, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .write_all_at(bytes, offset as u64)
        .unwrap();
}

fn assert_cut_at(dir: &Path, seg: &Path, end: usize, n: u64) {
    let wal = open(dir, WalOptions::default());
    let tail = wal
        .recovery_report()
        .torn_tail
        .clone()
        .expect("a torn tail is reported");
    assert_eq!(tail.segment, seg);
    assert_eq!(tail.offset, end as u64);
    assert_eq!(replay_lsns(&wal), (1..=n).collect::<Vec<_>>());
    assert_dense(&replay_all(&wal), 1, n, 300);
    assert_eq!(
        std::fs::metadata(seg).unwrap().len(),
        end as u64,
        "torn tail truncated"
    );
    wal.append_durable(record(0, b"after")).unwrap();
}

#[test]
fn torn_record_header_is_cut() {
    let dir = tempdir();
    let seg = wal_with(dir.path(), 10, WalOptions::default());
    let bytes = std::fs::read(&seg).unwrap();
    let end = data_end(&bytes);
    let f = frame(segment_id(&bytes), 11, &payload(11, 300));
    write_at(&seg, end, &f[..20]);
    assert_cut_at(dir.path(), &seg, end, 10);
}

#[test]
fn torn_payload_is_cut() {
    let dir = tempdir();
    let seg = wal_with(dir.path(), 10, WalOptions::default());
    let bytes = std::fs::read(&seg).unwrap();
    let end = data_end(&bytes);
    let f = frame(segment_id(&bytes), 11, &payload(11, 300));
    write_at(&seg, end, &f[..40 + 150]);
    assert_cut_at(dir.path(), &seg, end, 10);
}

#[test]
fn bad_crc_at_the_tail_is_cut() {
    let dir = tempdir();
    let seg = wal_with(dir.path(), 10, WalOptions::default());
    let bytes = std::fs::read(&seg).unwrap();
    let end = data_end(&bytes);
    let mut f = frame(segment_id(&bytes), 11, &payload(11, 300));
    f[100] ^= 0x40;
    write_at(&seg, end, &f);
    assert_cut_at(dir.path(), &seg, end, 10);
}

#[test]
fn bad_crc_in_the_middle_is_an_error_naming_segment_offset_and_lsn() {
    let dir = tempdir();
    let seg = wal_with(dir.path(), 10, WalOptions::default());
    let mut bytes = std::fs::read(&seg).unwrap();
    let (off, _) = record_offset(&bytes, 3);
    bytes[off + 60] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let err = Wal::open(dir.path(), WalOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(
        assert_corrupt(err, &seg, off, 3),
        Corruption::RecordCrc { .. }
    ));
    assert!(
        msg.contains(&seg.display().to_string()) && msg.contains("LSN 3"),
        "{msg}"
    );
    // The salvage policy, chosen explicitly, keeps what precedes the damage.
    let wal = open(
        dir.path(),
        WalOptions {
            recovery: RecoveryPolicy::Salvage,
            ..WalOptions::default()
        },
    );
    assert_eq!(wal.recovery_report().salvaged.len(), 1);
    assert_eq!(replay_lsns(&wal), vec![1, 2]);
    assert!(
        wal.next_lsn() > Lsn(10),
        "LSNs seen on disk are never reused"
    );
}

#[test]
fn bad_crc_in_a_sealed_segment_is_an_error() {
    let dir = tempdir();
    multi_segment_log(dir.path(), 600, false);
    let first = &segment_files(dir.path())[0];
    let mut bytes = std::fs::read(first).unwrap();
    // The last record of the sealed segment: nothing after it in this file vouches for it,
    // but the successor segment does.
    let (off, _, _, _) = *frames(&bytes).iter().rev().find(|f| f.2 != 0xffff).unwrap();
    let lsn = u64::from_le_bytes(bytes[off + 8..off + 16].try_into().unwrap());
    bytes[off + 45] ^= 0x80;
    std::fs::write(first, &bytes).unwrap();
    let err = Wal::open(dir.path(), small_segments()).unwrap_err();
    assert!(matches!(
        assert_corrupt(err, first, off, lsn),
        Corruption::RecordCrc { .. }
    ));
}

#[test]
fn zeroed_tail_ends_the_log_cleanly() {
    // A zeroed last flush looks exactly like preallocated space that was never written: the
    // log ends before it. (Nothing written after it could vouch for it.)
    let dir = tempdir();
    let seg = wal_with(dir.path(), 10, WalOptions::default());
    let mut bytes = std::fs::read(&seg).unwrap();
    let (off, _) = record_offset(&bytes, 10);
    let end = data_end(&bytes);
    bytes[off..end].fill(0);
    std::fs::write(&seg, &bytes).unwrap();
    let wal = open(dir.path(), WalOptions::default());
    assert_eq!(replay_lsns(&wal), (1..=9).collect::<Vec<_>>());
    assert_eq!(wal.next_lsn(), Lsn(10));
}

#[test]
fn zeroed_block_followed_by_later_flushes_is_an_error() {
    let dir = tempdir();
    let seg = wal_with(dir.path(), 10, WalOptions::default());
    let mut bytes = std::fs::read(&seg).unwrap();
    let (off, len) = record_offset(&bytes, 4);
    bytes[off..off + len].fill(0);
    std::fs::write(&seg, &bytes).unwrap();
    let err = Wal::open(dir.path(), WalOptions::default()).unwrap_err();
    assert_corrupt(err, &seg, off, 4);
}

#[test]
fn stale_record_from_another_segment_after_the_tail_is_never_read() {
    // Two logs with identical contents: a flush copied from one into the tail of the other
    // has the right LSN and a CRC valid for its own segment, but not for this one.
    let dir_a = tempdir();
    let dir_b = tempdir();
    let seg_a = wal_with(dir_a.path(), 10, WalOptions::default());
    let seg_b = wal_with(dir_b.path(), 11, WalOptions::default());
    let a = std::fs::read(&seg_a).unwrap();
    let b = std::fs::read(&seg_b).unwrap();
    let (off_b, _) = record_offset(&b, 11);
    let end = data_end(&a);
    write_at(&seg_a, end, &b[off_b..data_end(&b)]);
    let wal = open(dir_a.path(), WalOptions::default());
    let tail = wal
        .recovery_report()
        .torn_tail
        .clone()
        .expect("stale bytes are cut");
    assert!(
        matches!(tail.problem, Corruption::RecordCrc { .. }),
        "{:?}",
        tail.problem
    );
    assert_eq!(replay_lsns(&wal), (1..=10).collect::<Vec<_>>());
}

#[test]
fn missing_segment_is_an_error() {
    let dir = tempdir();
    multi_segment_log(dir.path(), 800, false);
    let segs = segment_files(dir.path());
    assert!(segs.len() >= 4);
    std::fs::remove_file(&segs[1]).unwrap();
    let err = Wal::open(dir.path(), small_segments()).unwrap_err();
    assert!(
        matches!(&err, WalError::MissingSegment { segment, .. } if *segment == segs[2]),
        "{err}"
    );
}

#[test]
fn lsn_gap_is_an_error() {
    // The sealed segment lost its last flush: its successor says it should end later.
    let dir = tempdir();
    multi_segment_log(dir.path(), 400, true);
    let segs = segment_files(dir.path());
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    let (off, _, _, _) = *frames(&bytes).iter().rev().find(|f| f.2 != 0xffff).unwrap();
    let end = data_end(&bytes);
    bytes[off..end].fill(0);
    std::fs::write(&segs[0], &bytes).unwrap();
    let err = Wal::open(dir.path(), small_segments()).unwrap_err();
    assert!(
        matches!(&err, WalError::LsnGap { segment, .. } if *segment == segs[1]),
        "{err}"
    );
}

#[test]
fn wrong_key_is_a_clear_error() {
    let dir = tempdir();
    wal_with(
        dir.path(),
        3,
        WalOptions {
            key_ring: Some(ring()),
            ..WalOptions::default()
        },
    );
    let wrong = cairn_wal::KeyRing::new(1, [0x99; 32]);
    let err = Wal::open(
        dir.path(),
        WalOptions {
            key_ring: Some(wrong),
            ..WalOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, WalError::WrongKey { key_id: 1, .. }), "{err}");
    let other_id = cairn_wal::KeyRing::new(2, [0x42; 32]);
    let err = Wal::open(
        dir.path(),
        WalOptions {
            key_ring: Some(other_id),
            ..WalOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, WalError::UnknownKey { key_id: 1, .. }),
        "{err}"
    );
}

#[test]
fn key_rotation_reads_old_segments() {
    let dir = tempdir();
    wal_with(
        dir.path(),
        5,
        WalOptions {
            key_ring: Some(ring()),
            ..WalOptions::default()
        },
    );
    let rotated = ring().rotate_to(2, [0x77; 32]);
    {
        let wal = open(
            dir.path(),
            WalOptions {
                key_ring: Some(rotated.clone()),
                ..WalOptions::default()
            },
        );
        for i in 6..=10 {
            wal.append_durable(record(i, &payload(i, 300))).unwrap();
        }
    }
    let wal = open(
        dir.path(),
        WalOptions {
            key_ring: Some(rotated),
            ..WalOptions::default()
        },
    );
    assert_dense(&replay_all(&wal), 1, 10, 300);
}

#[test]
fn tampered_encrypted_record_is_an_error_even_with_a_fixed_crc() {
    let dir = tempdir();
    let opts = || WalOptions {
        key_ring: Some(ring()),
        ..WalOptions::default()
    };
    let seg = wal_with(dir.path(), 10, opts());
    let mut bytes = std::fs::read(&seg).unwrap();
    let (off, len) = record_offset(&bytes, 4);
    bytes[off + 50] ^= 0x01;
    fix_crc(&mut bytes, off, len);
    std::fs::write(&seg, &bytes).unwrap();
    let err = Wal::open(dir.path(), opts()).unwrap_err();
    assert_eq!(assert_corrupt(err, &seg, off, 4), Corruption::Tampered);
}

#[test]
fn tampered_segment_header_is_rejected() {
    let dir = tempdir();
    let opts = || WalOptions {
        key_ring: Some(ring()),
        ..WalOptions::default()
    };
    let seg = wal_with(dir.path(), 3, opts());
    let original = std::fs::read(&seg).unwrap();
    // A flipped byte: the header CRC catches it.
    let mut bytes = original.clone();
    bytes[30] ^= 0x04;
    std::fs::write(&seg, &bytes).unwrap();
    let err = Wal::open(dir.path(), opts()).unwrap_err();
    assert!(
        matches!(err.corruption(), Some(Corruption::HeaderCrc { .. })),
        "{err}"
    );
    // A changed salt with a recomputed CRC: the key check value no longer matches.
    let mut bytes = original;
    bytes[60] ^= 0x04;
    let crc = crc32c::crc32c(&bytes[..124]);
    bytes[124..128].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let err = Wal::open(dir.path(), opts()).unwrap_err();
    assert!(matches!(err, WalError::WrongKey { .. }), "{err}");
}

#[test]
fn unsupported_format_version_is_named() {
    let dir = tempdir();
    let seg = wal_with(dir.path(), 2, WalOptions::default());
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[8] = 2;
    std::fs::write(&seg, &bytes).unwrap();
    let err = Wal::open(dir.path(), WalOptions::default()).unwrap_err();
    assert!(
        matches!(
            err.corruption(),
            Some(Corruption::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        ),
        "{err}"
    );
}

#[test]
fn garbage_over_the_whole_preallocated_tail_is_cut() {
    // Random bytes fill the rest of a default-size (64 MiB) segment after the last flush:
    // recovery probes every block boundary once (linear), finds no surviving flush, and cuts.
    let dir = tempdir();
    let seg = wal_with(dir.path(), 10, WalOptions::default());
    let bytes = std::fs::read(&seg).unwrap();
    let end = data_end(&bytes);
    let mut garbage = vec![0u8; bytes.len() - end];
    let mut x = 0x1234_5678_9abc_def1u64;
    for b in garbage.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    // Sparse garbage: mostly zero blocks with a non-zero byte near the end, the shape that
    // once made the look-ahead quadratic.
    let mut sparse = vec![0u8; garbage.len()];
    let n = sparse.len();
    sparse[n - 10] = 1;
    for tail in [sparse, garbage] {
        write_at(&seg, end, &tail);
        assert_cut_at(dir.path(), &seg, end, 10);
        // Restore the file length for the next shape (recovery truncated it).
        std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(bytes.len() as u64)
            .unwrap();
        // The reopen added a record in a new segment; remove it so the segment is last again.
        for extra in segment_files(dir.path()).into_iter().filter(|p| *p != seg) {
            std::fs::remove_file(extra).unwrap();
        }
    }
}

#[test]
fn lsn_above_the_cap_is_rejected_not_overflowed() {
    // Found by fuzzing: a CRC-valid header or frame with LSN u64::MAX once overflowed the
    // recovery arithmetic and let a new segment be renamed over one holding records.
    let dir = tempdir();
    let seg = wal_with(dir.path(), 3, WalOptions::default());
    let mut bytes = std::fs::read(&seg).unwrap();
    let huge = u64::MAX;
    bytes[24..32].copy_from_slice(&huge.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[..124]);
    bytes[124..128].copy_from_slice(&crc.to_le_bytes());
    let bad = dir.path().join(cairn_wal::segment_file_name(huge));
    std::fs::write(&bad, &bytes).unwrap();
    let err = Wal::open(dir.path(), WalOptions::default()).unwrap_err();
    assert!(
        matches!(
            err.corruption(),
            Some(Corruption::HeaderField {
                field: "first_lsn",
                ..
            })
        ),
        "{err}"
    );
    std::fs::remove_file(&bad).unwrap();
    // A surviving frame with an out-of-range LSN past a torn flush is not a valid frame.
    let bytes = std::fs::read(&seg).unwrap();
    let end = data_end(&bytes);
    write_at(&seg, end, &[0xAB; 10]);
    write_at(&seg, end + BLOCK, &frame(segment_id(&bytes), huge, b"x"));
    let wal = open(dir.path(), WalOptions::default());
    assert_eq!(replay_lsns(&wal), vec![1, 2, 3]);
    assert_eq!(wal.next_lsn(), Lsn(4));
}

#[test]
fn wholly_torn_last_segment_never_sends_the_lsn_backwards() {
    // The reference restarted at LSN 1 when its last segment held no valid record. Here the
    // next LSN is at least the last segment's first LSN, and earlier segments stay intact.
    let dir = tempdir();
    multi_segment_log(dir.path(), 500, false);
    let segs = segment_files(dir.path());
    let last = segs.last().unwrap();
    let bytes = std::fs::read(last).unwrap();
    let first_lsn: u64 = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
    let last_with_records = segs
        .iter()
        .rev()
        .find(|p| {
            frames(&std::fs::read(p).unwrap())
                .iter()
                .any(|f| f.2 != 0xffff)
        })
        .unwrap()
        .clone();
    let lb = std::fs::read(&last_with_records).unwrap();
    let torn_first: u64 = u64::from_le_bytes(lb[24..32].try_into().unwrap());
    assert!(torn_first > 1 && torn_first <= first_lsn);
    // Garbage over every frame of the last segment that holds records.
    let garbage: Vec<u8> = (0..lb.len() - BLOCK).map(|i| (i * 7 + 3) as u8).collect();
    write_at(&last_with_records, BLOCK, &garbage);
    for extra in segs.iter().filter(|p| **p > last_with_records) {
        std::fs::remove_file(extra).unwrap();
    }
    let wal = open(dir.path(), small_segments());
    assert!(wal.recovery_report().torn_tail.is_some());
    assert_eq!(wal.next_lsn(), Lsn(torn_first), "LSN must not go backwards");
    assert_dense(&replay_all(&wal), 1, torn_first - 1, 300);
}
