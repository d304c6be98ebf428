//! Golden files: logs written by an earlier build (format version 1, one plain and one
//! encrypted, several segments each) must keep reading back exactly. The encrypted fixture was
//! written with the pure-Rust `aes-gcm` and `hkdf` crates before the switch to ring, so this
//! test also proves both implement the same key derivation and cipher. Regenerate only with a
//! format version bump.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use cairn_wal::{DirectIo, KeyRing, Lsn, Wal, WalOptions, WalRecord};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wal-v1")
        .join(name)
}

/// A copy of a fixture (opening writes a new segment and a lock file).
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = common::tempdir();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn expected(lsn: u64) -> (u16, u16, u64, u64, Vec<u8>) {
    let payload = format!(
        "golden record {lsn} {}",
        "x".repeat((lsn as usize * 397) % 1500)
    );
    (
        (lsn % 5) as u16,
        (lsn * 3) as u16,
        100 + lsn,
        200 + lsn,
        payload.into_bytes(),
    )
}

fn check(name: &str, key_ring: Option<KeyRing>) {
    let dir = copy_fixture(name);
    let options = WalOptions {
        direct_io: DirectIo::Off,
        key_ring,
        ..WalOptions::default()
    };
    let wal = Wal::open(dir.path(), options).unwrap();
    assert_eq!(wal.recovery_report().torn_tail, None);
    assert_eq!(wal.next_lsn(), Lsn(13));
    let records: Vec<WalRecord> = wal
        .replay(Lsn(1))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 12);
    for r in &records {
        let (record_type, flags, tenant_id, database_id, payload) = expected(r.lsn.0);
        assert_eq!(
            (r.record_type, r.flags, r.tenant_id, r.database_id),
            (record_type, flags, tenant_id, database_id)
        );
        assert_eq!(r.payload, payload, "payload of LSN {}", r.lsn);
    }
    wal.append_durable(cairn_wal::Record::new(1, b"appended by this build"))
        .unwrap();
}

#[test]
fn plain_v1_log_reads_back_exactly() {
    check("plain", None);
    // The first bytes of a segment, as documented in docs/formats/wal.md.
    let bytes = std::fs::read(fixture("plain").join("wal-00000000000000000001.seg")).unwrap();
    assert_eq!(&bytes[0..8], b"CAIRNWAL");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 1);
    assert_eq!(u64::from_le_bytes(bytes[24..32].try_into().unwrap()), 1);
    assert_eq!(
        u32::from_le_bytes(bytes[4096..4100].try_into().unwrap()) as usize,
        expected(1).4.len()
    );
    assert_eq!(u64::from_le_bytes(bytes[4104..4112].try_into().unwrap()), 1);
}

#[test]
fn encrypted_v1_log_reads_back_exactly() {
    check("encrypted", Some(KeyRing::new(7, [0x5a; 32])));
    let err = Wal::open(
        copy_fixture("encrypted").path(),
        WalOptions {
            key_ring: Some(KeyRing::new(7, [0x5b; 32])),
            ..WalOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, cairn_wal::WalError::WrongKey { key_id: 7, .. }),
        "{err}"
    );
}
