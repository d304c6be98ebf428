//! Opening a data directory: load the catalog and every manifest, replay the WAL (skipping
//! what each manifest already covers, per time partition), then delete files no manifest
//! names. After this the visible data is exactly what was acknowledged before the crash.

use std::collections::HashSet;
use std::sync::Arc;

use cairn_wal::{Lsn, WalRecord};

use crate::batch_codec;
use crate::catalog::codec::{decode_catalog, decode_ddl, encode_catalog};
use crate::catalog::{Catalog, DatabaseDef, DatabaseOptions, DdlOp};
use crate::collection::{Collection, PartFile};
use crate::db::{FLAG_CONTINUED, Inner, REC_DDL, REC_WRITE};
use crate::error::{EngineError, Result};
use crate::files;
use crate::flush::flush_partition;
use crate::manifest::Manifest;
use crate::write::split;

pub fn recover(inner: &Inner) -> Result<()> {
    let catalog_path = inner.root.join(files::CATALOG);
    let mut cat = match files::read_optional(&*inner.fs, &catalog_path)? {
        Some(bytes) => decode_catalog(&bytes).map_err(|(offset, detail)| EngineError::Corrupt {
            what: "catalog",
            path: catalog_path.clone(),
            offset,
            detail,
        })?,
        None => Catalog::default(),
    };
    let file_lsn = cat.lsn;
    for def in cat.collections.values() {
        load_collection(inner, def)?;
    }
    let replayed_ddl = replay(inner, &mut cat, file_lsn)?;
    if replayed_ddl {
        files::replace_durably(&*inner.fs, &catalog_path, &encode_catalog(&cat))?;
    }
    *inner.catalog() = cat;
    remove_orphans(inner)?;
    if inner.catalog().database(crate::DEFAULT_DATABASE).is_none() {
        inner.ddl(|cat| {
            Ok(DdlOp::CreateDatabase(DatabaseDef {
                id: cat.next_id.max(1),
                name: crate::DEFAULT_DATABASE.into(),
                options: DatabaseOptions::default(),
            }))
        })?;
    }
    Ok(())
}

fn load_collection(inner: &Inner, def: &crate::catalog::CollectionDef) -> Result<()> {
    let dir = files::collection_dir(&inner.root, def.id);
    let path = dir.join(files::MANIFEST);
    let manifest = match files::read_optional(&*inner.fs, &path)? {
        Some(bytes) => {
            Manifest::decode(&bytes).map_err(|(offset, detail)| EngineError::Corrupt {
                what: "manifest",
                path: path.clone(),
                offset,
                detail,
            })?
        }
        None => Manifest::default(),
    };
    let part_files = manifest
        .files
        .iter()
        .map(|m| {
            Arc::new(PartFile::new(
                *m,
                &dir,
                inner.fs.clone(),
                inner.read_options.clone(),
            ))
        })
        .collect();
    let c = Collection::new(Arc::new(def.clone()), dir, manifest, part_files);
    inner
        .collections
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(def.id, Arc::new(c));
    Ok(())
}

/// Streams the WAL; returns whether catalog changes were replayed.
fn replay(inner: &Inner, cat: &mut Catalog, catalog_lsn: u64) -> Result<bool> {
    let mut group: Vec<WalRecord> = Vec::new();
    let mut ddl = false;
    for rec in inner.wal.replay(Lsn(1))? {
        let rec = rec?;
        let more = rec.flags & FLAG_CONTINUED != 0;
        group.push(rec);
        if more {
            continue;
        }
        for rec in std::mem::take(&mut group) {
            ddl |= apply_record(inner, cat, catalog_lsn, &rec)?;
        }
        let budget = inner.opts.memory_budget_bytes as i64;
        while inner.mem_used.load(std::sync::atomic::Ordering::Acquire) > budget {
            if !flush_largest_during_replay(inner)? {
                break;
            }
        }
    }
    if let Some(first) = group.first() {
        tracing::warn!(
            lsn = first.lsn.0,
            records = group.len(),
            "the log ends inside a write that was never acknowledged; it is discarded"
        );
    }
    Ok(ddl)
}

