//! The running server an import goes to: its PostgreSQL address (CSV, by COPY), its HTTP
//! address (line protocol, by `POST /write`) and the database.

use tokio_postgres::config::Host;

use super::{ImportArgs, InputFormat};
use crate::error::CliError;

/// The HTTP address of `cairn serve` run with no flags.
pub const DEFAULT_HTTP: &str = "http://127.0.0.1:8086";

/// Where and as whom to import.
#[derive(Debug)]
pub struct Server {
    /// The PostgreSQL connection, its database set to [`Server::database`].
    pub pg: tokio_postgres::Config,
    /// The PostgreSQL URL as shown to the user (no password).
    pub pg_shown: String,
    pub http: HttpAddr,
    pub database: String,
}

/// The server's HTTP API: `http://host:port[/prefix]` and the credentials to send.
#[derive(Debug, Clone)]
pub struct HttpAddr {
    /// Without a trailing `/` and without credentials.
    pub base: String,
    /// `USER:PASSWORD`, sent as `Authorization: Token USER:PASSWORD`.
    pub credentials: Option<String>,
}

impl Server {
    /// The server `url` names, with --http and --database applied.
    pub fn new(args: &ImportArgs, url: &str) -> Result<Server, CliError> {
        let mut pg: tokio_postgres::Config = url.parse().map_err(|e| {
            CliError::Invalid(format!(
                "--url {:?} is not a PostgreSQL URL ({e}); write \
                 postgres://user[:password]@host:port/database",
                without_password(url)
            ))
        })?;
        let database = args
            .database
            .clone()
            .or_else(|| pg.get_dbname().map(str::to_owned))
            .unwrap_or_else(|| cairn::DEFAULT_DATABASE.to_owned());
        pg.dbname(&database);
        let http = match &args.http {
            Some(text) => HttpAddr::parse(text)?,
            None => HttpAddr::beside(&pg),
        };
        Ok(Server {
            pg,
            pg_shown: without_password(url),
            http,
            database,
        })
    }

    /// The address the import of `format` uses.
    pub fn address(&self, format: InputFormat) -> String {
        match format {
            InputFormat::Csv => self.pg_shown.clone(),
            InputFormat::Lp => self.http.base.clone(),
        }
    }
}

impl HttpAddr {
    /// `http://[USER:PASSWORD@]HOST:PORT[/prefix]`, or just `HOST:PORT`.
    pub fn parse(text: &str) -> Result<HttpAddr, CliError> {
        let rest = match text.split_once("://") {
            None => text,
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(CliError::Invalid(format!(
                    "--http {text:?}: cairn import speaks plain HTTP ({scheme}:// is not \
                     supported); give http://HOST:PORT, the server's --http-listen address"
                )));
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (credentials, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user.to_owned()), host),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(CliError::Invalid(format!(
                "--http {text:?} names no host; give http://HOST:PORT, e.g. {DEFAULT_HTTP}"
            )));
        }
        Ok(HttpAddr {
            base: format!("http://{host}{}", path.trim_end_matches('/')),
            credentials,
        })
    }

    /// The default HTTP port on the PostgreSQL URL's host, with its user and password.
    fn beside(pg: &tokio_postgres::Config) -> HttpAddr {
        let host = match pg.get_hosts().first() {
            Some(Host::Tcp(h)) if h.contains(':') => format!("[{h}]"),
            Some(Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = cairn_server::config::DEFAULT_HTTP_LISTEN
            .rsplit_once(':')
            .map_or("8086", |(_, p)| p);
        let credentials = match (pg.get_user(), pg.get_password()) {
            (Some(user), Some(password)) => std::str::from_utf8(password)
                .ok()
                .map(|p| format!("{user}:{p}")),
            _ => None,
        };
        HttpAddr {
            base: format!("http://{host}:{port}"),
            credentials,
        }
    }
}

/// A URL with the password of its user info (if any) replaced by `***`, for messages.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn http_addresses() {
        let a = HttpAddr::parse("http://u:p@127.0.0.1:8086/").unwrap();
        assert_eq!(a.base, "http://127.0.0.1:8086");
        assert_eq!(a.credentials.as_deref(), Some("u:p"));
        let a = HttpAddr::parse("localhost:9000").unwrap();
        assert_eq!(a.base, "http://localhost:9000");
        assert!(a.credentials.is_none());
        assert!(HttpAddr::parse("https://x:1").is_err());
        let pg: tokio_postgres::Config = "postgres://me:pw@db.example:5432/d".parse().unwrap();
        let a = HttpAddr::beside(&pg);
        assert_eq!(a.base, "http://db.example:8086");
        assert_eq!(a.credentials.as_deref(), Some("me:pw"));
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            without_password("postgres://me:secret@h:5432/d"),
            "postgres://me:***@h:5432/d"
        );
        assert_eq!(without_password("postgres://me@h/d"), "postgres://me@h/d");
    }
}
