#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Engine behaviour on a real disk: out-of-order writes into older partitions, retention,
//! schema evolution across files and memory, and the type conversions of `write`. Every check
//! compares whole row sets (sorted) with a model. (`engine_catalog.rs`: identifiers, line
//! protocol, drop/recreate; `engine_scan.rs`: concurrency and snapshots, memory budget;
//! `engine_encryption.rs`: encrypted databases.)

mod engine_common;

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt64Array,
};
use cairn_engine::{
    CmpOp, CollectionOptions, ColumnSpec, ColumnType, Db, DbOptions, EngineError, ManualClock,
    Precision, Predicate, Scalar, ScanRequest, TimeRange,
};
use engine_common::{
    HOUR, SEC, T0, all_rows, batch, metric_columns, opts, partition_files, scan_rows,
};

fn hourly(retention_ns: Option<i64>) -> Option<CollectionOptions> {
    Some(CollectionOptions {
        partition_interval_ns: HOUR,
        retention_ns,
        ..CollectionOptions::default()
    })
}

/// `v` and `host` of a metrics row are derived from its timestamp.
fn metric_v(ts: i64) -> i64 {
    (ts - T0) / 1_000_000
}

fn metric_host(ts: i64) -> String {
    format!("h{}", metric_v(ts).rem_euclid(3))
}

fn tsa(ts: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from_iter_values(ts).with_timezone("UTC"))
}

fn ints(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

fn metrics(ts: &[i64]) -> RecordBatch {
    let hosts: Vec<String> = ts.iter().map(|&t| metric_host(t)).collect();
    let v: Vec<i64> = ts.iter().map(|&t| metric_v(t)).collect();
    batch(vec![
        ("ts", tsa(ts.iter().copied())),
        ("host", Arc::new(StringArray::from(hosts))),
        ("v", ints(&v)),
    ])
}

fn metric_rows(ts: &[i64]) -> Vec<String> {
    let mut out: Vec<String> = ts
        .iter()
        .map(|&t| format!("ts={t} host={} v={}", metric_host(t), metric_v(t)))
        .collect();
    out.sort();
    out
}

fn hour_rows(hour: i64, n: i64, offset_ns: i64) -> Vec<i64> {
    (0..n)
        .map(|i| T0 + hour * HOUR + offset_ns + i * SEC)
        .collect()
}

#[test]
fn out_of_order_writes_into_older_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.create_collection("m", metric_columns(), hourly(None))
        .unwrap();
    let mut written = Vec::new();
    for hour in [5, 1, 3, 0] {
        let mut ts = hour_rows(hour, 50, 0);
        ts.reverse(); // unsorted inside the partition too
        db.write("m", &metrics(&ts)).unwrap();
        written.extend(ts);
    }
    assert_eq!(all_rows(&db, "m"), metric_rows(&written));
    let s = db.collection_stats("m").unwrap();
    assert_eq!((s.partitions, s.memtables, s.memtable_rows), (4, 4, 200));
    assert_eq!(db.flush().unwrap().files_written, 4);
    assert_eq!(all_rows(&db, "m"), metric_rows(&written));
    // A second round into the same (now flushed) partitions, lost from memory by a restart.
    for hour in [3, 0, 5, 1] {
        let ts = hour_rows(hour, 50, 500_000_000);
        db.write("m", &metrics(&ts)).unwrap();
        written.extend(ts);
    }
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(all_rows(&db, "m"), metric_rows(&written));
    let s = db.collection_stats("m").unwrap();
    assert_eq!((s.files, s.file_rows, s.memtable_rows), (4, 200, 200));
    db.flush().unwrap();
    let s = db.collection_stats("m").unwrap();
    assert_eq!((s.files, s.file_rows, s.partitions), (8, 400, 4));
    assert_eq!(partition_files(dir.path()).len(), 8);
    assert_eq!(all_rows(&db, "m"), metric_rows(&written));
    // Compaction merges each partition's two files into one; the data is unchanged.
    db.checkpoint().unwrap();
    let s = db.collection_stats("m").unwrap();
    assert_eq!((s.files, s.file_rows, s.partitions), (4, 400, 4));
    assert_eq!(partition_files(dir.path()).len(), 4);
    assert_eq!(all_rows(&db, "m"), metric_rows(&written));
    let hour3 = ScanRequest {
        time: TimeRange {
            min: Some(T0 + 3 * HOUR),
            max: Some(T0 + 4 * HOUR - 1),
        },
        ..ScanRequest::default()
    };
    let expected: Vec<i64> = written
        .iter()
        .copied()
        .filter(|&t| (T0 + 3 * HOUR..T0 + 4 * HOUR).contains(&t))
        .collect();
    assert_eq!(expected.len(), 100);
    assert_eq!(scan_rows(&db, "m", &hour3), metric_rows(&expected));
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(all_rows(&db, "m"), metric_rows(&written));
    assert_eq!(scan_rows(&db, "m", &hour3), metric_rows(&expected));
    assert_eq!(db.collection_stats("m").unwrap().files, 4);
}

