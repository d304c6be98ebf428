//! (stage, raw_len, bytes) into `outer::decompress`: never a panic and never more than
//! `raw_len` bytes out; on Ok exactly `raw_len` bytes. The same bytes, compressed with each
//! stage, decompress back to themselves.
//!
//! Input: byte 0 = stage id (mod 3); bytes 1..5 = u32 raw_len (mod 1 MiB + 1); the rest =
//! the stored bytes.
#![no_main]

use cairn_codec::outer::{self, Outer};
use cairn_fuzz::Cursor;
use libfuzzer_sys::fuzz_target;

const MAX_RAW: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let stage = Outer::from_id(c.u8() % 3).expect("ids 0..3 are stages");
    let raw_len = c.u32() as usize % (MAX_RAW + 1);
    let stored = c.rest();
    if let Ok(raw) = outer::decompress(stage, stored, raw_len) {
        assert_eq!(raw.len(), raw_len, "{stage:?} returned the wrong length");
    }
    for s in [Outer::None, Outer::Lz4, Outer::Zstd] {
        let packed = outer::compress(s, stored, 1).expect("compression cannot fail");
        let back = outer::decompress(s, &packed, stored.len()).expect("own output decodes");
        assert!(back == stored, "{s:?} round trip changed bytes");
    }
});
