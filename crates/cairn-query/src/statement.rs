//! The statements cairn adds to SQL, parsed here with sqlparser's parser primitives; every
//! other statement goes to DataFusion. Anything in these statements cairn does not support
//! is an error naming it, never skipped.
//!
//! ```text
//! CREATE TIMESERIES [IF NOT EXISTS] name (col type [TIME_KEY | TAG | NULL | NOT NULL], ...)
//!     [WITH (partition_by = '1d', retention = '30d', ...)]
//! CREATE COLLECTION | TABLE [IF NOT EXISTS] name (...) [WITH (...)]
//! DROP TIMESERIES | COLLECTION | TABLE [IF EXISTS] name [, ...]
//! ALTER TIMESERIES | COLLECTION | TABLE name ADD [COLUMN] [IF NOT EXISTS] col type [TAG] [, ...]
//! CREATE DATABASE [IF NOT EXISTS] name    DROP DATABASE [IF EXISTS] name    USE name
//! SHOW COLLECTIONS [FROM db]    SHOW DATABASES    DESCRIBE name    CHECKPOINT
//! ```

use cairn_engine::{CollectionOptions, ColumnRole, ColumnSpec, ColumnType, SortOrder};
use datafusion::sql::sqlparser::ast::{DataType, ObjectName};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::error::{QueryError, Result, invalid, unsupported};
use crate::interval::parse_duration;

/// The column a `CREATE COLLECTION` without a TIME_KEY gets: the time each row was written.
pub const IMPLICIT_TIME_KEY: &str = "_time";

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    CreateCollection {
        name: Name,
        kind: &'static str,
        if_not_exists: bool,
        columns: Vec<ColumnSpec>,
        options: CollectionOptions,
    },
    DropCollections {
        names: Vec<Name>,
        if_exists: bool,
    },
    AddColumns {
        name: Name,
        if_not_exists: bool,
        columns: Vec<ColumnSpec>,
    },
    CreateDatabase {
        name: String,
        if_not_exists: bool,
    },
    DropDatabase {
        name: String,
        if_exists: bool,
    },
    Use(String),
    ShowCollections(Option<String>),
    ShowDatabases,
    Describe(Name),
    Checkpoint,
}

impl Command {
    /// Whether the statement answers with rows (and only reads).
    pub fn returns_rows(&self) -> bool {
        matches!(
            self,
            Command::ShowCollections(_) | Command::ShowDatabases | Command::Describe(_)
        )
    }
}

/// `[database.]collection`, as written (DataFusion's rules: unquoted names are lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub database: Option<String>,
    pub collection: String,
}

impl Name {
    /// `database.collection`, the unqualified form taking `current`.
    pub fn qualified(&self, current: &str) -> String {
        format!(
            "{}.{}",
            self.database.as_deref().unwrap_or(current),
            self.collection
        )
    }
}

