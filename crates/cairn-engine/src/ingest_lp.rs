//! Line protocol into collections: lines are grouped by measurement, their values converted
//! to the declared column types (a tag `cached=true` into a BOOLEAN column, `5i` into a
//! DOUBLE column), unknown measurements and columns created where allowed, and every
//! measurement's rows committed as one atomic write.
//!
//! Bad lines: with [`LineErrorPolicy::SkipBadLines`] (the default, as InfluxDB does) every
//! good line is written and each bad one is reported with its line number and reason; with
//! [`LineErrorPolicy::RejectBatch`] one bad line rejects the whole text and nothing is written.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema as ArrowSchema};
use cairn_storage::{ColumnRole, ColumnSpec, ColumnType};

use crate::batch_codec::arrow_type;
use crate::catalog::CollectionDef;
use crate::db::Db;
use crate::error::{EngineError, Result};
use crate::ident;
use crate::lp::{LineError, LpLine, LpParser, LpValue, Precision};
use crate::write::prepare;

/// The TIME_KEY column of collections created by line protocol.
pub const LP_TIME_COLUMN: &str = "time";
/// Lines committed per write when bad lines are skipped (bounds memory for large texts).
const CHUNK_LINES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineErrorPolicy {
    /// Write the good lines, report the bad ones.
    #[default]
    SkipBadLines,
    /// Any bad line rejects the whole text.
    RejectBatch,
}

/// The outcome of [`Db::write_lines`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteLinesReport {
    /// Rows written (durable when the call returns).
    pub rows_written: u64,
    /// Bad lines, in order.
    pub errors: Vec<LineError>,
}

enum Builder {
    Ts(TimestampNanosecondBuilder),
    I64(Int64Builder),
    U64(UInt64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
}

/// A value converted to its column's type.
enum Val<'a> {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(&'a str),
}

impl Builder {
    fn new(t: ColumnType) -> Self {
        match t {
            ColumnType::Timestamp => Builder::Ts(TimestampNanosecondBuilder::new()),
            ColumnType::I64 => Builder::I64(Int64Builder::new()),
            ColumnType::U64 => Builder::U64(UInt64Builder::new()),
            ColumnType::F64 => Builder::F64(Float64Builder::new()),
            ColumnType::Bool => Builder::Bool(BooleanBuilder::new()),
            ColumnType::String => Builder::Str(StringBuilder::new()),
        }
    }

    fn len(&self) -> usize {
        use arrow_array::builder::ArrayBuilder;
        match self {
            Builder::Ts(b) => b.len(),
            Builder::I64(b) => b.len(),
            Builder::U64(b) => b.len(),
            Builder::F64(b) => b.len(),
            Builder::Bool(b) => b.len(),
            Builder::Str(b) => b.len(),
        }
    }

    fn pad(&mut self, rows: usize) {
        let n = rows.saturating_sub(self.len());
        for _ in 0..n {
            match self {
                Builder::Ts(b) => b.append_null(),
                Builder::I64(b) => b.append_null(),
                Builder::U64(b) => b.append_null(),
                Builder::F64(b) => b.append_null(),
                Builder::Bool(b) => b.append_null(),
                Builder::Str(b) => b.append_null(),
            }
        }
    }