#[test]
fn retention_drops_whole_partitions_and_refuses_old_writes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 10 * HOUR);
    let o = DbOptions {
        clock: clock.clone(),
        ..opts()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap();
    db.create_collection("r", metric_columns(), hourly(Some(2 * HOUR)))
        .unwrap();
    // Hours 8, 9, 10 in files; then one write spanning all three in memory.
    let flushed: Vec<i64> = [8, 9, 10]
        .iter()
        .flat_map(|&h| hour_rows(h, 10, 0))
        .collect();
    db.write("r", &metrics(&flushed)).unwrap();
    db.flush().unwrap();
    let in_memory: Vec<i64> = [10, 9, 8]
        .iter()
        .flat_map(|&h| hour_rows(h, 10, 100 * SEC))
        .collect();
    db.write("r", &metrics(&in_memory)).unwrap();
    let s = db.collection_stats("r").unwrap();
    assert_eq!((s.partitions, s.files, s.memtable_rows), (3, 3, 30));
    let files_before = partition_files(dir.path());
    assert_eq!(files_before.len(), 3);

    clock.advance(2 * HOUR); // the window is now [10:00, 12:00]
    let too_old = metrics(&[T0 + 11 * HOUR, T0 + 9 * HOUR + 1800 * SEC]);
    match db.write("r", &too_old).unwrap_err() {
        EngineError::InvalidValue { column, row, .. } => {
            assert_eq!((column.as_str(), row), ("ts", 1))
        }
        e => panic!("{e}"),
    }
    db.maintain().unwrap();
    let s = db.collection_stats("r").unwrap();
    assert_eq!(
        (s.partitions, s.files, s.file_rows, s.memtable_rows),
        (1, 1, 10, 10)
    );
    let files_after = partition_files(dir.path());
    assert_eq!(files_after.len(), 1);
    assert!(files_after.is_subset(&files_before));
    let mut kept: Vec<i64> = flushed
        .iter()
        .chain(&in_memory)
        .copied()
        .filter(|&t| t >= T0 + 10 * HOUR)
        .collect();
    assert_eq!(all_rows(&db, "r"), metric_rows(&kept));
    db.write("r", &metrics(&[T0 + 11 * HOUR])).unwrap();
    kept.push(T0 + 11 * HOUR);
    // The dropped rows are still in the WAL; recovery must not bring them back.
    drop(db);
    let db = Db::open(dir.path(), o.clone()).unwrap();
    assert_eq!(all_rows(&db, "r"), metric_rows(&kept));
    assert_eq!(db.collection_stats("r").unwrap().partitions, 2);
    db.checkpoint().unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(all_rows(&db, "r"), metric_rows(&kept));
    assert_eq!(partition_files(dir.path()).len(), 2);
}

/// The model of the schema-evolution test: columns ts, host, v, status, region, extra, lpnew.
#[derive(Debug, Clone)]
struct EvoRow {
    i: i64,
    status: Option<i64>,
    region: Option<&'static str>,
    extra: Option<String>,
    lpnew: Option<bool>,
}

impl EvoRow {
    fn old(i: i64) -> Self {
        EvoRow {
            i,
            status: None,
            region: None,
            extra: None,
            lpnew: None,
        }
    }

    fn ts(&self) -> i64 {
        T0 + self.i * SEC
    }

    fn host(&self) -> String {
        format!("h{}", self.i % 2)
    }

    fn v(&self) -> f64 {
        self.i as f64 + 0.5
    }

    fn render(&self) -> String {
        let opt = |o: Option<String>| o.unwrap_or_else(|| "NULL".into());
        format!(
            "ts={} host={} v={:?} status={} region={} extra={} lpnew={}",
            self.ts(),
            self.host(),
            self.v(),
            opt(self.status.map(|s| s.to_string())),
            opt(self.region.map(String::from)),
            opt(self.extra.clone()),
            opt(self.lpnew.map(|b| b.to_string())),
        )
    }
}

