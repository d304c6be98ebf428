//! Line protocol into a server: the file's lines in requests of 10,000 whole lines to
//! `POST {http}/write?db=&precision=`. A 204 means the request's rows are durable. A 400
//! naming bad lines (the good ones are written) is reported line by line, numbered from the
//! start of the file, and the import goes on, as in-process; anything else stops it, saying
//! which lines the server had acknowledged.

use std::path::Path;
use std::time::Duration;

use cairn::Precision;
use serde_json::Value;

use super::lp::{self, Rejected};
use super::progress::Progress;
use super::remote::{HttpAddr, Server};
use super::{ImportArgs, new_progress, precision, shown};
use crate::error::CliError;

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take in all (a durable write of 10,000 lines takes far less).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// The status of a request whose rows are all durable.
const DURABLE: u16 = 204;
/// The status of a request with bad lines (the good ones are written) or a bad request.
const BAD_REQUEST: u16 = 400;

pub fn import(server: &Server, args: &ImportArgs) -> Result<(), CliError> {
    let precision = precision(args)?;
    let writer = Writer::new(&server.http, &server.database, precision);
    let mut progress = new_progress(args);
    let mut rejected = Rejected::default();
    for (i, file) in args.files.iter().enumerate() {
        let mut run = FileRun {
            file,
            earlier_files: i > 0,
            progress: &mut progress,
            rejected: &mut rejected,
        };
        if let Err(e) = run.import(&writer) {
            progress.clear();
            return Err(e);
        }
    }
    progress.finish(&format!(
        "imported into database {} at {}",
        server.database, server.http.base
    ));
    rejected.outcome()
}

/// One file's import.
struct FileRun<'a> {
    file: &'a Path,
    earlier_files: bool,
    progress: &'a mut Progress,
    rejected: &'a mut Rejected,
}

impl FileRun<'_> {
    fn import(&mut self, writer: &Writer) -> Result<(), CliError> {
        let mut reader = lp::reader(self.file)?;
        let mut chunk = Vec::new();
        // Lines of the file before the chunk (all acknowledged).
        let mut lines_before = 0u64;
        loop {
            let lines = lp::read_chunk(&mut reader, self.file, &mut chunk)? as u64;
            if lines == 0 {
                return Ok(());
            }
            self.progress.advance(chunk.len() as u64);
            let text = lp::checked_text(
                &chunk,
                self.progress,
                self.rejected,
                self.file,
                lines_before,
            );
            let rows = data_lines(&text);
            match writer.post(&text) {
                Ok(Answer::Durable) => self.progress.add_rows(rows),
                Ok(Answer::BadLines { listed, rejected }) => {
                    for e in &listed {
                        let message = format!("column {}: {}", e.column, e.message);
                        self.rejected.report(
                            self.progress,
                            self.file,
                            lines_before + e.line,
                            &message,
                        );
                    }
                    let unlisted = rejected.saturating_sub(listed.len() as u64);
                    if unlisted > 0 {
                        self.progress.println(format!(
                            "{}: {unlisted} more bad line(s) in lines {}-{} (the server lists \
                             at most {} per request)",
                            shown(self.file),
                            lines_before + 1,
                            lines_before + lines,
                            listed.len()
                        ));
                        self.rejected.add_unlisted(unlisted);
                    }
                    self.progress.add_rows(rows.saturating_sub(rejected));
                }
                Err(failure) => return Err(self.stopped(writer, lines_before, lines, &failure)),
            }
            lines_before += lines;
        }
    }

    /// The error that ends the import at the request for lines `lines_before + 1 ..`.
    fn stopped(
        &self,
        writer: &Writer,
        lines_before: u64,
        lines: u64,
        failure: &Failure,
    ) -> CliError {
        let file = shown(self.file);
        let first = lines_before + 1;
        let these = if lines == 1 {
            format!("line {first}")
        } else {
            format!("lines {first}-{}", lines_before + lines)
        };
        let acknowledged = match (lines_before, self.earlier_files) {
            (0, false) => "The server had acknowledged no line before.".to_owned(),
            (0, true) => "The server had acknowledged every line of the files before it, and \
                          none of this one."
                .to_owned(),
            (n, earlier) => format!(
                "The server had acknowledged (durably written) lines 1-{n} of {file}{}.",
                if earlier {
                    " and every line of the files before it"
                } else {
                    ""
                }
            ),
        };
        let rest = format!("tail -n +{first} {file} | cairn import --format lp ... -");
        let unreachable = format!(
            "Check that `cairn serve` is running with its HTTP listener at {} (--http).",
            writer.base
        );
        CliError::Invalid(match failure {
            Failure::Status { status, message } => {
                let hint = match *status {
                    401 | 403 => format!(
                        " Give the server's user and password as --http \
                         http://USER:PASSWORD@{}.",
                        writer.base.trim_start_matches("http://")
                    ),
                    404 => format!(
                        " Create the database first: cairn sql -c 'CREATE DATABASE {}'.",
                        writer.database
                    ),
                    _ => String::new(),
                };
                format!(
                    "{file}: the server at {} answered {status} to {these}: {message}.{hint}\n\
                     {acknowledged} The lines from {first} on were not written; to import them \
                     once the cause is fixed: {rest}",
                    writer.base
                )
            }
            Failure::NotSent(why) => format!(
                "{file}: cannot send {these} to {}/write: {why}. {unreachable}\n{acknowledged} \
                 The lines from {first} on were not written; to import them: {rest}",
                writer.base
            ),
            Failure::NoAnswer(why) => format!(
                "{file}: sending {these} to {}/write failed: {why}. {unreachable}\n\
                 {acknowledged} The server may or may not have written {these} (no answer \
                 came); later lines were not written: {rest}",
                writer.base
            ),
        })
    }
}

