#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::bitmap::{Bitmap, BitmapRef};

fn to_arrow(strings: &[impl AsRef<[u8]>], base: usize) -> (Vec<i32>, Vec<u8>) {
    let mut data = vec![b'#'; base];
    let mut offsets = vec![base as i32];
    for s in strings {
        data.extend_from_slice(s.as_ref());
        offsets.push(data.len() as i32);
    }
    data.extend_from_slice(b"trailing junk");
    (offsets, data)
}

fn encode(strings: &[impl AsRef<[u8]>]) -> Vec<u8> {
    let (offsets, data) = to_arrow(strings, 0);
    let mut out = Vec::new();
    encode_str(&offsets, &data, &mut out).unwrap();
    out
}

fn decode(bytes: &[u8], rows: usize) -> Result<Vec<String>> {
    let (mut offsets, mut data) = (vec![7], vec![1, 2]);
    decode_str(bytes, rows, &mut offsets, &mut data)?;
    assert_eq!(offsets.len(), rows + 1);
    assert_eq!(offsets[0], 0);
    assert_eq!(*offsets.last().unwrap() as usize, data.len());
    Ok(offsets
        .windows(2)
        .map(|w| String::from_utf8(data[w[0] as usize..w[1] as usize].to_vec()).unwrap())
        .collect())
}

fn round_trip(strings: &[String]) {
    for base in [0, 3] {
        let (offsets, data) = to_arrow(strings, base);
        let mut out = vec![0u8; 8 * base];
        encode_str(&offsets, &data, &mut out).unwrap();
        assert_eq!(decode(&out[8 * base..], strings.len()).unwrap(), strings);
    }
}

#[test]
fn round_trips_edge_cases() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    round_trip(&[]);
    round_trip(&s(&["one"]));
    round_trip(&s(&[""]));
    round_trip(&s(&["", "", ""]));
    round_trip(&vec!["same value".to_string(); 3000]);
    round_trip(&s(&["héllo", "wörld", "日本語", "🦀🦀", "", "a"]));
    round_trip(&["x".repeat(100 << 10), String::new(), "é".repeat(50 << 10)]);
}

#[test]
fn rows_mismatch_and_trailing_bytes_are_errors() {
    let enc = encode(&["ab", "cd", "ef"]);
    assert!(decode(&enc, 2).is_err());
    assert!(decode(&enc, 4).is_err());
    let mut longer = enc.clone();
    longer.push(b'x');
    assert!(decode(&longer, 3).is_err());
    assert!(decode(&enc[..enc.len() - 1], 3).is_err());
    for cut in 0..8 {
        assert!(decode(&enc[..cut], 3).is_err());
    }
    let mut pad = enc.clone();
    pad[6] = 1;
    assert!(matches!(decode(&pad, 3), Err(CodecError::Invalid { .. })));
    let mut codec = enc;
    codec[4] = 99;
    assert!(matches!(
        decode(&codec, 3),
        Err(CodecError::UnknownId { id: 99, .. })
    ));
}

/// A leaf with `lens` encoded as given and `data` after it (for lengths the encoder never
/// writes).
fn raw_leaf(lens: &[i64], data: &[u8]) -> Vec<u8> {
    let mut lens_enc = Vec::new();
    int::encode(IntCodec::Plain, lens, &mut lens_enc).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&(lens_enc.len() as u32).to_le_bytes());
    out.extend_from_slice(&[IntCodec::Plain.id(), 0, 0, 0]);
    out.extend_from_slice(&lens_enc);
    out.extend_from_slice(data);
    out
}

#[test]
fn bad_lengths_are_errors() {
    assert_eq!(decode(&raw_leaf(&[1, 2], b"abc"), 2).unwrap(), ["a", "bc"]);
    assert!(decode(&raw_leaf(&[-1, 4], b"abc"), 2).is_err());
    assert!(decode(&raw_leaf(&[1, 1], b"abc"), 2).is_err());
    assert!(decode(&raw_leaf(&[i64::MAX, i64::MAX, 5], b"abc"), 3).is_err());
    assert!(decode(&raw_leaf(&[i64::MIN, 3], b"abc"), 2).is_err());
    assert!(decode(&raw_leaf(&[1 << 31, 0], b"abc"), 2).is_err());
    let big = i64::from(i32::MAX);
    assert!(decode(&raw_leaf(&[big, big, 3 - 2 * big], b"abc"), 3).is_err());
}