/// The command `sql` (one statement) is, or `None` for DataFusion to plan.
pub fn parse_command(sql: &str) -> Result<Option<Command>> {
    let dialect = PostgreSqlDialect {};
    let mut p = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| QueryError::Syntax(e.to_string()))?;
    let cmd = match leading(&p, 2).as_slice() {
        [a, b] if a == "CREATE" && matches!(b.as_str(), "TIMESERIES" | "COLLECTION" | "TABLE") => {
            create_collection(&mut p)?
        }
        [a, b] if a == "CREATE" && matches!(b.as_str(), "DATABASE" | "SCHEMA") => {
            skip(&mut p, 2);
            let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
            Command::CreateDatabase {
                name: ident(&mut p)?,
                if_not_exists,
            }
        }
        [a, b] if a == "DROP" && matches!(b.as_str(), "TIMESERIES" | "COLLECTION" | "TABLE") => {
            skip(&mut p, 2);
            let if_exists = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
            let names = p.parse_comma_separated(name).map_err(syntax)?;
            refuse_drop_behaviour(&mut p)?;
            Command::DropCollections { names, if_exists }
        }
        [a, b] if a == "DROP" && matches!(b.as_str(), "DATABASE" | "SCHEMA") => {
            skip(&mut p, 2);
            let if_exists = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
            let name = ident(&mut p)?;
            refuse_drop_behaviour(&mut p)?;
            Command::DropDatabase { name, if_exists }
        }
        [a, b] if a == "ALTER" && matches!(b.as_str(), "TIMESERIES" | "COLLECTION" | "TABLE") => {
            alter(&mut p)?
        }
        [a, b] if a == "SHOW" && matches!(b.as_str(), "COLLECTIONS" | "TIMESERIES") => {
            skip(&mut p, 2);
            let db = if p.parse_keyword(Keyword::FROM) || p.parse_keyword(Keyword::IN) {
                Some(ident(&mut p)?)
            } else {
                None
            };
            Command::ShowCollections(db)
        }
        [a, b] if a == "SHOW" && matches!(b.as_str(), "DATABASES" | "SCHEMAS") => {
            skip(&mut p, 2);
            Command::ShowDatabases
        }
        [a, ..] if a == "DESCRIBE" || a == "DESC" => {
            skip(&mut p, 1);
            let _table = p.parse_keyword(Keyword::TABLE);
            Command::Describe(name(&mut p).map_err(syntax)?)
        }
        [a, ..] if a == "CHECKPOINT" => {
            skip(&mut p, 1);
            Command::Checkpoint
        }
        [a, ..] if a == "USE" => {
            skip(&mut p, 1);
            Command::Use(ident(&mut p)?)
        }
        [a, ..] if a == "COPY" => {
            return Err(unsupported(
                "COPY: export with SELECT; import with COPY ... FROM STDIN over the PostgreSQL protocol or `cairn import`",
            ));
        }
        _ => return Ok(None),
    };
    let _terminated = p.consume_token(&Token::SemiColon);
    let rest = p.peek_token();
    if rest.token != Token::EOF {
        return Err(QueryError::Syntax(format!(
            "unexpected {}{} (cairn runs one statement at a time here)",
            rest.token, rest.span.start
        )));
    }
    Ok(Some(cmd))
}

fn syntax(e: ParserError) -> QueryError {
    QueryError::Syntax(e.to_string())
}

/// The first `n` words, upper-cased (fewer if the statement is shorter or not words).
fn leading(p: &Parser<'_>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        match p.peek_nth_token(i).token {
            Token::Word(w) => out.push(w.value.to_ascii_uppercase()),
            _ => break,
        }
    }
    out
}

fn skip(p: &mut Parser<'_>, n: usize) {
    for _ in 0..n {
        p.next_token();
    }
}

/// Consumes `word` (not necessarily an SQL keyword) if it comes next.
fn word(p: &mut Parser<'_>, word: &str) -> bool {
    if let Token::Word(w) = &p.peek_token().token
        && w.quote_style.is_none()
        && w.value.eq_ignore_ascii_case(word)
    {
        p.next_token();
        return true;
    }
    false
}

fn ident(p: &mut Parser<'_>) -> Result<String> {
    let i = p.parse_identifier().map_err(syntax)?;
    Ok(normalise(i.value, i.quote_style.is_some()))
}

/// DataFusion's identifier rule: unquoted names are lower-cased.
fn normalise(s: String, quoted: bool) -> String {
    if quoted { s } else { s.to_lowercase() }
}

fn name(p: &mut Parser<'_>) -> Result<Name, ParserError> {
    let n: ObjectName = p.parse_object_name(false)?;
    let parts: Vec<String> =
        n.0.iter()
            .map(|part| match part.as_ident() {
                Some(i) => Ok(normalise(i.value.clone(), i.quote_style.is_some())),
                None => Err(ParserError::ParserError(format!("bad name {n}"))),
            })
            .collect::<Result<_, _>>()?;
    match parts.as_slice() {
        [c] => Ok(Name {
            database: None,
            collection: c.clone(),
        }),
        [d, c] => Ok(Name {
            database: Some(d.clone()),
            collection: c.clone(),
        }),
        [cat, d, c] if cat == crate::catalog::CATALOG => Ok(Name {
            database: Some(d.clone()),
            collection: c.clone(),
        }),
        _ => Err(ParserError::ParserError(format!(
            "{n}: name a collection as name or database.name"
        ))),
    }
}

fn refuse_drop_behaviour(p: &mut Parser<'_>) -> Result<()> {
    if let Some(k) = p.parse_one_of_keywords(&[Keyword::CASCADE, Keyword::RESTRICT]) {
        return Err(unsupported(format!("DROP ... {k:?}")));
    }
    Ok(())
}

