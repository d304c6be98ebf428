//! Dictionary building: the sorted distinct strings of a column chunk and a code per row.

mod interner;

use interner::Interner;

use crate::bitmap::BitmapRef;
use crate::error::{CodecError, Result};

/// A sorted (bytewise) set of distinct strings; code `i` stands for string `i`, which is
/// `data[offsets[i]..offsets[i + 1]]`. `offsets` starts at 0 and has `len() + 1` entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dictionary {
    pub offsets: Vec<i32>,
    pub data: Vec<u8>,
}

impl Dictionary {
    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// String `i` (None past the end).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let a = usize::try_from(*self.offsets.get(i)?).ok()?;
        let b = usize::try_from(*self.offsets.get(i + 1)?).ok()?;
        self.data.get(a..b)
    }
}

/// Rows whose table lookups are prefetched together.
const BATCH: usize = 16;

/// Builds the sorted dictionary of the given strings (skipping rows where `validity` is 0)
/// and the code of every row (0 for null rows). String `i` is `data[offsets[i]..offsets[i +
/// 1]]` (`offsets[0]` need not be 0); offsets out of range or decreasing, or a validity of
/// another length, are `Unencodable`.
///
/// Codes are first assigned in order of first appearance through a hash table (rows go in
/// batches of [`BATCH`] so their cache misses overlap), then the distinct values are sorted
/// and the codes remapped through the permutation.
pub fn build_dictionary(
    offsets: &[i32],
    data: &[u8],
    validity: Option<BitmapRef<'_>>,
) -> Result<(Dictionary, Vec<u32>)> {
    let rows = offsets.len().saturating_sub(1);
    if u32::try_from(rows).is_err() {
        return Err(CodecError::Unencodable(
            "over u32::MAX rows for one dictionary",
        ));
    }
    super::check_offsets(offsets, data.len())?;
    let validity = match validity {
        Some(v) if v.len() != rows => {
            return Err(CodecError::Unencodable(
                "validity length differs from the row count",
            ));
        }
        Some(v) if v.count_ones() == rows => None,
        other => other,
    };
    let (table, mut codes) = first_seen_codes(offsets, data, validity)?;
    let mut order: Vec<u32> = (0..table.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| table.get(a as usize).cmp(table.get(b as usize)));
    let mut rank = vec![0u32; table.len()];
    for (new, &old) in order.iter().enumerate() {
        rank[old as usize] = new as u32;
    }
    for c in &mut codes {
        *c = rank.get(*c as usize).copied().unwrap_or(0);
    }
    if let Some(v) = validity {
        for (i, c) in codes.iter_mut().enumerate() {
            if !v.get(i) {
                *c = 0;
            }
        }
    }
    Ok((sorted_dictionary(&table, &order)?, codes))
}

/// The distinct strings in order of first appearance, and each row's index among them (0
/// for null rows). `offsets` were checked by the caller.
fn first_seen_codes(
    offsets: &[i32],
    data: &[u8],
    validity: Option<BitmapRef<'_>>,
) -> Result<(Interner, Vec<u32>)> {
    let rows = offsets.len().saturating_sub(1);
    let mut table = Interner::new();
    let mut codes = Vec::with_capacity(rows);
    let mut hashes = [0u64; BATCH];
    let string = |i: usize| {
        // In range: check_offsets proved 0 <= offsets[i] <= offsets[i + 1] <= data.len().
        &data[offsets[i] as usize..offsets[i + 1] as usize]
    };
    let present = |i: usize| validity.is_none_or(|v| v.get(i));
    for batch in (0..rows).step_by(BATCH) {
        let n = BATCH.min(rows - batch);
        for (k, h) in hashes[..n].iter_mut().enumerate() {
            *h = table.hash(string(batch + k));
            table.prefetch_slot(*h);
        }
        for &h in &hashes[..n] {
            table.prefetch_candidate(h);
        }
        for (k, &h) in hashes[..n].iter().enumerate() {
            let i = batch + k;
            codes.push(if present(i) {
                table.intern(string(i), h)?
            } else {
                0
            });
        }
    }
    Ok((table, codes))
}

fn sorted_dictionary(table: &Interner, order: &[u32]) -> Result<Dictionary> {
    let mut dict = Dictionary {
        offsets: Vec::with_capacity(order.len() + 1),
        data: Vec::with_capacity(order.iter().map(|&i| table.get(i as usize).len()).sum()),
    };
    dict.offsets.push(0);
    for &old in order {
        dict.data.extend_from_slice(table.get(old as usize));
        let end = i32::try_from(dict.data.len())
            .map_err(|_| CodecError::Unencodable("dictionary over 2 GiB"))?;
        dict.offsets.push(end);
    }
    Ok(dict)
}
