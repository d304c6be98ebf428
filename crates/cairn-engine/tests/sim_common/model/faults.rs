//! Injected I/O faults during flushes and writes, and how the oracle settles the writes
//! that failed.

use cairn_engine::EngineError;
use cairn_io::sim::{FaultKind, OpKind};

use super::super::{Row, scan_rows};
use super::Model;

impl Model {
    /// After a restart, each failed write must be there entirely or not at all.
    pub(super) fn resolve_maybe(&mut self) {
        if self.maybe.is_empty() {
            return;
        }
        let visible: Vec<Vec<Row>> = self
            .colls
            .iter()
            .map(|c| {
                scan_rows(self.db(), c.name, &c.cols, &Default::default())
                    .unwrap_or_else(|e| self.fail(format!("scan of {}: {e}", c.name)))
            })
            .collect();
        let k = self.maybe.len();
        for mask in 0..1u32 << k {
            let matches = (0..self.colls.len()).all(|ci| {
                let mut exp = self.colls[ci].rows.clone();
                for (g, group) in self.maybe.iter().enumerate() {
                    if mask & (1 << g) != 0 {
                        group
                            .iter()
                            .filter(|(c, _)| *c == ci)
                            .for_each(|(_, r)| exp.extend(r));
                    }
                }
                exp.sort_unstable();
                exp == visible[ci]
            });
            if matches {
                let groups = std::mem::take(&mut self.maybe);
                for (g, group) in groups.into_iter().enumerate() {
                    let landed = mask & (1 << g) != 0;
                    self.note(format!(
                        "failed write {g} {}",
                        if landed { "landed" } else { "did not land" }
                    ));
                    self.count(
                        if landed {
                            "failed writes landed"
                        } else {
                            "failed writes lost"
                        },
                        1,
                    );
                    if landed {
                        self.ack(group);
                    }
                }
                return;
            }
        }
        self.fail(format!(
            "after reopen, the rows are not the acknowledged ones plus whole failed writes \
             ({k} failed)"
        ));
    }

    /// Makes call `nth` of `op` fail during a flush. The flush must fail if the fault fired,
    /// scans stay exact; then either a retry succeeds or a crash + reopen loses nothing.
    /// Returns whether the fault fired.
    pub fn faulty_flush(&mut self, op: OpKind, nth: u64, kind: FaultKind, retry: bool) -> bool {
        self.note(format!(
            "flush with {op:?} #{nth} failing ({kind:?}), retry {retry}"
        ));
        let before = self.sim.stats().faults_injected;
        self.sim.fail_after(op, nth, kind);
        let r = self.db().flush();
        self.sim.clear_faults();
        let fired = self.sim.stats().faults_injected > before;
        self.count(
            if fired {
                "flush faults"
            } else {
                "flush faults not hit"
            },
            1,
        );
        match (&r, fired) {
            (Ok(_), false) | (Err(_), true) => {}
            (Ok(_), true) => self.fail("a flush whose I/O failed returned Ok".into()),
            (Err(e), false) => self.fail(format!("flush failed without a fault: {e}")),
        }
        self.check_all("after a failed flush");
        if fired && retry {
            match self.db().flush() {
                Ok(_) => self.check_all("after a flush retried"),
                Err(EngineError::Failed(_)) => self.crash_reopen(None),
                Err(e) => self.fail(format!(
                    "a flush retried after a transient fault failed: {e}"
                )),
            }
        } else if fired {
            self.crash_reopen(None);
        }
        fired
    }

    /// A write while a WAL (or inline flush) write or fsync fails: if it returns an error it
    /// may have landed or not; the crash + reopen that follows decides, atomically.
    pub(super) fn faulty_write(&mut self) {
        let op = *self.rng.pick(&[OpKind::Write, OpKind::SyncData]);
        let nth = self.rng.below(3);
        self.note(format!("next write with {op:?} #{nth} failing"));
        let before = self.sim.stats().faults_injected;
        self.sim.fail_after(op, nth, FaultKind::Eio);
        let lp = self.rng.chance(30);
        let r = self.try_write(lp);
        self.sim.clear_faults();
        let fired = self.sim.stats().faults_injected > before;
        match r {
            Ok(group) => {
                self.count(
                    if fired {
                        "write faults survived"
                    } else {
                        "write faults not hit"
                    },
                    1,
                );
                self.ack(group)
            }
            Err((e, _)) if !fired => self.fail(format!("write failed without a fault: {e}")),
            Err((e, group)) => {
                // Not visible before the restart: a write is applied only once durable.
                self.note(format!("  failed: {e}"));
                self.check_all("after a failed write");
                self.maybe.push(group);
            }
        }
        if fired {
            self.crash_reopen(None);
        }
    }
}
