//! Pages round trip: every value type, with and without nulls, with automatic, forced-codec
//! and forced-outer encoding; decoded values equal the input at present rows, null slots
//! hold the documented filler (false, empty string), and validity is the input's (None when
//! every row is present).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_codec::float::FloatCodec;
use cairn_codec::int::IntCodec;
use cairn_codec::outer::Outer;
use cairn_codec::page::{MAX_PAGE_ROWS, PAGE_HEADER_BYTES};
use cairn_codec::string::{BoolCodec, StrCodec};
use cairn_codec::{
    Bitmap, CodecError, DecodedValues, EncodeOptions, LeafCodec, PageHeader, PageInput, PageValues,
    ValueType, decode_page, encode_page,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Column {
    I64(Vec<i64>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    /// Strings, and how many junk bytes precede them in the Arrow data buffer.
    Utf8(Vec<String>, usize),
    Codes(Vec<u32>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::I64(v) => v.len(),
            Column::U64(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Utf8(v, _) => v.len(),
            Column::Codes(v) => v.len(),
        }
    }

    fn family(&self) -> Vec<LeafCodec> {
        match self {
            Column::I64(_) | Column::U64(_) | Column::Codes(_) => {
                IntCodec::ALL.into_iter().map(LeafCodec::Int).collect()
            }
            Column::F64(_) => FloatCodec::ALL.into_iter().map(LeafCodec::Float).collect(),
            Column::Bool(_) => vec![
                LeafCodec::Bool(BoolCodec::Bitmap),
                LeafCodec::Bool(BoolCodec::Const),
            ],
            Column::Utf8(..) => vec![LeafCodec::Str(StrCodec::Plain)],
        }
    }
}

/// How the validity bitmap is made.
#[derive(Debug, Clone, Copy)]
enum Nulls {
    None,
    AllPresent,
    Some(u64),
    AllNull,
}

fn make_validity(nulls: Nulls, rows: usize) -> Option<Bitmap> {
    match nulls {
        Nulls::None => None,
        Nulls::AllPresent => Some(Bitmap::new(rows, true)),
        Nulls::AllNull => Some(Bitmap::new(rows, false)),
        Nulls::Some(seed) => {
            let mut x = seed | 1;
            let density = seed % 5;
            let bools: Vec<bool> = (0..rows)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % 5 >= density
                })
                .collect();
            Some(Bitmap::from_bools(&bools))
        }
    }
}

fn ints() -> impl Strategy<Value = Vec<i64>> {
    let n = 1..2500usize;
    prop_oneof![
        prop::collection::vec(any::<i64>(), n.clone()),
        prop::collection::vec(-1000..1000i64, n.clone()),
        (any::<i64>(), n.clone()).prop_map(|(v, n)| vec![v; n]),
        (any::<i64>(), prop::collection::vec(0..5000i64, n.clone())).prop_map(|(s, d)| {
            d.iter()
                .scan(s, |acc, &x| {
                    *acc = acc.wrapping_add(x);
                    Some(*acc)
                })
                .collect()
        }),
        prop::collection::vec((any::<i64>(), 1..300usize), 1..20)
            .prop_map(|runs| runs.into_iter().flat_map(|(v, n)| vec![v; n]).collect()),
        prop::collection::vec(prop::sample::select(vec![i64::MIN, i64::MAX, 0, -1, 1]), n),
    ]
}

fn floats() -> impl Strategy<Value = Vec<f64>> {
    let n = 1..2500usize;
    prop_oneof![
        prop::collection::vec(any::<u64>().prop_map(f64::from_bits), n.clone()),
        prop::collection::vec(
            (-100_000..100_000i64).prop_map(|c| c as f64 / 100.0),
            n.clone()
        ),
        prop::collection::vec(
            prop::sample::select(vec![
                0.0,
                -0.0,
                f64::NAN,
                f64::from_bits(0x7ff8_0000_dead_beef),
                f64::INFINITY,
                f64::NEG_INFINITY,
                1.5,
                f64::MIN_POSITIVE / 3.0,
            ]),
            n,
        ),
    ]
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    let n = 1..1500usize;
    prop_oneof![
        prop::collection::vec(".{0,10}", n.clone()),
        prop::collection::vec("[a-d]{0,4}", n.clone()),
        (".{0,30}", n.clone()).prop_map(|(s, n)| vec![s; n]),
        prop::collection::vec(prop::sample::select(vec!["", "é", "日本語", "🦀", "x"]), n)
            .prop_map(|v| v.into_iter().map(String::from).collect()),
    ]
}

