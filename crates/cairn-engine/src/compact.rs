//! Compaction and retention: both replace a collection's manifest with a new version. The
//! new version is durable before anything is deleted, and replaced files are deleted only
//! when the last scan holding the old version lets go, so a crash or a concurrent reader sees
//! the old or the new state, never a mix. Both run beside flushes: only the short
//! "new manifest → persist → install" step ([`install`]) is serialised with them.
//!
//! Compaction is size-tiered: a file's tier is how many times `min_files` fits between
//! `TIER_BASE_ROWS` and its row count; `min_files` files of one tier in one time partition
//! merge into one file of the next tier, so every row is rewritten O(log n) times. Files of
//! `SMALL_FILE_ROWS` or more are final (a memtable flush of default size already is). A
//! checkpoint merges every partition's small files regardless of tier, up to
//! `COMPACTION_TARGET_ROWS` per file.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow_array::RecordBatch;

use crate::catalog::CollectionDef;
use crate::collection::{Collection, PartFile};
use crate::convert::arrow_schema;
use crate::db::Inner;
use crate::error::Result;
use crate::flush::{install, sort_rows, write_file};
use crate::memtable::Memtable;
use crate::scan::read_whole_file;

/// A compacted file holds at most this many rows. This bounds the memory a merge takes
/// (the merged rows are held decoded while the new file is written).
pub const COMPACTION_TARGET_ROWS: u64 = 512 << 10;
/// Files with at least this many rows are never merged again.
pub const SMALL_FILE_ROWS: u64 = COMPACTION_TARGET_ROWS / 4;
/// Files below this many rows are tier 0.
const TIER_BASE_ROWS: u64 = 16 << 10;

fn tier(rows: u64, fanout: u64) -> u32 {
    let mut t = 0;
    let mut cap = TIER_BASE_ROWS.saturating_mul(fanout);
    while rows >= cap {
        t += 1;
        cap = cap.saturating_mul(fanout);
    }
    t
}

/// Merges small files of each time partition. `all`: merge every partition's small files
/// (two or more) into as few files as the row target allows; otherwise only groups of
/// `compaction_min_files` files of one tier.
pub fn compact(inner: &Inner, coll: &Collection, all: bool) -> Result<()> {
    let _serial = coll.compact_lock.lock().unwrap_or_else(|e| e.into_inner());
    let (def, version) = {
        let st = coll.lock();
        if st.dropped {
            return Ok(());
        }
        (st.def.clone(), st.version.clone())
    };
    let fanout = inner.opts.compaction_min_files.max(2);
    let mut groups: BTreeMap<(i64, u32), Vec<Arc<PartFile>>> = BTreeMap::new();
    for f in &version.files {
        if f.meta.rows < SMALL_FILE_ROWS {
            let t = if all {
                0
            } else {
                tier(f.meta.rows, fanout as u64)
            };
            groups
                .entry((f.meta.partition, t))
                .or_default()
                .push(f.clone());
        }
    }
    let min_files = if all { 2 } else { fanout };
    for ((partition, _), mut files) in groups {
        files.sort_by_key(|f| (f.meta.min_ts, f.meta.file_id));
        let mut group: Vec<Arc<PartFile>> = Vec::new();
        let mut rows = 0;
        for f in files {
            if rows + f.meta.rows > COMPACTION_TARGET_ROWS {
                if group.len() >= min_files {
                    merge(inner, coll, &def, partition, &group)?;
                }
                group.clear();
                rows = 0;
            }
            rows += f.meta.rows;
            group.push(f);
            if !all && group.len() == min_files {
                merge(inner, coll, &def, partition, &group)?;
                group.clear();
                rows = 0;
            }
        }
        if group.len() >= min_files {
            merge(inner, coll, &def, partition, &group)?;
        }
    }
    Ok(())
}

fn merge(
    inner: &Inner,
    coll: &Collection,
    def: &CollectionDef,
    partition: i64,
    group: &[Arc<PartFile>],
) -> Result<()> {
    let schema = arrow_schema(&def.schema.columns);
    // In time order, so that files of in-order data concatenate already sorted.
    let batches = group
        .iter()
        .map(|f| read_whole_file(f, &def.schema.columns))
        .collect::<Result<Vec<RecordBatch>>>()?;
    let batch = sort_rows(Memtable::concat(&batches, &schema)?, def)?;
    drop(batches);
    let max_lsn = group.iter().map(|f| f.meta.max_lsn).max().unwrap_or(0);
    let file_id = coll.allocate_file_id();
    let meta = write_file(inner, coll, def, &batch, file_id, partition, max_lsn)?;
    drop(batch);
    let gone: Vec<u64> = group.iter().map(|f| f.meta.file_id).collect();
    let new_file = PartFile::of(inner, coll, meta);
    install(
        inner,
        coll,
        |m| {
            m.files.retain(|f| !gone.contains(&f.file_id));
            m.files.push(meta);
        },
        |files, _| {
            files.retain(|f| !gone.contains(&f.meta.file_id));
            files.push(new_file.clone());
        },
    )?;
    inner.compactions.fetch_add(1, Ordering::Relaxed);
    for f in group {
        f.mark_obsolete();
    }
    tracing::debug!(
        collection = coll.id,
        partition,
        files = group.len(),
        rows = meta.rows,
        "compacted"
    );
    Ok(())
}

/// Drops whole time partitions older than the collection's retention window: their
/// memtables and files. (A memtable being flushed at that moment lands in a file that the
/// next round drops.)
pub fn apply_retention(inner: &Inner, coll: &Collection, now_ns: i64) -> Result<()> {
    let _serial = coll.compact_lock.lock().unwrap_or_else(|e| e.into_inner());
    let (cutoff, interval) = {
        let st = coll.lock();
        let Some(keep) = st.def.options.retention_ns else {
            return Ok(());
        };
        (
            now_ns.saturating_sub(keep),
            st.def.options.partition_interval_ns,
        )
    };
    let expired = |p: i64| p.saturating_add(interval) <= cutoff;
    let (parts, applied) = {
        let st = coll.lock();
        if st.dropped {
            return Ok(());
        }
        let mut parts: Vec<i64> = st.mem.keys().copied().filter(|&p| expired(p)).collect();
        parts.extend(
            st.version
                .files
                .iter()
                .map(|f| f.meta.partition)
                .filter(|&p| expired(p)),
        );
        parts.sort_unstable();
        parts.dedup();
        (parts, st.applied_lsn)
    };
    if parts.is_empty() {
        return Ok(());
    }
    // The manifest will claim every row of these partitions up to `applied`: that must
    // be in the log first (it is, unless writes are non-durable).
    inner.wal.wait_durable(cairn_wal::Lsn(applied))?;
    let mut gone = Vec::new();
    let mut freed = 0usize;
    install(
        inner,
        coll,
        |m| {
            m.files.retain(|f| !expired(f.partition));
            for &p in &parts {
                m.mark_flushed(p, applied);
            }
        },
        |files, st| {
            let (keep, drop): (Vec<_>, Vec<_>) =
                files.drain(..).partition(|f| !expired(f.meta.partition));
            *files = keep;
            gone = drop;
            for p in &parts {
                if let Some(m) = st.mem.remove(p) {
                    freed += m.bytes;
                }
            }
        },
    )?;
    inner.add_mem(-(freed as isize));
    for f in gone {
        f.mark_obsolete();
    }
    Ok(())
}
