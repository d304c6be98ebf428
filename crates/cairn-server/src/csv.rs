//! CSV into a collection's Arrow batches, incrementally: the loader behind `cairn import` and
//! the server's `COPY name FROM STDIN (FORMAT csv)`.
//!
//! Bytes arrive in chunks of any size ([`CsvLoader::push`]); complete batches come out every
//! `batch_rows` rows (65,536 by default), each ready for one atomic `Db::write`. Fields are
//! parsed straight into the columns' types, so a bad value is found with its line (1-based,
//! physical: the header is line 1 and a quoted newline starts a new line, as an editor counts)
//! and its column name. Semantics follow PostgreSQL's CSV format: an unquoted field equal to
//! the NULL marker (default: empty) is NULL, a quoted one never is. Blank lines are skipped.
//!
//! With a header, CSV columns are matched to the collection's by name (exactly, else ignoring
//! ASCII case), in any order; collection columns the CSV lacks are left out of the batches
//! (NULL once written; a missing TIME_KEY gets the write time). Without one, the fields are
//! the collection's columns in declared order.

mod columns;
mod split;
mod value;

use std::fmt;
use std::sync::Arc;

use cairn_engine::CollectionDef;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};

use columns::ColumnBuilder;
use split::{Record, Splitter};
pub use value::{civil_from_days, parse_bool, parse_timestamp_ns};

/// Rows per batch unless [`CsvLoader::with_batch_rows`] says otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// How the CSV is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The first line names the columns.
    pub header: bool,
    pub delimiter: u8,
    pub quote: u8,
    /// An unquoted field equal to this is NULL (PostgreSQL's `NULL` option).
    pub null: String,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: true,
            delimiter: b',',
            quote: b'"',
            null: String::new(),
        }
    }
}

