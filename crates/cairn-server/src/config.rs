//! The server's configuration: command-line flags, each also an environment variable
//! (`CAIRN_*`), over an optional TOML file (`--config`), over the defaults. Every listener is
//! on loopback unless configured otherwise.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::error::{Result, ServerError};

/// PostgreSQL's own port, so `psql -h localhost` and every driver's default reach cairn.
pub const DEFAULT_PG_LISTEN: &str = "127.0.0.1:5432";
/// InfluxDB's HTTP port, so InfluxDB clients and Telegraf reach cairn's write API unchanged.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8086";
/// The usual port of line protocol over TCP (as QuestDB's).
pub const DEFAULT_ILP_LISTEN: &str = "127.0.0.1:9009";

/// `cairn serve`'s flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Data directory (created if missing). Default: $XDG_DATA_HOME/cairn, or
    /// ~/.local/share/cairn.
    #[arg(long, env = "CAIRN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL wire protocol address [default: 127.0.0.1:5432]. `off` disables it.
    #[arg(long, env = "CAIRN_PG_LISTEN", value_name = "ADDR")]
    pub pg_listen: Option<String>,
    /// HTTP address: /query, /write, /api/v2/write, /health, /metrics
    /// [default: 127.0.0.1:8086]. `off` disables it.
    #[arg(long, env = "CAIRN_HTTP_LISTEN", value_name = "ADDR")]
    pub http_listen: Option<String>,
    /// Line protocol over TCP, newline-delimited [default: 127.0.0.1:9009]. `off` disables it.
    #[arg(long, env = "CAIRN_ILP_LISTEN", value_name = "ADDR")]
    pub ilp_listen: Option<String>,
    /// TOML configuration file; flags and environment variables override its settings.
    /// See docs/SERVER.md for every key.
    #[arg(long, env = "CAIRN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// PEM certificate chain for TLS on the PostgreSQL port (with --tls-key).
    #[arg(
        long,
        env = "CAIRN_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8) for --tls-cert.
    #[arg(
        long,
        env = "CAIRN_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Most client connections at once, over all protocols [default: 1000].
    #[arg(long, env = "CAIRN_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Longest line-protocol line or COPY CSV record, in bytes [default: 1048576].
    #[arg(long, env = "CAIRN_MAX_LINE_BYTES", value_name = "BYTES")]
    pub max_line_bytes: Option<usize>,
    /// Largest HTTP request body, after gzip decoding, in bytes [default: 268435456].
    /// (COPY and line protocol over TCP stream, so they have no total limit.)
    #[arg(long, env = "CAIRN_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Longest PostgreSQL protocol message (a query, a bound parameter set, a COPY data
    /// chunk), in bytes [default: 16777216]. Longer ones are refused with 54000 before they
    /// are read.
    #[arg(long, env = "CAIRN_MAX_MESSAGE_BYTES", value_name = "BYTES")]
    pub max_message_bytes: Option<usize>,
    /// A query running longer is cancelled, e.g. 30s, 5m [default: 5m; 0 = no limit].
    #[arg(long, env = "CAIRN_QUERY_TIMEOUT", value_name = "DURATION")]
    pub query_timeout: Option<String>,
    /// Memory one query may use for sorts, joins and aggregations, in bytes
    /// [default: 2147483648].
    #[arg(long, env = "CAIRN_QUERY_MEMORY_BYTES", value_name = "BYTES")]
    pub query_memory_bytes: Option<usize>,
    /// A client idle this long in the middle of a message or request is disconnected
    /// [default: 30s].
    #[arg(long, env = "CAIRN_IDLE_TIMEOUT", value_name = "DURATION")]
    pub idle_timeout: Option<String>,
}

/// The TOML file: every flag's setting (with `_` for `-`), plus users.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    pg_listen: Option<String>,
    http_listen: Option<String>,
    ilp_listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    max_connections: Option<usize>,
    max_line_bytes: Option<usize>,
    max_body_bytes: Option<usize>,
    max_message_bytes: Option<usize>,
    query_timeout: Option<String>,
    query_memory_bytes: Option<usize>,
    idle_timeout: Option<String>,
    #[serde(default)]
    users: Vec<User>,
}

