//! Grafana's PostgreSQL source lists the tables "on the search path" and their columns with a
//! subquery that turns `current_setting('search_path')` into rows by calling
//! `generate_series` and `string_to_array` as table functions in FROM, a PostgreSQL form
//! DataFusion does not plan. The subquery only ever yields the session's search path, so it
//! is replaced, token for token, by that list as string literals before planning.

use std::sync::LazyLock;

use cairn_query::datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use cairn_query::datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// The subquery as Grafana (10 to 12) sends it, between the parentheses of an `IN (...)`.
const GRAFANA_SEARCH_PATH: &str = r#"SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s"#;

static PATTERN: LazyLock<Vec<Token>> = LazyLock::new(|| {
    Tokenizer::new(&PostgreSqlDialect {}, GRAFANA_SEARCH_PATH)
        .tokenize()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect()
});

/// `sql` with every occurrence of Grafana's search-path subquery replaced by the entries of
/// `search_path` (the setting's text) as string literals, `"$user"` read as `user`; `None`
/// when `sql` has no such subquery.
pub fn substitute(sql: &str, search_path: &str, user: &str) -> Option<String> {
    if !sql.contains("search_path") || PATTERN.is_empty() {
        return None;
    }
    let tokens: Vec<TokenWithSpan> = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let offsets = LineOffsets::new(sql);
    let literals = search_path
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| if s == "\"$user\"" { user } else { s })
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    // An empty search path matches nothing; NULL keeps `IN (...)` valid SQL.
    let literals = if literals.is_empty() {
        "NULL".to_owned()
    } else {
        literals
    };
    let n = PATTERN.len();
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut i = 0;
    while i + n <= tokens.len() {
        let window = &tokens[i..i + n];
        if window
            .iter()
            .zip(PATTERN.iter())
            .all(|(a, b)| same(&a.token, b))
        {
            let start = offsets.byte(&window[0])?;
            let end = match tokens.get(i + n) {
                Some(next) => offsets.byte(next)?,
                None => sql.len(),
            };
            out.push_str(&sql[copied..start]);
            out.push_str(&literals);
            out.push(' ');
            copied = end;
            i += n;
        } else {
            i += 1;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&sql[copied..]);
    Some(out)
}

/// Keywords and identifiers compare without case, everything else exactly.
fn same(a: &Token, b: &Token) -> bool {
    match (a, b) {
        (Token::Word(x), Token::Word(y)) => {
            x.value.eq_ignore_ascii_case(&y.value) && x.quote_style == y.quote_style
        }
        _ => a == b,
    }
}

/// Byte offsets of the tokenizer's 1-based (line, column in characters) locations.
struct LineOffsets<'a> {
    sql: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    fn new(sql: &'a str) -> LineOffsets<'a> {
        let mut starts = vec![0];
        starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        LineOffsets { sql, starts }
    }

    fn byte(&self, t: &TokenWithSpan) -> Option<usize> {
        let loc = t.span.start;
        let line_start = *self
            .starts
            .get(usize::try_from(loc.line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(loc.column).ok()?.checked_sub(1)?;
        let line = &self.sql[line_start..];
        Some(
            line_start
                + line
                    .char_indices()
                    .nth(column)
                    .map_or(line.len(), |(b, _)| b),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::substitute;

    #[test]
    fn grafana_subquery_becomes_the_search_path() {
        let sql = "SELECT x FROM t WHERE quote_ident(s) IN (\n SELECT\n  CASE WHEN trim(s[i]) = \
                   '\"$user\"' THEN user ELSE trim(s[i]) END FROM generate_series(\n \
                   array_lower(string_to_array(current_setting('search_path'),','),1),\n   \
                   array_upper(string_to_array(current_setting('search_path'),','),1)) as i,\n \
                   string_to_array(current_setting('search_path'),',') s\n ) ORDER BY 1";
        assert_eq!(
            substitute(sql, "\"$user\", \"default\", o'k", "cairn").unwrap(),
            "SELECT x FROM t WHERE quote_ident(s) IN (\n 'cairn', '\"default\"', 'o''k' ) \
             ORDER BY 1"
        );
        assert_eq!(
            substitute("SELECT current_setting('search_path')", "a", "u"),
            None
        );
    }
}
