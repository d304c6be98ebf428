//! Range reads, proven with a counting source: `open` costs one read of the file's end;
//! a column costs exactly its stored extents; a time range costs the sparse index and the
//! overlapping pages; HTTP ranges are the merged extents with inclusive ends. Plain and
//! encrypted files alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use cairn_io::SimFs;
use cairn_storage::{
    ColumnType, CountingSource, FileSource, PartitionReader, ReadOptions, WriteOptions,
};
use common::tables::{BASE_NS, TimeOrder, all_types};
use common::{Data, Table, column_cells, encrypted, info, page_rows, ring, sim, with_keys, write};

const OPEN_READ_BYTES: u64 = 64 << 10;

type Counted = Arc<CountingSource<FileSource>>;

/// Writes `t` to a SimFs and returns the file system, the path and the file length.
fn written(t: &Table, opts: &WriteOptions) -> (SimFs, &'static Path, u64) {
    let fs = sim();
    let path = Path::new("/parts/r.crnp");
    let w = write(&fs, path, t, info(), opts).unwrap();
    (fs, path, w.len_bytes)
}

fn open_counted(fs: &SimFs, path: &Path, opts: &ReadOptions) -> (Counted, PartitionReader) {
    let src = Arc::new(CountingSource::new(FileSource::open(fs, path).unwrap()));
    let r = PartitionReader::open(src.clone(), opts).unwrap();
    (src, r)
}

