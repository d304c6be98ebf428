//! Seeded random bytes and random damage to valid files, fed to `PartitionReader::open`
//! and every read path over a `MemSource`, and to `Footer::decode` directly: the result is
//! `Ok` or an `Err`, never a panic, and no allocation is large (a thread-local high-water
//! mark of allocation sizes, checked per case). Failures print the case's seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use cairn_codec::outer::Outer;
use cairn_codec::page::{MAX_PAGE_RAW_BYTES, PAGE_HEADER_BYTES};
use cairn_storage::{Footer, PartitionReader, ReadOptions, StorageError, TAIL_BYTES, Tail};
use common::tables::{TimeOrder, all_types};
use common::{Rng, encrypted, fix_footer_crc, footer_of, open_bytes, page_rows, ring, with_keys};

/// Records the largest allocation each thread makes (reset per case).
struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    LARGEST.try_with(|l| l.set(l.get().max(size))).unwrap_or(());
}

// SAFETY: forwards to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Tracking = Tracking;

/// Largest single allocation allowed while reading a damaged small file.
const CAP_BYTES: usize = 1 << 20;

/// Runs `f` as case `seed`; fails with the seed on a panic or an allocation over `cap`.
fn case(what: &str, seed: u64, cap: usize, f: impl FnOnce()) {
    LARGEST.with(|l| l.set(0));
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        panic!("{what}: panic in case seed {seed}");
    }
    let largest = LARGEST.with(Cell::get);
    assert!(
        largest <= cap,
        "{what}: case seed {seed} allocated {largest} bytes at once"
    );
}

/// Any outcome is fine here (only panics and allocations are checked).
fn tolerate<T>(_: cairn_storage::Result<T>) {}

/// Opens `bytes` and, if that works, exercises every read; errors are fine.
fn exercise(bytes: &[u8], opts: &ReadOptions) {
    let Ok(r) = open_bytes(bytes, opts) else {
        return;
    };
    tolerate(r.verify());
    let n = r.footer().columns.len();
    let all: Vec<usize> = (0..n).collect();
    for c in 0..n {
        tolerate(r.read_column(c));
        tolerate(r.dictionary(c));
    }
    let rows = r.row_count();
    tolerate(r.read_rows(&all, rows / 3..rows / 3 + 2000));
    tolerate(r.read_rows(&all, u64::MAX - 5..u64::MAX));
    tolerate(r.read_time_range(&all, i64::MIN, i64::MAX));
    if let Some((lo, hi)) = r.footer().time_range {
        tolerate(r.read_time_range(&all, lo, lo.saturating_add(hi.saturating_sub(lo) / 4)));
    }
    tolerate(r.pages_for_time_range(0, 5));
    tolerate(r.http_ranges(&all));
    tolerate(r.read_pages(0, 0..usize::MAX));
}

fn mutate(rng: &mut Rng, mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len() as u64;
    let tail_start = b.len() - TAIL_BYTES;
    let footer_start = common::tail_of(&b).0;
    match rng.below(7) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(n) as usize;
                b[at] ^= 1 << rng.below(8);
            }
        }
        1 => b.truncate(rng.below(n) as usize),
        2 => {
            let at = rng.below(n) as usize;
            let len = (rng.below(256) as usize).min(b.len() - at);
            b[at..at + len].fill(0);
        }
        3 => {
            let claimed = match rng.below(3) {
                0 => rng.next_u64() as u32,
                1 => 200 << 20,
                _ => rng.below(n + 10) as u32,
            };
            b[tail_start..tail_start + 4].copy_from_slice(&claimed.to_le_bytes());
        }
        4 => {
            let at = tail_start + rng.below(TAIL_BYTES as u64) as usize;
            b[at] = rng.next_u64() as u8;
        }
        // Damage inside the footer with its CRC fixed: gets past the checksum.
        _ => {
            for _ in 0..1 + rng.below(4) {
                let at = footer_start + rng.below((tail_start - footer_start) as u64) as usize;
                b[at] = match rng.below(3) {
                    0 => b[at] ^ (1 << rng.below(8)),
                    1 => 0xff,
                    _ => rng.next_u64() as u8,
                };
            }
            fix_footer_crc(&mut b);
        }
    }
    b
}

#[test]
fn damaged_files_never_panic() {
    let t = all_types(2100, true, TimeOrder::TagThenTime, 12);
    let plain = common::file_bytes(&t, &page_rows(1024));
    let enc = common::file_bytes(&t, &encrypted(page_rows(1024)));
    let keys = with_keys(ring());
    for seed in 0..300u64 {
        let mut rng = Rng(seed);
        let (base, opts) = if seed % 4 == 3 {
            (&enc, &keys)
        } else {
            (&plain, &ReadOptions::default())
        };
        let b = mutate(&mut rng, base.clone());
        case("mutated file", seed, CAP_BYTES, || exercise(&b, opts));
    }
}

#[test]
fn random_bytes_never_panic() {
    for seed in 0..2000u64 {
        let mut rng = Rng(seed);
        let len = rng.below(300) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        // Half get a well-formed tail (magic, version, CRC of what precedes as footer).
        if len >= TAIL_BYTES && seed % 2 == 0 {
            let footer_len = rng.below((len - TAIL_BYTES) as u64 + 1) as u32;
            let start = len - TAIL_BYTES - footer_len as usize;
            let crc = crc32c::crc32c(&b[start..len - TAIL_BYTES]);
            b[len - TAIL_BYTES..].copy_from_slice(&Tail::new(footer_len, crc).encode());
        }
        case("random bytes", seed, CAP_BYTES, || {
            exercise(&b, &ReadOptions::default());
            exercise(&b, &with_keys(ring()));
        });
    }
}