/// A user who may log in with SCRAM-SHA-256 (PostgreSQL) or HTTP basic/token auth.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_line_bytes: usize,
    pub max_body_bytes: usize,
    pub max_message_bytes: usize,
    /// `None`: no limit.
    pub query_timeout: Option<Duration>,
    pub query_memory_bytes: usize,
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1000,
            max_line_bytes: 1 << 20,
            max_body_bytes: 256 << 20,
            max_message_bytes: 16 << 20,
            query_timeout: Some(Duration::from_secs(300)),
            query_memory_bytes: 2 << 30,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub pg_listen: Option<SocketAddr>,
    pub http_listen: Option<SocketAddr>,
    pub ilp_listen: Option<SocketAddr>,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Empty: only loopback clients, as the built-in user `cairn`, without a password.
    pub users: Vec<User>,
    pub limits: Limits,
}

/// The built-in user when no users are configured.
pub const BUILTIN_USER: &str = "cairn";

impl ServerConfig {
    /// Flags (and environment) over the TOML file over the defaults.
    pub fn resolve(args: &ServeArgs) -> Result<ServerConfig> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let pick = |flag: &Option<String>, file: &Option<String>, default: &str, what: &str| {
            let text = flag.as_deref().or(file.as_deref()).unwrap_or(default);
            parse_listen(text, what)
        };
        let defaults = Limits::default();
        let limits = Limits {
            max_connections: args
                .max_connections
                .or(file.max_connections)
                .unwrap_or(defaults.max_connections),
            max_line_bytes: args
                .max_line_bytes
                .or(file.max_line_bytes)
                .unwrap_or(defaults.max_line_bytes),
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(defaults.max_body_bytes),
            max_message_bytes: args
                .max_message_bytes
                .or(file.max_message_bytes)
                .unwrap_or(defaults.max_message_bytes),
            query_timeout: match args.query_timeout.as_ref().or(file.query_timeout.as_ref()) {
                Some(t) => Some(parse_duration(t, "query_timeout")?).filter(|d| !d.is_zero()),
                None => defaults.query_timeout,
            },
            query_memory_bytes: args
                .query_memory_bytes
                .or(file.query_memory_bytes)
                .unwrap_or(defaults.query_memory_bytes),
            idle_timeout: match args.idle_timeout.as_ref().or(file.idle_timeout.as_ref()) {
                Some(t) => parse_duration(t, "idle_timeout")?,
                None => defaults.idle_timeout,
            },
        };
        if limits.max_connections == 0
            || limits.max_line_bytes == 0
            || limits.max_body_bytes == 0
            || limits.max_message_bytes < 1024
        {
            return Err(ServerError::Config(
                "max_connections, max_line_bytes and max_body_bytes must be at least 1, and \
                 max_message_bytes at least 1024"
                    .into(),
            ));
        }
        let tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(ServerError::Config(
                    "TLS needs both a certificate (tls_cert) and a key (tls_key)".into(),
                ));
            }
        };
        for u in &file.users {
            if u.name.is_empty() || u.password.is_empty() {
                return Err(ServerError::Config(
                    "every [[users]] entry needs a non-empty name and password".into(),
                ));
            }
        }
        Ok(ServerConfig {
            data_dir: match args.data_dir.clone().or(file.data_dir) {
                Some(d) => d,
                None => default_data_dir()?,
            },
            pg_listen: pick(
                &args.pg_listen,
                &file.pg_listen,
                DEFAULT_PG_LISTEN,
                "pg_listen",
            )?,
            http_listen: pick(
                &args.http_listen,
                &file.http_listen,
                DEFAULT_HTTP_LISTEN,
                "http_listen",
            )?,
            ilp_listen: pick(
                &args.ilp_listen,
                &file.ilp_listen,
                DEFAULT_ILP_LISTEN,
                "ilp_listen",
            )?,
            tls,
            users: file.users,
            limits,
        })
    }

    /// A configuration for tests: everything on loopback port 0 (the OS picks), no users.
    pub fn for_tests(data_dir: &Path) -> ServerConfig {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        ServerConfig {
            data_dir: data_dir.to_path_buf(),
            pg_listen: Some(any),
            http_listen: Some(any),
            ilp_listen: Some(any),
            tls: None,
            users: Vec::new(),
            limits: Limits::default(),
        }
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ServerError::Config(format!("cannot read config file {}: {e}", path.display()))
    })?;
    toml::from_str(&text)
        .map_err(|e| ServerError::Config(format!("config file {}: {e}", path.display())))
}

