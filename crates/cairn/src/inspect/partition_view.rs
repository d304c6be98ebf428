//! What a partition file's footer says, in report form (names for ids, times formatted),
//! and its text rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use cairn_codec::LeafCodec;
use cairn_codec::float::FloatCodec;
use cairn_codec::int::IntCodec;
use cairn_codec::outer::Outer;
use cairn_codec::string::{BoolCodec, StrCodec};
use cairn_storage::{ColumnMeta, ColumnRole, ColumnType, Footer, StatValue, Stats};
use serde::Serialize;

use super::model::{Findings, Table, fmt_bytes, fmt_time_ns, kv_block};
use super::partition::{PartitionReport, is_time};

#[derive(Debug, Serialize)]
pub struct SparseView {
    pub offset: u64,
    pub len: u32,
    pub crc_ok: bool,
    pub block_rows: u32,
    pub blocks: u32,
}

#[derive(Debug, Serialize)]
pub struct DictView {
    pub offset: u64,
    pub len: u32,
    pub entries: u32,
    pub crc_ok: bool,
}

#[derive(Debug, Serialize)]
pub struct PageView {
    pub index: usize,
    pub offset: u64,
    pub len: u32,
    pub rows: u32,
    pub null_count: u32,
    pub codec: String,
    pub outer: String,
    pub crc: String,
    pub crc_ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ColumnView {
    pub name: String,
    pub column_type: &'static str,
    pub role: &'static str,
    pub nullable: bool,
    pub null_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
    pub stored_bytes: u64,
    pub page_count: usize,
    /// Pages per codec chain, e.g. `for+zstd×2 delta×1`.
    pub codecs: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<DictView>,
    /// Every page (with `--pages`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<PageView>,
}

#[derive(Debug, Serialize)]
pub struct FooterView {
    pub footer_offset: u64,
    pub row_count: u64,
    pub page_rows: u32,
    pub schema_version: u32,
    pub wal_lsn: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_min: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_max: Option<i64>,
    pub time_sorted: bool,
    /// 0 none, 1 AES-256-GCM.
    pub cipher: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse_index: Option<SparseView>,
    pub columns: Vec<ColumnView>,
}

impl FooterView {
    pub fn new(f: &Footer, footer_offset: u64) -> Self {
        Self {
            footer_offset,
            row_count: f.row_count,
            page_rows: f.page_rows,
            schema_version: f.schema_version,
            wal_lsn: f.wal_lsn,
            time_min: f.time_range.map(|r| r.0),
            time_max: f.time_range.map(|r| r.1),
            time_sorted: f.time_sorted,
            cipher: u8::from(f.encryption.is_some()),
            key_id: f.encryption.map(|e| e.key_id),
            sparse_index: None,
            columns: Vec::with_capacity(f.columns.len()),
        }
    }
}

fn role_name(r: ColumnRole) -> &'static str {
    match r {
        ColumnRole::Field => "field",
        ColumnRole::Tag => "tag",
        ColumnRole::TimeKey => "time key",
    }
}

/// The name of leaf codec `id` in the family a column's pages use.
fn leaf_name(t: ColumnType, dictionary: bool, id: u8) -> String {
    let codec = match (t, dictionary) {
        (ColumnType::String, true) | (ColumnType::Timestamp | ColumnType::I64, _) => {
            IntCodec::from_id(id).map(LeafCodec::Int)
        }
        (ColumnType::U64, _) => IntCodec::from_id(id).map(LeafCodec::Int),
        (ColumnType::F64, _) => FloatCodec::from_id(id).map(LeafCodec::Float),
        (ColumnType::Bool, _) => BoolCodec::from_id(id).map(LeafCodec::Bool),
        (ColumnType::String, false) => StrCodec::from_id(id).map(LeafCodec::Str),
    };
    codec.map_or_else(|_| format!("codec {id}?"), |c| c.name().to_string())
}

fn outer_name(id: u8) -> String {
    Outer::from_id(id).map_or_else(|_| format!("outer {id}?"), |o| o.name().to_string())
}

/// A bound as text: timestamps as UTC times, strings quoted (cut ones end in `…`).
fn stat_text(t: ColumnType, v: &StatValue) -> String {
    match v {
        StatValue::I64(x) if is_time(t) => fmt_time_ns(*x),
        StatValue::I64(x) => x.to_string(),
        StatValue::U64(x) => x.to_string(),
        StatValue::F64(x) => x.to_string(),
        StatValue::Bool(x) => x.to_string(),
        StatValue::Bytes { value, truncated } => {
            let s = String::from_utf8_lossy(value);
            let mut shown: String = s.chars().take(40).collect();
            if *truncated || shown.len() < s.len() {
                shown.push('…');
            }
            format!("{shown:?}")
        }
    }
}

fn bounds(t: ColumnType, s: &Stats) -> (Option<String>, Option<String>) {
    (
        s.min().map(|v| stat_text(t, v)),
        s.max().map(|v| stat_text(t, v)),
    )
}

