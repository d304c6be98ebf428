//! Encoding: validate the whole batch first (so `out` is never left half-written), then copy
//! the Arrow buffers out, one `extend_from_slice` per buffer on the fast paths.

use std::collections::HashSet;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_buffer::{ArrowNativeType, BooleanBuffer, ToByteSlice};
use cairn_storage::ColumnType;

use super::{
    BatchCodecError, CRC_BYTES, FLAG_VALIDITY, HEADER_BYTES, MAGIC, MAX_NAME_BYTES, arrow_type,
};

/// Appends the record for `batch` (logged to collection `collection_id`) to `out`.
///
/// Column `i` must have exactly `arrow_type(types[i])`. Sliced arrays are fine. On error `out`
/// is unchanged.
pub fn encode(
    collection_id: u64,
    batch: &RecordBatch,
    types: &[ColumnType],
    out: &mut Vec<u8>,
) -> Result<(), BatchCodecError> {
    check(batch, types)?;
    let start = out.len();
    out.reserve(encoded_len(batch, types));
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&collection_id.to_le_bytes());
    // Both fit: `check` bounded them.
    out.extend_from_slice(&(batch.num_rows() as u32).to_le_bytes());
    out.extend_from_slice(&(batch.num_columns() as u16).to_le_bytes());
    let schema = batch.schema();
    for ((field, array), &column_type) in schema.fields().iter().zip(batch.columns()).zip(types) {
        put_column(out, field.name(), column_type, array.as_ref());
    }
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// The exact number of bytes [`encode`] appends for `batch` (for inputs `encode` accepts), so
/// callers can reserve space or split batches to fit a WAL record.
pub fn encoded_len(batch: &RecordBatch, types: &[ColumnType]) -> usize {
    let rows = batch.num_rows();
    let schema = batch.schema();
    let columns: usize = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .zip(types)
        .map(|((field, array), &column_type)| {
            let validity = if has_nulls(array.as_ref()) {
                bitmap_len(rows)
            } else {
                0
            };
            4 + field.name().len() + validity + values_len(column_type, array.as_ref())
        })
        .sum();
    HEADER_BYTES + columns + CRC_BYTES
}

fn values_len(column_type: ColumnType, array: &dyn Array) -> usize {
    let rows = array.len();
    match column_type {
        ColumnType::Timestamp | ColumnType::I64 | ColumnType::U64 | ColumnType::F64 => rows * 8,
        ColumnType::Bool => bitmap_len(rows),
        ColumnType::String => {
            let data = array
                .as_string_opt::<i32>()
                .map_or(0, |strings| string_data_range(strings).len());
            8 + rows * 4 + data
        }
    }
}

/// Everything that can make `batch` unencodable, checked before a byte is written.
fn check(batch: &RecordBatch, types: &[ColumnType]) -> Result<(), BatchCodecError> {
    let columns = batch.num_columns();
    if columns != types.len() {
        return Err(BatchCodecError::TypeCountMismatch {
            columns,
            types: types.len(),
        });
    }
    let max_columns = usize::from(u16::MAX);
    if columns == 0 {
        return Err(BatchCodecError::NoColumns { max: max_columns });
    }
    if columns > max_columns {
        return Err(BatchCodecError::TooManyColumns {
            columns,
            max: max_columns,
        });
    }
    let max_rows = u32::MAX as usize;
    if batch.num_rows() > max_rows {
        return Err(BatchCodecError::TooManyRows {
            rows: batch.num_rows(),
            max: max_rows,
        });
    }
    let schema = batch.schema();
    let mut names = HashSet::with_capacity(columns);
    for (column, (field, &column_type)) in schema.fields().iter().zip(types).enumerate() {
        let expected = arrow_type(column_type);
        if field.data_type() != &expected || batch.column(column).data_type() != &expected {
            return Err(BatchCodecError::ArrowTypeMismatch {
                column,
                column_type,
                expected,
                found: batch.column(column).data_type().clone(),
            });
        }
        let len = field.name().len();
        if len == 0 || len > MAX_NAME_BYTES {
            return Err(BatchCodecError::InvalidColumnName {
                column,
                len,
                max: MAX_NAME_BYTES,
            });
        }
        if !names.insert(field.name().as_str()) {
            return Err(BatchCodecError::DuplicateColumnName {
                column,
                name: field.name().clone(),
            });
        }
    }
    Ok(())
}

