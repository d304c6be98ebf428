//! An insert-only set of byte strings for dictionary building: open addressing with linear
//! probing, ids in order of first appearance, the strings copied into one arena.
//!
//! Building a dictionary is bound by memory latency once the table and arena outgrow the
//! cache (tens of thousands of distinct values while the column streams past). The caller
//! therefore works in batches: [`Interner::prefetch_slot`] for every row of a batch, then
//! [`Interner::prefetch_candidate`], then [`Interner::intern`], so the batch's cache
//! misses overlap instead of following one another (group prefetching, Chen et al.,
//! "Improving Hash Join Performance through Prefetching", ICDE 2004).

use crate::error::{CodecError, Result};

const EMPTY: u32 = u32::MAX;

/// One table slot: the string's tag (high half of its hash), id and place in the arena,
/// so a probe reads one slot and, on a tag and length match, the candidate's bytes.
#[derive(Debug, Clone, Copy)]
struct Slot {
    tag: u32,
    id: u32,
    start: u32,
    len: u32,
}

const FREE: Slot = Slot {
    tag: 0,
    id: EMPTY,
    start: 0,
    len: 0,
};

#[derive(Debug)]
pub(super) struct Interner {
    /// A power of two long, at most half full.
    slots: Vec<Slot>,
    mask: usize,
    arena: Vec<u8>,
    /// String `id` is `arena[ends[id]..ends[id + 1]]`; `ends[0] == 0`.
    ends: Vec<u32>,
    /// Keys of [`hash_bytes`], random per table.
    seed: [u64; 2],
}

impl Interner {
    pub(super) fn new() -> Self {
        let n = 1024;
        Self {
            slots: vec![FREE; n],
            mask: n - 1,
            arena: Vec::new(),
            ends: vec![0],
            seed: random_seed(),
        }
    }

    /// The hash [`Self::intern`] expects for `s`.
    #[inline]
    pub(super) fn hash(&self, s: &[u8]) -> u64 {
        hash_bytes(s, self.seed)
    }

    /// Number of distinct strings.
    pub(super) fn len(&self) -> usize {
        self.ends.len() - 1
    }

    /// String `id` (`id < len()`).
    pub(super) fn get(&self, id: usize) -> &[u8] {
        &self.arena[self.ends[id] as usize..self.ends[id + 1] as usize]
    }

    /// Starts loading the slot where a probe for `hash` begins.
    #[inline]
    pub(super) fn prefetch_slot(&self, hash: u64) {
        prefetch(self.slots.as_ptr().wrapping_add(hash as usize & self.mask));
    }

    /// Starts loading the bytes of the string in the first slot for `hash`, if its tag
    /// matches (call after [`Self::prefetch_slot`] had time to land).
    #[inline]
    pub(super) fn prefetch_candidate(&self, hash: u64) {
        let slot = self.slots[hash as usize & self.mask];
        if slot.id != EMPTY && slot.tag == (hash >> 32) as u32 {
            prefetch(self.arena.as_ptr().wrapping_add(slot.start as usize));
        }
    }

    /// The id of `s`, inserting it if new. `hash` must be `self.hash(s)` (growing the
    /// table rehashes from the arena with it).
    #[inline]
    pub(super) fn intern(&mut self, s: &[u8], hash: u64) -> Result<u32> {
        let tag = (hash >> 32) as u32;
        let mut i = hash as usize & self.mask;
        loop {
            let slot = self.slots[i];
            if slot.id == EMPTY {
                break;
            }
            if slot.tag == tag
                && slot.len as usize == s.len()
                && self.arena[slot.start as usize..][..s.len()] == *s
            {
                return Ok(slot.id);
            }
            i = (i + 1) & self.mask;
        }
        let id = u32::try_from(self.len())
            .ok()
            .filter(|&id| id != EMPTY)
            .ok_or(CodecError::Unencodable("over 2^32 - 1 distinct strings"))?;
        let start = self.arena.len();
        self.arena.extend_from_slice(s);
        let too_big = CodecError::Unencodable("dictionary over 4 GiB");
        let end = u32::try_from(self.arena.len()).map_err(|_| too_big.clone())?;
        self.ends.push(end);
        self.slots[i] = Slot {
            tag,
            id,
            start: start as u32,
            len: s.len() as u32,
        };
        if self.len() * 2 > self.slots.len() {
            self.grow();
        }
        Ok(id)
    }

