//! Field values (float, integer, unsigned, boolean, quoted string) and timestamps.

use super::line::Span;
use super::scan::{TIMESTAMP, VALUE, scan_string, scan_value, shorten, string_value};
use super::{LineError, LpValue, Precision};

/// Why a decimal integer did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IntError {
    /// Not `-?[0-9]+`.
    Invalid,
    /// Well formed but outside the type's range.
    Overflow,
}

/// Parses `[0-9]+`. Syntax errors win over overflow.
#[inline]
pub(super) fn parse_u64(digits: &[u8]) -> Result<u64, IntError> {
    if digits.is_empty() {
        return Err(IntError::Invalid);
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(IntError::Invalid);
        }
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit)))
        {
            Some(next) => value = next,
            None => overflow = true,
        }
    }
    if overflow {
        Err(IntError::Overflow)
    } else {
        Ok(value)
    }
}

/// Parses `-?[0-9]+` into an i64, `i64::MIN` included.
#[inline]
pub(super) fn parse_i64(text: &[u8]) -> Result<i64, IntError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let magnitude = parse_u64(digits)?;
    if negative {
        // `0 - magnitude` fits exactly when magnitude <= 2^63.
        0i64.checked_sub_unsigned(magnitude)
            .ok_or(IntError::Overflow)
    } else {
        i64::try_from(magnitude).map_err(|_| IntError::Overflow)
    }
}

/// Parses the field value starting at `at` (just after the `=`). Returns the value and the
/// offset just past it.
pub(super) fn field_value<'a>(
    span: &Span<'a>,
    at: usize,
    key: &str,
) -> Result<(LpValue<'a>, usize), LineError> {
    let bytes = span.raw.as_bytes();
    if at >= span.end || matches!(bytes[at], b',' | b' ') {
        return Err(span.error(at, format!("missing value for field {:?}", shorten(key))));
    }
    if bytes[at] == b'"' {
        return quoted(span, at, key);
    }
    let value_end = scan_value(bytes, at, span.end, VALUE);
    let token = &span.raw[at..value_end];
    match scalar(token) {
        Ok(value) => Ok((value, value_end)),
        Err(problem) => Err(span.error(at, problem.message(token, key))),
    }
}

/// Parses the timestamp starting at `at`. Returns nanoseconds and the offset just past it.
pub(super) fn timestamp(
    span: &Span<'_>,
    at: usize,
    precision: Precision,
) -> Result<(i64, usize), LineError> {
    let bytes = span.raw.as_bytes();
    let token_end = scan_value(bytes, at, span.end, TIMESTAMP);
    let token = &span.raw[at..token_end];
    let shown = shorten(token);
    let units = match parse_i64(token.as_bytes()) {
        Ok(units) => units,
        Err(IntError::Overflow) => {
            let message = format!("timestamp {shown} is out of range for a 64-bit signed integer");
            return Err(span.error(at, message));
        }
        Err(IntError::Invalid) if token.contains('=') => {
            let message = format!(
                "expected a timestamp after the fields, found {shown:?}: \
                 separate fields with ',' and no space"
            );
            return Err(span.error(at, message));
        }
        Err(IntError::Invalid) => {
            return Err(span.error(at, format!("timestamp {shown} is not an integer")));
        }
    };
    match units.checked_mul(precision.nanos_per_unit()) {
        Some(nanos) => Ok((nanos, token_end)),
        None => Err(span.error(
            at,
            format!("timestamp {shown} overflows nanoseconds at precision {precision}"),
        )),
    }
}

fn quoted<'a>(span: &Span<'a>, at: usize, key: &str) -> Result<(LpValue<'a>, usize), LineError> {
    let bytes = span.raw.as_bytes();
    let Some((close, escaped)) = scan_string(bytes, at + 1, span.end) else {
        let message = format!(
            "unterminated string in field {:?}: no closing '\"' before the end of the line",
            shorten(key)
        );
        return Err(span.error(at, message));
    };
    let after = close + 1;
    if after < span.end && !matches!(bytes[after], b',' | b' ') {
        let message = format!(
            "expected ',' or ' ' after the string value of field {:?}",
            shorten(key)
        );
        return Err(span.error(after, message));
    }
    let body = &span.raw[at + 1..close];
    Ok((LpValue::Str(string_value(body, escaped)), after))
}

/// What is wrong with an unquoted field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    BoolOrNumber,
    Unquoted,
    Number,
    LeadingPlus,
    NotFinite,
    FloatRange,
    Int,
    IntRange,
    UInt,
    UIntRange,
    NegativeUInt,
}

