//! The oracle: everything a reader returns for a file, checked against the table it was
//! written from by brute force (stats, time filters, page pruning, row ranges).

use std::cmp::Ordering;

use cairn_storage::{ColumnType, PartitionInfo, PartitionReader, StatValue, Stats};

use super::{Cell, Table, column_cells};

/// A stored bound, comparable (floats by bits, strings with their truncated flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    I64(i64),
    U64(u64),
    F64(u64),
    Bool(bool),
    Bytes(Vec<u8>, bool),
}

pub fn bound(v: &StatValue) -> Bound {
    match v {
        StatValue::I64(x) => Bound::I64(*x),
        StatValue::U64(x) => Bound::U64(*x),
        StatValue::F64(x) => Bound::F64(x.to_bits()),
        StatValue::Bool(x) => Bound::Bool(*x),
        StatValue::Bytes { value, truncated } => Bound::Bytes(value.clone(), *truncated),
    }
}

pub fn bounds(s: &Stats) -> Option<(Bound, Bound)> {
    s.bounds.as_ref().map(|(lo, hi)| (bound(lo), bound(hi)))
}

/// Cells in the order the footer's stats use: IEEE total order for floats, bytewise strings.
pub fn cell_cmp(a: &Cell, b: &Cell) -> Ordering {
    match (a, b) {
        (Cell::F64(x), Cell::F64(y)) => f64::from_bits(*x).total_cmp(&f64::from_bits(*y)),
        (Cell::I64(x), Cell::I64(y)) => x.cmp(y),
        (Cell::U64(x), Cell::U64(y)) => x.cmp(y),
        (Cell::Bool(x), Cell::Bool(y)) => x.cmp(y),
        (Cell::Str(x), Cell::Str(y)) => x.cmp(y),
        _ => panic!("comparing {a:?} with {b:?}"),
    }
}

/// Min and max of the present cells, strings cut to `cap` bytes.
pub fn expected_bounds(cells: &[Cell], cap: usize) -> Option<(Bound, Bound)> {
    let present = || cells.iter().filter(|c| **c != Cell::Null);
    let lo = present().min_by(|a, b| cell_cmp(a, b))?;
    let hi = present().max_by(|a, b| cell_cmp(a, b))?;
    let b = |c: &Cell| match c {
        Cell::I64(x) => Bound::I64(*x),
        Cell::U64(x) => Bound::U64(*x),
        Cell::F64(x) => Bound::F64(*x),
        Cell::Bool(x) => Bound::Bool(*x),
        Cell::Str(s) => Bound::Bytes(s[..s.len().min(cap)].to_vec(), s.len() > cap),
        Cell::Null => unreachable!(),
    };
    Some((b(lo), b(hi)))
}

/// Checks every footer field, every column, a few row ranges and time ranges of `r`
/// against `t`.
pub fn check_file(r: &PartitionReader, t: &Table, info: PartitionInfo) {
    let f = r.footer();
    let rows = t.rows();
    assert_eq!(f.row_count, rows as u64);
    assert_eq!(f.schema_version, info.schema_version);
    assert_eq!(f.wal_lsn, info.wal_lsn);
    assert_eq!(f.schema(), t.schema());
    let page_rows = f.page_rows as usize;
    if t.time_key().is_some() {
        let times = t.times();
        let range = times
            .iter()
            .min()
            .map(|&lo| (lo, *times.iter().max().unwrap()));
        assert_eq!(f.time_range, range);
        assert_eq!(f.time_sorted, times.windows(2).all(|w| w[0] <= w[1]));
        check_sparse(r, &times);
    } else {
        assert_eq!(f.time_range, None);
        assert!(f.sparse_index.is_none());
    }
    let all: Vec<usize> = (0..t.cols.len()).collect();
    let cells: Vec<Vec<Cell>> = all.iter().map(|&c| t.cells(c)).collect();
    for (c, col_cells) in cells.iter().enumerate() {
        check_column(r, col_cells, c, page_rows);
    }
    // Whole columns were read above; these cross page boundaries and the end.
    let n = rows as u64;
    let p = page_rows as u64;
    for range in [
        p.saturating_sub(3)..p + 5,
        n / 3..n / 3 + 2 * p,
        n.saturating_sub(1)..n + 10,
        5..5,
        n + 1..n + 9,
    ] {
        let got = r.read_rows(&all, range.clone()).unwrap();
        let (a, b) = (range.start.min(n) as usize, range.end.min(n) as usize);
        for (c, col) in all.iter().zip(&got) {
            let want = if a < b { &cells[*c][a..b] } else { &[][..] };
            assert_eq!(column_cells(col), want, "read_rows {range:?} column {c}");
        }
    }
    if t.time_key().is_some() {
        check_time_ranges(r, t, &cells);
    }
}

