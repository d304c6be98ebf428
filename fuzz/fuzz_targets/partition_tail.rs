//! Arbitrary bytes as a whole partition file: `Tail::decode` of its last 14 bytes, then
//! `PartitionReader::open` on a `MemSource` of it, and on success every read. Never a
//! panic; every error is a typed corruption (no I/O error: a footer that decodes only
//! names extents inside the file).
//!
//! Input: `[mode][file…]`. Mode bit 0 repairs the tail (magic, version, and the footer CRC
//! of whatever the claimed footer length covers, clamped to the file) so the footer decoder
//! behind the checksum gets exercised; bit 1 opens with a key ring (id 1, `[0x5a; 32]`).
#![no_main]

use std::sync::Arc;

use cairn_storage::{
    FORMAT_VERSION, MAGIC, MemSource, PartitionReader, ReadOptions, StorageError, TAIL_BYTES,
    Tail,
};
use cairn_wal::KeyRing;
use libfuzzer_sys::fuzz_target;

fn repair(file: &mut [u8]) {
    let Some(at) = file.len().checked_sub(TAIL_BYTES) else {
        return;
    };
    let mut tb = [0u8; TAIL_BYTES];
    tb.copy_from_slice(&file[at..]);
    let claimed = Tail::decode(&tb).footer_len as usize;
    let footer_len = if at == 0 { 0 } else { claimed % (at + 1) };
    let crc = crc32c::crc32c(&file[at - footer_len..at]);
    file[at..].copy_from_slice(&Tail::new(footer_len as u32, crc).encode());
}

fn expected(e: &StorageError) -> bool {
    !matches!(
        e,
        StorageError::Io { .. }
            | StorageError::InvalidInput(_)
            | StorageError::NoSuchColumn(_)
            | StorageError::Encode { .. }
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut file = rest.to_vec();
    if let Some(last) = file.last_chunk::<TAIL_BYTES>() {
        let tail = Tail::decode(last);
        assert_eq!(&tail.encode(), last, "encode(decode(tail)) != tail");
    }
    if mode & 1 != 0 {
        repair(&mut file);
        if let Some(last) = file.last_chunk::<TAIL_BYTES>() {
            let tail = Tail::decode(last);
            assert_eq!((tail.magic, tail.version), (MAGIC, FORMAT_VERSION));
        }
    }
    let opts = ReadOptions {
        keys: (mode & 2 != 0).then(|| KeyRing::new(1, [0x5a; 32])),
        expected_len: None,
    };
    let src = Arc::new(MemSource::new("fuzz.crnp", file));
    let r = match PartitionReader::open(src, &opts) {
        Ok(r) => r,
        Err(e) => {
            assert!(expected(&e), "unexpected error at open: {e}");
            return;
        }
    };
    let all: Vec<usize> = (0..r.footer().columns.len()).collect();
    let results = [
        r.verify().err(),
        r.read_rows(&all, 0..u64::MAX).err(),
        r.read_time_range(&all, i64::MIN, i64::MAX).err(),
        r.byte_ranges(&all).err(),
    ];
    for e in results.into_iter().flatten() {
        // A footer without a TIME_KEY makes read_time_range an input error, legitimately.
        if !matches!(e, StorageError::InvalidInput(_)) {
            assert!(expected(&e), "unexpected error reading: {e}");
        }
    }
});
