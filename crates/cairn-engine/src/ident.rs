//! Identifiers of databases, collections and columns. Names are data: they are stored in the
//! catalog and never used to build file paths (files are named by numeric ids), but they are
//! still validated so that every name can be written in SQL and shown in a terminal.

use crate::error::{EngineError, Result};

/// Longest identifier, in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 128;

/// Checks a name: 1..=128 bytes; a letter or `_` first; then letters, digits, `_`, `-`.
/// (`.` is not allowed: `db.collection` names a collection in a database.)
/// Letters are ASCII or any alphabetic Unicode character.
pub fn validate(kind: &'static str, name: &str) -> Result<()> {
    let bad = |reason| {
        Err(EngineError::InvalidIdentifier {
            kind,
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return bad("it is longer than 128 bytes");
    }
    let mut chars = name.chars();
    if let Some(first) = chars.next()
        && !(first.is_alphabetic() || first == '_')
    {
        return bad("it must start with a letter or '_'");
    }
    if chars.any(|c| !(c.is_alphanumeric() || c == '_' || c == '-')) {
        return bad("only letters, digits, '_' and '-' are allowed");
    }
    Ok(())
}
