//! A SQL session over a [`Db`]: DataFusion with cairn's catalog, `time_bucket`, cairn's own
//! statements, typed `$n` parameters, and a current database (`USE`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_engine::Db;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::config::Dialect;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{FunctionRegistry, SendableRecordBatchStream};
use datafusion::logical_expr::{DdlStatement, LogicalPlan, WriteOp};
use datafusion::optimizer::{Analyzer, AnalyzerRule};

use crate::agg_exec::EngineAggregation;
use crate::catalog::{CATALOG, CairnCatalog};
use crate::command;
use crate::error::{QueryError, Result, unsupported};
use crate::output::QueryOutput;
use crate::statement::parse_command;
use crate::time_bucket::TimeBucket;
use crate::untyped::{BooleanComparisons, UntypedLiterals, type_limit_placeholders};

/// How a [`Session`] plans and what it may use.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// Engine aggregation and answers from statistics (`false` only to compare with the
    /// generic plans).
    pub fast_paths: bool,
    /// Memory a query may hold for sorts, joins, aggregations and buffering; going over is
    /// an error (SQLSTATE 53200) instead of growing. `None`: no limit.
    pub memory_limit: Option<usize>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            fast_paths: true,
            memory_limit: None,
        }
    }
}

/// What [`Session::describe`] learns of a statement.
#[derive(Debug, Clone)]
pub struct Described {
    /// `$1`, `$2`, ...: the inferred type, `None` where the context does not tell.
    pub params: Vec<Option<DataType>>,
    /// The rows' schema; `None` for statements that return no rows.
    pub schema: Option<SchemaRef>,
}

/// A statement's result: a command that has run, or rows still to be pulled.
pub enum Execution {
    Done(QueryOutput),
    Rows {
        tag: String,
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
    },
}

impl std::fmt::Debug for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Execution::Done(o) => f.debug_tuple("Done").field(o).finish(),
            Execution::Rows { tag, schema, .. } => f
                .debug_struct("Rows")
                .field("tag", tag)
                .field("schema", schema)
                .finish_non_exhaustive(),
        }
    }
}

pub struct Session {
    db: Arc<Db>,
    ctx: SessionContext,
    database: Mutex<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("database", &self.database())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session in the default database, running queries on up to `available_parallelism`
    /// threads.
    pub fn new(db: Arc<Db>) -> Session {
        Session::with_fast_paths(db, true)
    }

    /// `fast_paths: false` plans every query the generic DataFusion way: no aggregation in
    /// the engine, no answers from statistics (to check that the fast paths agree with it).
    pub fn with_fast_paths(db: Arc<Db>, fast_paths: bool) -> Session {
        Session::with_options(
            db,
            SessionOptions {
                fast_paths,
                ..SessionOptions::default()
            },
        )
    }

