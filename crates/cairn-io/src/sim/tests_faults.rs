//! Fault injection, capacity, `O_DIRECT` alignment, the overwrite detector and counters.

use std::io;
use std::path::Path;

use super::*;
use crate::{AlignedBuf, DIRECT_IO_ALIGN, FileRef, Fs, OpenOptions};

fn p(s: &str) -> &Path {
    Path::new(s)
}

fn fs_with_file(seed: u64) -> (SimFs, FileRef) {
    let fs = SimFs::new(seed);
    fs.create_dir_all(p("/d")).unwrap();
    fs.write_file_durable(p("/d/f"), b"0123456789").unwrap();
    let f = fs.open(p("/d/f"), OpenOptions::read_write()).unwrap();
    (fs, f)
}

/// Performs one call of `op`; returns its result and whether the visible state is what it
/// was before (the call changed nothing).
fn call_once(fs: &SimFs, f: &FileRef, op: OpKind) -> (io::Result<()>, bool) {
    let before = (
        fs.file_names(p("/d")).unwrap(),
        fs.read_file(p("/d/f")).ok(),
    );
    let result = match op {
        OpKind::Open => fs.open(p("/d/f"), OpenOptions::read()).map(drop),
        OpKind::Read => f.read_at(&mut [0u8; 4], 0).map(drop),
        OpKind::Write => f.write_all_at(b"XYZW", 8),
        OpKind::SyncData => f.sync_data(),
        OpKind::SyncDir => fs.sync_dir(p("/d")),
        OpKind::SetLen => f.set_len(2),
        OpKind::Preallocate => f.preallocate(100),
        OpKind::Rename => fs.rename(p("/d/f"), p("/d/g")),
        OpKind::Remove => fs.remove_file(p("/d/f")),
        OpKind::List => fs.list_dir(p("/d")).map(drop),
    };
    let after = (
        fs.file_names(p("/d")).unwrap(),
        fs.read_file(p("/d/f")).ok(),
    );
    (result, before == after)
}

#[test]
fn every_fault_kind_fails_every_op_once_and_changes_nothing() {
    for op in OpKind::ALL {
        for (kind, code) in [
            (FaultKind::Eio, libc::EIO),
            (FaultKind::Enospc, libc::ENOSPC),
        ] {
            let (fs, f) = fs_with_file(1);
            let calls_before = fs.stats().calls(op);
            fs.fail_after(op, 0, kind);
            let (result, unchanged) = call_once(&fs, &f, op);
            assert_eq!(
                result.unwrap_err().raw_os_error(),
                Some(code),
                "{op:?} {kind:?}"
            );
            assert!(
                unchanged,
                "{op:?} {kind:?}: a failed call changed the file system"
            );
            assert_eq!(fs.stats().calls(op), calls_before + 1);
            assert_eq!(fs.stats().faults_injected, 1);
            call_once(&fs, &f, op)
                .0
                .unwrap_or_else(|e| panic!("{op:?} retry failed: {e}"));
        }
    }
}

#[test]
fn fail_after_counts_from_now_and_fail_always_persists() {
    let (fs, f) = fs_with_file(2);
    f.write_all_at(b"a", 0).unwrap();
    fs.fail_after(OpKind::Write, 2, FaultKind::Eio);
    f.write_all_at(b"b", 0).unwrap();
    f.write_all_at(b"c", 0).unwrap();
    assert_eq!(
        f.write_all_at(b"d", 0).unwrap_err().raw_os_error(),
        Some(libc::EIO)
    );
    f.write_all_at(b"e", 0).unwrap();
    assert_eq!(fs.read_file(p("/d/f")).unwrap()[0], b'e');

    fs.fail_always(OpKind::SyncData, FaultKind::Enospc);
    for _ in 0..3 {
        assert_eq!(
            f.sync_data().unwrap_err().raw_os_error(),
            Some(libc::ENOSPC)
        );
    }
    fs.clear_faults();
    f.sync_data().unwrap();
}

#[test]
fn writes_under_a_failed_sync_stay_unsynced() {
    let (fs, f) = fs_with_file(3);
    f.write_all_at(b"new", 10).unwrap();
    fs.fail_after(OpKind::SyncData, 0, FaultKind::Eio);
    f.sync_data().unwrap_err();
    fs.crash_with(CrashModel::DropUnsynced);
    assert_eq!(fs.read_file(p("/d/f")).unwrap(), b"0123456789");
}

#[test]
fn capacity_refuses_growth_with_enospc() {
    let fs = SimFs::new(4);
    fs.set_capacity_bytes(Some(4096));
    let f = fs.open(p("/a"), OpenOptions::create_new()).unwrap();
    f.write_all_at(&[1u8; 4000], 0).unwrap();
    let err = f.write_all_at(&[2u8; 200], 3990).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    assert_eq!(
        fs.read_file(p("/a")).unwrap(),
        vec![1u8; 4000],
        "a refused write lands nothing"
    );
    f.write_all_at(&[3u8; 96], 3900).unwrap(); // Overwrites and exact fills are fine.
    assert_eq!(
        f.preallocate(5000).unwrap_err().raw_os_error(),
        Some(libc::ENOSPC)
    );
    let g = fs.open(p("/b"), OpenOptions::create_new()).unwrap();
    assert_eq!(
        g.write_all_at(&[1u8; 200], 0).unwrap_err().raw_os_error(),
        Some(libc::ENOSPC)
    );
    drop(f);
    fs.remove_file(p("/a")).unwrap();
    assert_eq!(
        fs.usage_bytes(),
        0,
        "a removed, closed file frees its space"
    );
    g.write_all_at(&[1u8; 4096], 0).unwrap();
    fs.set_capacity_bytes(None);
    g.preallocate(1 << 20).unwrap();
}

