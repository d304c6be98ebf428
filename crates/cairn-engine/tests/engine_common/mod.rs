//! Helpers shared by the engine's real-disk tests (`engine_behaviour.rs`, `engine_catalog.rs`,
//! `engine_scan.rs`, `engine_encryption.rs`): options, batches, rows rendered as sorted
//! `name=value ...` strings, and the files under a data directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use cairn_engine::{ColumnSpec, ColumnType, Db, DbOptions, ScanRequest};

pub const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z
pub const SEC: i64 = 1_000_000_000;
pub const HOUR: i64 = 3_600 * SEC;

pub fn opts() -> DbOptions {
    DbOptions {
        background: false,
        ..DbOptions::default()
    }
}

pub fn metric_columns() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::tag("host"),
        ColumnSpec::field("v", ColumnType::I64),
    ]
}

/// A batch of `(name, array)` columns, all nullable.
pub fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = cols.into_iter().map(|c| c.1).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn cell(a: &dyn Array, i: usize) -> String {
    if a.is_null(i) {
        return "NULL".into();
    }
    match a.data_type() {
        DataType::Timestamp(..) => a
            .as_primitive::<TimestampNanosecondType>()
            .value(i)
            .to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).to_string(),
        DataType::Float64 => format!("{:?}", a.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => a.as_boolean().value(i).to_string(),
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        other => panic!("unexpected type {other}"),
    }
}

/// Rows as `name=value ...`, sorted (scan order is not part of the contract).
pub fn render(batches: &[RecordBatch]) -> Vec<String> {
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

/// Every row of a scan, rendered and sorted.
pub fn scan_rows(db: &Db, coll: &str, req: &ScanRequest) -> Vec<String> {
    render(&db.scan(coll, req).unwrap().batches)
}

pub fn all_rows(db: &Db, coll: &str) -> Vec<String> {
    scan_rows(db, coll, &ScanRequest::default())
}

/// Every path under `dir`, relative to it.
pub fn tree(dir: &Path) -> BTreeSet<PathBuf> {
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

pub fn partition_files(dir: &Path) -> BTreeSet<PathBuf> {
    tree(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cpf"))
        .collect()
}

/// Metrics rows whose `v` is `mix(ts)` and whose host is `h{ts mod 3}`, so that a torn row
/// shows (`engine_catalog.rs`, `engine_scan.rs`). `engine_behaviour.rs` has its own
/// `metrics`, with `v` derived linearly from the timestamp.
pub mod mixed_metrics {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};

    use super::batch;

    /// A well-mixed function of the timestamp: a row whose `v` is not `mix(ts)` is torn.
    pub fn mix(ts: i64) -> i64 {
        let mut x = ts as u64 ^ 0x9E37_79B9_7F4A_7C15;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (x ^ (x >> 31)) as i64
    }

    pub fn metric_cols(ts: &[i64]) -> Vec<(&'static str, ArrayRef)> {
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

    pub fn metrics(ts: &[i64]) -> RecordBatch {
        batch(metric_cols(ts))
    }

    pub fn metric_rows(ts: &[i64]) -> Vec<String> {
        let mut out: Vec<String> = ts
            .iter()
            .map(|&t| format!("ts={t} host=h{} v={}", t.rem_euclid(3), mix(t)))
            .collect();
        out.sort();
        out
    }
}
