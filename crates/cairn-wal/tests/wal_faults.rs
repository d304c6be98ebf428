//! Fault injection on the simulated file system: ENOSPC and EIO on write, fsync and
//! preallocation poison the WAL (every later append fails with that error, nothing is
//! retried), every waiter whose record was not durable gets an error, and every record
//! acknowledged before the fault is there after a crash and reopen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use cairn_io::SimFs;
use cairn_io::sim::{CrashModel, FaultKind, OpKind};
use cairn_wal::{Lsn, WalError};
use common::*;

fn run_fault(op: OpKind, kind: FaultKind, seed: u64) {
    let sim = SimFs::new(seed);
    let fs = KillableFs::new(sim.clone());
    let wal = Arc::new(open_sim(&fs, sim_options()).unwrap());
    for i in 1..=20u64 {
        wal.append_durable(record(i, &payload(i, 500))).unwrap();
    }
    // Arm the fault, then hammer the log from several threads until it is poisoned.
    sim.fail_after(op, 0, kind);
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let wal = wal.clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                let mut errors = 0;
                for _ in 0..200 {
                    let p = payload(1000 + t, 3000);
                    match wal.append_durable(record(0, &p)) {
                        Ok(lsn) => acked.lock().unwrap().push(lsn.0),
                        Err(_) => errors += 1,
                    }
                }
                errors
            })
        })
        .collect();
    let errors: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(errors > 0, "{op:?}/{kind:?}: the fault was never hit");
    // Poisoned for good: appends, durable appends and sync all fail, with the original cause.
    let err = wal.append(record(0, b"late")).unwrap_err();
    let WalError::Poisoned(cause) = &err else {
        panic!("expected Poisoned, got {err}")
    };
    assert!(matches!(**cause, WalError::Io { .. }), "cause: {cause}");
    let raw = match &**cause {
        WalError::Io { source, .. } => source.raw_os_error(),
        _ => None,
    };
    let expected = match kind {
        FaultKind::Eio => libc_eio(),
        FaultKind::Enospc => libc_enospc(),
    };
    assert_eq!(
        raw,
        Some(expected),
        "the cause carries the injected errno: {cause}"
    );
    assert!(wal.sync().is_err());
    sim.clear_faults();
    // A crash that drops everything unsynced, then recovery.
    fs.kill();
    sim.crash_with(CrashModel::DropUnsynced);
    drop(Arc::try_unwrap(wal).ok());
    let fs = KillableFs::new(sim.clone());
    let wal = open_sim(&fs, sim_options()).unwrap();
    let recovered = replay_all(&wal);
    assert_dense(&recovered[..20], 1, 20, 500);
    let present: std::collections::HashSet<u64> = recovered.iter().map(|r| r.lsn.0).collect();
    for lsn in acked.lock().unwrap().iter() {
        assert!(
            present.contains(lsn),
            "{op:?}/{kind:?}: acknowledged LSN {lsn} lost"
        );
    }
    assert!(wal.next_lsn() > Lsn(20));
    wal.append_durable(record(0, b"alive again")).unwrap();
}

fn libc_eio() -> i32 {
    5
}
fn libc_enospc() -> i32 {
    28
}

#[test]
fn eio_on_write_poisons_and_keeps_acknowledged_records() {
    run_fault(OpKind::Write, FaultKind::Eio, 1);
}

#[test]
fn enospc_on_write_poisons_and_keeps_acknowledged_records() {
    run_fault(OpKind::Write, FaultKind::Enospc, 2);
}

#[test]
fn eio_on_fsync_poisons_and_keeps_acknowledged_records() {
    run_fault(OpKind::SyncData, FaultKind::Eio, 3);
}

#[test]
fn enospc_on_fsync_poisons_and_keeps_acknowledged_records() {
    run_fault(OpKind::SyncData, FaultKind::Enospc, 4);
}

#[test]
fn enospc_on_segment_preallocation_poisons_and_keeps_acknowledged_records() {
    run_fault(OpKind::Preallocate, FaultKind::Enospc, 5);
}

#[test]
fn a_full_disk_refuses_writes_and_loses_nothing_acknowledged() {
    let sim = SimFs::new(9);
    let fs = KillableFs::new(sim.clone());
    let wal = open_sim(&fs, sim_options()).unwrap();
    sim.set_capacity_bytes(Some(sim.usage_bytes() + 300 * 1024));
    let mut acked = 0u64;
    let err = loop {
        match wal.append_durable(record(0, &payload(acked + 1, 2000))) {
            Ok(lsn) => acked = lsn.0,
            Err(e) => break e,
        }
    };
    assert!(acked > 10, "some writes fit before the disk filled");
    assert!(err.to_string().contains("No space left"), "{err}");
    fs.kill();
    sim.crash_with(CrashModel::AnySubset);
    drop(wal);
    sim.set_capacity_bytes(None);
    let fs = KillableFs::new(sim.clone());
    let wal = open_sim(&fs, sim_options()).unwrap();
    assert_dense(&replay_all(&wal)[..acked as usize], 1, acked, 2000);
}
