//! Flush: a memtable is frozen (still visible to scans), sorted, encoded into a partition
//! file (written to a temporary name, fsynced, renamed, directory fsynced), and then recorded
//! in a new manifest together with the LSN it covers. Only then is it dropped from memory.
//! Flushes of one collection are serialised and frozen memtables are written oldest first,
//! so a partition's recorded LSN never passes rows that are not yet in files.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_ord::sort::{SortColumn, lexsort_to_indices, sort_to_indices};
use cairn_storage::{ColumnRole, PartitionInfo, WriteOptions, write_partition};

use crate::catalog::{CollectionDef, SortOrder};
use crate::collection::{Collection, Frozen, PartFile, Version};
use crate::convert::{InputBuffers, arrow_schema};
use crate::db::Inner;
use crate::error::{EngineError, Result};
use crate::files;
use crate::manifest::{FileMeta, Manifest};
use crate::memtable::Memtable;

/// Rows of `batch` in the collection's sort order (no copy when already in order).
pub fn sort_rows(batch: RecordBatch, def: &CollectionDef) -> Result<RecordBatch> {
    let tk = batch
        .schema()
        .index_of(def.time_key_name())
        .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
    let ts = batch.column(tk).clone();
    let err = |e: arrow_schema::ArrowError| EngineError::InvalidWrite(e.to_string());
    let indices = match def.options.sort {
        SortOrder::Time => {
            let v = ts.as_primitive::<TimestampNanosecondType>().values();
            if v.windows(2).all(|w| w[0] <= w[1]) {
                return Ok(batch);
            }
            sort_to_indices(&ts, None, None).map_err(err)?
        }
        SortOrder::TagsThenTime => {
            let mut keys: Vec<SortColumn> = def
                .schema
                .columns
                .iter()
                .filter(|c| c.role == ColumnRole::Tag)
                .filter_map(|c| batch.column_by_name(&c.name))
                .map(|a: &ArrayRef| SortColumn {
                    values: a.clone(),
                    options: None,
                })
                .collect();
            keys.push(SortColumn {
                values: ts,
                options: None,
            });
            lexsort_to_indices(&keys, None).map_err(err)?
        }
    };
    arrow_select::take::take_record_batch(&batch, &indices).map_err(err)
}

