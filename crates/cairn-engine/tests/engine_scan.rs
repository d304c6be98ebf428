#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Engine behaviour on a real disk, part two: identifiers, line protocol ingest, drop and
//! recreate, concurrent writers/scanners/maintenance, scan snapshots across compaction, the
//! memory budget, and encrypted databases. `CAIRN_ENGINE_TEST_SCALE` multiplies the
//! concurrency and memory workloads for long local runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{Field, Schema};
use cairn_engine::{
    CollectionOptions, ColumnSpec, ColumnType, DatabaseOptions, Db, DbOptions, EngineError,
    LineErrorPolicy, ManualClock, Precision, ScanRequest,
};

const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z
const SEC: i64 = 1_000_000_000;
const HOUR: i64 = 3_600 * SEC;

fn scale() -> usize {
    std::env::var("CAIRN_ENGINE_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn opts() -> DbOptions {
    DbOptions {
        background: false,
        ..DbOptions::default()
    }
}

fn metric_columns() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::tag("host"),
        ColumnSpec::field("v", ColumnType::I64),
    ]
}

/// A well-mixed function of the timestamp: a row whose `v` is not `mix(ts)` is torn.
fn mix(ts: i64) -> i64 {
    let mut x = ts as u64 ^ 0x9E37_79B9_7F4A_7C15;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)) as i64
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = cols.into_iter().map(|c| c.1).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn metric_cols(ts: &[i64]) -> Vec<(&'static str, ArrayRef)> {
    let hosts: Vec<String> = ts
        .iter()
        .map(|&t| format!("h{}", t.rem_euclid(3)))
        .collect();
    vec![
        (
            "ts",
            Arc::new(TimestampNanosecondArray::from(ts.to_vec()).with_timezone("UTC")),
        ),
        ("host", Arc::new(StringArray::from(hosts))),
        (
            "v",
            Arc::new(Int64Array::from_iter_values(ts.iter().map(|&t| mix(t)))),
        ),
    ]
}

fn metrics(ts: &[i64]) -> RecordBatch {
    batch(metric_cols(ts))
}

fn metric_rows(ts: &[i64]) -> Vec<String> {
    let mut out: Vec<String> = ts
        .iter()
        .map(|&t| format!("ts={t} host=h{} v={}", t.rem_euclid(3), mix(t)))
        .collect();
    out.sort();
    out
}

fn cell(a: &dyn Array, i: usize) -> String {
    if a.is_null(i) {
        return "NULL".into();
    }
    match a.data_type() {
        arrow_schema::DataType::Timestamp(..) => a
            .as_primitive::<TimestampNanosecondType>()
            .value(i)
            .to_string(),
        arrow_schema::DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
        arrow_schema::DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).to_string(),
        arrow_schema::DataType::Float64 => {
            format!("{:?}", a.as_primitive::<Float64Type>().value(i))
        }
        arrow_schema::DataType::Boolean => a.as_boolean().value(i).to_string(),
        arrow_schema::DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        other => panic!("unexpected type {other}"),
    }
}

/// Rows as `name=value ...`, sorted (scan order is not part of the contract).
fn render(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let schema = b.schema();
            let cells = schema.fields().iter().zip(b.columns());
            let cells: Vec<String> = cells
                .map(|(f, a)| format!("{}={}", f.name(), cell(a.as_ref(), i)))
                .collect();
            out.push(cells.join(" "));
        }
    }
    out.sort();
    out
}

fn all_rows(db: &Db, coll: &str) -> Vec<String> {
    render(&db.scan(coll, &ScanRequest::default()).unwrap().batches)
}

/// Every path under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.insert(p.strip_prefix(dir).unwrap().to_path_buf());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

