//! Write a partition file, read it back, and check everything against the table it came
//! from: every column type, nulls, all-null columns, page boundaries, footer stats, row and
//! time ranges (sorted, tag-sorted and unsorted time), encryption and key rotation, random
//! tables, and the writer's input checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use cairn_codec::{Bitmap, PageValues};
use cairn_crypto::KeyRing;
use cairn_io::{Backend, Fs, RealFs};
use cairn_storage::{
    ColumnInput, ColumnSpec, ColumnType, DictionaryPolicy, PartitionReader, ReadOptions, Schema,
    StorageError, WriteOptions, tmp_path, write_partition,
};
use common::check::{Bound, bounds, check_file, check_time_range};
use common::tables::{
    MSG_LONG_ROW, MSG_PAGE_MAX_ROW, SPECIAL_F64, TimeOrder, all_types, tag_sorted,
};
use common::{Table, encrypted, info, page_rows, ring, sim, with_keys, write};
use proptest::prelude::*;

const ROW_COUNTS: [usize; 6] = [0, 1, 1023, 1024, 1025, 70_000];

/// Writes `t` at `path`, checks the result, reopens the file and checks it again.
fn round_trip(fs: &dyn Fs, path: &Path, t: &Table, opts: &WriteOptions, read: &ReadOptions) {
    let written = write(fs, path, t, info(), opts).unwrap();
    assert!(!fs.exists(&tmp_path(path)).unwrap(), "temporary file left");
    let r = PartitionReader::open_file(fs, path, read).unwrap();
    assert_eq!(r.len_bytes(), written.len_bytes);
    assert_eq!(r.footer().encode(), written.footer.encode());
    check_file(&r, t, info());
    r.verify().unwrap();
}

#[test]
fn every_type_round_trips_on_sim_fs() {
    let fs = sim();
    for rows in ROW_COUNTS {
        for (pr, nulls) in [(1024, false), (1024, true), (65_536, false), (65_536, true)] {
            // 70,000 rows take seconds in a debug build: once per page size.
            if rows == 70_000 && nulls == (pr == 1024) {
                continue;
            }
            let t = all_types(rows, nulls, TimeOrder::Sorted, rows as u64);
            let path = format!("/parts/{rows}-{pr}-{nulls}.crnp");
            round_trip(
                &fs,
                Path::new(&path),
                &t,
                &page_rows(pr),
                &ReadOptions::default(),
            );
        }
    }
}

#[test]
fn every_type_round_trips_on_a_real_directory() {
    let dir = tempfile::tempdir().unwrap();
    let fs = RealFs::new(Backend::Pwrite);
    for rows in [0, 1025, 5000] {
        let t = all_types(rows, true, TimeOrder::Sorted, 99);
        let path = dir.path().join(format!("{rows}.crnp"));
        round_trip(&fs, &path, &t, &page_rows(1024), &ReadOptions::default());
    }
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["0.crnp", "1025.crnp", "5000.crnp"]);
}

/// Regression: a bare file name has the parent `""`, which is not a directory to sync.
/// (Changes the working directory: every other test in this file uses absolute paths.)
#[test]
fn a_bare_file_name_is_written_relative_to_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let before = std::env::current_dir().unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    let t = all_types(10, false, TimeOrder::Sorted, 1);
    let fs = RealFs::new(Backend::Pwrite);
    let result = write(&fs, Path::new("bare.crnp"), &t, info(), &page_rows(1024));
    std::env::set_current_dir(before).unwrap();
    result.unwrap();
    let r = PartitionReader::open_file(&fs, &dir.path().join("bare.crnp"), &ReadOptions::default());
    check_file(&r.unwrap(), &t, info());
}

#[test]
fn unsorted_and_tag_sorted_times_round_trip() {
    let fs = sim();
    for (order, pr) in [(TimeOrder::Random, 1024), (TimeOrder::TagThenTime, 65_536)] {
        let t = all_types(70_000, true, order, 5);
        let path = format!("/parts/{order:?}-{pr}.crnp");
        round_trip(
            &fs,
            Path::new(&path),
            &t,
            &page_rows(pr),
            &ReadOptions::default(),
        );
        let r = PartitionReader::open_file(&fs, Path::new(&path), &ReadOptions::default());
        assert!(!r.unwrap().footer().time_sorted);
    }
}

