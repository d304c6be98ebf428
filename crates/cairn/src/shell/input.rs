//! Reading statements from text typed or piped in: a statement ends at a `;` outside quotes
//! (`'...'`, `"..."`, `$tag$...$tag$`) and comments (`--`, nested `/* */`); what follows the
//! last `;` waits for more input. Lines starting with `\` (at a statement boundary) are the
//! shell's meta-commands.

/// Complete statements of `text` (without their `;`, blank ones dropped) and the
/// incomplete rest.
pub fn split_complete(text: &str) -> (Vec<String>, String) {
    let bytes = text.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut meaningful = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\'' | b'"' => {
                meaningful = true;
                i = skip_quoted(bytes, i + 1, b);
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(bytes.len(), |p| i + p + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i + 2);
                continue;
            }
            b'$' => {
                if let Some(end) = skip_dollar_quoted(text, i) {
                    meaningful = true;
                    i = end;
                    continue;
                }
                meaningful = true;
            }
            b';' => {
                if meaningful {
                    statements.push(text[start..i].trim().to_owned());
                }
                start = i + 1;
                meaningful = false;
            }
            _ if !b.is_ascii_whitespace() => meaningful = true,
            _ => {}
        }
        i += 1;
    }
    let rest = if meaningful { &text[start..] } else { "" };
    (statements, rest.trim_start().to_owned())
}

/// Index after the closing `quote` (doubled quotes are escapes); the end if unclosed.
fn skip_quoted(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Index after the `*/` closing a (possibly nested) block comment; the end if unclosed.
fn skip_block_comment(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 1;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else if bytes[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// `$tag$ ... $tag$` starting at `i`: the index after its end (the text's end if unclosed);
/// `None` if `i` does not open one (e.g. a parameter `$1`).
fn skip_dollar_quoted(text: &str, i: usize) -> Option<usize> {
    let rest = &text[i + 1..];
    let tag_len = rest.find('$')?;
    let tag = &rest[..tag_len];
    if tag.starts_with(|c: char| c.is_ascii_digit())
        || !tag.chars().all(|c| c.is_alphanumeric() || c == '_')
    {
        return None;
    }
    let delim = &text[i..i + tag_len + 2];
    let body = i + delim.len();
    Some(
        text[body..]
            .find(delim)
            .map_or(text.len(), |p| body + p + delim.len()),
    )
}

/// A backslash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    Quit,
    Help,
    /// A statement to run in its place (`\dt`, `\d name`, `\l`, `\c db`).
    Sql(String),
    /// `\timing [on|off]`; `None` toggles.
    Timing(Option<bool>),
    Unknown(String),
}

/// Parses a line starting with `\`.
pub fn parse_meta(line: &str) -> Meta {
    let mut words = line.trim().trim_end_matches(';').split_whitespace();
    let cmd = words.next().unwrap_or("");
    let arg = words.next();
    match (cmd, arg) {
        ("\\q" | "\\quit", _) => Meta::Quit,
        ("\\?" | "\\h" | "\\help", _) => Meta::Help,
        ("\\dt", _) | ("\\d", None) => Meta::Sql("SHOW COLLECTIONS".into()),
        ("\\d", Some(name)) => Meta::Sql(format!("DESCRIBE {name}")),
        ("\\l" | "\\list", _) => Meta::Sql("SHOW DATABASES".into()),
        ("\\c" | "\\connect", Some(db)) => Meta::Sql(format!("USE {db}")),
        ("\\timing", None) => Meta::Timing(None),
        ("\\timing", Some(a)) if a.eq_ignore_ascii_case("on") => Meta::Timing(Some(true)),
        ("\\timing", Some(a)) if a.eq_ignore_ascii_case("off") => Meta::Timing(Some(false)),
        _ => Meta::Unknown(line.trim().to_owned()),
    }
}

pub const HELP: &str = "\
Statements end with ; and may span lines. Meta-commands:
  \\q            quit (also Ctrl-D)
  \\dt           list collections (SHOW COLLECTIONS)
  \\d NAME       describe a collection (DESCRIBE NAME)
  \\l            list databases (SHOW DATABASES)
  \\c DATABASE   switch database (USE DATABASE)
  \\timing       toggle printing each statement's time
  \\?            this help
Ctrl-C clears the line being typed.";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn statements_end_at_semicolons_outside_quotes_and_comments() {
        let (done, rest) = split_complete(
            "SELECT ';' AS a; -- x; y\nSELECT \"a;b\" /* ; /* ; */ ; */ FROM t;\n\
             SELECT $$;$$, $1, $q$ ; $q$;  SELECT 2",
        );
        assert_eq!(
            done,
            [
                "SELECT ';' AS a",
                "-- x; y\nSELECT \"a;b\" /* ; /* ; */ ; */ FROM t",
                "SELECT $$;$$, $1, $q$ ; $q$"
            ]
        );
        assert_eq!(rest, "SELECT 2");
        let (done, rest) = split_complete("SELECT 'unclosed;\n");
        assert!(done.is_empty());
        assert_eq!(rest, "SELECT 'unclosed;\n");
        let (done, rest) = split_complete(";; -- only a comment\n");
        assert!(done.is_empty() && rest.is_empty());
    }

    #[test]
    fn meta_commands() {
        assert_eq!(parse_meta("\\q"), Meta::Quit);
        assert_eq!(parse_meta("\\dt"), Meta::Sql("SHOW COLLECTIONS".into()));
        assert_eq!(parse_meta("\\d cpu"), Meta::Sql("DESCRIBE cpu".into()));
        assert_eq!(parse_meta("\\timing on"), Meta::Timing(Some(true)));
        assert!(matches!(parse_meta("\\zz"), Meta::Unknown(_)));
    }
}
