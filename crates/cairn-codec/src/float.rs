//! f64 encodings. STUB: being written; the API below is the contract.

use crate::error::{CodecError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FloatCodec {
    Plain = 1,
    Alp = 2,
    Gorilla = 3,
}

impl FloatCodec {
    pub const ALL: [FloatCodec; 3] = [FloatCodec::Plain, FloatCodec::Alp, FloatCodec::Gorilla];

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.id() == id)
            .ok_or(CodecError::UnknownId {
                what: "float codec",
                id,
            })
    }
}

pub fn encode(codec: FloatCodec, values: &[f64], out: &mut Vec<u8>) -> Result<()> {
    let _ = (codec, values, out);
    Err(CodecError::Unencodable("float codecs not yet built"))
}

pub fn decode(codec: FloatCodec, bytes: &[u8], rows: usize, out: &mut Vec<f64>) -> Result<()> {
    let _ = (codec, bytes, rows, out);
    Err(CodecError::Unencodable("float codecs not yet built"))
}

pub fn choose(values: &[f64]) -> FloatCodec {
    let _ = values;
    FloatCodec::Plain
}
