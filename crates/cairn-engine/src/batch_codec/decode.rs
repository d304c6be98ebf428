//! Decoding untrusted bytes. Every length is checked against the bytes that remain before
//! anything is allocated, and nothing is reserved for what a header merely claims, so a decode
//! allocates about the payload length plus Arrow's objects for each column actually parsed
//! (~600 bytes each; a column takes at least 5 payload bytes). Values are copied once out of
//! the payload into Arrow-owned buffers.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{
    ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, RecordBatchOptions, StringArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{Field, Schema};
use cairn_storage::ColumnType;

use super::{
    BatchCodecError, BatchColumn, CRC_BYTES, DecodedBatch, FLAG_VALIDITY, HEADER_BYTES, MAGIC,
    MAX_NAME_BYTES, arrow_type,
};

/// The fewest bytes one column can take: name length, a 1-byte name, type id, flags.
const MIN_COLUMN_BYTES: usize = 5;
/// Columns reserved for before any is parsed.
const RESERVE_COLUMNS: usize = 64;

/// Decodes and fully validates one record.
pub fn decode(bytes: &[u8]) -> Result<DecodedBatch, BatchCodecError> {
    let min = HEADER_BYTES + CRC_BYTES;
    if bytes.len() < min {
        return Err(BatchCodecError::TooShort {
            len: bytes.len(),
            min,
        });
    }
    let (body, stored) = bytes.split_at(bytes.len() - CRC_BYTES);
    let mut r = Reader { body, pos: 0 };
    let magic = r.array::<4>("magic")?;
    if magic != MAGIC {
        return Err(BatchCodecError::BadMagic { found: magic });
    }
    let stored = u32::from_le_bytes(stored.try_into().unwrap_or_default());
    let computed = crc32c::crc32c(body);
    if stored != computed {
        return Err(BatchCodecError::CrcMismatch {
            offset: body.len(),
            stored,
            computed,
        });
    }
    let collection_id = u64::from_le_bytes(r.array("collection id")?);
    let rows = u32::from_le_bytes(r.array("row count")?) as usize;
    let count_at = r.pos;
    let count = usize::from(u16::from_le_bytes(r.array("column count")?));
    if count == 0 {
        return Err(BatchCodecError::ZeroColumns { offset: count_at });
    }
    if count > cairn_storage::MAX_COLUMNS {
        return Err(BatchCodecError::ColumnCountTooLarge {
            offset: count_at,
            count,
            max: cairn_storage::MAX_COLUMNS,
        });
    }
    // Reserve for what the bytes can hold, never for what the header claims, and only a
    // little up front: past that, growth follows the columns actually parsed.
    let capacity = count
        .min(r.remaining() / MIN_COLUMN_BYTES)
        .min(RESERVE_COLUMNS);
    let mut columns = Vec::with_capacity(capacity);
    let mut fields = Vec::with_capacity(capacity);
    let mut arrays = Vec::with_capacity(capacity);
    let mut names = HashSet::with_capacity(capacity);
    for column in 0..count {
        let (name, column_type, array) = read_column(&mut r, column, rows)?;
        if !names.insert(name) {
            return Err(BatchCodecError::DuplicateColumnName {
                column,
                name: name.to_owned(),
            });
        }
        fields.push(Field::new(name, arrow_type(column_type), true));
        columns.push(BatchColumn {
            name: name.to_owned(),
            column_type,
        });
        arrays.push(array);
    }
    if r.remaining() != 0 {
        return Err(BatchCodecError::TrailingBytes {
            offset: r.pos,
            count: r.remaining(),
        });
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    let batch = RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
        .map_err(BatchCodecError::Arrow)?;
    Ok(DecodedBatch {
        collection_id,
        columns,
        batch,
    })
}

/// A cursor over the record without its CRC; every read is bounds-checked.
struct Reader<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.body.len() - self.pos
    }

    fn take(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], BatchCodecError> {
        let rest = &self.body[self.pos..];
        match usize::try_from(len) {
            Ok(n) if n <= rest.len() => {
                self.pos += n;
                Ok(&rest[..n])
            }
            _ => Err(BatchCodecError::Truncated {
                offset: self.pos,
                what,
                needed: len,
                available: rest.len(),
            }),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], BatchCodecError> {
        let bytes = self.take(N as u64, what)?;
        Ok(bytes.try_into().unwrap_or([0; N]))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, BatchCodecError> {
        Ok(self.array::<1>(what)?[0])
    }
}

fn read_column<'a>(
    r: &mut Reader<'a>,
    column: usize,
    rows: usize,
) -> Result<(&'a str, ColumnType, ArrayRef), BatchCodecError> {
    let name_at = r.pos;
    let name_len = usize::from(u16::from_le_bytes(r.array("column name length")?));
    if name_len == 0 || name_len > MAX_NAME_BYTES {
        return Err(BatchCodecError::NameLength {
            column,
            offset: name_at,
            len: name_len,
            max: MAX_NAME_BYTES,
        });
    }
    let name_at = r.pos;
    let name = std::str::from_utf8(r.take(name_len as u64, "column name")?).map_err(|_| {
        BatchCodecError::NameNotUtf8 {
            column,
            offset: name_at,
        }
    })?;
    let type_at = r.pos;
    let id = r.u8("column type")?;
    let column_type = ColumnType::from_id(id).ok_or(BatchCodecError::UnknownColumnType {
        column,
        offset: type_at,
        id,
    })?;
    let flags_at = r.pos;
    let flags = r.u8("column flags")?;
    if flags & !FLAG_VALIDITY != 0 {
        return Err(BatchCodecError::UnknownFlags {
            column,
            offset: flags_at,
            flags,
        });
    }
    let nulls = if flags & FLAG_VALIDITY != 0 {
        let at = r.pos;
        let nulls = NullBuffer::new(read_bits(r, column, rows, "validity")?);
        if nulls.null_count() == 0 {
            return Err(BatchCodecError::ValidityWithoutNulls { column, offset: at });
        }
        Some(nulls)
    } else {
        None
    };
    let array = read_values(r, column, rows, column_type, nulls)?;
    Ok((name, column_type, array))
}

