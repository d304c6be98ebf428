//! What the client knows about every batch it sent to one data directory, and the check of a
//! restarted server's answers against it.
//!
//! A batch is one line-protocol request, written by the engine as one atomic group, so after a
//! crash it is there entirely or not at all:
//! - acknowledged (204): present with exactly its rows (else lost or duplicated);
//! - sent, not acknowledged: absent or complete; once a restart has decided (present or
//!   absent) it stays so after every later crash;
//! - no batch the client never sent, no row twice, every row's ts and v those of its id.

use std::collections::BTreeMap;

use serde_json::Value;

use super::client::value_of;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Sent, no answer yet (in flight at the kill, or unanswered).
    Sent,
    Acked,
    /// Not acknowledged, found complete after a restart: must stay so.
    Kept,
    /// Not acknowledged, found absent after a restart: must stay absent.
    Gone,
}

#[derive(Debug, Clone)]
struct Batch {
    rows: u64,
    sum_id: i64,
    sum_v: f64,
    state: State,
}

/// One batch as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Found {
    rows: u64,
    sum_id: i64,
    sum_v: f64,
    distinct_ids: u64,
}

/// Counts over the whole run (every data directory).
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub cycles: u64,
    pub acked_batches: u64,
    pub acked_rows: u64,
    /// Rows of acknowledged batches missing after a restart.
    pub lost: u64,
    /// Rows present more often than they were sent.
    pub duplicated: u64,
    /// Unacknowledged batches decided so far, and those of them found present.
    pub unacked: u64,
    pub unacked_present: u64,
}

/// The batches sent to one data directory.
#[derive(Debug)]
pub struct Ledger {
    batches: BTreeMap<i64, Batch>,
    next_batch: i64,
    next_id: i64,
    /// What went wrong, in words, since the last check.
    anomalies: Vec<String>,
}

impl Ledger {
    /// Batch numbers and ids start at `first` (unique over the run, not only this directory).
    pub fn new(first: i64) -> Ledger {
        Ledger {
            batches: BTreeMap::new(),
            next_batch: first,
            next_id: first,
            anomalies: Vec::new(),
        }
    }

    /// The next batch number and ids, for a batch about to be sent.
    pub fn begin(&mut self, rows: u64) -> (i64, i64) {
        let (batch, first_id) = (self.next_batch, self.next_id);
        self.next_batch += 1;
        self.next_id += rows as i64;
        let ids = first_id..first_id + rows as i64;
        self.batches.insert(
            batch,
            Batch {
                rows,
                sum_id: ids.clone().sum(),
                sum_v: ids.map(value_of).sum(),
                state: State::Sent,
            },
        );
        (batch, first_id)
    }

    pub fn ack(&mut self, batch: i64) {
        if let Some(b) = self.batches.get_mut(&batch) {
            b.state = State::Acked;
        }
    }

    pub fn anomaly(&mut self, what: String) {
        self.anomalies.push(what);
    }

    /// Past the last batch number and id handed out (the next directory starts there).
    pub fn next_free(&self) -> i64 {
        self.next_batch.max(self.next_id)
    }

    /// The anomalies found so far (empty: all is well).
    pub fn anomalies(&self) -> &[String] {
        &self.anomalies
    }

    /// Checks a restarted server's answers: `per_batch` is the rows of
    /// `SELECT batch, count(*), sum(id), sum(v), count(DISTINCT id) ... GROUP BY batch`,
    /// `total` and `distinct` the table's count(*) and count(DISTINCT id), `bogus` the rows
    /// whose ts or v is not their id's. Decides the unacknowledged batches.
    pub fn check(
        &mut self,
        per_batch: &[Value],
        total: u64,
        distinct: u64,
        bogus: u64,
        t: &mut Totals,
    ) {
        let mut found = BTreeMap::new();
        for row in per_batch {
            match parse_row(row) {
                Some((b, f)) => {
                    if found.insert(b, f).is_some() {
                        self.anomaly(format!("batch {b} reported twice by GROUP BY: {row}"));
                    }
                }
                None => self.anomaly(format!("unreadable GROUP BY row {row}")),
            }
        }
        let mut expected_total = 0;
        for (&b, batch) in &mut self.batches {
            let f = found.remove(&b);
            if let Some(msg) = check_batch(b, batch, f, t) {
                self.anomalies.push(msg);
            }
            if matches!(batch.state, State::Acked | State::Kept) {
                expected_total += batch.rows;
            }
        }
        for (b, f) in found {
            t.duplicated += f.rows;
            self.anomaly(format!("batch {b} was never sent, yet is present: {f:?}"));
        }
        if total != expected_total {
            self.anomaly(format!(
                "count(*) is {total}, the batches present hold {expected_total} rows"
            ));
        }
        if distinct != total {
            self.anomaly(format!("count(DISTINCT id) {distinct} != count(*) {total}"));
        }
        if bogus != 0 {
            self.anomaly(format!(
                "{bogus} rows have a ts, v or writer not their id's"
            ));
        }
    }

    /// Rows of the batches present after the last check.
    pub fn rows_present(&self) -> u64 {
        let present = self.batches.values();
        let present = present.filter(|b| matches!(b.state, State::Acked | State::Kept));
        present.map(|b| b.rows).sum()
    }

    /// Acknowledged batches and their rows.
    pub fn acked(&self) -> (u64, u64) {
        let acked = self.batches.values().filter(|b| b.state == State::Acked);
        acked.fold((0, 0), |(n, rows), b| (n + 1, rows + b.rows))
    }
}

/// One batch against what the server has; returns what is wrong, if anything.
fn check_batch(b: i64, batch: &mut Batch, f: Option<Found>, t: &mut Totals) -> Option<String> {
    let complete = f.is_some_and(|f| {
        f.rows == batch.rows
            && f.distinct_ids == batch.rows
            && f.sum_id == batch.sum_id
            && f.sum_v == batch.sum_v
    });
    match (batch.state, f) {
        (State::Acked | State::Kept, None) => {
            if batch.state == State::Acked {
                t.lost += batch.rows;
            }
            Some(format!(
                "batch {b} ({:?}, {} rows) is absent",
                batch.state, batch.rows
            ))
        }
        (_, Some(_)) if complete => match batch.state {
            State::Sent => {
                batch.state = State::Kept;
                t.unacked += 1;
                t.unacked_present += 1;
                None
            }
            State::Gone => Some(format!("batch {b} was absent, now it is back: {f:?}")),
            State::Acked | State::Kept => None,
        },
        (State::Sent, None) => {
            batch.state = State::Gone;
            t.unacked += 1;
            None
        }
        (State::Gone, None) => None,
        (state, Some(f)) => {
            // Present but not exactly as sent.
            if state == State::Acked {
                t.lost += batch.rows.saturating_sub(f.distinct_ids);
            }
            t.duplicated +=
                f.rows.saturating_sub(f.distinct_ids) + f.distinct_ids.saturating_sub(batch.rows);
            Some(format!(
                "batch {b} ({state:?}) sent {} rows (sum id {}, sum v {}), found {f:?}",
                batch.rows, batch.sum_id, batch.sum_v
            ))
        }
    }
}

/// `[batch, count, sum(id), sum(v), count(DISTINCT id)]`.
fn parse_row(row: &Value) -> Option<(i64, Found)> {
    let r = row.as_array()?;
    Some((
        r.first()?.as_i64()?,
        Found {
            rows: r.get(1)?.as_u64()?,
            sum_id: r.get(2)?.as_i64()?,
            sum_v: r.get(3)?.as_f64()?,
            distinct_ids: r.get(4)?.as_u64()?,
        },
    ))
}
