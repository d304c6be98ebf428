//! Partition files: the tail and footer checked in the order the reader checks them (each
//! failure reported with its offset, then the file is left alone), then every page,
//! dictionary and the sparse index checked against its CRC32C, each plaintext page header
//! against the footer's copy, and with `--decode` every page decoded by the storage reader.

use std::path::Path;

use cairn_codec::PageHeader;
use cairn_codec::ValueType;
use cairn_engine::inspect::FileMeta;
use cairn_io::{File, Fs, OpenOptions};
use cairn_storage::{
    ColumnMeta, ColumnType, Extent, FORMAT_VERSION, Footer, MAGIC, PartitionReader, ReadOptions,
    TAIL_BYTES, Tail,
};
use serde::Serialize;

use super::Options;
use super::model::{Findings, fmt_time_ns, printable};
use super::partition_view::{ColumnView, FooterView, SparseView, column_view};

/// Largest footer the reader accepts (`docs/formats/partition.md`).
const MAX_FOOTER_BYTES: u64 = 256 << 20;
/// Bytes of the GCM tag after an encrypted footer body.
const TAG_BYTES: usize = 16;

#[derive(Debug, Serialize)]
pub struct TailView {
    pub magic: String,
    pub version: u16,
    pub footer_offset: u64,
    pub footer_len: u32,
    pub footer_crc: String,
    pub footer_crc_ok: bool,
}

#[derive(Debug, Serialize)]
pub struct PartitionReport {
    pub path: String,
    /// Where the file belongs (collection and time partition), in a data directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    pub file_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail: Option<TailView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<FooterView>,
    /// Data pages, dictionary pages and the sparse index whose CRC32C was checked.
    pub regions_checked: u64,
    pub regions_bad: u64,
    /// Pages decoded with `--decode` (`None` without it or when the file is encrypted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages_decoded: Option<u64>,
}

