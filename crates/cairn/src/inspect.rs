//! `cairn inspect`: shows and verifies cairn's files without opening a database (no lock is
//! taken and nothing is written, so it also reads a directory a running server holds; a
//! flush in progress then looks like a torn tail).
//!
//! Each PATH is recognised by its content: a data directory (CATALOG, `wal/`, `c<id>/`), a
//! WAL directory (`wal-*.seg` files), a WAL segment (starts with `CAIRNWAL`), a partition
//! file (ends with `CRNP`), a CATALOG (`CCAT`) or a MANIFEST (`CMAN`). Every problem is
//! printed as `<file>: offset <n>: <expected> (found <found>)` and makes the exit status
//! non-zero; torn tails, orphans and unverifiable encrypted contents are notes.

mod datadir;
mod datadir_text;
mod model;
mod partition;
mod partition_view;
mod wal;
mod wal_dir;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use cairn_io::{Fs, OpenOptions, RealFs};
use clap::Args;
use serde::Serialize;

use crate::error::CliError;
use datadir::{
    CollectionReport, DataDirReport, catalog_summary, inspect_data_dir, load_catalog,
    load_manifest, manifest_summary,
};
use datadir_text::{CatalogFileReport, ManifestFileReport};
use model::{Findings, hex_bytes};
use partition::PartitionReport;
use wal::SegmentReport;
use wal_dir::WalDirReport;

const AFTER_HELP: &str = "\
What each PATH shows (recognised by content, not by name):
  data directory   CATALOG (databases, collections, the LSN of the last DDL it holds), each
                   collection's MANIFEST (files, rows, bytes, flushed LSN per time
                   partition), then every WAL segment and every partition file, each checked
                   against its manifest entry, then orphans: files nothing names (notes)
  WAL directory    every segment in LSN order, the chain between segments checked
  WAL segment      header (format version, segment id, first LSN, previous segment, creation
                   time, cipher), record count, LSN range, records and payload bytes per
                   type, flushes and padding, every frame CRC verified; damage at the end of
                   the last segment is reported as a torn tail (what recovery cuts, not an
                   error), damage anywhere else is corruption
  partition file   tail (magic, version, footer offset, length, CRC), footer (rows, time
                   range, WAL LSN, columns: type, role, nulls, min/max, codecs, bytes), the
                   sparse time index; every page, dictionary and index CRC verified and every
                   plaintext page header compared with the footer
  CATALOG/MANIFEST decoded and checksum-verified

Encrypted files: checksums cover the stored bytes and are verified; payloads and tags
need the key, which cairn inspect cannot take (cairn has no key file yet): a note says so.

Exit status: 0 when everything verified (notes do not count), 1 when any problem was found.
Each problem is printed as `<file>: offset <n>: <what was expected> (found <what>)`.";

/// Show and verify cairn's files: data directories, WALs, partition files.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct InspectArgs {
    /// Data directories, WAL directories, WAL segment files, partition files, CATALOG or
    /// MANIFEST files, recognised by content (`--help` describes what each shows).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// List every WAL record: LSN, type, flags, payload length and file offset.
    #[arg(long)]
    pub records: bool,

    /// List every page of every partition-file column: offset, length, rows, nulls, codec,
    /// outer stage, CRC32C OK/BAD, min and max.
    #[arg(long)]
    pub pages: bool,

    /// Also decode every page of unencrypted partition files with the storage reader (null
    /// counts and dictionary codes checked), and every WAL record payload of unencrypted
    /// segments (WRITE batches and DDL changes; with --records, each is summarised).
    #[arg(long)]
    pub decode: bool,

    /// Print one JSON document (inputs, problems, notes, ok) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What to show and check beyond the default.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub records: bool,
    pub pages: bool,
    pub decode: bool,
}

/// One inspected PATH.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Inspected {
    DataDirectory(DataDirReport),
    WalDirectory(WalDirReport),
    WalSegment(SegmentReport),
    PartitionFile(PartitionReport),
    Catalog(CatalogFileReport),
    Manifest(ManifestFileReport),
    /// Not recognised or not readable (the problem list says why).
    Unreadable {
        path: String,
    },
}