fn old_shape(rows: &[EvoRow]) -> RecordBatch {
    batch(vec![
        ("ts", tsa(rows.iter().map(EvoRow::ts))),
        (
            "host",
            Arc::new(StringArray::from_iter_values(rows.iter().map(EvoRow::host))),
        ),
        (
            "v",
            Arc::new(Float64Array::from_iter_values(rows.iter().map(EvoRow::v))),
        ),
    ])
}

fn eq(column: &str, value: Scalar) -> Predicate {
    Predicate::Cmp {
        column: column.into(),
        op: CmpOp::Eq,
        value,
    }
}

fn is_null(column: &str) -> Predicate {
    Predicate::IsNull {
        column: column.into(),
    }
}

fn check_evolution(db: &Db, model: &[EvoRow]) {
    type Pick = fn(&EvoRow) -> bool;
    let cases: Vec<(Vec<Predicate>, Pick)> = vec![
        (vec![], |_| true),
        (vec![is_null("status")], |r| r.status.is_none()),
        (vec![eq("status", Scalar::I64(200))], |r| {
            r.status == Some(200)
        }),
        (vec![eq("extra", Scalar::Str("x13".into()))], |r| {
            r.extra.as_deref() == Some("x13")
        }),
        (vec![is_null("lpnew")], |r| r.lpnew.is_none()),
        (vec![eq("lpnew", Scalar::Bool(true))], |r| {
            r.lpnew == Some(true)
        }),
        (
            vec![Predicate::IsNotNull {
                column: "region".into(),
            }],
            |r| r.region.is_some(),
        ),
        (
            vec![is_null("status"), eq("host", Scalar::Str("h1".into()))],
            |r| r.status.is_none() && r.i % 2 == 1,
        ),
    ];
    for (predicates, pick) in cases {
        let req = ScanRequest {
            predicates: predicates.clone(),
            ..ScanRequest::default()
        };
        let mut expected: Vec<String> = model
            .iter()
            .filter(|r| pick(r))
            .map(EvoRow::render)
            .collect();
        expected.sort();
        assert!(!expected.is_empty(), "{predicates:?}");
        assert_eq!(scan_rows(db, "evo", &req), expected, "{predicates:?}");
    }
}

#[test]
fn schema_evolution_reads_null_for_old_rows_and_filters_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let columns = vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::tag("host"),
        ColumnSpec::field("v", ColumnType::F64),
    ];
    db.create_collection("evo", columns, None).unwrap();
    let mut model: Vec<EvoRow> = (0..10).map(EvoRow::old).collect();
    db.write("evo", &old_shape(&model)).unwrap();
    db.flush().unwrap();
    db.add_columns(
        "evo",
        vec![
            ColumnSpec::field("status", ColumnType::I64),
            ColumnSpec::tag("region"),
        ],
    )
    .unwrap();
    // A write that brings a column the collection lacks ("extra").
    let b: Vec<EvoRow> = (10..20)
        .map(|i| EvoRow {
            status: Some(if i % 2 == 0 { 200 } else { 404 }),
            extra: Some(format!("x{i}")),
            ..EvoRow::old(i)
        })
        .collect();
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        (
            "status",
            Arc::new(Int64Array::from_iter(b.iter().map(|r| r.status))),
        ),
        (
            "extra",
            Arc::new(StringArray::from_iter(b.iter().map(|r| r.extra.clone()))),
        ),
    ];
    let old = old_shape(&b);
    cols.extend(
        ["ts", "host", "v"]
            .into_iter()
            .zip(old.columns().iter().cloned()),
    );
    db.write("evo", &batch(cols)).unwrap();
    model.extend(b);
    // Line protocol brings another one ("lpnew").
    let lp: Vec<EvoRow> = (20..25)
        .map(|i| EvoRow {
            status: (i % 2 == 0).then_some(200),
            region: Some("eu"),
            lpnew: Some(true),
            ..EvoRow::old(i)
        })
        .collect();
    let text: String = lp
        .iter()
        .map(|r| {
            let status = r.status.map_or(String::new(), |s| format!(",status={s}i"));
            format!(
                "evo,host={},region=eu v={:?}{status},lpnew=true {}\n",
                r.host(),
                r.v(),
                r.ts()
            )
        })
        .collect();
    let report = db.write_lines(&text, Precision::Nanoseconds).unwrap();
    assert_eq!(
        (report.rows_written, report.errors.len()),
        (5, 0),
        "{report:?}"
    );
    model.extend(lp);
    let a2: Vec<EvoRow> = (25..30).map(EvoRow::old).collect();
    db.write("evo", &old_shape(&a2)).unwrap();
    model.extend(a2);
    let names: Vec<String> = db
        .collection("evo")
        .unwrap()
        .schema
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(
        names,
        ["ts", "host", "v", "status", "region", "extra", "lpnew"]
    );
    check_evolution(&db, &model);
    db.flush().unwrap();
    let a3: Vec<EvoRow> = (30..35).map(EvoRow::old).collect();
    db.write("evo", &old_shape(&a3)).unwrap();
    model.extend(a3);
    check_evolution(&db, &model);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    check_evolution(&db, &model);
    let s = db.collection_stats("evo").unwrap();
    assert_eq!((s.files, s.file_rows, s.memtable_rows), (2, 30, 5));
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.checkpoint().unwrap();
    assert_eq!(db.collection_stats("evo").unwrap().files, 1);
    check_evolution(&db, &model);
}

