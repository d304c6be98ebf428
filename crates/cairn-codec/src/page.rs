//! A page: the values of one column for a run of rows, as a 16-byte header and a body.
//!
//! ```text
//! header (16 bytes, little-endian)
//!   0  u8   value type      1 i64, 2 u64, 3 f64, 4 bool, 5 utf8, 6 dictionary codes (u32)
//!   1  u8   leaf codec      id within the value type's family (int / float / string / bool)
//!   2  u8   outer stage     0 none, 1 LZ4 block, 2 zstd frame
//!   3  u8   flags           bit 0: a validity bitmap precedes the values; others must be 0
//!   4  u32  row count       1..=MAX_PAGE_ROWS
//!   8  u32  raw body bytes  the body after undoing the outer stage, <= MAX_PAGE_RAW_BYTES
//!  12  u32  stored bytes    the body as stored (what follows the header)
//! body (after the outer stage is undone)
//!   [validity: ceil(rows / 8) bytes, zero-padded to a multiple of 8]   if flag bit 0
//!   leaf encoding of all `rows` values (null slots hold a filler chosen by the encoder)
//! ```
//!
//! Values are stored for every row, nulls included, so a decoded page is directly an
//! Arrow-layout values buffer plus validity bitmap. The encoder fills null slots with the
//! previous present value (empty string, false) so they cost almost nothing.

use crate::bitmap::{Bitmap, BitmapRef, bytes_for};
use crate::bytes::Reader;
use crate::error::{CodecError, Result};
use crate::float;
use crate::int;
use crate::outer::{self, Outer};
use crate::string::{self, StrCodec};

mod header;

pub use header::{
    LeafCodec, MAX_PAGE_RAW_BYTES, MAX_PAGE_ROWS, PAGE_HEADER_BYTES, PageHeader, ValueType,
};

/// Sample of a body used to predict whether an outer stage pays.
const OUTER_SAMPLE_BYTES: usize = 64 << 10;

/// The values of a page to encode.
#[derive(Debug, Clone, Copy)]
pub enum PageValues<'a> {
    I64(&'a [i64]),
    U64(&'a [u64]),
    F64(&'a [f64]),
    Bool(BitmapRef<'a>),
    /// String `i` is `data[offsets[i]..offsets[i + 1]]`; `offsets[0]` need not be 0.
    Utf8 {
        offsets: &'a [i32],
        data: &'a [u8],
    },
    Codes(&'a [u32]),
}

impl PageValues<'_> {
    pub fn len(&self) -> usize {
        match self {
            PageValues::I64(v) => v.len(),
            PageValues::U64(v) => v.len(),
            PageValues::F64(v) => v.len(),
            PageValues::Bool(b) => b.len(),
            PageValues::Utf8 { offsets, .. } => offsets.len().saturating_sub(1),
            PageValues::Codes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn value_type(&self) -> ValueType {
        match self {
            PageValues::I64(_) => ValueType::I64,
            PageValues::U64(_) => ValueType::U64,
            PageValues::F64(_) => ValueType::F64,
            PageValues::Bool(_) => ValueType::Bool,
            PageValues::Utf8 { .. } => ValueType::Utf8,
            PageValues::Codes(_) => ValueType::Codes,
        }
    }
}

/// A page to encode: values for every row, and which rows are present (None: all).
#[derive(Debug, Clone, Copy)]
pub struct PageInput<'a> {
    pub values: PageValues<'a>,
    pub validity: Option<BitmapRef<'a>>,
}

/// How pages are encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeOptions {
    /// Try LZ4 and zstd over the body and keep one only where it makes the page smaller.
    pub try_outer: bool,
    /// zstd level for the outer stage.
    pub zstd_level: i32,
    /// An outer stage is kept only if it is at most this fraction of the bytes it replaces.
    pub outer_keep_ratio: f64,
    /// Force a leaf codec (tests, benchmarks); must belong to the value type's family.
    pub force_codec: Option<LeafCodec>,
    /// Force an outer stage (tests, benchmarks).
    pub force_outer: Option<Outer>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            try_outer: true,
            zstd_level: 3,
            outer_keep_ratio: 0.9,
            force_codec: None,
            force_outer: None,
        }
    }
}

/// Decoded values, in Arrow's buffer layouts.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodedValues {
    I64(Vec<i64>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    Bool(Bitmap),
    /// `offsets` has rows + 1 entries starting at 0; every string is valid UTF-8.
    Utf8 {
        offsets: Vec<i32>,
        data: Vec<u8>,
    },
    Codes(Vec<u32>),
}

/// A decoded page.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedPage {
    pub values: DecodedValues,
    /// None when every row is present.
    pub validity: Option<Bitmap>,
}