/// Lines that hold a row: not blank, not a comment.
fn data_lines(text: &str) -> u64 {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count() as u64
}

/// A bad line as the server names it (its number counted in the request).
#[derive(Debug, Clone, PartialEq)]
struct BadLine {
    line: u64,
    column: u64,
    message: String,
}

/// What the server answered to one request.
#[derive(Debug, PartialEq)]
enum Answer {
    /// 204: every row durable.
    Durable,
    /// 400 naming bad lines: the rest is written. `rejected` counts all of them, `listed` may
    /// hold fewer (the server lists at most 1,000).
    BadLines { listed: Vec<BadLine>, rejected: u64 },
}

/// Why a request failed: the import stops.
#[derive(Debug)]
enum Failure {
    Status {
        status: u16,
        message: String,
    },
    /// The request never reached the server (refused, no such host).
    NotSent(String),
    /// No answer (connection lost, timeout): the request may have been written.
    NoAnswer(String),
}

impl Failure {
    fn of(e: &ureq::Error) -> Failure {
        use ureq::{Error, Timeout};
        let not_sent = match e {
            Error::HostNotFound
            | Error::ConnectionFailed
            | Error::BadUri(_)
            | Error::Http(_)
            | Error::Timeout(Timeout::Resolve | Timeout::Connect) => true,
            Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
            _ => false,
        };
        if not_sent {
            Failure::NotSent(e.to_string())
        } else {
            Failure::NoAnswer(e.to_string())
        }
    }
}

/// POSTs line protocol to one server.
struct Writer {
    agent: ureq::Agent,
    /// `{base}/write?db=..&precision=..`
    url: String,
    base: String,
    database: String,
    credentials: Option<String>,
}

impl Writer {
    fn new(http: &HttpAddr, database: &str, precision: Precision) -> Writer {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Writer {
            agent,
            url: format!(
                "{}/write?db={}&precision={}",
                http.base,
                percent_encoded(database),
                precision_param(precision)
            ),
            base: http.base.clone(),
            database: database.to_owned(),
            credentials: http.credentials.clone(),
        }
    }

    fn post(&self, text: &str) -> Result<Answer, Failure> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("content-type", "text/plain; charset=utf-8");
        if let Some(c) = &self.credentials {
            request = request.header("authorization", &format!("Token {c}"));
        }
        let mut response = request.send(text.as_bytes()).map_err(|e| Failure::of(&e))?;
        let status = response.status().as_u16();
        if status == DURABLE {
            return Ok(Answer::Durable);
        }
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Failure::NoAnswer(format!("reading the answer ({status}): {e}")))?;
        answer_of(status, &body)
    }
}

/// A non-204 answer: bad lines (a 400 listing them), or the failure that stops the import.
fn answer_of(status: u16, body: &str) -> Result<Answer, Failure> {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let message = json
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("error")))
        .and_then(Value::as_str)
        .map_or_else(|| body.trim().to_owned(), str::to_owned);
    let listed = json
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array);
    match listed {
        Some(listed) if status == BAD_REQUEST && !listed.is_empty() => {
            let listed: Vec<BadLine> = listed
                .iter()
                .map(|e| BadLine {
                    line: e.get("line").and_then(Value::as_u64).unwrap_or(0),
                    column: e.get("column").and_then(Value::as_u64).unwrap_or(0),
                    message: e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                })
                .collect();
            let rejected = rejected_count(&message)
                .unwrap_or(0)
                .max(listed.len() as u64);
            Ok(Answer::BadLines { listed, rejected })
        }
        _ => Err(Failure::Status { status, message }),
    }
}

/// N from the server's "partial write: N of M lines rejected: ...".
fn rejected_count(message: &str) -> Option<u64> {
    message
        .strip_prefix("partial write: ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn precision_param(p: Precision) -> &'static str {
    match p {
        Precision::Nanoseconds => "ns",
        Precision::Microseconds => "us",
        Precision::Milliseconds => "ms",
        Precision::Seconds => "s",
    }
}

/// `text` for a URL query value: unreserved bytes as they are, the rest as `%XX`.
fn percent_encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_partial_write_lists_bad_lines() {
        let body = r#"{"code":"invalid","message":"partial write: 1200 of 5000 lines rejected: line 3: x","line":3,"errors":[{"line":3,"column":9,"message":"x"}]}"#;
        let Ok(Answer::BadLines { listed, rejected }) = answer_of(400, body) else {
            panic!("not bad lines")
        };
        assert_eq!(rejected, 1200);
        assert_eq!(
            listed,
            [BadLine {
                line: 3,
                column: 9,
                message: "x".into()
            }]
        );
        // A 400 naming no lines (a bad database name) stops the import.
        let body = r#"{"code":"invalid","message":"bad query string"}"#;
        assert!(matches!(
            answer_of(400, body),
            Err(Failure::Status { status: 400, message }) if message == "bad query string"
        ));
        assert!(matches!(
            answer_of(503, "down"),
            Err(Failure::Status { status: 503, message }) if message == "down"
        ));
    }

    #[test]
    fn rows_and_query_values() {
        assert_eq!(data_lines("a x=1\n\n# c\n  \nb x=2"), 2);
        assert_eq!(percent_encoded("my db/é"), "my%20db%2F%C3%A9");
    }
}
