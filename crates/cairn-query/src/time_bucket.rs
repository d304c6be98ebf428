//! `time_bucket(width, ts [, origin])`: the start of the fixed-width bucket holding `ts`.
//!
//! `width` is a constant: a string ('5m', '5 minutes', '1 hour', 'PT5M') or an SQL INTERVAL of
//! fixed length. Buckets are aligned to `origin`, by default 2000-01-03 00:00:00 UTC (a
//! Monday, as in TimescaleDB and DuckDB), so day and week buckets start at midnight UTC and
//! weeks on Mondays. The result has the type of `ts` (nanoseconds, same time zone) and is
//! NULL where `ts` is. It never decreases as `ts` grows, so it keeps a time ordering.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::interval::{day_time, month_day_nano, parse_duration};

/// 2000-01-03T00:00:00Z in nanoseconds.
pub const DEFAULT_ORIGIN_NS: i64 = 946_857_600 * 1_000_000_000;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimeBucket {
    signature: Signature,
}

impl TimeBucket {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(TimeBucket {
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }
}

/// The bucket width in nanoseconds from the constant first argument.
pub fn width_ns(v: &ScalarValue) -> Result<Option<i64>> {
    let r = match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => match s {
            None => return Ok(None),
            Some(s) => parse_duration(s),
        },
        ScalarValue::IntervalMonthDayNano(Some(i)) => month_day_nano(*i),
        ScalarValue::IntervalDayTime(Some(i)) => day_time(*i),
        ScalarValue::IntervalYearMonth(Some(_)) => {
            Err("an interval in months has no fixed length; use days".into())
        }
        v if v.is_null() => return Ok(None),
        other => Err(format!(
            "the width must be a string such as '5 minutes' or an INTERVAL, not {}",
            other.data_type()
        )),
    };
    match r {
        Ok(ns) => Ok(Some(ns)),
        Err(e) => plan_err!("time_bucket: {e}"),
    }
}

/// Start of the bucket of `t`, or `None` past the timestamp range.
pub fn bucket(t: i64, width: i64, origin: i64) -> Option<i64> {
    let offset = i128::from(t) - i128::from(origin);
    let start = offset.div_euclid(i128::from(width)) * i128::from(width) + i128::from(origin);
    i64::try_from(start).ok()
}

impl ScalarUDFImpl for TimeBucket {
    fn name(&self) -> &str {
        "time_bucket"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&args.len()) {
            return plan_err!(
                "time_bucket takes (width, timestamp [, origin]), got {} arguments",
                args.len()
            );
        }
        let width = match &args[0] {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                DataType::Utf8
            }
            DataType::Interval(_) => args[0].clone(),
            other => {
                return plan_err!(
                    "time_bucket: the width must be a string such as '5 minutes' or an INTERVAL, not {other}"
                );
            }
        };
        let ts = match &args[1] {
            DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Nanosecond, tz.clone()),
            DataType::Date32 | DataType::Date64 | DataType::Null => {
                DataType::Timestamp(TimeUnit::Nanosecond, None)
            }
            other => {
                return plan_err!(
                    "time_bucket: the second argument must be a timestamp, not {other}"
                );
            }
        };
        let mut out = vec![width, ts.clone()];
        if args.len() == 3 {
            match &args[2] {
                DataType::Timestamp(..)
                | DataType::Date32
                | DataType::Date64
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Null => out.push(ts),
                other => {
                    return plan_err!("time_bucket: the origin must be a timestamp, not {other}");
                }
            }
        }
        Ok(out)
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args.get(1) {
            Some(t @ DataType::Timestamp(TimeUnit::Nanosecond, _)) => Ok(t.clone()),
            Some(other) => {
                plan_err!("time_bucket: the second argument must be a timestamp, not {other}")
            }
            None => plan_err!("time_bucket takes (width, timestamp [, origin])"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let out_type = args.return_field.data_type().clone();
        let DataType::Timestamp(_, tz) = &out_type else {
            return exec_err!("time_bucket: unexpected return type {out_type}");
        };
        let ColumnarValue::Scalar(w) = &args.args[0] else {
            return exec_err!("time_bucket: the width must be a constant");
        };
        let origin = match args.args.get(2) {
            None => Some(DEFAULT_ORIGIN_NS),
            Some(ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(o, _))) => *o,
            Some(ColumnarValue::Scalar(v)) if v.is_null() => None,
            Some(_) => return exec_err!("time_bucket: the origin must be a constant timestamp"),
        };
        let (Some(width), Some(origin)) = (width_ns(w)?, origin) else {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from(&out_type)?));
        };
        let overflow = || exec_err!("time_bucket: a bucket start is outside the timestamp range");
        match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(t, _)) => {
                let v = match t {
                    Some(t) => match bucket(*t, width, origin) {
                        Some(b) => Some(b),
                        None => return overflow(),
                    },
                    None => None,
                };
                Ok(ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(
                    v,
                    tz.clone(),
                )))
            }
            ColumnarValue::Scalar(v) if v.is_null() => {
                Ok(ColumnarValue::Scalar(ScalarValue::try_from(&out_type)?))
            }
            ColumnarValue::Array(a) => {
                let ts = a
                    .as_primitive_opt::<TimestampNanosecondType>()
                    .ok_or_else(|| {
                        datafusion::error::DataFusionError::Execution(format!(
                            "time_bucket: expected nanosecond timestamps, got {}",
                            a.data_type()
                        ))
                    })?;
                let out = ts.try_unary::<_, TimestampNanosecondType, _>(|t| {
                    bucket(t, width, origin).ok_or_else(|| {
                        datafusion::arrow::error::ArrowError::ComputeError(
                            "time_bucket: a bucket start is outside the timestamp range".into(),
                        )
                    })
                })?;
                let out: ArrayRef = Arc::new(out.with_timezone_opt(tz.clone()));
                Ok(ColumnarValue::Array(out))
            }
            ColumnarValue::Scalar(other) => {
                exec_err!(
                    "time_bucket: expected a timestamp, got {}",
                    other.data_type()
                )
            }
        }
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        // Monotone (non-decreasing) in the timestamp when width and origin are constants.
        let constant = |i: usize| {
            inputs
                .get(i)
                .is_none_or(|p| p.sort_properties == SortProperties::Singleton)
        };
        Ok(match inputs.get(1) {
            Some(ts) if constant(0) && constant(2) => ts.sort_properties,
            _ => SortProperties::Unordered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_floor_towards_the_origin() {
        let h = 3_600_000_000_000;
        assert_eq!(bucket(0, h, 0), Some(0));
        assert_eq!(bucket(h - 1, h, 0), Some(0));
        assert_eq!(bucket(-1, h, 0), Some(-h));
        assert_eq!(bucket(5, 10, 3), Some(3));
        assert_eq!(bucket(2, 10, 3), Some(-7));
        assert_eq!(bucket(i64::MIN, h, 0), None);
        // Day buckets from the default origin start at midnight UTC.
        let day = 24 * h;
        let t = 1_704_067_200_000_000_000 + 5 * h; // 2024-01-01T05:00Z
        assert_eq!(
            bucket(t, day, DEFAULT_ORIGIN_NS),
            Some(1_704_067_200_000_000_000)
        );
    }
}
