#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The engine's decoders (CATALOG, MANIFEST, DDL and WRITE records) over random bytes and
//! single-byte damage of valid inputs: only `Ok` or a typed error, never a panic. The
//! cargo-fuzz target `engine_records` does the same without a time limit.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use cairn_engine::{ColumnSpec, ColumnType, Db, DbOptions, batch_codec, decode};
use rand::{Rng, SeedableRng};

fn check_all(bytes: &[u8]) {
    // Only "never panics" is checked here; the results differ by format.
    let _catalog = decode::catalog(bytes);
    let _manifest = decode::manifest(bytes);
    let _ddl = decode::ddl(bytes);
    let _batch = batch_codec::decode(bytes);
}

/// A real CATALOG, MANIFEST and WRITE record from a small database.
fn samples() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        DbOptions {
            background: false,
            ..DbOptions::default()
        },
    )
    .unwrap();
    db.create_collection(
        "m",
        vec![
            ColumnSpec::time_key("ts"),
            ColumnSpec::tag("host"),
            ColumnSpec::field("v", ColumnType::I64),
        ],
        None,
    )
    .unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("host", DataType::Utf8, true),
        Field::new("v", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampNanosecondArray::from(vec![1, 2, 3]).with_timezone("UTC"))
                as ArrayRef,
            Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
            Arc::new(Int64Array::from(vec![Some(1), Some(2), None])),
        ],
    )
    .unwrap();
    db.write("m", &batch).unwrap();
    db.flush().unwrap();
    let id = db.collection("m").unwrap().id;
    let catalog = std::fs::read(dir.path().join("CATALOG")).unwrap();
    let manifest = std::fs::read(dir.path().join(format!("c{id}")).join("MANIFEST")).unwrap();
    let mut record = Vec::new();
    batch_codec::encode(
        id,
        &batch,
        &[ColumnType::Timestamp, ColumnType::String, ColumnType::I64],
        &mut record,
    )
    .unwrap();
    assert_eq!(decode::catalog(&catalog).unwrap(), (1, 1));
    assert_eq!(decode::manifest(&manifest).unwrap(), 1);
    db.close().unwrap();
    vec![catalog, manifest, record]
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..20_000 {
        let len = rng.random_range(0..256);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        check_all(&bytes);
    }
}

#[test]
fn every_single_byte_change_of_valid_files_is_caught() {
    for sample in samples() {
        for i in 0..sample.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = sample.clone();
                bad[i] ^= flip;
                check_all(&bad);
                // All three formats end with a CRC32C over the rest: any change is refused.
                assert!(decode::catalog(&bad).is_err() || decode::catalog(&sample).is_err());
                assert!(decode::manifest(&bad).is_err() || decode::manifest(&sample).is_err());
                assert!(
                    batch_codec::decode(&bad).is_err() || batch_codec::decode(&sample).is_err()
                );
            }
        }
        for cut in 0..sample.len() {
            check_all(&sample[..cut]);
        }
    }
}
