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
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use cairn_engine::ColumnType;
use cairn_engine::batch_codec::{BatchCodecError as E, arrow_type, decode, encode, encoded_len};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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

// ---- the byte layout, written independently of the codec ----

struct Rec(Vec<u8>);

impl Rec {
    fn new(id: u64, rows: u32, columns: u16) -> Self {
        let mut b = b"CWB1".to_vec();
        b.extend_from_slice(&id.to_le_bytes());
        b.extend_from_slice(&rows.to_le_bytes());
        b.extend_from_slice(&columns.to_le_bytes());
        Rec(b)
    }
    fn head(mut self, name: &str, type_id: u8, flags: u8) -> Self {
        self.0.extend_from_slice(&(name.len() as u16).to_le_bytes());
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(&[type_id, flags]);
        self
    }
    fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn words(self, values: &[u64]) -> Self {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(&bytes)
    }
    fn strings(self, data_len: u64, ends: &[u32], data: &[u8]) -> Self {
        let ends: Vec<u8> = ends.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(&data_len.to_le_bytes()).raw(&ends).raw(data)
    }
    fn seal(self) -> Vec<u8> {
        reseal(&self.0)
    }
}

fn reseal(body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    b.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    b
}

/// Three rows over every type: ts [1, null(-5), 3], i64 [-1, 0, 1], u64, f64 [0.5, -0.0, NaN],
/// bool [true, null(true), false], string ["a", null("zz"), "é"].
fn sample_batch() -> (RecordBatch, Vec<ColumnType>) {
    let null_2nd = || Some(NullBuffer::from(vec![true, false, true]));
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(
            PrimitiveArray::<TimestampNanosecondType>::new(vec![1, -5, 3].into(), null_2nd())
                .with_timezone("UTC"),
        ),
        Arc::new(PrimitiveArray::<Int64Type>::from(vec![-1, 0, 1])),
        Arc::new(PrimitiveArray::<UInt64Type>::from(vec![u64::MAX, 0, 9])),
        Arc::new(PrimitiveArray::<Float64Type>::from(vec![
            0.5,
            -0.0,
            f64::NAN,
        ])),
        Arc::new(BooleanArray::new(
            BooleanBuffer::from(vec![true, true, false]),
            null_2nd(),
        )),
        Arc::new(StringArray::new(
            ScalarBuffer::from(vec![0, 1, 3, 5]).into(),
            "azzé".as_bytes().to_vec().into(),
            null_2nd(),
        )),
    ];
    let fields: Vec<Field> = (0..6)
        .map(|i| Field::new(name(i), arrays[i].data_type().clone(), false))
        .collect();
    (
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap(),
        ALL_TYPES.to_vec(),
    )
}

fn sample_bytes() -> Vec<u8> {
    let f = |x: f64| x.to_bits();
    Rec::new(0x0102_0304_0506_0708, 3, 6)
        .head("c0", 1, 1)
        .raw(&[0b101])
        .words(&[1, -5i64 as u64, 3])
        .head("c1", 2, 0)
        .words(&[u64::MAX, 0, 1])
        .head("列é2", 3, 0)
        .words(&[u64::MAX, 0, 9])
        .head("c3", 4, 0)
        .words(&[f(0.5), f(-0.0), f(f64::NAN)])
        .head("c4", 5, 1)
        .raw(&[0b101, 0b011])
        .head("列é5", 6, 1)
        .raw(&[0b101])
        .strings(5, &[1, 3, 5], "azzé".as_bytes())
        .seal()
}

#[test]
fn layout_matches_the_format() {
    let (batch, types) = sample_batch();
    let mut out = Vec::new();
    encode(0x0102_0304_0506_0708, &batch, &types, &mut out).unwrap();
    assert_eq!(out, sample_bytes());
    assert_eq!(out.len(), encoded_len(&batch, &types));
    // NaN makes the f64 column unequal to itself; compare the bits via a re-encode.
    let decoded = decode(&out).unwrap();
    let mut again = Vec::new();
    encode(decoded.collection_id, &decoded.batch, &types, &mut again).unwrap();
    assert_eq!(again, out);
    assert_eq!(
        arrow_type(ColumnType::Timestamp),
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    );
}

// ---- decode errors ----

fn err(bytes: &[u8]) -> E {
    decode(bytes).expect_err("must not decode")
}

/// A one-column string record with the given end offsets and data.
fn strings_record(rows: u32, data_len: u64, ends: &[u32], data: &[u8]) -> Vec<u8> {
    Rec::new(1, rows, 1)
        .head("s", 6, 0)
        .strings(data_len, ends, data)
        .seal()
}

