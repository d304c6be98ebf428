//! The 16-byte page header and the ids it holds (layout in the parent module's doc).

use crate::bytes::{Reader, put_u8, put_u32};
use crate::error::{CodecError, Result};
use crate::float::FloatCodec;
use crate::int::IntCodec;
use crate::outer::Outer;
use crate::string::{BoolCodec, StrCodec};

pub const PAGE_HEADER_BYTES: usize = 16;
/// Most rows one page may hold.
pub const MAX_PAGE_ROWS: usize = 1 << 20;
/// Largest page body after undoing the outer stage.
pub const MAX_PAGE_RAW_BYTES: usize = 256 << 20;
/// What a page holds, at the codec level (timestamps are i64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueType {
    I64 = 1,
    U64 = 2,
    F64 = 3,
    Bool = 4,
    Utf8 = 5,
    Codes = 6,
}

impl ValueType {
    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Result<Self> {
        Ok(match id {
            1 => ValueType::I64,
            2 => ValueType::U64,
            3 => ValueType::F64,
            4 => ValueType::Bool,
            5 => ValueType::Utf8,
            6 => ValueType::Codes,
            _ => {
                return Err(CodecError::UnknownId {
                    what: "value type",
                    id,
                });
            }
        })
    }
}

/// The leaf codec of a page, from the family its value type uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeafCodec {
    Int(IntCodec),
    Float(FloatCodec),
    Str(StrCodec),
    Bool(BoolCodec),
}

impl LeafCodec {
    pub fn id(self) -> u8 {
        match self {
            LeafCodec::Int(c) => c.id(),
            LeafCodec::Float(c) => c.id(),
            LeafCodec::Str(c) => c.id(),
            LeafCodec::Bool(c) => c.id(),
        }
    }

    fn from_id(value_type: ValueType, id: u8) -> Result<Self> {
        Ok(match value_type {
            ValueType::I64 | ValueType::U64 | ValueType::Codes => {
                LeafCodec::Int(IntCodec::from_id(id)?)
            }
            ValueType::F64 => LeafCodec::Float(FloatCodec::from_id(id)?),
            ValueType::Utf8 => LeafCodec::Str(StrCodec::from_id(id)?),
            ValueType::Bool => LeafCodec::Bool(BoolCodec::from_id(id)?),
        })
    }

    /// A short name for tools and benchmarks (`for`, `delta`, `alp`, ...).
    pub fn name(self) -> &'static str {
        match self {
            LeafCodec::Int(c) => match c {
                IntCodec::Plain => "plain",
                IntCodec::Const => "const",
                IntCodec::Rle => "rle",
                IntCodec::For => "for",
                IntCodec::Delta => "delta",
                IntCodec::DeltaOfDelta => "dod",
            },
            LeafCodec::Float(c) => match c {
                FloatCodec::Plain => "plain",
                FloatCodec::Alp => "alp",
                FloatCodec::Gorilla => "gorilla",
            },
            LeafCodec::Str(StrCodec::Plain) => "plain",
            LeafCodec::Bool(BoolCodec::Bitmap) => "bitmap",
            LeafCodec::Bool(BoolCodec::Const) => "const",
        }
    }
}

/// A decoded page header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeader {
    pub value_type: ValueType,
    pub codec: LeafCodec,
    pub outer: Outer,
    pub has_validity: bool,
    pub rows: u32,
    pub raw_len: u32,
    pub stored_len: u32,
}

impl PageHeader {
    pub fn encode(&self) -> [u8; PAGE_HEADER_BYTES] {
        let mut v = Vec::with_capacity(PAGE_HEADER_BYTES);
        put_u8(&mut v, self.value_type.id());
        put_u8(&mut v, self.codec.id());
        put_u8(&mut v, self.outer.id());
        put_u8(&mut v, u8::from(self.has_validity));
        put_u32(&mut v, self.rows);
        put_u32(&mut v, self.raw_len);
        put_u32(&mut v, self.stored_len);
        let mut out = [0u8; PAGE_HEADER_BYTES];
        out.copy_from_slice(&v);
        out
    }

    /// Parses and validates a header (ids known, flags clean, counts within the caps).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let value_type = ValueType::from_id(r.u8("page value type")?)?;
        let codec = LeafCodec::from_id(value_type, r.u8("page codec")?)?;
        let outer = Outer::from_id(r.u8("page outer stage")?)?;
        let flags = r.u8("page flags")?;
        if flags > 1 {
            return Err(CodecError::Invalid {
                field: "page flags",
                value: u64::from(flags),
                allowed: "0 or 1",
            });
        }
        let rows = r.u32("page row count")?;
        if rows == 0 || rows as usize > MAX_PAGE_ROWS {
            return Err(CodecError::Invalid {
                field: "page row count",
                value: u64::from(rows),
                allowed: "1..=1048576",
            });
        }
        let raw_len = r.u32("page raw length")?;
        if raw_len as usize > MAX_PAGE_RAW_BYTES {
            return Err(CodecError::Invalid {
                field: "page raw length",
                value: u64::from(raw_len),
                allowed: "<= 256 MiB",
            });
        }
        let stored_len = r.u32("page stored length")?;
        if outer == Outer::None && stored_len != raw_len {
            return Err(CodecError::Mismatch {
                what: "stored length of a page without outer stage",
                expected: u64::from(raw_len),
                found: u64::from(stored_len),
            });
        }
        Ok(Self {
            value_type,
            codec,
            outer,
            has_validity: flags & 1 != 0,
            rows,
            raw_len,
            stored_len,
        })
    }
}