#[test]
fn footer_holds_nan_bounds_truncated_strings_and_dictionaries() {
    let t = all_types(2048, false, TimeOrder::Sorted, 3);
    let bytes = common::file_bytes(&t, &page_rows(1024));
    let r = common::open_bytes(&bytes, &ReadOptions::default()).unwrap();
    let f = r.footer();
    let col = |name: &str| &f.columns[t.index(name)];
    // IEEE total order: the +NaN is every page's maximum, the -NaN every page's minimum.
    let nan_bounds = Some((Bound::F64(SPECIAL_F64[4]), Bound::F64(SPECIAL_F64[0])));
    assert_eq!(bounds(&col("f").stats), nan_bounds);
    assert_eq!(bounds(&col("f").pages[1].stats), nan_bounds);
    let msg = col("msg");
    let long = "\u{FFFD}".repeat(500).into_bytes();
    let (lo, hi) = bounds(&msg.stats).unwrap();
    assert_eq!(lo, Bound::Bytes(Vec::new(), false));
    assert_eq!(hi, Bound::Bytes(long[..1024].to_vec(), true));
    let page_max = |p: usize| bounds(&msg.pages[p].stats).unwrap().1;
    assert_eq!(page_max(0), Bound::Bytes(long[..64].to_vec(), true));
    let euros = "\u{20AC}".repeat(30).into_bytes();
    assert_eq!(page_max(1), Bound::Bytes(euros[..64].to_vec(), true));
    assert!(MSG_LONG_ROW < 1024 && (1024..2048).contains(&MSG_PAGE_MAX_ROW));
    assert_eq!(col("host").dictionary.unwrap().entries, 12);
    assert!(col("msg").dictionary.is_none(), "high-cardinality field");
    assert!(col("gone_s").dictionary.is_none(), "all-null string");
    assert_eq!(col("gone").null_count, 2048);
    assert!(col("gone").stats.bounds.is_none());
    assert!(f.time_sorted);
    assert_eq!(f.page_count(), 2);
}

#[test]
fn dictionary_policies_round_trip() {
    let t = all_types(3000, true, TimeOrder::Sorted, 8);
    for (policy, host, msg) in [
        (DictionaryPolicy::Never, false, false),
        (DictionaryPolicy::Always, true, true),
        (DictionaryPolicy::Auto, true, false),
    ] {
        let mut opts = page_rows(1024);
        opts.dictionary = policy;
        let bytes = common::file_bytes(&t, &opts);
        let r = common::open_bytes(&bytes, &ReadOptions::default()).unwrap();
        let f = r.footer();
        assert_eq!(f.columns[t.index("host")].dictionary.is_some(), host);
        assert_eq!(f.columns[t.index("msg")].dictionary.is_some(), msg);
        check_file(&r, &t, info());
    }
}

#[test]
fn sparse_index_skips_pages_whose_bounds_overlap() {
    // 4 tags x 5120 rows, pages of 4096: page 1 holds the end of tag 0 (times 40960..)
    // and the start of tag 1 (..30710), so its bounds cover 35000..=36000 but none of its
    // blocks does.
    let t = tag_sorted(4, 5120);
    let bytes = common::file_bytes(&t, &page_rows(4096));
    let r = common::open_bytes(&bytes, &ReadOptions::default()).unwrap();
    assert!(!r.footer().time_sorted);
    let (lo, hi) = (35_000, 36_000);
    let pages = r.pages_for_time_range(lo, hi).unwrap();
    assert_eq!(pages, [0, 2, 3, 4]);
    let stats = &r.footer().columns[0].pages[1].stats;
    assert_eq!(bounds(stats), Some((Bound::I64(0), Bound::I64(51_190))));
    let cells: Vec<_> = (0..t.cols.len()).map(|c| t.cells(c)).collect();
    check_time_range(&r, &t, &cells, lo, hi);
    check_file(&r, &t, info());
}

#[test]
fn encrypted_files_round_trip() {
    let fs = sim();
    for rows in [0, 1, 3000] {
        let t = all_types(rows, true, TimeOrder::TagThenTime, 4);
        let path = format!("/parts/enc-{rows}.crnp");
        let opts = encrypted(page_rows(1024));
        round_trip(&fs, Path::new(&path), &t, &opts, &with_keys(ring()));
        let bytes = fs.read_file(Path::new(&path)).unwrap();
        let (footer_start, _) = common::tail_of(&bytes);
        let data = &bytes[..footer_start];
        assert!(
            !data.windows(6).any(|w| w == b"host-0"),
            "plaintext in pages"
        );
        let r = common::open_bytes(&bytes, &with_keys(ring())).unwrap();
        assert_eq!(r.footer().encryption.unwrap().key_id, 1);
    }
}

#[test]
fn a_rotated_ring_reads_files_written_under_the_old_key() {
    let (old, new) = ([1u8; 32], [2u8; 32]);
    let t = all_types(1500, true, TimeOrder::Sorted, 6);
    let before = common::file_bytes(&t, &encrypted_with(KeyRing::new(1, old)));
    let rotated = KeyRing::new(1, old).rotate_to(2, new);
    let r = common::open_bytes(&before, &with_keys(rotated.clone())).unwrap();
    assert_eq!(r.footer().encryption.unwrap().key_id, 1);
    check_file(&r, &t, info());
    let after = common::file_bytes(&t, &encrypted_with(rotated.clone()));
    let r = common::open_bytes(&after, &with_keys(rotated)).unwrap();
    assert_eq!(r.footer().encryption.unwrap().key_id, 2);
    check_file(&r, &t, info());
    let err = common::open_bytes(&after, &with_keys(KeyRing::new(1, old))).unwrap_err();
    assert!(
        matches!(err, StorageError::MissingKey { key_id: 2, .. }),
        "{err}"
    );
}