fn check_column(r: &PartitionReader, cells: &[Cell], c: usize, page_rows: usize) {
    let meta = &r.footer().columns[c];
    let name = &meta.spec.name;
    let nulls = |cs: &[Cell]| cs.iter().filter(|x| **x == Cell::Null).count() as u64;
    assert_eq!(meta.null_count, nulls(cells), "null count of {name}");
    assert_eq!(
        bounds(&meta.stats),
        expected_bounds(cells, 1024),
        "column bounds of {name}"
    );
    assert_eq!(meta.pages.len(), cells.len().div_ceil(page_rows));
    for (i, (p, chunk)) in meta.pages.iter().zip(cells.chunks(page_rows)).enumerate() {
        assert_eq!(p.rows as usize, chunk.len(), "rows of {name} page {i}");
        assert_eq!(
            u64::from(p.null_count),
            nulls(chunk),
            "nulls of {name} page {i}"
        );
        assert_eq!(
            bounds(&p.stats),
            expected_bounds(chunk, 64),
            "bounds of {name} page {i}"
        );
    }
    let col = r.read_column(c).unwrap();
    assert_eq!(column_cells(&col), cells, "column {name}");
    if meta.spec.column_type == ColumnType::Timestamp {
        assert_eq!(meta.null_count, 0);
    }
}

fn check_sparse(r: &PartitionReader, times: &[i64]) {
    let f = r.footer();
    let Some(s) = f.sparse_index else {
        assert!(times.is_empty(), "no sparse index for {} rows", times.len());
        assert!(r.sparse_index().unwrap().is_none());
        return;
    };
    let want: Vec<(i64, i64)> = times
        .chunks(s.block_rows as usize)
        .map(|b| (*b.iter().min().unwrap(), *b.iter().max().unwrap()))
        .collect();
    assert_eq!(*r.sparse_index().unwrap().unwrap(), want);
}

/// The pages a time-range read must visit: those with a sparse block overlapping the range.
pub fn expected_pages(r: &PartitionReader, times: &[i64], min: i64, max: i64) -> Vec<usize> {
    let f = r.footer();
    let Some(s) = f.sparse_index else {
        return Vec::new();
    };
    if min > max {
        return Vec::new();
    }
    let page_rows = f.page_rows as usize;
    times
        .chunks(page_rows)
        .enumerate()
        .filter(|(_, page)| {
            page.chunks(s.block_rows as usize)
                .any(|b| *b.iter().min().unwrap() <= max && *b.iter().max().unwrap() >= min)
        })
        .map(|x| x.0)
        .collect()
}

/// `read_time_range` equals a brute-force filter, and visits exactly the expected pages.
pub fn check_time_range(r: &PartitionReader, t: &Table, cells: &[Vec<Cell>], lo: i64, hi: i64) {
    let times = t.times();
    let all: Vec<usize> = (0..t.cols.len()).collect();
    let got = r.read_time_range(&all, lo, hi).unwrap();
    let keep: Vec<usize> = (0..times.len())
        .filter(|&i| times[i] >= lo && times[i] <= hi)
        .collect();
    for (c, col) in all.iter().zip(&got) {
        let want: Vec<Cell> = keep.iter().map(|&i| cells[*c][i].clone()).collect();
        assert_eq!(
            column_cells(col),
            want,
            "time range {lo}..={hi}, column {c}"
        );
    }
    assert_eq!(
        r.pages_for_time_range(lo, hi).unwrap(),
        expected_pages(r, &times, lo, hi),
        "pages for {lo}..={hi}"
    );
}

fn check_time_ranges(r: &PartitionReader, t: &Table, cells: &[Vec<Cell>]) {
    let times = t.times();
    let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) else {
        assert!(r.read_time_range(&[0], 0, i64::MAX).unwrap()[0].is_empty());
        return;
    };
    let span = i128::from(hi) - i128::from(lo);
    let third = (span / 3) as i64;
    let mid = (i128::from(lo) + span / 2) as i64;
    let mut queries = vec![
        (lo + third, hi - third),
        (mid, mid.saturating_add(5_000)),
        (i64::MIN, lo.saturating_sub(1)),
        (hi.saturating_add(1), i64::MAX),
        (hi, lo),
    ];
    // Whole-file queries are slow in debug builds; small files get them all.
    if times.len() <= 5_000 {
        queries.extend([(i64::MIN, i64::MAX), (lo, lo), (hi, hi)]);
    }
    for (a, b) in queries {
        check_time_range(r, t, cells, a, b);
    }
}
