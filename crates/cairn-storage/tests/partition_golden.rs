//! Golden partition files: `tests/fixtures/partition-v1/small.crnp` pins the bytes of format
//! version 1 (3000 rows, pages of 1024, columns ts, region (tag), temp (f64 with -0.0 and a
//! NaN), count (i64 with nulls)), and `small-encrypted.crnp` is the same table encrypted
//! under key id 7 = `[0x42; 32]`.
//!
//! The tests read both fixtures and check every value and footer field, and re-write the
//! plain one to assert the writer still produces exactly its bytes (unencrypted output is a
//! pure function of the input; encrypted files carry a random salt, so that fixture is only
//! read). A difference means the on-disk format changed: if that is intended (a codec's
//! choice or layout changed), bump the format version or regenerate deliberately with
//!
//! ```text
//! CAIRN_REGENERATE_GOLDEN=1 cargo test -p cairn-storage --test partition_golden
//! ```
//!
//! and say so in the commit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::sync::Once;

use cairn_crypto::KeyRing;
use cairn_io::{Backend, RealFs};
use cairn_storage::{
    ColumnSpec, ColumnType, Footer, PartitionInfo, PartitionReader, ReadOptions, StorageError,
    WriteOptions,
};
use common::check::{Bound, bounds, check_file};
use common::{Data, Table, field, page_rows, tail_of, with_keys};

const ROWS: usize = 3000;
const BASE_NS: i64 = 1_700_000_000_000_000_000;
const INFO: PartitionInfo = PartitionInfo {
    schema_version: 3,
    wal_lsn: 12_345,
};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/partition-v1")
        .join(name)
}

fn golden_ring() -> KeyRing {
    KeyRing::new(7, [0x42; 32])
}

fn golden_table() -> Table {
    let mut t = Table::default();
    let ts = (0..ROWS as i64)
        .map(|i| BASE_NS + i * 1_000_000_000)
        .collect();
    t.push(common::ts(), Data::I64(ts), None);
    let regions = ["ap-south", "eu-west", "us-east"];
    let region = (0..ROWS).map(|i| regions[i % 3].to_string()).collect();
    t.push(ColumnSpec::tag("region"), Data::Str(region), None);
    let temp = (0..ROWS)
        .map(|i| match i {
            0 => -0.0,
            2500 => f64::NAN,
            _ => 20.0 + (i % 100) as f64 * 0.25,
        })
        .collect();
    t.push(field("temp", ColumnType::F64), Data::F64(temp), None);
    let count = (0..ROWS as i64).map(|i| i * 7 - 1000).collect();
    let valid = (0..ROWS).map(|i| i % 97 != 0).collect();
    t.push(
        field("count", ColumnType::I64),
        Data::I64(count),
        Some(valid),
    );
    t
}

fn golden_opts() -> WriteOptions {
    page_rows(1024)
}

fn write_bytes(opts: &WriteOptions) -> Vec<u8> {
    let fs = common::sim();
    let path = std::path::Path::new("/parts/golden.crnp");
    common::write(&fs, path, &golden_table(), INFO, opts).unwrap();
    fs.read_file(path).unwrap()
}

/// Rewrites both fixtures when `CAIRN_REGENERATE_GOLDEN=1` (once per test run).
fn regenerate_if_asked() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("CAIRN_REGENERATE_GOLDEN").as_deref() != Ok("1") {
            return;
        }
        std::fs::create_dir_all(fixture_path("")).unwrap();
        std::fs::write(fixture_path("small.crnp"), write_bytes(&golden_opts())).unwrap();
        let enc = WriteOptions {
            keys: Some(golden_ring()),
            ..golden_opts()
        };
        std::fs::write(fixture_path("small-encrypted.crnp"), write_bytes(&enc)).unwrap();
        eprintln!("regenerated {}", fixture_path("").display());
    });
}

fn open_fixture(name: &str, opts: &ReadOptions) -> PartitionReader {
    regenerate_if_asked();
    let fs = RealFs::new(Backend::Pwrite);
    PartitionReader::open_file(&fs, &fixture_path(name), opts).unwrap_or_else(|e| {
        panic!("{e} (regenerate with CAIRN_REGENERATE_GOLDEN=1, see this file's doc comment)")
    })
}