fn create_collection(p: &mut Parser<'_>) -> Result<Command> {
    skip(p, 1);
    let kind = match leading(p, 1).first().map(String::as_str) {
        Some("TIMESERIES") => "TIMESERIES",
        Some("COLLECTION") => "COLLECTION",
        _ => "TABLE",
    };
    skip(p, 1);
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = name(p).map_err(syntax)?;
    if p.parse_keyword(Keyword::AS) {
        return Err(unsupported(format!(
            "CREATE {kind} ... AS SELECT: create the collection, then INSERT INTO ... SELECT"
        )));
    }
    if !p.consume_token(&Token::LParen) {
        return Err(QueryError::Syntax(format!(
            "CREATE {kind} {}: expected a column list in parentheses, found {}",
            name.collection,
            p.peek_token().token
        )));
    }
    let mut columns = vec![column_def(p)?];
    while p.consume_token(&Token::Comma) {
        columns.push(column_def(p)?);
    }
    p.expect_token(&Token::RParen).map_err(syntax)?;
    let options = if p.parse_keyword(Keyword::WITH) {
        with_options(p)?
    } else {
        CollectionOptions::default()
    };
    for c in &columns {
        check_column(c)?;
    }
    let keys = columns
        .iter()
        .filter(|c| c.role == ColumnRole::TimeKey)
        .count();
    if keys == 0 {
        if kind == "TIMESERIES" {
            return Err(invalid(format!(
                "CREATE TIMESERIES {}: mark the time column TIME_KEY (e.g. `ts TIMESTAMP TIME_KEY`)",
                name.collection
            )));
        }
        columns.push(ColumnSpec::time_key(IMPLICIT_TIME_KEY));
    }
    Ok(Command::CreateCollection {
        name,
        kind,
        if_not_exists,
        columns,
        options,
    })
}

/// Roles and nullability that do not fit together (the engine checks the rest).
fn check_column(c: &ColumnSpec) -> Result<()> {
    if c.role == ColumnRole::TimeKey && c.column_type != ColumnType::Timestamp {
        return Err(invalid(format!(
            "column {}: the TIME_KEY must be a TIMESTAMP",
            c.name
        )));
    }
    if c.role == ColumnRole::Tag && c.column_type != ColumnType::String {
        return Err(invalid(format!(
            "column {}: a TAG must be VARCHAR / TEXT",
            c.name
        )));
    }
    Ok(())
}

/// `name type [TIME_KEY | TAG | NULL | NOT NULL]...`
fn column_def(p: &mut Parser<'_>) -> Result<ColumnSpec> {
    let id = p.parse_identifier().map_err(syntax)?;
    let name = normalise(id.value, id.quote_style.is_some());
    let dt = p.parse_data_type().map_err(syntax)?;
    let column_type = column_type(&dt)?;
    let mut spec = ColumnSpec::field(name.clone(), column_type);
    let mut not_null = false;
    loop {
        if word(p, "TIME_KEY") {
            spec.role = ColumnRole::TimeKey;
        } else if word(p, "TAG") {
            spec.role = ColumnRole::Tag;
        } else if p.parse_keywords(&[Keyword::NOT, Keyword::NULL]) {
            not_null = true;
        } else if p.parse_keyword(Keyword::NULL) {
        } else {
            break;
        }
    }
    let next = p.peek_token().token;
    if !matches!(
        next,
        Token::Comma | Token::RParen | Token::SemiColon | Token::EOF
    ) {
        return Err(unsupported(format!(
            "column {name}: {next} (a column takes a type and TIME_KEY, TAG, NULL or NOT NULL)"
        )));
    }
    spec.nullable = spec.role != ColumnRole::TimeKey;
    if not_null && spec.role != ColumnRole::TimeKey {
        return Err(unsupported(format!(
            "column {name}: NOT NULL is only for the TIME_KEY (rows written before a column existed hold NULL)"
        )));
    }
    Ok(spec)
}

