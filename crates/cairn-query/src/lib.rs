//! cairn's SQL layer: a DataFusion session whose catalog is cairn's databases and
//! collections, a table provider per collection that pushes projection, exact filters and
//! limits into the engine, statistics that answer `COUNT(*)`, `MIN` and `MAX` without
//! reading pages, `time_bucket`, and cairn's own statements (`CREATE TIMESERIES`,
//! `CHECKPOINT`, ...). Async starts here: the engine below is synchronous and is called on
//! blocking threads. Never ignores a clause: what is not supported is an error naming it.

#![allow(clippy::result_large_err)]

mod agg_exec;
mod catalog;
mod command;
mod error;
mod interval;
mod leaf;
mod output;
mod pushdown;
mod scan_exec;
mod session;
mod statement;
mod table;
mod time_bucket;
mod untyped;

pub use agg_exec::{CairnAggregateExec, EngineAggregation};
pub use catalog::CATALOG;
pub use error::{QueryError, Result};
pub use interval::parse_duration;
pub use output::QueryOutput;
pub use scan_exec::ScanExec;
pub use session::{Described, Execution, Session, SessionOptions, split_statements};
pub use statement::IMPLICIT_TIME_KEY;
pub use table::table_schema;

/// DataFusion and Arrow as this crate uses them (one version for every caller).
pub use datafusion;
pub use datafusion::arrow;
pub use datafusion::common::ScalarValue;