/// The whole JSON document.
#[derive(Debug, Serialize)]
struct Document<'a> {
    ok: bool,
    inputs: &'a [Inspected],
    problems: &'a [model::Problem],
    notes: &'a [model::Note],
}

/// What a PATH turned out to be.
enum Kind {
    DataDir,
    WalDir,
    Segment,
    Partition,
    Catalog,
    Manifest,
}

const EXPECTED_KIND: &str = "a cairn data directory, WAL directory, WAL segment, partition \
                             file, CATALOG or MANIFEST";

pub fn run(args: &InspectArgs) -> Result<(), CliError> {
    let fs = RealFs::default();
    let opts = Options {
        records: args.records,
        pages: args.pages,
        decode: args.decode,
    };
    let mut findings = Findings::default();
    let inputs: Vec<Inspected> = args
        .paths
        .iter()
        .map(|p| inspect_path(&fs, p, &opts, &mut findings))
        .collect();
    let text = if args.json {
        let doc = Document {
            ok: findings.problems.is_empty(),
            inputs: &inputs,
            problems: &findings.problems,
            notes: &findings.notes,
        };
        let mut s = serde_json::to_string_pretty(&doc)
            .map_err(|e| CliError::Invalid(format!("cannot render the report as JSON: {e}")))?;
        s.push('\n');
        s
    } else {
        render_text(&inputs, &findings)
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(CliError::io("write the report", Path::new("<stdout>")))?;
    if args.json {
        // stdout holds only the JSON document; the problem lines go to stderr.
        for p in &findings.problems {
            eprintln!("{p}");
        }
    }
    match findings.problems.len() {
        0 => Ok(()),
        n => Err(CliError::Invalid(format!(
            "{n} problem{} found: the files named above are damaged or inconsistent",
            if n == 1 { "" } else { "s" }
        ))),
    }
}

fn inspect_path(fs: &dyn Fs, path: &Path, opts: &Options, findings: &mut Findings) -> Inspected {
    let unreadable = || Inspected::Unreadable {
        path: path.display().to_string(),
    };
    let Some(kind) = detect(fs, path, findings) else {
        return unreadable();
    };
    match kind {
        Kind::DataDir => Inspected::DataDirectory(inspect_data_dir(fs, path, opts, findings)),
        Kind::WalDir => Inspected::WalDirectory(wal_dir::inspect_wal_dir(fs, path, opts, findings)),
        Kind::Segment => {
            let position = wal_dir::position_of(fs, path);
            Inspected::WalSegment(wal::inspect_segment(fs, path, position, opts, findings))
        }
        Kind::Partition => {
            Inspected::PartitionFile(partition::inspect_partition(fs, path, None, opts, findings))
        }
        Kind::Catalog => match load_catalog(fs, path, findings) {
            Some(c) => {
                let collections = c
                    .collections
                    .iter()
                    .map(|d| CollectionReport {
                        id: d.id,
                        name: Some(d.name.clone()),
                        database: c
                            .databases
                            .iter()
                            .find(|db| db.id == d.database_id)
                            .map(|db| db.name.clone()),
                        columns: d.schema.columns.len(),
                        dir: format!("c{}", d.id),
                        manifest: None,
                    })
                    .collect();
                Inspected::Catalog(CatalogFileReport {
                    path: path.display().to_string(),
                    catalog: catalog_summary(&c),
                    collections,
                })
            }
            None => unreadable(),
        },
        Kind::Manifest => match load_manifest(fs, path, findings) {
            Some(m) => Inspected::Manifest(ManifestFileReport {
                path: path.display().to_string(),
                manifest: manifest_summary(&m),
            }),
            None => unreadable(),
        },
    }
}

/// Recognises a PATH by its content (falling back to its name only when the content is
/// damaged, so the right checks report the damage); reports what it cannot recognise.
fn detect(fs: &dyn Fs, path: &Path, findings: &mut Findings) -> Option<Kind> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            findings.io(path, "an existing file or directory", &e);
            return None;
        }
    };
    if meta.is_dir() {
        return detect_dir(fs, path, findings);
    }
    if !meta.is_file() {
        findings.problem(
            path,
            0,
            EXPECTED_KIND,
            "neither a regular file nor a directory",
        );
        return None;
    }
    let file = match fs.open(path, OpenOptions::read()) {
        Ok(f) => f,
        Err(e) => {
            findings.io(path, "a readable file", &e);
            return None;
        }
    };
    let len = meta.len();
    if len == 0 {
        findings.problem(path, 0, EXPECTED_KIND, "an empty file");
        return None;
    }
    let mut head = vec![0u8; len.min(8) as usize];
    let mut tail = [0u8; 4];
    let read = file
        .read_exact_at(&mut head, 0)
        .and_then(|()| match len.checked_sub(4) {
            Some(at) => file.read_exact_at(&mut tail, at),
            None => Ok(()),
        });
    if let Err(e) = read {
        findings.io(path, "a readable file", &e);
        return None;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if head == *b"CAIRNWAL" {
        Some(Kind::Segment)
    } else if len >= 4 && tail == cairn_storage::MAGIC {
        Some(Kind::Partition)
    } else if head.starts_with(b"CCAT") {
        Some(Kind::Catalog)
    } else if head.starts_with(b"CMAN") {
        Some(Kind::Manifest)
    } else if name.ends_with(".cpf") {
        Some(Kind::Partition)
    } else if cairn_wal::parse_segment_file_name(name).is_some() {
        Some(Kind::Segment)
    } else {
        findings.problem(
            path,
            0,
            EXPECTED_KIND,
            format!("{len} unrecognised bytes starting {}", hex_bytes(&head, 8)),
        );
        None
    }
}

