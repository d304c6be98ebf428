//! The reference system's own WAL scenarios, on the real file system.

mod common;

use cairn_wal::{BackendChoice, DirectIo, Lsn, Wal, WalError, WalOptions};
use common::*;

#[test]
fn append_and_replay() {
    let dir = tempdir();
    let wal = open(dir.path(), WalOptions::default());
    for i in 1..=100u64 {
        let p = payload(i, 100);
        assert_eq!(wal.append_durable(record(i, &p)).unwrap(), Lsn(i));
    }
    assert_eq!(wal.durable_lsn(), Lsn(100));
    assert_eq!(wal.next_lsn(), Lsn(101));
    assert_dense(&replay_all(&wal), 1, 100, 100);
}

#[test]
fn reopen_continues_the_lsn() {
    let dir = tempdir();
    {
        let wal = open(dir.path(), WalOptions::default());
        for i in 1..=10u64 {
            wal.append(record(i, &payload(i, 50))).unwrap();
        }
        wal.close().unwrap();
    }
    let wal = open(dir.path(), WalOptions::default());
    assert_eq!(wal.next_lsn(), Lsn(11));
    assert_eq!(wal.recovery_report().records_scanned, 10);
    assert_eq!(
        wal.append_durable(record(11, &payload(11, 50))).unwrap(),
        Lsn(11)
    );
    assert_dense(&replay_all(&wal), 1, 11, 50);
}

#[test]
fn reopen_of_an_empty_log_keeps_the_lsn_and_does_not_pile_up_segments() {
    let dir = tempdir();
    {
        let wal = open(dir.path(), WalOptions::default());
        wal.append_durable(record(1, &payload(1, 10))).unwrap();
    }
    for _ in 0..3 {
        let wal = open(dir.path(), WalOptions::default());
        assert_eq!(wal.next_lsn(), Lsn(2));
    }
    let wal = open(dir.path(), WalOptions::default());
    assert_eq!(wal.segments().unwrap().len(), 2);
}

#[test]
fn rollover_over_many_segments_and_truncation() {
    let dir = tempdir();
    let wal = open(dir.path(), small_segments());
    for i in 1..=2000u64 {
        wal.append(record(i, &payload(i, 300))).unwrap();
    }
    wal.sync().unwrap();
    let segs = wal.segments().unwrap();
    assert!(
        segs.len() >= 8,
        "expected many segments, got {}",
        segs.len()
    );
    assert!(segs.last().unwrap().active);
    assert_dense(&replay_all(&wal), 1, 2000, 300);

    let before = wal.total_size_bytes().unwrap();
    let report = wal.truncate_before(Lsn(1000)).unwrap();
    assert!(report.segments_deleted > 0);
    assert_eq!(
        wal.total_size_bytes().unwrap(),
        before - report.bytes_reclaimed
    );
    let first_kept = wal.segments().unwrap()[0].first_lsn;
    assert!(first_kept <= Lsn(1000));
    let rest: Vec<_> = wal
        .replay(Lsn(1000))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_dense(&rest, 1000, 2000, 300);
    // Truncating everything never deletes the active segment.
    wal.truncate_before(Lsn(u64::MAX)).unwrap();
    assert_eq!(wal.segments().unwrap().len(), 1);
    drop(wal);
    let wal = open(dir.path(), small_segments());
    assert_eq!(wal.next_lsn(), Lsn(2001));
}

#[test]
fn replay_from_a_checkpoint_and_paginated_replay_across_segments() {
    let dir = tempdir();
    let wal = open(dir.path(), small_segments());
    for i in 1..=1500u64 {
        wal.append(record(i, &payload(i, 200))).unwrap();
    }
    wal.sync().unwrap();
    let from_700: Vec<_> = wal
        .replay(Lsn(700))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_dense(&from_700, 700, 1500, 200);
    let mut next = Lsn(1);
    let mut all = Vec::new();
    loop {
        let (page, more) = wal.replay_page(next, 97).unwrap();
        assert!(page.len() <= 97);
        if let Some(last) = page.last() {
            next = last.lsn.next();
        }
        all.extend(page);
        if !more {
            break;
        }
    }
    assert_dense(&all, 1, 1500, 200);
}

