//! Session settings as PostgreSQL clients use them: `SET name = value`, `SHOW name`, and the
//! parameters reported at startup. Settings that change behaviour (`statement_timeout`,
//! `search_path` naming a database) take effect; settings that only describe what cairn does
//! anyway (`client_encoding`, `DateStyle`, `TimeZone`) accept the values that are true of
//! cairn and refuse the others; unknown names are an error, as in PostgreSQL.

use std::collections::BTreeMap;
use std::time::Duration;

use super::compat;

/// A setting change refused: SQLSTATE and message.
pub type SettingError = (&'static str, String);

#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<String, String>,
    /// `statement_timeout` set by the client (`None`: the server's limit).
    pub statement_timeout: Option<Duration>,
}

/// Settings only stored and shown (they change nothing a cairn client could observe, or
/// they name what cairn does already).
const STORED: [&str; 16] = [
    "application_name",
    "extra_float_digits",
    "client_min_messages",
    "default_transaction_isolation",
    "transaction_isolation",
    "default_transaction_read_only",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "synchronous_commit",
    "jit",
    "bytea_output",
    "row_security",
    "enable_seqscan",
    "geqo",
    "max_parallel_workers_per_gather",
];

impl Settings {
    pub fn new(database: &str, user: &str) -> Settings {
        let mut values = BTreeMap::new();
        let mut put = |k: &str, v: &str| values.insert(k.to_owned(), v.to_owned());
        put("server_version", &compat::server_version());
        put("server_version_num", compat::PG_VERSION_NUM);
        put("server_encoding", "UTF8");
        put("client_encoding", "UTF8");
        put("datestyle", "ISO, MDY");
        put("intervalstyle", "postgres");
        put("timezone", "UTC");
        put("integer_datetimes", "on");
        put("standard_conforming_strings", "on");
        put("search_path", &quote_ident(database));
        put("application_name", "");
        put("extra_float_digits", "1");
        put("client_min_messages", "notice");
        put("transaction_isolation", "read committed");
        put("default_transaction_isolation", "read committed");
        put("default_transaction_read_only", "off");
        put("transaction_read_only", "off");
        put("is_superuser", "on");
        put("session_authorization", user);
        put("max_identifier_length", "63");
        put("statement_timeout", "0");
        put("lock_timeout", "0");
        put("idle_in_transaction_session_timeout", "0");
        put("idle_session_timeout", "0");
        put("synchronous_commit", "on");
        put("jit", "off");
        put("bytea_output", "hex");
        put("row_security", "on");
        put("enable_seqscan", "on");
        put("geqo", "on");
        put("max_parallel_workers_per_gather", "2");
        put("lc_collate", "C");
        put("lc_ctype", "C");
        put("block_size", "8192");
        Settings {
            values,
            statement_timeout: None,
        }
    }

    /// The value `SHOW name` answers, if `name` is a setting.
    pub fn show(&self, name: &str) -> Option<String> {
        let key = normalize(name);
        self.values.get(key.as_str()).cloned()
    }

    pub fn knows(&self, name: &str) -> bool {
        self.values.contains_key(normalize(name).as_str())
    }

    /// Applies `SET name = value` (`None`: back to the default). Returns the database to
    /// switch to when `search_path` names one.
    pub fn set(
        &mut self,
        name: &str,
        value: Option<&str>,
        databases: &[String],
    ) -> Result<Option<String>, SettingError> {
        let key = normalize(name);
        let fresh = Settings::new("default", "");
        let Some(value) = value.map(str::to_owned).or_else(|| fresh.show(&key)) else {
            return Err(unknown(name));
        };
        let v = value.trim().to_owned();
        let lower = v.to_ascii_lowercase();
        let mut switch_to = None;
        match key.as_str() {
            "client_encoding" => {
                if !matches!(lower.as_str(), "utf8" | "utf-8" | "unicode") {
                    return Err((
                        "22023",
                        format!("client_encoding {v}: cairn speaks UTF8 only"),
                    ));
                }
            }
            "timezone" => {
                if !matches!(
                    lower.as_str(),
                    "utc"
                        | "gmt"
                        | "etc/utc"
                        | "etc/gmt"
                        | "z"
                        | "zulu"
                        | "0"
                        | "+00:00"
                        | "00:00"
                        | "+00"
                        | "universal"
                        | "local"
                ) {
                    return Err((
                        "0A000",
                        format!(
                            "TimeZone {v}: cairn sessions run in UTC (timestamps are stored and \
                             shown in UTC); convert in the client or with AT TIME ZONE"
                        ),
                    ));
                }
            }
            "datestyle" => {
                if !lower.contains("iso") {
                    return Err(("0A000", format!("DateStyle {v}: cairn shows dates as ISO")));
                }
            }
            "intervalstyle" => {
                if lower != "postgres" {
                    return Err(("0A000", format!("IntervalStyle {v}: cairn uses postgres")));
                }
            }
            "standard_conforming_strings" | "integer_datetimes" => {
                if !matches!(lower.as_str(), "on" | "true" | "1") {
                    return Err(("0A000", format!("{key} is always on in cairn")));
                }
            }
            "statement_timeout" => {
                let d = parse_pg_duration(&v).ok_or_else(|| {
                    (
                        "22023",
                        format!("statement_timeout: {v:?} is not a duration (e.g. 5000, '5s')"),
                    )
                })?;
                self.statement_timeout = (!d.is_zero()).then_some(d);
            }
            "search_path" => {
                let first = v
                    .split(',')
                    .map(|s| s.trim().trim_matches('"'))
                    .find(|s| !s.is_empty() && *s != "$user");
                if let Some(db) = first.filter(|f| databases.iter().any(|d| d == f)) {
                    switch_to = Some(db.to_owned());
                }
            }
            "transaction_read_only"
            | "server_version"
            | "server_version_num"
            | "server_encoding"
            | "is_superuser"
            | "session_authorization"
            | "max_identifier_length"
            | "lc_collate"
            | "lc_ctype"
            | "block_size" => {
                return Err(("55P02", format!("parameter \"{key}\" cannot be changed")));
            }
            k if STORED.contains(&k) => {}
            _ => return Err(unknown(name)),
        }
        self.values.insert(key, v);
        Ok(switch_to)
    }