/// The reads of `log` as sorted, merged ranges.
fn merged(log: &[(u64, u64)]) -> Vec<Range<u64>> {
    let mut spans: Vec<Range<u64>> = log.iter().map(|&(o, n)| o..o + n).collect();
    spans.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::new();
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// Seven columns (every type; the all-null ones dropped), 20,000 rows: well over 64 KiB.
fn seven_columns() -> Table {
    let mut t = all_types(20_000, true, TimeOrder::Sorted, 21);
    t.cols.truncate(7);
    t
}

/// Options of a reader over object storage: one speculative read of the file's end.
fn speculative() -> ReadOptions {
    ReadOptions {
        open_read_bytes: OPEN_READ_BYTES,
        ..ReadOptions::default()
    }
}

fn check_open_and_columns(opts: &WriteOptions, read: &ReadOptions) {
    let t = seven_columns();
    let (fs, path, len) = written(&t, opts);
    assert!(len > 2 * OPEN_READ_BYTES);
    for c in 0..t.cols.len() {
        let (src, r) = open_counted(&fs, path, read);
        let bytes = fs.read_file(path).unwrap();
        let (start, tail) = common::tail_of(&bytes);
        let footer_len = u64::from(tail.footer_len);
        assert_eq!(
            src.log(),
            [(len - 14, 14), (start as u64, footer_len)],
            "open reads exactly the tail, then exactly the footer"
        );
        let meta = &r.footer().columns[c];
        let col = r.read_column(c).unwrap();
        assert_eq!(column_cells(&col), t.cells(c));
        let log = src.log();
        assert_eq!(
            merged(&log[2..]),
            r.byte_ranges(&[c]).unwrap(),
            "column {c}"
        );
        assert_eq!(src.bytes(), 14 + footer_len + meta.stored_bytes());
        let dict_reads = u64::from(meta.dictionary.is_some());
        assert_eq!(src.reads(), 2 + dict_reads + 1, "one read for all pages");
        // A second read of the column re-reads the pages, never the cached dictionary.
        src.reset();
        r.read_column(c).unwrap();
        assert_eq!(src.reads(), 1);
        assert_eq!(
            src.bytes(),
            meta.stored_bytes() - meta.dictionary.map_or(0, |d| u64::from(d.extent.len))
        );
    }
}

#[test]
fn open_reads_tail_and_footer_and_a_column_reads_only_its_extents() {
    check_open_and_columns(&page_rows(1024), &ReadOptions::default());
}

#[test]
fn encrypted_open_and_column_reads_are_the_same_ranges() {
    check_open_and_columns(&encrypted(page_rows(1024)), &with_keys(ring()));
}

#[test]
fn a_speculative_open_reads_a_file_under_64_kib_whole() {
    let t = all_types(100, false, TimeOrder::Sorted, 1);
    let (fs, path, len) = written(&t, &page_rows(1024));
    assert!(len < OPEN_READ_BYTES);
    let (src, r) = open_counted(&fs, path, &speculative());
    assert_eq!(src.log(), [(0, len)]);
    assert_eq!(r.len_bytes(), len);
}

#[test]
fn a_speculative_open_of_a_footer_over_64_kib_reads_exactly_the_footer_next() {
    // 300 one-row columns with 255-byte names: a footer of about 90 KiB.
    let mut t = Table::default();
    for i in 0..300 {
        let name = format!("{i:03}{}", "c".repeat(252));
        t.push(
            common::field(&name, ColumnType::I64),
            Data::I64(vec![i]),
            None,
        );
    }
    let (fs, path, len) = written(&t, &page_rows(1024));
    let (src, r) = open_counted(&fs, path, &speculative());
    let bytes = fs.read_file(path).unwrap();
    let (start, tail) = common::tail_of(&bytes);
    assert!(u64::from(tail.footer_len) > OPEN_READ_BYTES);
    let first = (len - OPEN_READ_BYTES, OPEN_READ_BYTES);
    assert_eq!(
        src.log(),
        [first, (start as u64, u64::from(tail.footer_len))]
    );
    assert_eq!(r.footer().columns.len(), 300);
    common::check::check_file(&r, &t, info());
}

fn check_time_range_reads(opts: &WriteOptions, read: &ReadOptions) {
    // 20 pages of 1024 rows, times BASE + i * 1000 (i / 2 * 1000 plus jitter: sorted).
    let t = all_types(20 * 1024, false, TimeOrder::Sorted, 2);
    let (fs, path, _) = written(&t, opts);
    let (src, r) = open_counted(&fs, path, read);
    assert!(r.footer().time_sorted);
    assert_eq!(r.footer().page_count(), 20);
    let times = t.times();
    let (lo, hi) = (times[5 * 1024 + 300], times[7 * 1024 + 10]);
    let cols = [0, 1, 4];
    src.reset();
    let got = r.read_time_range(&cols, lo, hi).unwrap();
    let pages = r.pages_for_time_range(lo, hi).unwrap();
    assert_eq!(pages, [5, 6, 7]);
    let f = r.footer();
    let mut want = vec![f.sparse_index.unwrap().extent];
    want.extend(f.columns[1].dictionary.map(|d| d.extent));
    for &c in &cols {
        want.extend(pages.iter().map(|&p| f.columns[c].pages[p].extent));
    }
    let mut want: Vec<(u64, u64)> = want.iter().map(|e| (e.offset, u64::from(e.len))).collect();
    want.sort();
    let mut log = src.log();
    log.sort();
    assert_eq!(
        merged(&log),
        merged(&want),
        "the needed extents, nothing else"
    );
    assert_eq!(
        src.bytes(),
        want.iter().map(|w| w.1).sum::<u64>(),
        "each needed extent once"
    );
    let dict_reads = u64::from(f.columns[1].dictionary.is_some());
    assert_eq!(
        src.reads(),
        1 + dict_reads + cols.len() as u64,
        "sparse index, dictionary, one read per column for the run of pages 5..8"
    );
    let keep: Vec<usize> = (0..times.len())
        .filter(|&i| (lo..=hi).contains(&times[i]))
        .collect();
    for (&c, col) in cols.iter().zip(&got) {
        let cells = t.cells(c);
        let want: Vec<_> = keep.iter().map(|&i| cells[i].clone()).collect();
        assert_eq!(column_cells(col), want);
    }
    // Outside the file's range: no read at all.
    src.reset();
    assert!(r.read_time_range(&cols, BASE_NS - 10, BASE_NS - 1).unwrap()[0].is_empty());
    assert_eq!(src.reads(), 0);
}

#[test]
fn a_time_range_reads_only_the_overlapping_pages() {
    check_time_range_reads(&page_rows(1024), &ReadOptions::default());
}

#[test]
fn an_encrypted_time_range_reads_only_the_overlapping_pages() {
    check_time_range_reads(&encrypted(page_rows(1024)), &with_keys(ring()));
}

fn check_http_ranges(opts: &WriteOptions, read: &ReadOptions) {
    let t = seven_columns();
    let (fs, path, _) = written(&t, opts);
    let (_, r) = open_counted(&fs, path, read);
    let f = r.footer();
    let start = |c: usize| {
        let m = &f.columns[c];
        m.dictionary
            .map_or(m.pages[0].extent.offset, |d| d.extent.offset)
    };
    let end = |c: usize| f.columns[c].pages.last().unwrap().extent.end();
    // Columns are contiguous: neighbours merge into one range, others do not.
    let one = |r: Range<u64>| vec![r];
    assert_eq!(r.byte_ranges(&[1, 2]).unwrap(), one(start(1)..end(2)));
    assert_eq!(r.byte_ranges(&[2, 1]).unwrap(), one(start(1)..end(2)));
    assert_eq!(
        r.byte_ranges(&[3, 1]).unwrap(),
        [start(1)..end(1), start(3)..end(3)]
    );
    assert_eq!(
        r.http_ranges(&[1, 3]).unwrap(),
        [
            format!("bytes={}-{}", start(1), end(1) - 1),
            format!("bytes={}-{}", start(3), end(3) - 1),
        ]
    );
    // Every column: the whole data region, which starts at 0 and ends at the sparse index.
    let all: Vec<usize> = (0..7).collect();
    let sparse = f.sparse_index.unwrap().extent.offset;
    assert_eq!(r.byte_ranges(&all).unwrap(), one(0..sparse));
    assert_eq!(
        r.http_ranges(&all).unwrap(),
        [format!("bytes=0-{}", sparse - 1)]
    );
    assert_eq!(
        r.byte_ranges(&[1, 1]).unwrap(),
        r.byte_ranges(&[1]).unwrap()
    );
    assert!(r.byte_ranges(&[7]).is_err());
}

#[test]
fn http_ranges_are_inclusive_and_merge_neighbours() {
    check_http_ranges(&page_rows(4096), &ReadOptions::default());
}

#[test]
fn encrypted_http_ranges_are_the_stored_extents() {
    check_http_ranges(&encrypted(page_rows(4096)), &with_keys(ring()));
}