#[test]
fn footer_decode_on_random_and_damaged_bodies() {
    let t = all_types(1500, true, TimeOrder::Sorted, 4);
    let file = common::file_bytes(&t, &page_rows(1024));
    let (start, tail) = common::tail_of(&file);
    let body = file[start..start + tail.footer_len as usize].to_vec();
    for seed in 0..3000u64 {
        let mut rng = Rng(seed);
        let b: Vec<u8> = if seed % 3 == 0 {
            (0..rng.below(400)).map(|_| rng.next_u64() as u8).collect()
        } else {
            let mut b = body.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(b.len() as u64) as usize;
                b[at] ^= 1 << rng.below(8);
            }
            if rng.chance(4) {
                b.truncate(rng.below(b.len() as u64) as usize);
            }
            b
        };
        let data_end = if rng.chance(2) {
            start as u64
        } else {
            rng.next_u64()
        };
        case("footer decode", seed, CAP_BYTES, || {
            if let Ok(f) = Footer::decode(&b, data_end) {
                // Whatever decodes re-encodes to a body that decodes to the same footer.
                let again = Footer::decode(&f.encode(), data_end).unwrap();
                assert_eq!(again.encode(), f.encode());
            }
        });
    }
}

/// Damages a page: bit flips in the header or body, or a cut or extended body with the
/// header's lengths made to agree (so the leaf decoders, not the length check, see it).
fn damage_page(rng: &mut Rng, mut page: Vec<u8>) -> Vec<u8> {
    let flip = |rng: &mut Rng, page: &mut Vec<u8>, from: usize| {
        if page.len() > from {
            let at = from + rng.below((page.len() - from) as u64) as usize;
            page[at] ^= 1 << rng.below(8);
        }
    };
    match rng.below(4) {
        0 => (0..1 + rng.below(4)).for_each(|_| flip(rng, &mut page, 0)),
        1 => (0..1 + rng.below(6)).for_each(|_| flip(rng, &mut page, PAGE_HEADER_BYTES)),
        2 => page.truncate(rng.below(page.len() as u64 + 1) as usize),
        _ => {
            let keep = PAGE_HEADER_BYTES + rng.below(page.len() as u64) as usize;
            page.truncate(keep);
            page.extend((0..rng.below(200)).map(|_| rng.next_u64() as u8));
            let stored = (page.len().saturating_sub(PAGE_HEADER_BYTES) as u32).to_le_bytes();
            if page.len() >= PAGE_HEADER_BYTES {
                page[12..16].copy_from_slice(&stored);
                if page[2] == 0 {
                    page[8..12].copy_from_slice(&stored);
                }
            }
        }
    }
    page
}

/// Pages that pass their CRC but hold anything: a page's bytes are replaced (the footer's
/// extents and CRC are rebuilt), so the page decoders and the outer stages see arbitrary
/// input. The allocation cap is the codec's own: a page header may claim up to 256 MiB of
/// raw body, and the LZ4 stage allocates what the header claims.
#[test]
fn pages_with_valid_crcs_and_random_content_never_panic() {
    let t = all_types(1100, true, TimeOrder::Random, 3);
    for (i, outer) in [Outer::None, Outer::Lz4, Outer::Zstd]
        .into_iter()
        .enumerate()
    {
        let mut opts = page_rows(1024);
        opts.encode.force_outer = Some(outer);
        let plain = common::file_bytes(&t, &opts);
        let footer = footer_of(&plain);
        for seed in 0..120u64 {
            let mut rng = Rng(seed);
            let col = rng.below(footer.columns.len() as u64) as usize;
            let pages = &footer.columns[col].pages;
            let p = rng.below(pages.len() as u64) as usize;
            let e = pages[p].extent;
            let page = damage_page(
                &mut rng,
                plain[e.offset as usize..e.end() as usize].to_vec(),
            );
            let b = common::replace_page(&plain, col, p, &page);
            case(
                "page content",
                seed + 1000 * i as u64,
                MAX_PAGE_RAW_BYTES + (1 << 20),
                || exercise(&b, &ReadOptions::default()),
            );
        }
    }
}

#[test]
fn a_tail_claiming_a_200_mb_footer_fails_before_reading() {
    let t = all_types(10, false, TimeOrder::Sorted, 1);
    let mut b = common::file_bytes(&t, &page_rows(1024));
    let n = b.len();
    b[n - TAIL_BYTES..n - TAIL_BYTES + 4].copy_from_slice(&(200u32 << 20).to_le_bytes());
    case("200 MB footer", 0, 64 << 10, || {
        let e = open_bytes(&b, &ReadOptions::default()).unwrap_err();
        assert!(
            matches!(e, StorageError::FooterLengthBeyondFile { footer_len, .. } if footer_len == 200 << 20)
        );
    });
    // The same claim on an empty prefix: too short for anything.
    let e = PartitionReader::open(
        std::sync::Arc::new(cairn_storage::MemSource::new(
            "x",
            b[n - TAIL_BYTES..].to_vec(),
        )),
        &ReadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, StorageError::FooterLengthBeyondFile { file_len: 14, .. }),
        "{e}"
    );
}