    /// Notes a database change made by `USE` (shown as `search_path`).
    pub fn database_changed(&mut self, database: &str) {
        self.values
            .insert("search_path".to_owned(), quote_ident(database));
    }
}

/// An identifier as PostgreSQL's `quote_ident` writes it: bare when it is a lower-case name
/// that is not a reserved word, quoted otherwise (so `search_path` shows `"default"`, and
/// clients comparing it with `quote_ident(table_schema)`, as Grafana does, find it).
pub fn quote_ident(name: &str) -> String {
    const RESERVED: [&str; 50] = [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "default",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "false",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "into",
        "leading",
        "limit",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "primary",
        "references",
        "select",
        "table",
        "then",
        "to",
        "true",
        "union",
        "user",
        "where",
    ];
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !RESERVED.contains(&name) {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn normalize(name: &str) -> String {
    let n = name.trim().trim_matches('"').to_ascii_lowercase();
    match n.as_str() {
        "time zone" => "timezone".into(),
        "transaction isolation level" => "transaction_isolation".into(),
        "session.application_name" => "application_name".into(),
        _ => n,
    }
}

fn unknown(name: &str) -> SettingError {
    (
        "42704",
        format!("unrecognized configuration parameter \"{}\"", name.trim()),
    )
}

/// PostgreSQL's time settings: a bare number is milliseconds; units ms, s, min, h.
fn parse_pg_duration(v: &str) -> Option<Duration> {
    let t = v.trim().trim_matches('\'');
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.checked_mul(1000)?,
        "min" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn set_and_show() {
        let dbs = vec!["default".to_string(), "metrics".to_string()];
        let mut s = Settings::new("default", "cairn");
        assert_eq!(
            s.show("server_version_num").unwrap(),
            compat::PG_VERSION_NUM
        );
        assert_eq!(
            s.show("TRANSACTION ISOLATION LEVEL").unwrap(),
            "read committed"
        );
        s.set("extra_float_digits", Some("3"), &dbs).unwrap();
        assert_eq!(s.show("extra_float_digits").unwrap(), "3");
        s.set("statement_timeout", Some("1500"), &dbs).unwrap();
        assert_eq!(s.statement_timeout, Some(Duration::from_millis(1500)));
        s.set("statement_timeout", None, &dbs).unwrap();
        assert_eq!(s.statement_timeout, None);
        assert_eq!(
            s.set("search_path", Some("metrics, public"), &dbs).unwrap(),
            Some("metrics".into())
        );
        assert_eq!(s.set("search_path", Some("public"), &dbs).unwrap(), None);
        assert_eq!(
            s.set("search_path", Some("\"default\""), &dbs).unwrap(),
            Some("default".into())
        );
        assert_eq!(
            Settings::new("default", "x").show("search_path").unwrap(),
            "\"default\""
        );
        assert_eq!(quote_ident("metrics"), "metrics");
        assert_eq!(quote_ident("My-Db"), "\"My-Db\"");
        assert_eq!(
            s.set("no_such_thing", Some("1"), &dbs).unwrap_err().0,
            "42704"
        );
        assert_eq!(
            s.set("TimeZone", Some("Europe/Paris"), &dbs).unwrap_err().0,
            "0A000"
        );
        s.set("TimeZone", Some("UTC"), &dbs).unwrap();
        assert_eq!(
            s.set("client_encoding", Some("LATIN1"), &dbs)
                .unwrap_err()
                .0,
            "22023"
        );
        assert_eq!(
            s.set("server_version", Some("1"), &dbs).unwrap_err().0,
            "55P02"
        );
    }
}
