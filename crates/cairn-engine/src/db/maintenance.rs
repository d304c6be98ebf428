//! Flushing by size, age and memory pressure; WAL truncation; compaction and retention; and
//! the background thread that runs them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use cairn_wal::Lsn;

use super::{FlushReport, Inner};
use crate::catalog::CollectionOptions;
use crate::collection::Collection;
use crate::error::{EngineError, Result};
use crate::flush::flush_partition;

impl Inner {
    /// Flushes every memtable for which `pick(collection, memtable)` holds, then truncates
    /// the WAL.
    pub(crate) fn flush_all(
        &self,
        pick: impl Fn(&CollectionOptions, &crate::memtable::Memtable) -> bool,
    ) -> Result<FlushReport> {
        let mut report = FlushReport::default();
        for c in self.all_collections() {
            let (parts, leftovers): (Vec<i64>, bool) = {
                let st = c.lock();
                (
                    st.mem
                        .values()
                        .filter(|m| pick(&st.def.options, m))
                        .map(|m| m.partition)
                        .collect(),
                    !st.frozen.is_empty(),
                )
            };
            if leftovers {
                let (rows, bytes) = self.guard(flush_partition(self, &c, None))?;
                report.rows_flushed += rows;
                report.bytes_written += bytes;
            }
            for p in parts {
                let (rows, bytes) = self.guard(flush_partition(self, &c, Some(p)))?;
                if rows > 0 {
                    report.files_written += 1;
                }
                report.rows_flushed += rows;
                report.bytes_written += bytes;
            }
        }
        report.wal_segments_deleted = self.truncate_wal()?;
        Ok(report)
    }

    /// Logs a maintenance failure; the data stays in memory and in the WAL and the flush is
    /// retried later.
    fn guard<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            tracing::error!(error = %e, "flush failed; the rows stay in memory and in the WAL");
        }
        r
    }

    /// Flushes memtables over their collection's size or age limit.
    pub(crate) fn flush_over_limit(&self) -> Result<()> {
        self.flush_all(|o, m| {
            m.bytes as u64 > o.memtable_max_bytes
                || m.created.elapsed() >= Duration::from_millis(o.memtable_max_age_ms)
        })
        .map(|_| ())
    }

    /// Flushes the single largest memtable; false if there is none. `truncate`: then
    /// truncate the WAL (not during recovery, which is still reading it).
    pub(crate) fn flush_largest(&self, truncate: bool) -> Result<bool> {
        let mut best: Option<(usize, Arc<Collection>, i64)> = None;
        for c in self.all_collections() {
            let st = c.lock();
            for m in st.mem.values() {
                if best.as_ref().is_none_or(|(b, _, _)| m.bytes > *b) {
                    best = Some((m.bytes, c.clone(), m.partition));
                }
            }
        }
        let Some((_, c, p)) = best else {
            return Ok(false);
        };
        self.guard(flush_partition(self, &c, Some(p)))?;
        if truncate {
            self.truncate_wal()?;
        }
        Ok(true)
    }

    /// Deletes WAL segments that only hold records every collection has in files.
    pub(crate) fn truncate_wal(&self) -> Result<usize> {
        // Read the next LSN first: a record appended after this is above it; one appended
        // before is either still needed by its collection (seen below) or already in files.
        let _catalog = self.catalog();
        let mut bound = self.wal.next_lsn().0;
        for c in self.all_collections() {
            if let Some(n) = c.lock().needed_lsn() {
                bound = bound.min(n);
            }
        }
        let r = self.wal.truncate_before(Lsn(bound))?;
        Ok(r.segments_deleted)
    }

    /// Flushes by size, age and memory pressure.
    pub(crate) fn flush_round(&self) -> Result<()> {
        self.flush_over_limit()?;
        while self.mem_used.load(Ordering::Acquire) > self.opts.memory_budget_bytes as i64 / 2 {
            if !self.flush_largest(true)? {
                break;
            }
        }
        Ok(())
    }

    /// Retention, then compaction (`compact_all`: every partition's small files).
    pub(crate) fn compact_round(&self, compact_all: bool) -> Result<()> {
        let now = self.opts.clock.now_ns();
        for c in self.all_collections() {
            self.guard(crate::compact::apply_retention(self, &c, now))?;
            self.guard(crate::compact::compact(self, &c, compact_all))?;
        }
        Ok(())
    }

    /// Everything, now: flush by limits, retention, compaction.
    pub(crate) fn maintain(&self, compact_all: bool) -> Result<()> {
        self.flush_round()?;
        self.compact_round(compact_all)
    }
}

/// Starts the background threads: one flushes (woken by writers and on a timer), one runs
/// retention and compaction on a timer, so a long merge never delays a flush.
pub(super) fn spawn(inner: Arc<Inner>) -> Result<Vec<JoinHandle<()>>> {
    let start = |name: &str, inner: Arc<Inner>, compact: bool| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(&inner, compact))
            .map_err(|e| {
                EngineError::io("start a background thread", &std::path::PathBuf::new(), e)
            })
    };
    Ok(vec![
        start("cairn-flush", inner.clone(), false)?,
        start("cairn-compact", inner, true)?,
    ])
}

fn run(inner: &Inner, compact: bool) {
    crate::flush::encode_on_this_thread_only();
    let interval = inner.opts.maintenance_interval;
    loop {
        if compact {
            let g = inner.wake.0.lock().unwrap_or_else(|e| e.into_inner());
            if !inner.closed.load(Ordering::Acquire) {
                // Woken early only at shutdown (notify_all), otherwise on the timer.
                let _unused = inner
                    .wake
                    .1
                    .wait_timeout(g, interval * 5)
                    .unwrap_or_else(|e| e.into_inner());
            }
        } else {
            let mut woken = inner.wake.0.lock().unwrap_or_else(|e| e.into_inner());
            if !*woken {
                woken = inner
                    .wake
                    .1
                    .wait_timeout(woken, interval)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            *woken = false;
        }
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        if inner.failure().is_some() {
            continue;
        }
        let round = if compact {
            inner.compact_round(false)
        } else {
            inner.flush_round()
        };
        if let Err(e) = round {
            tracing::warn!(error = %e, "background round failed; retrying later");
            std::thread::sleep(interval);
        }
    }
}
