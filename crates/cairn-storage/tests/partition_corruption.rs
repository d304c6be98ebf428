//! One named test per corruption of a partition file, each asserting its own error variant
//! and the path and offsets it names. Tampering that must get past a CRC uses
//! `common::forge_crc` (CRC32C is affine, so four chosen bytes restore any checksum).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use cairn_codec::int::IntCodec;
use cairn_codec::{
    Bitmap, CodecError, EncodeOptions, LeafCodec, PageInput, PageValues, encode_page,
};
use cairn_crypto::KeyRing;
use cairn_storage::{
    ColumnType, MAGIC, PartitionReader, ReadOptions, StorageError, TAIL_BYTES, WriteOptions,
};
use common::tables::{TimeOrder, all_types};
use common::{
    Data, MEM_NAME, Table, column_cells, encrypted, fix_footer_crc, footer_of, forge_crc,
    open_bytes, page_rows, ring, tail_of, with_keys,
};

/// Column "f" (index 4) of `all_types`: the column whose pages get damaged.
const F: usize = 4;

fn table() -> Table {
    all_types(3000, true, TimeOrder::Sorted, 17)
}

fn plain() -> Vec<u8> {
    common::file_bytes(&table(), &page_rows(1024))
}

fn enc() -> Vec<u8> {
    common::file_bytes(&table(), &encrypted(page_rows(1024)))
}

fn mem() -> PathBuf {
    PathBuf::from(MEM_NAME)
}

fn open_err(bytes: &[u8], opts: &ReadOptions) -> StorageError {
    open_bytes(bytes, opts).unwrap_err()
}

/// Byte offset where the footer body starts, and the body's end (before the tail).
fn footer_span(bytes: &[u8]) -> (usize, usize) {
    (tail_of(bytes).0, bytes.len() - TAIL_BYTES)
}

#[test]
fn bad_magic() {
    let mut b = plain();
    let n = b.len();
    b[n - 4..].copy_from_slice(b"XRNP");
    match open_err(&b, &ReadOptions::default()) {
        StorageError::BadMagic {
            path,
            offset,
            found,
            expected,
        } => {
            assert_eq!(
                (path, offset, found, expected),
                (mem(), n as u64 - 4, *b"XRNP", MAGIC)
            );
        }
        e => panic!("{e}"),
    }
}

#[test]
fn unsupported_version() {
    let mut b = plain();
    let n = b.len();
    b[n - 6..n - 4].copy_from_slice(&2u16.to_le_bytes());
    let e = open_err(&b, &ReadOptions::default());
    assert!(
        matches!(&e, StorageError::UnsupportedVersion { path, found: 2, supported: 1 } if *path == mem()),
        "{e}"
    );
}

#[test]
fn footer_length_beyond_the_file() {
    let mut b = plain();
    let n = b.len() as u64;
    for claimed in [n as u32 - 13, u32::MAX, 200 << 20] {
        let at = b.len() - TAIL_BYTES;
        b[at..at + 4].copy_from_slice(&claimed.to_le_bytes());
        match open_err(&b, &ReadOptions::default()) {
            StorageError::FooterLengthBeyondFile {
                path,
                footer_len,
                file_len,
            } => assert_eq!((path, footer_len, file_len), (mem(), u64::from(claimed), n)),
            e => panic!("{e}"),
        }
    }
}

#[test]
fn footer_checksum_mismatch() {
    let mut b = plain();
    let (start, end) = footer_span(&b);
    let stored = tail_of(&b).1.footer_crc;
    b[start + 20] ^= 0x01;
    let computed = crc32c::crc32c(&b[start..end]);
    match open_err(&b, &ReadOptions::default()) {
        StorageError::FooterChecksum {
            path,
            offset,
            stored: s,
            computed: c,
        } => assert_eq!(
            (path, offset, s, c),
            (mem(), start as u64, stored, computed)
        ),
        e => panic!("{e}"),
    }
}

/// Overwrites footer body bytes at `at`, fixes the tail's CRC, and returns the error.
fn corrupt_footer(mut b: Vec<u8>, at: usize, with: &[u8], opts: &ReadOptions) -> StorageError {
    let (start, _) = footer_span(&b);
    b[start + at..start + at + with.len()].copy_from_slice(with);
    fix_footer_crc(&mut b);
    open_err(&b, opts)
}

