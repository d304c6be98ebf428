//! A data directory: the CATALOG, every collection's MANIFEST, the WAL, every partition file
//! a manifest names (checked against its manifest entry), and files nothing names (orphans:
//! reported, not errors; the next open deletes them).

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use cairn_engine::inspect::{
    self as engine, CATALOG, CatalogView, FileMeta, MANIFEST, Manifest, WAL_DIR,
};
use cairn_io::{Fs, OpenOptions};
use serde::Serialize;

use super::Options;
use super::model::{Findings, fmt_time_ns};
use super::partition::{PartitionReport, inspect_partition};
use super::wal_dir::{WalDirReport, inspect_wal_dir};

/// Largest CATALOG or MANIFEST read (they are a few KiB; a huge one is damage).
const MAX_METADATA_BYTES: u64 = 256 << 20;

#[derive(Debug, Serialize)]
pub struct DatabaseLine {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct CatalogSummary {
    pub lsn: u64,
    pub next_id: u64,
    pub databases: Vec<DatabaseLine>,
}

#[derive(Debug, Serialize)]
pub struct ManifestFile {
    pub file: String,
    pub file_id: u64,
    pub partition_start: i64,
    pub rows: u64,
    pub bytes: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub max_lsn: u64,
    pub encrypted: bool,
}

#[derive(Debug, Serialize)]
pub struct Flushed {
    pub partition_start: i64,
    pub partition: String,
    pub lsn: u64,
}

#[derive(Debug, Serialize)]
pub struct ManifestSummary {
    pub sequence: u64,
    pub next_file_id: u64,
    pub rows: u64,
    pub bytes: u64,
    pub files: Vec<ManifestFile>,
    pub flushed: Vec<Flushed>,
}

#[derive(Debug, Serialize)]
pub struct CollectionReport {
    pub id: u64,
    /// `None` for a directory whose collection the CATALOG does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    pub columns: usize,
    pub dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestSummary>,
}

#[derive(Debug, Serialize)]
pub struct DataDirReport {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogSummary>,
    pub collections: Vec<CollectionReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal: Option<WalDirReport>,
    pub partitions: Vec<PartitionReport>,
    pub orphans: Vec<String>,
}

/// Reads a small metadata file whole; `Ok(None)` if it does not exist.
pub fn read_small(fs: &dyn Fs, path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let file = match fs.open(path, OpenOptions::read()) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.len_bytes()?;
    if len > MAX_METADATA_BYTES {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("{len} bytes, more than a metadata file may hold ({MAX_METADATA_BYTES})"),
        ));
    }
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, 0)?;
    Ok(Some(buf))
}

/// Decodes the CATALOG at `path`, reporting a failure as a problem.
pub fn load_catalog(fs: &dyn Fs, path: &Path, findings: &mut Findings) -> Option<CatalogView> {
    match read_small(fs, path) {
        Ok(Some(bytes)) => match engine::catalog(&bytes) {
            Ok(c) => Some(c),
            Err((at, why)) => {
                findings.problem(path, at, "a valid CATALOG", why);
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            findings.io(path, "a readable CATALOG", &e);
            None
        }
    }
}

/// Decodes the MANIFEST at `path`, reporting a failure as a problem.
pub fn load_manifest(fs: &dyn Fs, path: &Path, findings: &mut Findings) -> Option<Manifest> {
    match read_small(fs, path) {
        Ok(Some(bytes)) => match engine::manifest(&bytes) {
            Ok(m) => Some(m),
            Err((at, why)) => {
                findings.problem(path, at, "a valid MANIFEST", why);
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            findings.io(path, "a readable MANIFEST", &e);
            None
        }
    }
}

pub fn catalog_summary(c: &CatalogView) -> CatalogSummary {
    CatalogSummary {
        lsn: c.lsn,
        next_id: c.next_id,
        databases: c
            .databases
            .iter()
            .map(|d| DatabaseLine {
                id: d.id,
                name: d.name.clone(),
            })
            .collect(),
    }
}

pub fn manifest_summary(m: &Manifest) -> ManifestSummary {
    ManifestSummary {
        sequence: m.sequence,
        next_file_id: m.next_file_id,
        rows: m.files.iter().map(|f| f.rows).sum(),
        bytes: m.files.iter().map(|f| f.len_bytes).sum(),
        files: m
            .files
            .iter()
            .map(|f| ManifestFile {
                file: engine::partition_file_name(f.file_id),
                file_id: f.file_id,
                partition_start: f.partition,
                rows: f.rows,
                bytes: f.len_bytes,
                min_ts: f.min_ts,
                max_ts: f.max_ts,
                max_lsn: f.max_lsn,
                encrypted: f.encrypted,
            })
            .collect(),
        flushed: m
            .flushed
            .iter()
            .map(|(&p, &lsn)| Flushed {
                partition_start: p,
                partition: fmt_time_ns(p),
                lsn,
            })
            .collect(),
    }
}

/// Inspects the data directory `dir`.
pub fn inspect_data_dir(
    fs: &dyn Fs,
    dir: &Path,
    opts: &Options,
    findings: &mut Findings,
) -> DataDirReport {
    let mut report = DataDirReport {
        path: dir.display().to_string(),
        catalog: None,
        collections: Vec::new(),
        wal: None,
        partitions: Vec::new(),
        orphans: Vec::new(),
    };
    let entries = match fs.list_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            findings.io(dir, "a readable data directory", &e);
            return report;
        }
    };
    let catalog_path = dir.join(CATALOG);
    let catalog = load_catalog(fs, &catalog_path, findings);
    let catalog_present = entries.iter().any(|e| e.name == CATALOG);
    if catalog.is_none() && !catalog_present {
        findings.note(
            &catalog_path,
            None,
            "no CATALOG: nothing was created here yet (or the DDL is only in the WAL)",
        );
    }
    report.catalog = catalog.as_ref().map(catalog_summary);
    let mut ids: BTreeSet<u64> = BTreeSet::new();
    let mut has_wal = false;
    for e in &entries {
        let path = dir.join(&e.name);
        match engine::parse_collection_dir(&e.name) {
            Some(id) if e.is_dir => {
                ids.insert(id);
            }
            _ if e.name == CATALOG || e.name == engine::LOCK => {}
            _ if e.name == WAL_DIR && e.is_dir => has_wal = true,
            _ => orphan(
                &mut report,
                findings,
                &path,
                "not a file of a data directory",
            ),
        }
    }
    if let Some(c) = &catalog {
        ids.extend(c.collections.iter().map(|c| c.id));
    }
    let mut referenced: Vec<Referenced> = Vec::new();
    for id in ids {
        let catalog = match &catalog {
            Some(c) => Catalog::Loaded(c),
            None if catalog_present => Catalog::Damaged,
            None => Catalog::Missing,
        };
        let coll = inspect_collection(fs, dir, id, catalog, &mut report, findings);
        referenced.extend(coll);
    }
    if has_wal {
        report.wal = Some(inspect_wal_dir(fs, &dir.join(WAL_DIR), opts, findings));
    } else {
        findings.note(&dir.join(WAL_DIR), None, "no WAL directory");
    }
    for (path, meta, context) in referenced {
        let mut p = inspect_partition(fs, &path, meta.as_ref(), opts, findings);
        p.context = Some(context);
        report.partitions.push(p);
    }
    report
}