    pub fn with_options(db: Arc<Db>, options: SessionOptions) -> Session {
        let fast_paths = options.fast_paths;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let database = command::default_database();
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(CATALOG, &database)
            .with_target_partitions(threads);
        config.options_mut().sql_parser.dialect = Dialect::PostgreSQL;
        let mut analyzer: Vec<Arc<dyn AnalyzerRule + Send + Sync>> =
            vec![Arc::new(UntypedLiterals)];
        analyzer.extend(Analyzer::new().rules);
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_analyzer_rules(analyzer);
        if let Some(limit) = options.memory_limit {
            let runtime = RuntimeEnvBuilder::new()
                .with_memory_limit(limit, 1.0)
                .build_arc();
            match runtime {
                Ok(r) => state = state.with_runtime_env(r),
                Err(e) => tracing::warn!(error = %e, "query memory limit not applied"),
            }
        }
        if fast_paths {
            state = state.with_physical_optimizer_rule(Arc::new(EngineAggregation));
        }
        let mut state = state.build();
        if let Err(e) = state.register_expr_planner(Arc::new(BooleanComparisons)) {
            tracing::warn!(error = %e, "boolean literal planner not registered");
        }
        let ctx = SessionContext::new_with_state(state);
        ctx.register_catalog(CATALOG, Arc::new(CairnCatalog::new(db.clone(), fast_paths)));
        ctx.register_udf(TimeBucket::udf());
        Session {
            db,
            ctx,
            database: Mutex::new(database),
        }
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The DataFusion context (for registering functions or inspecting plans).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The current database: unqualified collection names resolve in it.
    pub fn database(&self) -> String {
        self.database
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Makes `name` the current database (as `USE name`).
    pub fn use_database(&self, name: &str) -> Result<()> {
        if !self.db.databases().iter().any(|d| d == name) {
            return Err(QueryError::Engine(
                cairn_engine::EngineError::NoSuchDatabase(name.to_owned()),
            ));
        }
        self.set_database(name.to_owned());
        Ok(())
    }

    fn set_database(&self, name: String) {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().catalog.default_schema = name.clone();
        *self.database.lock().unwrap_or_else(|e| e.into_inner()) = name;
    }

    /// Runs every statement in `text` in order and returns the last one's output; `params`
    /// bind `$1`, `$2`, ... (only with a single statement).
    pub async fn sql(&self, text: &str, params: &[ScalarValue]) -> Result<QueryOutput> {
        let statements = split_statements(text)?;
        if statements.len() > 1 && !params.is_empty() {
            return Err(QueryError::Parameter(
                "parameters bind to a single statement; send the statements one by one".into(),
            ));
        }
        let mut last = None;
        for s in &statements {
            last = Some(self.statement(s, params).await?);
        }
        last.ok_or_else(|| QueryError::Syntax("empty query".into()))
    }

    /// Runs one statement and collects its rows.
    pub async fn statement(&self, text: &str, params: &[ScalarValue]) -> Result<QueryOutput> {
        match self.execute(text, params).await? {
            Execution::Done(out) => Ok(out),
            Execution::Rows {
                tag,
                schema,
                stream,
            } => {
                let batches = datafusion::physical_plan::common::collect(stream)
                    .await
                    .map_err(refine)?;
                Ok(QueryOutput::rows(&tag, schema, batches))
            }
        }
    }

    /// Runs one statement; rows come as a stream, pulled by the caller (a server sends
    /// them as they come instead of holding the whole result).
    pub async fn execute(&self, text: &str, params: &[ScalarValue]) -> Result<Execution> {
        if let Some(cmd) = parse_command(text)? {
            if !params.is_empty() {
                return Err(QueryError::Parameter(
                    "parameters are accepted by queries and INSERT, not by DDL".into(),
                ));
            }
            let db = self.db.clone();
            let current = self.database();
            let (out, new_db) =
                tokio::task::spawn_blocking(move || command::run(&db, &current, cmd))
                    .await
                    .map_err(|e| QueryError::Invalid(format!("statement failed: {e}")))??;
            if let Some(name) = new_db {
                self.set_database(name);
            }
            return Ok(Execution::Done(out));
        }
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(true)
            .with_allow_statements(true);
        let plan = self.plan(text).await?;
        options.verify_plan(&plan).map_err(refine)?;
        let df = self.ctx.execute_logical_plan(plan).await.map_err(refine)?;
        let tag = tag_of(df.logical_plan())?;
        let df = bind(df, params)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        if tag == "INSERT" {
            let batches = df.collect().await.map_err(refine)?;
            let n = batches
                .first()
                .and_then(|b| {
                    b.column(0)
                        .as_any()
                        .downcast_ref::<datafusion::arrow::array::UInt64Array>()
                })
                .map_or(0, |a| a.value(0));
            return Ok(Execution::Done(QueryOutput::command("INSERT", Some(n))));
        }
        let stream = df.execute_stream().await.map_err(refine)?;
        Ok(Execution::Rows {
            tag,
            schema,
            stream,
        })
    }

    /// What a statement takes and returns, without running it (the extended query
    /// protocol's Describe): parameter types as far as they can be inferred, and the row
    /// schema (`None`: the statement returns no rows). Read-only cairn statements that
    /// return rows (`SHOW COLLECTIONS`, `DESCRIBE`) are run to learn their columns.
    pub async fn describe(&self, text: &str) -> Result<Described> {
        if let Some(cmd) = parse_command(text)? {
            let schema = if cmd.returns_rows() {
                let db = self.db.clone();
                let current = self.database();
                let (out, _) =
                    tokio::task::spawn_blocking(move || command::run(&db, &current, cmd))
                        .await
                        .map_err(|e| QueryError::Invalid(format!("statement failed: {e}")))??;
                Some(out.schema)
            } else {
                None
            };
            return Ok(Described {
                params: Vec::new(),
                schema,
            });
        }
        let plan = self.plan(text).await?;
        let tag = tag_of(&plan)?;
        let params = ordered_params(&plan.get_parameter_types()?)?
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        let schema = match tag.as_str() {
            "INSERT" => None,
            _ if plan.schema().fields().is_empty() => None,
            _ => Some(Arc::new(plan.schema().as_arrow().clone())),
        };
        Ok(Described { params, schema })
    }

    /// The logical plan of a DataFusion statement, with PostgreSQL's types for untyped
    /// `LIMIT`/`OFFSET` parameters.
    async fn plan(&self, text: &str) -> Result<LogicalPlan> {
        let plan = self
            .ctx
            .state()
            .create_logical_plan(text)
            .await
            .map_err(refine)?;
        type_limit_placeholders(plan).map_err(refine)
    }

    /// The types the statement's parameters take (`$1` first), as far as DataFusion infers
    /// them from context; `None` where it cannot.
    pub async fn parameter_types(&self, text: &str) -> Result<Vec<Option<DataType>>> {
        if parse_command(text)?.is_some() {
            return Ok(Vec::new());
        }
        let plan = self.plan(text).await?;
        Ok(ordered_params(&plan.get_parameter_types()?)?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }
}

/// `$1..$n` in order; a gap is an error.
fn ordered_params(
    types: &HashMap<String, Option<DataType>>,
) -> Result<Vec<(usize, Option<DataType>)>> {
    let mut out: Vec<(usize, Option<DataType>)> = types
        .iter()
        .map(|(id, t)| {
            id.strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n >= 1)
                .map(|n| (n, t.clone()))
                .ok_or_else(|| {
                    QueryError::Parameter(format!("bad parameter {id}: write $1, $2, ..."))
                })
        })
        .collect::<Result<_>>()?;
    out.sort_by_key(|(n, _)| *n);
    for (i, (n, _)) in out.iter().enumerate() {
        if *n != i + 1 {
            return Err(QueryError::Parameter(format!(
                "parameter ${} is used but ${} is not",
                n,
                i + 1
            )));
        }
    }
    Ok(out)
}

/// Binds `params` to the plan's placeholders, cast to the types the plan infers.
fn bind(
    df: datafusion::dataframe::DataFrame,
    params: &[ScalarValue],
) -> Result<datafusion::dataframe::DataFrame> {
    let wanted = ordered_params(&df.logical_plan().get_parameter_types()?)?;
    if wanted.len() != params.len() {
        return Err(QueryError::Parameter(format!(
            "the statement has {} parameter(s), {} given",
            wanted.len(),
            params.len()
        )));
    }
    if params.is_empty() {
        return Ok(df);
    }
    let values = wanted
        .iter()
        .zip(params)
        .map(|((n, t), v)| match t {
            Some(t) if &v.data_type() != t => v.cast_to(t).map_err(|e| {
                QueryError::Parameter(format!(
                    "${n}: cannot use {v} ({}) as {t}: {e}",
                    v.data_type()
                ))
            }),
            _ => Ok(v.clone()),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(df.with_param_values(ParamValues::List(
        values.into_iter().map(Into::into).collect(),
    ))?)
}

/// The statement kind of a planned statement; DDL DataFusion would run itself is refused.
fn tag_of(plan: &LogicalPlan) -> Result<String> {
    Ok(match plan {
        LogicalPlan::Dml(d) => match d.op {
            WriteOp::Insert(_) => "INSERT".into(),
            ref op => return Err(unsupported(format!("{op}: collections are append-only"))),
        },
        LogicalPlan::Explain(_) | LogicalPlan::Analyze(_) => "EXPLAIN".into(),
        LogicalPlan::Ddl(d) => return Err(ddl_refusal(d)),
        LogicalPlan::Statement(s) => s.name().to_ascii_uppercase(),
        LogicalPlan::Copy(_) => return Err(unsupported("COPY ... TO")),
        _ => "SELECT".into(),
    })
}

fn ddl_refusal(d: &DdlStatement) -> QueryError {
    unsupported(format!(
        "{}: cairn's DDL is CREATE TIMESERIES / COLLECTION / DATABASE, DROP and ALTER ... ADD COLUMN",
        d.name()
    ))
}

/// DataFusion's refusal of DDL under our SQL options, in our words.
fn refine(e: datafusion::error::DataFusionError) -> QueryError {
    let msg = e.to_string();
    if let Some(rest) = msg.split("DDL not supported: ").nth(1) {
        return unsupported(format!(
            "{}: cairn's DDL is CREATE TIMESERIES / COLLECTION / DATABASE, DROP and ALTER ... ADD COLUMN",
            rest.trim()
        ));
    }
    e.into()
}

/// The statements of `text`, split at top-level semicolons, each exactly as written (quotes,
/// escapes and comments kept). Strings ('...' with '' inside, E'...' with backslash
/// escapes, $tag$...$tag$), quoted identifiers and comments (--, nested /* */) are respected;
/// statements with nothing but whitespace and comments are dropped. An unterminated string,
/// identifier or comment is a syntax error.
pub fn split_statements(text: &str) -> Result<Vec<String>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut meaningful = false;
    let mut i = 0;
    let unterminated = |what: &str| QueryError::Syntax(format!("unterminated {what}"));
    while i < b.len() {
        let c = b[i];
        match c {
            b';' => {
                if meaningful {
                    out.push(text[start..i].trim().to_owned());
                }
                start = i + 1;
                meaningful = false;
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 1;
                i += 2;
                while depth > 0 {
                    match (b.get(i), b.get(i + 1)) {
                        (Some(b'/'), Some(b'*')) => {
                            depth += 1;
                            i += 2;
                        }
                        (Some(b'*'), Some(b'/')) => {
                            depth -= 1;
                            i += 2;
                        }
                        (Some(_), _) => i += 1,
                        (None, _) => return Err(unterminated("comment")),
                    }
                }
            }
            b'\'' => {
                meaningful = true;
                // E'...' (also e'...'): backslash escapes; otherwise only '' escapes.
                let escapes = i > 0
                    && matches!(b[i - 1], b'E' | b'e')
                    && (i < 2 || !(b[i - 2].is_ascii_alphanumeric() || b[i - 2] == b'_'));
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(unterminated("quoted string")),
                        Some(b'\\') if escapes => i += 2,
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => i += 2,
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'"' => {
                meaningful = true;
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(unterminated("quoted identifier")),
                        Some(b'"') if b.get(i + 1) == Some(&b'"') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'$' => {
                meaningful = true;
                // $tag$ ... $tag$ (tag empty or an identifier); $1 is a parameter.
                let tag_end = b[i + 1..]
                    .iter()
                    .position(|&x| !(x.is_ascii_alphanumeric() || x == b'_'))
                    .map(|p| i + 1 + p);
                match tag_end {
                    Some(e)
                        if b[e] == b'$' && !b.get(i + 1).is_some_and(|x| x.is_ascii_digit()) =>
                    {
                        let tag = &b[i..=e];
                        let body = e + 1;
                        match b[body..].windows(tag.len()).position(|w| w == tag) {
                            Some(p) => i = body + p + tag.len(),
                            None => return Err(unterminated("dollar-quoted string")),
                        }
                    }
                    _ => i += 1,
                }
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                meaningful = true;
                i += 1;
            }
        }
    }
    if meaningful {
        out.push(text[start..].trim().to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod split_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::split_statements;

    #[test]
    fn statements_keep_their_text() {
        let s = split_statements(
            "SELECT 'it''s; here' AS a; -- c;\n SELECT E'x\\'; y' ; /* a /* b; */ c */ ;\
             SELECT $$a;b$$, $t$;$t$, $1; SELECT \"we;ird\"\"\" FROM t",
        )
        .unwrap();
        assert_eq!(
            s,
            vec![
                "SELECT 'it''s; here' AS a",
                "-- c;\n SELECT E'x\\'; y'",
                "SELECT $$a;b$$, $t$;$t$, $1",
                "SELECT \"we;ird\"\"\" FROM t",
            ]
        );
        assert!(
            split_statements(" ; -- only a comment\n ;")
                .unwrap()
                .is_empty()
        );
        assert!(split_statements("SELECT 'open").is_err());
        assert!(split_statements("SELECT /* open").is_err());
    }
}
