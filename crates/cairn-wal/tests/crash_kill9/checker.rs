//! Checks each recovered log against everything acknowledged so far.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) cycles: u64,
    pub(crate) acknowledged: u64,
    pub(crate) lost: u64,
    pub(crate) corrupt: u64,
    pub(crate) duplicated: u64,
    pub(crate) inflight_survivors: u64,
    /// Ordering problems: LSNs not dense or going backwards, holes in a thread's sequence.
    pub(crate) disorder: u64,
    pub(crate) torn_tails: u64,
    pub(crate) truncations: u64,
    pub(crate) cycles_without_acks: u64,
    /// Cycles whose kill came before the child had the WAL open.
    pub(crate) killed_in_recovery: u64,
}

/// What the parent knows about the log between cycles.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    /// Records that must be in the log (acknowledged, or returned by an earlier recovery
    /// and therefore durable since), by LSN, from the first retained LSN on.
    pub(crate) known: BTreeMap<u64, Id>,
    /// The highest truncation point any child announced.
    pub(crate) bound: u64,
    /// The highest LSN ever acknowledged or recovered.
    pub(crate) max_lsn: u64,
    /// `next_lsn` of the previous recovery.
    pub(crate) next_lsn: u64,
    /// The I/O path the first recovery chose (the child's is the same).
    pub(crate) io_path: Option<IoPath>,
    pub(crate) totals: Totals,
}