/// Reads `len` bytes at `offset`.
fn read_at(file: &dyn File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Inspects the partition file at `path`; `expect` is its manifest entry, if any.
pub fn inspect_partition(
    fs: &dyn Fs,
    path: &Path,
    expect: Option<&FileMeta>,
    opts: &Options,
    findings: &mut Findings,
) -> PartitionReport {
    let mut report = PartitionReport {
        path: path.display().to_string(),
        context: None,
        file_bytes: 0,
        tail: None,
        footer: None,
        regions_checked: 0,
        regions_bad: 0,
        pages_decoded: None,
    };
    let file = match fs.open(path, OpenOptions::read()) {
        Ok(f) => f,
        Err(e) => {
            findings.io(path, "a readable partition file", &e);
            return report;
        }
    };
    let footer = match read_footer(&*file, path, &mut report, expect, findings) {
        Ok(Some(f)) => f,
        Ok(None) => return report,
        Err(e) => {
            findings.io(path, "a readable partition file", &e);
            return report;
        }
    };
    if let Some(e) = &footer.encryption {
        findings.note(
            path,
            None,
            format!(
                "encrypted (cipher 1, AES-256-GCM, key id {}); checksums of the footer and \
                 every page verified; the footer tag and page contents need the key, which \
                 cairn inspect cannot take (cairn has no key file)",
                e.key_id
            ),
        );
    }
    if let Some(m) = expect {
        compare_manifest(path, m, &footer, findings);
    }
    let mut view = FooterView::new(&footer, report.tail.as_ref().map_or(0, |t| t.footer_offset));
    let mut bad_columns = vec![false; footer.columns.len()];
    for (ci, col) in footer.columns.iter().enumerate() {
        let mut cv = column_view(col, opts.pages);
        match check_column(&*file, path, col, &mut cv, &footer, findings) {
            Ok(bad) => {
                report.regions_checked +=
                    u64::from(col.dictionary.is_some()) + col.pages.len() as u64;
                report.regions_bad += bad;
                bad_columns[ci] = bad > 0;
            }
            Err(e) => {
                findings.io(path, "readable column pages", &e);
                bad_columns[ci] = true;
            }
        }
        view.columns.push(cv);
    }
    if let Some(s) = &footer.sparse_index {
        report.regions_checked += 1;
        let ok = check_sparse(&*file, path, &footer, findings);
        if !ok {
            report.regions_bad += 1;
        }
        view.sparse_index = Some(SparseView {
            offset: s.extent.offset,
            len: s.extent.len,
            crc_ok: ok,
            block_rows: s.block_rows,
            blocks: s.blocks,
        });
    }
    if opts.decode && footer.encryption.is_none() {
        report.pages_decoded = Some(decode_pages(fs, path, &footer, &bad_columns, findings));
    }
    report.footer = Some(view);
    report
}

/// The tail and the footer, each check reported at its offset; `None` when the file cannot
/// be read further.
fn read_footer(
    file: &dyn File,
    path: &Path,
    report: &mut PartitionReport,
    expect: Option<&FileMeta>,
    findings: &mut Findings,
) -> std::io::Result<Option<Footer>> {
    let len = file.len_bytes()?;
    report.file_bytes = len;
    if let Some(m) = expect
        && len != m.len_bytes
    {
        findings.problem(
            path,
            len.min(m.len_bytes),
            format!("{} bytes (the length the manifest recorded)", m.len_bytes),
            format!("{len} bytes: the file was truncated or extended"),
        );
    }
    if len < TAIL_BYTES as u64 {
        findings.problem(
            path,
            0,
            format!("a partition file of at least {TAIL_BYTES} bytes (its tail)"),
            format!("{len} bytes"),
        );
        return Ok(None);
    }
    let tail_at = len - TAIL_BYTES as u64;
    let mut tb = [0u8; TAIL_BYTES];
    file.read_exact_at(&mut tb, tail_at)?;
    let tail = Tail::decode(&tb);
    if tail.magic != MAGIC {
        findings.problem(
            path,
            len - 4,
            "magic \"CRNP\" in the last 4 bytes",
            format!(
                "\"{}\": the file was cut or overwritten",
                printable(&tail.magic)
            ),
        );
        return Ok(None);
    }
    if tail.version != FORMAT_VERSION {
        findings.problem(
            path,
            tail_at + 8,
            format!("partition format version {FORMAT_VERSION}"),
            format!("version {}", tail.version),
        );
        return Ok(None);
    }
    let footer_len = u64::from(tail.footer_len);
    if footer_len > tail_at || footer_len > MAX_FOOTER_BYTES {
        findings.problem(
            path,
            tail_at,
            format!(
                "a footer length of at most {} bytes",
                tail_at.min(MAX_FOOTER_BYTES)
            ),
            format!("{footer_len} bytes"),
        );
        return Ok(None);
    }
    let footer_at = tail_at - footer_len;
    let body = read_at(file, footer_at, footer_len)?;
    let computed = crc32c::crc32c(&body);
    let crc_ok = computed == tail.footer_crc;
    report.tail = Some(TailView {
        magic: printable(&tail.magic),
        version: tail.version,
        footer_offset: footer_at,
        footer_len: tail.footer_len,
        footer_crc: format!("{:#010x}", tail.footer_crc),
        footer_crc_ok: crc_ok,
    });
    if !crc_ok {
        findings.problem(
            path,
            footer_at,
            format!("footer CRC32C {:#010x}", tail.footer_crc),
            format!("{computed:#010x} over the footer's {footer_len} bytes"),
        );
        return Ok(None);
    }
    let plain_len = if Footer::body_is_encrypted(&body) {
        body.len().checked_sub(TAG_BYTES)
    } else {
        Some(body.len())
    };
    let Some(plain_len) = plain_len else {
        findings.problem(
            path,
            footer_at,
            "an encrypted footer with its 16-byte tag",
            format!("{footer_len} bytes"),
        );
        return Ok(None);
    };
    match Footer::decode(&body[..plain_len], footer_at) {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            findings.problem(
                path,
                footer_at + e.offset,
                "a valid footer",
                e.reason.to_string(),
            );
            Ok(None)
        }
    }
}

/// Checks a region's CRC; reports a mismatch and returns false.
fn check_crc(
    path: &Path,
    bytes: &[u8],
    extent: &Extent,
    what: &str,
    findings: &mut Findings,
) -> bool {
    let computed = crc32c::crc32c(bytes);
    if computed == extent.crc {
        return true;
    }
    findings.problem(
        path,
        extent.offset,
        format!(
            "{what} ({} bytes) with CRC32C {:#010x}",
            extent.len, extent.crc
        ),
        format!("{computed:#010x}"),
    );
    false
}

/// Checks a column's dictionary and pages; returns how many regions were bad.
fn check_column(
    file: &dyn File,
    path: &Path,
    col: &ColumnMeta,
    view: &mut ColumnView,
    footer: &Footer,
    findings: &mut Findings,
) -> std::io::Result<u64> {
    let name = &col.spec.name;
    let mut bad = 0;
    if let Some(d) = &col.dictionary {
        let bytes = read_at(file, d.extent.offset, u64::from(d.extent.len))?;
        let what = format!("dictionary page of column {name:?}");
        let ok = check_crc(path, &bytes, &d.extent, &what, findings);
        bad += u64::from(!ok);
        if let Some(dv) = &mut view.dictionary {
            dv.crc_ok = ok;
        }
    }
    let value_type = if col.dictionary.is_some() {
        ValueType::Codes
    } else {
        col.spec.column_type.value_type()
    };
    for (pi, p) in col.pages.iter().enumerate() {
        let bytes = read_at(file, p.extent.offset, u64::from(p.extent.len))?;
        let what = format!("page {pi} of column {name:?}");
        let ok = check_crc(path, &bytes, &p.extent, &what, findings);
        bad += u64::from(!ok);
        if ok && footer.encryption.is_none() {
            check_page_header(path, &bytes, p, value_type, &what, findings);
        }
        if let Some(pv) = view.pages.get_mut(pi) {
            pv.crc_ok = ok;
        }
    }
    Ok(bad)
}