/// Encodes ASCII placeholders of the same lengths, then writes `strings`' bytes over the
/// data at the end of the leaf.
fn craft(strings: &[&[u8]]) -> Vec<u8> {
    let placeholders: Vec<Vec<u8>> = strings.iter().map(|s| vec![b'a'; s.len()]).collect();
    let mut enc = encode(&placeholders);
    let all: Vec<u8> = strings.concat();
    let start = enc.len() - all.len();
    enc[start..].copy_from_slice(&all);
    enc
}

#[test]
fn invalid_utf8_is_rejected_with_the_first_bad_index() {
    let bad = |strings: &[&[u8]]| match decode(&craft(strings), strings.len()) {
        Err(CodecError::InvalidUtf8 { index }) => index,
        other => panic!("{strings:?}: {other:?}"),
    };
    assert_eq!(bad(&[b"ok", b"\xff", b"ok"]), 1);
    assert_eq!(bad(&[b"\xc3\x28"]), 0);
    assert_eq!(bad(&[b"ok", b"", b"", b"x\xe2\x82", b"\xff"]), 3);
    // The whole buffer is UTF-8, but a boundary splits a character.
    assert_eq!(bad(&[b"a", b"\xc3", b"\xa9", b"b"]), 1);
    assert_eq!(bad(&["日本".as_bytes(), b"\xe8", b"\xaa\x9e"]), 1);
    // A split before the first invalid byte wins.
    assert_eq!(bad(&[b"\xc3", b"\xa9", b"\xff"]), 0);
    // A stray continuation byte opening a string.
    assert_eq!(bad(&[b"abc", b"\x80abc"]), 1);
    assert_eq!(bad(&[b"", b"", b"\xed\xa0\x80"]), 2);
    assert_eq!(
        decode(&craft(&["é".as_bytes(), b""]), 2).unwrap(),
        ["é", ""]
    );
}

#[test]
fn encoder_rejects_bad_offsets_and_invalid_utf8() {
    let data = b"abcdef";
    let mut out = Vec::new();
    for offsets in [&[0, 7][..], &[-1, 2], &[0, 3, 2, 6], &[4, 2]] {
        assert!(
            matches!(
                encode_str(offsets, data, &mut out),
                Err(CodecError::Unencodable(_))
            ),
            "{offsets:?}"
        );
    }
    assert!(matches!(
        encode_str(&[0, 1, 3], b"a\xff\xfe", &mut out),
        Err(CodecError::InvalidUtf8 { index: 1 })
    ));
    let e = "é".as_bytes();
    assert!(matches!(
        encode_str(&[0, 1, 2], e, &mut out),
        Err(CodecError::InvalidUtf8 { index: 0 })
    ));
    // Offsets not starting at 0 that only cover valid bytes are fine.
    out.clear();
    encode_str(&[1, 2, 4], b"\xffa\xc3\xa9\xff", &mut out).unwrap();
    assert_eq!(decode(&out, 2).unwrap(), ["a", "é"]);
    // No offsets at all: no strings.
    out.clear();
    encode_str(&[], &[], &mut out).unwrap();
    assert!(decode(&out, 0).unwrap().is_empty());
}

fn any_strings() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        prop::collection::vec(".{0,12}", 0..300),
        prop::collection::vec("[a-c]{0,3}", 0..3000),
        (".{0,40}", 0..2500usize).prop_map(|(s, n)| vec![s; n]),
        prop::collection::vec(prop::sample::select(vec!["", "é", "ab", "日本語"]), 0..2100)
            .prop_map(|v| v.into_iter().map(String::from).collect()),
    ]
}

