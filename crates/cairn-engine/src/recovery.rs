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

/// A WAL record as the replay reader thread hands it over: WRITE records already
/// decompressed and decoded (the costly part), so that reading and decoding overlap with
/// applying on two cores.
struct Item {
    lsn: u64,
    flags: u16,
    body: Body,
}

enum Body {
    Write(Box<batch_codec::DecodedBatch>),
    Ddl(Vec<u8>),
}

/// Records queued per decoder thread (bounds replay memory: a record is a few MiB at most).
const REPLAY_QUEUE: usize = 2;
/// Threads decoding records while the caller applies them.
const DECODERS: usize = 2;

fn decode_record(inner: &Inner, rec: WalRecord) -> Result<Item> {
    let body = match rec.record_type {
        REC_WRITE => {
            let raw = crate::payload::unpack(&rec.payload, rec.flags)
                .map_err(|e| corrupt(inner, rec.lsn.0, e))?;
            let decoded =
                batch_codec::decode(&raw).map_err(|e| corrupt(inner, rec.lsn.0, e.to_string()))?;
            Body::Write(Box::new(decoded))
        }
        REC_DDL => Body::Ddl(rec.payload),
        other => {
            return Err(corrupt(
                inner,
                rec.lsn.0,
                format!("unknown record type {other}"),
            ));
        }
    };
    Ok(Item {
        lsn: rec.lsn.0,
        flags: rec.flags,
        body,
    })
}

/// Streams the WAL; returns whether catalog changes were replayed. A reader thread deals the
/// records round-robin to `DECODERS` threads, and the caller takes the decoded records back
/// in the same rotation, so they are applied in log order.
fn replay(inner: &Inner, cat: &mut Catalog, catalog_lsn: u64) -> Result<bool> {
    use std::sync::mpsc::{Receiver, sync_channel};
    let records = inner.wal.replay(Lsn(1))?;
    std::thread::scope(|s| {
        let mut to_decoders = Vec::with_capacity(DECODERS);
        let mut from_decoders: Vec<Receiver<Result<Item>>> = Vec::with_capacity(DECODERS);
        for _ in 0..DECODERS {
            let (tx_in, rx_in) = sync_channel::<Result<WalRecord>>(REPLAY_QUEUE);
            let (tx_out, rx_out) = sync_channel::<Result<Item>>(REPLAY_QUEUE);
            s.spawn(move || {
                for rec in rx_in {
                    let item = rec.and_then(|r| decode_record(inner, r));
                    if tx_out.send(item).is_err() {
                        return;
                    }
                }
            });
            to_decoders.push(tx_in);
            from_decoders.push(rx_out);
        }
        s.spawn(move || {
            for (i, rec) in records.enumerate() {
                let rec = rec.map_err(EngineError::from);
                let stop = rec.is_err();
                if to_decoders[i % DECODERS].send(rec).is_err() || stop {
                    return;
                }
            }
        });
        let items = (0..).map_while(|i| from_decoders[i % DECODERS].recv().ok());
        let mut group: Vec<Item> = Vec::new();
        let mut ddl = false;
        for item in items {
            let item = item?;
            let more = item.flags & FLAG_CONTINUED != 0;
            group.push(item);
            if more {
                continue;
            }
            for item in std::mem::take(&mut group) {
                ddl |= apply_item(inner, cat, catalog_lsn, item)?;
            }
            // Half the budget, as the flush thread keeps it while running: a flush copies
            // the memtable it writes.
            let budget = inner.opts.memory_budget_bytes as i64 / 2;
            while inner.mem_used.load(std::sync::atomic::Ordering::Acquire) > budget {
                if !inner.flush_largest(false)? {
                    break;
                }
            }
        }
        if let Some(first) = group.first() {
            tracing::warn!(
                lsn = first.lsn,
                records = group.len(),
                "the log ends inside a write that was never acknowledged; it is discarded"
            );
        }
        Ok(ddl)
    })
}

fn corrupt(inner: &Inner, lsn: u64, detail: String) -> EngineError {
    EngineError::Corrupt {
        what: "WAL record",
        path: inner.root.join(files::WAL_DIR),
        offset: lsn,
        detail: format!("record at LSN {lsn}: {detail}"),
    }
}

fn apply_item(inner: &Inner, cat: &mut Catalog, catalog_lsn: u64, item: Item) -> Result<bool> {
    let lsn = item.lsn;
    match item.body {
        Body::Ddl(payload) => {
            if lsn <= catalog_lsn {
                return Ok(false);
            }
            let op = decode_ddl(&payload)
                .map_err(|(o, d)| corrupt(inner, lsn, format!("at byte {o}: {d}")))?;
            cat.apply(&op, lsn)?;
            if let DdlOp::CreateCollection(def) = &op {
                load_collection(inner, def)?;
            } else {
                inner.apply_live(&op, cat);
            }
            Ok(true)
        }
        Body::Write(decoded) => {
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
                .map_err(|_| corrupt(inner, lsn, "a write without the TIME_KEY column".into()))?;
            let parts: Vec<_> = split(&decoded.batch, tk, def.options.partition_interval_ns)?
                .into_iter()
                .filter(|p| !st.manifest.covers(p.partition, lsn))
                .collect();
            let delta = st.apply(lsn, lsn, parts)?;
            drop(st);
            inner.add_mem(delta);
            Ok(false)
        }
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
