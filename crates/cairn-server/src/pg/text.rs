//! PostgreSQL's text output for the types where Rust's formatting differs: float8/float4
//! (`Infinity`, `1e+20`, `2`) and timestamps (`2024-01-01 00:00:01.5+00`, microseconds,
//! trailing zeros trimmed). Drivers parse these texts: node-postgres reads `inf` as NaN and
//! pgjdbc rejects it. Columns sent in binary keep their Arrow values.

use std::sync::Arc;

use cairn_query::datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use cairn_query::datafusion::arrow::datatypes::{
    DataType, Field, Float32Type, Float64Type, Schema, TimeUnit, TimestampNanosecondType,
};
use pgwire::api::portal::Format;

/// `batch` with its text-format float and timestamp columns as PostgreSQL's text (Utf8);
/// the RowDescription keeps the original types.
pub fn pg_text_columns(batch: RecordBatch, format: &Format) -> RecordBatch {
    let schema = batch.schema();
    let mut changed = false;
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (i, (field, col)) in schema.fields().iter().zip(batch.columns()).enumerate() {
        let text = if format.is_text(i) {
            as_text(col)
        } else {
            None
        };
        match text {
            Some(t) => {
                changed = true;
                fields.push(Field::new(field.name(), DataType::Utf8, true));
                columns.push(t);
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(col.clone());
            }
        }
    }
    if !changed {
        return batch;
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap_or(batch)
}

fn as_text(col: &ArrayRef) -> Option<ArrayRef> {
    let strings: StringArray = match col.data_type() {
        DataType::Float64 => col
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map(|v| float_text(v, 15)))
            .collect(),
        DataType::Float32 => col
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(|v| float_text(f64::from(v), 6)))
            .collect(),
        DataType::Timestamp(TimeUnit::Nanosecond, tz) => {
            let with_zone = tz.is_some();
            col.as_primitive::<TimestampNanosecondType>()
                .iter()
                .map(|v| v.map(|ns| timestamp_text(ns, with_zone)))
                .collect()
        }
        _ => return None,
    };
    Some(Arc::new(strings) as ArrayRef)
}

/// float8out: the shortest text that reads back exactly; exponential notation when the
/// decimal exponent is below -4 or at least `dig` (15 for float8, 6 for float4).
pub fn float_text(v: f64, dig: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{v:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= dig {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

/// timestamptz / timestamp as PostgreSQL prints them with DateStyle ISO and TimeZone UTC.
pub fn timestamp_text(ns: i64, with_zone: bool) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let micros = ns.rem_euclid(1_000_000_000) / 1000;
    let Some(dt) = chrono::DateTime::from_timestamp(secs, 0) else {
        return ns.to_string();
    };
    let mut s = dt.format("%Y-%m-%d %H:%M:%S").to_string();
    if micros != 0 {
        let frac = format!("{micros:06}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    if with_zone {
        s.push_str("+00");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn floats_as_postgres_prints_them() {
        for (v, want) in [
            (2.0, "2"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-0.0, "-0"),
            (1e20, "1e+20"),
            (1.5e20, "1.5e+20"),
            (123456789012345.0, "123456789012345"),
            (1e15, "1e+15"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (4999.333, "4999.333"),
        ] {
            assert_eq!(float_text(v, 15), want, "{v}");
        }
    }

    #[test]
    fn timestamps_as_postgres_prints_them() {
        assert_eq!(
            timestamp_text(1_704_067_200_000_000_000, true),
            "2024-01-01 00:00:00+00"
        );
        assert_eq!(
            timestamp_text(1_704_067_201_500_000_000, true),
            "2024-01-01 00:00:01.5+00"
        );
        assert_eq!(
            timestamp_text(1_704_067_201_123_456_789, false),
            "2024-01-01 00:00:01.123456"
        );
        assert_eq!(timestamp_text(-1, true), "1969-12-31 23:59:59.999999+00");
    }
}
