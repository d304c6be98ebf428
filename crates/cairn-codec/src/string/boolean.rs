//! Boolean leaf codecs. Every page of booleans has exactly one encoding per codec: bits past
//! the row count must be zero, and a constant byte must be 0 or 1.
//!
//! ```text
//! Bitmap  ceil(rows / 8) bytes, Arrow's LSB-first layout; bits past `rows` are 0
//! Const   1 byte: 0 (all false) or 1 (all true; only with rows > 0)
//! ```

use crate::bitmap::{Bitmap, BitmapRef, bytes_for};
use crate::error::{CodecError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BoolCodec {
    Bitmap = 1,
    Const = 2,
}

impl BoolCodec {
    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            1 => Ok(BoolCodec::Bitmap),
            2 => Ok(BoolCodec::Const),
            _ => Err(CodecError::UnknownId {
                what: "boolean codec",
                id,
            }),
        }
    }
}

/// Appends `values` encoded with `codec`. `Const` on values that are not all equal is
/// `Unencodable`.
pub fn encode_bool(codec: BoolCodec, values: BitmapRef<'_>, out: &mut Vec<u8>) -> Result<()> {
    match codec {
        BoolCodec::Bitmap => {
            let start = out.len();
            out.extend_from_slice(values.bytes());
            let rem = values.len() % 8;
            if rem != 0
                && let Some(last) = out.get_mut(start..).and_then(<[u8]>::last_mut)
            {
                *last &= (1u8 << rem) - 1;
            }
        }
        BoolCodec::Const => {
            let ones = values.count_ones();
            if ones != 0 && ones != values.len() {
                return Err(CodecError::Unencodable(
                    "constant boolean codec over values that differ",
                ));
            }
            out.push(u8::from(ones != 0));
        }
    }
    Ok(())
}

/// Decodes exactly `rows` booleans from `bytes` (the whole encoding).
pub fn decode_bool(codec: BoolCodec, bytes: &[u8], rows: usize) -> Result<Bitmap> {
    match codec {
        BoolCodec::Bitmap => {
            let n = bytes_for(rows);
            if bytes.len() != n {
                return Err(CodecError::Mismatch {
                    what: "boolean bitmap bytes",
                    expected: n as u64,
                    found: bytes.len() as u64,
                });
            }
            let rem = rows % 8;
            if let (true, Some(&last)) = (rem != 0, bytes.last())
                && last >> rem != 0
            {
                return Err(CodecError::Invalid {
                    field: "boolean bitmap bits past the row count",
                    value: u64::from(last >> rem),
                    allowed: "0",
                });
            }
            Bitmap::from_bytes(bytes.to_vec(), rows).ok_or(CodecError::Mismatch {
                what: "boolean bitmap bytes",
                expected: n as u64,
                found: bytes.len() as u64,
            })
        }
        BoolCodec::Const => match bytes {
            // No rows are all false: one encoding for them too.
            [0] => Ok(Bitmap::new(rows, false)),
            [1] if rows > 0 => Ok(Bitmap::new(rows, true)),
            [v] => Err(CodecError::Invalid {
                field: "constant boolean",
                value: u64::from(*v),
                allowed: "0, or 1 when rows > 0",
            }),
            _ => Err(CodecError::Mismatch {
                what: "constant boolean bytes",
                expected: 1,
                found: bytes.len() as u64,
            }),
        },
    }
}

/// `Const` when every value is equal (including no values), else `Bitmap`.
pub fn choose_bool(values: BitmapRef<'_>) -> BoolCodec {
    let ones = values.count_ones();
    if ones == 0 || ones == values.len() {
        BoolCodec::Const
    } else {
        BoolCodec::Bitmap
    }
}
