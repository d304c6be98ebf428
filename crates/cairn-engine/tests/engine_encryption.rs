#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Encrypted databases on a real disk: the WAL and the partition files hide the data and need
//! their key, and a manifest that says plaintext for an encrypted file is refused.

mod engine_common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{StringArray, TimestampNanosecondArray};
use cairn_engine::{ColumnSpec, ColumnType, Db, DbOptions, EngineError, ScanRequest};
use engine_common::{T0, all_rows, batch, opts, partition_files, tree};

const MARKER: &str = "plaintext-marker-5e1f0c2b";

/// Options with `keys` for the WAL and partition files. No compression (outer page stage,
/// WAL records), so that a plain file shows the values (the control).
fn keyed(keys: Option<cairn_wal::KeyRing>) -> DbOptions {
    DbOptions {
        compress_wal: false,
        wal: cairn_wal::WalOptions {
            key_ring: keys,
            ..Default::default()
        },
        partition: cairn_storage::WriteOptions {
            encode: cairn_codec::EncodeOptions {
                try_outer: false,
                ..Default::default()
            },
            ..Default::default()
        },
        ..opts()
    }
}

/// Files under `dir` that contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let files = tree(dir).into_iter().filter(|p| dir.join(p).is_file());
    files
        .filter(|p| {
            let bytes = std::fs::read(dir.join(p)).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .collect()
}

/// A database with 1,010 rows whose strings are `MARKER-0000`.. (1,000 in a partition file,
/// 10 in the WAL and in a second file written by `close`). Returns its rows.
fn secret_db(dir: &Path, keys: Option<cairn_wal::KeyRing>) -> Vec<String> {
    let columns = vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::field("s", ColumnType::String),
    ];
    let secrets: Vec<String> = (0..1000).map(|i| format!("{MARKER}-{i:04}")).collect();
    let ts = TimestampNanosecondArray::from_iter_values((0..1000).map(|i| T0 + i));
    let rows = batch(vec![
        ("ts", Arc::new(ts.with_timezone("UTC"))),
        ("s", Arc::new(StringArray::from(secrets))),
    ]);
    let db = Db::open(dir, keyed(keys)).unwrap();
    db.create_collection("sec", columns, None).unwrap();
    db.write("sec", &rows).unwrap();
    db.flush().unwrap();
    db.write("sec", &rows.slice(0, 10)).unwrap();
    let expected = all_rows(&db, "sec");
    assert_eq!(expected.len(), 1010);
    db.close().unwrap();
    assert_eq!(partition_files(dir).len(), 2);
    expected
}

#[test]
fn encrypted_database_hides_data_and_needs_its_key() {
    use cairn_wal::{KeyRing, WalError};
    // "-0500" is no page's minimum or maximum: page and column bounds stay readable in the
    // plaintext footer by design (docs/formats/partition.md, "What the footer reveals").
    let middle = format!("{MARKER}-0500");
    let plain = tempfile::tempdir().unwrap();
    secret_db(plain.path(), None);
    assert_eq!(
        files_containing(plain.path(), &middle).len(),
        2,
        "the control shows it"
    );
    let dir = tempfile::tempdir().unwrap();
    let ring = KeyRing::new(7, [0x5a; 32]);
    let expected = secret_db(dir.path(), Some(ring.clone()));
    assert_eq!(files_containing(dir.path(), &middle), Vec::<PathBuf>::new());
    let wal = dir.path().join("wal");
    assert_eq!(files_containing(&wal, MARKER), Vec::<PathBuf>::new());
    let db = Db::open(dir.path(), keyed(Some(ring))).unwrap();
    assert_eq!(all_rows(&db, "sec"), expected);
    drop(db);
    let err = Db::open(dir.path(), keyed(None)).unwrap_err();
    assert!(
        matches!(err, EngineError::Wal(WalError::KeyRequired { .. })),
        "{err}"
    );
    let wrong = KeyRing::new(7, [0x11; 32]);
    let err = Db::open(dir.path(), keyed(Some(wrong))).unwrap_err();
    assert!(
        matches!(err, EngineError::Wal(WalError::WrongKey { key_id: 7, .. })),
        "{err}"
    );
}

#[test]
fn a_plaintext_file_where_the_manifest_says_encrypted_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ring = cairn_wal::KeyRing::new(7, [0x5a; 32]);
    secret_db(dir.path(), Some(ring.clone()));
    // Flip the first file's `encrypted` flag (offset 26 + 56) and re-seal the CRC: the
    // manifest now claims plaintext for an encrypted file, as a swapped-in plaintext file
    // would look the other way round.
    let coll_dir = tree(dir.path())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "MANIFEST"))
        .unwrap();
    let path = dir.path().join(coll_dir);
    let mut m = std::fs::read(&path).unwrap();
    assert_eq!(m[26 + 56], 1, "the file is recorded as encrypted");
    m[26 + 56] = 0;
    let body = m.len() - 4;
    let crc = crc32c::crc32c(&m[..body]);
    m[body..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &m).unwrap();
    let db = Db::open(dir.path(), keyed(Some(ring))).unwrap();
    let err = db.scan("sec", &ScanRequest::default()).unwrap_err();
    assert!(
        err.to_string().contains("refusing a downgrade") || err.to_string().contains("encrypted"),
        "{err}"
    );
}
