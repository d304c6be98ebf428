//! What PostgreSQL clients expect beyond SQL itself: `pg_catalog` (from datafusion-pg-catalog,
//! over cairn's catalog), `version()`, `current_database()`, and the rewriting of the
//! catalog queries psql, JDBC and Grafana send into SQL DataFusion plans.

use std::sync::{Arc, LazyLock, Mutex};

use cairn_query::datafusion::error::DataFusionError;

use super::settings::Settings;

use cairn_query::datafusion::arrow::datatypes::DataType;
use cairn_query::datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use cairn_query::datafusion::scalar::ScalarValue;
use cairn_query::{CATALOG, Session};
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// The PostgreSQL version cairn's wire protocol and catalogs follow.
pub const PG_VERSION: &str = "16.6";
/// `server_version_num` for [`PG_VERSION`].
pub const PG_VERSION_NUM: &str = "160006";

/// `server_version` as reported at startup and by `SHOW server_version`: PostgreSQL's
/// "version (distribution)" shape, which every driver parses.
pub fn server_version() -> String {
    format!("{PG_VERSION} (cairn {})", env!("CARGO_PKG_VERSION"))
}

/// What `SELECT version()` answers: PostgreSQL's shape (drivers and ORMs look for
/// "PostgreSQL <major>.<minor>"), naming cairn.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (cairn {}) on {}-linux, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

static PARSER: LazyLock<PostgresCompatibilityParser> =
    LazyLock::new(PostgresCompatibilityParser::new);

/// Installs `pg_catalog` and its functions into a session (a few milliseconds, so only
/// for sessions that send a statement [`needs_catalog`]).
pub fn install_catalog(session: &Session) {
    let ctx = session.context();
    if let Err(e) = datafusion_pg_catalog::setup_pg_catalog(ctx, CATALOG, EmptyContextProvider) {
        tracing::warn!(error = %e, "pg_catalog could not be installed");
    }
    install_functions(session);
    // PostgreSQL's type names in information_schema (DataFusion's own gives Arrow's).
    if let Some(catalog) = ctx.catalog(CATALOG) {
        ctx.state_ref()
            .write()
            .config_mut()
            .options_mut()
            .catalog
            .information_schema = false;
        let info = Arc::new(super::info_schema::InfoSchema::new(CATALOG, &catalog));
        if let Err(e) = catalog.register_schema(super::info_schema::NAME, info) {
            tracing::warn!(error = %e, "information_schema could not be installed");
        }
    }
    let db = session.database();
    set_current_database(session, &db);
}

/// `version()` answering as PostgreSQL.
pub fn install_functions(session: &Session) {
    let ctx = session.context();
    let version = version_string();
    ctx.register_udf(create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                version.clone(),
            ))))
        }),
    ));
}

/// Removes `pg_catalog` again: it refers back to the session's catalog, and that cycle
/// would keep the session (and the database) alive after the connection ends.
pub fn uninstall(session: &Session) {
    if let Some(catalog) = session.context().catalog(CATALOG)
        && let Err(e) = catalog.deregister_schema("pg_catalog", false)
    {
        tracing::warn!(error = %e, "removing pg_catalog");
    }
}

/// `current_setting(name)`: the session's setting, as `SHOW name` answers it (Grafana reads
/// `server_version_num` and `search_path` with it).
pub fn install_current_setting(session: &Session, settings: Arc<Mutex<Settings>>) {
    session.context().register_udf(create_udf(
        "current_setting",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let name = match args.first() {
                Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(n)))) => n.clone(),
                _ => {
                    return Err(DataFusionError::Plan(
                        "current_setting takes a constant setting name".into(),
                    ));
                }
            };
            let value = settings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .show(&name)
                .ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "unrecognized configuration parameter \"{name}\""
                    ))
                })?;
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(value))))
        }),
    ));
}

/// Registers `current_database()` answering `database` (called whenever it changes).
pub fn set_current_database(session: &Session, database: &str) {
    let name = database.to_owned();
    session.context().register_udf(create_udf(
        "current_database",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name.clone()))))
        }),
    ));
}

/// Catalog queries of PostgreSQL clients rewritten into SQL DataFusion plans (regclass
/// casts, `OPERATOR(pg_catalog.~)`, `ANY(array)`, ...). Statements that touch no
/// PostgreSQL-specific name are returned unchanged, so cairn's own SQL never goes through
/// the rewriter.
pub fn rewrite(statement: &str, settings: &Settings) -> String {
    if !needs_catalog(statement) {
        return statement.to_owned();
    }
    let substituted = super::search_path::substitute(
        statement,
        &settings.show("search_path").unwrap_or_default(),
        &settings.show("session_authorization").unwrap_or_default(),
    );
    let statement = substituted.as_deref().unwrap_or(statement);
    match PARSER.parse(statement) {
        Ok(parsed) if parsed.len() == 1 => parsed
            .first()
            .map_or_else(|| statement.to_owned(), ToString::to_string),
        // Not for the rewriter (cairn's own statements, or several): plan it as written
        // and let the planner report what it cannot do.
        _ => statement.to_owned(),
    }
}

/// Whether a statement may refer to PostgreSQL's catalogs or functions.
pub fn needs_catalog(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    [
        "pg_",
        "information_schema",
        "::reg",
        "operator(",
        "current_user",
        "session_user",
        "current_schema",
        "collate",
        "any(",
        "all(",
        "array[",
        "array(",
    ]
    .iter()
    .any(|k| lower.contains(k))
}