fn assert_footer_corrupt(e: StorageError, want_offset: u64) {
    match e {
        StorageError::FooterCorrupt { path, offset, .. } => {
            assert_eq!((path, offset), (mem(), want_offset));
        }
        e => panic!("{e}"),
    }
}

#[test]
fn footer_that_decodes_but_is_invalid() {
    let none = ReadOptions::default();
    // Page rows (body bytes 12..16) not a multiple of 1024: caught right after the field.
    assert_footer_corrupt(
        corrupt_footer(plain(), 12, &1000u32.to_le_bytes(), &none),
        16,
    );
    // An unknown flag bit.
    assert_footer_corrupt(corrupt_footer(plain(), 0, &[0xff], &none), 4);
    // Column count (after the 44-byte header and the 24-byte sparse index entry) zero.
    assert_footer_corrupt(corrupt_footer(plain(), 68, &[0, 0], &none), 70);
    // Encrypted: the structure is checked before the key (key id 44..48, salt, key check,
    // sparse index: the column count is at 104).
    let e = corrupt_footer(enc(), 104, &[0, 0], &with_keys(ring()));
    assert_footer_corrupt(e, 106);
}

#[test]
fn footer_with_trailing_bytes() {
    let mut b = plain();
    let (start, end) = footer_span(&b);
    b.insert(end, 0);
    let body_len = end + 1 - start;
    let tail = cairn_storage::Tail::new(body_len as u32, crc32c::crc32c(&b[start..end + 1]));
    let n = b.len();
    b[n - TAIL_BYTES..].copy_from_slice(&tail.encode());
    assert_footer_corrupt(open_err(&b, &ReadOptions::default()), (end - start) as u64);
}

#[test]
fn page_checksum_mismatch_names_column_page_and_offset() {
    let fs = common::sim();
    let path = Path::new("/parts/c.crnp");
    let t = table();
    common::write(&fs, path, &t, common::info(), &page_rows(1024)).unwrap();
    let f = footer_of(&fs.read_file(path).unwrap());
    let e = f.columns[F].pages[1].extent;
    fs.flip_bit(path, e.offset + u64::from(e.len) / 2, 3)
        .unwrap();
    let r = PartitionReader::open_file(&fs, path, &ReadOptions::default()).unwrap();
    let check = |err: StorageError| match err {
        StorageError::PageChecksum {
            path: p,
            column,
            what,
            offset,
            len,
            stored,
            computed,
        } => {
            assert_eq!(
                (p.as_path(), column.as_str(), what.as_str()),
                (path, "f", "page 1")
            );
            assert_eq!((offset, len, stored), (e.offset, u64::from(e.len), e.crc));
            assert_ne!(computed, stored);
        }
        e => panic!("{e}"),
    };
    check(r.read_column(F).unwrap_err());
    check(r.verify().unwrap_err());
    check(r.read_rows(&[F], 1000..1100).unwrap_err());
    // Page 0 of the column and every other column still read.
    let page0 = r.read_rows(&[F], 0..1024).unwrap();
    assert_eq!(column_cells(&page0[0]), t.cells(F)[..1024]);
    for c in (0..t.cols.len()).filter(|&c| c != F) {
        assert_eq!(column_cells(&r.read_column(c).unwrap()), t.cells(c));
    }
}

#[test]
fn dictionary_and_sparse_index_checksums() {
    let mut b = plain();
    let f = footer_of(&b);
    let d = f.columns[1].dictionary.unwrap().extent;
    let s = f.sparse_index.unwrap().extent;
    b[d.offset as usize] ^= 0x80;
    b[s.offset as usize + 3] ^= 0x80;
    let r = open_bytes(&b, &ReadOptions::default()).unwrap();
    let is = |err: StorageError, col: &str, w: &str, off: u64| match err {
        StorageError::PageChecksum {
            column,
            what,
            offset,
            ..
        } => assert_eq!((column.as_str(), what.as_str(), offset), (col, w, off)),
        e => panic!("{e}"),
    };
    is(
        r.read_column(1).unwrap_err(),
        "host",
        "dictionary page",
        d.offset,
    );
    is(
        r.pages_for_time_range(0, i64::MAX).unwrap_err(),
        "",
        "sparse index",
        s.offset,
    );
    assert!(r.read_column(0).is_ok());
}

