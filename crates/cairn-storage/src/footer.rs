//! The footer body: everything a reader needs to plan reads without touching a page.
//! The byte layout is in `docs/formats/partition.md`; [`Footer::encode`] and
//! [`Footer::decode`] are its one encoder/decoder pair.

use cairn_codec::bytes::{Reader, put_i64, put_u8, put_u16, put_u32, put_u64};
use cairn_codec::page::MAX_PAGE_ROWS;
use cairn_codec::{CodecError, bitpack::VECTOR};
use cairn_crypto::{KEY_CHECK_BYTES, SALT_BYTES};

use crate::schema::{
    ColumnRole, ColumnSpec, ColumnType, MAX_COLUMN_NAME_BYTES, MAX_COLUMNS, Schema,
};
use crate::stats::Stats;

const FLAG_TIME_RANGE: u32 = 1;
const FLAG_TIME_SORTED: u32 = 1 << 1;
const FLAG_ENCRYPTED: u32 = 1 << 2;
const FLAG_SPARSE_INDEX: u32 = 1 << 3;
const KNOWN_FLAGS: u32 = 0b1111;
const COLUMN_NULLABLE: u8 = 1;
const COLUMN_DICTIONARY: u8 = 1 << 1;
/// Smallest possible encoded page entry (offset, len, crc, rows, nulls, codec, outer, stats).
const MIN_PAGE_ENTRY_BYTES: usize = 8 + 4 + 4 + 4 + 4 + 1 + 1 + 1;

/// Where a checksummed region lives in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    /// Bytes as stored (for encrypted pages: ciphertext and tag).
    pub len: u32,
    /// CRC32C of the stored bytes.
    pub crc: u32,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }
}

/// One data page of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct PageMeta {
    pub extent: Extent,
    pub rows: u32,
    pub null_count: u32,
    /// The page's leaf codec and outer stage ids (also in the page header; here for tools).
    pub codec: u8,
    pub outer: u8,
    pub stats: Stats,
}

/// A column's dictionary page (sorted distinct strings; data pages hold codes into it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DictionaryMeta {
    pub extent: Extent,
    pub entries: u32,
}

/// One column: its schema entry, totals and pages.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMeta {
    pub spec: ColumnSpec,
    pub dictionary: Option<DictionaryMeta>,
    pub null_count: u64,
    /// Bounds over the whole column (strings cut at 1 KiB, flagged when cut).
    pub stats: Stats,
    pub pages: Vec<PageMeta>,
}

impl ColumnMeta {
    /// Bytes of the column's pages and dictionary as stored.
    pub fn stored_bytes(&self) -> u64 {
        let d = self.dictionary.map_or(0, |d| u64::from(d.extent.len));
        d + self
            .pages
            .iter()
            .map(|p| u64::from(p.extent.len))
            .sum::<u64>()
    }
}

/// How the file is encrypted (pages and the sparse index; the footer is authenticated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptionMeta {
    pub key_id: u32,
    pub salt: [u8; SALT_BYTES],
    pub key_check: [u8; KEY_CHECK_BYTES],
}

/// The sparse time index: min and max of the TIME_KEY per block of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparseIndexMeta {
    pub extent: Extent,
    pub block_rows: u32,
    pub blocks: u32,
}

/// The decoded footer.
#[derive(Debug, Clone, PartialEq)]
pub struct Footer {
    pub row_count: u64,
    /// Rows per page (the last page of a column may hold fewer).
    pub page_rows: u32,
    pub schema_version: u32,
    /// Every row in the file was logged at or below this WAL LSN.
    pub wal_lsn: u64,
    /// Inclusive TIME_KEY range (None without a time key or rows).
    pub time_range: Option<(i64, i64)>,
    /// Rows are in non-decreasing TIME_KEY order.
    pub time_sorted: bool,
    pub encryption: Option<EncryptionMeta>,
    pub sparse_index: Option<SparseIndexMeta>,
    pub columns: Vec<ColumnMeta>,
}

impl Footer {
    pub fn schema(&self) -> Schema {
        Schema {
            columns: self.columns.iter().map(|c| c.spec.clone()).collect(),
        }
    }