/// Writes one column. `check` has verified the array's type matches `column_type`, so the
/// `as_*_opt` downcasts below never fail; were one to, the column would be written as empty
/// values and the decoder would reject the record (never silently wrong data).
fn put_column(out: &mut Vec<u8>, name: &str, column_type: ColumnType, array: &dyn Array) {
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(column_type.id());
    match array.nulls().filter(|nulls| nulls.null_count() > 0) {
        Some(nulls) => {
            out.push(FLAG_VALIDITY);
            put_bits(out, nulls.inner());
        }
        None => out.push(0),
    }
    match column_type {
        ColumnType::Timestamp => {
            if let Some(a) = array.as_primitive_opt::<TimestampNanosecondType>() {
                put_native(out, a.values());
            }
        }
        ColumnType::I64 => {
            if let Some(a) = array.as_primitive_opt::<Int64Type>() {
                put_native(out, a.values());
            }
        }
        ColumnType::U64 => {
            if let Some(a) = array.as_primitive_opt::<UInt64Type>() {
                put_native(out, a.values());
            }
        }
        ColumnType::F64 => {
            if let Some(a) = array.as_primitive_opt::<Float64Type>() {
                put_native(out, a.values());
            }
        }
        ColumnType::Bool => {
            if let Some(a) = array.as_boolean_opt() {
                put_bits(out, a.values());
            }
        }
        ColumnType::String => {
            if let Some(a) = array.as_string_opt::<i32>() {
                put_strings(out, a);
            }
        }
    }
}

fn has_nulls(array: &dyn Array) -> bool {
    array.nulls().is_some_and(|nulls| nulls.null_count() > 0)
}

fn bitmap_len(rows: usize) -> usize {
    rows.div_ceil(8)
}

/// Little-endian bytes of `values`: on little-endian targets, the buffer itself.
#[cfg(target_endian = "little")]
fn put_native<T: ArrowNativeType>(out: &mut Vec<u8>, values: &[T]) {
    out.extend_from_slice(values.to_byte_slice());
}

#[cfg(target_endian = "big")]
fn put_native<T: ArrowNativeType>(out: &mut Vec<u8>, values: &[T]) {
    for value in values {
        out.extend(std::slice::from_ref(value).to_byte_slice().iter().rev());
    }
}

/// Writes the bits of `bits` starting at bit 0 of a fresh byte, padding bits zeroed.
fn put_bits(out: &mut Vec<u8>, bits: &BooleanBuffer) {
    let len = bits.len();
    let byte_len = bitmap_len(len);
    if byte_len == 0 {
        return;
    }
    let start = out.len();
    let offset = bits.offset();
    let bytes = bits.inner().as_slice();
    if offset.is_multiple_of(8) {
        // A `BooleanBuffer` always covers offset + len bits, so the range is in bounds.
        let first = offset / 8;
        out.extend_from_slice(&bytes[first..first + byte_len]);
    } else {
        let chunks = bits.inner().bit_chunks(offset, len);
        for chunk in chunks.iter() {
            out.extend_from_slice(&chunk.to_le_bytes());
        }
        let tail_bytes = chunks.remainder_len().div_ceil(8);
        out.extend_from_slice(&chunks.remainder_bits().to_le_bytes()[..tail_bytes]);
    }
    debug_assert_eq!(out.len() - start, byte_len);
    let used = len % 8;
    if used != 0
        && let Some(last) = out.last_mut()
    {
        *last &= (1u8 << used) - 1;
    }
}

/// The byte range of `strings`' values buffer its (possibly sliced) offsets cover.
fn string_data_range(strings: &arrow_array::StringArray) -> std::ops::Range<usize> {
    let offsets = strings.value_offsets();
    let first = offsets.first().map_or(0, |&o| o.as_usize());
    let last = offsets.last().map_or(0, |&o| o.as_usize());
    first..last
}

fn put_strings(out: &mut Vec<u8>, strings: &arrow_array::StringArray) {
    let range = string_data_range(strings);
    out.extend_from_slice(&(range.len() as u64).to_le_bytes());
    let ends = strings.value_offsets().get(1..).unwrap_or_default();
    if range.start == 0 {
        // Offsets are non-negative i32s, whose little-endian bytes are those of the same u32.
        put_native(out, ends);
    } else {
        let at = out.len();
        out.resize(at + ends.len() * 4, 0);
        let (dst, _) = out[at..].as_chunks_mut::<4>();
        let first = range.start as i32;
        for (dst, &end) in dst.iter_mut().zip(ends) {
            *dst = ((end - first) as u32).to_le_bytes();
        }
    }
    out.extend_from_slice(&strings.values().as_slice()[range]);
}
