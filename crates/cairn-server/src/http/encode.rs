//! A statement's output as `/query`'s JSON: `{"columns": [{"name", "type"}], "rows": [[...]],
//! "row_count", "command"}`, written straight into a byte buffer (no per-cell JSON values).
//!
//! Type names are PostgreSQL's (`int8`, `float8`, `text`, `timestamptz`, `<elem>[]`, ...).
//! Values: integers and finite floats are JSON numbers (u64 too: `numeric`), non-finite floats
//! the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, timestamps RFC 3339 strings with
//! nanoseconds (`Z` for timestamptz), dates `YYYY-MM-DD`, bytea `"\\x0a1b"` as PostgreSQL
//! prints it, lists JSON arrays, NULL `null`; anything else Arrow's own text.

use std::io::{self, Write};

use cairn_query::QueryOutput;

use crate::csv::civil_from_days;
use cairn_query::arrow::array::{Array, ArrayRef, AsArray};
use cairn_query::arrow::compute::cast;
use cairn_query::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Float16Type, Float32Type, Float64Type,
    Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use cairn_query::arrow::util::display::{ArrayFormatter, FormatOptions};

/// The JSON body of a successful `/query`. `row_count` is the rows returned, or for a
/// statement without rows the rows it affected (as PostgreSQL's `PQcmdTuples`).
pub(super) fn output(out: &QueryOutput) -> io::Result<Vec<u8>> {
    let mut w = Vec::with_capacity(256);
    w.extend_from_slice(b"{\"columns\":[");
    for (i, f) in out.schema.fields().iter().enumerate() {
        if i > 0 {
            w.push(b',');
        }
        w.extend_from_slice(b"{\"name\":");
        string(&mut w, f.name())?;
        w.extend_from_slice(b",\"type\":");
        string(&mut w, &type_name(f.data_type()))?;
        w.push(b'}');
    }
    w.extend_from_slice(b"],\"rows\":[");
    let mut first = true;
    for batch in &out.batches {
        let columns = batch
            .columns()
            .iter()
            .map(unpack)
            .collect::<io::Result<Vec<ArrayRef>>>()?;
        for row in 0..batch.num_rows() {
            if !first {
                w.push(b',');
            }
            first = false;
            w.push(b'[');
            for (c, column) in columns.iter().enumerate() {
                if c > 0 {
                    w.push(b',');
                }
                value(&mut w, column.as_ref(), row)?;
            }
            w.push(b']');
        }
    }
    let row_count = if out.has_rows() {
        out.num_rows() as u64
    } else {
        out.rows_affected.unwrap_or(0)
    };
    write!(w, "],\"row_count\":{row_count},\"command\":")?;
    string(&mut w, &out.command_tag())?;
    w.push(b'}');
    Ok(w)
}

/// PostgreSQL's name for an Arrow type.
pub(super) fn type_name(t: &DataType) -> String {
    let name = match t {
        DataType::Boolean => "bool",
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "int2",
        DataType::Int32 | DataType::UInt16 => "int4",
        DataType::Int64 | DataType::UInt32 => "int8",
        DataType::UInt64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => "numeric",
        DataType::Float16 | DataType::Float32 => "float4",
        DataType::Float64 => "float8",
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea",
        DataType::Timestamp(_, None) => "timestamp",
        DataType::Timestamp(_, Some(_)) => "timestamptz",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Time32(_) | DataType::Time64(_) => "time",
        DataType::Interval(_) | DataType::Duration(_) => "interval",
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            return format!("{}[]", type_name(f.data_type()));
        }
        DataType::Dictionary(_, v) => return type_name(v),
        _ => "text",
    };
    name.to_owned()
}

/// A dictionary column as a plain column of its value type (once per batch, not per cell).
fn unpack(a: &ArrayRef) -> io::Result<ArrayRef> {
    match a.data_type() {
        DataType::Dictionary(_, v) => cast(a, v).map_err(io::Error::other),
        _ => Ok(a.clone()),
    }
}

fn mismatch(t: &DataType) -> io::Error {
    io::Error::other(format!("column data does not match its type {t}"))
}

