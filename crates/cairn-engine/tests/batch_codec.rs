//! The WAL write-batch record codec: round trips, the byte layout (re-implemented here by
//! `Rec`, so it pins the format), every decode error path, hostile bytes, allocation bounds,
//! and an ignored throughput program.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, RecordBatchOptions, StringArray,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use cairn_engine::ColumnType;
use cairn_engine::batch_codec::{BatchCodecError as E, arrow_type, decode, encode, encoded_len};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "batch_codec/errors.rs"]
mod errors;
#[path = "batch_codec/layout.rs"]
mod layout;
#[path = "batch_codec/throughput.rs"]
mod throughput;

use layout::reseal;

// ---- allocation accounting (per thread, so parallel tests do not disturb each other) ----

struct CountingAlloc;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    ALLOCATED
        .try_with(|a| a.set(a.get().saturating_add(bytes)))
        .unwrap_or(());
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size.saturating_sub(layout.size()));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// `f`'s result and the bytes this thread allocated while running it.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let result = f();
    (result, ALLOCATED.with(Cell::get) - before)
}

// ---- building batches ----

const ALL_TYPES: [ColumnType; 6] = [
    ColumnType::Timestamp,
    ColumnType::I64,
    ColumnType::U64,
    ColumnType::F64,
    ColumnType::Bool,
    ColumnType::String,
];
const WORDS: &[&str] = &[
    "",
    "a",
    "host.example.com",
    "é",
    "日本語",
    "🦀",
    "x🦀y",
    "ñandú-42",
];

/// `nulls`: 0 no null buffer, 1 some nulls, 2 a null buffer without nulls, 3 all null.
fn make_array(rng: &mut StdRng, t: ColumnType, rows: usize, nulls: u8) -> ArrayRef {
    let nulls = match nulls {
        0 => None,
        1 => Some(NullBuffer::from_iter(
            (0..rows).map(|_| rng.random_bool(0.7)),
        )),
        2 => Some(NullBuffer::new_valid(rows)),
        _ => Some(NullBuffer::new_null(rows)),
    };
    let words = |rng: &mut StdRng| -> Vec<i64> { (0..rows).map(|_| rng.random()).collect() };
    match t {
        ColumnType::Timestamp => Arc::new(
            PrimitiveArray::<TimestampNanosecondType>::new(words(rng).into(), nulls)
                .with_timezone("UTC"),
        ),
        ColumnType::I64 => Arc::new(PrimitiveArray::<Int64Type>::new(words(rng).into(), nulls)),
        ColumnType::U64 => {
            let v: Vec<u64> = (0..rows).map(|_| rng.random()).collect();
            Arc::new(PrimitiveArray::<UInt64Type>::new(v.into(), nulls))
        }
        ColumnType::F64 => {
            let v: Vec<f64> = (0..rows).map(|_| f64::from_bits(rng.random())).collect();
            Arc::new(PrimitiveArray::<Float64Type>::new(v.into(), nulls))
        }
        ColumnType::Bool => {
            let v: Vec<bool> = (0..rows).map(|_| rng.random()).collect();
            Arc::new(BooleanArray::new(BooleanBuffer::from(v), nulls))
        }
        ColumnType::String => {
            let plain = StringArray::from_iter_values(
                (0..rows).map(|_| WORDS[rng.random_range(0..WORDS.len())]),
            );
            let (offsets, values, _) = plain.into_parts();
            Arc::new(StringArray::new(offsets, values, nulls))
        }
    }
}

fn name(i: usize) -> String {
    if i % 3 == 2 {
        format!("列é{i}")
    } else {
        format!("c{i}")
    }
}

fn make_batch(seed: u64, specs: &[(ColumnType, u8)], rows: usize) -> RecordBatch {
    let mut rng = StdRng::seed_from_u64(seed);
    let fields: Vec<Field> = (0..specs.len())
        .map(|i| Field::new(name(i), arrow_type(specs[i].0), true))
        .collect();
    let arrays = specs
        .iter()
        .map(|&(t, nulls)| make_array(&mut rng, t, rows, nulls))
        .collect();
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options).unwrap()
}

