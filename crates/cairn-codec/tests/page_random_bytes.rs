//! Untrusted bytes into `decode_page` for every value type: random bytes, random bodies
//! behind plausible headers, and valid pages with bytes flipped, cut or appended. Each
//! decode is `Ok` with exactly `rows` values or an `Err`, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_codec::outer::Outer;
use cairn_codec::page::PAGE_HEADER_BYTES;
use cairn_codec::{
    Bitmap, DecodedValues, EncodeOptions, PageInput, PageValues, ValueType, decode_page,
    encode_page,
};
use proptest::prelude::*;

const TYPES: [ValueType; 6] = [
    ValueType::I64,
    ValueType::U64,
    ValueType::F64,
    ValueType::Bool,
    ValueType::Utf8,
    ValueType::Codes,
];

fn value_count(v: &DecodedValues) -> usize {
    match v {
        DecodedValues::I64(v) => v.len(),
        DecodedValues::U64(v) => v.len(),
        DecodedValues::F64(v) => v.len(),
        DecodedValues::Bool(b) => b.len(),
        DecodedValues::Utf8 { offsets, .. } => offsets.len() - 1,
        DecodedValues::Codes(v) => v.len(),
    }
}

fn decode_any(bytes: &[u8], ty: ValueType, rows: usize) {
    if let Ok(page) = decode_page(bytes, ty, rows) {
        assert_eq!(value_count(&page.values), rows);
        if let Some(v) = &page.validity {
            assert_eq!(v.len(), rows);
        }
        if let DecodedValues::Utf8 { offsets, data } = &page.values {
            assert_eq!(offsets[0], 0);
            assert_eq!(*offsets.last().unwrap() as usize, data.len());
            assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
            for w in offsets.windows(2) {
                std::str::from_utf8(&data[w[0] as usize..w[1] as usize]).unwrap();
            }
        }
    }
}

/// A header whose fields are plausible for a body of `body_len` bytes.
fn header(
    ty: u8,
    codec: u8,
    outer: u8,
    flags: u8,
    rows: u32,
    raw: u32,
    body_len: usize,
) -> Vec<u8> {
    let mut h = vec![ty, codec, outer, flags];
    h.extend_from_slice(&rows.to_le_bytes());
    h.extend_from_slice(&raw.to_le_bytes());
    h.extend_from_slice(&(body_len as u32).to_le_bytes());
    h
}

