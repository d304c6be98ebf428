//! Compaction and retention: both replace a collection's manifest with a new version. The
//! new version is durable before anything is deleted, and replaced files are deleted only
//! when the last scan holding the old version lets go, so a crash or a concurrent reader sees
//! the old or the new state, never a mix.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::RecordBatch;

use crate::collection::{Collection, PartFile, Version};
use crate::convert::arrow_schema;
use crate::db::Inner;
use crate::error::Result;
use crate::flush::{persist_manifest, sort_rows, write_file};
use crate::memtable::Memtable;
use crate::scan::read_whole_file;

/// A compacted file holds at most this many rows. This bounds the memory a merge takes
/// (the merged rows are held decoded while the new file is written).
pub const COMPACTION_TARGET_ROWS: u64 = 1 << 20;

/// Merges small files of each time partition into one. `all`: merge any two or more files;
/// otherwise only when a partition has `compaction_min_files` small ones.
pub fn compact(inner: &Inner, coll: &Collection, all: bool) -> Result<()> {
    let _serial = coll.maintenance.lock().unwrap_or_else(|e| e.into_inner());
    let (def, version) = {
        let st = coll.lock();
        if st.dropped {
            return Ok(());
        }
        (st.def.clone(), st.version.clone())
    };
    let min_files = if all {
        2
    } else {
        inner.opts.compaction_min_files.max(2)
    };
    let mut by_partition: BTreeMap<i64, Vec<Arc<PartFile>>> = BTreeMap::new();
    for f in &version.files {
        if f.meta.rows < COMPACTION_TARGET_ROWS {
            by_partition
                .entry(f.meta.partition)
                .or_default()
                .push(f.clone());
        }
    }
    for (partition, small) in by_partition {
        let mut group = Vec::new();
        let mut rows = 0;
        for f in small {
            if rows + f.meta.rows > COMPACTION_TARGET_ROWS && group.len() >= min_files {
                break;
            }
            if rows + f.meta.rows > COMPACTION_TARGET_ROWS {
                group.clear();
                rows = 0;
            }
            rows += f.meta.rows;
            group.push(f);
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
    def: &crate::catalog::CollectionDef,
    partition: i64,
    group: &[Arc<PartFile>],
) -> Result<()> {
    let schema = arrow_schema(&def.schema.columns);
    // In time order, so that files of in-order data concatenate already sorted.
    let mut group = group.to_vec();
    group.sort_by_key(|f| (f.meta.min_ts, f.meta.file_id));
    let group = &group[..];
    let batches = group
        .iter()
        .map(|f| read_whole_file(f, &def.schema.columns))
        .collect::<Result<Vec<RecordBatch>>>()?;
    let batch = sort_rows(Memtable::concat(&batches, &schema)?, def)?;
    let max_lsn = group.iter().map(|f| f.meta.max_lsn).max().unwrap_or(0);
    let file_id = coll.lock().manifest.allocate_file_id();
    let meta = write_file(inner, coll, def, &batch, file_id, partition, max_lsn)?;
    let gone: Vec<u64> = group.iter().map(|f| f.meta.file_id).collect();
    let mut manifest = coll.lock().manifest.clone();
    manifest.files.retain(|f| !gone.contains(&f.file_id));
    manifest.files.push(meta);
    manifest.sequence += 1;
    manifest.sort();
    persist_manifest(inner, coll, &manifest)?;
    let new_file = Arc::new(PartFile::new(
        meta,
        &coll.dir,
        inner.fs.clone(),
        inner.read_options.clone(),
    ));
    let mut st = coll.lock();
    let mut files: Vec<Arc<PartFile>> = st
        .version
        .files
        .iter()
        .filter(|f| !gone.contains(&f.meta.file_id))
        .cloned()
        .collect();
    files.push(new_file);
    files.sort_by_key(|f| (f.meta.partition, f.meta.file_id));
    st.version = Arc::new(Version { files });
    st.manifest = manifest;
    drop(st);
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

/// Drops whole time partitions older than the collection's retention window.
pub fn apply_retention(inner: &Inner, coll: &Collection, now_ns: i64) -> Result<()> {
    let _serial = coll.maintenance.lock().unwrap_or_else(|e| e.into_inner());
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
    let (manifest, freed, dropped_files) = {
        let mut st = coll.lock();
        if st.dropped {
            return Ok(());
        }
        let mut parts: Vec<i64> = st.mem.keys().copied().filter(|&p| expired(p)).collect();
        parts.extend(
            st.frozen
                .iter()
                .map(|f| f.partition)
                .filter(|&p| expired(p)),
        );
        parts.extend(
            st.version
                .files
                .iter()
                .map(|f| f.meta.partition)
                .filter(|&p| expired(p)),
        );
        if parts.is_empty() {
            return Ok(());
        }
        let applied = st.applied_lsn;
        let mut freed = 0usize;
        for p in &parts {
            if let Some(m) = st.mem.remove(p) {
                freed += m.bytes;
            }
        }
        st.frozen.retain(|f| {
            let keep = !expired(f.partition);
            if !keep {
                freed += f.bytes;
            }
            keep
        });
        let mut manifest = st.manifest.clone();
        let dropped_files: Vec<u64> = manifest
            .files
            .iter()
            .filter(|f| expired(f.partition))
            .map(|f| f.file_id)
            .collect();
        manifest.files.retain(|f| !expired(f.partition));
        for p in parts {
            manifest.mark_flushed(p, applied);
        }
        manifest.sequence += 1;
        (manifest, freed, dropped_files)
    };
    inner.add_mem(-(freed as isize));
    persist_manifest(inner, coll, &manifest)?;
    let mut st = coll.lock();
    let (keep, gone): (Vec<_>, Vec<_>) = st
        .version
        .files
        .iter()
        .cloned()
        .partition(|f| !dropped_files.contains(&f.meta.file_id));
    st.version = Arc::new(Version { files: keep });
    st.manifest = manifest;
    drop(st);
    for f in gone {
        f.mark_obsolete();
    }
    Ok(())
}
