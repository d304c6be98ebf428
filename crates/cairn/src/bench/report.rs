//! Output: aligned text tables and a small JSON writer.

/// A text table: the first column is left-aligned, the others right-aligned.
#[derive(Debug)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let pad = width.saturating_sub(cell.chars().count());
                if i > 0 {
                    text.push_str("  ");
                }
                if i == 0 {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                } else {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                }
            }
            out.push_str("  ");
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&mut out, &self.headers);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&mut out, &rule);
        for row in &self.rows {
            line(&mut out, row);
        }
        out
    }
}

/// Formats with `decimals` digits after the point and thousands separators.
pub fn num(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "-".to_string();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// A size in bytes as B / KiB / MiB / GiB.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1 << 10;
    match bytes {
        b if b >= KIB << 20 && b.is_multiple_of(KIB << 20) => format!("{} GiB", b >> 30),
        b if b >= KIB << 10 && b.is_multiple_of(KIB << 10) => format!("{} MiB", b >> 20),
        b if b >= KIB && b.is_multiple_of(KIB) => format!("{} KiB", b >> 10),
        b if b >= KIB << 10 => format!("{:.1} MiB", b as f64 / (KIB << 10) as f64),
        b if b >= KIB => format!("{:.1} KiB", b as f64 / KIB as f64),
        b => format!("{b} B"),
    }
}

/// A JSON value, written by [`Json::render`].
#[derive(Debug, Clone)]
pub enum Json {
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An object from `(key, value)` pairs.
    pub fn obj<const N: usize>(fields: [(&str, Json); N]) -> Json {
        Json::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    pub fn str(text: impl Into<String>) -> Json {
        Json::Str(text.into())
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match self {
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) if n.is_finite() => {
                out.push_str(&n.to_string());
            }
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => json_string(out, s),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Arr(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    item.write(out, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push(']');
            }
            Json::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Obj(fields) => {
                out.push_str("{\n");
                for (i, (key, value)) in fields.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    json_string(out, key);
                    out.push_str(": ");
                    value.write(out, indent + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
        }
    }
}

impl From<f64> for Json {
    fn from(value: f64) -> Self {
        Json::Num(value)
    }
}

impl From<u64> for Json {
    fn from(value: u64) -> Self {
        Json::Num(value as f64)
    }
}

impl From<usize> for Json {
    fn from(value: usize) -> Self {
        Json::Num(value as f64)
    }
}

impl From<bool> for Json {
    fn from(value: bool) -> Self {
        Json::Bool(value)
    }
}

impl From<&str> for Json {
    fn from(value: &str) -> Self {
        Json::Str(value.to_string())
    }
}

/// The 1, 5 and 15 minute load averages, or "unknown".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_string(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

/// Prints a progress line on a terminal's stderr (never into the report).
pub fn progress(what: &str) {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!("  .. {what}");
    }
}

/// The closing lines of every benchmark: total time and load, then the JSON file if one was
/// asked for (`render` builds it).
pub fn finish(
    elapsed: std::time::Duration,
    quick: bool,
    json: Option<&std::path::Path>,
    render: impl FnOnce() -> String,
) -> crate::error::Result<()> {
    println!(
        "\ntotal time: {:.1} s; load average at the end: {}{}",
        elapsed.as_secs_f64(),
        load_average(),
        if quick {
            " (--quick: figures are indicative only)"
        } else {
            ""
        }
    );
    if let Some(path) = json {
        std::fs::write(path, render()).map_err(crate::error::CliError::io("write JSON", path))?;
        println!("JSON written to {}", path.display());
    }
    Ok(())
}

/// `s` as a JSON string literal (quotes and escapes), appended to `out`; shared by the
/// reports and `cairn sql --format json`.
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sizes_and_tables() {
        assert_eq!(num(1234567.891, 1), "1,234,567.9");
        assert_eq!(num(-1234.0, 0), "-1,234");
        assert_eq!(num(-0.01, 1), "0.0");
        assert_eq!(num(12.0, 0), "12");
        assert_eq!(size(100), "100 B");
        assert_eq!(size(4096), "4 KiB");
        assert_eq!(size(256 << 20), "256 MiB");
        assert_eq!(size(9_436_500), "9.0 MiB");
        assert_eq!(size(1536), "1.5 KiB");
        let mut t = Table::new(&["case", "ops/s"]);
        t.row(vec!["a".into(), "1,000".into()]);
        assert_eq!(t.render(), "  case  ops/s\n  ----  -----\n  a     1,000\n");
    }

    #[test]
    fn json_escapes_and_nests() {
        let j = Json::obj([
            ("a", Json::from(1.5)),
            ("b", Json::Arr(vec![Json::str("x\"y"), Json::Bool(true)])),
            ("c", Json::Num(f64::NAN)),
        ]);
        assert_eq!(
            j.render(),
            "{\n  \"a\": 1.5,\n  \"b\": [\n    \"x\\\"y\",\n    true\n  ],\n  \"c\": null\n}\n"
        );
    }
}