/// Valid pages of every type, with and without nulls and outer stages.
fn valid_pages() -> Vec<(ValueType, usize, Vec<u8>)> {
    let rows = 1500usize;
    let ints: Vec<i64> = (0..rows as i64).map(|i| i * i % 1000 - 300).collect();
    let uints: Vec<u64> = ints.iter().map(|&x| x as u64).collect();
    let floats: Vec<f64> = ints.iter().map(|&x| x as f64 / 8.0).collect();
    let bools = Bitmap::from_bools(&(0..rows).map(|i| i % 3 == 1).collect::<Vec<_>>());
    let codes: Vec<u32> = (0..rows as u32).map(|i| i % 37).collect();
    let mut data = Vec::new();
    let mut offsets = vec![0i32];
    for i in 0..rows {
        data.extend_from_slice(["", "ab", "日本", "https://x.org/é"][i % 4].as_bytes());
        offsets.push(data.len() as i32);
    }
    let some_nulls = Bitmap::from_bools(&(0..rows).map(|i| i % 5 != 0).collect::<Vec<_>>());
    let values = [
        PageValues::I64(&ints),
        PageValues::U64(&uints),
        PageValues::F64(&floats),
        PageValues::Bool(bools.as_ref()),
        PageValues::Utf8 {
            offsets: &offsets,
            data: &data,
        },
        PageValues::Codes(&codes),
    ];
    let mut pages = Vec::new();
    for v in values {
        for validity in [None, Some(some_nulls.as_ref())] {
            for outer in [Outer::None, Outer::Lz4, Outer::Zstd] {
                let opts = EncodeOptions {
                    force_outer: Some(outer),
                    ..EncodeOptions::default()
                };
                let mut out = Vec::new();
                encode_page(
                    &PageInput {
                        values: v,
                        validity,
                    },
                    &opts,
                    &mut out,
                )
                .unwrap();
                decode_any(&out, v.value_type(), rows);
                pages.push((v.value_type(), rows, out));
            }
        }
    }
    pages
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        ty in prop::sample::select(TYPES.to_vec()),
        rows in 1usize..3000,
    ) {
        decode_any(&bytes, ty, rows);
        let rows_in_header = bytes.get(4..8).map_or(1, |b| {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
        });
        decode_any(&bytes, ty, rows_in_header);
    }

    #[test]
    fn random_bodies_behind_plausible_headers_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..600),
        ty in 1u8..=6,
        codec in 0u8..8,
        outer in 0u8..3,
        flags in 0u8..2,
        rows in 1u32..2100,
        raw_extra in 0u32..5000,
    ) {
        let ty_enum = TYPES[ty as usize - 1];
        let raw = if outer == 0 { body.len() as u32 } else { raw_extra };
        let mut page = header(ty, codec, outer, flags, rows, raw, body.len());
        page.extend_from_slice(&body);
        decode_any(&page, ty_enum, rows as usize);
    }

    #[test]
    fn uncompressed_bodies_of_random_words_never_panic(
        words in prop::collection::vec(any::<u64>(), 0..80),
        small in prop::collection::vec(0u64..4096, 0..40),
        ty in 1u8..=6,
        codec in 1u8..7,
        flags in 0u8..2,
        rows in 1u32..2100,
    ) {
        // Small numbers read as lengths, widths and counts steer the leaf decoders past
        // their first checks more often than uniform bytes do.
        let mut body = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let v = small.get(i).copied().unwrap_or(*w);
            body.extend_from_slice(&v.to_le_bytes());
        }
        let mut page = header(ty, codec, 0, flags, rows, body.len() as u32, body.len());
        page.extend_from_slice(&body);
        decode_any(&page, TYPES[ty as usize - 1], rows as usize);
    }
}

#[test]
fn mutated_valid_pages_never_panic() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (ty, rows, page) in valid_pages() {
        for cut in [0, 1, 15, 16, 17, page.len() / 2, page.len() - 1] {
            decode_any(&page[..cut], ty, rows);
        }
        let mut longer = page.clone();
        longer.extend_from_slice(&[0, 1, 2]);
        decode_any(&longer, ty, rows);
        for _ in 0..300 {
            let mut bad = page.clone();
            for _ in 0..1 + next() % 4 {
                let r = next();
                // Half the flips land in the header or the first bytes of the body, where
                // the counts and section lengths live.
                let span = if r % 2 == 0 {
                    64.min(bad.len())
                } else {
                    bad.len()
                };
                let i = (r >> 8) as usize % span;
                bad[i] ^= (r >> 40) as u8 | 1;
            }
            decode_any(&bad, ty, rows);
            // Fix up the stored length so the body itself is what gets tested.
            if bad.len() >= PAGE_HEADER_BYTES {
                let stored = (bad.len() - PAGE_HEADER_BYTES) as u32;
                bad[12..16].copy_from_slice(&stored.to_le_bytes());
                let rows_in_header = u32::from_le_bytes([bad[4], bad[5], bad[6], bad[7]]);
                decode_any(&bad, ty, rows_in_header as usize);
            }
        }
    }
}

#[test]
fn every_type_rejects_the_others_pages() {
    for (ty, rows, page) in valid_pages() {
        for other in TYPES {
            let r = decode_page(&page, other, rows);
            assert_eq!(r.is_ok(), other == ty, "{ty:?} page read as {other:?}");
        }
    }
}
