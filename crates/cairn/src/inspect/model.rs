//! What `cairn inspect` found: problems (corruption: the exit status is non-zero), notes
//! (worth knowing, not errors: torn tails, orphans, encrypted contents), and the small
//! formatting helpers every report section shares.

use std::fmt;
use std::fmt::Write as _;
use std::path::Path;

use cairn_server::csv::civil_from_days;
use serde::Serialize;

/// Damage or an inconsistency: `<file>: offset <n>: <expected> (found <found>)`.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub file: String,
    pub offset: u64,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: offset {}: {} (found {})",
            self.file, self.offset, self.expected, self.found
        )
    }
}

/// Something an operator should know that is not damage.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub note: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{}: offset {o}: {}", self.file, self.note),
            None => write!(f, "{}: {}", self.file, self.note),
        }
    }
}

/// Collects problems and notes while files are inspected.
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<Problem>,
    pub notes: Vec<Note>,
}

impl Findings {
    pub fn problem(
        &mut self,
        file: &Path,
        offset: u64,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) {
        self.problems.push(Problem {
            file: file.display().to_string(),
            offset,
            expected: expected.into(),
            found: found.into(),
        });
    }

    pub fn note(&mut self, file: &Path, offset: Option<u64>, note: impl Into<String>) {
        self.notes.push(Note {
            file: file.display().to_string(),
            offset,
            note: note.into(),
        });
    }

    /// An I/O failure on `file`, reported as a problem at offset 0.
    pub fn io(&mut self, file: &Path, what: &str, err: &std::io::Error) {
        self.problem(file, 0, what, err.to_string());
    }

    /// Problems and notes about `file`, as text lines.
    pub fn lines_for(&self, file: &Path) -> Vec<String> {
        let name = file.display().to_string();
        let problems = self.problems.iter().filter(|p| p.file == name);
        let notes = self.notes.iter().filter(|n| n.file == name);
        problems
            .map(|p| {
                format!(
                    "PROBLEM offset {}: {} (found {})",
                    p.offset, p.expected, p.found
                )
            })
            .chain(notes.map(|n| match n.offset {
                Some(o) => format!("note: offset {o}: {}", n.note),
                None => format!("note: {}", n.note),
            }))
            .collect()
    }
}

/// Nanoseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z` (proleptic
/// Gregorian, UTC).
pub fn fmt_time_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Milliseconds since the Unix epoch, formatted like [`fmt_time_ns`].
pub fn fmt_time_ms(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| ms.checked_mul(1_000_000))
        .map_or_else(|| format!("{ms} ms"), fmt_time_ns)
}

/// Bytes as lowercase hex pairs separated by spaces (at most `max` bytes, then `…`).
pub fn hex_bytes(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().take(max).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ignored = write!(out, "{b:02x}");
    }
    if bytes.len() > max {
        out.push_str(" …");
    }
    out
}

/// Bytes as a readable string: printable ASCII kept, the rest hex-escaped.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_graphic() || b == b' ' {
            out.push(char::from(b));
        } else {
            let _ignored = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// `n` bytes with a binary unit (`12.3 KiB`), exact below 1 KiB.
pub fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Aligned `key  value` lines, indented by two spaces.
pub fn kv_block(out: &mut String, pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        let _ignored = writeln!(out, "  {k:<width$}  {v}");
    }
}

/// A text table; columns whose header is listed in `right` are right-aligned.
#[derive(Debug)]
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// `headers`: (name, right-aligned).
    pub fn new(headers: &[(&str, bool)]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.0.to_string()).collect(),
            right: headers.iter().map(|h| h.1).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with `indent` spaces before each line.
    pub fn render(&self, out: &mut String, indent: usize) {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let pad = " ".repeat(indent);
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let fill = " ".repeat(w.saturating_sub(cell.chars().count()));
                if i > 0 {
                    text.push_str("  ");
                }
                if self.right[i] {
                    text.push_str(&fill);
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&fill);
                }
            }
            let _ignored = writeln!(out, "{pad}{}", text.trim_end());
        };
        line(&self.headers);
        for row in &self.rows {
            line(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_utc() {
        assert_eq!(fmt_time_ns(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            fmt_time_ns(1_704_067_200_000_000_000),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(fmt_time_ns(1_500), "1970-01-01T00:00:00.0000015Z");
        assert_eq!(fmt_time_ns(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(fmt_time_ms(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn bytes_format() {
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(hex_bytes(&[0, 255, 16], 2), "00 ff …");
        assert_eq!(printable(b"CR\x00"), "CR\\x00");
    }
}
