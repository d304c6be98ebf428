//! Writing a partition file: encode every column page by page, then the sparse index, the
//! footer and the tail; all to a temporary name, then fsync, rename and fsync the directory,
//! so a crash leaves either no file or the whole file under its final name.

use std::path::{Path, PathBuf};

use cairn_codec::bitpack::VECTOR;
use cairn_codec::page::MAX_PAGE_ROWS;
use cairn_codec::string::{Dictionary, build_dictionary};
use cairn_codec::{BitmapRef, EncodeOptions, PageInput, PageValues, encode_page};
use cairn_crypto::KeyRing;
use cairn_io::{Fs, OpenOptions};

use crate::cipher::{FileCipher, Region};
use crate::error::{Result, StorageError};
use crate::footer::{
    ColumnMeta, DictionaryMeta, EncryptionMeta, Footer, PageMeta, SparseIndexMeta,
};
use crate::schema::{ColumnRole, ColumnType, Schema};
use crate::sparse;
use crate::stats::{COLUMN_STRING_BOUND_BYTES, PAGE_STRING_BOUND_BYTES, Stats};
use crate::tail::Tail;

/// Bytes buffered before a write is issued.
const WRITE_BUFFER_BYTES: usize = 4 << 20;

mod out;
use out::{MemSink, Out, Sink};

/// When string columns get a dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DictionaryPolicy {
    /// Tags always; other strings when distinct values are at most half the present rows.
    Auto,
    Always,
    Never,
}

/// How a partition file is written.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Rows per page: a multiple of 1024, at most 1,048,576. Larger pages scan faster and
    /// compress better; smaller pages prune finer. Default 65,536.
    pub page_rows: u32,
    /// Rows per block of the sparse time index (a divisor of `page_rows`). Default 1024.
    pub sparse_block_rows: u32,
    pub encode: EncodeOptions,
    pub dictionary: DictionaryPolicy,
    /// Encrypt pages with the ring's current key.
    pub keys: Option<KeyRing>,
    /// Columns encoded at the same time (each on its own thread). The file's bytes do not
    /// depend on it. Default: the machine's cores, at most 4.
    pub threads: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            page_rows: 65_536,
            sparse_block_rows: VECTOR as u32,
            encode: EncodeOptions::default(),
            dictionary: DictionaryPolicy::Auto,
            keys: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        }
    }
}

/// Partition metadata supplied by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionInfo {
    pub schema_version: u32,
    /// Every row in the file was logged at or below this WAL LSN.
    pub wal_lsn: u64,
}

/// One column to write: values for every row and which rows are present (None: all).
/// Timestamp and I64 columns take `PageValues::I64`, strings `PageValues::Utf8`.
#[derive(Debug, Clone, Copy)]
pub struct ColumnInput<'a> {
    pub values: PageValues<'a>,
    pub validity: Option<BitmapRef<'a>>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct WrittenPartition {
    pub path: PathBuf,
    pub len_bytes: u64,
    pub footer: Footer,
}