fn partition_files(dir: &Path) -> BTreeSet<PathBuf> {
    tree(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cpf"))
        .collect()
}

fn invalid<T: std::fmt::Debug>(r: Result<T, EngineError>, what: &str) {
    match r {
        Err(EngineError::InvalidIdentifier { .. }) => {}
        Err(e) => panic!("{what:?}: {e}"),
        Ok(v) => panic!("{what:?} was accepted: {v:?}"),
    }
}

#[test]
fn identifiers_are_validated_and_never_reach_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let db = Db::open(&data, opts()).unwrap();
    let long = "a".repeat(200);
    let bad = [
        "../x", "a/b", "..", "", ".hidden", "x\0y", &long, "/etc/x", "a b", "a.b.c", "1abc",
    ];
    for name in bad {
        invalid(db.create_collection(name, metric_columns(), None), name);
        invalid(db.create_database(name, Default::default()), name);
        invalid(db.write(name, &metrics(&[T0])), name);
        invalid(db.scan(name, &ScanRequest::default()), name);
        invalid(db.drop_collection(name), name);
        let mut columns = metric_columns();
        columns.push(ColumnSpec::field(name, ColumnType::I64));
        invalid(db.create_collection("ok", columns, None), name);
        let mut columns = metric_columns();
        columns[0] = ColumnSpec::time_key(name);
        invalid(db.create_collection("ok", columns, None), name);
    }
    db.create_collection("ok", metric_columns(), None).unwrap();
    for name in bad {
        let added = vec![ColumnSpec::field(name, ColumnType::I64)];
        invalid(db.add_columns("ok", added), name);
        // A write that would add a column of that name.
        let mut cols = metric_cols(&[T0]);
        cols.push((name, Arc::new(Int64Array::from(vec![1]))));
        invalid(db.write("ok", &batch(cols)), name);
    }
    // Line protocol: a bad measurement or tag key is a line error; nothing is created.
    let text = "../x v=1\na/b v=1\n.hidden v=1\nok,../t=1 v=2i\n";
    let report = db.write_lines(text, Precision::Nanoseconds).unwrap();
    assert_eq!(report.rows_written, 0, "{report:?}");
    let lines: Vec<usize> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2, 3, 4]);
    // Qualified names resolve as database.collection; the longest valid name is accepted.
    let longest = "b".repeat(128);
    db.create_database("db", Default::default()).unwrap();
    for name in ["db.coll", &format!("db.{longest}"), "données"] {
        db.create_collection(name, metric_columns(), None).unwrap();
    }
    assert!(matches!(
        db.create_collection("nodb.coll", metric_columns(), None),
        Err(EngineError::NoSuchDatabase(d)) if d == "nodb"
    ));
    db.write("db.coll", &metrics(&[T0, T0 + 1])).unwrap();
    let names: Vec<String> = db
        .collections("db")
        .unwrap()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names, [longest.as_str(), "coll"]);
    assert!(matches!(
        db.scan("coll", &ScanRequest::default()),
        Err(EngineError::NoSuchCollection(_))
    ));
    db.close().unwrap();
    let db = Db::open(&data, opts()).unwrap();
    assert_eq!(all_rows(&db, "db.coll"), metric_rows(&[T0, T0 + 1]));
    assert_eq!(db.collections("default").unwrap().len(), 2);
    drop(db);
    // Nothing outside the data directory; inside it only the engine's own names.
    let all = tree(tmp.path());
    assert!(all.iter().all(|p| p.starts_with("data")), "{all:?}");
    for p in tree(&data) {
        let top = p
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .to_string();
        let ok = ["LOCK", "CATALOG", "wal"].contains(&top.as_str())
            || (top.starts_with('c') && top[1..].bytes().all(|b| b.is_ascii_digit()));
        assert!(ok, "unexpected entry {}", p.display());
    }
}