fn detect_dir(fs: &dyn Fs, path: &Path, findings: &mut Findings) -> Option<Kind> {
    use cairn_engine::inspect as engine;
    let entries = match fs.list_dir(path) {
        Ok(e) => e,
        Err(e) => {
            findings.io(path, "a readable directory", &e);
            return None;
        }
    };
    let data_dir = entries.iter().any(|e| {
        e.name == engine::CATALOG
            || (e.is_dir
                && (e.name == engine::WAL_DIR || engine::parse_collection_dir(&e.name).is_some()))
    });
    let wal_dir = entries
        .iter()
        .any(|e| !e.is_dir && cairn_wal::parse_segment_file_name(&e.name).is_some());
    if data_dir {
        Some(Kind::DataDir)
    } else if wal_dir {
        Some(Kind::WalDir)
    } else {
        let found = if entries.is_empty() {
            "an empty directory".to_string()
        } else {
            format!(
                "a directory of {} entries with no CATALOG, wal/, c<id>/ or wal-*.seg",
                entries.len()
            )
        };
        findings.problem(path, 0, EXPECTED_KIND, found);
        None
    }
}

fn render_text(inputs: &[Inspected], findings: &Findings) -> String {
    let mut out = String::new();
    for input in inputs {
        match input {
            Inspected::DataDirectory(r) => datadir_text::render_data_dir(&mut out, r, findings),
            Inspected::WalDirectory(r) => wal_dir::render_wal_dir(&mut out, r, findings),
            Inspected::WalSegment(r) => wal_dir::render_segment(&mut out, r, findings),
            Inspected::PartitionFile(r) => {
                partition_view::render_partition(&mut out, r, findings);
            }
            Inspected::Catalog(r) => datadir_text::render_catalog(&mut out, r, findings),
            Inspected::Manifest(r) => datadir_text::render_manifest(&mut out, r, findings),
            Inspected::Unreadable { .. } => {}
        }
    }
    if !findings.notes.is_empty() {
        out.push_str("notes:\n");
        for n in &findings.notes {
            out.push_str(&format!("  {n}\n"));
        }
    }
    if findings.problems.is_empty() {
        out.push_str("verified: no problems found\n");
    } else {
        out.push_str(&format!("problems ({}):\n", findings.problems.len()));
        for p in &findings.problems {
            out.push_str(&format!("{p}\n"));
        }
    }
    out
}