proptest! {
    #[test]
    fn strings_round_trip(strings in any_strings()) {
        round_trip(&strings);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        rows in 0usize..40,
    ) {
        if let Ok(back) = decode(&bytes, rows) {
            prop_assert_eq!(back.len(), rows);
        }
    }

    #[test]
    fn mutated_encodings_never_panic(
        strings in any_strings(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut enc = encode(&strings);
        for (i, x) in flips {
            let i = i.index(enc.len());
            enc[i] ^= x | 1;
        }
        if let Ok(back) = decode(&enc, strings.len()) {
            prop_assert_eq!(back.len(), strings.len());
        }
    }
}

#[test]
fn booleans_round_trip_with_both_codecs() {
    for rows in [0usize, 1, 7, 8, 9, 1000, 1024, 4099] {
        for pattern in 0..4 {
            let bools: Vec<bool> = (0..rows)
                .map(|i| match pattern {
                    0 => false,
                    1 => true,
                    2 => i % 3 == 0,
                    _ => i == rows / 2,
                })
                .collect();
            let b = Bitmap::from_bools(&bools);
            let chosen = choose_bool(b.as_ref());
            let constant = bools.iter().all(|&x| x) || bools.iter().all(|&x| !x);
            assert_eq!(chosen == BoolCodec::Const, constant, "{rows} {pattern}");
            for codec in [BoolCodec::Bitmap, BoolCodec::Const] {
                let mut out = vec![0u8; 8];
                let r = encode_bool(codec, b.as_ref(), &mut out);
                if codec == BoolCodec::Const && !constant {
                    assert!(matches!(r, Err(CodecError::Unencodable(_))));
                    continue;
                }
                r.unwrap();
                let back = decode_bool(codec, &out[8..], rows).unwrap();
                assert_eq!(back, b, "{rows} {pattern} {codec:?}");
            }
        }
    }
}

#[test]
fn boolean_encoder_clears_bits_past_the_end() {
    let raw = [0xffu8, 0xff];
    let b = BitmapRef::new(&raw, 11).unwrap();
    let mut out = Vec::new();
    encode_bool(BoolCodec::Bitmap, b, &mut out).unwrap();
    assert_eq!(out, [0xff, 0b111]);
    assert_eq!(
        decode_bool(BoolCodec::Bitmap, &out, 11)
            .unwrap()
            .count_ones(),
        11
    );
}

#[test]
fn boolean_decoder_rejects_noncanonical_bytes() {
    assert!(decode_bool(BoolCodec::Bitmap, &[0xff, 0b1000], 11).is_err());
    assert!(decode_bool(BoolCodec::Bitmap, &[0xff], 11).is_err());
    assert!(decode_bool(BoolCodec::Bitmap, &[0xff, 0, 0], 11).is_err());
    assert!(decode_bool(BoolCodec::Bitmap, &[], 0).unwrap().is_empty());
    assert!(decode_bool(BoolCodec::Const, &[2], 5).is_err());
    assert!(decode_bool(BoolCodec::Const, &[1], 0).is_err());
    assert!(decode_bool(BoolCodec::Const, &[0], 0).unwrap().is_empty());
    assert!(decode_bool(BoolCodec::Const, &[], 5).is_err());
    assert!(decode_bool(BoolCodec::Const, &[1, 1], 5).is_err());
    assert_eq!(
        decode_bool(BoolCodec::Const, &[1], 5).unwrap().count_ones(),
        5
    );
    assert!(BoolCodec::from_id(3).is_err());
    assert!(StrCodec::from_id(2).is_err());
}

fn check_dictionary(strings: &[String], valid: Option<&[bool]>, base: usize) {
    let (offsets, data) = to_arrow(strings, base);
    let bitmap = valid.map(Bitmap::from_bools);
    let (dict, codes) =
        build_dictionary(&offsets, &data, bitmap.as_ref().map(Bitmap::as_ref)).unwrap();
    let present = |i: usize| valid.is_none_or(|v| v[i]);
    let expected: BTreeSet<&[u8]> = (0..strings.len())
        .filter(|&i| present(i))
        .map(|i| strings[i].as_bytes())
        .collect();
    let got: Vec<&[u8]> = (0..dict.len()).map(|i| dict.get(i).unwrap()).collect();
    assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
    assert_eq!(dict.offsets[0], 0);
    assert_eq!(codes.len(), strings.len());
    for (i, &c) in codes.iter().enumerate() {
        if present(i) {
            assert_eq!(dict.get(c as usize).unwrap(), strings[i].as_bytes());
        } else {
            assert_eq!(c, 0);
        }
    }
}

#[test]
fn dictionary_edge_cases() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    check_dictionary(&[], None, 0);
    check_dictionary(&s(&["b", "a", "b", "", "a"]), None, 2);
    check_dictionary(&s(&["b", "a", "c"]), Some(&[false, true, false]), 0);
    check_dictionary(&s(&["b", "a"]), Some(&[false, false]), 1);
    let (dict, codes) = build_dictionary(&[0, 1, 2, 3], b"bab", None).unwrap();
    assert_eq!(
        (dict.offsets, dict.data, codes),
        (vec![0, 1, 2], b"ab".to_vec(), vec![1, 0, 1])
    );
    assert!(build_dictionary(&[0, 2, 1], b"ab", None).is_err());
    assert!(build_dictionary(&[0, 3], b"ab", None).is_err());
    let v = Bitmap::new(3, true);
    assert!(build_dictionary(&[0, 1], b"ab", Some(v.as_ref())).is_err());
}