fn column() -> impl Strategy<Value = Column> {
    prop_oneof![
        ints().prop_map(Column::I64),
        ints().prop_map(|v| Column::U64(v.into_iter().map(|x| x as u64).collect())),
        floats().prop_map(Column::F64),
        prop_oneof![
            prop::collection::vec(any::<bool>(), 1..3000),
            (any::<bool>(), 1..3000usize).prop_map(|(b, n)| vec![b; n]),
        ]
        .prop_map(Column::Bool),
        (strings(), 0..5usize).prop_map(|(s, base)| Column::Utf8(s, base)),
        prop_oneof![
            prop::collection::vec(any::<u32>(), 1..2500),
            prop::collection::vec(0..300u32, 1..2500),
        ]
        .prop_map(Column::Codes),
    ]
}

fn nulls() -> impl Strategy<Value = Nulls> {
    prop_oneof![
        Just(Nulls::None),
        Just(Nulls::AllPresent),
        any::<u64>().prop_map(Nulls::Some),
        Just(Nulls::AllNull),
    ]
}

fn options() -> impl Strategy<Value = (Option<usize>, Option<Outer>, bool)> {
    (
        prop::option::of(0..6usize),
        prop::option::of(prop::sample::select(vec![
            Outer::None,
            Outer::Lz4,
            Outer::Zstd,
        ])),
        any::<bool>(),
    )
}

/// The Arrow buffers of a string column, with `base` junk bytes first.
fn arrow_strings(strings: &[String], base: usize) -> (Vec<i32>, Vec<u8>) {
    let mut data = vec![b'#'; base];
    let mut offsets = vec![base as i32];
    for s in strings {
        data.extend_from_slice(s.as_bytes());
        offsets.push(data.len() as i32);
    }
    (offsets, data)
}

/// Whether the page's values, after the encoder fills null slots, are all equal (so a
/// forced `Const` codec can hold them).
fn filled_constant(col: &Column, valid: &dyn Fn(usize) -> bool) -> bool {
    let all_eq = |n: usize, eq: &dyn Fn(usize, usize) -> bool| {
        let present: Vec<usize> = (0..n).filter(|&i| valid(i)).collect();
        present.windows(2).all(|w| eq(w[0], w[1]))
    };
    match col {
        Column::I64(v) => all_eq(v.len(), &|a, b| v[a] == v[b]),
        Column::U64(v) => all_eq(v.len(), &|a, b| v[a] == v[b]),
        Column::Codes(v) => all_eq(v.len(), &|a, b| v[a] == v[b]),
        // Null booleans become false.
        Column::Bool(v) => {
            let filled: Vec<bool> = (0..v.len()).map(|i| v[i] && valid(i)).collect();
            filled.iter().all(|&b| b == filled[0])
        }
        Column::F64(_) | Column::Utf8(..) => false,
    }
}

