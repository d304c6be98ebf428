//! Minimum and maximum of a page or a column, as stored in the footer.
//!
//! Floats are ordered by IEEE 754 total order (`f64::total_cmp`: -NaN < -inf < ... < -0.0 <
//! +0.0 < ... < +inf < +NaN), the order Arrow's comparison kernels use, so a page holding a NaN
//! has a NaN maximum and is never wrongly pruned. Strings compare bytewise; a stored bound
//! longer than the cap is cut to a prefix and flagged `truncated`: a truncated minimum is still
//! a lower bound, a truncated maximum means "some string starting with these bytes".

use cairn_codec::bytes::{Reader, put_i64, put_u8, put_u16, put_u64};
use cairn_codec::string::Dictionary;
use cairn_codec::{BitmapRef, CodecError, PageValues};

use crate::schema::ColumnType;

/// Longest string bound kept for a page.
pub const PAGE_STRING_BOUND_BYTES: usize = 64;
/// Longest string bound kept for a whole column.
pub const COLUMN_STRING_BOUND_BYTES: usize = 1024;

/// One bound.
#[derive(Debug, Clone, PartialEq)]
pub enum StatValue {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Bytes { value: Vec<u8>, truncated: bool },
}

/// Minimum and maximum of the present values; `None` when there are none (all null).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    pub bounds: Option<(StatValue, StatValue)>,
}

impl Stats {
    pub fn min(&self) -> Option<&StatValue> {
        self.bounds.as_ref().map(|b| &b.0)
    }

    pub fn max(&self) -> Option<&StatValue> {
        self.bounds.as_ref().map(|b| &b.1)
    }

    /// The bounds of the present values; `dictionary` maps codes to strings, and string
    /// bounds are cut to `string_cap` bytes.
    pub fn of(
        values: &PageValues<'_>,
        validity: Option<BitmapRef<'_>>,
        dictionary: Option<&Dictionary>,
        string_cap: usize,
    ) -> Stats {
        let rows = (0..values.len()).filter(|&i| validity.is_none_or(|v| v.get(i)));
        let bounds = match *values {
            PageValues::I64(v) => fold(rows.map(|i| v[i]), Ord::cmp)
                .map(|(a, b)| (StatValue::I64(a), StatValue::I64(b))),
            PageValues::U64(v) => fold(rows.map(|i| v[i]), Ord::cmp)
                .map(|(a, b)| (StatValue::U64(a), StatValue::U64(b))),
            PageValues::F64(v) => fold(rows.map(|i| v[i]), f64::total_cmp)
                .map(|(a, b)| (StatValue::F64(a), StatValue::F64(b))),
            PageValues::Bool(v) => fold(rows.map(|i| v.get(i)), Ord::cmp)
                .map(|(a, b)| (StatValue::Bool(a), StatValue::Bool(b))),
            PageValues::Utf8 { offsets, data } => {
                let s = |i: usize| &data[offsets[i] as usize..offsets[i + 1] as usize];
                fold(rows.map(s), Ord::cmp).map(|(a, b)| string_bounds(a, b, string_cap))
            }
            // The dictionary is sorted, so the smallest and largest codes are the bounds.
            PageValues::Codes(c) => fold(rows.map(|i| c[i]), Ord::cmp).and_then(|(a, b)| {
                let d = dictionary?;
                Some(string_bounds(
                    d.get(a as usize)?,
                    d.get(b as usize)?,
                    string_cap,
                ))
            }),
        };
        Stats { bounds }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match &self.bounds {
            None => put_u8(out, 0),
            Some((lo, hi)) => {
                put_u8(out, 1);
                put_value(lo, out);
                put_value(hi, out);
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>, column_type: ColumnType) -> Result<Stats, CodecError> {
        match r.u8("stats presence")? {
            0 => Ok(Stats { bounds: None }),
            1 => {
                let lo = get_value(r, column_type)?;
                let hi = get_value(r, column_type)?;
                Ok(Stats {
                    bounds: Some((lo, hi)),
                })
            }
            v => Err(CodecError::Invalid {
                field: "stats presence",
                value: u64::from(v),
                allowed: "0 or 1",
            }),
        }
    }
}

fn fold<T: Copy>(
    it: impl Iterator<Item = T>,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Option<(T, T)> {
    let mut acc: Option<(T, T)> = None;
    for v in it {
        acc = Some(match acc {
            None => (v, v),
            Some((lo, hi)) => (
                if cmp(&v, &lo).is_lt() { v } else { lo },
                if cmp(&v, &hi).is_gt() { v } else { hi },
            ),
        });
    }
    acc
}

fn string_bounds(min: &[u8], max: &[u8], cap: usize) -> (StatValue, StatValue) {
    let cut = |s: &[u8]| StatValue::Bytes {
        value: s[..s.len().min(cap)].to_vec(),
        truncated: s.len() > cap,
    };
    (cut(min), cut(max))
}

fn put_value(v: &StatValue, out: &mut Vec<u8>) {
    match v {
        StatValue::I64(x) => put_i64(out, *x),
        StatValue::U64(x) => put_u64(out, *x),
        StatValue::F64(x) => put_u64(out, x.to_bits()),
        StatValue::Bool(x) => put_u8(out, u8::from(*x)),
        StatValue::Bytes { value, truncated } => {
            put_u8(out, u8::from(*truncated));
            put_u16(out, value.len() as u16);
            out.extend_from_slice(value);
        }
    }
}

fn get_value(r: &mut Reader<'_>, t: ColumnType) -> Result<StatValue, CodecError> {
    Ok(match t {
        ColumnType::Timestamp | ColumnType::I64 => StatValue::I64(r.i64("i64 bound")?),
        ColumnType::U64 => StatValue::U64(r.u64("u64 bound")?),
        ColumnType::F64 => StatValue::F64(f64::from_bits(r.u64("f64 bound")?)),
        ColumnType::Bool => match r.u8("bool bound")? {
            0 => StatValue::Bool(false),
            1 => StatValue::Bool(true),
            v => {
                return Err(CodecError::Invalid {
                    field: "bool bound",
                    value: u64::from(v),
                    allowed: "0 or 1",
                });
            }
        },
        ColumnType::String => {
            let truncated = match r.u8("string bound flag")? {
                0 => false,
                1 => true,
                v => {
                    return Err(CodecError::Invalid {
                        field: "string bound flag",
                        value: u64::from(v),
                        allowed: "0 or 1",
                    });
                }
            };
            let n = r.u16("string bound length")? as usize;
            if n > COLUMN_STRING_BOUND_BYTES {
                return Err(CodecError::Invalid {
                    field: "string bound length",
                    value: n as u64,
                    allowed: "<= 1024",
                });
            }
            StatValue::Bytes {
                value: r.take(n, "string bound")?.to_vec(),
                truncated,
            }
        }
    })
}
