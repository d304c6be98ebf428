//! A WAL directory (every segment, in LSN order, with the chain between them checked), a
//! segment's place in its log when a single file is given, and the text form of both.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cairn_io::Fs;
use cairn_wal::parse_segment_file_name;
use serde::Serialize;

use super::Options;
use super::model::{Findings, Table, fmt_bytes, kv_block};
use super::wal::{End, Position, SegmentReport, inspect_segment, read_header};

#[derive(Debug, Serialize)]
pub struct WalDirReport {
    pub path: String,
    pub segment_count: usize,
    pub records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_lsn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_lsn: Option<u64>,
    pub file_bytes: u64,
    pub segments: Vec<SegmentReport>,
}

/// The segment files of `dir` in LSN order; leftovers and strangers become notes.
fn list_segments(fs: &dyn Fs, dir: &Path, findings: &mut Findings) -> Vec<(u64, PathBuf)> {
    let entries = match fs.list_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            findings.io(dir, "a readable WAL directory", &e);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for e in entries {
        let path = dir.join(&e.name);
        if let Some(lsn) = parse_segment_file_name(&e.name).filter(|_| !e.is_dir) {
            out.push((lsn, path));
        } else if e.name.ends_with(".seg.tmp") {
            findings.note(
                &path,
                None,
                "orphan: a segment that was being created (the next open deletes it)",
            );
        } else if e.name != cairn_engine::inspect::LOCK {
            findings.note(&path, None, "orphan: not part of a WAL (ignored)");
        }
    }
    out.sort();
    out
}

/// Inspects every segment of the WAL directory `dir`.
pub fn inspect_wal_dir(
    fs: &dyn Fs,
    dir: &Path,
    opts: &Options,
    findings: &mut Findings,
) -> WalDirReport {
    let segments = list_segments(fs, dir, findings);
    let headers: Vec<_> = segments.iter().map(|(_, p)| read_header(fs, p)).collect();
    let mut reports = Vec::with_capacity(segments.len());
    for (i, (_, path)) in segments.iter().enumerate() {
        if i > 0
            && let (Some(prev), Some(this)) = (&headers[i - 1], &headers[i])
            && this.prev_first_lsn != prev.first_lsn
        {
            findings.problem(
                path,
                32,
                format!(
                    "prev_first_lsn {} (the first LSN of the segment before it): a segment \
                     is missing",
                    prev.first_lsn
                ),
                format!("prev_first_lsn {}", this.prev_first_lsn),
            );
        }
        let position = match headers.get(i + 1) {
            None => Position::Last,
            Some(next) => Position::Sealed {
                last_lsn: next.as_ref().map(|h| h.prev_last_lsn),
            },
        };
        reports.push(inspect_segment(fs, path, position, opts, findings));
    }
    WalDirReport {
        path: dir.display().to_string(),
        segment_count: reports.len(),
        records: reports.iter().map(|r| r.records).sum(),
        first_lsn: reports.iter().find_map(|r| r.first_lsn),
        last_lsn: reports.iter().rev().find_map(|r| r.last_lsn),
        file_bytes: reports.iter().map(|r| r.file_bytes).sum(),
        segments: reports,
    }
}

/// A segment given on its own: its place among the segments beside it decides whether its
/// end may be a torn tail.
pub fn position_of(fs: &dyn Fs, path: &Path) -> Position {
    let Some(own) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_segment_file_name)
    else {
        return Position::Last;
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = fs.list_dir(dir) else {
        return Position::Last;
    };
    let next = entries
        .iter()
        .filter(|e| !e.is_dir)
        .filter_map(|e| parse_segment_file_name(&e.name).map(|lsn| (lsn, &e.name)))
        .filter(|(lsn, _)| *lsn > own)
        .min();
    match next {
        None => Position::Last,
        Some((_, name)) => Position::Sealed {
            last_lsn: read_header(fs, &dir.join(name)).map(|h| h.prev_last_lsn),
        },
    }
}

pub fn lsn_range(first: Option<u64>, last: Option<u64>) -> String {
    match (first, last) {
        (Some(a), Some(b)) => format!("{a}..={b}"),
        _ => "none".into(),
    }
}