fn check(col: &Column, nulls: Nulls, force: (Option<usize>, Option<Outer>, bool)) {
    let rows = col.len();
    let validity = make_validity(nulls, rows);
    let valid = |i: usize| validity.as_ref().is_none_or(|v| v.get(i));
    let family = col.family();
    let force_codec = force.0.map(|i| family[i % family.len()]);
    let opts = EncodeOptions {
        try_outer: force.2,
        force_codec,
        force_outer: force.1,
        ..EncodeOptions::default()
    };
    let (str_offsets, str_data, bools);
    let values = match col {
        Column::I64(v) => PageValues::I64(v),
        Column::U64(v) => PageValues::U64(v),
        Column::F64(v) => PageValues::F64(v),
        Column::Codes(v) => PageValues::Codes(v),
        Column::Bool(v) => {
            bools = Bitmap::from_bools(v);
            PageValues::Bool(bools.as_ref())
        }
        Column::Utf8(s, base) => {
            (str_offsets, str_data) = arrow_strings(s, *base);
            PageValues::Utf8 {
                offsets: &str_offsets,
                data: &str_data,
            }
        }
    };
    let input = PageInput {
        values,
        validity: validity.as_ref().map(Bitmap::as_ref),
    };
    // A non-empty, odd-length prefix: pages are appended and decoded at any alignment.
    let mut out = vec![0xAA; 3];
    let header = match encode_page(&input, &opts, &mut out) {
        Ok(h) => h,
        Err(CodecError::Unencodable(_))
            if matches!(
                force_codec,
                Some(LeafCodec::Int(IntCodec::Const) | LeafCodec::Bool(BoolCodec::Const))
            ) && !filled_constant(col, &valid) =>
        {
            return;
        }
        Err(e) => panic!("encode failed: {e:?}"),
    };
    let page = &out[3..];
    assert_eq!(PageHeader::decode(page).unwrap(), header);
    assert_eq!(page.len(), PAGE_HEADER_BYTES + header.stored_len as usize);
    assert_eq!(header.rows as usize, rows);
    assert_eq!(header.value_type, values.value_type());
    if let Some(c) = force_codec {
        assert_eq!(header.codec, c);
    }
    match force.1 {
        Some(o) => assert_eq!(header.outer, o),
        None if !force.2 => assert_eq!(header.outer, Outer::None),
        None => {}
    }
    let expected_validity = validity.clone().filter(|v| v.count_ones() != rows);
    assert_eq!(header.has_validity, expected_validity.is_some());
    let decoded = decode_page(page, values.value_type(), rows).unwrap();
    assert_eq!(decoded.validity, expected_validity);
    check_values(col, &decoded.values, &valid);
}

fn check_values(col: &Column, got: &DecodedValues, valid: &dyn Fn(usize) -> bool) {
    fn at_present<T: PartialEq + std::fmt::Debug>(a: &[T], b: &[T], valid: &dyn Fn(usize) -> bool) {
        assert_eq!(a.len(), b.len());
        for i in 0..a.len() {
            if valid(i) {
                assert_eq!(a[i], b[i], "row {i}");
            }
        }
    }
    match (col, got) {
        (Column::I64(a), DecodedValues::I64(b)) => at_present(a, b, valid),
        (Column::U64(a), DecodedValues::U64(b)) => at_present(a, b, valid),
        (Column::Codes(a), DecodedValues::Codes(b)) => at_present(a, b, valid),
        (Column::F64(a), DecodedValues::F64(b)) => {
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            at_present(&bits(a), &bits(b), valid);
        }
        (Column::Bool(a), DecodedValues::Bool(b)) => {
            assert_eq!(b.len(), a.len());
            for (i, &x) in a.iter().enumerate() {
                assert_eq!(b.get(i), x && valid(i), "row {i}");
            }
        }
        (Column::Utf8(a, _), DecodedValues::Utf8 { offsets, data }) => {
            assert_eq!(offsets.len(), a.len() + 1);
            assert_eq!(offsets[0], 0);
            assert_eq!(*offsets.last().unwrap() as usize, data.len());
            for (i, s) in a.iter().enumerate() {
                let got = &data[offsets[i] as usize..offsets[i + 1] as usize];
                let want = if valid(i) { s.as_bytes() } else { b"" };
                assert_eq!(got, want, "row {i}");
            }
        }
        (c, g) => panic!("decoded type differs: {c:?} vs {g:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn pages_round_trip(col in column(), nulls in nulls(), force in options()) {
        check(&col, nulls, force);
    }
}

#[test]
fn every_forced_codec_and_outer_stage_on_fixed_columns() {
    let cols = [
        Column::I64((0..3000).map(|i| i * 7 - 5000).collect()),
        Column::U64((0..3000).map(|i| u64::MAX - i).collect()),
        Column::F64((0..3000).map(|i| f64::from(i) / 10.0).collect()),
        Column::Bool((0..3000).map(|i| i % 3 == 0).collect()),
        Column::Utf8((0..3000).map(|i| format!("v{}", i % 17)).collect(), 2),
        Column::Codes((0..3000).map(|i| i % 40).collect()),
    ];
    for col in &cols {
        for codec in 0..col.family().len() {
            for outer in [None, Some(Outer::None), Some(Outer::Lz4), Some(Outer::Zstd)] {
                for nulls in [Nulls::None, Nulls::Some(99), Nulls::AllNull] {
                    check(col, nulls, (Some(codec), outer, true));
                }
            }
        }
        check(col, Nulls::Some(5), (None, None, true));
    }
}

#[test]
fn a_full_page_round_trips() {
    let v: Vec<i64> = (0..MAX_PAGE_ROWS as i64)
        .map(|i| i * 1000 + i % 7)
        .collect();
    check(&Column::I64(v), Nulls::Some(3), (None, None, true));
}

fn encode_default(input: &PageInput<'_>) -> (PageHeader, Vec<u8>) {
    let mut out = Vec::new();
    let h = encode_page(input, &EncodeOptions::default(), &mut out).unwrap();
    (h, out)
}

#[test]
fn compressible_strings_get_an_outer_stage() {
    let urls: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                "https://www.example.com/catalog/items/{}/view?ref=home",
                i % 50
            )
        })
        .collect();
    let (offsets, data) = arrow_strings(&urls, 0);
    let (h, page) = encode_default(&PageInput {
        values: PageValues::Utf8 {
            offsets: &offsets,
            data: &data,
        },
        validity: None,
    });
    assert!(matches!(h.outer, Outer::Lz4 | Outer::Zstd), "{h:?}");
    assert!(
        page.len() * 10 < data.len(),
        "{} vs {}",
        page.len(),
        data.len()
    );
    let back = decode_page(&page, ValueType::Utf8, urls.len()).unwrap();
    assert_eq!(
        back.values,
        DecodedValues::Utf8 {
            offsets: offsets.clone(),
            data
        }
    );
}