thread_local! {
    /// Column-encoding threads for files written by this thread (None: the options').
    static ENCODE_THREADS: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Files this thread writes encode their columns one at a time. The background flush and
/// compaction threads call it: they run beside writers, which need the other cores. Recovery,
/// `flush`, `close` and `checkpoint` encode columns in parallel (`partition.threads`).
pub fn encode_on_this_thread_only() {
    ENCODE_THREADS.with(|t| t.set(Some(1)));
}

/// Writes `batch` (all columns of `def`, sorted) as partition file `file_id` of `coll`.
pub fn write_file(
    inner: &Inner,
    coll: &Collection,
    def: &CollectionDef,
    batch: &RecordBatch,
    file_id: u64,
    partition: i64,
    max_lsn: u64,
) -> Result<FileMeta> {
    inner
        .fs
        .create_dir_all(&coll.dir)
        .map_err(|e| EngineError::io("create collection directory", &coll.dir, e))?;
    let path = coll.dir.join(files::partition_file_name(file_id));
    let buffers = InputBuffers::new(&def.schema.columns, batch.columns());
    let inputs = buffers.inputs()?;
    let opts = WriteOptions {
        keys: inner.opts.wal.key_ring.clone(),
        threads: ENCODE_THREADS
            .with(std::cell::Cell::get)
            .unwrap_or(inner.opts.partition.threads),
        ..inner.opts.partition.clone()
    };
    let info = PartitionInfo {
        schema_version: def.schema.columns.len() as u32,
        wal_lsn: max_lsn,
    };
    let written = write_partition(&*inner.fs, &path, &def.schema, &inputs, info, &opts)?;
    let (min_ts, max_ts) = written.footer.time_range.unwrap_or((0, 0));
    Ok(FileMeta {
        file_id,
        partition,
        rows: written.footer.row_count,
        min_ts,
        max_ts,
        len_bytes: written.len_bytes,
        max_lsn,
        encrypted: written.footer.encryption.is_some(),
    })
}

/// Makes a manifest change: under the collection's manifest lock, applies `change` to a copy
/// of the current manifest, persists it, then (under the state lock) installs it with a new
/// version whose file list `files_change` edits (`st` is passed for other in-memory edits).
pub fn install(
    inner: &Inner,
    coll: &Collection,
    change: impl FnOnce(&mut Manifest),
    files_change: impl FnOnce(&mut Vec<Arc<PartFile>>, &mut crate::collection::State),
) -> Result<()> {
    let _serial = coll.manifest_lock.lock().unwrap_or_else(|e| e.into_inner());
    let mut manifest = coll.lock().manifest.clone();
    change(&mut manifest);
    manifest.next_file_id = coll.next_file_id();
    manifest.sequence += 1;
    manifest.sort();
    persist_manifest(inner, coll, &manifest)?;
    let mut st = coll.lock();
    let mut files = st.version.files.clone();
    files_change(&mut files, &mut st);
    files.sort_by_key(|f| (f.meta.partition, f.meta.file_id));
    st.version = Arc::new(Version { files });
    st.manifest = manifest;
    Ok(())
}

/// Writes `manifest` for `coll` durably (callers hold the manifest lock).
fn persist_manifest(inner: &Inner, coll: &Collection, manifest: &Manifest) -> Result<()> {
    inner
        .fs
        .create_dir_all(&coll.dir)
        .map_err(|e| EngineError::io("create collection directory", &coll.dir, e))?;
    files::replace_durably(
        &*inner.fs,
        &coll.dir.join(files::MANIFEST),
        &manifest.encode(),
    )
}

/// Freezes and flushes the memtable of `partition` (and first any frozen memtables left by
/// an earlier failed flush). Returns (rows, bytes written).
pub fn flush_partition(
    inner: &Inner,
    coll: &Collection,
    partition: Option<i64>,
) -> Result<(u64, u64)> {
    let _serial = coll.flush_lock.lock().unwrap_or_else(|e| e.into_inner());
    let mut done = (0u64, 0u64);
    let leftovers: Vec<Arc<Frozen>> = coll.lock().frozen.clone();
    for f in leftovers {
        let (r, b) = write_frozen(inner, coll, &f)?;
        done.0 += r;
        done.1 += b;
    }
    let Some(partition) = partition else {
        return Ok(done);
    };
    let frozen = {
        let mut st = coll.lock();
        let Some(m) = st.mem.remove(&partition) else {
            return Ok(done);
        };
        let f = Arc::new(freeze(m, st.applied_lsn));
        st.frozen.push(f.clone());
        f
    };
    let (r, b) = write_frozen(inner, coll, &frozen)?;
    Ok((done.0 + r, done.1 + b))
}

fn freeze(m: Memtable, covered_lsn: u64) -> Frozen {
    Frozen {
        partition: m.partition,
        rows: m.rows,
        bytes: m.bytes,
        first_lsn: m.first_lsn,
        covered_lsn,
        min_ts: m.min_ts,
        max_ts: m.max_ts,
        chunks: m.chunks,
    }
}

fn write_frozen(inner: &Inner, coll: &Collection, f: &Arc<Frozen>) -> Result<(u64, u64)> {
    let def = {
        let st = coll.lock();
        if st.dropped {
            return Ok((0, 0));
        }
        st.def.clone()
    };
    let file_id = coll.allocate_file_id();
    let schema = arrow_schema(&def.schema.columns);
    let batch = sort_rows(Memtable::concat(&f.chunks, &schema)?, &def)?;
    let meta = write_file(
        inner,
        coll,
        &def,
        &batch,
        file_id,
        f.partition,
        f.covered_lsn,
    )?;
    // With non-durable writes the covered records may not be in the log yet: a manifest
    // must never claim LSNs the log could hand out again after a crash.
    inner.wal.wait_durable(cairn_wal::Lsn(f.covered_lsn))?;
    let file = PartFile::of(inner, coll, meta);
    install(
        inner,
        coll,
        |m| {
            m.files.push(meta);
            m.mark_flushed(f.partition, f.covered_lsn);
        },
        |files, st| {
            files.push(file.clone());
            st.frozen.retain(|x| !Arc::ptr_eq(x, f));
        },
    )?;
    inner.add_mem(-(f.bytes as isize));
    inner.flushes.fetch_add(1, Ordering::Relaxed);
    inner.flushed_rows.fetch_add(meta.rows, Ordering::Relaxed);
    inner
        .flushed_bytes
        .fetch_add(meta.len_bytes, Ordering::Relaxed);
    Ok((meta.rows, meta.len_bytes))
}
