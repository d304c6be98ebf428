//! Running cairn's own statements (see `statement`) against the engine. Each answers like a
//! query: a table for SHOW and DESCRIBE, a command tag for the rest.

use std::sync::Arc;

use cairn_engine::{ColumnRole, ColumnSpec, DEFAULT_DATABASE, DatabaseOptions, Db, EngineError};
use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::error::{QueryError, Result};
use crate::output::QueryOutput;
use crate::statement::Command;

/// Runs `cmd` with `database` as the current database; `Use` returns the new one.
pub fn run(db: &Db, database: &str, cmd: Command) -> Result<(QueryOutput, Option<String>)> {
    let done = |tag: &str| QueryOutput::command(tag, None);
    let out = match cmd {
        Command::CreateCollection {
            name,
            kind,
            if_not_exists,
            columns,
            options,
        } => {
            let q = name.qualified(database);
            match db.create_collection(&q, columns, Some(options)) {
                Err(EngineError::AlreadyExists { .. }) if if_not_exists => {}
                r => {
                    r?;
                }
            }
            done(&format!("CREATE {kind}"))
        }
        Command::DropCollections { names, if_exists } => {
            for n in &names {
                match db.drop_collection(&n.qualified(database)) {
                    Err(EngineError::NoSuchCollection(_)) if if_exists => {}
                    r => r?,
                }
            }
            done("DROP COLLECTION")
        }
        Command::AddColumns {
            name,
            if_not_exists,
            columns,
        } => {
            let q = name.qualified(database);
            let def = db.collection(&q)?;
            let mut add: Vec<ColumnSpec> = Vec::new();
            for c in columns {
                if let Some(have) = def.schema.columns.iter().find(|h| h.name == c.name) {
                    if if_not_exists && have.column_type == c.column_type && have.role == c.role {
                        continue;
                    }
                    return Err(QueryError::Invalid(format!(
                        "collection {q} already has a column {}",
                        c.name
                    )));
                }
                add.push(c);
            }
            if !add.is_empty() {
                db.add_columns(&q, add)?;
            }
            done("ALTER COLLECTION")
        }
        Command::CreateDatabase {
            name,
            if_not_exists,
        } => {
            match db.create_database(&name, DatabaseOptions::default()) {
                Err(EngineError::AlreadyExists { .. }) if if_not_exists => {}
                r => r?,
            }
            done("CREATE DATABASE")
        }
        Command::DropDatabase { name, if_exists } => {
            match db.drop_database(&name) {
                Err(EngineError::NoSuchDatabase(_)) if if_exists => {}
                r => r?,
            }
            done("DROP DATABASE")
        }
        Command::Use(name) => {
            if !db.databases().contains(&name) {
                return Err(EngineError::NoSuchDatabase(name).into());
            }
            return Ok((done("SET"), Some(name)));
        }
        Command::ShowDatabases => {
            let names = db.databases();
            table(vec![(
                "database",
                Arc::new(StringArray::from(names)) as ArrayRef,
            )])?
        }
        Command::ShowCollections(of) => show_collections(db, of.as_deref().unwrap_or(database))?,
        Command::Describe(name) => describe(db, &name.qualified(database))?,
        Command::Checkpoint => {
            db.checkpoint()?;
            done("CHECKPOINT")
        }
    };
    Ok((out, None))
}

fn table(columns: Vec<(&str, ArrayRef)>) -> Result<QueryOutput> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .map_err(|e| QueryError::Invalid(e.to_string()))?;
    Ok(QueryOutput::rows("SHOW", schema, vec![batch]))
}

fn show_collections(db: &Db, database: &str) -> Result<QueryOutput> {
    let defs = db.collections(database)?;
    let mut name = Vec::new();
    let mut time_key = Vec::new();
    let mut tags = Vec::new();
    let mut fields = Vec::new();
    let mut partition = Vec::new();
    let mut retention = Vec::new();
    let mut rows = Vec::new();
    for d in &defs {
        let of = |role: ColumnRole| {
            d.schema
                .columns
                .iter()
                .filter(|c| c.role == role)
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        name.push(d.name.clone());
        time_key.push(d.time_key_name().to_owned());
        tags.push(of(ColumnRole::Tag));
        fields.push(of(ColumnRole::Field));
        partition.push(duration_text(d.options.partition_interval_ns));
        retention.push(d.options.retention_ns.map(duration_text));
        let s = db.collection_stats(&format!("{database}.{}", d.name))?;
        rows.push(s.memtable_rows + s.file_rows);
    }
    table(vec![
        ("collection", Arc::new(StringArray::from(name))),
        ("time_key", Arc::new(StringArray::from(time_key))),
        ("tags", Arc::new(StringArray::from(tags))),
        ("fields", Arc::new(StringArray::from(fields))),
        ("partition_by", Arc::new(StringArray::from(partition))),
        ("retention", Arc::new(StringArray::from(retention))),
        ("rows", Arc::new(UInt64Array::from(rows))),
    ])
}

fn describe(db: &Db, qualified: &str) -> Result<QueryOutput> {
    let def = db.collection(qualified)?;
    let cols = &def.schema.columns;
    let sql_type = |c: &ColumnSpec| {
        match cairn_engine::batch_codec::arrow_type(c.column_type) {
            DataType::Timestamp(..) => "TIMESTAMP",
            DataType::Int64 => "BIGINT",
            DataType::UInt64 => "BIGINT UNSIGNED",
            DataType::Float64 => "DOUBLE",
            DataType::Boolean => "BOOLEAN",
            _ => "VARCHAR",
        }
        .to_owned()
    };
    let role = |c: &ColumnSpec| match c.role {
        ColumnRole::TimeKey => "TIME_KEY",
        ColumnRole::Tag => "TAG",
        ColumnRole::Field => "FIELD",
    };
    table(vec![
        (
            "column_name",
            Arc::new(StringArray::from_iter_values(
                cols.iter().map(|c| c.name.as_str()),
            )),
        ),
        (
            "data_type",
            Arc::new(StringArray::from_iter_values(cols.iter().map(sql_type))),
        ),
        (
            "role",
            Arc::new(StringArray::from_iter_values(cols.iter().map(role))),
        ),
        (
            "nullable",
            Arc::new(BooleanArray::from(
                cols.iter().map(|c| c.nullable).collect::<Vec<_>>(),
            )),
        ),
    ])
}

/// `1d`, `6h`, `90s`: the largest unit that divides the duration.
pub fn duration_text(ns: i64) -> String {
    const UNITS: [(i64, &str); 7] = [
        (7 * 86_400_000_000_000, "w"),
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    for (unit, name) in UNITS {
        if ns % unit == 0 {
            return format!("{}{name}", ns / unit);
        }
    }
    format!("{ns}ns")
}

/// The database a new session starts in.
pub fn default_database() -> String {
    DEFAULT_DATABASE.to_owned()
}
