//! A fixed small valid file (the golden fixture) with one page's bytes replaced by the
//! input; the footer's extents and the page's CRC are rebuilt, so the page reaches the
//! decoders. `verify` and reading the column must give `Ok` or `PageCorrupt`, nothing
//! else, and never panic.
//!
//! Input: `[page selector][page bytes…]`: the selector picks one of the file's data pages
//! (all columns' pages in order, modulo their count).
#![no_main]

use std::sync::Arc;

use cairn_storage::{
    Extent, Footer, MemSource, PartitionReader, ReadOptions, StorageError, TAIL_BYTES, Tail,
};
use libfuzzer_sys::fuzz_target;

static FILE: &[u8] =
    include_bytes!("../../crates/cairn-storage/tests/fixtures/partition-v1/small.crnp");

/// The fixture with page `page` of column `col` replaced by `new`.
fn replace_page(footer: &Footer, footer_start: usize, col: usize, page: usize, new: &[u8]) -> Vec<u8> {
    let mut footer = footer.clone();
    let old = footer.columns[col].pages[page].extent;
    let grow = new.len() as u64;
    let shift = |e: &mut Extent| {
        if e.offset > old.offset {
            e.offset = e.offset - u64::from(old.len) + grow;
        }
    };
    for c in &mut footer.columns {
        if let Some(d) = &mut c.dictionary {
            shift(&mut d.extent);
        }
        c.pages.iter_mut().for_each(|p| shift(&mut p.extent));
    }
    if let Some(s) = &mut footer.sparse_index {
        shift(&mut s.extent);
    }
    footer.columns[col].pages[page].extent = Extent {
        offset: old.offset,
        len: new.len() as u32,
        crc: crc32c::crc32c(new),
    };
    let mut out = FILE[..old.offset as usize].to_vec();
    out.extend_from_slice(new);
    out.extend_from_slice(&FILE[old.end() as usize..footer_start]);
    let body = footer.encode();
    out.extend_from_slice(&body);
    out.extend_from_slice(&Tail::new(body.len() as u32, crc32c::crc32c(&body)).encode());
    out
}

fn fixture_footer() -> (Footer, usize) {
    let mut tb = [0u8; TAIL_BYTES];
    tb.copy_from_slice(&FILE[FILE.len() - TAIL_BYTES..]);
    let tail = Tail::decode(&tb);
    let start = FILE.len() - TAIL_BYTES - tail.footer_len as usize;
    let footer = Footer::decode(&FILE[start..FILE.len() - TAIL_BYTES], start as u64)
        .expect("the fixture's footer decodes");
    (footer, start)
}

fn ok_or_corrupt(what: &str, r: Result<(), StorageError>) {
    match r {
        Ok(()) | Err(StorageError::PageCorrupt { .. }) => {}
        Err(e) => panic!("{what}: unexpected error {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, page)) = data.split_first() else {
        return;
    };
    let (footer, start) = fixture_footer();
    let all: Vec<(usize, usize)> = footer
        .columns
        .iter()
        .enumerate()
        .flat_map(|(c, m)| (0..m.pages.len()).map(move |p| (c, p)))
        .collect();
    let (col, p) = all[selector as usize % all.len()];
    let file = replace_page(&footer, start, col, p, page);
    let src = Arc::new(MemSource::new("fuzz.crnp", file));
    let r = PartitionReader::open(src, &ReadOptions::default()).expect("the rebuilt file opens");
    ok_or_corrupt("verify", r.verify());
    ok_or_corrupt("read_column", r.read_column(col).map(|_| ()));
    let rows = u64::from(footer.page_rows) * p as u64;
    ok_or_corrupt("read_rows", r.read_rows(&[col], rows..rows + 10).map(|_| ()));
});
