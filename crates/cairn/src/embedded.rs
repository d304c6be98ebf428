//! [`Db`]: the engine plus a SQL session on a small query runtime of its own, so a program
//! that is not async can call [`Db::sql`] and get Arrow batches back.

use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use cairn_engine::{DbOptions, EngineError};
use cairn_query::{QueryError, QueryOutput, ScalarValue, Session};

/// The embedded database: every engine method (`write`, `write_lines`, `scan`, `flush`, ...)
/// through `Deref`, and SQL through [`Db::sql`] (blocking) or [`Db::session`] (async).
pub struct Db {
    engine: Arc<cairn_engine::Db>,
    session: Session,
    /// Started on the first blocking `sql` call: programs that never use it start no threads.
    runtime: OnceLock<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.engine.path())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (or creates) the database in `dir`; see [`cairn_engine::Db::open`].
    pub fn open(dir: impl AsRef<Path>, options: DbOptions) -> Result<Db, EngineError> {
        Ok(Db::from_engine(Arc::new(cairn_engine::Db::open(
            dir, options,
        )?)))
    }

    /// SQL over an engine handle already open.
    pub fn from_engine(engine: Arc<cairn_engine::Db>) -> Db {
        Db {
            session: Session::new(engine.clone()),
            engine,
            runtime: OnceLock::new(),
        }
    }

    /// The engine handle (shareable with other sessions, e.g. a server).
    pub fn engine(&self) -> &Arc<cairn_engine::Db> {
        &self.engine
    }

    /// This database's SQL session, for async programs: `db.session().sql(text, &[]).await`.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Runs `text` (one or more statements; `params` bind `$1`, `$2`, ... of a single
    /// statement, cast to the types the statement expects) and returns the last statement's
    /// output: its Arrow batches and command tag. Blocks the calling thread; from async code
    /// use [`Db::session`] instead.
    pub fn sql(&self, text: &str, params: &[ScalarValue]) -> Result<QueryOutput, QueryError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(QueryError::Invalid(
                "Db::sql blocks and cannot run inside an async runtime: use db.session().sql(text, params).await".into(),
            ));
        }
        let rt = match self.runtime.get() {
            Some(rt) => rt,
            None => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
                    .thread_name("cairn-sql")
                    .enable_all()
                    .build()
                    .map_err(|e| QueryError::Invalid(format!("cannot start query threads: {e}")))?;
                if let Err(raced) = self.runtime.set(rt) {
                    // Another thread started one first; use that.
                    raced.shutdown_background();
                }
                self.runtime
                    .get()
                    .ok_or_else(|| QueryError::Invalid("query runtime unavailable".into()))?
            }
        };
        rt.block_on(self.session.sql(text, params))
    }

    /// Flushes every memtable and closes the database (see [`cairn_engine::Db::close`]).
    /// If another handle from [`Db::engine`] is still alive, everything is flushed and the
    /// last handle closes it.
    pub fn close(self) -> Result<(), EngineError> {
        let Db {
            engine,
            session,
            runtime,
        } = self;
        drop(session);
        if let Some(rt) = runtime.into_inner() {
            rt.shutdown_background();
        }
        match Arc::try_unwrap(engine) {
            Ok(db) => db.close(),
            Err(shared) => shared.flush().map(|_| ()),
        }
    }
}

impl Deref for Db {
    type Target = cairn_engine::Db;

    fn deref(&self) -> &cairn_engine::Db {
        &self.engine
    }
}