/// The report form of a column (with every page when `pages`).
pub fn column_view(c: &ColumnMeta, pages: bool) -> ColumnView {
    let t = c.spec.column_type;
    let dict = c.dictionary.is_some();
    let chain = |codec: u8, outer: u8| {
        let o = outer_name(outer);
        if o == "none" {
            leaf_name(t, dict, codec)
        } else {
            format!("{}+{o}", leaf_name(t, dict, codec))
        }
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in &c.pages {
        *counts.entry(chain(p.codec, p.outer)).or_default() += 1;
    }
    let codecs: Vec<String> = counts.iter().map(|(k, n)| format!("{k}×{n}")).collect();
    let (min, max) = bounds(t, &c.stats);
    let page_views = if pages {
        c.pages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (min, max) = bounds(t, &p.stats);
                PageView {
                    index: i,
                    offset: p.extent.offset,
                    len: p.extent.len,
                    rows: p.rows,
                    null_count: p.null_count,
                    codec: leaf_name(t, dict, p.codec),
                    outer: outer_name(p.outer),
                    crc: format!("{:#010x}", p.extent.crc),
                    crc_ok: true,
                    min,
                    max,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    ColumnView {
        name: c.spec.name.clone(),
        column_type: t.name(),
        role: role_name(c.spec.role),
        nullable: c.spec.nullable,
        null_count: c.null_count,
        min,
        max,
        stored_bytes: c.stored_bytes(),
        page_count: c.pages.len(),
        codecs: codecs.join(" "),
        dictionary: c.dictionary.map(|d| DictView {
            offset: d.extent.offset,
            len: d.extent.len,
            entries: d.entries,
            crc_ok: true,
        }),
        pages: page_views,
    }
}

fn ok(b: bool) -> &'static str {
    if b { "OK" } else { "BAD" }
}

/// The text form of a partition file report.
pub fn render_partition(out: &mut String, r: &PartitionReport, f: &Findings) {
    let context = r
        .context
        .as_ref()
        .map_or(String::new(), |c| format!(" ({c})"));
    let _ignored = writeln!(out, "partition file {}{context}", r.path);
    let mut kv: Vec<(&str, String)> = vec![(
        "file bytes",
        format!("{} ({})", r.file_bytes, fmt_bytes(r.file_bytes)),
    )];
    if let Some(t) = &r.tail {
        kv.push(("magic / version", format!("{} / {}", t.magic, t.version)));
        kv.push((
            "footer",
            format!(
                "offset {}, {} bytes, CRC32C {} {}",
                t.footer_offset,
                t.footer_len,
                t.footer_crc,
                ok(t.footer_crc_ok)
            ),
        ));
    }
    if let Some(v) = &r.footer {
        footer_lines(&mut kv, v);
        let decoded = r
            .pages_decoded
            .map_or(String::new(), |n| format!(", {n} pages decoded"));
        kv.push((
            "checksums",
            format!(
                "{} regions checked, {} bad{decoded}",
                r.regions_checked, r.regions_bad
            ),
        ));
    }
    kv_block(out, &kv);
    if let Some(v) = &r.footer {
        column_table(out, v);
        for c in v.columns.iter().filter(|c| !c.pages.is_empty()) {
            let _ignored = writeln!(out, "  pages of {:?}:", c.name);
            let mut t = Table::new(&[
                ("page", true),
                ("offset", true),
                ("length", true),
                ("rows", true),
                ("nulls", true),
                ("codec", false),
                ("outer", false),
                ("CRC32C", false),
                ("min", false),
                ("max", false),
            ]);
            for p in &c.pages {
                t.row(vec![
                    p.index.to_string(),
                    p.offset.to_string(),
                    p.len.to_string(),
                    p.rows.to_string(),
                    p.null_count.to_string(),
                    p.codec.clone(),
                    p.outer.clone(),
                    format!("{} {}", p.crc, ok(p.crc_ok)),
                    p.min.clone().unwrap_or_default(),
                    p.max.clone().unwrap_or_default(),
                ]);
            }
            t.render(out, 4);
        }
    }
    for line in f.lines_for(Path::new(&r.path)) {
        let _ignored = writeln!(out, "  {line}");
    }
    out.push('\n');
}

fn footer_lines(kv: &mut Vec<(&str, String)>, v: &FooterView) {
    kv.push((
        "rows",
        format!("{} ({} rows per page)", v.row_count, v.page_rows),
    ));
    if let (Some(lo), Some(hi)) = (v.time_min, v.time_max) {
        let sorted = if v.time_sorted { ", sorted" } else { "" };
        kv.push((
            "time range",
            format!("{} ..= {}{sorted}", fmt_time_ns(lo), fmt_time_ns(hi)),
        ));
    }
    kv.push(("WAL LSN covered", v.wal_lsn.to_string()));
    kv.push(("schema version", v.schema_version.to_string()));
    kv.push((
        "cipher",
        match v.key_id {
            Some(id) => format!("1 (AES-256-GCM, key id {id})"),
            None => "0 (none)".into(),
        },
    ));
    if let Some(s) = &v.sparse_index {
        kv.push((
            "sparse index",
            format!(
                "offset {}, {} bytes, {} blocks of {} rows, CRC32C {}",
                s.offset,
                s.len,
                s.blocks,
                s.block_rows,
                ok(s.crc_ok)
            ),
        ));
    }
}

fn column_table(out: &mut String, v: &FooterView) {
    let mut t = Table::new(&[
        ("column", false),
        ("type", false),
        ("role", false),
        ("nulls", true),
        ("pages", true),
        ("bytes", true),
        ("codecs", false),
        ("dictionary", false),
        ("min", false),
        ("max", false),
    ]);
    for c in &v.columns {
        let dict = c.dictionary.as_ref().map_or(String::new(), |d| {
            format!("{} entries, {} B {}", d.entries, d.len, ok(d.crc_ok))
        });
        t.row(vec![
            c.name.clone(),
            c.column_type.to_string(),
            c.role.to_string(),
            c.null_count.to_string(),
            c.page_count.to_string(),
            c.stored_bytes.to_string(),
            c.codecs.clone(),
            dict,
            c.min.clone().unwrap_or_default(),
            c.max.clone().unwrap_or_default(),
        ]);
    }
    t.render(out, 2);
}
