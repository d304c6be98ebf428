//! The optional outer stage over a whole page body. STUB: being written.

use crate::error::{CodecError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Outer {
    None = 0,
    Lz4 = 1,
    Zstd = 2,
}

impl Outer {
    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            0 => Ok(Outer::None),
            1 => Ok(Outer::Lz4),
            2 => Ok(Outer::Zstd),
            _ => Err(CodecError::UnknownId {
                what: "outer stage",
                id,
            }),
        }
    }
}

pub fn compress(stage: Outer, raw: &[u8], zstd_level: i32) -> Result<Vec<u8>> {
    let _ = (stage, raw, zstd_level);
    Err(CodecError::Unencodable("outer stages not yet built"))
}

/// Undoes `stage`; the output must be exactly `raw_len` bytes (checked, never exceeded).
pub fn decompress(stage: Outer, stored: &[u8], raw_len: usize) -> Result<Vec<u8>> {
    let _ = (stage, stored, raw_len);
    Err(CodecError::Unencodable("outer stages not yet built"))
}
