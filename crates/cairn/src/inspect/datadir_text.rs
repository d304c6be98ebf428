//! The text form of a data directory, a CATALOG and a MANIFEST.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::datadir::{CatalogSummary, CollectionReport, DataDirReport, ManifestSummary};
use super::model::{Findings, Table, fmt_bytes, fmt_time_ns, kv_block};
use super::partition_view::render_partition;
use super::wal_dir::{lsn_range, render_wal_dir};

/// A CATALOG given on its own.
#[derive(Debug, Serialize)]
pub struct CatalogFileReport {
    pub path: String,
    pub catalog: CatalogSummary,
    pub collections: Vec<CollectionReport>,
}

/// A MANIFEST given on its own.
#[derive(Debug, Serialize)]
pub struct ManifestFileReport {
    pub path: String,
    pub manifest: ManifestSummary,
}

fn catalog_lines(kv: &mut Vec<(&str, String)>, c: &CatalogSummary) {
    kv.push((
        "CATALOG",
        format!(
            "DDL applied up to LSN {}, next id {} (later DDL is replayed from the WAL)",
            c.lsn, c.next_id
        ),
    ));
    let dbs: Vec<String> = c
        .databases
        .iter()
        .map(|d| format!("{} (id {})", d.name, d.id))
        .collect();
    kv.push(("databases", dbs.join(", ")));
}

/// The flushed LSN of each time partition (the first `max` of them, then a count).
fn flushed_text(m: &ManifestSummary, max: usize) -> String {
    let mut parts: Vec<String> = m
        .flushed
        .iter()
        .take(max)
        .map(|f| format!("{}: LSN {}", f.partition, f.lsn))
        .collect();
    if m.flushed.len() > max {
        parts.push(format!("… ({} partitions)", m.flushed.len()));
    }
    parts.join(", ")
}

fn collection_table(out: &mut String, collections: &[CollectionReport]) {
    let mut t = Table::new(&[
        ("id", true),
        ("database", false),
        ("collection", false),
        ("columns", true),
        ("files", true),
        ("rows in files", true),
        ("bytes", true),
        ("flushed LSN per partition", false),
    ]);
    for c in collections {
        let m = c.manifest.as_ref();
        t.row(vec![
            c.id.to_string(),
            c.database.clone().unwrap_or_else(|| "?".into()),
            c.name.clone().unwrap_or_else(|| "(not in CATALOG)".into()),
            c.columns.to_string(),
            m.map_or(0, |m| m.files.len()).to_string(),
            m.map_or(0, |m| m.rows).to_string(),
            m.map_or(0, |m| m.bytes).to_string(),
            m.map_or_else(|| "-".into(), |m| flushed_text(m, 3)),
        ]);
    }
    t.render(out, 4);
}

fn manifest_files(out: &mut String, m: &ManifestSummary) {
    let mut t = Table::new(&[
        ("file", false),
        ("partition", false),
        ("rows", true),
        ("bytes", true),
        ("time range", false),
        ("max LSN", true),
        ("encrypted", false),
    ]);
    for f in &m.files {
        t.row(vec![
            f.file.clone(),
            fmt_time_ns(f.partition_start),
            f.rows.to_string(),
            f.bytes.to_string(),
            format!("{} ..= {}", fmt_time_ns(f.min_ts), fmt_time_ns(f.max_ts)),
            f.max_lsn.to_string(),
            if f.encrypted { "yes" } else { "no" }.into(),
        ]);
    }
    t.render(out, 4);
}

/// The summary of a data directory, then its WAL, its partition files and its orphans.
pub fn render_data_dir(out: &mut String, r: &DataDirReport, findings: &Findings) {
    let _ignored = writeln!(out, "data directory {}", r.path);
    let mut kv: Vec<(&str, String)> = Vec::new();
    match &r.catalog {
        Some(c) => catalog_lines(&mut kv, c),
        None => kv.push(("CATALOG", "none".into())),
    }
    if let Some(w) = &r.wal {
        kv.push((
            "WAL",
            format!(
                "{} segments, {} records, LSN {}, {}",
                w.segment_count,
                w.records,
                lsn_range(w.first_lsn, w.last_lsn),
                fmt_bytes(w.file_bytes)
            ),
        ));
    }
    let files: usize = r
        .collections
        .iter()
        .filter_map(|c| c.manifest.as_ref())
        .map(|m| m.files.len())
        .sum();
    kv.push((
        "partition files",
        format!("{files} named by manifests, {} orphans", r.orphans.len()),
    ));
    kv_block(out, &kv);
    let _ignored = writeln!(out, "  collections:");
    collection_table(out, &r.collections);
    for c in &r.collections {
        if let Some(m) = c.manifest.as_ref().filter(|m| !m.files.is_empty()) {
            let _ignored = writeln!(
                out,
                "  MANIFEST of {} ({}/MANIFEST, sequence {}, next file id {}):",
                c.name.as_deref().unwrap_or("?"),
                c.dir,
                m.sequence,
                m.next_file_id
            );
            manifest_files(out, m);
        }
    }
    for line in findings.lines_for(Path::new(&r.path)) {
        let _ignored = writeln!(out, "  {line}");
    }
    out.push('\n');
    if let Some(w) = &r.wal {
        render_wal_dir(out, w, findings);
    }
    for p in &r.partitions {
        render_partition(out, p, findings);
    }
    if !r.orphans.is_empty() {
        let _ignored = writeln!(
            out,
            "orphans (no manifest or catalog names them; not errors)"
        );
        for o in &r.orphans {
            let _ignored = writeln!(out, "  {o}");
        }
        out.push('\n');
    }
}

pub fn render_catalog(out: &mut String, r: &CatalogFileReport, findings: &Findings) {
    let _ignored = writeln!(out, "CATALOG {}", r.path);
    let mut kv = Vec::new();
    catalog_lines(&mut kv, &r.catalog);
    kv_block(out, &kv);
    let _ignored = writeln!(out, "  collections:");
    collection_table(out, &r.collections);
    for line in findings.lines_for(Path::new(&r.path)) {
        let _ignored = writeln!(out, "  {line}");
    }
    out.push('\n');
}

pub fn render_manifest(out: &mut String, r: &ManifestFileReport, findings: &Findings) {
    let m = &r.manifest;
    let _ignored = writeln!(out, "MANIFEST {}", r.path);
    kv_block(
        out,
        &[
            ("sequence", m.sequence.to_string()),
            ("next file id", m.next_file_id.to_string()),
            (
                "files",
                format!("{} ({} rows, {} bytes)", m.files.len(), m.rows, m.bytes),
            ),
            ("flushed", flushed_text(m, usize::MAX)),
        ],
    );
    manifest_files(out, m);
    for line in findings.lines_for(Path::new(&r.path)) {
        let _ignored = writeln!(out, "  {line}");
    }
    out.push('\n');
}
