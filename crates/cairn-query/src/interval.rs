//! Durations written by people: `'5m'`, `'1h30m'`, `'5 minutes'`, `'1 hour'`, ISO 8601
//! `'PT5M'` / `'P1DT12H'`, and SQL `INTERVAL` values. Used by `time_bucket` and by the
//! `WITH (partition_by = ..., retention = ...)` options. Only fixed lengths: months and years
//! depend on the calendar and are refused with a message saying so.

use datafusion::arrow::datatypes::{IntervalDayTime, IntervalMonthDayNano};

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;
const MIN: i64 = 60 * S;
const H: i64 = 60 * MIN;
const D: i64 = 24 * H;
const W: i64 = 7 * D;

/// Nanoseconds in `text`, which must be positive.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let ns = if t.len() > 1 && (t.starts_with('P') || t.starts_with('p')) {
        iso8601(t)?
    } else {
        human(t)?
    };
    if ns <= 0 {
        return Err(format!("duration {text:?} must be positive"));
    }
    Ok(ns)
}

fn unit_ns(unit: &str, whole: &str) -> Result<i64, String> {
    Ok(match unit.to_ascii_lowercase().as_str() {
        "ns" | "nanosecond" | "nanoseconds" => NS,
        "us" | "µs" | "microsecond" | "microseconds" => US,
        "ms" | "millisecond" | "milliseconds" => MS,
        "s" | "sec" | "secs" | "second" | "seconds" => S,
        "m" | "min" | "mins" | "minute" | "minutes" => MIN,
        "h" | "hr" | "hrs" | "hour" | "hours" => H,
        "d" | "day" | "days" => D,
        "w" | "week" | "weeks" => W,
        "mon" | "mons" | "month" | "months" | "y" | "yr" | "yrs" | "year" | "years" => {
            return Err(format!(
                "duration {whole:?}: months and years have no fixed length; use days (e.g. '30d')"
            ));
        }
        "" => {
            return Err(format!(
                "duration {whole:?} needs a unit (e.g. '5m', '5 minutes')"
            ));
        }
        other => {
            return Err(format!(
                "duration {whole:?}: unknown unit {other:?} (use ns, us, ms, s, m, h, d or w, or words like 'minutes')"
            ));
        }
    })
}

/// `5m`, `1h30m`, `5 minutes`, `1 minute 30 seconds`, `1.5h`.
fn human(t: &str) -> Result<i64, String> {
    let bytes = t.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut any = false;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let number = &t[start..i];
        if number.is_empty() {
            return Err(format!(
                "duration {t:?}: expected a number at {:?}",
                &t[start..]
            ));
        }
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let ustart = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let unit = unit_ns(&t[ustart..i], t)?;
        total = total
            .checked_add(scale(number, unit, t)?)
            .ok_or_else(|| format!("duration {t:?} is too long"))?;
        any = true;
    }
    if !any {
        return Err("empty duration (write e.g. '5m' or '1 hour')".into());
    }
    Ok(total)
}

/// `number` (decimal) × `unit` nanoseconds, exactly.
fn scale(number: &str, unit: i64, whole: &str) -> Result<i64, String> {
    let bad = || format!("duration {whole:?}: bad number {number:?}");
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    let int: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut ns = int
        .checked_mul(unit)
        .ok_or_else(|| format!("duration {whole:?} is too long"))?;
    let mut place = unit;
    for c in frac.chars() {
        let digit = c.to_digit(10).ok_or_else(bad)? as i64;
        if place % 10 != 0 {
            return Err(format!("duration {whole:?} is finer than a nanosecond"));
        }
        place /= 10;
        ns += digit * place;
    }
    Ok(ns)
}

