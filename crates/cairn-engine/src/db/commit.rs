//! The write path: validated batches are logged (one or more records per collection, with
//! consecutive LSNs for the whole write), queued under each collection's lock in LSN order,
//! made durable by group commit, then applied to memtables in queue order.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow_array::RecordBatch;
use cairn_storage::{ColumnRole, ColumnSpec};
use cairn_wal::Record;

use super::{Db, FLAG_CONTINUED, Inner, REC_WRITE};
use crate::batch_codec;
use crate::collection::{Collection, Pending};
use crate::error::{EngineError, Result};
use crate::write::{Prepared, column_type_for, prepare, split};

/// Target size of one WAL record; larger writes are logged as several records of one group.
const RECORD_TARGET_BYTES: usize = 8 << 20;

impl Db {
    /// Writes `batch` to `collection` (`name` or `db.name`) and returns once it is durable
    /// (see [`crate::DbOptions::durable_writes`]). Columns are matched by name and converted
    /// to the declared types; a missing or null TIME_KEY is set to the current time. Columns
    /// the collection lacks are added as fields when its options allow it. The write is
    /// atomic: after a crash it is there entirely or not at all.
    pub fn write(&self, collection: &str, batch: &RecordBatch) -> Result<u64> {
        self.inner.check_open()?;
        let c = self.inner.find(collection)?;
        self.inner.add_missing_columns(&c, batch)?;
        let def = c.lock().def.clone();
        let prepared = prepare(&def, batch, self.inner.opts.clock.now_ns())?;
        self.inner.commit(vec![(c, prepared)])
    }
}

impl Inner {
    /// Adds the columns of `batch` the collection lacks (as nullable fields), if allowed.
    fn add_missing_columns(&self, c: &Arc<Collection>, batch: &RecordBatch) -> Result<()> {
        let def = c.lock().def.clone();
        let mut new = Vec::new();
        for f in batch.schema().fields() {
            if def.schema.index_of(f.name()).is_some() {
                continue;
            }
            if !def.options.allow_new_columns {
                return Err(EngineError::InvalidWrite(format!(
                    "collection {:?} has no column {:?} (and does not allow new columns)",
                    def.name,
                    f.name()
                )));
            }
            let t = column_type_for(f.data_type()).ok_or_else(|| {
                EngineError::InvalidWrite(format!(
                    "column {:?}: Arrow type {} has no cairn column type",
                    f.name(),
                    f.data_type()
                ))
            })?;
            new.push(ColumnSpec::new(f.name().clone(), t, ColumnRole::Field));
        }
        if new.is_empty() {
            return Ok(());
        }
        let id = c.id;
        self.ddl(|cat| {
            // Another writer may have added some of them meanwhile.
            let existing = cat
                .collections
                .get(&id)
                .ok_or_else(|| EngineError::NoSuchCollection(def.name.clone()))?;
            let columns: Vec<ColumnSpec> = new
                .iter()
                .filter(|n| existing.schema.index_of(&n.name).is_none())
                .cloned()
                .collect();
            Ok(crate::catalog::DdlOp::AddColumns { id, columns })
        })
    }

    /// Waits while memtables hold more than the budget. With a background thread the wait
    /// is for its flushes; without one the writer flushes the largest memtable itself.
    fn wait_for_memory(&self) -> Result<()> {
        let budget = self.opts.memory_budget_bytes as i64;
        while self.mem_used.load(Ordering::Acquire) > budget {
            self.check_open()?;
            if self.opts.background {
                self.wake_maintenance();
                let g = self.mem_changed.0.lock().unwrap_or_else(|e| e.into_inner());
                let _unused = self
                    .mem_changed
                    .1
                    .wait_timeout(g, Duration::from_millis(20))
                    .unwrap_or_else(|e| e.into_inner());
            } else if !self.flush_largest(true)? {
                break;
            }
        }
        Ok(())
    }

