//! psql as a suite client: each case is one psql session (`-c` per statement, or a script
//! with `-f`), over the simple query protocol, with parameters inlined as SQL literals the way
//! a person types them. Output is unaligned with control-character separators and a NULL
//! marker, errors are read with their SQLSTATE (VERBOSITY verbose).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::harness::run_bounded;
use super::suite::{Case, ClientError, Outcome};

const FIELD_SEP: char = '\u{1f}';
const RECORD_SEP: char = '\u{1e}';
const NULL_MARK: &str = "\u{1}";

pub fn installed() -> bool {
    super::harness::client_available(
        "psql (Debian postgresql-client)",
        Command::new("psql").arg("--version"),
    )
}

/// Runs `case` with psql against the server on `port`; `work` holds script files.
pub fn run_case(port: u16, case: &Case, work: &Path) -> Outcome {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-q", "-A", "-t"])
        .args(["-F", &FIELD_SEP.to_string(), "-R", &RECORD_SEP.to_string()])
        .args(["-P", &format!("null={NULL_MARK}")])
        .args(["-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"])
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "cairn",
            "-d",
            "default",
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("TZ", "UTC")
        .env_remove("PGPASSWORD")
        .env_remove("PGOPTIONS")
        .env_remove("PGTZ")
        .env_remove("PGDATESTYLE");
    let steps: Vec<String> = case
        .sql
        .steps()
        .iter()
        .map(|s| inline(s, &case.params))
        .collect();
    if case.psql_script {
        let script = work.join(format!("{}.sql", case.name));
        std::fs::write(&script, steps.join("\n") + "\n").unwrap();
        cmd.arg("-f").arg(script);
    } else {
        for s in &steps {
            cmd.arg("-c").arg(s);
        }
    }
    let out = run_bounded(&mut cmd, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = (!out.status.success()).then(|| ClientError {
        sqlstate: sqlstate(&stderr),
        message: stderr.trim().to_owned(),
    });
    Outcome {
        case: case.name.clone(),
        rows: Some(rows(&stdout)),
        columns: None,
        rowcount: None,
        error,
    }
}

fn rows(stdout: &str) -> Vec<Vec<Option<String>>> {
    stdout
        .split([RECORD_SEP, '\n'])
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.split(FIELD_SEP)
                .map(|f| (f != NULL_MARK).then(|| f.to_owned()))
                .collect()
        })
        .collect()
}

/// `ERROR:  42P01: message` (VERBOSITY verbose).
fn sqlstate(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|l| {
        let rest = l.strip_prefix("ERROR:")?.trim_start();
        let code = rest.get(..5)?;
        (rest[5..].starts_with(':') && code.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| code.to_owned())
    })
}

/// `sql` with `$n` replaced by the n-th parameter as a SQL literal.
pub fn inline(sql: &str, params: &[(String, Value)]) -> String {
    if params.is_empty() {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut n = String::new();
        while let Some(&(_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
            n.push(d);
            chars.next();
        }
        match n.parse::<usize>() {
            Ok(i) if i >= 1 && i <= params.len() => out.push_str(&literal(&params[i - 1])),
            _ => {
                out.push('$');
                out.push_str(&n);
            }
        }
    }
    out
}

fn literal((ty, v): &(String, Value)) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    match (ty.as_str(), v) {
        (_, Value::Null) => "NULL".into(),
        ("float", Value::String(s)) => format!("CAST({} AS DOUBLE PRECISION)", quote(s)),
        ("int" | "float", Value::Number(n)) => n.to_string(),
        ("bool", Value::Bool(b)) => if *b { "TRUE" } else { "FALSE" }.into(),
        ("text" | "timestamp", Value::String(s)) => quote(s),
        _ => panic!("bad parameter {ty} {v}"),
    }
}