proptest! {
    #[test]
    fn dictionary_matches_a_sorted_set(
        rows in prop::collection::vec(("[a-e]{0,3}|.{0,6}", any::<bool>()), 0..600),
        with_validity in any::<bool>(),
        base in 0usize..4,
    ) {
        let strings: Vec<String> = rows.iter().map(|(s, _)| s.clone()).collect();
        let valid: Vec<bool> = rows.iter().map(|&(_, v)| v).collect();
        check_dictionary(&strings, with_validity.then_some(&valid[..]), base);
    }
}

/// `cargo test --release -p cairn-codec dictionary_speed -- --ignored --nocapture`
#[test]
#[ignore = "prints timings"]
fn dictionary_speed() {
    let distinct: Vec<String> = (0..50_000u64)
        .map(|i| {
            format!(
                "https://example.com/item/{}",
                i.wrapping_mul(0x9E37_79B9) % 1_000_003
            )
        })
        .collect();
    let mut x = 12345u64;
    let strings: Vec<&str> = (0..10_000_000)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            distinct[(x >> 33) as usize % distinct.len()].as_str()
        })
        .collect();
    let (offsets, data) = to_arrow(&strings, 0);
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let (dict, codes) = build_dictionary(&offsets, &data, None).unwrap();
        println!(
            "10M rows / {} distinct: {:.0} ms ({} codes)",
            dict.len(),
            t.elapsed().as_secs_f64() * 1e3,
            codes.len()
        );
    }
}

/// `cargo test --release -p cairn-codec string_decode_speed -- --ignored --nocapture`
#[test]
#[ignore = "prints timings"]
fn string_decode_speed() {
    let urls: Vec<String> = (0..1_048_576u64)
        .map(|i| format!("https://example.com/a/{}/b?q={}", i % 977, i * 31 % 10007))
        .collect();
    let words: Vec<String> = (0..1_048_576u64)
        .map(|i| ["été", "über", "日本", "ok"][(i % 4) as usize].repeat((i % 5) as usize))
        .collect();
    for (name, strings) in [("urls", &urls), ("utf8 words", &words)] {
        let enc = encode(strings);
        let (mut offsets, mut data) = (Vec::new(), Vec::new());
        let t = std::time::Instant::now();
        let reps = 20;
        for _ in 0..reps {
            decode_str(&enc, strings.len(), &mut offsets, &mut data).unwrap();
        }
        let secs = t.elapsed().as_secs_f64() / f64::from(reps);
        let out_bytes = data.len() + offsets.len() * 4;
        println!(
            "{name}: {} rows, {} B encoded, decode {:.0} MB/s of output ({:.1} ns/row)",
            strings.len(),
            enc.len(),
            out_bytes as f64 / secs / 1e6,
            secs * 1e9 / strings.len() as f64
        );
    }
}
