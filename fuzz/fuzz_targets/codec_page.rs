//! (value type, rows, page bytes) into `decode_page`: never a panic; on Ok exactly `rows`
//! values (strings UTF-8, offsets from 0), and re-encoding the decoded page decodes to the
//! same values at present rows and the same nulls.
//!
//! Input: byte 0 = value type (low 7 bits mod 6, + 1) and a flag (bit 7): with it the row count is the
//! page header's own (bytes 4..8 of the page), so the leaf decoders get past the row check;
//! without it bytes 1..3 are a u16 row count. The rest = the page.
#![no_main]

use cairn_codec::page::MAX_PAGE_ROWS;
use cairn_codec::{
    Bitmap, DecodedPage, DecodedValues, EncodeOptions, PageInput, PageValues, ValueType,
    decode_page, encode_page,
};
use cairn_fuzz::Cursor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let head = c.u8();
    let ty = ValueType::from_id((head & 0x7f) % 6 + 1).expect("ids 1..=6 are types");
    let given_rows = (head & 0x80 == 0).then(|| usize::from(c.u16()).max(1));
    let page = c.rest();
    let rows = given_rows.unwrap_or_else(|| {
        let own = page
            .get(4..8)
            .map_or(1, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        (own as usize).clamp(1, MAX_PAGE_ROWS)
    });
    check(page, ty, rows);
});

fn check(page: &[u8], ty: ValueType, rows: usize) {
    let Ok(decoded) = decode_page(page, ty, rows) else {
        return;
    };
    assert_eq!(count(&decoded.values), rows, "wrong number of values");
    if let Some(v) = &decoded.validity {
        assert_eq!(v.len(), rows);
    }
    if let DecodedValues::Utf8 { offsets, data } = &decoded.values {
        assert_eq!(offsets[0], 0);
        assert_eq!(offsets[rows] as usize, data.len());
        for w in offsets.windows(2) {
            assert!(std::str::from_utf8(&data[w[0] as usize..w[1] as usize]).is_ok());
        }
    }
    let again = reencode(&decoded, ty, rows);
    let present = |i: usize| decoded.validity.as_ref().is_none_or(|v| v.get(i));
    let all_present = (0..rows).all(present);
    assert_eq!(again.validity.is_none(), all_present, "nulls changed");
    if let Some(v) = &again.validity {
        assert!((0..rows).all(|i| v.get(i) == present(i)), "nulls changed");
    }
    for i in (0..rows).filter(|&i| present(i)) {
        assert!(
            same_value(&decoded.values, &again.values, i),
            "row {i} changed"
        );
    }
}

fn reencode(page: &DecodedPage, ty: ValueType, rows: usize) -> DecodedPage {
    let values = match &page.values {
        DecodedValues::I64(v) => PageValues::I64(v),
        DecodedValues::U64(v) => PageValues::U64(v),
        DecodedValues::F64(v) => PageValues::F64(v),
        DecodedValues::Bool(b) => PageValues::Bool(b.as_ref()),
        DecodedValues::Utf8 { offsets, data } => PageValues::Utf8 { offsets, data },
        DecodedValues::Codes(v) => PageValues::Codes(v),
    };
    let input = PageInput {
        values,
        validity: page.validity.as_ref().map(Bitmap::as_ref),
    };
    let mut out = Vec::new();
    encode_page(&input, &EncodeOptions::default(), &mut out).expect("decoded pages re-encode");
    decode_page(&out, ty, rows).expect("a fresh page decodes")
}

fn count(v: &DecodedValues) -> usize {
    match v {
        DecodedValues::I64(v) => v.len(),
        DecodedValues::U64(v) => v.len(),
        DecodedValues::F64(v) => v.len(),
        DecodedValues::Bool(b) => b.len(),
        DecodedValues::Utf8 { offsets, .. } => offsets.len() - 1,
        DecodedValues::Codes(v) => v.len(),
    }
}

fn same_value(a: &DecodedValues, b: &DecodedValues, i: usize) -> bool {
    match (a, b) {
        (DecodedValues::I64(a), DecodedValues::I64(b)) => a[i] == b[i],
        (DecodedValues::U64(a), DecodedValues::U64(b)) => a[i] == b[i],
        (DecodedValues::F64(a), DecodedValues::F64(b)) => a[i].to_bits() == b[i].to_bits(),
        (DecodedValues::Bool(a), DecodedValues::Bool(b)) => a.get(i) == b.get(i),
        (DecodedValues::Codes(a), DecodedValues::Codes(b)) => a[i] == b[i],
        (
            DecodedValues::Utf8 {
                offsets: oa,
                data: da,
            },
            DecodedValues::Utf8 {
                offsets: ob,
                data: db,
            },
        ) => da[oa[i] as usize..oa[i + 1] as usize] == db[ob[i] as usize..ob[i + 1] as usize],
        _ => false,
    }
}
