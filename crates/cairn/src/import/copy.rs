//! CSV into a server: one `COPY collection FROM STDIN (FORMAT csv, ...)` per file over the
//! PostgreSQL protocol (tokio-postgres `copy_in`), the file streamed in chunks of
//! [`READ_BYTES`], never held whole. The server decodes the rows and writes them in atomic,
//! durable batches; a bad row stops its COPY, and the server's error names the line and
//! column and says how many rows before it stay written.

use std::io::{Cursor, Read};
use std::path::Path;

use cairn_query::datafusion::sql::sqlparser::ast::{
    CopySource, Ident, ObjectName, ObjectNamePart, Statement,
};
use cairn_query::datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use cairn_query::datafusion::sql::sqlparser::parser::Parser;
use cairn_server::csv::CsvOptions;
use futures::SinkExt;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::csv::{READ_BYTES, csv_options};
use super::progress::Progress;
use super::remote::Server;
use super::{ImportArgs, new_progress, open_input, shown};
use crate::error::CliError;

/// SQLSTATE of an unknown table (collection).
const UNDEFINED_TABLE: &str = "42P01";

pub fn import(server: &Server, args: &ImportArgs) -> Result<(), CliError> {
    let collection = args.into.as_deref().unwrap_or_default();
    let statement = copy_statement(collection, &csv_options(args)?);
    if args.batch_rows.is_some() {
        eprintln!("note: --batch-rows is ignored: the server's COPY batches the rows itself");
    }
    let pg = Pg::connect(server)?;
    let mut progress = new_progress(args);
    // Rows of the files already copied.
    let mut copied = 0u64;
    for file in &args.files {
        let result = pg.runtime.block_on(copy_file(
            &pg.client,
            &statement,
            file,
            &mut progress,
            copied,
        ));
        match result {
            Ok(rows) => {
                copied += rows;
                progress.set_rows(copied);
            }
            Err(failure) => {
                progress.clear();
                let error = failure.explain(server, collection, file, copied);
                pg.close();
                return Err(error);
            }
        }
    }
    progress.finish(&format!(
        "imported into {}.{collection} at {}",
        server.database, server.pg_shown
    ));
    pg.close();
    Ok(())
}

/// The COPY statement for the flags' CSV dialect (options as `docs/SERVER.md` lists them).
fn copy_statement(collection: &str, options: &CsvOptions) -> String {
    let mut sql = format!(
        "COPY {} FROM STDIN (FORMAT csv, HEADER {}",
        identifier(collection),
        options.header
    );
    if options.delimiter != b',' {
        let d = char::from(options.delimiter).to_string();
        sql.push_str(&format!(", DELIMITER {}", literal(&d)));
    }
    if !options.null.is_empty() {
        sql.push_str(&format!(", NULL {}", literal(&options.null)));
    }
    if options.quote != b'"' {
        let q = char::from(options.quote).to_string();
        sql.push_str(&format!(", QUOTE {}", literal(&q)));
    }
    sql.push(')');
    sql
}

/// A collection name as an SQL identifier: bare when it is lower case and the server's parser
/// reads it back unchanged, else double-quoted with `"` doubled, so no name can change the
/// statement.
fn identifier(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && parses_as_itself(name) {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The server's parser reads `COPY name FROM STDIN` with `name` as one unquoted identifier.
fn parses_as_itself(name: &str) -> bool {
    let sql = format!("COPY {name} FROM STDIN (FORMAT csv)");
    let Ok(statements) = Parser::parse_sql(&PostgreSqlDialect {}, &sql) else {
        return false;
    };
    match statements.as_slice() {
        [
            Statement::Copy {
                source:
                    CopySource::Table {
                        table_name: ObjectName(parts),
                        ..
                    },
                ..
            },
        ] => matches!(
            parts.as_slice(),
            [ObjectNamePart::Identifier(Ident { value, quote_style: None, .. })] if value == name
        ),
        _ => false,
    }
}

/// A string literal (standard-conforming: only `'` is escaped).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Why a file's COPY failed.
enum Failure {
    /// Opening the input (before the COPY began).
    Open(CliError),
    /// Reading the input (the COPY was abandoned, so the server cancels it).
    Input(CliError),
    Server(tokio_postgres::Error),
}

/// Streams one file through a COPY; the rows the server wrote.
async fn copy_file(
    client: &Client,
    statement: &str,
    file: &Path,
    progress: &mut Progress,
    copied: u64,
) -> Result<u64, Failure> {
    let mut input = open_input(file).map_err(Failure::Open)?;
    let sink = client
        .copy_in::<_, Cursor<Vec<u8>>>(statement)
        .await
        .map_err(Failure::Server)?;
    let mut sink = std::pin::pin!(sink);
    let mut buf = vec![0u8; READ_BYTES];
    // Rows sent, estimated by newlines until the server's count arrives.
    let mut newlines = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::Input(CliError::io("read the input file", file)(e)));
            }
        };
        sink.send(Cursor::new(buf[..n].to_vec()))
            .await
            .map_err(Failure::Server)?;
        progress.advance(n as u64);
        newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        progress.set_rows(copied + newlines);
    }
    sink.as_mut().finish().await.map_err(Failure::Server)
}

