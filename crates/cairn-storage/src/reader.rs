//! Reading a partition file: `open` reads the tail and the footer (exactly those bytes, or
//! one speculative read of the file's end for object stores); everything else is positioned reads of just the pages a
//! request needs, each checked against its CRC, decrypted and decoded.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use cairn_codec::string::Dictionary;
use cairn_codec::{CodecError, DecodedValues, ValueType, decode_page};
use cairn_crypto::KeyRing;
use cairn_io::Fs;

use crate::cipher::{FileCipher, Region};
use crate::column::{Column, ColumnData};
use crate::error::{Result, StorageError};
use crate::footer::{ColumnMeta, Extent, Footer};
use crate::schema::ColumnRole;
use crate::source::{ByteSource, FileSource};
use crate::sparse;

mod open;

/// Per-block (min, max) TIME_KEY bounds from the sparse index.
pub type TimeBlocks = Arc<Vec<(i64, i64)>>;

/// How a file is opened.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Keys for encrypted files (required to open one).
    pub keys: Option<KeyRing>,
    /// The length the file had when written (the engine's manifest records it); a shorter
    /// file is reported as truncated instead of as a bad magic.
    pub expected_len: Option<u64>,
    /// Bytes read from the end of the file at open, hoping to get the footer with the tail
    /// in one request. 0 (the default) reads exactly the tail and then exactly the footer,
    /// so no byte outside the footer is touched; a reader over object storage, where a
    /// round trip costs more than a few extra bytes, sets 64 KiB.
    pub open_read_bytes: u64,
}

/// An open partition file.
#[derive(Debug)]
pub struct PartitionReader {
    source: Arc<dyn ByteSource>,
    path: PathBuf,
    len_bytes: u64,
    footer: Footer,
    cipher: Option<FileCipher>,
    dictionaries: Vec<OnceLock<Arc<Dictionary>>>,
    sparse: OnceLock<TimeBlocks>,
}

impl PartitionReader {
    /// Opens a local file.
    pub fn open_file(fs: &dyn Fs, path: &Path, opts: &ReadOptions) -> Result<Self> {
        let src = FileSource::open(fs, path).map_err(|source| StorageError::Io {
            op: "open",
            path: path.to_path_buf(),
            source,
        })?;
        Self::open(Arc::new(src), opts)
    }

    /// Opens a file from any byte source: reads and checks the tail, then reads, checks,
    /// authenticates (if encrypted) and decodes the footer.
    pub fn open(source: Arc<dyn ByteSource>, opts: &ReadOptions) -> Result<Self> {
        let path = source.name().to_path_buf();
        let opened = open::open_footer(source.as_ref(), &path, opts)?;
        let dictionaries = opened
            .footer
            .columns
            .iter()
            .map(|_| OnceLock::new())
            .collect();
        Ok(Self {
            source,
            path,
            len_bytes: opened.len_bytes,
            footer: opened.footer,
            cipher: opened.cipher,
            dictionaries,
            sparse: OnceLock::new(),
        })
    }

    pub fn footer(&self) -> &Footer {
        &self.footer
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    pub fn row_count(&self) -> u64 {
        self.footer.row_count
    }

    /// Index of the column named `name`.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.footer
            .columns
            .iter()
            .position(|c| c.spec.name == name)
            .ok_or_else(|| StorageError::NoSuchColumn(name.to_string()))
    }

    fn column(&self, col: usize) -> Result<&ColumnMeta> {
        self.footer
            .columns
            .get(col)
            .ok_or_else(|| StorageError::NoSuchColumn(format!("#{col}")))
    }

