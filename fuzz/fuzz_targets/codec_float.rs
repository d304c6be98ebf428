//! (codec id, rows, bytes) into `float::decode`: never a panic; on Ok exactly `rows` values,
//! values already in the output untouched, and re-encoding the values with the same codec
//! (and with the one `choose` picks) decodes to the same bits.
//!
//! Input: byte 0 = codec id (low 7 bits) and a row-scale flag (bit 7); bytes 1..3 = u16
//! rows, times 16 with the flag (capped at 2^20, the page row cap); the rest = encoding.
#![no_main]

use cairn_codec::float::{self, FloatCodec};
use cairn_fuzz::Cursor;
use libfuzzer_sys::fuzz_target;

const MAX_ROWS: usize = 1 << 20;
const MARK: u64 = 0x7ff4_dead_beef_0001;

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn reencode(codec: FloatCodec, values: &[f64]) {
    let mut enc = Vec::new();
    float::encode(codec, values, &mut enc).expect("decoded values re-encode with their codec");
    let mut again = Vec::new();
    float::decode(codec, &enc, values.len(), &mut again).expect("a fresh encoding decodes");
    assert!(
        same_bits(&again, values),
        "{codec:?} re-encoding changed bits"
    );
}

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
    let Ok(codec) = FloatCodec::from_id(head & 0x7f) else {
        return;
    };
    let mut out = vec![f64::from_bits(MARK)];
    if float::decode(codec, bytes, rows, &mut out).is_err() {
        assert!(
            out.len() == 1 && out[0].to_bits() == MARK,
            "{codec:?} changed output on error"
        );
        return;
    }
    assert_eq!(
        out.len(),
        rows + 1,
        "{codec:?} returned the wrong number of values"
    );
    assert_eq!(
        out[0].to_bits(),
        MARK,
        "{codec:?} changed values already in the output"
    );
    let values = &out[1..];
    reencode(codec, values);
    reencode(float::choose(values), values);
});
