//! Every decode error path (records built with `Rec`), allocation bounds on hostile lengths,
//! and encode's refusals.

use super::layout::{Rec, reseal, sample_batch, sample_bytes};
use super::*;

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
        assert!(
            matches!(
                result,
                Err(E::Truncated { .. } | E::ColumnCountTooLarge { .. })
            ),
            "{result:?}"
        );
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

/// Each column costs Arrow a few hundred bytes of objects (field, array, buffers) however small
/// its bytes; that per-column cost, not the claimed count, is what many tiny columns buy.
#[test]
fn many_tiny_columns_allocate_per_parsed_column() {
    let columns = 4096;
    let mut rec = Rec::new(1, 0, columns as u16);
    for i in 0..columns {
        rec = rec.head(&format!("{i:x}"), 2, 0);
    }
    let bytes = rec.seal();
    let (result, allocated) = allocated_by(|| decode(&bytes));
    assert_eq!(result.unwrap().columns.len(), columns);
    assert!(
        allocated <= bytes.len() + 1024 * columns,
        "{allocated} for {} bytes",
        bytes.len()
    );
    // The same count claimed over two real columns allocates for two.
    let mut head = Rec::new(1, 0, columns as u16)
        .head("a", 2, 0)
        .head("b", 2, 0)
        .seal();
    head.truncate(head.len() - 4);
    let (result, allocated) = allocated_by(|| decode(&reseal(&head)));
    assert!(matches!(result, Err(E::Truncated { .. })), "{result:?}");
    assert!(allocated <= 8 * 1024, "{allocated} bytes allocated");
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