/// Writes a partition file at `path` (durably, atomically). Fails if the inputs do not
/// match the schema (types, lengths, nulls in non-nullable columns).
pub fn write_partition(
    fs: &dyn Fs,
    path: &Path,
    schema: &Schema,
    columns: &[ColumnInput<'_>],
    info: PartitionInfo,
    opts: &WriteOptions,
) -> Result<WrittenPartition> {
    let rows = check_input(schema, columns, opts)?;
    let tmp = tmp_path(path);
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| StorageError::Io {
            op,
            path: p,
            source,
        }
    };
    match fs.remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove stale", &tmp)(e)),
    }
    let file = fs
        .open(&tmp, OpenOptions::create_new())
        .map_err(io("create", &tmp))?;
    let mut out = Out {
        file,
        buf: Vec::with_capacity(WRITE_BUFFER_BYTES),
        written: 0,
        path: tmp.clone(),
    };
    let (cipher, encryption) = match &opts.keys {
        Some(ring) => {
            let (c, key_id, salt, key_check) =
                FileCipher::for_new_file(ring).map_err(io("derive key for", path))?;
            (
                Some(c),
                Some(EncryptionMeta {
                    key_id,
                    salt,
                    key_check,
                }),
            )
        }
        None => (None, None),
    };
    let metas = encode_columns(schema, columns, opts, cipher.as_ref(), &mut out)?;
    let time = schema.time_key().map(|i| match columns[i].values {
        PageValues::I64(v) => v,
        _ => &[],
    });
    let time_range = time.and_then(|t| Some((*t.iter().min()?, *t.iter().max()?)));
    let time_sorted = time.is_some_and(|t| t.windows(2).all(|w| w[0] <= w[1]));
    let sparse_index = match time {
        Some(t) if !t.is_empty() => {
            let mut bytes = sparse::encode(t, opts.sparse_block_rows as usize);
            if let Some(c) = &cipher {
                c.seal(Region::SparseIndex, &mut bytes);
            }
            let extent = out.put(&bytes)?;
            Some(SparseIndexMeta {
                extent,
                block_rows: opts.sparse_block_rows,
                blocks: t.len().div_ceil(opts.sparse_block_rows as usize) as u32,
            })
        }
        _ => None,
    };
    let footer = Footer {
        row_count: rows as u64,
        page_rows: opts.page_rows,
        schema_version: info.schema_version,
        wal_lsn: info.wal_lsn,
        time_range,
        time_sorted,
        encryption,
        sparse_index,
        columns: metas,
    };
    let mut body = footer.encode();
    if let Some(c) = &cipher {
        let tag = c.footer_tag(&body);
        body.extend_from_slice(&tag);
    }
    let footer_len = u32::try_from(body.len())
        .map_err(|_| StorageError::InvalidInput("footer over 4 GiB".into()))?;
    let tail = Tail::new(footer_len, crc32c::crc32c(&body));
    out.put(&body)?;
    out.put(&tail.encode())?;
    let len_bytes = out.finish()?;
    fs.rename(&tmp, path).map_err(io("rename", &tmp))?;
    // A bare file name's parent is "", which names no directory: sync ".".
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs.sync_dir(dir).map_err(io("sync directory", dir))?;
    Ok(WrittenPartition {
        path: path.to_path_buf(),
        len_bytes,
        footer,
    })
}

/// The temporary name a file is written under before the rename.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".tmp");
    PathBuf::from(s)
}

