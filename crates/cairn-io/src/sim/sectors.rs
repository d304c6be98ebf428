//! A set of 512-byte sector indices stored as merged ranges, so that a 64 MiB segment
//! written once costs one entry rather than 131072.

use std::collections::BTreeMap;

/// Sector size the crash models and the overwrite detector reason in.
pub(super) const SECTOR_BYTES: u64 = 512;

/// Disjoint, non-adjacent half-open ranges of sector indices, keyed by start.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct SectorSet {
    ranges: BTreeMap<u64, u64>,
}

impl SectorSet {
    /// The sectors `[first, end)` that the byte range `[offset, offset + len)` touches;
    /// empty for `len == 0`.
    pub(super) fn sectors_of(offset: u64, len: u64) -> (u64, u64) {
        if len == 0 {
            return (0, 0);
        }
        (offset / SECTOR_BYTES, (offset + len).div_ceil(SECTOR_BYTES))
    }

    /// Adds the sectors touched by bytes `[offset, offset + len)`.
    pub(super) fn insert_bytes(&mut self, offset: u64, len: u64) {
        let (mut start, mut end) = Self::sectors_of(offset, len);
        if start == end {
            return;
        }
        let merged: Vec<(u64, u64)> = self
            .ranges
            .range(..=end)
            .rev()
            .take_while(|&(_, &e)| e >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in merged {
            self.ranges.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.ranges.insert(start, end);
    }

    /// Whether any sector touched by bytes `[offset, offset + len)` is in the set.
    pub(super) fn intersects_bytes(&self, offset: u64, len: u64) -> bool {
        let (start, end) = Self::sectors_of(offset, len);
        start < end
            && self
                .ranges
                .range(..end)
                .next_back()
                .is_some_and(|(_, &e)| e > start)
    }

    /// Drops the sectors that lie wholly at or past byte `len_bytes` (a truncation): a sector
    /// straddling the new end still holds bytes.
    pub(super) fn truncate_bytes(&mut self, len_bytes: u64) {
        let first_gone = len_bytes.div_ceil(SECTOR_BYTES);
        self.ranges.split_off(&first_gone);
        if let Some((_, end)) = self.ranges.iter_mut().next_back() {
            *end = (*end).min(first_gone);
        }
        self.ranges.retain(|s, e| s < e);
    }

    #[cfg(test)]
    pub(super) fn ranges(&self) -> Vec<(u64, u64)> {
        self.ranges.iter().map(|(&s, &e)| (s, e)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_truncates() {
        let mut set = SectorSet::default();
        set.insert_bytes(0, 512);
        set.insert_bytes(1024, 100);
        assert_eq!(set.ranges(), vec![(0, 1), (2, 3)]);
        set.insert_bytes(512, 1);
        assert_eq!(set.ranges(), vec![(0, 3)]);
        assert!(set.intersects_bytes(1500, 10));
        assert!(!set.intersects_bytes(1536, 10));
        assert!(!set.intersects_bytes(100, 0));
        set.insert_bytes(4096, 4096);
        assert_eq!(set.ranges(), vec![(0, 3), (8, 16)]);
        set.truncate_bytes(4097);
        assert_eq!(set.ranges(), vec![(0, 3), (8, 9)]);
        set.truncate_bytes(4096);
        assert_eq!(set.ranges(), vec![(0, 3)]);
        set.truncate_bytes(0);
        assert_eq!(set.ranges(), vec![]);
    }
}
