//! cairn as a library: the embedded database, in the same process as your program.
//!
//! This crate re-exports the engine ([`cairn_engine`]) and the Arrow crates of its API
//! ([`arrow_array`], [`arrow_schema`]), so a program depends on `cairn` alone and gets the one
//! Arrow version the engine speaks. It owns no storage logic; the `cairn` binary in the same
//! package is the command-line tool.
//!
//! A [`Db`] is a data directory (one process at a time holds it). Writes are Arrow
//! `RecordBatch`es, InfluxDB line protocol or SQL `INSERT`, each atomic and durable when the
//! call returns (unless [`DbOptions::durable_writes`] is off); scans and [`Db::sql`] queries
//! return `RecordBatch`es. A `Db` is `Send + Sync`: share `&Db` or `Arc<Db>` between threads.
//! `examples/embedded.rs` is a complete program.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use cairn::arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
//! use cairn::arrow_array::TimestampNanosecondArray;
//! use cairn::arrow_schema::{DataType, Field, Schema, TimeUnit};
//! use cairn::{ColumnSpec, ColumnType, Db, DbOptions, Precision, ScanRequest, TimeRange};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Db::open("/var/lib/myapp/cairn", DbOptions::default())?;
//! db.create_collection(
//!     "cpu",
//!     vec![
//!         ColumnSpec::time_key("ts"),
//!         ColumnSpec::tag("host"),
//!         ColumnSpec::field("usage", ColumnType::F64),
//!     ],
//!     None,
//! )?;
//!
//! let ts = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
//! let schema = Schema::new(vec![
//!     Field::new("ts", ts, false),
//!     Field::new("host", DataType::Utf8, true),
//!     Field::new("usage", DataType::Float64, true),
//! ]);
//! let batch = RecordBatch::try_new(
//!     Arc::new(schema),
//!     vec![
//!         Arc::new(TimestampNanosecondArray::from(vec![1_000, 2_000]).with_timezone("UTC"))
//!             as ArrayRef,
//!         Arc::new(StringArray::from(vec!["a", "b"])),
//!         Arc::new(Float64Array::from(vec![0.5, 0.7])),
//!     ],
//! )?;
//! db.write("cpu", &batch)?; // durable on return
//! db.write_lines("cpu,host=c usage=0.9 3000", Precision::Nanoseconds)?;
//!
//! let req = ScanRequest {
//!     time: TimeRange { min: Some(1_500), max: None },
//!     ..ScanRequest::default()
//! };
//! for batch in db.scan("cpu", &req)?.batches {
//!     println!("{} rows", batch.num_rows());
//! }
//!
//! // SQL, with typed parameters.
//! let out = db.sql(
//!     "SELECT host, avg(usage) FROM cpu WHERE ts >= $1 GROUP BY host",
//!     &[cairn::ScalarValue::TimestampNanosecond(Some(1_500), Some("UTC".into()))],
//! )?;
//! println!("{} rows", out.num_rows());
//! db.close()?; // flushes memtables to files; dropping without close loses nothing either
//! # Ok(())
//! # }
//! ```

pub use arrow_array;
pub use arrow_schema;
pub use cairn_engine::*;
pub use cairn_query::{QueryError, QueryOutput, ScalarValue, Session};

#[allow(clippy::result_large_err)]
mod embedded;

/// The embedded database with SQL: the engine's API (through `Deref`) plus [`Db::sql`].
pub use embedded::Db;

/// The engine's database handle without SQL (no query threads).
pub type EngineDb = cairn_engine::Db;
