//! Strings, booleans and dictionaries from arbitrary bytes: never a panic.
//!
//! Input: byte 0 = mode (mod 4) and a row-scale flag (bit 7); bytes 1..3 = u16 rows (times
//! 16 with the flag, capped at 2^20); the rest = the encoding (modes 0-2) or strings
//! (mode 3).
//! - 0: `decode_str`; on Ok, rows + 1 offsets from 0 to the data's end, every string UTF-8,
//!   and re-encoding decodes to the same strings.
//! - 1, 2: `decode_bool` (Bitmap, Const); on Ok, `rows` bits, and re-encoding gives the
//!   same bytes (one encoding per page).
//! - 3: `build_dictionary` over the rest split at 0xff bytes, after `rows % 8` junk bytes,
//!   with validity from the row index and the flag; the dictionary is strictly sorted and
//!   every present row's code names its string.
#![no_main]

use cairn_codec::Bitmap;
use cairn_codec::string::{self, BoolCodec};
use cairn_fuzz::Cursor;
use libfuzzer_sys::fuzz_target;

const MAX_ROWS: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let head = c.u8();
    let raw_rows = usize::from(c.u16());
    let rows = if head & 0x80 != 0 {
        (raw_rows << 4).min(MAX_ROWS)
    } else {
        raw_rows
    };
    let bytes = c.rest();
    match (head & 0x7f) % 4 {
        0 => strings(bytes, rows),
        1 => booleans(BoolCodec::Bitmap, bytes, rows),
        2 => booleans(BoolCodec::Const, bytes, rows),
        _ => dictionary(bytes, rows % 8, head & 0x80 != 0),
    }
});

fn strings(bytes: &[u8], rows: usize) {
    let (mut offsets, mut data) = (Vec::new(), Vec::new());
    if string::decode_str(bytes, rows, &mut offsets, &mut data).is_err() {
        return;
    }
    assert_eq!(offsets.len(), rows + 1);
    assert_eq!(offsets[0], 0);
    assert_eq!(offsets[rows] as usize, data.len());
    for w in offsets.windows(2) {
        assert!(w[0] <= w[1], "offsets decrease");
        let s = &data[w[0] as usize..w[1] as usize];
        assert!(
            std::str::from_utf8(s).is_ok(),
            "a decoded string is not UTF-8"
        );
    }
    let mut enc = Vec::new();
    string::encode_str(&offsets, &data, &mut enc).expect("decoded strings re-encode");
    let (mut o2, mut d2) = (Vec::new(), Vec::new());
    string::decode_str(&enc, rows, &mut o2, &mut d2).expect("a fresh encoding decodes");
    assert!(o2 == offsets && d2 == data, "re-encoding changed strings");
}

fn booleans(codec: BoolCodec, bytes: &[u8], rows: usize) {
    let Ok(bits) = string::decode_bool(codec, bytes, rows) else {
        return;
    };
    assert_eq!(bits.len(), rows);
    let mut enc = Vec::new();
    string::encode_bool(codec, bits.as_ref(), &mut enc).expect("decoded booleans re-encode");
    assert!(
        enc == bytes,
        "{codec:?}: two encodings of the same booleans"
    );
}

fn dictionary(bytes: &[u8], junk: usize, with_nulls: bool) {
    let mut data = vec![0xffu8; junk];
    let mut offsets = vec![junk as i32];
    for s in bytes.split(|&b| b == 0xff) {
        data.extend_from_slice(s);
        offsets.push(data.len() as i32);
    }
    let rows = offsets.len() - 1;
    let validity =
        with_nulls.then(|| Bitmap::from_bools(&(0..rows).map(|i| i % 3 != 1).collect::<Vec<_>>()));
    let present = |i: usize| validity.as_ref().is_none_or(|v| v.get(i));
    let (dict, codes) =
        string::build_dictionary(&offsets, &data, validity.as_ref().map(Bitmap::as_ref))
            .expect("valid offsets build a dictionary");
    assert_eq!(codes.len(), rows);
    let entries: Vec<&[u8]> = (0..dict.len())
        .map(|i| dict.get(i).expect("in range"))
        .collect();
    assert!(
        entries.windows(2).all(|w| w[0] < w[1]),
        "dictionary not strictly sorted"
    );
    for (i, w) in offsets.windows(2).enumerate() {
        let s = &data[w[0] as usize..w[1] as usize];
        if present(i) {
            assert_eq!(
                entries.get(codes[i] as usize),
                Some(&s),
                "row {i} has the wrong code"
            );
        } else {
            assert_eq!(codes[i], 0, "null row {i} has a code");
        }
    }
    let distinct: std::collections::BTreeSet<&[u8]> = offsets
        .windows(2)
        .enumerate()
        .filter(|&(i, _)| present(i))
        .map(|(_, w)| &data[w[0] as usize..w[1] as usize])
        .collect();
    assert_eq!(
        dict.len(),
        distinct.len(),
        "dictionary holds strings no row has"
    );
}