/// ISO 8601 durations: `P[nW][nD][T[nH][nM][nS]]`.
fn iso8601(t: &str) -> Result<i64, String> {
    let up = t.to_ascii_uppercase();
    let body = &up[1..];
    let (date, time) = match body.split_once('T') {
        Some((d, tm)) => (d, Some(tm)),
        None => (body, None),
    };
    let mut total = 0i64;
    let mut any = false;
    let mut fold = |part: &str, units: &[(char, i64)]| -> Result<(), String> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let unit = match units.iter().find(|(u, _)| *u == c) {
                Some((_, ns)) => *ns,
                None if c == 'Y' || (c == 'M' && units.len() == 2) => {
                    return Err(format!(
                        "duration {t:?}: months and years have no fixed length; use days (e.g. 'P30D')"
                    ));
                }
                None => {
                    return Err(format!(
                        "duration {t:?}: unexpected {c:?} in ISO 8601 duration"
                    ));
                }
            };
            if number.is_empty() {
                return Err(format!("duration {t:?}: {c:?} needs a number before it"));
            }
            total = total
                .checked_add(scale(&number, unit, t)?)
                .ok_or_else(|| format!("duration {t:?} is too long"))?;
            number.clear();
            any = true;
        }
        if !number.is_empty() {
            return Err(format!("duration {t:?}: number {number:?} has no unit"));
        }
        Ok(())
    };
    fold(date, &[('W', W), ('D', D)])?;
    if let Some(tm) = time {
        if tm.is_empty() {
            return Err(format!("duration {t:?}: nothing after 'T'"));
        }
        fold(tm, &[('H', H), ('M', MIN), ('S', S)])?;
    }
    if !any {
        return Err(format!("duration {t:?} is empty"));
    }
    Ok(total)
}

/// Nanoseconds of an SQL `INTERVAL` value (month-day-nano form).
pub fn month_day_nano(v: IntervalMonthDayNano) -> Result<i64, String> {
    if v.months != 0 {
        return Err(
            "an interval in months has no fixed length; use days (e.g. INTERVAL '30 days')".into(),
        );
    }
    i64::from(v.days)
        .checked_mul(D)
        .and_then(|d| d.checked_add(v.nanoseconds))
        .filter(|&ns| ns > 0)
        .ok_or_else(|| "the interval must be positive and shorter than 292 years".into())
}

/// Nanoseconds of an SQL `INTERVAL` value (day-time form).
pub fn day_time(v: IntervalDayTime) -> Result<i64, String> {
    month_day_nano(IntervalMonthDayNano::new(
        0,
        v.days,
        i64::from(v.milliseconds) * MS,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_users_write() {
        let cases = [
            ("5m", 5 * MIN),
            ("5 minutes", 5 * MIN),
            ("1 hour", H),
            ("1h30m", H + 30 * MIN),
            ("1 minute 30 seconds", MIN + 30 * S),
            ("PT5M", 5 * MIN),
            ("pt1h", H),
            ("P1DT12H", D + 12 * H),
            ("P2W", 2 * W),
            ("PT0.5S", S / 2),
            ("1.5h", H + 30 * MIN),
            ("250ms", 250 * MS),
            ("10us", 10 * US),
            ("7ns", 7),
            ("30d", 30 * D),
            (" 2 days ", 2 * D),
        ];
        for (text, ns) in cases {
            assert_eq!(parse_duration(text), Ok(ns), "{text}");
        }
    }

    #[test]
    fn refusals_say_why() {
        for (text, why) in [
            ("1 month", "months"),
            ("P1M", "months"),
            ("P1Y", "months"),
            ("5", "needs a unit"),
            ("5 parsecs", "unknown unit"),
            ("", "empty"),
            ("0s", "positive"),
            ("PT", "nothing after"),
            ("P", "expected a number"),
            ("1.0000000001s", "finer than a nanosecond"),
            ("99999999999999 days", "too long"),
        ] {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        assert!(month_day_nano(IntervalMonthDayNano::new(1, 0, 0)).is_err());
        assert_eq!(
            month_day_nano(IntervalMonthDayNano::new(0, 1, 5)),
            Ok(D + 5)
        );
        assert_eq!(day_time(IntervalDayTime::new(0, 1500)), Ok(1500 * MS));
    }
}