    pub fn page_count(&self) -> usize {
        page_count(self.row_count, self.page_rows)
    }

    /// Encodes the body (without the GCM tag, which the writer appends when encrypting).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut flags = 0;
        if self.time_range.is_some() {
            flags |= FLAG_TIME_RANGE;
        }
        if self.time_sorted {
            flags |= FLAG_TIME_SORTED;
        }
        if self.encryption.is_some() {
            flags |= FLAG_ENCRYPTED;
        }
        if self.sparse_index.is_some() {
            flags |= FLAG_SPARSE_INDEX;
        }
        put_u32(&mut out, flags);
        put_u64(&mut out, self.row_count);
        put_u32(&mut out, self.page_rows);
        put_u32(&mut out, self.schema_version);
        put_u64(&mut out, self.wal_lsn);
        let (lo, hi) = self.time_range.unwrap_or((0, 0));
        put_i64(&mut out, lo);
        put_i64(&mut out, hi);
        if let Some(e) = &self.encryption {
            put_u32(&mut out, e.key_id);
            out.extend_from_slice(&e.salt);
            out.extend_from_slice(&e.key_check);
        }
        if let Some(s) = &self.sparse_index {
            put_extent(&mut out, &s.extent);
            put_u32(&mut out, s.block_rows);
            put_u32(&mut out, s.blocks);
        }
        put_u16(&mut out, self.columns.len() as u16);
        for c in &self.columns {
            put_u8(&mut out, c.spec.name.len() as u8);
            out.extend_from_slice(c.spec.name.as_bytes());
            put_u8(&mut out, c.spec.column_type.id());
            put_u8(&mut out, c.spec.role.id());
            let mut cf = 0;
            if c.spec.nullable {
                cf |= COLUMN_NULLABLE;
            }
            if c.dictionary.is_some() {
                cf |= COLUMN_DICTIONARY;
            }
            put_u8(&mut out, cf);
            put_u64(&mut out, c.null_count);
            c.stats.encode(&mut out);
            if let Some(d) = &c.dictionary {
                put_extent(&mut out, &d.extent);
                put_u32(&mut out, d.entries);
            }
            put_u32(&mut out, c.pages.len() as u32);
            for p in &c.pages {
                put_extent(&mut out, &p.extent);
                put_u32(&mut out, p.rows);
                put_u32(&mut out, p.null_count);
                put_u8(&mut out, p.codec);
                put_u8(&mut out, p.outer);
                p.stats.encode(&mut out);
            }
        }
        out
    }

    /// Decodes and validates a footer body (`body` excludes the GCM tag). `data_end` is the
    /// offset where the footer starts: every page must lie below it.
    pub fn decode(body: &[u8], data_end: u64) -> Result<Footer, FooterError> {
        let mut r = Reader::new(body);
        decode_inner(&mut r, data_end).map_err(|reason| FooterError {
            offset: r.position() as u64,
            reason,
        })
    }

    /// Whether the body is followed by a GCM tag (read from the flags without decoding).
    pub fn body_is_encrypted(body: &[u8]) -> bool {
        body.get(..4)
            .is_some_and(|f| u32::from_le_bytes([f[0], f[1], f[2], f[3]]) & FLAG_ENCRYPTED != 0)
    }
}

/// Why a footer body is invalid, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct FooterError {
    pub offset: u64,
    pub reason: CodecError,
}

/// Pages of a column with `rows` rows at `page_rows` per page.
pub fn page_count(rows: u64, page_rows: u32) -> usize {
    if page_rows == 0 {
        0
    } else {
        rows.div_ceil(u64::from(page_rows)) as usize
    }
}

fn put_extent(out: &mut Vec<u8>, e: &Extent) {
    put_u64(out, e.offset);
    put_u32(out, e.len);
    put_u32(out, e.crc);
}