#[test]
fn write_converts_types_or_names_the_bad_value() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + HOUR);
    let o = DbOptions {
        clock: clock.clone(),
        ..opts()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap();
    let columns = vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::field("u", ColumnType::U64),
        ColumnSpec::field("i", ColumnType::I64),
        ColumnSpec::field("f", ColumnType::F64),
    ];
    db.create_collection("conv", columns, None).unwrap();
    // Values that do not fit: the error names the column and the row.
    for (col, array, bad_row) in [
        ("u", ints(&[1, -5, 3]), 1),
        (
            "i",
            Arc::new(UInt64Array::from(vec![0, u64::MAX, 1])) as ArrayRef,
            1,
        ),
        (
            "ts",
            Arc::new(TimestampSecondArray::from(vec![1, i64::MAX / 10])),
            1,
        ),
    ] {
        let mut cols = vec![(col, array)];
        if col != "ts" {
            cols.push(("ts", tsa([T0, T0 + 1, T0 + 2])));
        }
        match db.write("conv", &batch(cols)).unwrap_err() {
            EngineError::InvalidValue { column, row, .. } => {
                assert_eq!((column.as_str(), row), (col, bad_row))
            }
            e => panic!("{e}"),
        }
    }
    let float = batch(vec![("i", Arc::new(Float64Array::from(vec![1.0])))]);
    match db.write("conv", &float).unwrap_err() {
        EngineError::InvalidWrite(m) => assert!(m.contains("\"i\""), "{m}"),
        e => panic!("{e}"),
    }
    assert_eq!(all_rows(&db, "conv"), Vec::<String>::new());
    // Int32 into I64, Int64 into U64 and F64; milliseconds without a zone into the TIME_KEY.
    let b = vec![
        ("ts", tsa([T0 + 10])),
        ("i", Arc::new(Int32Array::from(vec![-7])) as ArrayRef),
        ("u", ints(&[7])),
        ("f", ints(&[3])),
    ];
    db.write("conv", &batch(b)).unwrap();
    let ms = TimestampMillisecondArray::from(vec![T0 / 1_000_000 + 20]);
    db.write(
        "conv",
        &batch(vec![("ts", Arc::new(ms)), ("i", ints(&[2]))]),
    )
    .unwrap();
    // No TIME_KEY column: the server's time (T0 + 1 h); a null TIME_KEY: the time then (+2 h).
    db.write("conv", &batch(vec![("i", ints(&[3, 4]))]))
        .unwrap();
    clock.set(T0 + 2 * HOUR);
    let with_null = TimestampNanosecondArray::from(vec![Some(T0 + 30), None]).with_timezone("UTC");
    db.write(
        "conv",
        &batch(vec![("ts", Arc::new(with_null)), ("i", ints(&[5, 6]))]),
    )
    .unwrap();
    let row = |t: i64, u: &str, i: i64, f: &str| format!("ts={t} u={u} i={i} f={f}");
    let mut expected = vec![
        row(T0 + 10, "7", -7, "3.0"),
        row(T0 + 20_000_000, "NULL", 2, "NULL"),
        row(T0 + HOUR, "NULL", 3, "NULL"),
        row(T0 + HOUR, "NULL", 4, "NULL"),
        row(T0 + 30, "NULL", 5, "NULL"),
        row(T0 + 2 * HOUR, "NULL", 6, "NULL"),
    ];
    expected.sort();
    assert_eq!(all_rows(&db, "conv"), expected);
    // The filled-in times are logged, not recomputed on replay.
    drop(db);
    clock.set(T0 + 5 * HOUR);
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(all_rows(&db, "conv"), expected);
}