#[test]
fn truncated_file_with_expected_len() {
    let b = plain();
    let n = b.len() as u64;
    let opts = ReadOptions {
        expected_len: Some(n),
        ..ReadOptions::default()
    };
    let e = open_err(&b[..b.len() - 100], &opts);
    assert!(
        matches!(&e, StorageError::Truncated { path, expected_len, actual_len }
            if *path == mem() && *expected_len == n && *actual_len == n - 100),
        "{e}"
    );
    // Without the manifest's length, the cut end is not a tail.
    let e = open_err(&b[..b.len() - 100], &ReadOptions::default());
    assert!(matches!(e, StorageError::BadMagic { .. }), "{e}");
}

#[test]
fn file_shorter_than_a_tail() {
    for len in [0, 1, 13] {
        let e = open_err(&plain()[..len], &ReadOptions::default());
        assert!(
            matches!(&e, StorageError::Truncated { expected_len: 14, actual_len, .. }
                if *actual_len == len as u64),
            "{e}"
        );
    }
}

#[test]
fn encrypted_page_flipped_is_a_checksum_error() {
    let mut b = enc();
    let e = footer_of(&b).columns[F].pages[1].extent;
    b[e.offset as usize + 40] ^= 0x04;
    let r = open_bytes(&b, &with_keys(ring())).unwrap();
    let err = r.read_column(F).unwrap_err();
    assert!(matches!(&err, StorageError::PageChecksum { offset, .. } if *offset == e.offset));
}

#[test]
fn encrypted_page_with_its_footer_crc_patched_is_a_tampered_footer() {
    let mut b = enc();
    let e = footer_of(&b).columns[F].pages[1].extent;
    b[e.offset as usize + 40] ^= 0x04;
    let crc = crc32c::crc32c(&b[e.offset as usize..e.end() as usize]);
    let mut entry = e.offset.to_le_bytes().to_vec();
    entry.extend_from_slice(&e.len.to_le_bytes());
    entry.extend_from_slice(&e.crc.to_le_bytes());
    let (start, end) = footer_span(&b);
    let at = start + b[start..end].windows(16).position(|w| w == entry).unwrap();
    b[at + 12..at + 16].copy_from_slice(&crc.to_le_bytes());
    fix_footer_crc(&mut b);
    let err = open_err(&b, &with_keys(ring()));
    assert!(
        matches!(&err, StorageError::TamperedFooter { path } if *path == mem()),
        "{err}"
    );
}

#[test]
fn encrypted_page_with_a_forged_crc_is_a_tampered_page() {
    let mut b = enc();
    let e = footer_of(&b).columns[F].pages[1].extent;
    let page = &mut b[e.offset as usize..e.end() as usize];
    page[40] ^= 0x04;
    forge_crc(page, 8, e.crc);
    let r = open_bytes(&b, &with_keys(ring())).unwrap();
    match r.read_column(F).unwrap_err() {
        StorageError::TamperedPage {
            path,
            column,
            what,
            offset,
        } => assert_eq!(
            (path, column.as_str(), what.as_str(), offset),
            (mem(), "f", "page 1", e.offset)
        ),
        err => panic!("{err}"),
    }
    assert!(r.read_column(0).is_ok());
}

#[test]
fn encrypted_footer_with_a_forged_crc_is_a_tampered_footer() {
    let mut b = enc();
    let (start, end) = footer_span(&b);
    let stored = tail_of(&b).1.footer_crc;
    let body = &mut b[start..end];
    body[20] ^= 0x01; // the WAL LSN
    forge_crc(body, 16, stored); // through the schema version, which still decodes
    let err = open_err(&b, &with_keys(ring()));
    assert!(matches!(err, StorageError::TamperedFooter { .. }), "{err}");
}

#[test]
fn wrong_key() {
    let err = open_err(&enc(), &with_keys(KeyRing::new(1, [0x11; 32])));
    assert!(
        matches!(&err, StorageError::WrongKey { path, key_id: 1 } if *path == mem()),
        "{err}"
    );
}

#[test]
fn missing_key_id() {
    let err = open_err(&enc(), &with_keys(KeyRing::new(9, [0x5a; 32])));
    assert!(
        matches!(&err, StorageError::MissingKey { path, key_id: 1 } if *path == mem()),
        "{err}"
    );
}