    /// Reads `span` in one positioned read.
    fn read_span(&self, span: Range<u64>) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; (span.end - span.start) as usize];
        self.source
            .read_exact_at(&mut buf, span.start)
            .map_err(|source| StorageError::Io {
                op: "read",
                path: self.path.clone(),
                source,
            })?;
        Ok(buf)
    }

    /// Checks the CRC of a region held in `buf` (which starts at file offset `base`) and
    /// returns its plaintext.
    fn region(
        &self,
        buf: &[u8],
        base: u64,
        extent: &Extent,
        region: Region,
        column: &str,
        what: &str,
    ) -> Result<Vec<u8>> {
        let a = (extent.offset - base) as usize;
        let stored = &buf[a..a + extent.len as usize];
        let computed = crc32c::crc32c(stored);
        if computed != extent.crc {
            return Err(StorageError::PageChecksum {
                path: self.path.clone(),
                column: column.to_string(),
                what: what.to_string(),
                offset: extent.offset,
                len: u64::from(extent.len),
                stored: extent.crc,
                computed,
            });
        }
        let mut plain = stored.to_vec();
        if let Some(c) = &self.cipher
            && !c.open(region, &mut plain)
        {
            return Err(StorageError::TamperedPage {
                path: self.path.clone(),
                column: column.to_string(),
                what: what.to_string(),
                offset: extent.offset,
            });
        }
        Ok(plain)
    }

    fn corrupt(&self, column: &str, what: String, offset: u64, source: CodecError) -> StorageError {
        StorageError::PageCorrupt {
            path: self.path.clone(),
            column: column.to_string(),
            what,
            offset,
            source,
        }
    }

    /// The sorted dictionary of a dictionary-encoded column (read once, then cached).
    pub fn dictionary(&self, col: usize) -> Result<Option<Arc<Dictionary>>> {
        let meta = self.column(col)?;
        let Some(d) = meta.dictionary else {
            return Ok(None);
        };
        if let Some(cached) = self.dictionaries[col].get() {
            return Ok(Some(cached.clone()));
        }
        let buf = self.read_span(d.extent.offset..d.extent.end())?;
        let name = &meta.spec.name;
        let plain = self.region(
            &buf,
            d.extent.offset,
            &d.extent,
            Region::Dictionary { column: col as u32 },
            name,
            "dictionary page",
        )?;
        let page = decode_page(&plain, ValueType::Utf8, d.entries as usize)
            .map_err(|e| self.corrupt(name, "dictionary page".into(), d.extent.offset, e))?;
        let DecodedValues::Utf8 { offsets, data } = page.values else {
            return Err(self.corrupt(
                name,
                "dictionary page".into(),
                d.extent.offset,
                CodecError::Mismatch {
                    what: "dictionary type",
                    expected: 5,
                    found: 0,
                },
            ));
        };
        let dict = Dictionary { offsets, data };
        let sorted = (1..dict.len()).all(|i| dict.get(i - 1) < dict.get(i));
        if page.validity.is_some() || !sorted {
            return Err(self.corrupt(
                name,
                "dictionary page".into(),
                d.extent.offset,
                CodecError::Invalid {
                    field: "dictionary",
                    value: 0,
                    allowed: "sorted distinct present strings",
                },
            ));
        }
        Ok(Some(
            self.dictionaries[col]
                .get_or_init(|| Arc::new(dict))
                .clone(),
        ))
    }

    /// Decodes pages `pages` of column `col`, one [`Column`] per page, with one read.
    pub fn read_pages(&self, col: usize, pages: Range<usize>) -> Result<Vec<Column>> {
        let meta = self.column(col)?;
        let Some(metas) = meta.pages.get(pages.clone()) else {
            return Err(StorageError::InvalidInput(format!(
                "pages {pages:?} of {} in column {:?}",
                meta.pages.len(),
                meta.spec.name
            )));
        };
        if metas.is_empty() {
            return Ok(Vec::new());
        }
        let dict = self.dictionary(col)?;
        let lo = metas.iter().map(|p| p.extent.offset).min().unwrap_or(0);
        let hi = metas.iter().map(|p| p.extent.end()).max().unwrap_or(0);
        let buf = self.read_span(lo..hi)?;
        let name = &meta.spec.name;
        let value_type = if dict.is_some() {
            ValueType::Codes
        } else {
            meta.spec.column_type.value_type()
        };
        let mut out = Vec::with_capacity(metas.len());
        for (pi, p) in pages.zip(metas) {
            let what = || format!("page {pi}");
            let plain = self.region(
                &buf,
                lo,
                &p.extent,
                Region::Data {
                    column: col as u32,
                    page: pi as u32,
                },
                name,
                &what(),
            )?;
            let page = decode_page(&plain, value_type, p.rows as usize)
                .map_err(|e| self.corrupt(name, what(), p.extent.offset, e))?;
            let nulls = page
                .validity
                .as_ref()
                .map_or(0, |v| v.len() - v.count_ones());
            if nulls != p.null_count as usize {
                return Err(self.corrupt(
                    name,
                    what(),
                    p.extent.offset,
                    CodecError::Mismatch {
                        what: "page null count",
                        expected: u64::from(p.null_count),
                        found: nulls as u64,
                    },
                ));
            }
            if let (Some(d), DecodedValues::Codes(codes)) = (&dict, &page.values) {
                let entries = d.offsets.len().saturating_sub(1) as u32;
                if let Some(&bad) = codes.iter().find(|&&c| c >= entries) {
                    return Err(self.corrupt(
                        name,
                        what(),
                        p.extent.offset,
                        CodecError::Invalid {
                            field: "dictionary code",
                            value: u64::from(bad),
                            allowed: "below the dictionary size",
                        },
                    ));
                }
            }
            let column = Column::from_decoded(page.values, page.validity, dict.as_ref())
                .ok_or_else(|| {
                    self.corrupt(
                        name,
                        what(),
                        p.extent.offset,
                        CodecError::Mismatch {
                            what: "codes without a dictionary",
                            expected: 0,
                            found: 1,
                        },
                    )
                })?;
            out.push(column);
        }
        Ok(out)
    }

    /// The whole column `col`.
    pub fn read_column(&self, col: usize) -> Result<Column> {
        let n = self.column(col)?.pages.len();
        self.concat(col, self.read_pages(col, 0..n)?)
    }

    fn concat(&self, col: usize, parts: Vec<Column>) -> Result<Column> {
        if parts.is_empty() {
            return Ok(Column::empty(
                self.column(col)?.spec.column_type,
                self.dictionary(col)?,
            ));
        }
        Column::concat(parts).ok_or_else(|| {
            StorageError::InvalidInput("pages of one column disagree in type".into())
        })
    }

    /// Columns `cols` for rows `rows` (reads only the pages overlapping the range).
    pub fn read_rows(&self, cols: &[usize], rows: Range<u64>) -> Result<Vec<Column>> {
        let rows = rows.start.min(self.row_count())..rows.end.min(self.row_count());
        let page_rows = u64::from(self.footer.page_rows);
        let pages = if rows.is_empty() {
            0..0
        } else {
            (rows.start / page_rows) as usize..rows.end.div_ceil(page_rows) as usize
        };
        let skip = (rows.start - pages.start as u64 * page_rows) as usize;
        cols.iter()
            .map(|&c| {
                let col = self.concat(c, self.read_pages(c, pages.clone())?)?;
                Ok(col.slice(
                    skip.min(col.len()),
                    (skip + (rows.end - rows.start) as usize).min(col.len()),
                ))
            })
            .collect()
    }

    /// Columns `cols` for exactly the rows whose TIME_KEY is in `min..=max`. Pages are
    /// skipped by their time bounds and by the sparse index; rows are then filtered exactly.
    pub fn read_time_range(&self, cols: &[usize], min: i64, max: i64) -> Result<Vec<Column>> {
        let tk = self
            .footer
            .columns
            .iter()
            .position(|c| c.spec.role == ColumnRole::TimeKey);
        let Some(tk) = tk else {
            return Err(StorageError::InvalidInput(
                "the partition has no TIME_KEY column".into(),
            ));
        };
        let pages = self.pages_for_time_range(min, max)?;
        let mut parts: Vec<Vec<Column>> = cols.iter().map(|_| Vec::new()).collect();
        // Consecutive pages of a column are adjacent in the file: one read per run.
        for run in runs(&pages) {
            let times = self.read_pages(tk, run.clone())?;
            let mut keeps = Vec::with_capacity(times.len());
            for t in &times {
                let ColumnData::I64(ts) = &t.data else {
                    return Err(StorageError::InvalidInput(
                        "TIME_KEY pages must hold i64".into(),
                    ));
                };
                keeps.push(
                    ts.iter()
                        .map(|&t| t >= min && t <= max)
                        .collect::<Vec<bool>>(),
                );
            }
            for (i, &c) in cols.iter().enumerate() {
                let run_pages = if c == tk {
                    times.clone()
                } else {
                    self.read_pages(c, run.clone())?
                };
                parts[i].extend(
                    run_pages
                        .iter()
                        .zip(&keeps)
                        .map(|(col, keep)| col.filter(keep)),
                );
            }
        }
        cols.iter()
            .zip(parts)
            .map(|(&c, p)| self.concat(c, p))
            .collect()
    }

    /// Pages that may hold rows with TIME_KEY in `min..=max`: by page bounds, then by the
    /// blocks of the sparse index.
    pub fn pages_for_time_range(&self, min: i64, max: i64) -> Result<Vec<usize>> {
        if self
            .footer
            .time_range
            .is_none_or(|(lo, hi)| hi < min || lo > max)
            || min > max
        {
            return Ok(Vec::new());
        }
        let blocks = self.sparse_index()?;
        let per_page = self
            .footer
            .sparse_index
            .map_or(1, |s| (self.footer.page_rows / s.block_rows) as usize);
        let mut out = Vec::new();
        for p in 0..self.footer.page_count() {
            let hit = match &blocks {
                Some(b) => b
                    .iter()
                    .skip(p * per_page)
                    .take(per_page)
                    .any(|&(lo, hi)| hi >= min && lo <= max),
                None => true,
            };
            if hit {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The sparse time index (per block min/max), read once on first use.
    pub fn sparse_index(&self) -> Result<Option<TimeBlocks>> {
        let Some(s) = self.footer.sparse_index else {
            return Ok(None);
        };
        if let Some(cached) = self.sparse.get() {
            return Ok(Some(cached.clone()));
        }
        let buf = self.read_span(s.extent.offset..s.extent.end())?;
        let plain = self.region(
            &buf,
            s.extent.offset,
            &s.extent,
            Region::SparseIndex,
            "",
            "sparse index",
        )?;
        let blocks = sparse::decode(&plain, s.blocks as usize)
            .map_err(|e| self.corrupt("", "sparse index".into(), s.extent.offset, e))?;
        Ok(Some(self.sparse.get_or_init(|| Arc::new(blocks)).clone()))
    }

    /// The byte ranges holding columns `cols` (dictionary and pages), merged where adjacent:
    /// what an object-store reader fetches after the footer.
    pub fn byte_ranges(&self, cols: &[usize]) -> Result<Vec<Range<u64>>> {
        let mut ranges = Vec::new();
        for &c in cols {
            let m = self.column(c)?;
            ranges.extend(m.dictionary.iter().map(|d| d.extent.offset..d.extent.end()));
            ranges.extend(m.pages.iter().map(|p| p.extent.offset..p.extent.end()));
        }
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u64>> = Vec::new();
        for r in ranges.into_iter().filter(|r| !r.is_empty()) {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        Ok(merged)
    }

    /// HTTP `Range` header values (`bytes=a-b`, inclusive) for columns `cols`.
    pub fn http_ranges(&self, cols: &[usize]) -> Result<Vec<String>> {
        Ok(self
            .byte_ranges(cols)?
            .iter()
            .map(|r| format!("bytes={}-{}", r.start, r.end - 1))
            .collect())
    }

    /// Reads and checks every page, dictionary and the sparse index (for `cairn inspect`).
    pub fn verify(&self) -> Result<()> {
        self.sparse_index()?;
        for c in 0..self.footer.columns.len() {
            let n = self.footer.columns[c].pages.len();
            self.read_pages(c, 0..n)?;
        }
        Ok(())
    }
}

/// Splits sorted page indexes into runs of consecutive pages.
fn runs(pages: &[usize]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for &p in pages {
        match out.last_mut() {
            Some(r) if r.end == p => r.end = p + 1,
            _ => out.push(p..p + 1),
        }
    }
    out
}
