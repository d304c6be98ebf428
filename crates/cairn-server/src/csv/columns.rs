//! One Arrow builder per loaded column: each field's text is parsed straight into the
//! column's type (no intermediate string arrays).

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
    UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};

use super::value::{parse_bool, parse_timestamp_ns, shown};

/// A column being built.
#[derive(Debug)]
pub(super) enum ColumnBuilder {
    Timestamp(TimestampNanosecondBuilder, Option<Arc<str>>),
    Int64(Int64Builder),
    UInt64(UInt64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Utf8(StringBuilder),
}

impl ColumnBuilder {
    /// A builder for `data_type`; `None` for a type a collection cannot have.
    pub fn new(data_type: &DataType, rows: usize) -> Option<ColumnBuilder> {
        Some(match data_type {
            DataType::Timestamp(TimeUnit::Nanosecond, tz) => ColumnBuilder::Timestamp(
                TimestampNanosecondBuilder::with_capacity(rows),
                tz.clone(),
            ),
            DataType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(rows)),
            DataType::UInt64 => ColumnBuilder::UInt64(UInt64Builder::with_capacity(rows)),
            DataType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(rows)),
            DataType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(rows)),
            DataType::Utf8 => ColumnBuilder::Utf8(StringBuilder::with_capacity(rows, rows * 16)),
            _ => return None,
        })
    }

    /// Appends one field. `null`: the field is the NULL marker. An empty field of a
    /// non-string column is NULL too (there is no empty number). Err: why the text is not a
    /// value of the column's type.
    pub fn append(&mut self, text: &[u8], null: bool) -> Result<(), String> {
        if let ColumnBuilder::Utf8(b) = self {
            if null {
                b.append_null();
            } else {
                b.append_value(utf8(text)?);
            }
            return Ok(());
        }
        if null || text.trim_ascii().is_empty() {
            self.append_null();
            return Ok(());
        }
        match self {
            ColumnBuilder::Timestamp(b, _) => b.append_value(parse_timestamp_ns(text)?),
            ColumnBuilder::Int64(b) => b.append_value(number(text, "BIGINT")?),
            ColumnBuilder::UInt64(b) => b.append_value(number(text, "BIGINT UNSIGNED")?),
            ColumnBuilder::Float64(b) => b.append_value(number(text, "DOUBLE")?),
            ColumnBuilder::Boolean(b) => b.append_value(parse_bool(text)?),
            ColumnBuilder::Utf8(_) => {}
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Timestamp(b, _) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::UInt64(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Boolean(b) => b.append_null(),
            ColumnBuilder::Utf8(b) => b.append_null(),
        }
    }

    /// The rows appended since the last call, as an array.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Timestamp(b, tz) => Arc::new(b.finish().with_timezone_opt(tz.clone())),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::UInt64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
        }
    }
}

fn utf8(text: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(text).map_err(|e| {
        format!(
            "invalid UTF-8 at byte {} of the field (the file must be UTF-8 encoded)",
            e.valid_up_to()
        )
    })
}

/// An integer or float in Rust's syntax (which takes `NaN`, `inf`, `Infinity` in any case
/// for floats), surrounding blanks ignored.
fn number<T: std::str::FromStr>(text: &[u8], type_name: &str) -> Result<T, String> {
    let s = utf8(text)?;
    s.trim().parse::<T>().map_err(|_| {
        format!(
            "invalid {type_name} value {}{}",
            shown(text),
            if type_name == "BIGINT UNSIGNED" && s.trim_start().starts_with('-') {
                " (negative)"
            } else {
                ""
            }
        )
    })
}