#[test]
fn random_values_get_no_outer_stage() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ints: Vec<i64> = (0..10_000).map(|_| next() as i64).collect();
    let (h, _) = encode_default(&PageInput {
        values: PageValues::I64(&ints),
        validity: None,
    });
    assert_eq!(h.outer, Outer::None, "{h:?}");
    let floats: Vec<f64> = (0..10_000).map(|_| f64::from_bits(next())).collect();
    let (h, _) = encode_default(&PageInput {
        values: PageValues::F64(&floats),
        validity: None,
    });
    assert_eq!(h.outer, Outer::None, "{h:?}");
}

#[test]
fn bad_inputs_are_unencodable_and_bad_expectations_mismatch() {
    let opts = EncodeOptions::default();
    let mut out = Vec::new();
    let unencodable = |input: &PageInput<'_>, opts: &EncodeOptions| {
        let mut out = Vec::new();
        matches!(
            encode_page(input, opts, &mut out),
            Err(CodecError::Unencodable(_))
        )
    };
    let empty = PageInput {
        values: PageValues::I64(&[]),
        validity: None,
    };
    assert!(unencodable(&empty, &opts));
    let too_many = vec![0u32; MAX_PAGE_ROWS + 1];
    let big = PageInput {
        values: PageValues::Codes(&too_many),
        validity: None,
    };
    assert!(unencodable(&big, &opts));
    let short = Bitmap::new(2, true);
    let mismatch = PageInput {
        values: PageValues::I64(&[1, 2, 3]),
        validity: Some(short.as_ref()),
    };
    assert!(unencodable(&mismatch, &opts));
    let wrong_family = EncodeOptions {
        force_codec: Some(LeafCodec::Float(FloatCodec::Alp)),
        ..EncodeOptions::default()
    };
    let ints = PageInput {
        values: PageValues::I64(&[1, 2, 3]),
        validity: None,
    };
    assert!(unencodable(&ints, &wrong_family));
    let bad_offsets = PageInput {
        values: PageValues::Utf8 {
            offsets: &[0, 5, 2],
            data: b"hello",
        },
        validity: None,
    };
    assert!(unencodable(&bad_offsets, &opts));

    encode_page(&ints, &opts, &mut out).unwrap();
    assert!(matches!(
        decode_page(&out, ValueType::U64, 3),
        Err(CodecError::Mismatch { .. })
    ));
    assert!(matches!(
        decode_page(&out, ValueType::I64, 4),
        Err(CodecError::Mismatch { .. })
    ));
    let mut longer = out.clone();
    longer.push(0);
    assert!(decode_page(&longer, ValueType::I64, 3).is_err());
    assert!(decode_page(&out[..out.len() - 1], ValueType::I64, 3).is_err());
}