#[test]
fn encryption_across_segments_and_restart() {
    let dir = tempdir();
    let opts = || WalOptions {
        key_ring: Some(ring()),
        ..small_segments()
    };
    {
        let wal = open(dir.path(), opts());
        for i in 1..=800u64 {
            wal.append(record(i, &payload(i, 250))).unwrap();
        }
        wal.close().unwrap();
    }
    // No plaintext on disk.
    let needle = payload(5, 250);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_slice()));
    }
    let wal = open(dir.path(), opts());
    assert!(wal.segments().unwrap().iter().all(|s| s.encrypted));
    assert_dense(&replay_all(&wal), 1, 800, 250);
    drop(wal);
    // Without the ring, or with the wrong key: clear errors.
    let err = Wal::open(dir.path(), small_segments()).unwrap_err();
    assert!(matches!(err, WalError::KeyRequired { .. }), "{err}");
    let wrong = cairn_wal::KeyRing::new(1, [0x43; 32]);
    let err = Wal::open(
        dir.path(),
        WalOptions {
            key_ring: Some(wrong),
            ..small_segments()
        },
    )
    .unwrap_err();
    assert!(matches!(err, WalError::WrongKey { key_id: 1, .. }), "{err}");
}

#[test]
fn both_backends_and_both_io_modes() {
    for backend in [BackendChoice::Pwrite, BackendChoice::IoUring] {
        if backend == BackendChoice::IoUring
            && cairn_io::Backend::detect() != cairn_io::Backend::IoUring
        {
            eprintln!("io_uring unavailable here; skipping that backend");
            continue;
        }
        for direct in [DirectIo::On, DirectIo::Off] {
            let dir = tempdir();
            let opts = || WalOptions {
                backend,
                direct_io: direct,
                ..small_segments()
            };
            let wal = open(dir.path(), opts());
            assert_eq!(wal.io_path().direct_io, direct == DirectIo::On);
            for i in 1..=300u64 {
                wal.append_durable(record(i, &payload(i, 1000))).unwrap();
            }
            drop(wal);
            let wal = open(dir.path(), opts());
            assert_dense(&replay_all(&wal), 1, 300, 1000);
        }
    }
}

#[test]
fn concurrent_durable_appends_get_dense_lsns() {
    let dir = tempdir();
    let wal = std::sync::Arc::new(open(dir.path(), WalOptions::default()));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                let mut lsns = Vec::new();
                for _ in 0..200 {
                    let p = vec![1u8; 64];
                    lsns.push(wal.append_durable(record(0, &p)).unwrap());
                }
                lsns
            })
        })
        .collect();
    let mut all: Vec<Lsn> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, (1..=1600).map(Lsn).collect::<Vec<_>>());
    assert!(
        wal.stats()
            .fsyncs
            .load(std::sync::atomic::Ordering::Relaxed)
            < 1600,
        "group commit batched nothing"
    );
    assert_eq!(replay_all(&wal).len(), 1600);
}

#[test]
fn bad_appends_are_refused_without_consuming_lsns() {
    let dir = tempdir();
    let wal = open(
        dir.path(),
        WalOptions {
            max_record_bytes: 1000,
            ..WalOptions::default()
        },
    );
    let big = vec![0u8; 1001];
    assert!(matches!(
        wal.append(record(1, &big)),
        Err(WalError::RecordTooLarge {
            len: 1001,
            max: 1000
        })
    ));
    let reserved = cairn_wal::Record::new(0xff00, b"x");
    assert!(matches!(
        wal.append(reserved),
        Err(WalError::ReservedRecordType(0xff00))
    ));
    assert_eq!(wal.append(record(1, b"ok")).unwrap(), Lsn(1));
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempdir();
    let _wal = open(dir.path(), WalOptions::default());
    assert!(matches!(
        Wal::open(dir.path(), WalOptions::default()),
        Err(WalError::Locked { .. })
    ));
}

#[test]
fn large_encrypted_batches_are_sealed_in_parallel_across_segments() {
    // 300 × 4 KiB in one batch is past the parallel-sealing threshold and spans ~20 small
    // segments, so frames of several queue parts are sealed by several threads.
    let dir = tempdir();
    let opts = || WalOptions {
        key_ring: Some(ring()),
        ..small_segments()
    };
    let wal = open(dir.path(), opts());
    let payloads: Vec<Vec<u8>> = (1..=300u64).map(|i| payload(i, 4096)).collect();
    let records: Vec<_> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| record(i as u64 + 1, p))
        .collect();
    let range = wal.append_batch_durable(&records).unwrap();
    assert_eq!((range.first, range.last), (Lsn(1), Lsn(300)));
    assert!(wal.segments().unwrap().len() > 10);
    assert_dense(&replay_all(&wal), 1, 300, 4096);
    drop(wal);
    let wal = open(dir.path(), opts());
    assert_dense(&replay_all(&wal), 1, 300, 4096);
    let from_150: Vec<_> = wal
        .replay(Lsn(150))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_dense(&from_150, 150, 300, 4096);
}
