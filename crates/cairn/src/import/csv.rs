//! CSV files into one existing collection: `cairn_server::csv::CsvLoader` (the decoder the
//! server's COPY uses) turns the bytes into batches of `--batch-rows` rows, each written with
//! one atomic, durable `Db::write`.

use std::io::Read;
use std::path::Path;

use cairn::arrow_array::RecordBatch;
use cairn::{Db, EngineError};
use cairn_server::csv::{CsvError, CsvLoader, CsvOptions, DEFAULT_BATCH_ROWS, collection_schema};

use super::progress::Progress;
use super::{ImportArgs, database, new_progress, open_input, shown};
use crate::error::CliError;

/// Bytes read at a time (also the size of a COPY chunk sent to a server).
pub(super) const READ_BYTES: usize = 1 << 20;

pub fn import(db: &Db, args: &ImportArgs) -> Result<(), CliError> {
    let collection = args.into.as_deref().unwrap_or_default();
    let name = format!("{}.{collection}", database(args));
    let def = db
        .collection(&name)
        .map_err(|e| no_collection(db, args, collection, e))?;
    let schema = collection_schema(&def);
    let options = csv_options(args)?;
    let mut progress = new_progress(args);
    for file in &args.files {
        let loader = CsvLoader::new(schema.clone(), options.clone())
            .map_err(|e| CliError::Invalid(e.to_string()))?
            .with_batch_rows(args.batch_rows.unwrap_or(DEFAULT_BATCH_ROWS));
        if let Err(e) = import_file(db, &name, file, loader, &mut progress) {
            progress.clear();
            return Err(e);
        }
    }
    progress.finish(&format!("imported into {name}"));
    Ok(())
}

fn import_file(
    db: &Db,
    name: &str,
    file: &Path,
    mut loader: CsvLoader,
    progress: &mut Progress,
) -> Result<(), CliError> {
    let mut input = open_input(file)?;
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CliError::io("read the input file", file)(e)),
        };
        progress.advance(n as u64);
        let batches = loader.push(&buf[..n]);
        write_batches(db, name, file, batches, progress)?;
    }
    let batches = loader.finish();
    write_batches(db, name, file, batches, progress)
}

fn write_batches(
    db: &Db,
    name: &str,
    file: &Path,
    batches: Result<Vec<RecordBatch>, CsvError>,
    progress: &mut Progress,
) -> Result<(), CliError> {
    let batches = batches.map_err(|e| {
        CliError::Invalid(format!(
            "{}: {e}\n{} rows were written before this error and stay written",
            shown(file),
            progress.rows()
        ))
    })?;
    for batch in batches {
        db.write(name, &batch).map_err(|e| {
            CliError::Invalid(format!(
                "{}: writing {} rows into {name}: {e}\n{} rows were written before this \
                 error and stay written",
                shown(file),
                batch.num_rows(),
                progress.rows()
            ))
        })?;
        progress.add_rows(batch.num_rows() as u64);
    }
    Ok(())
}

/// The CSV dialect the flags describe (the same for a server's COPY).
pub(super) fn csv_options(args: &ImportArgs) -> Result<CsvOptions, CliError> {
    let delimiter = match args.delimiter.as_deref() {
        None => b',',
        Some("tab" | "\\t" | "\t") => b'\t',
        Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
        Some(d) => {
            return Err(CliError::Invalid(format!(
                "--delimiter {d:?}: give one ASCII character (or tab)"
            )));
        }
    };
    Ok(CsvOptions {
        header: !args.no_header,
        delimiter,
        null: args.null.clone().unwrap_or_default(),
        ..CsvOptions::default()
    })
}

/// The error for a collection that cannot be found, listing what exists.
fn no_collection(db: &Db, args: &ImportArgs, collection: &str, e: EngineError) -> CliError {
    let database = database(args);
    match e {
        EngineError::NoSuchCollection(_) => {
            let names: Vec<String> = db
                .collections(database)
                .map(|cs| cs.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default();
            let existing = if names.is_empty() {
                format!("database {database:?} has no collections")
            } else {
                format!("its collections: {}", names.join(", "))
            };
            CliError::Invalid(format!(
                "collection {collection:?} does not exist in database {database:?} \
                 ({existing}); create it first, e.g. cairn sql --data-dir DIR -c 'CREATE \
                 TIMESERIES {collection} (ts TIMESTAMP TIME_KEY, ...)'"
            ))
        }
        EngineError::NoSuchDatabase(_) => CliError::Invalid(format!(
            "database {database:?} does not exist (databases: {})",
            db.databases().join(", ")
        )),
        other => CliError::Invalid(format!("collection {collection:?}: {other}")),
    }
}