/// Encodes one page into `out` (header then body) and returns its header.
pub fn encode_page(
    input: &PageInput<'_>,
    opts: &EncodeOptions,
    out: &mut Vec<u8>,
) -> Result<PageHeader> {
    let rows = input.values.len();
    if rows == 0 || rows > MAX_PAGE_ROWS {
        return Err(CodecError::Unencodable("a page holds 1..=1048576 rows"));
    }
    let validity = match input.validity {
        Some(v) if v.len() != rows => {
            return Err(CodecError::Unencodable(
                "validity length differs from the row count",
            ));
        }
        Some(v) if v.count_ones() == rows => None,
        other => other,
    };
    let mut body = Vec::new();
    if let Some(v) = validity {
        body.extend_from_slice(v.bytes());
        if let Some(last) = body.last_mut() {
            let rem = rows % 8;
            if rem != 0 {
                *last &= (1u8 << rem) - 1;
            }
        }
        body.resize(body.len().next_multiple_of(8), 0);
    }
    let codec = encode_leaf(input.values, validity, opts, &mut body)?;
    if body.len() > MAX_PAGE_RAW_BYTES {
        return Err(CodecError::Unencodable(
            "page body over 256 MiB: use fewer rows per page",
        ));
    }
    let (outer, stored) = apply_outer(&body, opts)?;
    let header = PageHeader {
        value_type: input.values.value_type(),
        codec,
        outer,
        has_validity: validity.is_some(),
        rows: rows as u32,
        raw_len: body.len() as u32,
        stored_len: stored.as_ref().map_or(body.len(), Vec::len) as u32,
    };
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(stored.as_deref().unwrap_or(&body));
    Ok(header)
}

fn encode_leaf(
    values: PageValues<'_>,
    validity: Option<BitmapRef<'_>>,
    opts: &EncodeOptions,
    body: &mut Vec<u8>,
) -> Result<LeafCodec> {
    let forced = opts.force_codec;
    match values {
        PageValues::I64(v) => encode_ints(&fill_nulls(v, validity, 0), forced, body),
        PageValues::U64(v) => {
            let mapped: Vec<i64> = fill_nulls(v, validity, 0)
                .iter()
                .map(|&x| u64_to_ordered(x))
                .collect();
            encode_ints(&mapped, forced, body)
        }
        PageValues::Codes(v) => {
            let wide: Vec<i64> = fill_nulls(v, validity, 0)
                .iter()
                .map(|&x| i64::from(x))
                .collect();
            encode_ints(&wide, forced, body)
        }
        PageValues::F64(v) => {
            let v = fill_nulls(v, validity, 0.0);
            let codec = match forced {
                Some(LeafCodec::Float(c)) => c,
                Some(_) => {
                    return Err(CodecError::Unencodable("forced codec is not a float codec"));
                }
                None => float::choose(&v),
            };
            float::encode(codec, &v, body)?;
            Ok(LeafCodec::Float(codec))
        }
        PageValues::Bool(b) => {
            let owned;
            let b = match validity {
                Some(valid) => {
                    let mut m = b.to_owned();
                    for i in 0..m.len() {
                        if !valid.get(i) {
                            m.set(i, false);
                        }
                    }
                    owned = m;
                    owned.as_ref()
                }
                None => b,
            };
            let codec = match forced {
                Some(LeafCodec::Bool(c)) => c,
                Some(_) => {
                    return Err(CodecError::Unencodable(
                        "forced codec is not a boolean codec",
                    ));
                }
                None => string::choose_bool(b),
            };
            string::encode_bool(codec, b, body)?;
            Ok(LeafCodec::Bool(codec))
        }
        PageValues::Utf8 { offsets, data } => {
            if let Some(LeafCodec::Int(_) | LeafCodec::Float(_) | LeafCodec::Bool(_)) = forced {
                return Err(CodecError::Unencodable(
                    "forced codec is not a string codec",
                ));
            }
            match validity {
                Some(valid) => {
                    let (o, d) = empty_nulls(offsets, data, valid)?;
                    string::encode_str(&o, &d, body)?;
                }
                None => string::encode_str(offsets, data, body)?,
            }
            Ok(LeafCodec::Str(StrCodec::Plain))
        }
    }
}