    /// Logs and applies validated writes as one atomic group. Returns rows written.
    pub(crate) fn commit(&self, writes: Vec<(Arc<Collection>, Prepared)>) -> Result<u64> {
        let mut writes: Vec<_> = writes
            .into_iter()
            .filter(|(_, p)| p.batch.num_rows() > 0)
            .collect();
        if writes.is_empty() {
            return Ok(0);
        }
        writes.sort_by_key(|(c, _)| c.id);
        self.wait_for_memory()?;
        // Encode records and split rows by partition before taking any lock.
        let mut encoded: Vec<Vec<(Vec<u8>, u16)>> = Vec::with_capacity(writes.len());
        let mut parts = Vec::with_capacity(writes.len());
        let mut rows = 0u64;
        for (c, p) in &writes {
            let (tk, interval) = {
                let st = c.lock();
                let tk = p
                    .batch
                    .schema()
                    .index_of(st.def.time_key_name())
                    .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
                (tk, st.def.options.partition_interval_ns)
            };
            parts.push(split(&p.batch, tk, interval)?);
            encoded.push(encode_records(c.id, p, self.opts.compress_wal)?);
            rows += p.batch.num_rows() as u64;
        }
        let total: usize = encoded.iter().map(Vec::len).sum();
        let mut records = Vec::with_capacity(total);
        for payloads in &encoded {
            for (payload, packed) in payloads {
                let flags = if records.len() + 1 < total {
                    FLAG_CONTINUED | packed
                } else {
                    *packed
                };
                records.push(Record {
                    flags,
                    ..Record::new(REC_WRITE, payload)
                });
            }
        }
        let range = {
            let mut guards = Vec::with_capacity(writes.len());
            for (c, _) in &writes {
                let g = c.lock();
                if g.dropped {
                    return Err(EngineError::NoSuchCollection(g.def.name.clone()));
                }
                guards.push(g);
            }
            let range = self.wal.append_batch(&records).inspect_err(|e| {
                if matches!(e, cairn_wal::WalError::Poisoned(_)) {
                    self.fail(e.to_string());
                }
            })?;
            let mut lsn = range.first.0;
            for ((g, payloads), parts) in guards.iter_mut().zip(&encoded).zip(parts) {
                let first = lsn;
                lsn += payloads.len() as u64;
                g.pending.push_back(Pending {
                    first_lsn: first,
                    last_lsn: lsn - 1,
                    group_end: range.last.0,
                    parts,
                });
            }
            range
        };
        let threshold = if self.opts.durable_writes {
            if let Err(e) = self.wal.wait_durable(range.last) {
                self.fail(format!("making a write durable: {e}"));
                return Err(e.into());
            }
            self.wal.durable_lsn().0
        } else {
            u64::MAX
        };
        let mut over = false;
        for (c, _) in &writes {
            let mut st = c.lock();
            let delta = st.apply_ready(threshold)?;
            over |= st
                .mem
                .values()
                .any(|m| m.bytes as u64 > st.def.options.memtable_max_bytes);
            drop(st);
            self.add_mem(delta);
        }
        self.rows_written.fetch_add(rows, Ordering::Relaxed);
        if over || self.mem_used.load(Ordering::Acquire) > self.opts.memory_budget_bytes as i64 {
            if self.opts.background {
                self.wake_maintenance();
            } else if let Err(e) = self.flush_over_limit() {
                // The write is durable and applied: an error now would make the caller retry
                // it and write its rows twice. The rows stay in memory and in the WAL, and the
                // flush is retried later.
                tracing::warn!(error = %e, "a flush after a write failed; retried later");
            }
        }
        Ok(rows)
    }
}

/// The WAL payloads of one prepared write: one record, or several of at most about
/// `RECORD_TARGET_BYTES` each.
fn encode_records(collection_id: u64, p: &Prepared, compress: bool) -> Result<Vec<(Vec<u8>, u16)>> {
    let rows = p.batch.num_rows();
    let len = batch_codec::encoded_len(&p.batch, &p.types);
    let chunks = len.div_ceil(RECORD_TARGET_BYTES).max(1);
    let per = rows.div_ceil(chunks).max(1);
    let mut out = Vec::with_capacity(chunks);
    let mut start = 0;
    while start < rows {
        let n = per.min(rows - start);
        let slice = p.batch.slice(start, n);
        let mut buf = Vec::with_capacity(len / chunks + 1024);
        batch_codec::encode(collection_id, &slice, &p.types, &mut buf)
            .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
        out.push(crate::payload::pack(buf, compress));
        start += n;
    }
    Ok(out)
}
