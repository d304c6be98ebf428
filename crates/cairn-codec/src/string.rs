//! Strings, booleans and dictionaries.
//!
//! `StrCodec::Plain` (appended at an 8-aligned offset of the page body):
//!
//! ```text
//!  0  u32  L        bytes of the lengths section
//!  4  u8   codec    integer codec of the lengths (`IntCodec` id)
//!  5  [u8; 3]       zero
//!  8  L bytes       the `rows` string lengths as i64, encoded with `codec` (8-aligned here)
//!  8 + L            the strings' bytes, concatenated, to the end of the leaf
//! ```
//!
//! There is no inner compression: the page's outer stage (LZ4 / zstd, chosen per page)
//! compresses the whole body. Decoding checks every length is >= 0, their sum equals the
//! bytes left and fits an i32 offset, and every string is UTF-8.
//!
//! Booleans and dictionaries are in [`boolean`] and [`dict`].

mod boolean;
mod dict;

pub use boolean::{BoolCodec, choose_bool, decode_bool, encode_bool};
pub use dict::{Dictionary, build_dictionary};

use crate::bytes::{Reader, put_u8, put_u32};
use crate::error::{CodecError, Result};
use crate::int::{self, IntCodec};

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

/// Bytes before the lengths section.
const STR_HEADER_BYTES: usize = 8;

