//! Arbitrary bytes into `Footer::decode`: never a panic, no allocation beyond what the
//! bytes justify; a footer that decodes names only extents below `data_end`, agrees with
//! its own counts, and re-encodes to a body that decodes to the same footer.
//!
//! Input: `[data_end: u64 LE][footer body…]` (missing bytes of `data_end` read as zero).
#![no_main]

use cairn_storage::{ColumnRole, Footer, decode::page_count};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut head = [0u8; 8];
    let n = data.len().min(8);
    head[..n].copy_from_slice(&data[..n]);
    let data_end = u64::from_le_bytes(head);
    let body = &data[n..];
    let Ok(f) = Footer::decode(body, data_end) else {
        return;
    };
    let pages = page_count(f.row_count, f.page_rows);
    assert_eq!(f.page_count(), pages);
    let mut time_keys = 0;
    for c in &f.columns {
        assert_eq!(c.pages.len(), pages);
        assert!(c.null_count <= f.row_count);
        let nulls: u64 = c.pages.iter().map(|p| u64::from(p.null_count)).sum();
        assert_eq!(nulls, c.null_count);
        let rows: u64 = c.pages.iter().map(|p| u64::from(p.rows)).sum();
        assert_eq!(rows, f.row_count);
        for e in c.pages.iter().map(|p| p.extent).chain(c.dictionary.map(|d| d.extent)) {
            assert!(e.end() <= data_end);
        }
        time_keys += usize::from(c.spec.role == ColumnRole::TimeKey);
    }
    assert!(time_keys <= 1);
    if let Some(s) = f.sparse_index {
        assert!(s.extent.end() <= data_end);
        assert_eq!(u64::from(s.blocks), f.row_count.div_ceil(u64::from(s.block_rows)));
    }
    let encoded = f.encode();
    let again = Footer::decode(&encoded, data_end)
        .unwrap_or_else(|e| panic!("re-encoded footer does not decode: {e:?}"));
    assert_eq!(again.encode(), encoded, "encoding is not canonical");
});