/// The cairn type of an SQL type.
pub fn column_type(dt: &DataType) -> Result<ColumnType> {
    let text = dt.to_string().to_ascii_uppercase();
    Ok(match text.as_str() {
        "TIMESTAMP"
        | "TIMESTAMPTZ"
        | "TIMESTAMP WITH TIME ZONE"
        | "TIMESTAMP WITHOUT TIME ZONE"
        | "DATETIME" => ColumnType::Timestamp,
        "BIGINT" | "INT8" | "INT64" | "INTEGER" | "INT" | "INT4" | "SMALLINT" | "INT2" => {
            ColumnType::I64
        }
        "BIGINT UNSIGNED" | "UBIGINT" | "UINT64" => ColumnType::U64,
        "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" | "FLOAT8" | "FLOAT64" | "REAL" | "FLOAT4" => {
            ColumnType::F64
        }
        "BOOLEAN" | "BOOL" => ColumnType::Bool,
        "VARCHAR" | "TEXT" | "STRING" | "CHARACTER VARYING" => ColumnType::String,
        t if t.starts_with("VARCHAR(")
            || t.starts_with("CHARACTER VARYING(")
            || t.starts_with("CHAR") =>
        {
            return Err(unsupported(format!(
                "type {dt}: cairn does not enforce string lengths; write VARCHAR or TEXT"
            )));
        }
        t if t.starts_with("NUMERIC") || t.starts_with("DECIMAL") => {
            return Err(unsupported(format!(
                "type {dt}: use DOUBLE, or BIGINT in a fixed unit (e.g. cents)"
            )));
        }
        _ => {
            return Err(unsupported(format!(
                "type {dt} (supported: TIMESTAMP, BIGINT, BIGINT UNSIGNED, DOUBLE, BOOLEAN, VARCHAR / TEXT)"
            )));
        }
    })
}

/// `(key = value, ...)` after WITH.
fn with_options(p: &mut Parser<'_>) -> Result<CollectionOptions> {
    let mut o = CollectionOptions::default();
    p.expect_token(&Token::LParen).map_err(syntax)?;
    loop {
        let key = ident(p)?;
        p.expect_token(&Token::Eq).map_err(syntax)?;
        let value = match p.next_token().token {
            Token::SingleQuotedString(s) | Token::Number(s, _) => s,
            Token::Word(w) => w.value,
            other => {
                return Err(QueryError::Syntax(format!(
                    "option {key}: unexpected {other}"
                )));
            }
        };
        let duration =
            |v: &str| parse_duration(v).map_err(|e| invalid(format!("option {key}: {e}")));
        match key.as_str() {
            "partition_by" | "partition_interval" => o.partition_interval_ns = duration(&value)?,
            "retention" => {
                o.retention_ns = match value.to_ascii_lowercase().as_str() {
                    "none" | "forever" | "infinite" => None,
                    _ => Some(duration(&value)?),
                }
            }
            "memtable_max_age" => {
                o.memtable_max_age_ms = (duration(&value)? / 1_000_000).max(1) as u64;
            }
            "memtable_max_bytes" => {
                o.memtable_max_bytes = value
                    .parse()
                    .map_err(|_| invalid(format!("option {key}: {value:?} is not a byte count")))?;
            }
            "allow_new_columns" => {
                o.allow_new_columns = match value.to_ascii_lowercase().as_str() {
                    "true" | "on" | "yes" => true,
                    "false" | "off" | "no" => false,
                    _ => {
                        return Err(invalid(format!(
                            "option {key}: {value:?} is not true or false"
                        )));
                    }
                }
            }
            "sort" | "sort_by" => {
                o.sort = match value.to_ascii_lowercase().as_str() {
                    "time" => SortOrder::Time,
                    "tags" | "tags_then_time" => SortOrder::TagsThenTime,
                    _ => {
                        return Err(invalid(format!(
                            "option {key}: {value:?} is not 'time' or 'tags'"
                        )));
                    }
                }
            }
            _ => {
                return Err(unsupported(format!(
                    "option {key} (known: partition_by, retention, memtable_max_bytes, memtable_max_age, allow_new_columns, sort)"
                )));
            }
        }
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    p.expect_token(&Token::RParen).map_err(syntax)?;
    Ok(o)
}

fn alter(p: &mut Parser<'_>) -> Result<Command> {
    skip(p, 2);
    let name = name(p).map_err(syntax)?;
    let mut columns = Vec::new();
    let mut if_not_exists = false;
    loop {
        if !p.parse_keyword(Keyword::ADD) {
            let t = p.peek_token().token;
            return Err(unsupported(format!(
                "ALTER ... {t}: a collection's columns can only be added (ALTER ... ADD COLUMN name type)"
            )));
        }
        let _column = p.parse_keyword(Keyword::COLUMN);
        if p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]) {
            if_not_exists = true;
        }
        let c = column_def(p)?;
        check_column(&c)?;
        if c.role == ColumnRole::TimeKey {
            return Err(invalid(
                "ALTER ... ADD COLUMN: a collection has one TIME_KEY, set at creation",
            ));
        }
        columns.push(c);
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    Ok(Command::AddColumns {
        name,
        if_not_exists,
        columns,
    })
}
