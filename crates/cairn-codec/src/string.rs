//! Strings and booleans. STUB: being written; the API below is the contract.

use crate::bitmap::{Bitmap, BitmapRef};
use crate::error::{CodecError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StrCodec {
    /// Lengths (integer-encoded) then the concatenated bytes.
    Plain = 1,
}

impl StrCodec {
    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            1 => Ok(StrCodec::Plain),
            _ => Err(CodecError::UnknownId {
                what: "string codec",
                id,
            }),
        }
    }
}

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

/// Appends `offsets.len() - 1` strings: string `i` is `data[offsets[i]..offsets[i + 1]]`
/// (`offsets[0]` need not be 0).
pub fn encode_str(offsets: &[i32], data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let _ = (offsets, data, out);
    Err(CodecError::Unencodable("string codecs not yet built"))
}

/// Decodes exactly `rows` strings; `offsets` receives `rows + 1` entries starting at 0,
/// `data` the bytes; every string is checked to be UTF-8.
pub fn decode_str(
    bytes: &[u8],
    rows: usize,
    offsets: &mut Vec<i32>,
    data: &mut Vec<u8>,
) -> Result<()> {
    let _ = (bytes, rows, offsets, data);
    Err(CodecError::Unencodable("string codecs not yet built"))
}

pub fn encode_bool(codec: BoolCodec, values: BitmapRef<'_>, out: &mut Vec<u8>) -> Result<()> {
    let _ = (codec, values, out);
    Err(CodecError::Unencodable("boolean codecs not yet built"))
}

pub fn decode_bool(codec: BoolCodec, bytes: &[u8], rows: usize) -> Result<Bitmap> {
    let _ = (codec, bytes, rows);
    Err(CodecError::Unencodable("boolean codecs not yet built"))
}

pub fn choose_bool(values: BitmapRef<'_>) -> BoolCodec {
    let _ = values;
    BoolCodec::Bitmap
}

/// A sorted set of distinct strings; code `i` stands for string `i`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dictionary {
    pub offsets: Vec<i32>,
    pub data: Vec<u8>,
}

/// Builds the sorted dictionary of the given strings (skipping rows where `validity` is 0)
/// and the code of every row (0 for null rows).
pub fn build_dictionary(
    offsets: &[i32],
    data: &[u8],
    validity: Option<BitmapRef<'_>>,
) -> Result<(Dictionary, Vec<u32>)> {
    let _ = (offsets, data, validity);
    Err(CodecError::Unencodable("dictionaries not yet built"))
}