fn orphan(report: &mut DataDirReport, findings: &mut Findings, path: &Path, why: &str) {
    report.orphans.push(path.display().to_string());
    findings.note(path, None, format!("orphan: {why}"));
}

/// The data directory's CATALOG, as far as it could be read.
#[derive(Clone, Copy)]
enum Catalog<'a> {
    Loaded(&'a CatalogView),
    /// Present but undecodable (a problem was reported).
    Damaged,
    Missing,
}

/// A partition file to inspect: its path, its manifest entry (`None` when the manifest is
/// damaged), and where it belongs.
type Referenced = (PathBuf, Option<FileMeta>, String);

/// One collection: its manifest, and the files of its directory checked against it. Returns
/// the partition files to inspect.
fn inspect_collection(
    fs: &dyn Fs,
    root: &Path,
    id: u64,
    catalog_state: Catalog<'_>,
    report: &mut DataDirReport,
    findings: &mut Findings,
) -> Vec<Referenced> {
    let dir = root.join(format!("c{id}"));
    let catalog = match catalog_state {
        Catalog::Loaded(c) => Some(c),
        Catalog::Damaged | Catalog::Missing => None,
    };
    let def = catalog.and_then(|c| c.collections.iter().find(|d| d.id == id));
    let database = def
        .and_then(|d| catalog.and_then(|c| c.databases.iter().find(|db| db.id == d.database_id)));
    let mut out = Vec::new();
    let listing = match fs.list_dir(&dir) {
        Ok(l) => Some(l),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => {
            findings.io(&dir, "a readable collection directory", &e);
            None
        }
    };
    if def.is_none() && !matches!(catalog_state, Catalog::Damaged) {
        findings.note(
            &dir,
            None,
            "orphan: the CATALOG holds no collection with this id (a dropped collection's \
             directory, or one created by DDL still only in the WAL)",
        );
        report.orphans.push(dir.display().to_string());
    }
    let manifest = if listing.is_some() {
        load_manifest(fs, &dir.join(MANIFEST), findings)
    } else {
        None
    };
    let named: BTreeMap<String, FileMeta> = manifest
        .iter()
        .flat_map(|m| m.files.iter())
        .map(|f| (engine::partition_file_name(f.file_id), *f))
        .collect();
    let on_disk: BTreeSet<String> = listing
        .iter()
        .flatten()
        .filter(|e| !e.is_dir)
        .map(|e| e.name.clone())
        .collect();
    let label = def.map_or_else(|| format!("c{id}"), |d| d.name.clone());
    for (name, meta) in &named {
        let path = dir.join(name);
        if on_disk.contains(name) {
            let context = format!(
                "collection {label}, partition {}",
                fmt_time_ns(meta.partition)
            );
            out.push((path, Some(*meta), context));
        } else {
            findings.problem(
                &path,
                0,
                "a partition file the MANIFEST names",
                "no such file",
            );
        }
    }
    let manifest_damaged = manifest.is_none() && on_disk.contains(MANIFEST);
    let unnamed = on_disk
        .iter()
        .filter(|n| !named.contains_key(*n) && n.as_str() != MANIFEST);
    for name in unnamed {
        let path = dir.join(name);
        let partition = engine::parse_partition_file_name(name).is_some();
        if manifest_damaged && partition {
            let context = format!("collection {label}; not checked against its damaged MANIFEST");
            out.push((path, None, context));
            continue;
        }
        let why = if name.ends_with(".tmp") {
            "a file being written when the process stopped (the next open deletes it)"
        } else if partition {
            "a partition file no MANIFEST names (an interrupted flush or compaction, or a \
             merged file's source awaiting deletion; the next open deletes it)"
        } else {
            "not a file of a collection directory"
        };
        orphan(report, findings, &path, why);
    }
    report.collections.push(CollectionReport {
        id,
        name: def.map(|d| d.name.clone()),
        database: database.map(|d| d.name.clone()),
        columns: def.map_or(0, |d| d.schema.columns.len()),
        dir: dir.display().to_string(),
        manifest: manifest.as_ref().map(manifest_summary),
    });
    out
}