/// The plaintext page header must agree with the footer's copy of it.
fn check_page_header(
    path: &Path,
    bytes: &[u8],
    p: &cairn_storage::PageMeta,
    value_type: ValueType,
    what: &str,
    findings: &mut Findings,
) {
    let at = p.extent.offset;
    let h = match PageHeader::decode(bytes) {
        Ok(h) => h,
        Err(e) => {
            findings.problem(path, at, format!("a valid header of {what}"), e.to_string());
            return;
        }
    };
    let page = (h.value_type.id(), h.codec.id(), h.outer.id(), h.rows);
    let footer = (value_type.id(), p.codec, p.outer, p.rows);
    if page != footer {
        findings.problem(
            path,
            at,
            format!(
                "{what} header as the footer describes it (value type {}, codec {}, outer {}, \
                 {} rows)",
                footer.0, footer.1, footer.2, footer.3
            ),
            format!(
                "value type {}, codec {}, outer {}, {} rows",
                page.0, page.1, page.2, page.3
            ),
        );
    }
}

/// Checks the sparse index's CRC and, when plaintext, its structure.
fn check_sparse(file: &dyn File, path: &Path, footer: &Footer, findings: &mut Findings) -> bool {
    let Some(s) = &footer.sparse_index else {
        return true;
    };
    let bytes = match read_at(file, s.extent.offset, u64::from(s.extent.len)) {
        Ok(b) => b,
        Err(e) => {
            findings.io(path, "a readable sparse time index", &e);
            return false;
        }
    };
    if !check_crc(path, &bytes, &s.extent, "sparse time index", findings) {
        return false;
    }
    if footer.encryption.is_none()
        && let Err(e) = cairn_storage::decode::sparse_index(&bytes, s.blocks as usize)
    {
        findings.problem(
            path,
            s.extent.offset,
            "a valid sparse time index",
            e.to_string(),
        );
        return false;
    }
    true
}

/// Decodes every page of every column whose regions passed their CRCs, one page at a time
/// so each failure names its page; returns the pages decoded.
fn decode_pages(
    fs: &dyn Fs,
    path: &Path,
    footer: &Footer,
    bad_columns: &[bool],
    findings: &mut Findings,
) -> u64 {
    let reader = match PartitionReader::open_file(fs, path, &ReadOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            findings.problem(path, 0, "a partition file the reader opens", e.to_string());
            return 0;
        }
    };
    let mut decoded = 0;
    for (ci, col) in footer.columns.iter().enumerate() {
        if bad_columns.get(ci).copied().unwrap_or(true) {
            continue;
        }
        for (pi, p) in col.pages.iter().enumerate() {
            match reader.read_pages(ci, pi..pi + 1) {
                Ok(_) => decoded += 1,
                Err(e) => findings.problem(
                    path,
                    p.extent.offset,
                    format!("page {pi} of column {:?} to decode", col.spec.name),
                    e.to_string(),
                ),
            }
        }
    }
    decoded
}

/// The manifest entry and the file's footer must agree.
fn compare_manifest(path: &Path, m: &FileMeta, footer: &Footer, findings: &mut Findings) {
    let mut check = |what: &str, manifest: String, file: String| {
        if manifest != file {
            findings.problem(
                path,
                0,
                format!("{what} {manifest} (as the manifest records)"),
                format!("{file} in the footer"),
            );
        }
    };
    check("rows", m.rows.to_string(), footer.row_count.to_string());
    check("max LSN", m.max_lsn.to_string(), footer.wal_lsn.to_string());
    check(
        "encrypted",
        m.encrypted.to_string(),
        footer.encryption.is_some().to_string(),
    );
    if let Some((lo, hi)) = footer.time_range {
        check(
            "time range",
            format!("{}..={}", fmt_time_ns(m.min_ts), fmt_time_ns(m.max_ts)),
            format!("{}..={}", fmt_time_ns(lo), fmt_time_ns(hi)),
        );
    }
}

/// Whether the column's values are timestamps (for formatting bounds).
pub fn is_time(t: ColumnType) -> bool {
    t == ColumnType::Timestamp
}