fn flush_largest_during_replay(inner: &Inner) -> Result<bool> {
    let mut best: Option<(usize, Arc<Collection>, i64)> = None;
    for c in inner.all_collections() {
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
    flush_partition(inner, &c, Some(p))?;
    Ok(true)
}

fn corrupt(inner: &Inner, rec: &WalRecord, detail: String) -> EngineError {
    EngineError::Corrupt {
        what: "WAL record",
        path: inner.root.join(files::WAL_DIR),
        offset: rec.lsn.0,
        detail: format!("record at LSN {}: {detail}", rec.lsn),
    }
}

fn apply_record(
    inner: &Inner,
    cat: &mut Catalog,
    catalog_lsn: u64,
    rec: &WalRecord,
) -> Result<bool> {
    match rec.record_type {
        REC_DDL => {
            if rec.lsn.0 <= catalog_lsn {
                return Ok(false);
            }
            let op = decode_ddl(&rec.payload)
                .map_err(|(o, d)| corrupt(inner, rec, format!("at byte {o}: {d}")))?;
            cat.apply(&op, rec.lsn.0)?;
            if let DdlOp::CreateCollection(def) = &op {
                load_collection(inner, def)?;
            } else {
                inner.apply_live(&op, cat);
            }
            Ok(true)
        }
        REC_WRITE => {
            let decoded = batch_codec::decode(&rec.payload)
                .map_err(|e| corrupt(inner, rec, e.to_string()))?;
            let Some(c) = inner
                .collections
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&decoded.collection_id)
                .cloned()
            else {
                return Ok(false); // dropped since
            };
            let mut st = c.lock();
            let def = st.def.clone();
            let tk = decoded
                .batch
                .schema()
                .index_of(def.time_key_name())
                .map_err(|_| corrupt(inner, rec, "a write without the TIME_KEY column".into()))?;
            let parts: Vec<_> = split(&decoded.batch, tk, def.options.partition_interval_ns)?
                .into_iter()
                .filter(|p| !st.manifest.covers(p.partition, rec.lsn.0))
                .collect();
            let delta = st.apply(rec.lsn.0, rec.lsn.0, parts)?;
            drop(st);
            inner.add_mem(delta);
            Ok(false)
        }
        other => Err(corrupt(inner, rec, format!("unknown record type {other}"))),
    }
}

/// Deletes partition files no manifest names, temporary files, and the files of dropped
/// collections.
fn remove_orphans(inner: &Inner) -> Result<()> {
    let live: HashSet<u64> = inner.catalog().collections.keys().copied().collect();
    let entries = inner
        .fs
        .list_dir(&inner.root)
        .map_err(|e| EngineError::io("list data directory", &inner.root, e))?;
    for e in entries.iter().filter(|e| e.is_dir) {
        let Some(id) = files::parse_collection_dir(&e.name) else {
            continue;
        };
        let dir = inner.root.join(&e.name);
        let keep: HashSet<u64> = if live.contains(&id) {
            match inner
                .collections
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&id)
            {
                Some(c) => c.lock().manifest.files.iter().map(|f| f.file_id).collect(),
                None => HashSet::new(),
            }
        } else {
            HashSet::new()
        };
        let names = inner
            .fs
            .list_dir(&dir)
            .map_err(|e| EngineError::io("list collection directory", &dir, e))?;
        let mut removed = 0;
        for n in names.iter().filter(|n| !n.is_dir) {
            let orphan = match files::parse_partition_file_name(&n.name) {
                Some(fid) => !keep.contains(&fid),
                None => {
                    n.name.ends_with(".tmp") || (!live.contains(&id) && n.name == files::MANIFEST)
                }
            };
            if orphan {
                let p = dir.join(&n.name);
                inner
                    .fs
                    .remove_file(&p)
                    .map_err(|e| EngineError::io("remove orphan file", &p, e))?;
                removed += 1;
            }
        }
        if removed > 0 {
            inner
                .fs
                .sync_dir(&dir)
                .map_err(|e| EngineError::io("sync collection directory", &dir, e))?;
            tracing::info!(dir = %dir.display(), removed, "removed files no manifest names");
        }
    }
    Ok(())
}