    /// Doubles the table, rehashing every string from the arena.
    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        self.mask = n - 1;
        self.slots = vec![FREE; n];
        for id in 0..self.len() {
            let (start, end) = (self.ends[id], self.ends[id + 1]);
            let hash = hash_bytes(&self.arena[start as usize..end as usize], self.seed);
            let mut i = hash as usize & self.mask;
            while self.slots[i].id != EMPTY {
                i = (i + 1) & self.mask;
            }
            self.slots[i] = Slot {
                tag: (hash >> 32) as u32,
                id: id as u32,
                start,
                len: end - start,
            };
        }
    }
}

#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults or changes memory, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

/// Fresh keys from std's `RandomState` (random per process, distinct per call).
fn random_seed() -> [u64; 2] {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    [state.hash_one(0x5eed_u64), state.hash_one(0xbeef_u64)]
}

/// 64x64 -> 128-bit multiply with the halves xor-ed: every output bit depends on every
/// input bit.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
    u64::from_le_bytes(w)
}

/// A fast non-cryptographic hash of a byte string, in the FxHash spirit (one multiply per
/// chunk, as in Firefox / rustc) with the folded multiply of wyhash / foldhash, 16 bytes per
/// multiply. Both multiplicands are keyed by the random `seed`, so column values cannot be
/// crafted to collide (or to zero a multiplicand) without knowing it; the dictionary built
/// never depends on the seed.
#[inline]
fn hash_bytes(s: &[u8], seed: [u64; 2]) -> u64 {
    let mut h = seed[0] ^ (s.len() as u64);
    let mut chunks = s.chunks_exact(16);
    for c in &mut chunks {
        h = fold_mul(h ^ word(&c[..8]), seed[1] ^ word(&c[8..]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let (a, b) = rest.split_at(rest.len().min(8));
        h = fold_mul(h ^ word(a), seed[1] ^ word(b));
    }
    fold_mul(h, MUL)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn interns_through_growth_and_tag_collisions() {
        let mut t = Interner::new();
        let strings: Vec<Vec<u8>> = (0..5000u32)
            .map(|i| {
                i.to_le_bytes()[..(i % 5) as usize]
                    .iter()
                    .chain(&i.to_be_bytes())
                    .copied()
                    .collect()
            })
            .collect();
        for (i, s) in strings.iter().enumerate() {
            assert_eq!(t.intern(s, t.hash(s)).unwrap() as usize, i);
        }
        // A fake hash (kept below the growth threshold) makes every string probe one
        // chain with equal tags: the bytes decide.
        let mut c = Interner::new();
        for (i, s) in strings[..300].iter().enumerate() {
            assert_eq!(c.intern(s, 7).unwrap() as usize, i);
        }
        for (i, s) in strings.iter().enumerate() {
            assert_eq!(t.intern(s, t.hash(s)).unwrap() as usize, i);
            assert_eq!(t.get(i), &s[..]);
        }
        for (i, s) in strings[..300].iter().enumerate() {
            assert_eq!(c.intern(s, 7).unwrap() as usize, i);
        }
        assert_eq!(t.len(), 5000);
    }

    #[test]
    fn hash_separates_lengths_and_tails() {
        let samples: [&[u8]; 6] = [
            b"",
            b"\0",
            b"\0\0",
            b"a",
            b"aaaaaaaaaaaaaaaa",
            b"aaaaaaaaaaaaaaaa\0",
        ];
        let hashes: std::collections::HashSet<u64> =
            samples.iter().map(|s| hash_bytes(s, [1, 2])).collect();
        assert_eq!(hashes.len(), samples.len());
    }
}
