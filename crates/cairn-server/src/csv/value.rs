//! Text to typed values, for CSV fields: timestamps and booleans in the spellings people and
//! exporters write; integers and floats through the standard library's exact parsers.

const NS_PER_SEC: i64 = 1_000_000_000;

/// How a timestamp may be written, for error messages.
const TIMESTAMP_FORMS: &str = "expected RFC 3339 (2024-01-01T00:00:00.123Z, or with an offset \
     such as +02:00), YYYY-MM-DD HH:MM:SS[.fraction] (UTC), YYYY-MM-DD, or an integer of \
     nanoseconds since 1970-01-01";

/// Nanoseconds since the epoch of a timestamp written as RFC 3339 (`T` or a space between
/// date and time, `Z` or a `±HH[:MM]` offset), as `YYYY-MM-DD HH:MM[:SS][.fraction]` (UTC when
/// no offset is given), as a date (midnight UTC), or as an integer of nanoseconds. Up to nine
/// fractional digits, so nothing is rounded.
pub fn parse_timestamp_ns(text: &[u8]) -> Result<i64, String> {
    let s = text.trim_ascii();
    let bad = || format!("invalid timestamp {}: {TIMESTAMP_FORMS}", shown(text));
    if s.is_empty() {
        return Err(bad());
    }
    let digits_from = usize::from(matches!(s[0], b'-' | b'+'));
    if s.len() > digits_from && s[digits_from..].iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| format!("timestamp {} is out of range", shown(text)));
    }
    parse_datetime(s)
        .ok_or_else(bad)?
        .ok_or_else(|| format!("timestamp {} is out of range (1677 to 2262)", shown(text)))
}

/// `None`: not a date-time; `Some(None)`: a valid one outside the i64 nanosecond range.
fn parse_datetime(s: &[u8]) -> Option<Option<i64>> {
    let mut p = Cursor { s, i: 0 };
    let year = p.digits(4)?;
    p.expect(b'-')?;
    let month = p.digits(2)?;
    p.expect(b'-')?;
    let day = p.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if p.done() {
        return Some(days.checked_mul(86_400 * NS_PER_SEC));
    }
    if !matches!(p.next()?, b'T' | b't' | b' ') {
        return None;
    }
    let hour = p.digits(2)?;
    p.expect(b':')?;
    let minute = p.digits(2)?;
    let mut second = 0;
    if p.peek() == Some(b':') {
        p.i += 1;
        second = p.digits(2)?;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut frac_ns = 0i64;
    if matches!(p.peek(), Some(b'.' | b',')) {
        p.i += 1;
        let start = p.i;
        while let Some(d) = p.peek().filter(u8::is_ascii_digit) {
            if p.i - start == 9 {
                return None;
            }
            frac_ns = frac_ns * 10 + i64::from(d - b'0');
            p.i += 1;
        }
        let n = p.i - start;
        if n == 0 {
            return None;
        }
        frac_ns *= 10i64.pow(9 - n as u32);
    }
    if p.peek() == Some(b' ') {
        p.i += 1;
    }
    let offset_s = p.offset()?;
    if !p.done() {
        return None;
    }
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(
        secs.checked_mul(NS_PER_SEC)
            .and_then(|ns| ns.checked_add(frac_ns)),
    )
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.i == self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    /// Exactly `n` decimal digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let d = self.s.get(self.i..self.i + n)?;
        self.i += n;
        d.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    }

    /// Nothing (UTC), `Z`, `UTC`, or `±HH`, `±HH:MM`, `±HHMM`; seconds east of UTC.
    fn offset(&mut self) -> Option<i64> {
        match self.peek() {
            None => Some(0),
            Some(b'Z' | b'z') => {
                self.i += 1;
                Some(0)
            }
            Some(b'U') if self.s[self.i..].eq_ignore_ascii_case(b"UTC") => {
                self.i += 3;
                Some(0)
            }
            Some(sign @ (b'+' | b'-')) => {
                self.i += 1;
                let h = self.digits(2)?;
                let mut m = 0;
                if self.peek() == Some(b':') {
                    self.i += 1;
                    m = self.digits(2)?;
                } else if !self.done() {
                    m = self.digits(2)?;
                }
                if h > 23 || m > 59 {
                    return None;
                }
                let s = h * 3600 + m * 60;
                Some(if sign == b'-' { -s } else { s })
            }
            Some(_) => None,
        }
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's
/// `civil_from_days`, the inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `true`/`false`, `t`/`f`, `yes`/`no`, `y`/`n`, `on`/`off`, `1`/`0`, in any case.
pub fn parse_bool(text: &[u8]) -> Result<bool, String> {
    let s = text.trim_ascii();
    let is = |w: &[u8]| s.eq_ignore_ascii_case(w);
    if is(b"true") || is(b"t") || is(b"yes") || is(b"y") || is(b"on") || s == b"1" {
        Ok(true)
    } else if is(b"false") || is(b"f") || is(b"no") || is(b"n") || is(b"off") || s == b"0" {
        Ok(false)
    } else {
        Err(format!(
            "invalid BOOLEAN {}: expected true/false, t/f, yes/no, on/off or 1/0",
            shown(text)
        ))
    }
}

/// A value quoted for an error message (cut after 40 characters).
pub fn shown(text: &[u8]) -> String {
    match std::str::from_utf8(text) {
        Ok(s) if s.chars().count() > 40 => {
            let cut: String = s.chars().take(40).collect();
            format!("{cut:?}...")
        }
        Ok(s) => format!("{s:?}"),
        Err(_) => format!("{:?}", String::from_utf8_lossy(text)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn timestamps_in_every_accepted_form() {
        let base = 1_704_067_200_000_000_000i64; // 2024-01-01T00:00:00Z
        let cases: [(&str, i64); 12] = [
            ("2024-01-01T00:00:00Z", base),
            ("2024-01-01T00:00:00.123Z", base + 123_000_000),
            ("2024-01-01 00:00:00.123456789", base + 123_456_789),
            ("2024-01-01t00:00:00.5z", base + 500_000_000),
            ("2024-01-01T02:00:00+02:00", base),
            ("2023-12-31T19:00:00-0500", base),
            ("2024-01-01 01:00+01", base),
            ("2024-01-01", base),
            ("2024-01-01 00:00:01 UTC", base + NS_PER_SEC),
            ("1704067200000000000", base),
            ("-5", -5),
            (" 2024-03-01 12:34:56.789 ", 1_709_296_496_789_000_000),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp_ns(text.as_bytes()), Ok(want), "{text}");
        }
        for bad in [
            "",
            "2024-13-01",
            "2023-02-29",
            "2024-01-01T24:00:00",
            "2024-01-01T00:00:00.1234567891",
            "2024-01-01T00:00:00.",
            "2024-01-01T00:00:00Q",
            "yesterday",
            "99999999999999999999",
            "2300-01-01",
        ] {
            assert!(parse_timestamp_ns(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_timestamp_ns(b"2024-02-29 23:59:59.999"),
            Ok(1_709_251_199_999_000_000)
        );
    }

    #[test]
    fn booleans_in_every_accepted_form() {
        for t in ["true", "TRUE", "t", "Yes", "y", "on", "1", " true "] {
            assert_eq!(parse_bool(t.as_bytes()), Ok(true), "{t}");
        }
        for f in ["false", "F", "no", "N", "OFF", "0"] {
            assert_eq!(parse_bool(f.as_bytes()), Ok(false), "{f}");
        }
        assert!(parse_bool(b"2").is_err());
        assert!(parse_bool(b"maybe").unwrap_err().contains("\"maybe\""));
    }
}
