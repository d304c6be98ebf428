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
    if digits.len() > 19 {
        return parse_long_u64(digits);
    }
    // At most 19 digits: below 10^19 < 2^64 at every step, so no overflow.
    let mut value: u64 = 0;
    let mut rest = digits;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        value = value * 100_000_000 + eight_digits(*chunk)?;
        rest = tail;
    }
    for &byte in rest {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(IntError::Invalid);
        }
        value = value * 10 + u64::from(digit);
    }
    Ok(value)
}

/// Eight ASCII digits (the first the most significant) as a number, eight lanes at a time.
#[inline(always)]
fn eight_digits(chunk: [u8; 8]) -> Result<u64, IntError> {
    const NIBBLES_HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let word = u64::from_le_bytes(chunk);
    // A digit byte is 0x30..=0x39: high nibble 3, and adding 6 leaves the high nibble alone.
    let all_digits = word & NIBBLES_HIGH == ZEROS
        && word.wrapping_add(0x0606_0606_0606_0606) & NIBBLES_HIGH == ZEROS;
    if !all_digits {
        return Err(IntError::Invalid);
    }
    // Byte i holds digit i (0..=9). Merge neighbours into 2-, then 4-, then 8-digit lanes; no
    // lane ever exceeds its width, so nothing carries between lanes.
    let digits = word - ZEROS;
    let pairs = (digits * 10 + (digits >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    Ok((quads * 10_000 + (quads >> 32)) & 0xFFFF_FFFF)
}

/// More than 19 digits: checked arithmetic (leading zeros may still make it fit).
fn parse_long_u64(digits: &[u8]) -> Result<u64, IntError> {
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
    if let Some(value) = short_decimal(token.as_bytes()) {
        return Ok(LpValue::Float(value));
    }
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

/// `-?[0-9]*(\.[0-9]*)?` with 1 to 15 digits, converted exactly, or `None` for anything else.
/// Clinger's fast path: the digits as an integer are below 2^53 and the power of ten is at most
/// 10^15, so both are exact doubles and the one IEEE division rounds correctly.
#[inline]
fn short_decimal(bytes: &[u8]) -> Option<f64> {
    const POWERS_OF_TEN: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, text) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if text.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digit_count = 0;
    let mut fraction_start = None;
    for (index, &byte) in text.iter().enumerate() {
        match byte {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                digit_count += 1;
            }
            b'.' if fraction_start.is_none() => fraction_start = Some(index + 1),
            _ => return None,
        }
    }
    if digit_count == 0 || digit_count > 15 {
        return None;
    }
    let scale = fraction_start.map_or(0, |start| text.len() - start);
    let magnitude = mantissa as f64 / POWERS_OF_TEN[scale];
    Some(if negative { -magnitude } else { magnitude })
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
    fn eight_digit_lanes() {
        assert_eq!(eight_digits(*b"12345678"), Ok(12_345_678));
        assert_eq!(eight_digits(*b"00000000"), Ok(0));
        assert_eq!(eight_digits(*b"99999999"), Ok(99_999_999));
        for bad in [
            *b"1234567/",
            *b"1234567:",
            *b"a2345678",
            *b"1234 678",
            *b"\xff2345678",
        ] {
            assert_eq!(eight_digits(bad), Err(IntError::Invalid), "{bad:?}");
        }
        assert_eq!(
            parse_u64(b"1704067200008000000"),
            Ok(1_704_067_200_008_000_000)
        );
        assert_eq!(parse_u64(b"00000000000000000000001"), Ok(1));
    }

    #[test]
    fn short_decimals_match_the_standard_parser() {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let digits = (state % 16) as usize;
            let mut text = String::new();
            if state & 1 << 20 != 0 {
                text.push('-');
            }
            let dot = (state >> 24) as usize % (digits + 1);
            for i in 0..digits {
                if i == dot {
                    text.push('.');
                }
                text.push(char::from(b'0' + ((state >> (28 + 2 * i)) % 10) as u8));
            }
            let expected = text
                .parse::<f64>()
                .ok()
                .filter(|_| is_float_syntax(text.as_bytes()));
            let got = short_decimal(text.as_bytes());
            if let Some(got) = got {
                assert_eq!(Some(got.to_bits()), expected.map(f64::to_bits), "{text:?}");
            }
        }
        assert_eq!(short_decimal(b"12.345"), Some(12.345));
        assert_eq!(short_decimal(b"0.1"), Some(0.1));
        assert_eq!(short_decimal(b"-0").map(f64::is_sign_negative), Some(true));
        assert_eq!(
            short_decimal(b"123456789012345"),
            Some(123_456_789_012_345.0)
        );
        assert_eq!(short_decimal(b"1234567890123456"), None);
        assert_eq!(short_decimal(b"1e5"), None);
        assert_eq!(short_decimal(b"."), None);
        assert_eq!(short_decimal(b"1.2.3"), None);
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