#[test]
fn line_protocol_converts_creates_and_applies_error_policies() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + HOUR);
    let o = DbOptions {
        clock: clock.clone(),
        ..opts()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap();
    let dns = vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::tag("qtype"),
        ColumnSpec::field("cached", ColumnType::Bool),
        ColumnSpec::field("elapsed", ColumnType::F64),
        ColumnSpec::field("name", ColumnType::String),
    ];
    db.create_collection("dns", dns, None).unwrap();
    let t1 = T0 + 5 * SEC;
    let text = format!(
        "dns,qtype=A,cached=true elapsed=5i,name=\"a.example\" {t1}\n\
         dns,qtype=MX name=1.5 {t1}\n\
         cpu,host=h1 usage=0.5,cores=4i {t1}\n\
         mem,host=h1 free=10u {t1}\n\
         dns,qtype=AAAA,cached=F elapsed=0.25\n"
    );
    // One bad line (a float into a STRING column) rejects the whole text.
    let reject = LineErrorPolicy::RejectBatch;
    let report = db
        .write_lines_to("default", &text, Precision::Nanoseconds, reject)
        .unwrap();
    assert_eq!(report.rows_written, 0);
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert_eq!(report.errors[0].line, 2);
    assert!(report.errors[0].message.contains("\"name\""), "{report:?}");
    let names = |db: &Db, d: &str| -> Vec<String> {
        db.collections(d)
            .unwrap()
            .iter()
            .map(|c| c.name.clone())
            .collect()
    };
    assert_eq!(names(&db, "default"), ["dns"]);
    assert_eq!(all_rows(&db, "dns"), Vec::<String>::new());
    // Skipping bad lines writes the good ones, several measurements in one text.
    let report = db.write_lines(&text, Precision::Nanoseconds).unwrap();
    assert_eq!(report.rows_written, 4);
    assert_eq!(
        report.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
        [2]
    );
    let mut expected = vec![
        format!("ts={t1} qtype=A cached=true elapsed=5.0 name=a.example"),
        format!(
            "ts={} qtype=AAAA cached=false elapsed=0.25 name=NULL",
            T0 + HOUR
        ),
    ];
    expected.sort();
    assert_eq!(all_rows(&db, "dns"), expected);
    let cpu = db.collection("cpu").unwrap();
    assert_eq!(cpu.time_key_name(), "time");
    let types: Vec<_> = cpu
        .schema
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.column_type, c.role))
        .collect();
    use cairn_engine::ColumnRole::{Field as F, Tag, TimeKey};
    let want = [
        ("time", ColumnType::Timestamp, TimeKey),
        ("host", ColumnType::String, Tag),
        ("usage", ColumnType::F64, F),
        ("cores", ColumnType::I64, F),
    ];
    assert_eq!(types, want);
    assert_eq!(
        all_rows(&db, "cpu"),
        [format!("time={t1} host=h1 usage=0.5 cores=4")]
    );
    assert_eq!(all_rows(&db, "mem"), [format!("time={t1} host=h1 free=10")]);
    // Precision scales the timestamps.
    for (line, precision) in [
        ("prec v=1i 1704067200001", Precision::Milliseconds),
        ("prec v=2i 1704067202", Precision::Seconds),
        ("prec v=3i 1704067200000003", Precision::Microseconds),
    ] {
        let report = db.write_lines(line, precision).unwrap();
        assert_eq!((report.rows_written, report.errors.len()), (1, 0), "{line}");
    }
    let mut want = vec![
        format!("time={} v=1", T0 + 1_000_000),
        format!("time={} v=2", T0 + 2 * SEC),
        format!("time={} v=3", T0 + 3_000),
    ];
    want.sort();
    assert_eq!(all_rows(&db, "prec"), want);
    // A database that does not create collections on its own.
    let strict = DatabaseOptions {
        auto_create_collections: false,
    };
    db.create_database("strict", strict).unwrap();
    let known = vec![
        ColumnSpec::time_key("time"),
        ColumnSpec::field("v", ColumnType::I64),
    ];
    db.create_collection("strict.known", known, None).unwrap();
    let text = "unknown v=1i\nknown v=2i 5\n";
    let skip = LineErrorPolicy::SkipBadLines;
    let report = db
        .write_lines_to("strict", text, Precision::Nanoseconds, skip)
        .unwrap();
    assert_eq!(report.rows_written, 1);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].line, 1);
    assert!(
        report.errors[0].message.contains("does not exist"),
        "{report:?}"
    );
    assert_eq!(names(&db, "strict"), ["known"]);
    assert_eq!(all_rows(&db, "strict.known"), ["time=5 v=2"]);
    // Everything survives a restart (replayed from the WAL) with a different clock.
    drop(db);
    clock.set(T0 + 9 * HOUR);
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(all_rows(&db, "dns"), expected);
    assert_eq!(all_rows(&db, "prec"), want);
    assert_eq!(names(&db, "default"), ["cpu", "dns", "mem", "prec"]);
}

#[test]
fn dropped_collection_is_gone_and_its_name_reusable() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let old_id = db
        .create_collection("d", metric_columns(), None)
        .unwrap()
        .id;
    let old_dir = dir.path().join(format!("c{old_id}"));
    db.write("d", &metrics(&[T0, T0 + 1])).unwrap();
    db.flush().unwrap();
    db.write("d", &metrics(&[T0 + 2])).unwrap();
    assert_eq!(partition_files(&old_dir).len(), 1);
    assert!(old_dir.join("MANIFEST").exists());
    db.drop_collection("d").unwrap();
    assert!(matches!(
        db.scan("d", &ScanRequest::default()),
        Err(EngineError::NoSuchCollection(_))
    ));
    assert!(partition_files(&old_dir).is_empty());
    assert!(!old_dir.join("MANIFEST").exists());
    let columns = vec![
        ColumnSpec::time_key("t"),
        ColumnSpec::field("x", ColumnType::String),
    ];
    let new_id = db.create_collection("d", columns, None).unwrap().id;
    assert_ne!(new_id, old_id);
    assert_eq!(all_rows(&db, "d"), Vec::<String>::new());
    let t = Arc::new(TimestampNanosecondArray::from(vec![T0 + 7]).with_timezone("UTC"));
    db.write(
        "d",
        &batch(vec![
            ("t", t),
            ("x", Arc::new(StringArray::from(vec!["new"]))),
        ]),
    )
    .unwrap();
    let expected = [format!("t={} x=new", T0 + 7)];
    assert_eq!(all_rows(&db, "d"), expected);
    // The old rows are still in the WAL under the old id; replay skips them.
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(all_rows(&db, "d"), expected);
    assert_eq!(db.collection("d").unwrap().id, new_id);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(all_rows(&db, "d"), expected);
    assert!(partition_files(&old_dir).is_empty());
    assert_eq!(partition_files(dir.path()).len(), 1);
}