/// Encodes after a junk prefix, checks the length, decodes, compares, and checks that
/// re-encoding the decoded batch gives the same bytes (which also pins null-slot values).
fn round_trip(batch: &RecordBatch, types: &[ColumnType], id: u64) -> Vec<u8> {
    let mut out = vec![0xaa; 3];
    encode(id, batch, types, &mut out).unwrap();
    assert_eq!(out[..3], [0xaa; 3]);
    let record = out.split_off(3);
    assert_eq!(record.len(), encoded_len(batch, types));
    let decoded = decode(&record).unwrap();
    assert_eq!(decoded.collection_id, id);
    assert_eq!(decoded.batch.num_rows(), batch.num_rows());
    for (i, column) in decoded.columns.iter().enumerate() {
        assert_eq!(column.name, *batch.schema().field(i).name());
        assert_eq!(column.column_type, types[i]);
        let field = decoded.batch.schema().field(i).clone();
        assert_eq!(
            (field.name(), field.data_type()),
            (&column.name, &arrow_type(types[i]))
        );
        assert!(field.is_nullable());
        assert_eq!(
            decoded.batch.column(i).as_ref(),
            batch.column(i).as_ref(),
            "column {i}"
        );
    }
    let mut again = Vec::new();
    encode(id, &decoded.batch, types, &mut again).unwrap();
    assert_eq!(again, record);
    record
}

#[test]
fn every_type_every_null_shape_and_slice() {
    for (k, &t) in ALL_TYPES.iter().enumerate() {
        for nulls in 0..4 {
            for rows in [0, 1, 7, 8, 9, 63, 64, 65, 1000] {
                let batch = make_batch(k as u64 * 31 + u64::from(nulls), &[(t, nulls)], rows + 13);
                for offset in [0, 1, 3, 8, 13] {
                    round_trip(&batch.slice(offset, rows), &[t], 7);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn round_trips(
        seed: u64,
        id: u64,
        rows in 0usize..3000,
        offset in 0usize..70,
        specs in prop::collection::vec((0usize..6, 0u8..4), 1..8),
    ) {
        let specs: Vec<(ColumnType, u8)> = specs.iter().map(|&(t, n)| (ALL_TYPES[t], n)).collect();
        let types: Vec<ColumnType> = specs.iter().map(|s| s.0).collect();
        let batch = make_batch(seed, &specs, rows + offset).slice(offset, rows);
        let record = round_trip(&batch, &types, id);
        // Any single-byte change is caught by the CRC; resealed, it never panics and any
        // record that still decodes is canonical.
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..32 {
            let mut bad = record.clone();
            let at = rng.random_range(0..bad.len());
            bad[at] ^= rng.random_range(1..=255u8);
            prop_assert!(decode(&bad).is_err());
            check_canonical_or_err(&reseal(&bad[..bad.len() - 4]));
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check_canonical_or_err(&bytes);
        let mut body = b"CWB1".to_vec();
        body.extend_from_slice(&bytes);
        check_canonical_or_err(&reseal(&body));
    }
}

/// Decoding hostile bytes must not panic; if they decode, they are what encode would write.
fn check_canonical_or_err(bytes: &[u8]) {
    let (result, allocated) = allocated_by(|| decode(bytes));
    assert!(
        allocated <= 2 * bytes.len() + 64 * 1024,
        "{allocated} bytes allocated"
    );
    if let Ok(decoded) = result {
        let types: Vec<ColumnType> = decoded.columns.iter().map(|c| c.column_type).collect();
        let mut again = Vec::new();
        encode(decoded.collection_id, &decoded.batch, &types, &mut again).unwrap();
        assert_eq!(again, bytes);
    }
}
