//! Log sequence numbers.

/// A log sequence number: the position of a record in the log. LSNs start at 1, increase by
/// exactly one per record, are never reused and never go backwards across restarts. `Lsn(0)`
/// means "nothing" (for example the durable LSN of an empty log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    pub const ZERO: Lsn = Lsn(0);
    pub const FIRST: Lsn = Lsn(1);
    /// The largest LSN the format allows (2^63 − 1): arithmetic on LSNs read from disk can
    /// then never overflow, and the cap is checked wherever an LSN is decoded.
    pub const MAX: Lsn = Lsn(i64::MAX as u64);

    pub fn get(self) -> u64 {
        self.0
    }
    pub fn next(self) -> Lsn {
        Lsn(self.0 + 1)
    }
}

impl std::fmt::Display for Lsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An inclusive range of LSNs assigned to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LsnRange {
    pub first: Lsn,
    pub last: Lsn,
}

impl LsnRange {
    /// How many LSNs the range holds (at least one).
    pub fn count(&self) -> u64 {
        self.last.0 + 1 - self.first.0
    }
}