fn get_extent(r: &mut Reader<'_>, data_end: u64, what: &'static str) -> Result<Extent, CodecError> {
    let e = Extent {
        offset: r.u64(what)?,
        len: r.u32(what)?,
        crc: r.u32(what)?,
    };
    match e.offset.checked_add(u64::from(e.len)) {
        Some(end) if end <= data_end => Ok(e),
        _ => Err(CodecError::Invalid {
            field: what,
            value: e.offset,
            allowed: "an extent below the footer",
        }),
    }
}

fn invalid(field: &'static str, value: u64, allowed: &'static str) -> CodecError {
    CodecError::Invalid {
        field,
        value,
        allowed,
    }
}

fn decode_inner(r: &mut Reader<'_>, data_end: u64) -> Result<Footer, CodecError> {
    let flags = r.u32("footer flags")?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(invalid("footer flags", u64::from(flags), "bits 0..=3"));
    }
    let row_count = r.u64("row count")?;
    let page_rows = r.u32("page rows")?;
    if page_rows == 0
        || page_rows as usize > MAX_PAGE_ROWS
        || !(page_rows as usize).is_multiple_of(VECTOR)
    {
        return Err(invalid(
            "page rows",
            u64::from(page_rows),
            "a multiple of 1024 up to 1048576",
        ));
    }
    let schema_version = r.u32("schema version")?;
    let wal_lsn = r.u64("WAL LSN")?;
    let lo = r.i64("min timestamp")?;
    let hi = r.i64("max timestamp")?;
    let time_range = (flags & FLAG_TIME_RANGE != 0).then_some((lo, hi));
    if time_range.is_some_and(|(lo, hi)| lo > hi) {
        return Err(invalid("time range", lo as u64, "min <= max"));
    }
    let encryption = if flags & FLAG_ENCRYPTED != 0 {
        let key_id = r.u32("key id")?;
        let mut salt = [0u8; SALT_BYTES];
        salt.copy_from_slice(r.take(SALT_BYTES, "salt")?);
        let mut key_check = [0u8; KEY_CHECK_BYTES];
        key_check.copy_from_slice(r.take(KEY_CHECK_BYTES, "key check")?);
        Some(EncryptionMeta {
            key_id,
            salt,
            key_check,
        })
    } else {
        None
    };
    let pages = page_count(row_count, page_rows);
    let sparse_index = if flags & FLAG_SPARSE_INDEX != 0 {
        let extent = get_extent(r, data_end, "sparse index extent")?;
        let block_rows = r.u32("sparse block rows")?;
        let blocks = r.u32("sparse blocks")?;
        if block_rows == 0 || !page_rows.is_multiple_of(block_rows) {
            return Err(invalid(
                "sparse block rows",
                u64::from(block_rows),
                "a divisor of page rows",
            ));
        }
        if u64::from(blocks) != row_count.div_ceil(u64::from(block_rows)) {
            return Err(invalid(
                "sparse blocks",
                u64::from(blocks),
                "ceil(rows / block rows)",
            ));
        }
        Some(SparseIndexMeta {
            extent,
            block_rows,
            blocks,
        })
    } else {
        None
    };
    let ncols = r.u16("column count")? as usize;
    if ncols == 0 || ncols > MAX_COLUMNS {
        return Err(invalid("column count", ncols as u64, "1..=4096"));
    }
    let mut columns = Vec::with_capacity(ncols.min(r.remaining()));
    let mut time_keys = 0;
    for _ in 0..ncols {
        let c = decode_column(r, row_count, page_rows, pages, data_end)?;
        if c.spec.role == ColumnRole::TimeKey {
            time_keys += 1;
        }
        if columns
            .iter()
            .any(|o: &ColumnMeta| o.spec.name == c.spec.name)
        {
            return Err(invalid("column name", 0, "unique names"));
        }
        columns.push(c);
    }
    if time_keys > 1 {
        return Err(invalid("TIME_KEY columns", time_keys, "at most one"));
    }
    r.finish("footer body")?;
    Ok(Footer {
        row_count,
        page_rows,
        schema_version,
        wal_lsn,
        time_range,
        time_sorted: flags & FLAG_TIME_SORTED != 0,
        encryption,
        sparse_index,
        columns,
    })
}