/// Appends `offsets.len() - 1` strings: string `i` is `data[offsets[i]..offsets[i + 1]]`
/// (`offsets[0]` need not be 0; empty `offsets` means no strings). Offsets out of range or
/// decreasing are `Unencodable`; a string that is not UTF-8 is `InvalidUtf8` (a page the
/// decoder would reject is never written).
pub fn encode_str(offsets: &[i32], data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let (first, last) = check_offsets(offsets, data.len())?;
    let bytes = &data[first..last];
    let base = offsets.first().copied().unwrap_or(0);
    check_utf8(bytes, offsets, base)?;
    let lens: Vec<i64> = offsets
        .windows(2)
        .map(|w| i64::from(w[1]) - i64::from(w[0]))
        .collect();
    let codec = int::choose(&lens);
    let start = out.len();
    put_u32(out, 0);
    put_u8(out, codec.id());
    out.extend_from_slice(&[0; 3]);
    int::encode(codec, &lens, out)?;
    let section = u32::try_from(out.len() - start - STR_HEADER_BYTES)
        .map_err(|_| CodecError::Unencodable("string lengths section over 4 GiB"))?;
    out[start..start + 4].copy_from_slice(&section.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Checks that `offsets` are non-decreasing and within `0..=data_len`; returns the first and
/// last as byte positions (0, 0 for no offsets).
pub(crate) fn check_offsets(offsets: &[i32], data_len: usize) -> Result<(usize, usize)> {
    let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) else {
        return Ok((0, 0));
    };
    let first =
        usize::try_from(first).map_err(|_| CodecError::Unencodable("string offset is negative"))?;
    let last = usize::try_from(last)
        .ok()
        .filter(|&l| l <= data_len)
        .ok_or(CodecError::Unencodable(
            "string offset past the end of the data",
        ))?;
    if offsets.windows(2).any(|w| w[1] < w[0]) {
        return Err(CodecError::Unencodable("string offsets decrease"));
    }
    Ok((first, last))
}

/// Decodes exactly `rows` strings; `offsets` receives `rows + 1` entries starting at 0,
/// `data` the bytes (both are cleared first); every string is checked to be UTF-8.
pub fn decode_str(
    bytes: &[u8],
    rows: usize,
    offsets: &mut Vec<i32>,
    data: &mut Vec<u8>,
) -> Result<()> {
    offsets.clear();
    data.clear();
    let mut r = Reader::new(bytes);
    let section = r.u32("string lengths section length")? as usize;
    let codec = IntCodec::from_id(r.u8("string lengths codec")?)?;
    let pad = r.take(3, "string header padding")?;
    if pad != [0; 3] {
        return Err(CodecError::Invalid {
            field: "string header padding",
            value: u64::from(pad[0] | pad[1] | pad[2]),
            allowed: "0",
        });
    }
    let lens_bytes = r.take(section, "string lengths section")?;
    let bytes = r.rest();
    let mut lens = Vec::with_capacity(rows);
    int::decode(codec, lens_bytes, rows, &mut lens)?;
    if lens.len() != rows {
        return Err(CodecError::Mismatch {
            what: "string count",
            expected: rows as u64,
            found: lens.len() as u64,
        });
    }
    let total = lengths_to_offsets(&lens, offsets)?;
    if total != bytes.len() as u64 {
        offsets.clear();
        return Err(CodecError::Mismatch {
            what: "sum of string lengths",
            expected: bytes.len() as u64,
            found: total,
        });
    }
    if let Err(e) = check_utf8(bytes, offsets, 0) {
        offsets.clear();
        return Err(e);
    }
    data.extend_from_slice(bytes);
    Ok(())
}

/// Appends the running sums of `lens` (from 0) to `offsets`; returns the total. Every
/// length must be in `0..=i32::MAX` and the total must fit an i32.
fn lengths_to_offsets(lens: &[i64], offsets: &mut Vec<i32>) -> Result<u64> {
    offsets.reserve(lens.len() + 1);
    offsets.push(0);
    // Branch-free: any length outside 0..2^31 sets a high bit of `bad`; with every length
    // below 2^31 and at most 2^32 of them the u64 sum cannot wrap, and since it only grows,
    // checking the total against i32::MAX covers every offset.
    let mut bad = 0u64;
    let mut acc = 0u64;
    offsets.extend(lens.iter().map(|&l| {
        let l = l as u64;
        bad |= l >> 31;
        acc = acc.wrapping_add(l);
        acc as i32
    }));
    if bad != 0 || acc > i32::MAX as u64 {
        offsets.clear();
        let first_bad = lens
            .iter()
            .find(|&&l| !(0..=i64::from(i32::MAX)).contains(&l));
        return Err(match first_bad {
            Some(&l) => CodecError::Invalid {
                field: "string length",
                value: l as u64,
                allowed: "0..=i32::MAX",
            },
            None => CodecError::Invalid {
                field: "total string bytes",
                value: acc,
                allowed: "<= i32::MAX",
            },
        });
    }
    Ok(acc)
}

/// Checks every string `bytes[offsets[i] - base..offsets[i + 1] - base]` is UTF-8.
/// Precondition: `offsets` are non-decreasing, start at `base` and end at
/// `base + bytes.len()` (or are empty). Reports the first bad string's index.
///
/// The whole buffer is checked once; every string is then UTF-8 exactly when no offset
/// falls inside a character, i.e. on a continuation byte (`0b10xx_xxxx`).
fn check_utf8(bytes: &[u8], offsets: &[i32], base: i32) -> Result<()> {
    if bytes.is_ascii() {
        return Ok(());
    }
    let valid_up_to = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    };
    let pos = |o: i32| o.wrapping_sub(base) as u32 as usize;
    let is_continuation = |p: usize| bytes.get(p).is_some_and(|&b| b & 0xc0 == 0x80);
    // An offset inside a character of the valid prefix ends string k - 1 mid-character.
    // The common case (none) is one branch-free pass; the exact place is searched after.
    let any_split = valid_up_to == bytes.len()
        && offsets
            .iter()
            .fold(false, |acc, &o| acc | is_continuation(pos(o)));
    let split = if valid_up_to == bytes.len() && !any_split {
        None
    } else {
        offsets
            .iter()
            .take_while(|&&o| pos(o) < valid_up_to)
            .position(|&o| is_continuation(pos(o)))
    };
    let index = match split {
        Some(k) => k.saturating_sub(1),
        None if valid_up_to == bytes.len() => return Ok(()),
        // The string holding the first invalid byte.
        None => offsets
            .partition_point(|&o| pos(o) <= valid_up_to)
            .saturating_sub(1),
    };
    Err(CodecError::InvalidUtf8 { index })
}

#[cfg(test)]
mod tests;