fn encode_ints(values: &[i64], forced: Option<LeafCodec>, body: &mut Vec<u8>) -> Result<LeafCodec> {
    let codec = match forced {
        Some(LeafCodec::Int(c)) => c,
        Some(_) => {
            return Err(CodecError::Unencodable(
                "forced codec is not an integer codec",
            ));
        }
        None => int::choose(values),
    };
    int::encode(codec, values, body)?;
    Ok(LeafCodec::Int(codec))
}

/// Order-preserving map of u64 onto i64 (flip the sign bit), so integer codecs that
/// compare values (frame of reference) see u64 order.
fn u64_to_ordered(x: u64) -> i64 {
    (x ^ (1 << 63)) as i64
}

fn ordered_to_u64(x: i64) -> u64 {
    (x as u64) ^ (1 << 63)
}

/// Copies `values` with every null slot replaced by the previous present value (the first
/// present value for leading nulls, `zero` if none), so fillers cost nothing to encode.
fn fill_nulls<'a, T: Copy>(
    values: &'a [T],
    validity: Option<BitmapRef<'_>>,
    zero: T,
) -> std::borrow::Cow<'a, [T]> {
    let Some(valid) = validity else {
        return std::borrow::Cow::Borrowed(values);
    };
    let first = (0..values.len())
        .find(|&i| valid.get(i))
        .map_or(zero, |i| values[i]);
    let mut prev = first;
    let filled = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if valid.get(i) {
                prev = v;
            }
            prev
        })
        .collect();
    std::borrow::Cow::Owned(filled)
}

/// Rebuilds strings with every null slot empty.
fn empty_nulls(offsets: &[i32], data: &[u8], valid: BitmapRef<'_>) -> Result<(Vec<i32>, Vec<u8>)> {
    let mut o = Vec::with_capacity(offsets.len());
    let mut d = Vec::new();
    o.push(0i32);
    for i in 0..offsets.len().saturating_sub(1) {
        if valid.get(i) {
            let (a, b) = (offsets[i], offsets[i + 1]);
            let s = usize::try_from(a)
                .ok()
                .zip(usize::try_from(b).ok())
                .and_then(|(a, b)| data.get(a..b))
                .ok_or(CodecError::Unencodable("string offsets out of range"))?;
            d.extend_from_slice(s);
        }
        let end = i32::try_from(d.len())
            .map_err(|_| CodecError::Unencodable("page strings over 2 GiB"))?;
        o.push(end);
    }
    Ok((o, d))
}

/// Keeps an outer stage only where it pays: a 64 KiB sample predicts each stage's ratio,
/// and a stage is applied (to the whole body) only if the sample shrinks below the keep
/// ratio; zstd must then beat LZ4 by the same ratio to be preferred (LZ4 decodes faster).
fn apply_outer(body: &[u8], opts: &EncodeOptions) -> Result<(Outer, Option<Vec<u8>>)> {
    if let Some(stage) = opts.force_outer {
        return Ok(match stage {
            Outer::None => (Outer::None, None),
            s => (s, Some(outer::compress(s, body, opts.zstd_level)?)),
        });
    }
    if !opts.try_outer || body.len() < 64 {
        return Ok((Outer::None, None));
    }
    let sample = &body[..body.len().min(OUTER_SAMPLE_BYTES)];
    let keep = opts.outer_keep_ratio;
    let ratio = |stage| -> Result<f64> {
        Ok(outer::compress(stage, sample, opts.zstd_level)?.len() as f64 / sample.len() as f64)
    };
    let lz4 = ratio(Outer::Lz4)?;
    let zstd = ratio(Outer::Zstd)?;
    let choice = if zstd <= keep * lz4.min(1.0) {
        Outer::Zstd
    } else if lz4 <= keep {
        Outer::Lz4
    } else {
        return Ok((Outer::None, None));
    };
    let stored = outer::compress(choice, body, opts.zstd_level)?;
    if stored.len() as f64 > keep * body.len() as f64 {
        return Ok((Outer::None, None));
    }
    Ok((choice, Some(stored)))
}