impl Problem {
    fn message(self, token: &str, key: &str) -> String {
        let token = shorten(token);
        let key = shorten(key);
        match self {
            Problem::BoolOrNumber => {
                format!("invalid boolean or number {token:?} for field {key:?}")
            }
            Problem::Unquoted => format!(
                "invalid value {token:?} for field {key:?}: string values must be in double quotes"
            ),
            Problem::Number => format!("invalid number {token:?} for field {key:?}"),
            Problem::LeadingPlus => {
                format!("invalid number {token:?} for field {key:?}: a leading '+' is not allowed")
            }
            Problem::NotFinite => format!(
                "invalid number {token:?} for field {key:?}: NaN and infinity are not supported"
            ),
            Problem::FloatRange => {
                format!("float {token} is out of range for a 64-bit float (field {key:?})")
            }
            Problem::Int => format!("invalid integer {token:?} for field {key:?}"),
            Problem::IntRange => format!(
                "integer {token} is out of range for a 64-bit signed integer (field {key:?})"
            ),
            Problem::UInt => format!("invalid unsigned integer {token:?} for field {key:?}"),
            Problem::UIntRange => format!(
                "unsigned integer {token} is out of range for a 64-bit unsigned integer \
                 (field {key:?})"
            ),
            Problem::NegativeUInt => {
                format!("unsigned integer {token} for field {key:?} cannot be negative")
            }
        }
    }
}

/// An unquoted, non-empty field value.
fn scalar(token: &str) -> Result<LpValue<'static>, Problem> {
    match token.as_bytes() {
        [b'0'..=b'9' | b'-' | b'.', ..] => number(token),
        [b't' | b'T' | b'f' | b'F', ..] => boolean(token),
        [b'+', ..] => Err(Problem::LeadingPlus),
        _ if is_non_finite_word(token) => Err(Problem::NotFinite),
        _ => Err(Problem::Unquoted),
    }
}

fn boolean(token: &str) -> Result<LpValue<'static>, Problem> {
    match token {
        "t" | "T" | "true" | "True" | "TRUE" => Ok(LpValue::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => Ok(LpValue::Bool(false)),
        _ => Err(Problem::BoolOrNumber),
    }
}

fn number(token: &str) -> Result<LpValue<'static>, Problem> {
    let bytes = token.as_bytes();
    match bytes.split_last() {
        Some((b'i', body)) => match parse_i64(body) {
            Ok(value) => Ok(LpValue::Int(value)),
            Err(IntError::Overflow) => Err(Problem::IntRange),
            Err(IntError::Invalid) => Err(Problem::Int),
        },
        Some((b'u', [b'-', ..])) => Err(Problem::NegativeUInt),
        Some((b'u', body)) => match parse_u64(body) {
            Ok(value) => Ok(LpValue::UInt(value)),
            Err(IntError::Overflow) => Err(Problem::UIntRange),
            Err(IntError::Invalid) => Err(Problem::UInt),
        },
        _ => float(token),
    }
}

fn float(token: &str) -> Result<LpValue<'static>, Problem> {
    if !is_float_syntax(token.as_bytes()) {
        return Err(if is_non_finite_word(token) {
            Problem::NotFinite
        } else {
            Problem::Number
        });
    }
    match token.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(LpValue::Float(value)),
        Ok(_) => Err(Problem::FloatRange),
        Err(_) => Err(Problem::Number),
    }
}

/// `-?[0-9]*(\.[0-9]*)?([eE][+-]?[0-9]+)?` with at least one mantissa digit.
fn is_float_syntax(bytes: &[u8]) -> bool {
    let mut at = usize::from(bytes.first() == Some(&b'-'));
    let integer_digits = count_digits(bytes, at);
    at += integer_digits;
    let mut fraction_digits = 0;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        fraction_digits = count_digits(bytes, at);
        at += fraction_digits;
    }
    if integer_digits + fraction_digits == 0 {
        return false;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent_digits = count_digits(bytes, at);
        if exponent_digits == 0 {
            return false;
        }
        at += exponent_digits;
    }
    at == bytes.len()
}

fn count_digits(bytes: &[u8], from: usize) -> usize {
    bytes.get(from..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

/// `nan`, `inf`, `infinity` in any case, optionally signed.
fn is_non_finite_word(token: &str) -> bool {
    let word = token.strip_prefix(['-', '+']).unwrap_or(token);
    ["nan", "inf", "infinity"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_cover_their_full_range() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), Err(IntError::Overflow));
        assert_eq!(parse_i64(b"-9223372036854775809"), Err(IntError::Overflow));
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), Err(IntError::Overflow));
        assert_eq!(parse_u64(b"99999999999999999999x"), Err(IntError::Invalid));
        assert_eq!(parse_i64(b"-"), Err(IntError::Invalid));
        assert_eq!(parse_i64(b"+1"), Err(IntError::Invalid));
    }

    #[test]
    fn float_syntax() {
        for ok in [
            "1", "-1", "1.", ".5", "1.5e3", "1E-7", "-0.0", "1e+78", "007",
        ] {
            assert!(is_float_syntax(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "-", ".", "+1", "1e", "1e+", "1.2.3", "e5", "1x", "inf", "--1",
        ] {
            assert!(!is_float_syntax(bad.as_bytes()), "{bad}");
        }
    }
}