#[test]
fn encrypted_file_opened_without_keys() {
    let err = open_err(&enc(), &ReadOptions::default());
    assert!(
        matches!(&err, StorageError::KeyRequired { path } if *path == mem()),
        "{err}"
    );
}

/// 32 rows with nulls, no outer stage: a page of "v" is a 16-byte header, a validity
/// bitmap of 4 bytes and 4 bytes of padding the decoder ignores (where CRCs get forged),
/// then the leaf.
fn small_with_nulls() -> (Table, Vec<u8>) {
    let mut t = Table::default();
    t.push(common::ts(), Data::I64((0..32).collect()), None);
    t.push(
        common::field("v", ColumnType::I64),
        Data::I64((0..32).map(|i| i * 3).collect()),
        Some((0..32).map(|i| i % 5 != 0).collect()),
    );
    let tags = (0..32).map(|i| format!("t{}", i % 3)).collect();
    t.push(
        cairn_storage::ColumnSpec::tag("tag"),
        Data::Str(tags),
        Some((0..32).map(|i| i % 7 != 0).collect()),
    );
    let mut opts: WriteOptions = page_rows(1024);
    opts.encode.try_outer = false;
    let b = common::file_bytes(&t, &opts);
    (t, b)
}

fn assert_page_corrupt(b: &[u8], col: usize, name: &str, check: impl Fn(&CodecError)) {
    let off = footer_of(b).columns[col].pages[0].extent.offset;
    let r = open_bytes(b, &ReadOptions::default()).unwrap();
    match r.read_column(col).unwrap_err() {
        StorageError::PageCorrupt {
            path,
            column,
            what,
            offset,
            source,
        } => {
            assert_eq!(
                (path, column.as_str(), what.as_str(), offset),
                (mem(), name, "page 0", off)
            );
            check(&source);
        }
        e => panic!("{e}"),
    }
    assert!(r.verify().is_err());
}

#[test]
fn page_header_that_lies_about_its_rows() {
    let (_, mut b) = small_with_nulls();
    let e = footer_of(&b).columns[1].pages[0].extent;
    let page = &mut b[e.offset as usize..e.end() as usize];
    assert_eq!(page[3], 1, "the page has a validity bitmap");
    page[4..8].copy_from_slice(&31u32.to_le_bytes());
    forge_crc(page, 16 + 4, e.crc);
    assert_page_corrupt(&b, 1, "v", |s| {
        assert!(
            matches!(
                s,
                CodecError::Mismatch {
                    what: "page row count",
                    expected: 32,
                    found: 31
                }
            ),
            "{s}"
        );
    });
}

#[test]
fn page_whose_nulls_disagree_with_the_footer() {
    let (_, mut b) = small_with_nulls();
    let e = footer_of(&b).columns[1].pages[0].extent;
    let page = &mut b[e.offset as usize..e.end() as usize];
    page[16] &= !0b10; // row 1 becomes null
    forge_crc(page, 16 + 4, e.crc);
    assert_page_corrupt(&b, 1, "v", |s| {
        assert!(
            matches!(
                s,
                CodecError::Mismatch {
                    what: "page null count",
                    expected: 7,
                    found: 8
                }
            ),
            "{s}"
        );
    });
}

#[test]
fn dictionary_code_out_of_range() {
    let (t, b) = small_with_nulls();
    let f = footer_of(&b);
    let entries = f.columns[2].dictionary.unwrap().entries;
    assert_eq!(entries, 3);
    // A well-formed codes page whose present rows point past the dictionary.
    let codes = vec![entries + 2; 32];
    let valid = Bitmap::from_bools(&t.cols[2].valid.clone().unwrap());
    let opts = EncodeOptions {
        force_codec: Some(LeafCodec::Int(IntCodec::Plain)),
        ..EncodeOptions::default()
    };
    let input = PageInput {
        values: PageValues::Codes(&codes),
        validity: Some(valid.as_ref()),
    };
    let mut page = Vec::new();
    encode_page(&input, &opts, &mut page).unwrap();
    let b = common::replace_page(&b, 2, 0, &page);
    assert_page_corrupt(&b, 2, "tag", |s| {
        assert!(
            matches!(
                s,
                CodecError::Invalid {
                    field: "dictionary code",
                    value: 5,
                    ..
                }
            ),
            "{s}"
        );
    });
}