fn read_values(
    r: &mut Reader<'_>,
    column: usize,
    rows: usize,
    column_type: ColumnType,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, BatchCodecError> {
    let arrow = BatchCodecError::Arrow;
    Ok(match column_type {
        ColumnType::Timestamp => {
            let values = read_words(r, rows, i64::from_le_bytes)?;
            Arc::new(
                PrimitiveArray::<TimestampNanosecondType>::try_new(values, nulls)
                    .map_err(arrow)?
                    .with_timezone("UTC"),
            )
        }
        ColumnType::I64 => {
            let values = read_words(r, rows, i64::from_le_bytes)?;
            Arc::new(PrimitiveArray::<Int64Type>::try_new(values, nulls).map_err(arrow)?)
        }
        ColumnType::U64 => {
            let values = read_words(r, rows, u64::from_le_bytes)?;
            Arc::new(PrimitiveArray::<UInt64Type>::try_new(values, nulls).map_err(arrow)?)
        }
        ColumnType::F64 => {
            let values = read_words(r, rows, f64::from_le_bytes)?;
            Arc::new(PrimitiveArray::<Float64Type>::try_new(values, nulls).map_err(arrow)?)
        }
        ColumnType::Bool => {
            let values = read_bits(r, column, rows, "bool values")?;
            // Values and validity both hold `rows` bits, so `new`'s length check holds.
            Arc::new(BooleanArray::new(values, nulls))
        }
        ColumnType::String => Arc::new(read_strings(r, column, rows, nulls)?),
    })
}

/// `rows` 8-byte little-endian values; the loop compiles to a copy.
fn read_words<T: arrow_buffer::ArrowNativeType>(
    r: &mut Reader<'_>,
    rows: usize,
    from_le: fn([u8; 8]) -> T,
) -> Result<ScalarBuffer<T>, BatchCodecError> {
    let bytes = r.take(rows as u64 * 8, "column values")?;
    let (words, _) = bytes.as_chunks::<8>();
    let values: Vec<T> = words.iter().map(|&w| from_le(w)).collect();
    Ok(ScalarBuffer::from(values))
}

/// A `rows`-bit LSB-first bitmap whose padding bits must be zero.
fn read_bits(
    r: &mut Reader<'_>,
    column: usize,
    rows: usize,
    what: &'static str,
) -> Result<BooleanBuffer, BatchCodecError> {
    let at = r.pos;
    let bytes = r.take(rows.div_ceil(8) as u64, what)?;
    let used = rows % 8;
    if used != 0
        && let Some(&last) = bytes.last()
        && last >> used != 0
    {
        return Err(BatchCodecError::NonZeroPadding {
            column,
            offset: at + bytes.len() - 1,
            what,
        });
    }
    // `bytes` holds exactly ceil(rows / 8) bytes, enough for `rows` bits.
    Ok(BooleanBuffer::new(Buffer::from_slice_ref(bytes), 0, rows))
}

fn read_strings(
    r: &mut Reader<'_>,
    column: usize,
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<StringArray, BatchCodecError> {
    let len_at = r.pos;
    let data_len = u64::from_le_bytes(r.array("string data length")?);
    let max = i32::MAX as u64;
    if data_len > max {
        return Err(BatchCodecError::StringDataTooLarge {
            column,
            offset: len_at,
            len: data_len,
            max,
        });
    }
    let ends_at = r.pos;
    let ends = r.take(rows as u64 * 4, "string offsets")?;
    let data_at = r.pos;
    let data = r.take(data_len, "string data")?;
    let offsets = read_offsets(column, ends_at, ends, data_len)?;
    let values = Buffer::from_slice_ref(data);
    // Arrow checks the data is UTF-8 and every offset is on a character boundary; when it
    // refuses, find the precise fault for the error.
    StringArray::try_new(offsets, values, nulls).map_err(|e| {
        string_fault(column, ends_at, data_at, ends, data).unwrap_or(BatchCodecError::Arrow(e))
    })
}

/// Arrow offsets (a leading 0, then the end offsets) after checking they are non-decreasing and
/// end at `data_len`; together these bound every offset to `0..=data_len <= i32::MAX`.
fn read_offsets(
    column: usize,
    ends_at: usize,
    ends: &[u8],
    data_len: u64,
) -> Result<OffsetBuffer<i32>, BatchCodecError> {
    let (ends, _) = ends.as_chunks::<4>();
    let mut offsets = Vec::with_capacity(ends.len() + 1);
    offsets.push(0i32);
    let mut previous = 0u32;
    for (row, &end) in ends.iter().enumerate() {
        let found = u32::from_le_bytes(end);
        if found < previous {
            return Err(BatchCodecError::OffsetDecreasing {
                column,
                offset: ends_at + row * 4,
                row,
                previous,
                found,
            });
        }
        previous = found;
        offsets.push(found as i32);
    }
    if u64::from(previous) != data_len {
        return Err(BatchCodecError::LastOffsetMismatch {
            column,
            offset: ends_at + ends.len().saturating_sub(1) * 4,
            expected: data_len,
            found: previous,
        });
    }
    // Non-decreasing from 0 and ending at data_len <= i32::MAX: `OffsetBuffer::new`'s checks
    // (non-empty, first >= 0, monotone) hold and it cannot panic.
    Ok(OffsetBuffer::new(ScalarBuffer::from(offsets)))
}

/// Why Arrow refused validated offsets and data: invalid UTF-8, or an offset that splits a
/// character. `None` if neither (which would be a bug).
fn string_fault(
    column: usize,
    ends_at: usize,
    data_at: usize,
    ends: &[u8],
    data: &[u8],
) -> Option<BatchCodecError> {
    if let Err(e) = std::str::from_utf8(data) {
        return Some(BatchCodecError::InvalidUtf8 {
            column,
            offset: data_at + e.valid_up_to(),
        });
    }
    let (ends, _) = ends.as_chunks::<4>();
    ends.iter().enumerate().find_map(|(row, &end)| {
        let value = u32::from_le_bytes(end);
        let byte = *data.get(value as usize)?;
        // UTF-8 continuation bytes are 0b10xx_xxxx.
        (byte & 0xc0 == 0x80).then_some(BatchCodecError::SplitCharacter {
            column,
            offset: ends_at + row * 4,
            row,
            value,
        })
    })
}