impl Checker {
    /// Checks one child's output and the log it left behind; returns the problems found.
    pub(crate) fn check_cycle(
        &mut self,
        dir: &Path,
        cycle: u32,
        acks: &[Ack],
        truncations: &[u64],
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let t = &mut self.totals;
        t.cycles += 1;
        t.acknowledged += acks.len() as u64;
        t.truncations += truncations.len() as u64;
        if acks.is_empty() {
            t.cycles_without_acks += 1;
        }

        // The child's own view: fresh LSNs, per-thread sequences 0, 1, 2, … in LSN order.
        let max_before = self.max_lsn;
        let mut next_seq = [0u64; THREADS as usize];
        let mut last_lsn_of = [0u64; THREADS as usize];
        for ack in acks {
            let id = Id {
                cycle,
                thread: ack.thread,
                seq: ack.seq,
            };
            if ack.thread >= THREADS {
                problems.push(format!(
                    "child acknowledged LSN {} for thread {}",
                    ack.lsn, ack.thread
                ));
                continue;
            }
            let th = ack.thread as usize;
            if ack.lsn <= max_before {
                t.disorder += 1;
                problems.push(format!(
                    "LSN went backwards: {id} acknowledged at LSN {} but LSN {max_before} was already used",
                    ack.lsn
                ));
            }
            if ack.seq != next_seq[th] || ack.lsn <= last_lsn_of[th] {
                t.disorder += 1;
                problems.push(format!(
                    "child acknowledged {id} at LSN {} out of order (expected seq {}, after LSN {})",
                    ack.lsn, next_seq[th], last_lsn_of[th]
                ));
            }
            next_seq[th] = ack.seq + 1;
            last_lsn_of[th] = ack.lsn;
            if let Some(other) = self.known.insert(ack.lsn, id)
                && other != id
            {
                t.duplicated += 1;
                problems.push(format!(
                    "LSN {} acknowledged for {id} was already taken by {other}",
                    ack.lsn
                ));
            }
            self.max_lsn = self.max_lsn.max(ack.lsn);
        }
        if let Some(&max) = truncations.iter().max() {
            self.bound = self.bound.max(max);
        }

        // Recover in this process, strictly.
        let wal = match Wal::open(dir, WalOptions::default()) {
            Ok(wal) => wal,
            Err(e) => {
                t.corrupt += 1;
                problems.push(format!("recovery (strict open) failed: {e}"));
                return problems;
            }
        };
        if wal.recovery_report().torn_tail.is_some() {
            t.torn_tails += 1;
        }
        self.io_path.get_or_insert(wal.io_path());
        let segments = wal.segments().expect("list segments");
        let first_retained = segments.first().map_or(1, |s| s.first_lsn.0);
        let next_lsn = wal.next_lsn().0;
        if next_lsn < self.next_lsn {
            t.disorder += 1;
            problems.push(format!(
                "next LSN went backwards: {next_lsn} after {}",
                self.next_lsn
            ));
        }
        if first_retained > self.bound.max(1) {
            problems.push(format!(
                "the first retained LSN is {first_retained}, but no truncation point above {} was announced",
                self.bound
            ));
        }
        // Everything known from here on must be present.
        let must_have_from = first_retained.min(self.bound.max(1));

        let mut recovered: BTreeMap<u64, Id> = BTreeMap::new();
        let mut seen: HashSet<Id> = HashSet::new();
        let mut last_seq: HashMap<(u32, u32), u64> = HashMap::new();
        let mut expected_lsn = first_retained;
        let replay = match wal.replay(Lsn(1)) {
            Ok(r) => r,
            Err(e) => {
                t.corrupt += 1;
                problems.push(format!("replay failed to start: {e}"));
                return problems;
            }
        };
        for item in replay {
            let record = match item {
                Ok(r) => r,
                Err(e) => {
                    t.corrupt += 1;
                    problems.push(format!("replay failed after LSN {}: {e}", expected_lsn - 1));
                    break;
                }
            };
            let lsn = record.lsn.0;
            if lsn != expected_lsn {
                t.disorder += 1;
                problems.push(format!(
                    "replay returned LSN {lsn} where {expected_lsn} was expected"
                ));
            }
            expected_lsn = lsn + 1;
            let id = match decode_payload(&record.payload) {
                Ok(id) => id,
                Err(e) => {
                    t.corrupt += 1;
                    problems.push(format!("corrupt record at LSN {lsn}: {e}"));
                    continue;
                }
            };
            if record.record_type != RECORD_TYPE
                || record.flags != 0
                || record.tenant_id != u64::from(id.thread)
                || record.database_id != 0
            {
                t.corrupt += 1;
                problems.push(format!(
                    "corrupt header at LSN {lsn} for {id}: type {}, flags {}, tenant {}, database {}",
                    record.record_type, record.flags, record.tenant_id, record.database_id
                ));
            }
            if !seen.insert(id) {
                t.duplicated += 1;
                problems.push(format!("{id} appears twice (again at LSN {lsn})"));
            }
            let chain = (id.cycle, id.thread);
            if let Some(&prev) = last_seq.get(&chain)
                && id.seq != prev + 1
            {
                t.disorder += 1;
                problems.push(format!(
                    "hole or reordering in a thread's sequence: {id} at LSN {lsn} follows seq {prev}"
                ));
            }
            last_seq.insert(chain, id.seq);
            match self.known.get(&lsn) {
                Some(&want) if want == id => {}
                Some(&want) => {
                    t.lost += 1;
                    problems.push(format!("LSN {lsn} holds {id} instead of {want}"));
                }
                None if id.cycle == cycle => t.inflight_survivors += 1,
                None => {
                    t.corrupt += 1;
                    problems.push(format!(
                        "LSN {lsn} holds {id}, which an earlier recovery did not have"
                    ));
                }
            }
            recovered.insert(lsn, id);
        }
        if recovered.is_empty() {
            if first_retained != next_lsn {
                t.disorder += 1;
                problems.push(format!(
                    "no records, but the first retained LSN is {first_retained} and the next LSN {next_lsn}"
                ));
            }
        } else if expected_lsn != next_lsn {
            t.disorder += 1;
            problems.push(format!(
                "replay ended before LSN {expected_lsn} but the next LSN is {next_lsn}"
            ));
        }
        for (&lsn, &id) in self.known.range(must_have_from..) {
            if !recovered.contains_key(&lsn) {
                t.lost += 1;
                problems.push(format!("lost: {id} at LSN {lsn}"));
            }
        }
        if let Err(e) = wal.close() {
            problems.push(format!("closing the recovered WAL: {e}"));
        }

        // Everything recovered is durable now: later recoveries must return it too.
        self.known = recovered;
        self.max_lsn = self.max_lsn.max(next_lsn - 1);
        self.next_lsn = next_lsn;
        problems
    }
}