    fn push(&mut self, v: &Val<'_>) {
        match (self, v) {
            (Builder::Ts(b), Val::I64(x)) => b.append_value(*x),
            (Builder::I64(b), Val::I64(x)) => b.append_value(*x),
            (Builder::U64(b), Val::U64(x)) => b.append_value(*x),
            (Builder::F64(b), Val::F64(x)) => b.append_value(*x),
            (Builder::Bool(b), Val::Bool(x)) => b.append_value(*x),
            (Builder::Str(b), Val::Str(x)) => b.append_value(x),
            (b, _) => b.pad(b.len() + 1),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Ts(mut b) => Arc::new(b.finish().with_timezone("UTC")),
            Builder::I64(mut b) => Arc::new(b.finish()),
            Builder::U64(mut b) => Arc::new(b.finish()),
            Builder::F64(mut b) => Arc::new(b.finish()),
            Builder::Bool(mut b) => Arc::new(b.finish()),
            Builder::Str(mut b) => Arc::new(b.finish()),
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "t" | "T" | "true" | "True" | "TRUE" => Some(true),
        "f" | "F" | "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A tag value or a field value of a line.
#[derive(Clone, Copy)]
enum Input<'b> {
    Tag(&'b str),
    Field(&'b LpValue<'b>),
}

/// Converts a tag or field value to column type `t`.
fn convert<'b>(t: ColumnType, v: Input<'b>) -> std::result::Result<Val<'b>, String> {
    // The message is built only on failure: formatting every value costs more than parsing.
    let fail = || {
        let (kind, shown) = match v {
            Input::Tag(s) => ("a tag", format!("{s:?}")),
            Input::Field(f) => (
                match f {
                    LpValue::Float(_) => "a float",
                    LpValue::Int(_) => "an integer",
                    LpValue::UInt(_) => "an unsigned integer",
                    LpValue::Bool(_) => "a boolean",
                    LpValue::Str(_) => "a string",
                },
                show(f),
            ),
        };
        Err(format!(
            "is {kind} ({shown}) but the column is {}",
            t.name()
        ))
    };
    Ok(match (t, v) {
        (ColumnType::String, Input::Tag(s)) => Val::Str(s),
        (ColumnType::Bool, Input::Tag(s)) => {
            return parse_bool(s).map(Val::Bool).map_or_else(fail, Ok);
        }
        (ColumnType::I64 | ColumnType::Timestamp, Input::Tag(s)) => {
            return s.parse().map(Val::I64).map_or_else(|_| fail(), Ok);
        }
        (ColumnType::U64, Input::Tag(s)) => {
            return s.parse().map(Val::U64).map_or_else(|_| fail(), Ok);
        }
        (ColumnType::F64, Input::Tag(s)) => {
            return s.parse().map(Val::F64).map_or_else(|_| fail(), Ok);
        }
        (_, Input::Field(f)) => match (t, f) {
            (ColumnType::String, LpValue::Str(s)) => Val::Str(s),
            (ColumnType::F64, LpValue::Float(x)) => Val::F64(*x),
            (ColumnType::F64, LpValue::Int(x)) => Val::F64(*x as f64),
            (ColumnType::F64, LpValue::UInt(x)) => Val::F64(*x as f64),
            (ColumnType::I64 | ColumnType::Timestamp, LpValue::Int(x)) => Val::I64(*x),
            (ColumnType::I64 | ColumnType::Timestamp, LpValue::UInt(x)) => {
                match i64::try_from(*x) {
                    Ok(x) => Val::I64(x),
                    Err(_) => return fail(),
                }
            }
            (ColumnType::U64, LpValue::UInt(x)) => Val::U64(*x),
            (ColumnType::U64, LpValue::Int(x)) => match u64::try_from(*x) {
                Ok(x) => Val::U64(x),
                Err(_) => return fail(),
            },
            (ColumnType::Bool, LpValue::Bool(b)) => Val::Bool(*b),
            _ => return fail(),
        },
    })
}

fn show(v: &LpValue<'_>) -> String {
    match v {
        LpValue::Float(x) => x.to_string(),
        LpValue::Int(x) => format!("{x}i"),
        LpValue::UInt(x) => format!("{x}u"),
        LpValue::Bool(b) => b.to_string(),
        LpValue::Str(s) => format!("{s:?}"),
    }
}

/// The natural column type of a value a line introduces.
fn natural(v: Input<'_>) -> (ColumnType, ColumnRole) {
    let Input::Field(v) = v else {
        return (ColumnType::String, ColumnRole::Tag);
    };
    let t = match v {
        LpValue::Float(_) => ColumnType::F64,
        LpValue::Int(_) => ColumnType::I64,
        LpValue::UInt(_) => ColumnType::U64,
        LpValue::Bool(_) => ColumnType::Bool,
        LpValue::Str(_) => ColumnType::String,
    };
    (t, ColumnRole::Field)
}

/// A measurement's rows, ready to write.
struct Finished {
    def: Option<Arc<CollectionDef>>,
    name: String,
    new_columns: Vec<ColumnSpec>,
    batch: RecordBatch,
}

/// The rows of one measurement.
struct Table {
    name: String,
    def: Option<Arc<CollectionDef>>,
    time_key: String,
    allow_new: bool,
    /// Columns added by these lines (created before the write).
    new_columns: Vec<ColumnSpec>,
    types: Vec<(String, ColumnType)>,
    index: HashMap<String, usize>,
    builders: Vec<Builder>,
    time: TimestampNanosecondBuilder,
    rows: usize,
}

impl Table {
    /// The index of column `name`, trying position `hint` first: lines of one measurement
    /// usually list the same keys in the same order, so this mostly avoids hashing.
    fn find(&self, name: &str, hint: usize) -> Option<usize> {
        match self.types.get(hint) {
            Some((n, _)) if n == name => Some(hint),
            _ => self.index.get(name).copied(),
        }
    }

