//! The query layer's error: what went wrong, in words a user can act on, and the SQLSTATE a
//! PostgreSQL client expects for it.

use cairn_engine::EngineError;
use datafusion::error::DataFusionError;

pub type Result<T, E = QueryError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The text is not SQL we can parse.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// Valid SQL that cairn does not support; the message names the clause.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A name that does not resolve, a type mismatch, a bad option value.
    #[error("{0}")]
    Invalid(String),
    /// A value written as text that does not read as its type (`'maybe'` for a boolean).
    #[error("{0}")]
    InvalidText(String),
    /// A parameter is missing, extra or of the wrong type.
    #[error("parameter error: {0}")]
    Parameter(String),
    /// Cancelled: by the client, the time limit, or shutdown.
    #[error("canceling statement: {0}")]
    Canceled(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    DataFusion(Box<DataFusionError>),
}

impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> Self {
        // An engine error travelling through DataFusion comes back as itself.
        match e {
            DataFusionError::External(inner) => match inner.downcast::<EngineError>() {
                Ok(engine) => QueryError::Engine(*engine),
                Err(other) => match other.downcast::<QueryError>() {
                    Ok(query) => *query,
                    Err(other) => {
                        QueryError::DataFusion(Box::new(DataFusionError::External(other)))
                    }
                },
            },
            DataFusionError::SQL(e, _) => QueryError::Syntax(e.to_string()),
            DataFusionError::NotImplemented(m) => QueryError::Unsupported(m),
            DataFusionError::Context(ctx, inner) => match QueryError::from(*inner) {
                QueryError::DataFusion(d) => {
                    QueryError::DataFusion(Box::new(DataFusionError::Context(ctx, d)))
                }
                other => other,
            },
            other => QueryError::DataFusion(Box::new(other)),
        }
    }
}

impl QueryError {
    /// The SQLSTATE code of this error (PostgreSQL's table of codes).
    pub fn sqlstate(&self) -> &'static str {
        match self {
            QueryError::Syntax(_) => "42601",
            QueryError::Unsupported(_) => "0A000",
            QueryError::Invalid(_) => "42000",
            QueryError::InvalidText(_) => "22P02",
            QueryError::Parameter(_) => "08P01",
            QueryError::Canceled(_) => "57014",
            QueryError::Engine(e) => match e {
                EngineError::NoSuchDatabase(_) => "3D000",
                EngineError::NoSuchCollection(_) => "42P01",
                EngineError::AlreadyExists { .. } => "42P07",
                EngineError::InvalidIdentifier { .. } => "42602",
                EngineError::InvalidSchema(_) => "42P16",
                EngineError::InvalidValue { .. } | EngineError::InvalidWrite(_) => "22000",
                EngineError::InvalidOption { .. } => "22023",
                EngineError::Corrupt { .. } => "XX001",
                EngineError::Io { .. } | EngineError::Wal(_) | EngineError::Storage(_) => "58030",
                EngineError::Locked { .. } => "55006",
                EngineError::Closed | EngineError::Failed(_) => "57P01",
            },
            QueryError::DataFusion(e) => match e.find_root() {
                DataFusionError::SQL(..) => "42601",
                DataFusionError::NotImplemented(_) => "0A000",
                DataFusionError::Plan(m) if m.contains("table") && m.contains("not found") => {
                    "42P01"
                }
                DataFusionError::SchemaError(e, _) if e.to_string().contains("No field named") => {
                    "42703"
                }
                DataFusionError::SchemaError(..) | DataFusionError::Plan(_) => "42000",
                DataFusionError::ArrowError(..) => "22000",
                DataFusionError::ResourcesExhausted(_) => "53200",
                _ => "XX000",
            },
        }
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> QueryError {
    QueryError::Invalid(msg.into())
}

pub(crate) fn unsupported(msg: impl Into<String>) -> QueryError {
    QueryError::Unsupported(msg.into())
}

/// An engine error as a DataFusion error (it comes back out as [`QueryError::Engine`]).
pub(crate) fn to_df(e: EngineError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