/// `host:port`, or `off`.
fn parse_listen(text: &str, what: &str) -> Result<Option<SocketAddr>> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if let Ok(addr) = text.parse() {
        return Ok(Some(addr));
    }
    // A host name (localhost:5432): its first address.
    use std::net::ToSocketAddrs;
    text.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map(Some)
        .ok_or_else(|| {
            ServerError::Config(format!(
                "{what}: {text:?} is not an address; write host:port (e.g. 127.0.0.1:5432, \
                 localhost:5432 or 0.0.0.0:5432) or off"
            ))
        })
}

/// `30s`, `5m`, `1h`, `250ms`, or a bare number of seconds.
pub fn parse_duration(text: &str, what: &str) -> Result<Duration> {
    let t = text.trim();
    let bad = || {
        ServerError::Config(format!(
            "{what}: {text:?} is not a duration; write e.g. 250ms, 30s, 5m or 1h"
        ))
    };
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let ms = match unit.trim() {
        "" | "s" => n.checked_mul(1000),
        "ms" => Some(n),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    }
    .ok_or_else(bad)?;
    Ok(Duration::from_millis(ms))
}

/// `cairn serve`'s data directory when none is given: `$XDG_DATA_HOME/cairn`, else
/// `~/.local/share/cairn`.
pub fn default_data_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("cairn"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/cairn")),
        None => Err(ServerError::Config(
            "no data directory: pass --data-dir (HOME and XDG_DATA_HOME are unset)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn flags_override_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cairn.toml");
        std::fs::write(
            &file,
            "data_dir = \"/from/file\"\nhttp_listen = \"0.0.0.0:9999\"\nilp_listen = \"off\"\n\
             query_timeout = \"2m\"\n[[users]]\nname = \"alice\"\npassword = \"s3cret\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            data_dir: Some("/from/flag".into()),
            ..ServeArgs::default()
        };
        let c = ServerConfig::resolve(&args).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.http_listen, Some("0.0.0.0:9999".parse().unwrap()));
        assert_eq!(c.pg_listen, Some(DEFAULT_PG_LISTEN.parse().unwrap()));
        assert_eq!(c.ilp_listen, None);
        assert_eq!(c.limits.query_timeout, Some(Duration::from_secs(120)));
        assert_eq!(c.users.len(), 1);
    }

    #[test]
    fn bad_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cairn.toml");
        std::fs::write(&file, "pg_port = 5\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            ..ServeArgs::default()
        };
        let e = ServerConfig::resolve(&args).unwrap_err().to_string();
        assert!(e.contains("pg_port"), "{e}");
        let args = ServeArgs {
            pg_listen: Some("no-port-here".into()),
            data_dir: Some("/x".into()),
            ..ServeArgs::default()
        };
        let e = ServerConfig::resolve(&args).unwrap_err().to_string();
        assert!(e.contains("pg_listen") && e.contains("host:port"), "{e}");
        assert!(parse_duration("5 parsecs", "t").is_err());
        assert_eq!(
            parse_duration("250ms", "t").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_duration("90", "t").unwrap(), Duration::from_secs(90));
    }
}