#[test]
fn header_errors() {
    let good = sample_bytes();
    assert!(matches!(err(&good[..21]), E::TooShort { len: 21, min: 22 }));
    let mut bad = good.clone();
    bad[0] = b'X';
    assert!(matches!(err(&bad), E::BadMagic { found } if &found == b"XWB1"));
    assert!(matches!(
        err(&reseal(&bad[..bad.len() - 4])),
        E::BadMagic { .. }
    ));
    let mut bad = good.clone();
    bad[5] ^= 1;
    assert!(matches!(err(&bad), E::CrcMismatch { offset, .. } if offset == good.len() - 4));
    assert!(matches!(
        err(&Rec::new(1, 0, 0).seal()),
        E::ZeroColumns { offset: 16 }
    ));
    let mut trailing = good[..good.len() - 4].to_vec();
    trailing.push(0);
    let at = good.len() - 4;
    assert!(
        matches!(err(&reseal(&trailing)), E::TrailingBytes { offset, count: 1 } if offset == at)
    );
}

#[test]
fn truncated_at_every_offset_is_rejected() {
    let good = sample_bytes();
    for cut in 0..good.len() {
        assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
    }
    // Resealed, the truncation reaches the structural checks.
    for cut in 4..good.len() - 4 {
        let e = err(&reseal(&good[..cut]));
        assert!(
            matches!(e, E::Truncated { .. } | E::TooShort { .. }),
            "cut {cut}: {e:?}"
        );
    }
}

#[test]
fn column_head_errors() {
    for id in [0u8, 7, 255] {
        let bytes = Rec::new(1, 0, 1).head("x", id, 0).seal();
        assert!(
            matches!(err(&bytes), E::UnknownColumnType { column: 0, offset: 21, id: i } if i == id)
        );
    }
    for flags in [2u8, 3, 0x80] {
        let bytes = Rec::new(1, 1, 1)
            .head("x", 2, flags)
            .raw(&[0])
            .words(&[0])
            .seal();
        assert!(matches!(err(&bytes), E::UnknownFlags { offset: 22, flags: f, .. } if f == flags));
    }
    let dup = Rec::new(1, 0, 2).head("x", 2, 0).head("x", 3, 0).seal();
    assert!(matches!(err(&dup), E::DuplicateColumnName { column: 1, name } if name == "x"));
    for len in [0u16, 256, u16::MAX] {
        let bytes = Rec::new(1, 0, 1)
            .raw(&len.to_le_bytes())
            .raw(&[b'x'; 300])
            .seal();
        assert!(matches!(err(&bytes), E::NameLength { offset: 18, .. }));
    }
    let bytes = Rec::new(1, 0, 1)
        .raw(&200u16.to_le_bytes())
        .raw(b"abc")
        .seal();
    assert!(matches!(
        err(&bytes),
        E::Truncated {
            offset: 20,
            needed: 200,
            ..
        }
    ));
    let bytes = Rec::new(1, 0, 1)
        .raw(&2u16.to_le_bytes())
        .raw(&[0xc3, 0x28, 2, 0])
        .seal();
    assert!(matches!(
        err(&bytes),
        E::NameNotUtf8 {
            column: 0,
            offset: 20
        }
    ));
}

#[test]
fn bitmap_errors() {
    let all_valid = Rec::new(1, 3, 1)
        .head("x", 2, 1)
        .raw(&[0b111])
        .words(&[1, 2, 3])
        .seal();
    assert!(matches!(
        err(&all_valid),
        E::ValidityWithoutNulls { offset: 23, .. }
    ));
    let padded = Rec::new(1, 3, 1)
        .head("x", 2, 1)
        .raw(&[0b1001])
        .words(&[1, 2, 3])
        .seal();
    assert!(matches!(
        err(&padded),
        E::NonZeroPadding {
            what: "validity",
            offset: 23,
            ..
        }
    ));
    let bools = Rec::new(1, 9, 1).head("b", 5, 0).raw(&[0xff, 0b11]).seal();
    assert!(matches!(
        err(&bools),
        E::NonZeroPadding {
            what: "bool values",
            offset: 24,
            ..
        }
    ));
    let ok = Rec::new(1, 9, 1).head("b", 5, 0).raw(&[0xff, 0b1]).seal();
    assert!(decode(&ok).is_ok());
}

