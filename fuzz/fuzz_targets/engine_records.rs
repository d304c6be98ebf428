//! Arbitrary bytes as the engine's own formats: a CATALOG file, a MANIFEST, a DDL record and
//! a WRITE record (batch codec). Never a panic. Input: `[mode][bytes…]`; mode bit 0 appends
//! a correct CRC32C (CATALOG, MANIFEST and WRITE end with one), so the parsers behind the
//! checksum get exercised.
#![no_main]

use cairn_engine::{batch_codec, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 != 0 {
        let crc = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
    }
    let _ = decode::catalog(&bytes);
    let _ = decode::manifest(&bytes);
    let _ = decode::ddl(rest);
    if let Ok(d) = batch_codec::decode(&bytes) {
        assert_eq!(d.batch.num_columns(), d.columns.len());
    }
});