fn encrypted_with(keys: KeyRing) -> WriteOptions {
    WriteOptions {
        keys: Some(keys),
        ..page_rows(1024)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_tables_round_trip(
        rows in 0usize..2600,
        seed in any::<u64>(),
        nulls in any::<bool>(),
        order in prop_oneof![
            Just(TimeOrder::Sorted),
            Just(TimeOrder::TagThenTime),
            Just(TimeOrder::Random)
        ],
        keep in 1u16..512,
        pr in prop_oneof![Just(1024u32), Just(2048)],
        block in prop_oneof![Just(256u32), Just(1024), Just(2048)],
        enc in any::<bool>(),
    ) {
        let mut t = all_types(rows, nulls, order, seed);
        let mut i = 0;
        t.cols.retain(|_| { i += 1; keep >> (i - 1) & 1 == 1 });
        prop_assume!(!t.cols.is_empty());
        let mut opts = if enc { encrypted(page_rows(pr)) } else { page_rows(pr) };
        opts.sparse_block_rows = block.min(pr);
        let bytes = common::file_bytes(&t, &opts);
        let read = if enc { with_keys(ring()) } else { ReadOptions::default() };
        let r = common::open_bytes(&bytes, &read).unwrap();
        check_file(&r, &t, info());
        r.verify().unwrap();
    }
}

fn str_in<'a>(offsets: &'a [i32], data: &'a [u8]) -> ColumnInput<'a> {
    ColumnInput {
        values: PageValues::Utf8 { offsets, data },
        validity: None,
    }
}

fn invalid(schema: &Schema, cols: &[ColumnInput<'_>], opts: &WriteOptions) {
    let fs = sim();
    let path = Path::new("/parts/bad.crnp");
    let err = write_partition(&fs, path, schema, cols, info(), opts).unwrap_err();
    assert!(matches!(err, StorageError::InvalidInput(_)), "{err}");
    assert!(!fs.exists(path).unwrap() && !fs.exists(&tmp_path(path)).unwrap());
}

#[test]
fn writer_input_errors_are_invalid_input() {
    let schema = |specs: Vec<ColumnSpec>| Schema { columns: specs };
    let ts_f = schema(vec![common::ts(), common::field("v", ColumnType::F64)]);
    let times = [1i64, 2, 3];
    let floats = [1.0, 2.0, 3.0];
    let ok = |v| ColumnInput {
        values: v,
        validity: None,
    };
    let opts = page_rows(1024);
    // Type mismatch: an f64 column given i64 values.
    invalid(
        &ts_f,
        &[ok(PageValues::I64(&times)), ok(PageValues::I64(&times))],
        &opts,
    );
    // Length mismatch, and too few columns.
    let two = [1.0, 2.0];
    invalid(
        &ts_f,
        &[ok(PageValues::I64(&times)), ok(PageValues::F64(&two))],
        &opts,
    );
    invalid(&ts_f, &[ok(PageValues::I64(&times))], &opts);
    // A null in the TIME_KEY.
    let holes = Bitmap::from_bools(&[true, false, true]);
    let ts_null = ColumnInput {
        values: PageValues::I64(&times),
        validity: Some(holes.as_ref()),
    };
    invalid(&ts_f, &[ts_null, ok(PageValues::F64(&floats))], &opts);
    // Validity of another length.
    let short = Bitmap::from_bools(&[true, false]);
    let f_short = ColumnInput {
        values: PageValues::F64(&floats),
        validity: Some(short.as_ref()),
    };
    invalid(&ts_f, &[ok(PageValues::I64(&times)), f_short], &opts);
    // Strings: not UTF-8; valid UTF-8 overall but split inside a character; bad offsets.
    let s = schema(vec![common::field("s", ColumnType::String)]);
    invalid(&s, &[str_in(&[0, 2], &[0xff, 0xfe])], &opts);
    invalid(&s, &[str_in(&[0, 1, 2], "\u{e9}".as_bytes())], &opts);
    invalid(&s, &[str_in(&[0, 3], b"ab")], &opts);
    invalid(&s, &[str_in(&[2, 1], b"ab")], &opts);
    invalid(&s, &[str_in(&[-1, 1], b"ab")], &opts);
    // Page and sparse block sizes.
    let good = [ok(PageValues::I64(&times)), ok(PageValues::F64(&floats))];
    for pr in [0, 1000, 1025, 2 << 20] {
        invalid(&ts_f, &good, &page_rows(pr));
    }
    for block in [0, 3000] {
        let o = WriteOptions {
            sparse_block_rows: block,
            ..page_rows(2048)
        };
        invalid(&ts_f, &good, &o);
    }
    // Schemas the footer could not hold.
    invalid(&Schema::default(), &[], &opts);
    let dup = schema(vec![common::ts(), common::ts()]);
    invalid(&dup, &[good[0], good[0]], &opts);
    let tag_i64 = ColumnSpec {
        column_type: ColumnType::I64,
        ..ColumnSpec::tag("t")
    };
    invalid(&schema(vec![tag_i64]), &[good[0]], &opts);
}