#[test]
fn string_errors() {
    assert!(decode(&strings_record(2, 3, &[1, 3], b"abc")).is_ok());
    let e = err(&strings_record(3, 3, &[2, 1, 3], b"abc"));
    assert!(matches!(
        e,
        E::OffsetDecreasing {
            row: 1,
            previous: 2,
            found: 1,
            offset: 35,
            ..
        }
    ));
    let e = err(&strings_record(2, 3, &[1, 2], b"abc"));
    assert!(matches!(
        e,
        E::LastOffsetMismatch {
            expected: 3,
            found: 2,
            offset: 35,
            ..
        }
    ));
    let e = err(&strings_record(0, 3, &[], b"abc"));
    assert!(matches!(
        e,
        E::LastOffsetMismatch {
            expected: 3,
            found: 0,
            ..
        }
    ));
    let e = err(&strings_record(2, 3, &[1, 3], b"a\xffc"));
    assert!(matches!(e, E::InvalidUtf8 { offset: 40, .. }));
    assert!(decode(&strings_record(2, 4, &[3, 4], "aé!".as_bytes())).is_ok());
    let e = err(&strings_record(2, 4, &[2, 4], "aé!".as_bytes()));
    assert!(
        matches!(
            e,
            E::SplitCharacter {
                row: 0,
                value: 2,
                offset: 31,
                ..
            }
        ),
        "{e:?}"
    );
    let e = err(&strings_record(3, 6, &[1, 4, 6], "a🦀!".as_bytes()));
    assert!(
        matches!(
            e,
            E::SplitCharacter {
                row: 1,
                value: 4,
                offset: 35,
                ..
            }
        ),
        "{e:?}"
    );
    let e = err(&strings_record(1, u64::MAX, &[0], b""));
    assert!(matches!(
        e,
        E::StringDataTooLarge {
            offset: 23,
            len: u64::MAX,
            ..
        }
    ));
    let e = err(&strings_record(1, i32::MAX as u64, &[0], b""));
    assert!(
        matches!(
            e,
            E::Truncated {
                what: "string data",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn huge_claimed_lengths_are_rejected_without_allocating() {
    let cases = [
        Rec::new(1, u32::MAX, 1).head("x", 2, 0).seal(),
        Rec::new(1, u32::MAX, 1).head("x", 5, 1).seal(),
        Rec::new(1, u32::MAX, 1)
            .head("s", 6, 0)
            .raw(&0u64.to_le_bytes())
            .seal(),
        Rec::new(1, 1, 1)
            .head("s", 6, 0)
            .raw(&(i32::MAX as u64).to_le_bytes())
            .raw(&[0; 4])
            .seal(),
        Rec::new(1, 0, u16::MAX).head("x", 2, 0).seal(),
    ];
    for bytes in &cases {
        let (result, allocated) = allocated_by(|| decode(bytes));
        assert!(matches!(result, Err(E::Truncated { .. })), "{result:?}");
        assert!(allocated <= 4096, "{allocated} bytes allocated");
    }
}

#[test]
fn valid_decode_allocates_about_the_payload() {
    let specs: Vec<(ColumnType, u8)> = ALL_TYPES.iter().map(|&t| (t, 1)).collect();
    let batch = make_batch(5, &specs, 2000);
    let mut bytes = Vec::new();
    encode(1, &batch, &ALL_TYPES, &mut bytes).unwrap();
    let (result, allocated) = allocated_by(|| decode(&bytes));
    result.unwrap();
    assert!(
        allocated <= bytes.len() + 16 * 1024,
        "{allocated} for {} bytes",
        bytes.len()
    );
}

// ---- encode errors ----

#[test]
fn encode_rejects_bad_batches_and_leaves_out_unchanged() {
    let (batch, types) = sample_batch();
    let mut out = vec![9u8];
    let mut check = |b: &RecordBatch, t: &[ColumnType], ok: fn(&E) -> bool| {
        let e = encode(1, b, t, &mut out).expect_err("must not encode");
        assert!(ok(&e), "{e:?}");
        assert_eq!(out, [9]);
    };
    check(&batch, &types[1..], |e| {
        matches!(
            e,
            E::TypeCountMismatch {
                columns: 6,
                types: 5
            }
        )
    });
    let mut swapped = types.clone();
    swapped.swap(0, 1);
    check(&batch, &swapped, |e| {
        matches!(e, E::ArrowTypeMismatch { column: 0, .. })
    });
    let one = |name: &str, array: ArrayRef| {
        let schema = Schema::new(vec![Field::new(name, array.data_type().clone(), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap()
    };
    let naive: ArrayRef = Arc::new(PrimitiveArray::<TimestampNanosecondType>::from(vec![1]));
    check(&one("t", naive), &[ColumnType::Timestamp], |e| {
        matches!(e, E::ArrowTypeMismatch { .. })
    });
    let ints: ArrayRef = Arc::new(PrimitiveArray::<Int64Type>::from(vec![1]));
    check(&one("", ints.clone()), &[ColumnType::I64], |e| {
        matches!(e, E::InvalidColumnName { len: 0, .. })
    });
    check(
        &one(&"n".repeat(256), ints.clone()),
        &[ColumnType::I64],
        |e| matches!(e, E::InvalidColumnName { len: 256, .. }),
    );
    let fields = vec![
        Field::new("a", DataType::Int64, true),
        Field::new("a", DataType::Int64, true),
    ];
    let dup =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), vec![ints.clone(), ints]).unwrap();
    check(&dup, &[ColumnType::I64; 2], |e| {
        matches!(e, E::DuplicateColumnName { column: 1, .. })
    });
    let options = RecordBatchOptions::new().with_row_count(Some(3));
    let empty =
        RecordBatch::try_new_with_options(Arc::new(Schema::empty()), vec![], &options).unwrap();
    check(&empty, &[], |e| matches!(e, E::NoColumns { .. }));
}

// ---- throughput (a program, not a timed test) ----

/// cargo test --release -p cairn-engine --test batch_codec -- --ignored --nocapture
#[test]
#[ignore]
fn throughput_dns_like() {
    let rows = 1_000_000;
    let mut rng = StdRng::seed_from_u64(42);
    let strings = |f: &mut dyn FnMut() -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values((0..rows).map(|_| f())))
    };
    let ts: Vec<i64> = (0..rows as i64)
        .map(|i| 1_700_000_000_000_000_000 + i * 997)
        .collect();
    let columns: Vec<(&str, ColumnType, ArrayRef)> = vec![
        (
            "time",
            ColumnType::Timestamp,
            Arc::new(PrimitiveArray::<TimestampNanosecondType>::from(ts).with_timezone("UTC")),
        ),
        (
            "qname",
            ColumnType::String,
            strings(&mut || {
                format!(
                    "host{}.svc{}.example.com",
                    rng.random_range(0..5000),
                    rng.random_range(0..40)
                )
            }),
        ),
        (
            "qtype",
            ColumnType::String,
            strings(&mut || ["A", "AAAA", "MX", "TXT", "PTR"][rng.random_range(0..5)].to_owned()),
        ),
        (
            "client",
            ColumnType::String,
            strings(&mut || {
                format!(
                    "10.{}.{}.{}",
                    rng.random::<u8>(),
                    rng.random::<u8>(),
                    rng.random::<u8>()
                )
            }),
        ),
        (
            "rcode",
            ColumnType::String,
            strings(&mut || ["NOERROR", "NXDOMAIN", "SERVFAIL"][rng.random_range(0..3)].to_owned()),
        ),
        (
            "tcp",
            ColumnType::Bool,
            Arc::new(BooleanArray::from(
                (0..rows).map(|i| i % 17 == 0).collect::<Vec<_>>(),
            )),
        ),
        (
            "latency_ms",
            ColumnType::F64,
            Arc::new(PrimitiveArray::<Float64Type>::from(
                (0..rows)
                    .map(|i| (i % 1000) as f64 * 0.25)
                    .collect::<Vec<_>>(),
            )),
        ),
    ];
    let types: Vec<ColumnType> = columns.iter().map(|c| c.1).collect();
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(c.0, c.2.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|c| c.2).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();

    let mut out = Vec::with_capacity(encoded_len(&batch, &types));
    let best = |f: &mut dyn FnMut()| {
        (0..7)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let encode_s = best(&mut || {
        out.clear();
        encode(9, &batch, &types, &mut out).unwrap();
    });
    let len = out.len();
    let decode_s = best(&mut || {
        std::hint::black_box(decode(&out).unwrap());
    });
    let mut copy = vec![0u8; len];
    let copy_s = best(&mut || {
        copy.copy_from_slice(&out);
        std::hint::black_box(&copy);
    });
    let mb = len as f64 / 1e6;
    println!(
        "record: {rows} rows, {mb:.1} MB ({:.1} bytes/row)",
        len as f64 / rows as f64
    );
    println!(
        "encode: {:.0} MB/s, {:.1} M rows/s",
        mb / encode_s,
        rows as f64 / encode_s / 1e6
    );
    println!(
        "decode: {:.0} MB/s, {:.1} M rows/s",
        mb / decode_s,
        rows as f64 / decode_s / 1e6
    );
    println!(
        "memcpy baseline: {:.0} MB/s (encode {:.2}x, decode {:.2}x of it)",
        mb / copy_s,
        copy_s / encode_s,
        copy_s / decode_s
    );
}
