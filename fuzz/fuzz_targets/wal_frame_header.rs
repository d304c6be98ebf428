//! The first 40 bytes of the input into `FrameHeader::decode`: never a panic; a header that
//! decodes re-encodes to exactly the same bytes; each error is the documented one.
#![no_main]

use cairn_wal::decode::FrameHeader;
use cairn_wal::{Corruption, MAX_PAYLOAD_BYTES, RECORD_HEADER_BYTES};
use libfuzzer_sys::fuzz_target;

/// Largest stored payload: the plaintext cap plus the 16-byte GCM tag.
const MAX_STORED: u64 = MAX_PAYLOAD_BYTES as u64 + 16;

fuzz_target!(|data: &[u8]| {
    let Some(first) = data.get(..RECORD_HEADER_BYTES) else {
        return;
    };
    let mut raw = [0u8; RECORD_HEADER_BYTES];
    raw.copy_from_slice(first);
    let payload_len = u64::from(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]));
    match FrameHeader::decode(&raw) {
        Ok(h) => {
            assert_eq!(h.encode(), raw, "encode(decode(b)) != b");
            assert!(u64::from(h.payload_len) <= MAX_STORED);
            assert_eq!(
                h.frame_len() as u64,
                RECORD_HEADER_BYTES as u64 + payload_len
            );
            assert_eq!(raw[20..24], [0u8; 4]);
        }
        Err(Corruption::Zeroed) => assert!(raw.iter().all(|&b| b == 0)),
        Err(Corruption::ReservedBits) => assert_ne!(raw[20..24], [0u8; 4]),
        Err(Corruption::LengthTooLarge { len, max }) => {
            assert_eq!((len, max), (payload_len, MAX_STORED));
            assert!(len > max);
        }
        Err(other) => panic!("unexpected corruption kind from a frame header: {other:?}"),
    }
});