/// Decodes a page from untrusted bytes. `expected_type` and `expected_rows` come from the
/// file's metadata; a page that disagrees is an error, never reinterpreted.
pub fn decode_page(
    bytes: &[u8],
    expected_type: ValueType,
    expected_rows: usize,
) -> Result<DecodedPage> {
    let header = PageHeader::decode(bytes)?;
    if header.value_type != expected_type {
        return Err(CodecError::Mismatch {
            what: "page value type",
            expected: u64::from(expected_type.id()),
            found: u64::from(header.value_type.id()),
        });
    }
    let rows = header.rows as usize;
    if rows != expected_rows {
        return Err(CodecError::Mismatch {
            what: "page row count",
            expected: expected_rows as u64,
            found: rows as u64,
        });
    }
    let stored = &bytes[PAGE_HEADER_BYTES..];
    if stored.len() != header.stored_len as usize {
        return Err(CodecError::Mismatch {
            what: "page stored length",
            expected: u64::from(header.stored_len),
            found: stored.len() as u64,
        });
    }
    let owned;
    let body: &[u8] = match header.outer {
        Outer::None => stored,
        stage => {
            owned = outer::decompress(stage, stored, header.raw_len as usize)?;
            &owned
        }
    };
    let mut r = Reader::new(body);
    let validity = if header.has_validity {
        let n = bytes_for(rows);
        let raw = r.take(n.next_multiple_of(8), "page validity bitmap")?;
        Bitmap::from_bytes(raw[..n].to_vec(), rows)
    } else {
        None
    };
    let leaf = r.rest();
    let values = decode_leaf(header.codec, header.value_type, leaf, rows)?;
    Ok(DecodedPage { values, validity })
}

fn decode_leaf(
    codec: LeafCodec,
    value_type: ValueType,
    leaf: &[u8],
    rows: usize,
) -> Result<DecodedValues> {
    let int_codec = |c| match c {
        LeafCodec::Int(c) => Ok(c),
        _ => Err(CodecError::UnknownId {
            what: "integer codec",
            id: c.id(),
        }),
    };
    Ok(match value_type {
        ValueType::I64 => {
            let mut v = Vec::with_capacity(rows);
            int::decode(int_codec(codec)?, leaf, rows, &mut v)?;
            DecodedValues::I64(v)
        }
        ValueType::U64 => {
            let mut v = Vec::with_capacity(rows);
            int::decode(int_codec(codec)?, leaf, rows, &mut v)?;
            DecodedValues::U64(v.into_iter().map(ordered_to_u64).collect())
        }
        ValueType::Codes => {
            let mut v = Vec::with_capacity(rows);
            int::decode(int_codec(codec)?, leaf, rows, &mut v)?;
            let mut codes = Vec::with_capacity(rows);
            for x in v {
                codes.push(u32::try_from(x).map_err(|_| CodecError::Invalid {
                    field: "dictionary code",
                    value: x as u64,
                    allowed: "0..=u32::MAX",
                })?);
            }
            DecodedValues::Codes(codes)
        }
        ValueType::F64 => {
            let LeafCodec::Float(c) = codec else {
                return Err(CodecError::UnknownId {
                    what: "float codec",
                    id: codec.id(),
                });
            };
            let mut v = Vec::with_capacity(rows);
            float::decode(c, leaf, rows, &mut v)?;
            DecodedValues::F64(v)
        }
        ValueType::Bool => {
            let LeafCodec::Bool(c) = codec else {
                return Err(CodecError::UnknownId {
                    what: "boolean codec",
                    id: codec.id(),
                });
            };
            DecodedValues::Bool(string::decode_bool(c, leaf, rows)?)
        }
        ValueType::Utf8 => {
            let mut offsets = Vec::with_capacity(rows + 1);
            let mut data = Vec::new();
            string::decode_str(leaf, rows, &mut offsets, &mut data)?;
            DecodedValues::Utf8 { offsets, data }
        }
    })
}