#[test]
fn direct_io_requires_aligned_offset_length_and_address() {
    let fs = SimFs::new(5);
    let f = fs
        .open(p("/f"), OpenOptions::create_new().with_direct(true))
        .unwrap();
    assert!(f.is_direct());
    let mut block = AlignedBuf::with_capacity(2 * DIRECT_IO_ALIGN);
    block.extend_filled(9, 2 * DIRECT_IO_ALIGN);
    f.write_all_at(block.as_slice(), 4096).unwrap();
    let einval = Some(libc::EINVAL);
    let unaligned_offset = f.write_all_at(&block.as_slice()[..4096], 512).unwrap_err();
    assert_eq!(unaligned_offset.raw_os_error(), einval);
    assert_eq!(unaligned_offset.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        f.write_all_at(&block.as_slice()[..100], 0)
            .unwrap_err()
            .raw_os_error(),
        einval
    );
    let unaligned_addr = &block.as_slice()[1..4097];
    assert_eq!(
        f.write_all_at(unaligned_addr, 0)
            .unwrap_err()
            .raw_os_error(),
        einval
    );
    assert_eq!(
        fs.read_file(p("/f")).unwrap().len(),
        3 * 4096,
        "refused writes land nothing"
    );

    let mut back = AlignedBuf::with_capacity(2 * DIRECT_IO_ALIGN);
    back.extend_filled(0, 2 * DIRECT_IO_ALIGN);
    assert_eq!(
        f.read_at(&mut back.as_mut_slice()[..4096], 100)
            .unwrap_err()
            .raw_os_error(),
        einval
    );
    assert_eq!(
        f.read_at(&mut back.as_mut_slice()[1..4097], 0)
            .unwrap_err()
            .raw_os_error(),
        einval
    );
    f.read_exact_at(&mut back.as_mut_slice()[..4096], 8192)
        .unwrap();
    assert!(back.as_slice()[..4096].iter().all(|&b| b == 9));

    let buffered = fs.open(p("/f"), OpenOptions::read_write()).unwrap();
    buffered
        .write_all_at(b"unaligned is fine without O_DIRECT", 3)
        .unwrap();
}

#[test]
fn overwrite_detector_flags_rewrites_of_synced_sectors_only() {
    let (fs, f) = fs_with_file(6); // `write_file_durable` bytes count as synced writes.
    fs.set_forbid_durable_overwrite(true);
    f.write_all_at(b"0123", 0).unwrap(); // Same bytes: still a violation.
    assert_eq!(
        fs.overwrite_violations(),
        vec!["/d/f: 4 bytes at offset 0".to_string()]
    );

    let g = fs.open(p("/d/g"), OpenOptions::create_new()).unwrap();
    g.write_all_at(&[1u8; 1000], 0).unwrap();
    g.write_all_at(&[2u8; 1000], 0).unwrap(); // Rewriting unsynced bytes is allowed.
    g.sync_data().unwrap();
    g.preallocate(4096).unwrap();
    g.sync_data().unwrap();
    g.write_all_at(&[3u8; 2048], 1024).unwrap(); // Fresh sectors and preallocated zeros.
    assert_eq!(fs.overwrite_violations().len(), 1);
    g.write_all_at(&[4u8; 1], 1023).unwrap(); // Sector 1 holds synced bytes 512..1000.
    assert_eq!(fs.overwrite_violations().len(), 2);
    assert!(fs.overwrite_violations()[1].starts_with("/d/g: 1 bytes at offset 1023"));

    fs.set_forbid_durable_overwrite(false);
    g.write_all_at(&[5u8; 10], 0).unwrap();
    assert_eq!(fs.overwrite_violations().len(), 2);
}

#[test]
fn stats_count_calls_and_bytes() {
    let fs = SimFs::new(7);
    let f = fs.open(p("/f"), OpenOptions::create_new()).unwrap();
    f.write_all_at(&[0u8; 100], 0).unwrap();
    f.write_all_at(&[0u8; 28], 100).unwrap();
    f.sync_data().unwrap();
    f.read_at(&mut [0u8; 200], 0).unwrap();
    fs.sync_dir(p("/")).unwrap();
    fs.open(p("/missing"), OpenOptions::read()).unwrap_err();
    let stats = fs.stats();
    assert_eq!(
        (stats.opens, stats.writes, stats.sync_datas, stats.sync_dirs),
        (2, 2, 1, 1)
    );
    assert_eq!(
        (stats.bytes_written, stats.bytes_read, stats.reads),
        (128, 128, 1)
    );
    fs.crash();
    assert_eq!(fs.stats().crashes, 1);
}