    fn column_type(&self, name: &str, hint: usize) -> Option<ColumnType> {
        if let Some(i) = self.find(name, hint) {
            return Some(self.types[i].1);
        }
        self.def.as_ref().and_then(|d| {
            d.schema
                .index_of(name)
                .map(|i| d.schema.columns[i].column_type)
        })
    }

    fn column(&mut self, name: &str, t: ColumnType, hint: usize) -> usize {
        if let Some(i) = self.find(name, hint) {
            return i;
        }
        let i = self.types.len();
        self.types.push((name.to_string(), t));
        self.index.insert(name.to_string(), i);
        self.builders.push(Builder::new(t));
        i
    }

    /// Converts and appends one line, or explains why it cannot be written (then nothing
    /// of the line is kept).
    fn add(&mut self, line: &LpLine<'_>) -> std::result::Result<(), String> {
        let inputs = line
            .tags
            .iter()
            .map(|(k, v)| (k.as_ref(), Input::Tag(v.as_ref())))
            .chain(
                line.fields
                    .iter()
                    .map(|(k, v)| (k.as_ref(), Input::Field(v))),
            );
        let mut staged: Vec<(&str, ColumnType, Val<'_>)> =
            Vec::with_capacity(line.tags.len() + line.fields.len());
        let mut added: Vec<ColumnSpec> = Vec::new();
        for (pos, (key, input)) in inputs.enumerate() {
            let what = if matches!(input, Input::Tag(_)) {
                "tag"
            } else {
                "field"
            };
            if key == self.time_key {
                return Err(format!(
                    "{what} {key:?} is the TIME_KEY column; give the time as the line's timestamp"
                ));
            }
            let t = match self
                .column_type(key, pos)
                .or_else(|| added.iter().find(|c| c.name == key).map(|c| c.column_type))
            {
                Some(t) => t,
                None => {
                    if !self.allow_new {
                        return Err(format!(
                            "collection {:?} has no column {key:?} and does not allow new columns",
                            self.name
                        ));
                    }
                    ident::validate("column", key).map_err(|e| e.to_string())?;
                    let (t, role) = natural(input);
                    added.push(ColumnSpec::new(key, t, role));
                    t
                }
            };
            let v = convert(t, input).map_err(|m| format!("{what} {key:?} {m}"))?;
            staged.push((key, t, v));
        }
        let row = self.rows;
        self.new_columns.extend(added);
        for (pos, (key, t, v)) in staged.into_iter().enumerate() {
            let i = self.column(key, t, pos);
            let b = &mut self.builders[i];
            b.pad(row);
            b.push(&v);
        }
        self.time.append_option(line.timestamp_ns);
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<Finished> {
        let rows = self.rows;
        let mut fields = vec![Field::new(
            &self.time_key,
            arrow_type(ColumnType::Timestamp),
            true,
        )];
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(self.time.finish().with_timezone("UTC"))];
        for ((name, t), mut b) in self.types.into_iter().zip(self.builders) {
            b.pad(rows);
            fields.push(Field::new(name, arrow_type(t), true));
            arrays.push(b.finish());
        }
        let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
            .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
        Ok(Finished {
            def: self.def,
            name: self.name,
            new_columns: self.new_columns,
            batch,
        })
    }
}

impl Db {
    /// Writes InfluxDB line protocol into the default database. See [`Db::write_lines_to`].
    pub fn write_lines(&self, text: &str, precision: Precision) -> Result<WriteLinesReport> {
        self.write_lines_to(
            crate::DEFAULT_DATABASE,
            text,
            precision,
            LineErrorPolicy::default(),
        )
    }