fn check_input(schema: &Schema, columns: &[ColumnInput<'_>], opts: &WriteOptions) -> Result<usize> {
    let bad = |m: String| Err(StorageError::InvalidInput(m));
    schema.validate().map_err(StorageError::InvalidInput)?;
    if opts.page_rows == 0
        || !(opts.page_rows as usize).is_multiple_of(VECTOR)
        || opts.page_rows as usize > MAX_PAGE_ROWS
    {
        return bad(format!(
            "page_rows {} must be a multiple of 1024 up to 1048576",
            opts.page_rows
        ));
    }
    if opts.sparse_block_rows == 0 || !opts.page_rows.is_multiple_of(opts.sparse_block_rows) {
        return bad(format!(
            "sparse_block_rows {} must divide page_rows",
            opts.sparse_block_rows
        ));
    }
    if columns.len() != schema.columns.len() {
        return bad(format!(
            "{} columns given for a schema of {}",
            columns.len(),
            schema.columns.len()
        ));
    }
    let rows = columns.first().map_or(0, |c| c.values.len());
    for (spec, c) in schema.columns.iter().zip(columns) {
        let ok = matches!(
            (spec.column_type, &c.values),
            (ColumnType::Timestamp | ColumnType::I64, PageValues::I64(_))
                | (ColumnType::U64, PageValues::U64(_))
                | (ColumnType::F64, PageValues::F64(_))
                | (ColumnType::Bool, PageValues::Bool(_))
                | (ColumnType::String, PageValues::Utf8 { .. })
        );
        if !ok {
            return bad(format!(
                "column {:?} is {} but the values are {:?}",
                spec.name,
                spec.column_type.name(),
                c.values.value_type()
            ));
        }
        if c.values.len() != rows {
            return bad(format!(
                "column {:?} has {} rows, the first column {rows}",
                spec.name,
                c.values.len()
            ));
        }
        if let PageValues::Utf8 { offsets, data } = c.values {
            let sorted = offsets.windows(2).all(|w| w[0] <= w[1]);
            if !sorted
                || offsets.first().is_some_and(|&o| o < 0)
                || offsets.last().is_some_and(|&o| o as usize > data.len())
            {
                return bad(format!("column {:?} has invalid string offsets", spec.name));
            }
            if std::str::from_utf8(
                &data[offsets.first().map_or(0, |&o| o as usize)
                    ..offsets.last().map_or(0, |&o| o as usize)],
            )
            .is_err()
                || offsets.iter().any(|&o| !is_char_boundary(data, o as usize))
            {
                return bad(format!(
                    "column {:?} holds a value that is not UTF-8",
                    spec.name
                ));
            }
        }
        if let Some(v) = c.validity {
            if v.len() != rows {
                return bad(format!(
                    "column {:?} validity has {} bits for {rows} rows",
                    spec.name,
                    v.len()
                ));
            }
            if !spec.nullable && v.count_ones() != rows {
                return bad(format!(
                    "column {:?} is not nullable but has nulls",
                    spec.name
                ));
            }
        }
    }
    Ok(rows)
}

fn is_char_boundary(data: &[u8], i: usize) -> bool {
    i >= data.len() || (data[i] as i8) >= -0x40
}

/// Encodes every column (on up to `opts.threads` threads, each column on one) and writes
/// them to `out` in schema order. The bytes are the same whatever the thread count.
fn encode_columns(
    schema: &Schema,
    columns: &[ColumnInput<'_>],
    opts: &WriteOptions,
    cipher: Option<&FileCipher>,
    out: &mut Out,
) -> Result<Vec<ColumnMeta>> {
    type Encoded = Result<(MemSink, WrittenColumn)>;
    let encode_one = |ci: usize| -> Encoded {
        let spec = &schema.columns[ci];
        let w = ColumnWriter {
            column: ci as u32,
            name: &spec.name,
            opts,
            cipher,
        };
        let mut sink = MemSink::default();
        let written = w.write(&mut sink, &columns[ci], spec.role)?;
        Ok((sink, written))
    };
    let threads = opts.threads.clamp(1, columns.len().max(1));
    let encoded: Vec<Encoded> = if threads == 1 {
        (0..columns.len()).map(encode_one).collect()
    } else {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<std::sync::Mutex<Option<Encoded>>> = (0..columns.len())
            .map(|_| std::sync::Mutex::new(None))
            .collect();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let ci = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(slot) = slots.get(ci) else {
                            return;
                        };
                        let r = encode_one(ci);
                        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    }
                });
            }
        });
        slots
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .unwrap_or_else(|| {
                        Err(StorageError::InvalidInput(
                            "a column was not encoded".into(),
                        ))
                    })
            })
            .collect()
    };
    let mut metas = Vec::with_capacity(columns.len());
    for (spec, r) in schema.columns.iter().zip(encoded) {
        let (sink, (mut dictionary, mut pages, null_count, stats)) = r?;
        let base = out.put_raw(&sink.buf)?;
        if let Some(d) = &mut dictionary {
            d.extent.offset += base;
        }
        for p in &mut pages {
            p.extent.offset += base;
        }
        metas.push(ColumnMeta {
            spec: spec.clone(),
            dictionary,
            null_count,
            stats,
            pages,
        });
    }
    Ok(metas)
}

struct ColumnWriter<'a> {
    column: u32,
    name: &'a str,
    opts: &'a WriteOptions,
    cipher: Option<&'a FileCipher>,
}

type WrittenColumn = (Option<DictionaryMeta>, Vec<PageMeta>, u64, Stats);

