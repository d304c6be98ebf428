#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end paths of the embedded engine on a real disk: write, scan from memory, flush,
//! scan from files, restart, line protocol.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use cairn_engine::{
    CmpOp, ColumnSpec, ColumnType, Db, DbOptions, Precision, Predicate, Scalar, ScanRequest,
    TimeRange,
};

const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01

fn opts() -> DbOptions {
    DbOptions {
        background: false,
        ..DbOptions::default()
    }
}

fn dns_columns() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::tag("qtype"),
        ColumnSpec::field("cached", ColumnType::Bool),
        ColumnSpec::field("elapsed_ms", ColumnType::F64),
    ]
}

fn batch(start: usize, n: usize) -> RecordBatch {
    let ts: Vec<i64> = (start..start + n)
        .map(|i| T0 + i as i64 * 1_000_000)
        .collect();
    let q: Vec<&str> = (start..start + n)
        .map(|i| ["A", "AAAA", "MX"][i % 3])
        .collect();
    let c: Vec<bool> = (start..start + n).map(|i| i % 2 == 0).collect();
    let e: Vec<f64> = (start..start + n).map(|i| i as f64 * 0.5).collect();
    let schema = Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("qtype", DataType::Utf8, true),
        Field::new("cached", DataType::Boolean, true),
        Field::new("elapsed_ms", DataType::Float64, true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(TimestampNanosecondArray::from(ts).with_timezone("UTC")) as ArrayRef,
            Arc::new(StringArray::from(q)),
            Arc::new(BooleanArray::from(c)),
            Arc::new(Float64Array::from(e)),
        ],
    )
    .unwrap()
}

fn all_ts(db: &Db, coll: &str, req: &ScanRequest) -> Vec<i64> {
    let r = db.scan(coll, req).unwrap();
    let mut out = Vec::new();
    for b in &r.batches {
        let i = b.schema().index_of("ts").unwrap();
        out.extend(
            b.column(i)
                .as_primitive::<TimestampNanosecondType>()
                .values()
                .iter(),
        );
    }
    out.sort_unstable();
    out
}

#[test]
fn write_scan_flush_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.create_collection("dns", dns_columns(), None).unwrap();
    db.write("dns", &batch(0, 1000)).unwrap();
    let req = ScanRequest::default();
    assert_eq!(all_ts(&db, "dns", &req).len(), 1000);
    let report = db.flush().unwrap();
    assert_eq!(report.rows_flushed, 1000);
    db.write("dns", &batch(1000, 500)).unwrap();
    let ts = all_ts(&db, "dns", &req);
    assert_eq!(ts.len(), 1500);
    assert_eq!(
        ts,
        (0..1500).map(|i| T0 + i * 1_000_000).collect::<Vec<_>>()
    );
    // Predicates and time range, exact.
    let req = ScanRequest {
        projection: Some(vec!["ts".into(), "elapsed_ms".into()]),
        time: TimeRange {
            min: Some(T0 + 100 * 1_000_000),
            max: Some(T0 + 1199 * 1_000_000),
        },
        predicates: vec![Predicate::Cmp {
            column: "qtype".into(),
            op: CmpOp::Eq,
            value: Scalar::Str("MX".into()),
        }],
        limit: None,
    };
    let r = db.scan("dns", &req).unwrap();
    let expected: Vec<i64> = (100..1200).filter(|i| i % 3 == 2).collect();
    assert_eq!(r.num_rows(), expected.len());
    let sum: f64 = r
        .batches
        .iter()
        .map(|b| {
            b.column(1)
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .sum::<f64>()
        })
        .sum();
    assert_eq!(sum, expected.iter().map(|&i| i as f64 * 0.5).sum::<f64>());
    drop(db);
    // Restart without close: 1000 rows in a file, 500 replayed from the WAL.
    let db = Db::open(dir.path(), opts()).unwrap();
    let ts = all_ts(&db, "dns", &ScanRequest::default());
    assert_eq!(
        ts,
        (0..1500).map(|i| T0 + i * 1_000_000).collect::<Vec<_>>()
    );
    let s = db.collection_stats("dns").unwrap();
    assert_eq!((s.file_rows, s.memtable_rows), (1000, 500));
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let s = db.collection_stats("dns").unwrap();
    assert_eq!((s.file_rows, s.memtable_rows), (1500, 0));
    db.checkpoint().unwrap();
    let s = db.collection_stats("dns").unwrap();
    assert_eq!((s.files, s.file_rows), (1, 1500));
    assert_eq!(all_ts(&db, "dns", &ScanRequest::default()).len(), 1500);
}

#[test]
fn line_protocol_into_declared_types_and_new_collections() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.create_collection("dns", dns_columns(), None).unwrap();
    let text = format!(
        "dns,qtype=A,cached=true elapsed_ms=1.5 {t}\n\
         dns,qtype=MX,cached=false elapsed_ms=2i {t2}\n\
         dns,qtype=A,cached=maybe elapsed_ms=1 {t}\n\
         cpu,host=h1 usage=0.5,cores=4i {t}\n\
         bad line here\n",
        t = T0,
        t2 = T0 + 1
    );
    let report = db.write_lines(&text, Precision::Nanoseconds).unwrap();
    assert_eq!(report.rows_written, 3, "{report:?}");
    assert_eq!(report.errors.len(), 2, "{report:?}");
    assert_eq!(report.errors[0].line, 3);
    assert!(
        report.errors[0].message.contains("cached"),
        "{}",
        report.errors[0].message
    );
    assert_eq!(report.errors[1].line, 5);
    let r = db.scan("dns", &ScanRequest::default()).unwrap();
    assert_eq!(r.num_rows(), 2);
    let cached = r.batches[0]
        .column_by_name("cached")
        .unwrap()
        .as_boolean()
        .clone();
    assert_eq!(
        cached.iter().collect::<Vec<_>>(),
        vec![Some(true), Some(false)]
    );
    let cpu = db.collection("cpu").unwrap();
    let names: Vec<_> = cpu
        .schema
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.column_type))
        .collect();
    assert_eq!(
        names,
        vec![
            ("time", ColumnType::Timestamp),
            ("host", ColumnType::String),
            ("usage", ColumnType::F64),
            ("cores", ColumnType::I64)
        ]
    );
    db.flush().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(
        db.scan("cpu", &ScanRequest::default()).unwrap().num_rows(),
        1
    );
    assert_eq!(
        db.scan("dns", &ScanRequest::default()).unwrap().num_rows(),
        2
    );
}