/// `(ts, v)` of every row, checked for torn rows (v == mix(ts)) and duplicates.
fn checked_ts(db: &Db, coll: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for b in db.scan(coll, &ScanRequest::default()).unwrap().batches {
        let ts = b
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<TimestampNanosecondType>();
        let v = b.column_by_name("v").unwrap().as_primitive::<Int64Type>();
        for (t, v) in ts.values().iter().zip(v.values()) {
            assert_eq!(*v, mix(*t), "torn row at ts {t} in {coll}");
            out.push(*t);
        }
    }
    out.sort_unstable();
    let n = out.len();
    out.dedup();
    assert_eq!(out.len(), n, "duplicate rows in {coll}");
    out
}

/// Sets the flag when dropped, so that helper threads stop even when the test panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

fn concurrent_run(background: bool) {
    const WRITERS: usize = 4;
    let batches = 30 * scale();
    let rows = 200usize;
    let dir = tempfile::tempdir().unwrap();
    let o = DbOptions {
        background,
        maintenance_interval: Duration::from_millis(5),
        compaction_min_files: 2,
        default_collection: CollectionOptions {
            partition_interval_ns: HOUR,
            memtable_max_bytes: 32 << 10,
            ..CollectionOptions::default()
        },
        ..DbOptions::default()
    };
    let db = Arc::new(Db::open(dir.path(), o.clone()).unwrap());
    for c in ["c0", "c1"] {
        db.create_collection(c, metric_columns(), None).unwrap();
    }
    // Writer w writes every 4th second, newest batches first for odd writers, so older
    // partitions keep receiving rows while they are flushed and compacted.
    let ts_of = |w: usize, seq: usize| -> Vec<i64> {
        (0..rows)
            .map(|j| T0 + (((seq * rows + j) * WRITERS + w) as i64) * SEC)
            .collect()
    };
    let done = AtomicBool::new(false);
    let maintenance_rounds = AtomicU64::new(0);
    let scans = AtomicU64::new(0);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let db = db.clone();
                s.spawn(move || {
                    for k in 0..batches {
                        let seq = if w % 2 == 1 { batches - 1 - k } else { k };
                        db.write(&format!("c{}", w % 2), &metrics(&ts_of(w, seq)))
                            .unwrap();
                    }
                })
            })
            .collect();
        s.spawn(|| {
            let mut last = [0usize; 2];
            while !done.load(Ordering::Acquire) {
                for (i, c) in ["c0", "c1"].iter().enumerate() {
                    let n = checked_ts(&db, c).len();
                    assert!(n >= last[i], "{c}: {n} rows after {}", last[i]);
                    last[i] = n;
                }
                scans.fetch_add(1, Ordering::Relaxed);
            }
        });
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                db.flush().unwrap();
                db.checkpoint().unwrap();
                maintenance_rounds.fetch_add(1, Ordering::Relaxed);
            }
        });
        let _stop = StopOnDrop(&done);
        for w in writers {
            w.join().unwrap();
        }
    });
    assert!(scans.load(Ordering::Relaxed) > 0 && maintenance_rounds.load(Ordering::Relaxed) > 0);
    let expected = |c: usize| -> Vec<i64> {
        let mut v: Vec<i64> = (0..WRITERS)
            .filter(|w| w % 2 == c)
            .flat_map(|w| (0..batches).flat_map(move |seq| ts_of(w, seq)))
            .collect();
        v.sort_unstable();
        v
    };
    let check = |db: &Db| {
        for c in 0..2 {
            let name = format!("c{c}");
            assert_eq!(
                checked_ts(db, &name),
                expected(c),
                "{name}, background {background}"
            );
            let s = db.collection_stats(&name).unwrap();
            assert_eq!(s.file_rows + s.memtable_rows, (2 * batches * rows) as u64);
        }
    };
    check(&db);
    Arc::into_inner(db).unwrap().close().unwrap();
    let db = Db::open(dir.path(), o).unwrap();
    check(&db);
}

