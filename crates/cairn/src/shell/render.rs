//! Printing a statement's outcome: an aligned table (psql's look, ASCII only), CSV or JSON.
//!
//! NULL is shown as an empty cell in tables (as psql does), as an empty unquoted field in CSV
//! (an empty string is `""`) and as `null` in JSON. Timestamps are UTC, written
//! `YYYY-MM-DD HH:MM:SS[.fraction]`.

use std::fmt::Write as _;

use clap::ValueEnum;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

use super::conn::{Kind, Outcome};
use crate::bench::report::json_string;

/// psql's table: no outer border, `|` between columns, `-` and `+` under the header.
const PSQL_STYLE: &str = "     -+ |          ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, a row-count footer and command tags.
    Table,
    /// A header line and one line per row (RFC 4180); commands print nothing.
    Csv,
    /// One JSON array of row objects per result; commands print nothing.
    Json,
}

/// The text to print for `out` (ends with a newline; may be empty).
pub fn render(out: &Outcome, format: Format) -> String {
    match (format, out.has_rows()) {
        (Format::Table, true) => table(out),
        (Format::Table, false) => format!("{}\n", out.tag),
        (Format::Csv, true) => csv(out),
        (Format::Json, true) => json(out),
        (_, false) => String::new(),
    }
}

fn table(out: &Outcome) -> String {
    let mut t = Table::new();
    t.load_preset(PSQL_STYLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(
            out.columns
                .iter()
                .map(|c| Cell::new(&c.name).set_alignment(CellAlignment::Center)),
        );
    for row in &out.rows {
        t.add_row(row.iter().zip(&out.columns).map(|(v, c)| {
            let cell = Cell::new(v.as_deref().unwrap_or(""));
            if c.kind == Kind::Number {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    let mut text = String::new();
    for line in t.to_string().lines() {
        text.push_str(line.trim_end());
        text.push('\n');
    }
    let n = out.rows.len();
    let _w = writeln!(text, "({n} row{})\n", if n == 1 { "" } else { "s" });
    text
}

fn csv(out: &Outcome) -> String {
    let mut text = String::new();
    let names: Vec<String> = out.columns.iter().map(|c| csv_field(&c.name)).collect();
    text.push_str(&names.join(","));
    text.push('\n');
    for row in &out.rows {
        let fields: Vec<String> = row
            .iter()
            .map(|v| v.as_deref().map_or(String::new(), csv_field))
            .collect();
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    text
}

/// A CSV field, quoted when it must be (and when empty, to tell it from NULL).
fn csv_field(v: &str) -> String {
    if v.is_empty() || v.contains([',', '"', '\n', '\r']) || v.trim() != v {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

fn json(out: &Outcome) -> String {
    let mut text = String::from("[");
    for (r, row) in out.rows.iter().enumerate() {
        text.push_str(if r == 0 { "\n" } else { ",\n" });
        text.push('{');
        for (i, (v, c)) in row.iter().zip(&out.columns).enumerate() {
            if i > 0 {
                text.push(',');
            }
            json_string(&mut text, &c.name);
            text.push(':');
            match (v.as_deref(), c.kind) {
                (None, _) => text.push_str("null"),
                (Some(n), Kind::Number) if n.parse::<f64>().is_ok_and(f64::is_finite) => {
                    text.push_str(n);
                }
                (Some("t" | "true"), Kind::Bool) => text.push_str("true"),
                (Some("f" | "false"), Kind::Bool) => text.push_str("false"),
                (Some(s), _) => json_string(&mut text, s),
            }
        }
        text.push('}');
    }
    text.push_str(if out.rows.is_empty() { "]\n" } else { "\n]\n" });
    text
}

#[cfg(test)]
mod tests {
    use super::super::conn::Column;
    use super::*;

    fn sample() -> Outcome {
        Outcome {
            columns: vec![
                Column {
                    name: "host".into(),
                    kind: Kind::Text,
                },
                Column {
                    name: "n".into(),
                    kind: Kind::Number,
                },
            ],
            rows: vec![
                vec![Some("a,b".into()), Some("10".into())],
                vec![None, Some("NaN".into())],
                vec![Some(String::new()), None],
            ],
            tag: "SELECT 3".into(),
        }
    }

    #[test]
    fn tables_look_like_psql() {
        let text = render(&sample(), Format::Table);
        assert_eq!(
            text,
            " host |  n\n------+-----\n a,b  |  10\n      | NaN\n      |\n(3 rows)\n\n"
        );
    }

    #[test]
    fn csv_and_json_keep_nulls_apart_from_empty_strings() {
        assert_eq!(
            render(&sample(), Format::Csv),
            "host,n\n\"a,b\",10\n,NaN\n\"\",\n"
        );
        assert_eq!(
            render(&sample(), Format::Json),
            "[\n{\"host\":\"a,b\",\"n\":10},\n{\"host\":null,\"n\":\"NaN\"},\n{\"host\":\"\",\"n\":null}\n]\n"
        );
    }
}
