//! Arbitrary bytes into `SegmentHeader::decode`: never a panic; a header that decodes
//! re-encodes to bytes that decode to the same value (and encoding is then a fixed point).
//!
//! Input: `[mode][bytes…]`. Mode bit 0 repairs magic, version, sizes and the CRC of the bytes
//! so that the field checks behind the CRC get exercised too.
#![no_main]

use cairn_fuzz::fix_segment_header;
use cairn_wal::Corruption;
use cairn_wal::decode::SegmentHeader;
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    match SegmentHeader::decode(bytes) {
        Ok(h) => {
            assert!(bytes.len() >= cairn_wal::SEGMENT_HEADER_BYTES);
            assert_ne!(h.segment_id, 0);
            assert_ne!(h.first_lsn, 0);
            let encoded = h.encode();
            let again = SegmentHeader::decode(&encoded)
                .unwrap_or_else(|e| panic!("re-encoded header does not decode: {e}; {h:?}"));
            assert_eq!(again, h, "decode(encode(h)) != h");
            assert_eq!(again.encode(), encoded, "encoding is not canonical");
        }
        Err(Corruption::Truncated { len, available }) => {
            assert!(bytes.len() < cairn_wal::SEGMENT_HEADER_BYTES);
            assert_eq!((len, available), (128, bytes.len() as u64));
        }
        Err(
            Corruption::BadMagic { .. }
            | Corruption::UnsupportedVersion { .. }
            | Corruption::HeaderCrc { .. }
            | Corruption::HeaderField { .. },
        ) => {}
        Err(other) => panic!("unexpected corruption kind from a header: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some((&mode, rest)) = data.split_first() {
        let mut bytes = rest.to_vec();
        if mode & 1 == 1 {
            fix_segment_header(&mut bytes);
        }
        check(&bytes);
    }
});
