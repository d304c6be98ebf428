//! Integer encodings (i64; the page layer maps u64 columns order-preservingly with
//! `v ^ 1 << 63` and widens dictionary codes), over 1024-value vectors.
//! STUB: being written; the API below is the contract.

use crate::error::{CodecError, Result};

/// The integer leaf codecs (ids are stored in page headers; never reuse one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IntCodec {
    Plain = 1,
    Const = 2,
    Rle = 3,
    For = 4,
    Delta = 5,
    DeltaOfDelta = 6,
}

impl IntCodec {
    pub const ALL: [IntCodec; 6] = [
        IntCodec::Plain,
        IntCodec::Const,
        IntCodec::Rle,
        IntCodec::For,
        IntCodec::Delta,
        IntCodec::DeltaOfDelta,
    ];

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.id() == id)
            .ok_or(CodecError::UnknownId {
                what: "integer codec",
                id,
            })
    }
}

/// Appends the encoding of `values` with `codec` to `out`.
pub fn encode(codec: IntCodec, values: &[i64], out: &mut Vec<u8>) -> Result<()> {
    let _ = (codec, values, out);
    Err(CodecError::Unencodable("integer codecs not yet built"))
}

/// Decodes exactly `rows` values from `bytes` (the whole encoding) and appends them to `out`.
pub fn decode(codec: IntCodec, bytes: &[u8], rows: usize, out: &mut Vec<i64>) -> Result<()> {
    let _ = (codec, bytes, rows, out);
    Err(CodecError::Unencodable("integer codecs not yet built"))
}

/// The codec expected to give the smallest output for `values`, by sampling.
pub fn choose(values: &[i64]) -> IntCodec {
    let _ = values;
    IntCodec::Plain
}