impl Failure {
    /// The message for the user: what failed, and what stays written.
    fn explain(self, server: &Server, collection: &str, file: &Path, copied: u64) -> CliError {
        let earlier = if copied > 0 {
            format!("\n{copied} rows of the files before it were imported and stay")
        } else {
            String::new()
        };
        let e = match self {
            Failure::Open(e) => return e,
            Failure::Input(e) => {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                return CliError::Invalid(format!(
                    "cannot {e}{cause}\nThe COPY into {collection} was cancelled; rows the \
                     server had already written in batches stay (check with SELECT count(*) \
                     FROM {collection}){earlier}",
                ));
            }
            Failure::Server(e) => e,
        };
        let Some(db) = e.as_db_error() else {
            return CliError::Invalid(format!(
                "{}: the connection to {} failed during the COPY: {e}. Rows the server had \
                 already written in batches stay (check with SELECT count(*) FROM \
                 {collection}){earlier}",
                shown(file),
                server.pg_shown
            ));
        };
        if db.code().code() == UNDEFINED_TABLE {
            return CliError::Invalid(format!(
                "{}: {} ({}); create it first, e.g. cairn sql --url {} -c 'CREATE TIMESERIES \
                 {collection} (ts TIMESTAMP TIME_KEY, ...)'{earlier}",
                shown(file),
                db.message(),
                collections(server),
                server.pg_shown
            ));
        }
        let detail = db.detail().map(|d| format!("\n{d}")).unwrap_or_default();
        CliError::Invalid(format!(
            "{}: {}{detail}{earlier}",
            shown(file),
            db.message()
        ))
    }
}

/// A client connection on its own single-threaded runtime.
struct Pg {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

impl Pg {
    fn connect(server: &Server) -> Result<Pg, CliError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::Invalid(format!("cannot start the client runtime: {e}")))?;
        let (client, connection) = runtime
            .block_on(server.pg.connect(NoTls))
            .map_err(|e| connect_error(&server.pg_shown, &e))?;
        runtime.spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("connection to the server lost: {e}");
            }
        });
        Ok(Pg { runtime, client })
    }

    fn close(self) {
        drop(self.client);
        self.runtime.shutdown_background();
    }
}

/// The server's collections, for an error message. On a new connection: after a COPY that
/// failed to start, tokio-postgres's connection is out of step with the server.
fn collections(server: &Server) -> String {
    let names: Vec<String> = Pg::connect(server)
        .ok()
        .and_then(|pg| {
            let messages = pg
                .runtime
                .block_on(pg.client.simple_query("SHOW COLLECTIONS"))
                .ok();
            pg.close();
            messages
        })
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        format!("database {:?} has no collections", server.database)
    } else {
        format!("its collections: {}", names.join(", "))
    }
}

fn connect_error(url: &str, e: &tokio_postgres::Error) -> CliError {
    if let Some(db) = e.as_db_error() {
        let hint = match db.code().code() {
            "3D000" => {
                " Create the database first (cairn sql --url ... -c 'CREATE DATABASE name'), or \
                 pick another with --database"
            }
            c if c.starts_with("28") => {
                " Check the user and password in the URL (without configured users a server \
                 accepts only loopback connections as user `cairn`)"
            }
            _ => "",
        };
        return CliError::Invalid(format!("cannot connect to {url}: {}.{hint}", db.message()));
    }
    let mut why = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        why = format!("{why}: {s}");
        source = s.source();
    }
    CliError::Invalid(format!(
        "cannot connect to {url}: {why}. Check that `cairn serve` is running and listening \
         there (--pg-listen, default {}), and that the user and password are right (without \
         configured users a server accepts only loopback connections as user `{}`)",
        cairn_server::config::DEFAULT_PG_LISTEN,
        cairn_server::config::BUILTIN_USER
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn identifiers_are_bare_only_when_unchanged() {
        assert_eq!(identifier("events"), "events");
        assert_eq!(identifier("cpu_2"), "cpu_2");
        assert_eq!(identifier("CPU"), "\"CPU\"");
        assert_eq!(identifier("my-data"), "\"my-data\"");
        assert_eq!(
            identifier("x\" FROM STDIN; DROP"),
            "\"x\"\" FROM STDIN; DROP\""
        );
        // Whatever the name, the parser reads back exactly one identifier equal to it.
        for name in [
            "events",
            "select",
            "CPU",
            "my-data",
            "x\" FROM STDIN; DROP",
            "é'",
        ] {
            let sql = format!("COPY {} FROM STDIN (FORMAT csv)", identifier(name));
            let statements = Parser::parse_sql(&PostgreSqlDialect {}, &sql).unwrap();
            let [
                Statement::Copy {
                    source: CopySource::Table { table_name, .. },
                    ..
                },
            ] = statements.as_slice()
            else {
                panic!("{sql}: not one COPY")
            };
            let [ObjectNamePart::Identifier(ident)] = table_name.0.as_slice() else {
                panic!("{sql}: not one identifier")
            };
            assert_eq!(ident.value, name, "{sql}");
        }
    }

    #[test]
    fn copy_options_follow_the_flags() {
        let o = CsvOptions {
            header: false,
            delimiter: b'\'',
            null: "N'A".into(),
            ..CsvOptions::default()
        };
        assert_eq!(
            copy_statement("t", &o),
            "COPY t FROM STDIN (FORMAT csv, HEADER false, DELIMITER '''', NULL 'N''A')"
        );
        assert_eq!(
            copy_statement("t", &CsvOptions::default()),
            "COPY t FROM STDIN (FORMAT csv, HEADER true)"
        );
    }
}