fn prim<T: ArrowPrimitiveType>(
    a: &dyn Array,
) -> io::Result<&cairn_query::arrow::array::PrimitiveArray<T>> {
    a.as_primitive_opt::<T>()
        .ok_or_else(|| mismatch(a.data_type()))
}

/// One cell as JSON.
fn value(w: &mut Vec<u8>, a: &dyn Array, row: usize) -> io::Result<()> {
    if a.is_null(row) {
        w.extend_from_slice(b"null");
        return Ok(());
    }
    let t = a.data_type();
    match t {
        DataType::Null => w.extend_from_slice(b"null"),
        DataType::Boolean => {
            let v = a.as_boolean_opt().ok_or_else(|| mismatch(t))?.value(row);
            w.extend_from_slice(if v { b"true" } else { b"false" });
        }
        DataType::Int8 => write!(w, "{}", prim::<Int8Type>(a)?.value(row))?,
        DataType::Int16 => write!(w, "{}", prim::<Int16Type>(a)?.value(row))?,
        DataType::Int32 => write!(w, "{}", prim::<Int32Type>(a)?.value(row))?,
        DataType::Int64 => write!(w, "{}", prim::<Int64Type>(a)?.value(row))?,
        DataType::UInt8 => write!(w, "{}", prim::<UInt8Type>(a)?.value(row))?,
        DataType::UInt16 => write!(w, "{}", prim::<UInt16Type>(a)?.value(row))?,
        DataType::UInt32 => write!(w, "{}", prim::<UInt32Type>(a)?.value(row))?,
        DataType::UInt64 => write!(w, "{}", prim::<UInt64Type>(a)?.value(row))?,
        DataType::Float16 => float32(w, prim::<Float16Type>(a)?.value(row).to_f32())?,
        DataType::Float32 => float32(w, prim::<Float32Type>(a)?.value(row))?,
        DataType::Float64 => float64(w, prim::<Float64Type>(a)?.value(row))?,
        DataType::Utf8 => string(
            w,
            a.as_string_opt::<i32>()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        )?,
        DataType::LargeUtf8 => string(
            w,
            a.as_string_opt::<i64>()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        )?,
        DataType::Utf8View => string(
            w,
            a.as_string_view_opt()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        )?,
        DataType::Binary => bytea(
            w,
            a.as_binary_opt::<i32>()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        ),
        DataType::LargeBinary => bytea(
            w,
            a.as_binary_opt::<i64>()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        ),
        DataType::BinaryView => bytea(
            w,
            a.as_binary_view_opt()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        ),
        DataType::FixedSizeBinary(_) => bytea(
            w,
            a.as_fixed_size_binary_opt()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        ),
        DataType::Timestamp(unit, tz) => {
            let v = match unit {
                TimeUnit::Second => prim::<TimestampSecondType>(a)?.value(row),
                TimeUnit::Millisecond => prim::<TimestampMillisecondType>(a)?.value(row),
                TimeUnit::Microsecond => prim::<TimestampMicrosecondType>(a)?.value(row),
                TimeUnit::Nanosecond => prim::<TimestampNanosecondType>(a)?.value(row),
            };
            timestamp(w, v, *unit, tz.is_some())?;
        }
        DataType::Date32 => date(w, i64::from(prim::<Date32Type>(a)?.value(row)))?,
        DataType::Date64 => date(w, prim::<Date64Type>(a)?.value(row).div_euclid(86_400_000))?,
        DataType::List(_) => list(
            w,
            &a.as_list_opt::<i32>()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        )?,
        DataType::LargeList(_) => list(
            w,
            &a.as_list_opt::<i64>()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        )?,
        DataType::FixedSizeList(..) => list(
            w,
            &a.as_fixed_size_list_opt()
                .ok_or_else(|| mismatch(t))?
                .value(row),
        )?,
        DataType::Dictionary(..) => {
            let one = unpack(&a.slice(row, 1))?;
            value(w, one.as_ref(), 0)?;
        }
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => {
            // Arrow prints decimals as plain numbers (`-12.50`), valid JSON as they are.
            w.extend_from_slice(formatted(a, row)?.as_bytes());
        }
        _ => string(w, &formatted(a, row)?)?,
    }
    Ok(())
}