/// Why the CSV could not be loaded: where (line, column) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// 1-based physical line (the header is line 1); 0 for a problem with the options.
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}", self.line)?;
            if let Some(c) = &self.column {
                write!(f, ", column {c:?}")?;
            }
            f.write_str(": ")?;
        } else if let Some(c) = &self.column {
            write!(f, "column {c:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for CsvError {}

impl CsvError {
    fn options(message: String) -> CsvError {
        CsvError {
            line: 0,
            column: None,
            message,
        }
    }
}

/// The Arrow schema of a collection's columns, in the engine's types, every column nullable
/// (what [`CsvLoader::new`] takes): the collection's SQL schema.
pub fn collection_schema(def: &CollectionDef) -> SchemaRef {
    cairn_query::table_schema(def)
}

/// The incremental decoder of one CSV text for one collection.
#[derive(Debug)]
pub struct CsvLoader {
    schema: SchemaRef,
    null: Vec<u8>,
    splitter: Splitter,
    /// Still to read the header line.
    header_pending: bool,
    /// CSV field index → index into `builders`.
    mapping: Vec<usize>,
    /// Column names by builder, for errors.
    names: Vec<String>,
    /// Where the expected field count comes from, for errors.
    fields_expected: String,
    builders: Vec<ColumnBuilder>,
    /// Schema of the batches: the loaded columns in collection order.
    out_schema: SchemaRef,
    batch_rows: usize,
    /// Rows in the builders now.
    pending_rows: usize,
    rows: u64,
    /// After an error every call returns it.
    failed: Option<CsvError>,
    finished: bool,
}

impl CsvLoader {
    /// A loader for a collection of `schema` (see [`collection_schema`]). Column types must
    /// be the engine's: nanosecond timestamps, Int64, UInt64, Float64, Boolean, Utf8.
    pub fn new(schema: SchemaRef, options: CsvOptions) -> Result<CsvLoader, CsvError> {
        let CsvOptions {
            header,
            delimiter,
            quote,
            null,
        } = options;
        if delimiter == quote
            || [delimiter, quote]
                .iter()
                .any(|b| matches!(b, b'\n' | b'\r'))
        {
            return Err(CsvError::options(
                "the delimiter and the quote must be two different characters, neither a line break"
                    .into(),
            ));
        }
        if null.contains(['\n', '\r']) {
            return Err(CsvError::options(
                "the NULL marker cannot hold a line break".into(),
            ));
        }
        for f in schema.fields() {
            if ColumnBuilder::new(f.data_type(), 0).is_none() {
                return Err(CsvError {
                    line: 0,
                    column: Some(f.name().clone()),
                    message: format!("type {} cannot be loaded from CSV", f.data_type()),
                });
            }
        }
        let mut loader = CsvLoader {
            schema: schema.clone(),
            null: null.into_bytes(),
            splitter: Splitter::new(delimiter, quote),
            header_pending: header,
            mapping: Vec::new(),
            names: Vec::new(),
            fields_expected: String::new(),
            builders: Vec::new(),
            out_schema: Arc::new(Schema::empty()),
            batch_rows: DEFAULT_BATCH_ROWS,
            pending_rows: 0,
            rows: 0,
            failed: None,
            finished: false,
        };
        if !header {
            loader.set_columns(&(0..schema.fields().len()).collect::<Vec<_>>());
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            loader.fields_expected = format!(
                "{} fields (without a header: the collection's columns in order, {})",
                names.len(),
                names.join(", ")
            );
        }
        Ok(loader)
    }

    /// Rows per batch (at least 1).
    pub fn with_batch_rows(mut self, rows: usize) -> CsvLoader {
        self.batch_rows = rows.max(1);
        self
    }

    /// Feeds the next bytes (any chunking: a chunk may end mid-line or mid-quoted-field) and
    /// returns the batches completed. After a bad row, the batches completed before it are
    /// returned first and the error by the next call (`push` or `finish`), so a caller that
    /// writes every batch it gets has written exactly the rows before the batch holding the
    /// bad row.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<RecordBatch>, CsvError> {
        self.check_usable()?;
        self.splitter.feed(bytes);
        let mut out = Vec::new();
        match self.drain(false, &mut out) {
            Ok(()) => Ok(out),
            Err(e) => self.fail(e, out),
        }
    }

    /// End of input: the records left (a last line without a newline counts) and the last,
    /// partial batch.
    pub fn finish(&mut self) -> Result<Vec<RecordBatch>, CsvError> {
        self.check_usable()?;
        let mut out = Vec::new();
        if let Err(e) = self.drain(true, &mut out) {
            return self.fail(e, out);
        }
        self.finished = true;
        if self.pending_rows > 0 {
            out.push(self.emit()?);
        }
        Ok(out)
    }

    /// Rows decoded so far (returned in batches or waiting for the next one).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes held for a record not yet complete: a server caps this so that a client cannot
    /// make it buffer an endless quoted field.
    pub fn pending_bytes(&self) -> usize {
        self.splitter.pending_bytes()
    }

    /// The schema of the batches: the collection's columns this CSV provides, in the
    /// collection's order (known once the header is read).
    pub fn batch_schema(&self) -> SchemaRef {
        self.out_schema.clone()
    }

    fn check_usable(&self) -> Result<(), CsvError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.finished {
            return Err(CsvError::options(
                "the CSV input was already finished".into(),
            ));
        }
        Ok(())
    }

    fn fail(&mut self, e: CsvError, out: Vec<RecordBatch>) -> Result<Vec<RecordBatch>, CsvError> {
        self.failed = Some(e.clone());
        if out.is_empty() { Err(e) } else { Ok(out) }
    }

    /// Decodes every complete record; batches go to `out`.
    fn drain(&mut self, eof: bool, out: &mut Vec<RecordBatch>) -> Result<(), CsvError> {
        loop {
            let record = self.splitter.next_record(eof).map_err(|e| CsvError {
                line: e.line,
                column: None,
                message: e.message,
            })?;
            let Some(record) = record else {
                return Ok(());
            };
            if self.header_pending {
                let columns = header_columns(&self.schema, &record)?;
                self.header_pending = false;
                self.set_columns(&columns);
                self.fields_expected = format!("{} fields (as in the header)", columns.len());
                continue;
            }
            if record.len() != self.mapping.len() {
                return Err(CsvError {
                    line: record.line,
                    column: None,
                    message: format!("expected {}, found {}", self.fields_expected, record.len()),
                });
            }
            append_row(
                &record,
                &self.mapping,
                &self.null,
                &self.names,
                &mut self.builders,
            )?;
            self.rows += 1;
            self.pending_rows += 1;
            if self.pending_rows >= self.batch_rows {
                out.push(self.emit()?);
            }
        }
    }

    /// The CSV's fields are the schema columns `columns` (by index), in this order.
    fn set_columns(&mut self, columns: &[usize]) {
        let mut loaded: Vec<usize> = columns.to_vec();
        loaded.sort_unstable();
        let fields = self.schema.fields();
        self.builders = loaded
            .iter()
            .filter_map(|&c| ColumnBuilder::new(fields[c].data_type(), self.batch_rows))
            .collect();
        self.names = loaded.iter().map(|&c| fields[c].name().clone()).collect();
        self.mapping = columns
            .iter()
            .map(|c| loaded.binary_search(c).unwrap_or(0))
            .collect();
        self.out_schema = Arc::new(Schema::new(
            loaded
                .iter()
                .map(|&c| Field::new(fields[c].name(), fields[c].data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
    }

    fn emit(&mut self) -> Result<RecordBatch, CsvError> {
        let arrays = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        self.pending_rows = 0;
        RecordBatch::try_new(self.out_schema.clone(), arrays)
            .map_err(|e| CsvError::options(format!("building a batch: {e}")))
    }
}

/// The schema column of each header field.
fn header_columns(schema: &Schema, record: &Record<'_>) -> Result<Vec<usize>, CsvError> {
    let at = |column: Option<String>, message: String| CsvError {
        line: record.line,
        column,
        message,
    };
    let mut columns: Vec<usize> = Vec::with_capacity(record.len());
    for i in 0..record.len() {
        let (raw, _) = record.field(i);
        let name = std::str::from_utf8(raw)
            .map_err(|_| at(None, format!("header field {} is not valid UTF-8", i + 1)))?
            .trim();
        let fields = schema.fields();
        let found = fields.iter().position(|f| f.name() == name).or_else(|| {
            let mut same = fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.name().eq_ignore_ascii_case(name));
            match (same.next(), same.next()) {
                (Some((c, _)), None) => Some(c),
                _ => None,
            }
        });
        let Some(c) = found else {
            let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
            return Err(at(
                Some(name.to_owned()),
                format!(
                    "the collection has no such column (its columns: {}); remove it from the \
                     CSV or add it with ALTER ... ADD COLUMN",
                    names.join(", ")
                ),
            ));
        };
        if columns.contains(&c) {
            return Err(at(
                Some(name.to_owned()),
                "the header names this column twice".into(),
            ));
        }
        columns.push(c);
    }
    Ok(columns)
}

fn append_row(
    record: &Record<'_>,
    mapping: &[usize],
    null: &[u8],
    names: &[String],
    builders: &mut [ColumnBuilder],
) -> Result<(), CsvError> {
    for (i, &b) in mapping.iter().enumerate() {
        let (text, quoted) = record.field(i);
        let is_null = !quoted && text == null;
        builders[b]
            .append(text, is_null)
            .map_err(|message| CsvError {
                line: record.line_of(i),
                column: Some(names[b].clone()),
                message,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
