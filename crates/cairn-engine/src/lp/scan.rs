//! Byte scanning for names (measurement, tag keys and values, field keys) and quoted strings.
//!
//! A name ends at the first unescaped byte of its context's delimiter set. The escapable bytes of
//! a context are exactly its delimiters plus the backslash, so one bit per context in a 256-entry
//! table answers both "does this byte end the name?" and "does a backslash escape this byte?".

use std::borrow::Cow;

/// Context bit: a measurement name (`,` and space end it; `\,` `\ ` `\\` are escapes).
pub(super) const MEASUREMENT: u8 = 1;
/// Context bit: a tag key, tag value or field key (`,` `=` space end it, and are escapable).
pub(super) const KEY: u8 = 2;
/// Context bit: the end of an unquoted field value (`,` and space).
pub(super) const VALUE: u8 = 4;
/// Context bit: the end of a timestamp (space).
pub(super) const TIMESTAMP: u8 = 8;

const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b',' as usize] = MEASUREMENT | KEY | VALUE;
    table[b' ' as usize] = MEASUREMENT | KEY | VALUE | TIMESTAMP;
    table[b'\\' as usize] = MEASUREMENT | KEY;
    table[b'=' as usize] = KEY;
    table
};

/// Scans a name of context `context` from `start`; returns the offset of the delimiter that ends
/// it (or `end`) and whether it holds an escape.
#[inline]
pub(super) fn scan_name(bytes: &[u8], start: usize, end: usize, context: u8) -> (usize, bool) {
    let mut at = start;
    let mut escaped = false;
    loop {
        at = find_stop(bytes, at, end, context);
        if at >= end || bytes[at] != b'\\' {
            return (at, escaped);
        }
        if at + 1 < end && CLASS[bytes[at + 1] as usize] & context != 0 {
            escaped = true;
            at += 2;
        } else {
            at += 1;
        }
    }
}

/// Scans an unquoted field value (context `VALUE`: up to the next `,` or space) or a timestamp
/// (context `TIMESTAMP`: up to the next space). Returns the delimiter's offset or `end`.
#[inline]
pub(super) fn scan_value(bytes: &[u8], start: usize, end: usize, context: u8) -> usize {
    find_stop(bytes, start, end, context)
}

/// The offset of the first byte in `start..end` in `context`'s class, or `end`: eight bytes at a
/// time (SWAR), then byte by byte for the tail.
#[inline(always)]
fn find_stop(bytes: &[u8], start: usize, end: usize, context: u8) -> usize {
    let mut at = start;
    let window = &bytes[..end];
    while let Some(chunk) = window.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let found = stop_bytes(u64::from_le_bytes(*chunk), context);
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while at < end && CLASS[bytes[at] as usize] & context == 0 {
        at += 1;
    }
    at
}

/// A word with the high bit set in the lowest byte of `word` (little-endian) that is in
/// `context`'s class, zero if there is none. Higher bits may be false positives; only the
/// lowest is used.
#[inline(always)]
fn stop_bytes(word: u64, context: u8) -> u64 {
    let space = equal_bytes(word, b' ');
    if context == TIMESTAMP {
        return space;
    }
    let mut found = space | equal_bytes(word, b',');
    if context & (MEASUREMENT | KEY) != 0 {
        found |= equal_bytes(word, b'\\');
    }
    if context == KEY {
        found |= equal_bytes(word, b'=');
    }
    found
}

/// The has-zero-byte test applied to `word ^ repeat(byte)`: exact for the lowest match.
#[inline(always)]
fn equal_bytes(word: u64, byte: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Skips spaces from `start`.
#[inline]
pub(super) fn skip_spaces(bytes: &[u8], start: usize, end: usize) -> usize {
    let mut at = start;
    while at < end && bytes[at] == b' ' {
        at += 1;
    }
    at
}

/// The name `text` scanned in `context`, unescaped only if `escaped`.
#[inline]
pub(super) fn name(text: &str, escaped: bool, context: u8) -> Cow<'_, str> {
    if escaped {
        Cow::Owned(unescape(text, |byte| CLASS[byte as usize] & context != 0))
    } else {
        Cow::Borrowed(text)
    }
}

/// Scans the body of a quoted string starting just after its opening quote. Returns the offset of
/// the closing quote and whether the body holds an escape, or `None` if the line ends first.
pub(super) fn scan_string(bytes: &[u8], start: usize, end: usize) -> Option<(usize, bool)> {
    let mut at = start;
    let mut escaped = false;
    loop {
        let found = at + memchr::memchr2(b'"', b'\\', bytes.get(at..end)?)?;
        if bytes[found] == b'"' {
            return Some((found, escaped));
        }
        if found + 1 < end && matches!(bytes[found + 1], b'"' | b'\\') {
            escaped = true;
            at = found + 2;
        } else {
            at = found + 1;
        }
    }
}

/// A string field value's body, unescaped only if `escaped`.
pub(super) fn string_value(text: &str, escaped: bool) -> Cow<'_, str> {
    if escaped {
        Cow::Owned(unescape(text, |byte| matches!(byte, b'"' | b'\\')))
    } else {
        Cow::Borrowed(text)
    }
}

/// Drops the backslash of every `\x` where `escapable(x)`; other backslashes stay.
fn unescape(text: &str, escapable: impl Fn(u8) -> bool) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied_to = 0;
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'\\', &bytes[at..]) {
        let backslash = at + found;
        match bytes.get(backslash + 1) {
            Some(&next) if escapable(next) => {
                // Both bytes are ASCII, so these offsets are char boundaries.
                out.push_str(&text[copied_to..backslash]);
                out.push(char::from(next));
                copied_to = backslash + 2;
                at = backslash + 2;
            }
            _ => at = backslash + 1,
        }
    }
    out.push_str(&text[copied_to..]);
    out
}

/// `text` cut to at most 64 bytes (on a char boundary) for quoting in a message.
pub(super) fn shorten(text: &str) -> Cow<'_, str> {
    const LIMIT: usize = 64;
    if text.len() <= LIMIT {
        return Cow::Borrowed(text);
    }
    let mut cut = LIMIT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}...", &text[..cut]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_end_at_unescaped_delimiters() {
        let text = br"a\,b\ c\=d,e";
        assert_eq!(scan_name(text, 0, text.len(), MEASUREMENT), (10, true));
        assert_eq!(scan_name(text, 0, text.len(), KEY), (10, true));
        let text = br"a=b c";
        assert_eq!(scan_name(text, 0, text.len(), MEASUREMENT), (3, false));
        assert_eq!(scan_name(text, 0, text.len(), KEY), (1, false));
    }

    #[test]
    fn unescape_keeps_unknown_escapes() {
        assert_eq!(name(r"a\,b\=c\\d\x", true, KEY), r"a,b=c\d\x");
        assert_eq!(name(r"a\,b\=c\\d\x", true, MEASUREMENT), r"a,b\=c\d\x");
        assert_eq!(string_value(r#"a\"b\\c\n"#, true), r#"a"b\c\n"#);
        assert_eq!(name("trailing\\", true, KEY), "trailing\\");
    }

    #[test]
    fn strings_end_at_unescaped_quotes() {
        let text = br#""a\"b\\" rest"#;
        assert_eq!(scan_string(text, 1, text.len()), Some((7, true)));
        let text = br#""a\""#;
        assert_eq!(scan_string(text, 1, text.len()), None);
    }

    #[test]
    fn shorten_cuts_on_char_boundaries() {
        let long = "é".repeat(40);
        let short = shorten(&long);
        assert!(short.len() <= 67);
        assert!(short.ends_with("..."));
    }
}