fn formatted(a: &dyn Array, row: usize) -> io::Result<String> {
    let f = ArrayFormatter::try_new(a, &FormatOptions::default()).map_err(io::Error::other)?;
    Ok(f.value(row).to_string())
}

fn list(w: &mut Vec<u8>, items: &ArrayRef) -> io::Result<()> {
    w.push(b'[');
    for i in 0..items.len() {
        if i > 0 {
            w.push(b',');
        }
        value(w, items.as_ref(), i)?;
    }
    w.push(b']');
    Ok(())
}

fn string(w: &mut Vec<u8>, s: &str) -> io::Result<()> {
    serde_json::to_writer(w, s).map_err(io::Error::from)
}

fn non_finite(w: &mut Vec<u8>, nan: bool, positive: bool) {
    w.extend_from_slice(match (nan, positive) {
        (true, _) => b"\"NaN\"",
        (false, true) => b"\"Infinity\"",
        (false, false) => b"\"-Infinity\"",
    });
}

fn float64(w: &mut Vec<u8>, v: f64) -> io::Result<()> {
    if v.is_finite() {
        serde_json::to_writer(w, &v).map_err(io::Error::from)
    } else {
        non_finite(w, v.is_nan(), v > 0.0);
        Ok(())
    }
}

fn float32(w: &mut Vec<u8>, v: f32) -> io::Result<()> {
    if v.is_finite() {
        serde_json::to_writer(w, &v).map_err(io::Error::from)
    } else {
        non_finite(w, v.is_nan(), v > 0.0);
        Ok(())
    }
}

/// PostgreSQL's hex output for bytea: `"\\x0a1b"` (the JSON string holds one backslash).
fn bytea(w: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    w.extend_from_slice(b"\"\\\\x");
    for b in bytes {
        w.push(HEX[usize::from(b >> 4)]);
        w.push(HEX[usize::from(b & 15)]);
    }
    w.push(b'"');
}

/// `"2024-05-01T12:00:00.000000001"`, with `Z` when the type has a time zone (the value is
/// a UTC instant either way).
fn timestamp(w: &mut Vec<u8>, v: i64, unit: TimeUnit, utc: bool) -> io::Result<()> {
    let per_second: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let secs = v.div_euclid(per_second);
    let nanos = v.rem_euclid(per_second) * (1_000_000_000 / per_second);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    write!(
        w,
        "\"{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}{}\"",
        s / 3600,
        s / 60 % 60,
        s % 60,
        if utc { "Z" } else { "" }
    )
}

fn date(w: &mut Vec<u8>, days: i64) -> io::Result<()> {
    let (y, m, d) = civil_from_days(days);
    write!(w, "\"{y:04}-{m:02}-{d:02}\"")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn ts(v: i64, unit: TimeUnit, utc: bool) -> String {
        let mut w = Vec::new();
        timestamp(&mut w, v, unit, utc).unwrap();
        String::from_utf8(w).unwrap()
    }

    #[test]
    fn timestamps_are_rfc3339_with_nanoseconds() {
        assert_eq!(
            ts(0, TimeUnit::Nanosecond, true),
            "\"1970-01-01T00:00:00.000000000Z\""
        );
        assert_eq!(
            ts(1_714_564_800_000_000_001, TimeUnit::Nanosecond, false),
            "\"2024-05-01T12:00:00.000000001\""
        );
        assert_eq!(
            ts(-1, TimeUnit::Millisecond, true),
            "\"1969-12-31T23:59:59.999000000Z\""
        );
        assert_eq!(
            ts(951_782_400, TimeUnit::Second, false),
            "\"2000-02-29T00:00:00.000000000\""
        );
    }

    #[test]
    fn bytea_and_floats() {
        let mut w = Vec::new();
        bytea(&mut w, &[0x0a, 0xff]);
        float64(&mut w, f64::NAN).unwrap();
        float64(&mut w, f64::NEG_INFINITY).unwrap();
        float32(&mut w, 2.5).unwrap();
        assert_eq!(
            String::from_utf8(w).unwrap(),
            r#""\\x0aff""NaN""-Infinity"2.5"#
        );
    }
}