fn decode_column(
    r: &mut Reader<'_>,
    row_count: u64,
    page_rows: u32,
    pages: usize,
    data_end: u64,
) -> Result<ColumnMeta, CodecError> {
    let name_len = r.u8("column name length")? as usize;
    if name_len == 0 || name_len > MAX_COLUMN_NAME_BYTES {
        return Err(invalid("column name length", name_len as u64, "1..=255"));
    }
    let name = std::str::from_utf8(r.take(name_len, "column name")?)
        .map_err(|_| CodecError::InvalidUtf8 { index: 0 })?
        .to_string();
    let type_id = r.u8("column type")?;
    let column_type = ColumnType::from_id(type_id).ok_or(CodecError::UnknownId {
        what: "column type",
        id: type_id,
    })?;
    let role_id = r.u8("column role")?;
    let role = ColumnRole::from_id(role_id).ok_or(CodecError::UnknownId {
        what: "column role",
        id: role_id,
    })?;
    let cf = r.u8("column flags")?;
    if cf & !(COLUMN_NULLABLE | COLUMN_DICTIONARY) != 0 {
        return Err(invalid("column flags", u64::from(cf), "bits 0..=1"));
    }
    if cf & COLUMN_DICTIONARY != 0 && column_type != ColumnType::String {
        return Err(invalid(
            "column flags",
            u64::from(cf),
            "a dictionary only on string columns",
        ));
    }
    let spec = ColumnSpec {
        name,
        column_type,
        role,
        nullable: cf & COLUMN_NULLABLE != 0,
    };
    if role == ColumnRole::TimeKey && (column_type != ColumnType::Timestamp || spec.nullable) {
        return Err(invalid(
            "TIME_KEY column",
            u64::from(type_id),
            "a non-nullable timestamp",
        ));
    }
    let null_count = r.u64("column null count")?;
    if null_count > row_count || (!spec.nullable && null_count != 0) {
        return Err(invalid(
            "column null count",
            null_count,
            "<= rows, 0 if not nullable",
        ));
    }
    let stats = Stats::decode(r, column_type)?;
    let dictionary = if cf & COLUMN_DICTIONARY != 0 {
        let extent = get_extent(r, data_end, "dictionary extent")?;
        let entries = r.u32("dictionary entries")?;
        if entries as usize > MAX_PAGE_ROWS {
            return Err(invalid(
                "dictionary entries",
                u64::from(entries),
                "<= 1048576",
            ));
        }
        Some(DictionaryMeta { extent, entries })
    } else {
        None
    };
    let n = r.u32("page count")? as usize;
    if n != pages {
        return Err(CodecError::Mismatch {
            what: "page count",
            expected: pages as u64,
            found: n as u64,
        });
    }
    if n.saturating_mul(MIN_PAGE_ENTRY_BYTES) > r.remaining() {
        return Err(invalid(
            "page count",
            n as u64,
            "no more entries than the footer holds",
        ));
    }
    let mut out = Vec::with_capacity(n);
    let mut nulls = 0u64;
    for i in 0..n {
        let extent = get_extent(r, data_end, "page extent")?;
        let rows = r.u32("page rows")?;
        let expected = (row_count - i as u64 * u64::from(page_rows)).min(u64::from(page_rows));
        if u64::from(rows) != expected {
            return Err(CodecError::Mismatch {
                what: "page row count",
                expected,
                found: u64::from(rows),
            });
        }
        let null_count = r.u32("page null count")?;
        if null_count > rows {
            return Err(invalid(
                "page null count",
                u64::from(null_count),
                "<= page rows",
            ));
        }
        nulls += u64::from(null_count);
        let codec = r.u8("page codec")?;
        let outer = r.u8("page outer stage")?;
        let stats = Stats::decode(r, column_type)?;
        out.push(PageMeta {
            extent,
            rows,
            null_count,
            codec,
            outer,
            stats,
        });
    }
    if nulls != null_count {
        return Err(CodecError::Mismatch {
            what: "column null count",
            expected: nulls,
            found: null_count,
        });
    }
    Ok(ColumnMeta {
        spec,
        dictionary,
        null_count,
        stats,
        pages: out,
    })
}
