#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Engine behaviour on a real disk, the catalog side: identifiers (validated, never reaching a
//! path), line protocol ingest (conversions, collections it creates, error policies) and a
//! dropped collection whose name is reused.

mod engine_common;

use std::sync::Arc;

use arrow_array::{Int64Array, StringArray, TimestampNanosecondArray};
use cairn_engine::{
    ColumnSpec, ColumnType, DatabaseOptions, Db, DbOptions, EngineError, LineErrorPolicy,
    ManualClock, Precision, ScanRequest,
};
use engine_common::mixed_metrics::{metric_cols, metric_rows, metrics};
use engine_common::{HOUR, SEC, T0, all_rows, batch, metric_columns, opts, partition_files, tree};

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
