//! pgwire's handler traits for one connection: the simple query protocol (several
//! statements per message), the extended protocol (Parse with typed parameters and result
//! descriptions, Bind in text or binary, Execute with row limits), and COPY FROM STDIN.

use std::fmt::Debug;
use std::sync::{Arc, OnceLock};

use arrow_pg::datatypes::df::deserialize_parameters;
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, into_pg_type};
use async_trait::async_trait;
use cairn_query::datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use cairn_query::datafusion::common::ParamValues;
use cairn_query::{ScalarValue, split_statements};
use futures::{Sink, SinkExt};
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use tokio::sync::Mutex;

use super::conn::{Conn, error_info, query_error, user_error};
use super::copy::{self, CopyState};
use super::intercept::{Intercept, classify};
use super::names;

/// A parsed statement of the extended protocol.
#[derive(Debug, Clone)]
pub struct PgStatement {
    /// The SQL the session runs (after the PostgreSQL-compatibility rewrite).
    pub text: String,
    pub intercept: Option<Intercept>,
    pub params: Vec<Option<DataType>>,
    /// `None`: no rows.
    pub schema: Option<SchemaRef>,
}

/// Everything one connection needs; created at accept, filled in at startup.
pub struct Handler {
    pub conn: Arc<OnceLock<Arc<Conn>>>,
    parser: Arc<StatementParser>,
    copy: Mutex<Option<CopyState>>,
}

impl Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler").finish_non_exhaustive()
    }
}

impl Handler {
    pub fn new(conn: Arc<OnceLock<Arc<Conn>>>) -> Handler {
        Handler {
            parser: Arc::new(StatementParser { conn: conn.clone() }),
            conn,
            copy: Mutex::new(None),
        }
    }
}

fn conn_of(slot: &OnceLock<Arc<Conn>>) -> PgWireResult<Arc<Conn>> {
    slot.get()
        .cloned()
        .ok_or_else(|| user_error(error_info("08P01", "query before startup")))
}

/// Intercepts that stay intercepts: `SHOW x` of something that is not a setting goes to SQL.
fn intercept_of(conn: &Conn, text: &str) -> Option<Intercept> {
    classify(text).filter(|i| match i {
        Intercept::Show(name) => conn.settings.lock().map_or(true, |s| s.knows(name)),
        _ => true,
    })
}

impl Handler {
    /// Runs one statement with bound parameters.
    async fn statement(
        &self,
        conn: &Arc<Conn>,
        text: &str,
        intercept: Option<&Intercept>,
        params: &[ScalarValue],
        format: &Format,
    ) -> PgWireResult<Response> {
        conn.check_block(intercept)?;
        let result = match intercept {
            Some(Intercept::CopyIn(c)) => match copy::start(conn, c) {
                Ok((state, response)) => {
                    *self.copy.lock().await = Some(state);
                    Ok(response)
                }
                Err(e) => Err(e),
            },
            Some(i) => match conn.intercept(i) {
                Some(r) => r,
                None => conn.run_sql(text, params, format).await,
            },
            None => conn.run_sql(text, params, format).await,
        };
        if result.is_err() {
            conn.note_failure();
        }
        result
    }
}

#[async_trait]
impl SimpleQueryHandler for Handler {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_of(&self.conn)?;
        let statements = split_statements(query).map_err(|e| user_error(query_error(&e)))?;
        let mut out = Vec::with_capacity(statements.len());
        let last = statements.len().saturating_sub(1);
        for (i, s) in statements.iter().enumerate() {
            let intercept = intercept_of(&conn, s);
            if matches!(intercept, Some(Intercept::CopyIn(_))) && i != last {
                out.push(Response::Error(Box::new(error_info(
                    "0A000",
                    "COPY FROM STDIN must be the last statement of a query string",
                ))));
                break;
            }
            let text = if intercept.is_some() {
                s.clone()
            } else {
                conn.prepare_for(s);
                conn.rewrite(s)
            };
            match self
                .statement(&conn, &text, intercept.as_ref(), &[], &Format::UnifiedText)
                .await
            {
                Ok(r) => out.push(r),
                Err(e) => {
                    let info: ErrorInfo = e.into();
                    out.push(Response::Error(Box::new(info)));
                    break;
                }
            }
        }
        if out.is_empty() {
            out.push(Response::EmptyQuery);
        }
        Ok(out)
    }
}

