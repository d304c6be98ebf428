//! The InfluxDB line protocol: `measurement[,tag=value...] field=value[,field=value...] [timestamp]`.
//!
//! Pure parsing, no I/O and no schema: tag values are always strings, field values carry the type
//! their syntax gives them, and whether a line fits a collection is the caller's question. The
//! input is `&str` (the caller checked UTF-8). Unescaped names and strings are borrowed from the
//! text; only those holding an escape allocate.
//!
//! Syntax decisions where the InfluxDB documentation leaves room:
//! - Escapes: in a measurement `\,` `\ ` `\\`; in tag keys, tag values and field keys `\,` `\=`
//!   `\ ` `\\`; in string field values `\"` `\\`. A backslash before any other byte is kept.
//! - The text is split on `\n` first, so a quoted string never spans lines. A trailing `\r` is
//!   dropped, spaces and tabs around the line are trimmed, and blank lines and lines whose first
//!   non-blank byte is `#` are skipped. Sections are separated by one or more spaces (not tabs).
//! - Numbers: floats are `-?digits[.digits][(e|E)[+-]digits]` (`1.` and `.5` included); a leading
//!   `+`, `inf`, `nan` and values beyond `f64` range are errors. `123i` is i64, `123u` is u64.
//! - A tag value may not hold an unescaped `=`. Duplicate tag or field keys are errors.
//! - Errors are reported left to right: a line's duplicate tag keys are checked when its tag set
//!   ends, its duplicate field keys when its field set ends.

mod line;
mod scan;
mod value;

use std::borrow::Cow;
use std::fmt;

/// The unit of the timestamps in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
}

impl Precision {
    /// Parses the names the InfluxDB write APIs use: `ns`, `us` (or v1's `u`), `ms`, `s`.
    pub fn parse(s: &str) -> Result<Precision, String> {
        match s {
            "ns" => Ok(Precision::Nanoseconds),
            "us" | "u" => Ok(Precision::Microseconds),
            "ms" => Ok(Precision::Milliseconds),
            "s" => Ok(Precision::Seconds),
            other => Err(format!(
                "unknown timestamp precision {:?}: expected ns, us, ms or s",
                scan::shorten(other)
            )),
        }
    }

    /// How many nanoseconds one timestamp unit is.
    pub fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
        }
    }

    /// The canonical name: `ns`, `us`, `ms` or `s`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "ns",
            Precision::Microseconds => "us",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field value, typed by its syntax.
#[derive(Debug, Clone, PartialEq)]
pub enum LpValue<'a> {
    /// `1`, `1.5`, `-1.5e3`.
    Float(f64),
    /// `123i`.
    Int(i64),
    /// `123u`.
    UInt(u64),
    /// `t`, `true`, `F`, `FALSE`, ...
    Bool(bool),
    /// `"..."`, unescaped.
    Str(Cow<'a, str>),
}

/// One parsed line. Tags and fields keep their order in the line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LpLine<'a> {
    /// 1-based line number in the text.
    pub line: usize,
    pub measurement: Cow<'a, str>,
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub fields: Vec<(Cow<'a, str>, LpValue<'a>)>,
    /// The timestamp scaled to nanoseconds; `None` when the line has none.
    pub timestamp_ns: Option<i64>,
}

/// Why one line was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the text.
    pub line: usize,
    /// 1-based byte column in that line where the problem starts.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for LineError {}

/// Iterates the lines of a text, parsing each into a caller-owned [`LpLine`] whose vectors are
/// reused, so a warm parser allocates only for escaped names and strings.
#[derive(Debug)]
pub struct LpParser<'a> {
    text: &'a str,
    /// Byte offset where the next line starts; always on a char boundary (just after a `\n`).
    next_offset: usize,
    /// Number of lines consumed so far, skipped ones included.
    line_number: usize,
    precision: Precision,
    scratch: line::Scratch,
}

impl<'a> LpParser<'a> {
    pub fn new(text: &'a str, precision: Precision) -> Self {
        LpParser {
            text,
            next_offset: 0,
            line_number: 0,
            precision,
            scratch: line::Scratch::default(),
        }
    }

    /// Parses the next non-skipped line into `out`. `None` at the end of the text. After an
    /// error the contents of `out` are unspecified and the next call goes on with the next line.
    pub fn next_line(&mut self, out: &mut LpLine<'a>) -> Option<Result<(), LineError>> {
        loop {
            let rest = self
                .text
                .get(self.next_offset..)
                .filter(|r| !r.is_empty())?;
            let (raw, consumed) = match memchr::memchr(b'\n', rest.as_bytes()) {
                Some(newline) => (&rest[..newline], newline + 1),
                None => (rest, rest.len()),
            };
            self.next_offset += consumed;
            self.line_number += 1;
            let Some((start, end)) = line::content_bounds(raw.as_bytes()) else {
                continue;
            };
            let span = line::Span {
                raw,
                start,
                end,
                line_number: self.line_number,
            };
            return Some(line::parse_line(
                span,
                self.precision,
                &mut self.scratch,
                out,
            ));
        }
    }
}

/// Parses every line of `text`: the good lines and, separately, the errors of the bad ones.
pub fn parse(text: &str, precision: Precision) -> (Vec<LpLine<'_>>, Vec<LineError>) {
    let mut parser = LpParser::new(text, precision);
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    loop {
        let mut line = LpLine::default();
        match parser.next_line(&mut line) {
            None => break,
            Some(Ok(())) => lines.push(line),
            Some(Err(error)) => errors.push(error),
        }
    }
    (lines, errors)
}
