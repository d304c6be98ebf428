//! Decoded columns as the reader returns them: Arrow's buffer layouts, so the engine wraps
//! them without copying.

use std::sync::Arc;

use cairn_codec::string::Dictionary;
use cairn_codec::{Bitmap, DecodedValues};

use crate::schema::ColumnType;

/// The values of a decoded column (or part of one).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    I64(Vec<i64>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    Bool(Bitmap),
    /// `offsets` has len + 1 entries starting at 0; every string is valid UTF-8.
    Utf8 {
        offsets: Vec<i32>,
        data: Vec<u8>,
    },
    /// Codes into the column's sorted dictionary (shared by every page of the file).
    Dict {
        codes: Vec<u32>,
        dictionary: Arc<Dictionary>,
    },
}

/// A decoded column: values for every row and, if some are null, the validity bitmap.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub data: ColumnData,
    pub validity: Option<Bitmap>,
}

impl Column {
    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::I64(v) => v.len(),
            ColumnData::U64(v) => v.len(),
            ColumnData::F64(v) => v.len(),
            ColumnData::Bool(b) => b.len(),
            ColumnData::Utf8 { offsets, .. } => offsets.len().saturating_sub(1),
            ColumnData::Dict { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn from_decoded(
        values: DecodedValues,
        validity: Option<Bitmap>,
        dictionary: Option<&Arc<Dictionary>>,
    ) -> Option<Column> {
        let data = match values {
            DecodedValues::I64(v) => ColumnData::I64(v),
            DecodedValues::U64(v) => ColumnData::U64(v),
            DecodedValues::F64(v) => ColumnData::F64(v),
            DecodedValues::Bool(b) => ColumnData::Bool(b),
            DecodedValues::Utf8 { offsets, data } => ColumnData::Utf8 { offsets, data },
            DecodedValues::Codes(codes) => ColumnData::Dict {
                codes,
                dictionary: dictionary?.clone(),
            },
        };
        Some(Column { data, validity })
    }

    /// A column of no rows of `column_type` (with the column's dictionary, if it has one).
    pub(crate) fn empty(column_type: ColumnType, dictionary: Option<Arc<Dictionary>>) -> Column {
        let data = match (column_type, dictionary) {
            (ColumnType::Timestamp | ColumnType::I64, _) => ColumnData::I64(Vec::new()),
            (ColumnType::U64, _) => ColumnData::U64(Vec::new()),
            (ColumnType::F64, _) => ColumnData::F64(Vec::new()),
            (ColumnType::Bool, _) => ColumnData::Bool(Bitmap::default()),
            (ColumnType::String, Some(dictionary)) => ColumnData::Dict {
                codes: Vec::new(),
                dictionary,
            },
            (ColumnType::String, None) => ColumnData::Utf8 {
                offsets: vec![0],
                data: Vec::new(),
            },
        };
        Column {
            data,
            validity: None,
        }
    }

    /// Whether row `i` is present (not null).
    pub fn is_valid(&self, i: usize) -> bool {
        self.validity.as_ref().is_none_or(|v| v.get(i))
    }

    /// String of row `i` for Utf8 and Dict columns.
    pub fn str_bytes(&self, i: usize) -> Option<&[u8]> {
        match &self.data {
            ColumnData::Utf8 { offsets, data } => {
                data.get(*offsets.get(i)? as usize..*offsets.get(i + 1)? as usize)
            }
            ColumnData::Dict { codes, dictionary } => dictionary.get(*codes.get(i)? as usize),
            _ => None,
        }
    }

    /// The rows of `self` where `keep` is true (`keep.len() == self.len()`).
    pub fn filter(&self, keep: &[bool]) -> Column {
        self.select(keep.iter().enumerate().filter(|x| *x.1).map(|x| x.0))
    }

    /// Rows `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Column {
        self.select(start..end)
    }

    fn select(&self, rows: impl Iterator<Item = usize> + Clone) -> Column {
        let validity = self.validity.as_ref().map(|v| {
            let bits: Vec<bool> = rows.clone().map(|i| v.get(i)).collect();
            Bitmap::from_bools(&bits)
        });
        let data = match &self.data {
            ColumnData::I64(v) => ColumnData::I64(rows.map(|i| v[i]).collect()),
            ColumnData::U64(v) => ColumnData::U64(rows.map(|i| v[i]).collect()),
            ColumnData::F64(v) => ColumnData::F64(rows.map(|i| v[i]).collect()),
            ColumnData::Bool(b) => ColumnData::Bool(Bitmap::from_bools(
                &rows.map(|i| b.get(i)).collect::<Vec<_>>(),
            )),
            ColumnData::Utf8 { offsets, data } => {
                let mut o = vec![0i32];
                let mut d = Vec::new();
                for i in rows {
                    d.extend_from_slice(&data[offsets[i] as usize..offsets[i + 1] as usize]);
                    o.push(d.len() as i32);
                }
                ColumnData::Utf8 {
                    offsets: o,
                    data: d,
                }
            }
            ColumnData::Dict { codes, dictionary } => ColumnData::Dict {
                codes: rows.map(|i| codes[i]).collect(),
                dictionary: dictionary.clone(),
            },
        };
        Column {
            data,
            validity: validity.filter(|v| v.count_ones() != v.len()),
        }
    }

    /// Concatenates parts of one column (same variant; dictionaries shared).
    pub fn concat(parts: Vec<Column>) -> Option<Column> {
        let total: usize = parts.iter().map(Column::len).sum();
        let any_nulls = parts.iter().any(|p| p.validity.is_some());
        let validity = any_nulls.then(|| {
            let mut bits = Vec::with_capacity(total);
            for p in &parts {
                bits.extend((0..p.len()).map(|i| p.is_valid(i)));
            }
            Bitmap::from_bools(&bits)
        });
        if let Some(ColumnData::Bool(_)) = parts.first().map(|p| &p.data) {
            let mut bits = Bitmap::new(total, false);
            let mut at = 0;
            for p in &parts {
                let ColumnData::Bool(b) = &p.data else {
                    return None;
                };
                for i in 0..b.len() {
                    if b.get(i) {
                        bits.set(at + i, true);
                    }
                }
                at += b.len();
            }
            return Some(Column {
                data: ColumnData::Bool(bits),
                validity,
            });
        }
        let mut it = parts.into_iter();
        let first = it.next()?;
        let mut data = first.data;
        for p in it {
            match (&mut data, p.data) {
                (ColumnData::I64(a), ColumnData::I64(b)) => a.extend(b),
                (ColumnData::U64(a), ColumnData::U64(b)) => a.extend(b),
                (ColumnData::F64(a), ColumnData::F64(b)) => a.extend(b),
                (
                    ColumnData::Utf8 { offsets, data },
                    ColumnData::Utf8 {
                        offsets: o2,
                        data: d2,
                    },
                ) => {
                    let base = *offsets.last()?;
                    for o in o2.iter().skip(1) {
                        offsets.push(o.checked_add(base)?);
                    }
                    data.extend(d2);
                }
                (ColumnData::Dict { codes, .. }, ColumnData::Dict { codes: c2, .. }) => {
                    codes.extend(c2)
                }
                _ => return None,
            }
        }
        Some(Column { data, validity })
    }
}
