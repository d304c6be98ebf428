//! cairn embedded in a program: open a database, create a collection, write Arrow batches
//! from several threads and line protocol, scan with a time range and a predicate, flush,
//! close, reopen, read the same rows back and query them with SQL.
//!
//! Run: `cargo run -p cairn --example embedded [DIR]` (default: a temporary directory that is
//! deleted at the end; with DIR the data stays, and a second run adds to it).

use std::error::Error;
use std::sync::Arc;

use arrow_cast::pretty::pretty_format_batches;
use cairn::arrow_array::cast::AsArray;
use cairn::arrow_array::types::TimestampNanosecondType;
use cairn::arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use cairn::arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};
use cairn::{
    CmpOp, ColumnSpec, ColumnType, Db, DbOptions, EngineError, Precision, Predicate, Scalar,
    ScanRequest, TimeRange,
};

/// 2024-01-01T00:00:00Z in nanoseconds.
const T0: i64 = 1_704_067_200_000_000_000;
const SECOND: i64 = 1_000_000_000;
const WRITERS: usize = 4;
const ROWS_PER_WRITER: usize = 10;

fn main() -> Result<(), Box<dyn Error>> {
    let temp;
    let dir = match std::env::args_os().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    println!("data directory: {}", dir.display());

    // Open (or create) the database. Writes are durable when `write` returns.
    let db = Db::open(&dir, DbOptions::default())?;
    let columns = vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::tag("host"),
        ColumnSpec::field("usage", ColumnType::F64),
        ColumnSpec::field("cores", ColumnType::I64),
    ];
    match db.create_collection("cpu", columns, None) {
        Ok(def) => println!("created collection {:?}", def.name),
        Err(EngineError::AlreadyExists { .. }) => println!("collection \"cpu\" already exists"),
        Err(e) => return Err(e.into()),
    }

    // A `Db` is Send + Sync: writers share `&db`. Each write is atomic.
    let written = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let db = &db;
                s.spawn(move || -> Result<u64, Box<dyn Error + Send + Sync>> {
                    Ok(db.write("cpu", &cpu_batch(w)?)?)
                })
            })
            .collect();
        let mut rows = 0;
        for h in handles {
            rows += h
                .join()
                .map_err(|_| "a writer thread panicked")?
                .map_err(|e| e as Box<dyn Error>)?;
        }
        Ok::<u64, Box<dyn Error>>(rows)
    })?;
    println!("wrote {written} rows from {WRITERS} threads");

    // Line protocol goes to the collection named by the measurement; `5i` is an integer.
    let lines = format!(
        "cpu,host=edge-9 usage=0.93,cores=4i {}\ncpu,host=edge-9 usage=0.97,cores=4i {}\n",
        T0 + 3 * SECOND,
        T0 + 4 * SECOND
    );
    let report = db.write_lines(&lines, Precision::Nanoseconds)?;
    println!("wrote {} rows of line protocol", report.rows_written);

    // Rows of seconds 2..=5 whose usage is above 0.5.
    let busy = ScanRequest {
        projection: Some(vec![
            "ts".into(),
            "host".into(),
            "usage".into(),
            "cores".into(),
        ]),
        time: TimeRange {
            min: Some(T0 + 2 * SECOND),
            max: Some(T0 + 5 * SECOND),
        },
        predicates: vec![Predicate::Cmp {
            column: "usage".into(),
            op: CmpOp::Gt,
            value: Scalar::F64(0.5),
        }],
        limit: None,
    };
    let before = db.scan("cpu", &busy)?;
    println!("\nusage > 0.5 in seconds 2..=5 (from memory):");
    println!("{}", table(&before.batches)?);

    // Flush memtables to partition files, close, and open again.
    let flushed = db.flush()?;
    println!(
        "flushed {} rows into {} files ({} bytes)",
        flushed.rows_flushed, flushed.files_written, flushed.bytes_written
    );
    let total = db.scan("cpu", &ScanRequest::default())?.num_rows();
    db.close()?;

    let db = Db::open(&dir, DbOptions::default())?;
    let after = db.scan("cpu", &busy)?;
    println!("\nthe same scan after reopening (from files):");
    println!("{}", table(&after.batches)?);
    let total_after = db.scan("cpu", &ScanRequest::default())?.num_rows();
    println!("rows in cpu: {total} before closing, {total_after} after reopening");

    // SQL over the same data: a parameter, time buckets, an aggregate per host.
    let per_host = db.sql(
        "SELECT host, time_bucket('5 seconds', ts) AS bucket, count(*) AS rows, \
         round(avg(usage), 3) AS avg_usage \
         FROM cpu WHERE usage >= $1 GROUP BY host, bucket ORDER BY host, bucket",
        &[cairn::ScalarValue::Float64(Some(0.2))],
    )?;
    println!("\nSQL: rows with usage >= 0.2 per host and 5-second bucket:");
    println!("{}", table(&per_host.batches)?);
    let stats = db.collection_stats("cpu")?;
    println!(
        "{} files, {} rows in files, {} rows in memory",
        stats.files, stats.file_rows, stats.memtable_rows
    );
    db.close()?;
    if before.num_rows() != after.num_rows() || total != total_after {
        return Err("the data changed across close and reopen".into());
    }
    Ok(())
}

/// An aligned text table of `batches`. cairn timestamps are in time zone "UTC"; Arrow's
/// printer understands only offsets unless built with `chrono-tz`, so they are shown as
/// "+00:00" (the same instants).
fn table(batches: &[RecordBatch]) -> Result<String, ArrowError> {
    let shown = batches
        .iter()
        .map(|b| {
            let mut fields = Vec::new();
            let mut columns = Vec::new();
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                match c.as_primitive_opt::<TimestampNanosecondType>() {
                    Some(ts) => {
                        let ts = ts.clone().with_timezone("+00:00");
                        fields.push(f.as_ref().clone().with_data_type(ts.data_type().clone()));
                        columns.push(Arc::new(ts) as ArrayRef);
                    }
                    None => {
                        fields.push(f.as_ref().clone());
                        columns.push(c.clone());
                    }
                }
            }
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(pretty_format_batches(&shown)?.to_string())
}

/// `ROWS_PER_WRITER` rows of host `edge-<w>`, one per second from T0.
fn cpu_batch(w: usize) -> Result<RecordBatch, ArrowError> {
    let n = ROWS_PER_WRITER;
    let ts: Vec<i64> = (0..n as i64).map(|i| T0 + i * SECOND).collect();
    let hosts = vec![format!("edge-{w}"); n];
    let usage: Vec<f64> = (0..n)
        .map(|i| ((w * 7 + i * 3) % 10) as f64 / 10.0)
        .collect();
    let cores = vec![2_i64 << w; n];
    let schema = Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("host", DataType::Utf8, false),
        Field::new("usage", DataType::Float64, false),
        Field::new("cores", DataType::Int64, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(ts).with_timezone("UTC")),
        Arc::new(StringArray::from(hosts)),
        Arc::new(Float64Array::from(usage)),
        Arc::new(Int64Array::from(cores)),
    ];
    RecordBatch::try_new(Arc::new(schema), columns)
}