/// The text form of a WAL directory: a summary line per segment, then each segment.
pub fn render_wal_dir(out: &mut String, r: &WalDirReport, findings: &Findings) {
    let _ignored = writeln!(out, "WAL directory {}", r.path);
    kv_block(
        out,
        &[
            ("segments", r.segment_count.to_string()),
            ("records", r.records.to_string()),
            ("LSN range", lsn_range(r.first_lsn, r.last_lsn)),
            ("bytes", fmt_bytes(r.file_bytes)),
        ],
    );
    out.push('\n');
    for s in &r.segments {
        render_segment(out, s, findings);
    }
}

fn describe_end(end: &End, unused: u64) -> String {
    match end {
        End::Clean { offset } => {
            format!("clean at offset {offset} ({unused} bytes of zeros after)")
        }
        End::TornTail {
            offset,
            bytes,
            later_frames,
            ..
        } => format!(
            "TORN TAIL at offset {offset} ({bytes} bytes, {later_frames} later frames; \
             recovery cuts them, not an error)"
        ),
        End::Corrupt { offset, .. } => format!("CORRUPT at offset {offset}"),
        End::Unreadable => "unreadable".into(),
    }
}

/// The text form of one segment.
pub fn render_segment(out: &mut String, s: &SegmentReport, findings: &Findings) {
    let role = if s.last_segment {
        "last segment"
    } else {
        "sealed"
    };
    let _ignored = writeln!(out, "WAL segment {} ({role})", s.path);
    let mut kv: Vec<(&str, String)> = Vec::new();
    if let Some(h) = &s.header {
        kv.push(("format version", h.format_version.to_string()));
        kv.push((
            "header / block",
            format!("{} / {} bytes", h.header_bytes, h.block_bytes),
        ));
        kv.push(("segment id", h.segment_id.clone()));
        kv.push(("first LSN", h.first_lsn.to_string()));
        kv.push(("prev first LSN", h.prev_first_lsn.to_string()));
        kv.push(("prev last LSN", h.prev_last_lsn.to_string()));
        kv.push((
            "created",
            format!("{} ({} ms)", h.created, h.created_unix_ms),
        ));
        kv.push((
            "cipher",
            match h.key_id {
                Some(id) => format!("1 (AES-256-GCM, key id {id})"),
                None => "0 (none)".into(),
            },
        ));
        kv.push((
            "file bytes",
            format!("{} ({})", s.file_bytes, fmt_bytes(s.file_bytes)),
        ));
        kv.push((
            "records",
            format!("{}, LSN {}", s.records, lsn_range(s.first_lsn, s.last_lsn)),
        ));
        let types: Vec<String> = s
            .by_type
            .iter()
            .map(|t| format!("{} {} ({} B)", t.name, t.records, t.payload_bytes))
            .collect();
        if !types.is_empty() {
            kv.push(("by type", types.join(", ")));
        }
        kv.push(("record bytes", s.record_bytes.to_string()));
        kv.push((
            "flushes",
            format!(
                "{} ({} bytes of padding; highest durable claim LSN {})",
                s.flushes, s.padding_bytes, s.durable_claim
            ),
        ));
        if let Some(n) = s.decoded {
            kv.push(("decoded", format!("{n} of {} record payloads", s.records)));
        }
        kv.push(("end", describe_end(&s.end, s.unused_bytes)));
    }
    kv_block(out, &kv);
    if !s.record_list.is_empty() {
        let mut t = Table::new(&[
            ("LSN", true),
            ("type", false),
            ("flags", false),
            ("length", true),
            ("offset", true),
            ("payload", false),
        ]);
        for r in &s.record_list {
            t.row(vec![
                r.lsn.to_string(),
                r.type_name.clone(),
                r.flag_names.clone(),
                r.payload_len.to_string(),
                r.offset.to_string(),
                r.detail.clone().unwrap_or_default(),
            ]);
        }
        t.render(out, 4);
    }
    for line in findings.lines_for(Path::new(&s.path)) {
        let _ignored = writeln!(out, "  {line}");
    }
    out.push('\n');
}
