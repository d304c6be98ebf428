//! Who may connect. With users configured: SCRAM-SHA-256 (passwords never cross the wire).
//! With none: loopback clients only, as the built-in user `cairn`, without a password.
//! Either way the database named at startup must exist (`default` when the client names none
//! or names its user, as libpq does by default).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::compat;
use super::conn::Conn;
use crate::config::{BUILTIN_USER, User};
use crate::state::ServerState;

const SCRAM_ITERATIONS: usize = 4096;

/// Salted passwords, computed once at server start.
#[derive(Debug)]
pub struct Credentials {
    users: HashMap<String, (Vec<u8>, Vec<u8>)>,
}

impl Credentials {
    pub fn new(users: &[User]) -> Credentials {
        Credentials {
            users: users
                .iter()
                .map(|u| {
                    let salt: [u8; 16] = rand_salt();
                    let salted = gen_salted_password(&u.password, &salt, SCRAM_ITERATIONS);
                    (u.name.clone(), (salt.to_vec(), salted))
                })
                .collect(),
        }
    }
}

fn rand_salt() -> [u8; 16] {
    use ring::rand::SecureRandom;
    let mut salt = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut salt).is_err() {
        // Without randomness the salt is still unique per server start and user.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        salt = t.to_le_bytes();
    }
    salt
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait]
impl AuthSource for Credentials {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or("");
        match self.users.get(user) {
            Some((salt, salted)) => Ok(Password::new(Some(salt.clone()), salted.clone())),
            None => Err(fatal(
                "28P01",
                format!("password authentication failed for user \"{user}\""),
            )),
        }
    }
}

pub fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_owned(),
        code.to_owned(),
        message,
    )))
}

/// The parameters reported at startup.
fn parameters() -> DefaultServerParameterProvider {
    let mut p = DefaultServerParameterProvider::default();
    p.server_version = compat::server_version();
    p.time_zone = "UTC".to_owned();
    p.search_path = super::settings::quote_ident("default");
    p
}

/// The trust path (no users configured): pgwire's no-password startup, with cairn's
/// server version reported after its defaults.
struct Trust {
    manager: Arc<ConnectionManager>,
}

#[async_trait]
impl NoopStartupHandler for Trust {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(self.manager.clone())
    }

    async fn post_startup<C>(
        &self,
        client: &mut C,
        _message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        for (k, v) in [
            ("server_version", compat::server_version()),
            ("TimeZone", "UTC".to_owned()),
            ("search_path", super::settings::quote_ident("default")),
        ] {
            client
                .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                    k.to_owned(),
                    v,
                )))
                .await?;
        }
        Ok(())
    }
}

/// The startup handler of one connection: checks, then trust or SCRAM, then the
/// connection's SQL state.
pub struct Startup {
    state: Arc<ServerState>,
    conn: Arc<OnceLock<Arc<Conn>>>,
    trust: Trust,
    scram: Option<SASLAuthStartupHandler<DefaultServerParameterProvider>>,
}

impl Startup {
    pub fn new(
        state: Arc<ServerState>,
        conn: Arc<OnceLock<Arc<Conn>>>,
        manager: Arc<ConnectionManager>,
        credentials: Option<Arc<Credentials>>,
    ) -> Startup {
        let scram = credentials.map(|c| {
            let mut auth = ScramAuth::new(c);
            auth.set_iterations(SCRAM_ITERATIONS);
            SASLAuthStartupHandler::new(Arc::new(parameters()))
                .with_scram(auth)
                .with_connection_manager(manager.clone())
        });
        Startup {
            state,
            conn,
            trust: Trust { manager },
            scram,
        }
    }

    /// Checks the startup message and prepares the connection's state.
    fn admit<C: ClientInfo>(
        &self,
        client: &C,
        params: &BTreeMap<String, String>,
    ) -> PgWireResult<()> {
        let user = params.get("user").map_or("", String::as_str);
        if self.scram.is_none() {
            if !client.socket_addr().ip().is_loopback() {
                return Err(fatal(
                    "28000",
                    format!(
                        "no users are configured, so cairn accepts only loopback connections \
                         (this one is from {}); add [[users]] to the configuration file",
                        client.socket_addr().ip()
                    ),
                ));
            }
            if user != BUILTIN_USER {
                return Err(fatal(
                    "28000",
                    format!(
                        "role \"{user}\" does not exist: with no users configured the only \
                         user is \"{BUILTIN_USER}\" (connect with -U {BUILTIN_USER} / \
                         user={BUILTIN_USER})"
                    ),
                ));
            }
        }
        let databases = self.state.db.databases();
        let asked = params.get("database").map(String::as_str);
        let database = match asked {
            Some(d) if databases.iter().any(|x| x == d) => d.to_owned(),
            None | Some("") => cairn_engine::DEFAULT_DATABASE.to_owned(),
            Some(d) if d == user => cairn_engine::DEFAULT_DATABASE.to_owned(),
            Some(d) => {
                return Err(fatal(
                    "3D000",
                    format!(
                        "database \"{d}\" does not exist (databases: {})",
                        databases.join(", ")
                    ),
                ));
            }
        };
        let conn = Conn::new(self.state.clone(), &database, user)
            .map_err(|e| fatal(e.sqlstate(), e.to_string()))?;
        if self.conn.set(Arc::new(conn)).is_err() {
            return Err(fatal("08P01", "a second startup message".into()));
        }
        Ok(())
    }
}

impl Debug for Startup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Startup")
            .field("scram", &self.scram.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(ref startup) = message {
            self.admit(client, &startup.parameters)?;
        }
        match &self.scram {
            Some(scram) => scram.on_startup(client, message).await,
            None => self.trust.on_startup(client, message).await,
        }
    }
}