impl ColumnWriter<'_> {
    fn write(
        &self,
        out: &mut dyn Sink,
        input: &ColumnInput<'_>,
        role: ColumnRole,
    ) -> Result<WrittenColumn> {
        let rows = input.values.len();
        let null_count = input.validity.map_or(0, |v| rows - v.count_ones()) as u64;
        if let PageValues::Utf8 { offsets, data } = input.values
            && self.opts.dictionary != DictionaryPolicy::Never
        {
            let (dict, codes) = build_dictionary(offsets, data, input.validity)
                .map_err(|source| self.encode_err(source))?;
            let present = rows - null_count as usize;
            let worth = match self.opts.dictionary {
                DictionaryPolicy::Auto => role == ColumnRole::Tag || dict.len() * 2 <= present,
                _ => true,
            };
            if worth && dict.len() <= MAX_PAGE_ROWS {
                return self.write_dictionary_column(out, input, &dict, &codes, null_count);
            }
        }
        let stats = Stats::of(
            &input.values,
            input.validity,
            None,
            COLUMN_STRING_BOUND_BYTES,
        );
        let pages = self.write_pages(out, input.values, input.validity, None)?;
        Ok((None, pages, null_count, stats))
    }

    fn write_dictionary_column(
        &self,
        out: &mut dyn Sink,
        input: &ColumnInput<'_>,
        dict: &Dictionary,
        codes: &[u32],
        null_count: u64,
    ) -> Result<WrittenColumn> {
        let entries = dict.len();
        let code_values = PageValues::Codes(codes);
        let stats = Stats::of(
            &code_values,
            input.validity,
            Some(dict),
            COLUMN_STRING_BOUND_BYTES,
        );
        let dictionary = if entries == 0 {
            None
        } else {
            let mut page = Vec::new();
            let dict_values = PageValues::Utf8 {
                offsets: &dict.offsets,
                data: &dict.data,
            };
            encode_page(
                &PageInput {
                    values: dict_values,
                    validity: None,
                },
                &self.opts.encode,
                &mut page,
            )
            .map_err(|e| self.encode_err(e))?;
            if let Some(c) = self.cipher {
                c.seal(
                    Region::Dictionary {
                        column: self.column,
                    },
                    &mut page,
                );
            }
            Some(DictionaryMeta {
                extent: out.put(&page)?,
                entries: entries as u32,
            })
        };
        // A column whose rows are all null has no dictionary; its pages are plain strings.
        let pages = match dictionary {
            Some(_) => self.write_pages(out, code_values, input.validity, Some(dict))?,
            None => self.write_pages(out, input.values, input.validity, None)?,
        };
        Ok((dictionary, pages, null_count, stats))
    }

    fn write_pages(
        &self,
        out: &mut dyn Sink,
        values: PageValues<'_>,
        validity: Option<BitmapRef<'_>>,
        dict: Option<&Dictionary>,
    ) -> Result<Vec<PageMeta>> {
        let rows = values.len();
        let step = self.opts.page_rows as usize;
        let mut pages = Vec::with_capacity(rows.div_ceil(step));
        let mut page = Vec::new();
        for (pi, start) in (0..rows).step_by(step).enumerate() {
            let end = (start + step).min(rows);
            let v = slice_values(values, start, end);
            let valid = match validity {
                Some(b) => Some(
                    b.slice_bytes(start, end - start)
                        .ok_or_else(|| StorageError::InvalidInput("validity slice".into()))?,
                ),
                None => None,
            };
            page.clear();
            let header = encode_page(
                &PageInput {
                    values: v,
                    validity: valid,
                },
                &self.opts.encode,
                &mut page,
            )
            .map_err(|e| self.encode_err(e))?;
            let stats = Stats::of(&v, valid, dict, PAGE_STRING_BOUND_BYTES);
            if let Some(c) = self.cipher {
                c.seal(
                    Region::Data {
                        column: self.column,
                        page: pi as u32,
                    },
                    &mut page,
                );
            }
            let extent = out.put(&page)?;
            pages.push(PageMeta {
                extent,
                rows: (end - start) as u32,
                null_count: valid.map_or(0, |b| b.len() - b.count_ones()) as u32,
                codec: header.codec.id(),
                outer: header.outer.id(),
                stats,
            });
        }
        Ok(pages)
    }

    fn encode_err(&self, source: cairn_codec::CodecError) -> StorageError {
        StorageError::Encode {
            column: self.name.to_string(),
            source,
        }
    }
}

/// Rows `start..end` of `values` without copying (bitmaps are byte-aligned: `start` is a
/// multiple of the page size, itself a multiple of 1024).
fn slice_values<'a>(values: PageValues<'a>, start: usize, end: usize) -> PageValues<'a> {
    match values {
        PageValues::I64(v) => PageValues::I64(&v[start..end]),
        PageValues::U64(v) => PageValues::U64(&v[start..end]),
        PageValues::F64(v) => PageValues::F64(&v[start..end]),
        PageValues::Codes(v) => PageValues::Codes(&v[start..end]),
        PageValues::Bool(b) => PageValues::Bool(b.slice_bytes(start, end - start).unwrap_or(b)),
        PageValues::Utf8 { offsets, data } => PageValues::Utf8 {
            offsets: &offsets[start..=end],
            data,
        },
    }
}
