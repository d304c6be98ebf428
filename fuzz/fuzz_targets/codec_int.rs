//! (codec id, rows, bytes) into `int::decode`: never a panic; on Ok exactly `rows` values,
//! and re-encoding them with the same codec decodes to the same values.
//!
//! Input: byte 0 = codec id (low 7 bits) and a row-scale flag (bit 7); bytes 1..3 = u16
//! rows, times 16 with the flag (capped at 2^20, the page row cap); the rest = encoding.
#![no_main]

use cairn_codec::int::{self, IntCodec};
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
    let Ok(codec) = IntCodec::from_id(head & 0x7f) else {
        return;
    };
    let mut out = vec![i64::MIN];
    if int::decode(codec, bytes, rows, &mut out).is_err() {
        return;
    }
    assert_eq!(
        out.len(),
        rows + 1,
        "{codec:?} returned the wrong number of values"
    );
    assert_eq!(
        out[0],
        i64::MIN,
        "{codec:?} changed values already in the output"
    );
    let values = &out[1..];
    let mut enc = Vec::new();
    int::encode(codec, values, &mut enc).expect("decoded values re-encode with their codec");
    let mut again = Vec::new();
    int::decode(codec, &enc, rows, &mut again).expect("a fresh encoding decodes");
    assert!(again == values, "{codec:?} re-encoding changed values");
});