#[test]
fn concurrent_writers_scans_and_maintenance_lose_nothing() {
    concurrent_run(false);
    concurrent_run(true);
}

#[test]
fn scan_keeps_its_snapshot_across_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.create_collection("s", metric_columns(), None).unwrap();
    let mut ts: Vec<i64> = Vec::new();
    for k in 0..4 {
        let part: Vec<i64> = (k * 1000..(k + 1) * 1000).map(|i| T0 + i * SEC).collect();
        db.write("s", &metrics(&part)).unwrap();
        db.flush().unwrap();
        ts.extend(part);
    }
    let in_memory: Vec<i64> = (4000..4500).map(|i| T0 + i * SEC).collect();
    db.write("s", &metrics(&in_memory)).unwrap();
    ts.extend(&in_memory);
    let before = all_rows(&db, "s");
    assert_eq!(before, metric_rows(&ts));
    let mut scan = db.scan_iter("s", &ScanRequest::default()).unwrap();
    let mut got = vec![scan.next().unwrap().unwrap()];
    // Written after the scan started: not part of its snapshot.
    db.write("s", &metrics(&[T0 + 9000 * SEC])).unwrap();
    db.checkpoint().unwrap();
    assert_eq!(db.collection_stats("s").unwrap().files, 1);
    // The four files the scan holds stay on disk next to the merged one.
    assert_eq!(partition_files(dir.path()).len(), 5);
    got.extend(scan.by_ref().map(Result::unwrap));
    assert_eq!(render(&got), before);
    drop(scan);
    assert_eq!(partition_files(dir.path()).len(), 1);
    ts.push(T0 + 9000 * SEC);
    assert_eq!(all_rows(&db, "s"), metric_rows(&ts));
}

#[test]
fn memory_budget_bounds_memtables_under_load() {
    let budget = 2usize << 20;
    let total_bytes = 50usize << 20;
    let dir = tempfile::tempdir().unwrap();
    let o = DbOptions {
        memory_budget_bytes: budget,
        background: true,
        // No compaction: on the one maintenance thread it delays flushes, so in a debug
        // build it would dominate the run time (the budget is about flushing).
        compaction_min_files: usize::MAX,
        maintenance_interval: Duration::from_millis(20),
        ..DbOptions::default()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap();
    let columns = vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::field("v", ColumnType::I64),
        ColumnSpec::field("payload", ColumnType::String),
    ];
    db.create_collection("mb", columns, None).unwrap();
    let rows = 4096i64;
    let make = |k: i64| {
        let ts: Vec<i64> = (k * rows..(k + 1) * rows).map(|i| T0 + i * 1_000).collect();
        let payload: Vec<String> = ts.iter().map(|t| format!("{:032x}", mix(*t))).collect();
        batch(vec![
            (
                "ts",
                Arc::new(TimestampNanosecondArray::from(ts.clone()).with_timezone("UTC")),
            ),
            (
                "v",
                Arc::new(Int64Array::from_iter_values(ts.iter().map(|&t| mix(t)))),
            ),
            ("payload", Arc::new(StringArray::from(payload))),
        ])
    };
    let write_bytes = make(0).get_array_memory_size();
    let writes = (total_bytes * scale()).div_ceil(write_bytes) as i64;
    let done = AtomicBool::new(false);
    let peak = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                peak.fetch_max(db.memory_used(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let _stop = StopOnDrop(&done);
        for k in 0..writes {
            db.write("mb", &make(k)).unwrap();
            peak.fetch_max(db.memory_used(), Ordering::Relaxed);
        }
    });
    let peak = peak.load(Ordering::Relaxed) as usize;
    eprintln!("write {write_bytes} bytes x {writes}; budget {budget}; peak {peak}");
    assert!(
        peak <= budget + write_bytes + write_bytes / 2,
        "peak {peak}"
    );
    let total_rows = (writes * rows) as usize;
    let check = |db: &Db| {
        let r = db.scan("mb", &ScanRequest::default()).unwrap();
        assert_eq!(r.num_rows(), total_rows);
        let mut sum = 0i64;
        for b in &r.batches {
            let ts = b.column(0).as_primitive::<TimestampNanosecondType>();
            let v = b.column(1).as_primitive::<Int64Type>();
            for (t, v) in ts.values().iter().zip(v.values()) {
                assert_eq!(*v, mix(*t));
                sum = sum.wrapping_add(*v);
            }
        }
        let want = (0..writes * rows).fold(0i64, |a, i| a.wrapping_add(mix(T0 + i * 1_000)));
        assert_eq!(sum, want);
    };
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), o).unwrap();
    check(&db);
}

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