/// Every footer field of the golden table, pinned as literals.
fn check_golden_footer(f: &Footer) {
    assert_eq!((f.row_count, f.page_rows, f.page_count()), (3000, 1024, 3));
    assert_eq!((f.schema_version, f.wal_lsn), (3, 12_345));
    assert_eq!(
        f.time_range,
        Some((BASE_NS, BASE_NS + 2999 * 1_000_000_000))
    );
    assert!(f.time_sorted);
    let s = f.sparse_index.unwrap();
    assert_eq!((s.block_rows, s.blocks), (1024, 3));
    let names: Vec<&str> = f.columns.iter().map(|c| c.spec.name.as_str()).collect();
    assert_eq!(names, ["ts", "region", "temp", "count"]);
    let region = &f.columns[1];
    assert_eq!(region.dictionary.unwrap().entries, 3);
    let text = |s: &str| Bound::Bytes(s.as_bytes().to_vec(), false);
    assert_eq!(
        bounds(&region.stats),
        Some((text("ap-south"), text("us-east")))
    );
    let temp = &f.columns[2];
    let nan = f64::NAN.to_bits();
    let neg_zero = (-0.0f64).to_bits();
    assert_eq!(
        bounds(&temp.stats),
        Some((Bound::F64(neg_zero), Bound::F64(nan)))
    );
    assert_eq!(
        bounds(&temp.pages[1].stats),
        Some((
            Bound::F64(20.0f64.to_bits()),
            Bound::F64(44.75f64.to_bits())
        ))
    );
    let count = &f.columns[3];
    assert_eq!(count.null_count, 31);
    let nulls: Vec<u32> = count.pages.iter().map(|p| p.null_count).collect();
    assert_eq!(nulls, [11, 11, 9]);
    assert_eq!(
        bounds(&count.stats),
        Some((Bound::I64(-993), Bound::I64(2999 * 7 - 1000)))
    );
    let rows: Vec<u32> = count.pages.iter().map(|p| p.rows).collect();
    assert_eq!(rows, [1024, 1024, 952]);
}

#[test]
fn golden_file_reads_back_every_value_and_footer_field() {
    let r = open_fixture("small.crnp", &ReadOptions::default());
    assert!(r.footer().encryption.is_none());
    check_golden_footer(r.footer());
    check_file(&r, &golden_table(), INFO);
    r.verify().unwrap();
}

#[test]
fn golden_footer_re_encodes_to_the_same_bytes() {
    regenerate_if_asked();
    let bytes = std::fs::read(fixture_path("small.crnp")).unwrap();
    let (start, tail) = tail_of(&bytes);
    let body = &bytes[start..start + tail.footer_len as usize];
    let footer = Footer::decode(body, start as u64).unwrap();
    assert_eq!(footer.encode(), body);
}

#[test]
fn writer_reproduces_the_golden_bytes() {
    regenerate_if_asked();
    let golden = std::fs::read(fixture_path("small.crnp")).unwrap();
    let now = write_bytes(&golden_opts());
    if now != golden {
        let at = now.iter().zip(&golden).position(|(a, b)| a != b);
        panic!(
            "the writer's output changed: {} bytes now, {} in the fixture, first difference at \
             {at:?}; see this file's doc comment",
            now.len(),
            golden.len()
        );
    }
}

#[test]
fn column_encoding_threads_do_not_change_the_bytes() {
    regenerate_if_asked();
    let golden = std::fs::read(fixture_path("small.crnp")).unwrap();
    for threads in [1, 2, 3, 8] {
        let opts = WriteOptions {
            threads,
            ..golden_opts()
        };
        assert!(
            write_bytes(&opts) == golden,
            "{threads} threads changed the bytes"
        );
    }
}

#[test]
fn encrypted_golden_file_reads_with_the_fixed_key() {
    let r = open_fixture("small-encrypted.crnp", &with_keys(golden_ring()));
    assert_eq!(r.footer().encryption.unwrap().key_id, 7);
    check_golden_footer(r.footer());
    check_file(&r, &golden_table(), INFO);
    r.verify().unwrap();
    let fs = RealFs::new(Backend::Pwrite);
    let path = fixture_path("small-encrypted.crnp");
    let wrong = with_keys(KeyRing::new(7, [0x43; 32]));
    let e = PartitionReader::open_file(&fs, &path, &wrong).unwrap_err();
    assert!(
        matches!(&e, StorageError::WrongKey { path: p, key_id: 7 } if *p == path),
        "{e}"
    );
}