    /// Writes line protocol into `database`: each measurement goes to the collection of that
    /// name (created, with TIME_KEY `time`, if the database allows it). Returns once every
    /// written row is durable.
    pub fn write_lines_to(
        &self,
        database: &str,
        text: &str,
        precision: Precision,
        policy: LineErrorPolicy,
    ) -> Result<WriteLinesReport> {
        self.inner.check_open()?;
        let db_id = self.inner.database_id(database)?;
        let auto_create = self
            .inner
            .catalog()
            .databases
            .get(&db_id)
            .is_some_and(|d| d.options.auto_create_collections);
        let mut report = WriteLinesReport::default();
        let mut parser = LpParser::new(text, precision);
        let mut line = LpLine::default();
        loop {
            let mut tables: Vec<Table> = Vec::new();
            let mut by_name: HashMap<String, usize> = HashMap::new();
            let mut lines = 0;
            let mut ended = true;
            while let Some(r) = parser.next_line(&mut line) {
                lines += 1;
                if let Err(e) = r {
                    report.errors.push(e);
                } else if let Err(message) =
                    self.add_line(database, auto_create, &line, &mut tables, &mut by_name)
                {
                    report.errors.push(LineError {
                        line: line.line,
                        column: 1,
                        message,
                    });
                }
                if policy == LineErrorPolicy::SkipBadLines && lines >= CHUNK_LINES {
                    ended = false;
                    break;
                }
            }
            if policy == LineErrorPolicy::RejectBatch && !report.errors.is_empty() {
                return Ok(report);
            }
            report.rows_written += self.commit_tables(database, tables)?;
            if ended {
                return Ok(report);
            }
        }
    }

    fn add_line(
        &self,
        database: &str,
        auto_create: bool,
        line: &LpLine<'_>,
        tables: &mut Vec<Table>,
        by_name: &mut HashMap<String, usize>,
    ) -> std::result::Result<(), String> {
        let name = line.measurement.as_ref();
        let i = match by_name.get(name) {
            Some(&i) => i,
            None => {
                ident::validate("collection", name).map_err(|e| e.to_string())?;
                let def = match self.inner.find(&format!("{database}.{name}")) {
                    Ok(c) => Some(c.lock().def.clone()),
                    Err(EngineError::NoSuchCollection(_)) if auto_create => None,
                    Err(EngineError::NoSuchCollection(_)) => {
                        return Err(format!(
                            "collection {name:?} does not exist and database {database:?} does not create collections automatically"
                        ));
                    }
                    Err(e) => return Err(e.to_string()),
                };
                let t = Table {
                    name: name.to_string(),
                    time_key: def.as_ref().map_or(LP_TIME_COLUMN.to_string(), |d| {
                        d.time_key_name().to_string()
                    }),
                    allow_new: def.as_ref().is_none_or(|d| d.options.allow_new_columns),
                    def,
                    new_columns: Vec::new(),
                    types: Vec::new(),
                    index: HashMap::new(),
                    builders: Vec::new(),
                    time: TimestampNanosecondBuilder::new(),
                    rows: 0,
                };
                tables.push(t);
                by_name.insert(name.to_string(), tables.len() - 1);
                tables.len() - 1
            }
        };
        tables[i].add(line)
    }

    fn commit_tables(&self, database: &str, tables: Vec<Table>) -> Result<u64> {
        let mut writes = Vec::with_capacity(tables.len());
        for t in tables {
            if t.rows == 0 {
                continue;
            }
            let Finished {
                def,
                name,
                new_columns,
                batch,
            } = t.finish()?;
            let full = format!("{database}.{name}");
            if def.is_none() {
                let mut columns = vec![ColumnSpec::time_key(LP_TIME_COLUMN)];
                columns.extend(new_columns.iter().cloned());
                match self.inner.create_collection(&full, columns, None) {
                    Ok(()) | Err(EngineError::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let c = self.inner.find(&full)?;
            let missing: Vec<ColumnSpec> = {
                let d = c.lock().def.clone();
                new_columns
                    .into_iter()
                    .filter(|n| d.schema.index_of(&n.name).is_none())
                    .collect()
            };
            if !missing.is_empty() {
                self.add_columns(&full, missing)?;
            }
            let def = c.lock().def.clone();
            let prepared = prepare(&def, &batch, self.inner.opts.clock.now_ns())?;
            writes.push((c, prepared));
        }
        self.inner.commit(writes)
    }
}