/// Parses and describes statements for the extended protocol.
#[derive(Debug)]
pub struct StatementParser {
    conn: Arc<OnceLock<Arc<Conn>>>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = PgStatement;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<PgStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let conn = conn_of(&self.conn)?;
        let statements = split_statements(sql).map_err(|e| user_error(query_error(&e)))?;
        let text = match statements.as_slice() {
            [] => return Ok(None),
            [one] => one.clone(),
            _ => {
                return Err(user_error(error_info(
                    "42601",
                    "cannot insert multiple commands into a prepared statement",
                )));
            }
        };
        if let Some(i) = intercept_of(&conn, &text) {
            let schema = match &i {
                Intercept::Show(name) => Some(text_schema(name)),
                Intercept::CopyIn(c) => {
                    copy::target(&conn, c)?;
                    None
                }
                _ => None,
            };
            return Ok(Some(PgStatement {
                text,
                intercept: Some(i),
                params: Vec::new(),
                schema,
            }));
        }
        conn.prepare_for(&text);
        let text = conn.rewrite(&text);
        let described = conn
            .session
            .describe(&text)
            .await
            .map_err(|e| user_error(query_error(&e)))?;
        Ok(Some(PgStatement {
            intercept: None,
            params: described.params,
            schema: described.schema.map(|s| names::pg_names(&text, &s)),
            text,
        }))
    }

    fn get_parameter_types(&self, stmt: &PgStatement) -> PgWireResult<Vec<Type>> {
        Ok(stmt
            .params
            .iter()
            .map(|t| match t {
                Some(t) => into_pg_type(t).unwrap_or(Type::UNKNOWN),
                None => Type::UNKNOWN,
            })
            .collect())
    }

    fn get_result_schema(
        &self,
        stmt: &PgStatement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match &stmt.schema {
            Some(schema) => arrow_schema_to_pg_fields(
                schema,
                column_format.unwrap_or(&Format::UnifiedText),
                None,
            ),
            None => Ok(Vec::new()),
        }
    }
}

fn text_schema(name: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        name.replace(' ', "_"),
        DataType::Utf8,
        false,
    )]))
}

#[async_trait]
impl ExtendedQueryHandler for Handler {
    type Statement = PgStatement;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<StatementParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        portal: &Portal<PgStatement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = PgStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_of(&self.conn)?;
        let stmt = &portal.statement.statement;
        let inferred: Vec<Option<&DataType>> = stmt.params.iter().map(Option::as_ref).collect();
        let params = match deserialize_parameters(portal, &inferred)? {
            ParamValues::List(values) => values.into_iter().map(|v| v.value).collect(),
            ParamValues::Map(_) => Vec::new(),
        };
        self.statement(
            &conn,
            &stmt.text,
            stmt.intercept.as_ref(),
            &params,
            &portal.result_column_format,
        )
        .await
    }
}

#[async_trait]
impl CopyHandler for Handler {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_of(&self.conn)?;
        if let Some(state) = self.copy.lock().await.as_mut() {
            state.data(&conn, &copy_data.data).await;
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_of(&self.conn)?;
        let Some(state) = self.copy.lock().await.take() else {
            return Err(user_error(error_info("08P01", "CopyDone without COPY")));
        };
        match state.done(&conn).await {
            Ok(tag) => {
                client
                    .send(PgWireBackendMessage::CommandComplete(tag.into()))
                    .await?;
                Ok(())
            }
            Err(e) => {
                conn.note_failure();
                Err(e)
            }
        }
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = self.copy.lock().await.take();
        let mut written = 0;
        if let Some(conn) = self.conn.get() {
            if let Some(state) = state {
                written = state.abort(conn).await;
            }
            conn.note_failure();
        }
        let mut info = error_info("57014", format!("COPY from stdin failed: {}", fail.message));
        if written > 0 {
            info.detail = Some(format!(
                "{written} rows were already written and stay (COPY writes in batches, each \
                 durable when written)."
            ));
        }
        user_error(info)
    }
}
