//! The byte layout, written independently of the codec: `Rec` re-implements the format, so
//! comparing against it pins the bytes.

use super::*;

pub(crate) struct Rec(Vec<u8>);

impl Rec {
    pub(crate) fn new(id: u64, rows: u32, columns: u16) -> Self {
        let mut b = b"CWB1".to_vec();
        b.extend_from_slice(&id.to_le_bytes());
        b.extend_from_slice(&rows.to_le_bytes());
        b.extend_from_slice(&columns.to_le_bytes());
        Rec(b)
    }
    pub(crate) fn head(mut self, name: &str, type_id: u8, flags: u8) -> Self {
        self.0.extend_from_slice(&(name.len() as u16).to_le_bytes());
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(&[type_id, flags]);
        self
    }
    pub(crate) fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    pub(crate) fn words(self, values: &[u64]) -> Self {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(&bytes)
    }
    pub(crate) fn strings(self, data_len: u64, ends: &[u32], data: &[u8]) -> Self {
        let ends: Vec<u8> = ends.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(&data_len.to_le_bytes()).raw(&ends).raw(data)
    }
    pub(crate) fn seal(self) -> Vec<u8> {
        reseal(&self.0)
    }
}

pub(crate) fn reseal(body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    b.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    b
}

/// Three rows over every type: ts [1, null(-5), 3], i64 [-1, 0, 1], u64, f64 [0.5, -0.0, NaN],
/// bool [true, null(true), false], string ["a", null("zz"), "é"].
pub(crate) fn sample_batch() -> (RecordBatch, Vec<ColumnType>) {
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
            OffsetBuffer::new(ScalarBuffer::from(vec![0, 1, 3, 5])),
            "azzé".as_bytes().to_vec().into(),
            null_2nd(),
        )),
    ];
    let fields: Vec<Field> = (0..6)
        .map(|i| {
            Field::new(
                name(i),
                arrays[i].data_type().clone(),
                arrays[i].null_count() > 0,
            )
        })
        .collect();
    (
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap(),
        ALL_TYPES.to_vec(),
    )
}

pub(crate) fn sample_bytes() -> Vec<u8> {
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
