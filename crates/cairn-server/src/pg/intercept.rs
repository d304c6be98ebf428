//! Statements the PostgreSQL front end answers itself: transaction control, session
//! settings (`SET`, `SHOW`, `RESET`), `COPY ... FROM STDIN`, and the housekeeping statements
//! drivers send (`DISCARD ALL`, `DEALLOCATE`). Everything else goes to the SQL session.

use cairn_query::datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Expr, Set,
    Statement, Value,
};
use cairn_query::datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use cairn_query::datafusion::sql::sqlparser::parser::Parser;

use crate::csv::CsvOptions;

#[derive(Debug, Clone, PartialEq)]
pub enum Intercept {
    Begin,
    Commit,
    Rollback,
    /// `SET name = value` (`None`: `SET name TO DEFAULT` / `RESET name`).
    Set {
        name: String,
        value: Option<String>,
    },
    Show(String),
    CopyIn(CopyIn),
    /// Tag-only statements with nothing to do here (`DISCARD ALL`, `DEALLOCATE`, `CLOSE ALL`
    /// on a server that holds no cursors between statements).
    Noop(&'static str),
    /// Recognised but refused, with the reason.
    Refuse(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopyIn {
    /// `[database.]collection`
    pub table: String,
    /// Columns listed after the table name (empty: all, in the collection's order).
    pub columns: Vec<String>,
    pub options: CsvOptions,
}

/// The intercept for `text`, or `None` when the SQL session runs it.
pub fn classify(text: &str) -> Option<Intercept> {
    let first = first_word(text);
    if !matches!(
        first.as_str(),
        "begin"
            | "start"
            | "commit"
            | "end"
            | "rollback"
            | "abort"
            | "set"
            | "show"
            | "reset"
            | "copy"
            | "discard"
            | "deallocate"
            | "close"
            | "savepoint"
            | "release"
    ) {
        return None;
    }
    match first.as_str() {
        "begin" | "start" => return Some(Intercept::Begin),
        "commit" | "end" => return Some(Intercept::Commit),
        "rollback" | "abort" => {
            if text.to_ascii_lowercase().contains(" to ") {
                return Some(Intercept::Refuse(
                    "ROLLBACK TO SAVEPOINT: cairn has no multi-statement transactions".into(),
                ));
            }
            return Some(Intercept::Rollback);
        }
        "savepoint" | "release" => {
            return Some(Intercept::Refuse(format!(
                "{}: cairn has no multi-statement transactions (every statement is atomic \
                 and durable on its own)",
                first.to_ascii_uppercase()
            )));
        }
        "discard" => return Some(Intercept::Noop("DISCARD ALL")),
        "deallocate" => return Some(Intercept::Noop("DEALLOCATE")),
        "close" => return Some(Intercept::Noop("CLOSE CURSOR")),
        "reset" => {
            let name = text.trim().trim_end_matches(';')[5..]
                .trim()
                .to_ascii_lowercase();
            return Some(Intercept::Set { name, value: None });
        }
        _ => {}
    }
    let parsed = Parser::parse_sql(&PostgreSqlDialect {}, text);
    let statement = match parsed {
        Ok(mut s) if s.len() == 1 => s.pop()?,
        Ok(_) => return None,
        Err(e) => return Some(Intercept::Refuse(format!("syntax error: {e}"))),
    };
    match statement {
        Statement::Set(set) => Some(set_of(set)),
        Statement::ShowVariable { variable } => Some(Intercept::Show(
            variable
                .iter()
                .map(|i| i.value.to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(" "),
        )),
        Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } => Some(copy_of(source, to, target, &options, &legacy_options)),
        _ => None,
    }
}

fn first_word(text: &str) -> String {
    text.trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn set_of(set: Set) -> Intercept {
    match set {
        Set::SingleAssignment {
            variable, values, ..
        } => {
            let name = variable.to_string().to_ascii_lowercase();
            let value = values.iter().map(expr_text).collect::<Vec<_>>().join(", ");
            if value.eq_ignore_ascii_case("default") {
                Intercept::Set { name, value: None }
            } else {
                Intercept::Set {
                    name,
                    value: Some(value),
                }
            }
        }
        Set::SetTimeZone { value, .. } => Intercept::Set {
            name: "timezone".into(),
            value: Some(expr_text(&value)),
        },
        Set::SetNames { charset_name, .. } => Intercept::Set {
            name: "client_encoding".into(),
            value: Some(charset_name.value),
        },
        Set::SetTransaction { .. } => Intercept::Noop("SET"),
        other => Intercept::Refuse(format!("{other}: not a setting cairn has")),
    }
}

/// A SET value as text: strings unquoted, identifiers and numbers as written.
fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

fn copy_of(
    source: CopySource,
    to: bool,
    target: CopyTarget,
    options: &[CopyOption],
    legacy: &[CopyLegacyOption],
) -> Intercept {
    let CopySource::Table {
        table_name,
        columns,
    } = source
    else {
        return Intercept::Refuse("COPY (query) TO: use SELECT".into());
    };
    if to || !matches!(target, CopyTarget::Stdin) {
        return Intercept::Refuse(
            "COPY: only COPY name FROM STDIN is supported (the server never reads or writes \
             files by path; use psql's \\copy, or SELECT for output)"
                .into(),
        );
    }
    let mut opts = CsvOptions {
        header: false,
        delimiter: b',',
        quote: b'"',
        null: String::new(),
    };
    let mut csv = false;
    let mut delimiter = None;
    let mut null = None;
    for o in options {
        match o {
            CopyOption::Format(f) => match f.value.to_ascii_lowercase().as_str() {
                "csv" => csv = true,
                "text" => csv = false,
                other => {
                    return Intercept::Refuse(format!(
                        "COPY FORMAT {other}: cairn reads csv and text"
                    ));
                }
            },
            CopyOption::Header(h) => opts.header = *h,
            CopyOption::Delimiter(c) => delimiter = Some(*c),
            CopyOption::Null(n) => null = Some(n.clone()),
            CopyOption::Quote(c) => opts.quote = *c as u8,
            CopyOption::Encoding(e)
                if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => return Intercept::Refuse(format!("COPY option {other} is not supported")),
        }
    }
    for o in legacy {
        match o {
            CopyLegacyOption::Csv(csv_opts) => {
                csv = true;
                for c in csv_opts {
                    match c {
                        CopyLegacyCsvOption::Header => opts.header = true,
                        CopyLegacyCsvOption::Quote(q) => opts.quote = *q as u8,
                        other => {
                            return Intercept::Refuse(format!(
                                "COPY option {other} is not supported"
                            ));
                        }
                    }
                }
            }
            CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
            CopyLegacyOption::Null(n) => null = Some(n.clone()),
            other => return Intercept::Refuse(format!("COPY option {other} is not supported")),
        }
    }
    if !csv {
        return Intercept::Refuse(
            "COPY in PostgreSQL's text format is not supported; send CSV: COPY name FROM STDIN \
             (FORMAT csv[, HEADER true]) (in psql: \\copy name from 'file.csv' csv header)"
                .into(),
        );
    }
    opts.delimiter = b',';
    opts.null = String::new();
    if let Some(d) = delimiter {
        if !d.is_ascii() {
            return Intercept::Refuse("COPY DELIMITER must be a single ASCII character".into());
        }
        opts.delimiter = d as u8;
    }
    if let Some(n) = null {
        opts.null = n;
    }
    // PostgreSQL's identifiers: unquoted parts fold to lower case, quoted ones stay as written.
    let table = table_name
        .0
        .iter()
        .map(|part| match part.as_ident() {
            Some(i) if i.quote_style.is_some() => i.value.clone(),
            Some(i) => i.value.to_lowercase(),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".");
    Intercept::CopyIn(CopyIn {
        table,
        columns: columns.iter().map(|c| c.value.clone()).collect(),
        options: opts,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn classifies_what_drivers_send() {
        assert_eq!(classify("BEGIN"), Some(Intercept::Begin));
        assert_eq!(
            classify("start transaction read only"),
            Some(Intercept::Begin)
        );
        assert_eq!(classify("COMMIT"), Some(Intercept::Commit));
        assert_eq!(classify("rollback"), Some(Intercept::Rollback));
        assert_eq!(
            classify("SET extra_float_digits = 3"),
            Some(Intercept::Set {
                name: "extra_float_digits".into(),
                value: Some("3".into())
            })
        );
        assert_eq!(
            classify("SET application_name = 'PostgreSQL JDBC Driver'"),
            Some(Intercept::Set {
                name: "application_name".into(),
                value: Some("PostgreSQL JDBC Driver".into())
            })
        );
        assert_eq!(
            classify("SET TIME ZONE 'UTC'"),
            Some(Intercept::Set {
                name: "timezone".into(),
                value: Some("UTC".into())
            })
        );
        assert_eq!(
            classify("SHOW server_version"),
            Some(Intercept::Show("server_version".into()))
        );
        assert_eq!(
            classify("SHOW TRANSACTION ISOLATION LEVEL"),
            Some(Intercept::Show("transaction isolation level".into()))
        );
        assert_eq!(classify("SELECT 1"), None);
        assert_eq!(
            classify("SHOW COLLECTIONS"),
            Some(Intercept::Show("collections".into()))
        );
    }

    #[test]
    fn copy_options() {
        let Some(Intercept::CopyIn(c)) = classify("COPY dns FROM STDIN (FORMAT csv, HEADER true)")
        else {
            panic!("not a copy")
        };
        assert_eq!(c.table, "dns");
        assert!(c.options.header);
        assert_eq!(c.options.delimiter, b',');
        assert_eq!(c.options.null, "");
        let Some(Intercept::CopyIn(c)) = classify("COPY t (a, b) FROM STDIN WITH CSV HEADER")
        else {
            panic!("not a copy")
        };
        assert_eq!(c.columns, vec!["a", "b"]);
        assert!(c.options.header);
        assert!(matches!(
            classify("COPY t FROM STDIN"),
            Some(Intercept::Refuse(m)) if m.contains("FORMAT csv")
        ));
        assert!(matches!(
            classify("COPY t TO STDOUT"),
            Some(Intercept::Refuse(_))
        ));
        assert!(matches!(
            classify("COPY t FROM '/etc/passwd'"),
            Some(Intercept::Refuse(_))
        ));
    }
}
