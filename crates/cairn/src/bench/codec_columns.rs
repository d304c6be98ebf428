//! Figure 1 of `cairn bench codec`: every column encoded page by page as the partition writer
//! does, decoded back, and compared with zstd-3 over the same raw values.

use std::collections::HashMap;
use std::hint::black_box;
use std::ops::Range;
use std::time::{Duration, Instant};

use cairn_codec::outer::Outer;
use cairn_codec::page::MAX_PAGE_ROWS;
use cairn_codec::string::{Dictionary, build_dictionary};
use cairn_codec::{
    DecodedValues, EncodeOptions, PageHeader, PageInput, PageValues, ValueType, decode_page,
    encode_page,
};

use super::datasets::{DataColumn, Values};
use super::mb_per_sec;
use crate::error::{CliError, Result};

/// Rows per page (the partition writer's default).
pub const PAGE_ROWS: usize = 65_536;
/// Decode passes; the fastest counts.
pub const DECODE_PASSES: usize = 3;
pub const ZSTD_LEVEL: i32 = 3;

/// What one column measured.
#[derive(Debug, Clone)]
pub struct ColumnFigures {
    pub dataset: &'static str,
    pub column: String,
    pub value_type: &'static str,
    pub rows: usize,
    pub raw_bytes: u64,
    /// Most common leaf codec (+ outer stage) of the data pages, `dict:` if dictionary-coded.
    pub chain: String,
    pub pages: usize,
    pub dictionary_entries: Option<usize>,
    /// Every page (dictionary included) with its header.
    pub encoded_bytes: u64,
    pub encode: Duration,
    pub decode: Duration,
    pub zstd_bytes: u64,
    pub zstd_encode: Duration,
    pub zstd_decode: Duration,
}

impl ColumnFigures {
    pub fn bytes_per_value(&self) -> f64 {
        self.encoded_bytes as f64 / self.rows.max(1) as f64
    }
    pub fn zstd_bytes_per_value(&self) -> f64 {
        self.zstd_bytes as f64 / self.rows.max(1) as f64
    }
    pub fn encode_mb_per_sec(&self) -> f64 {
        mb_per_sec(self.raw_bytes, self.encode)
    }
    pub fn decode_mb_per_sec(&self) -> f64 {
        mb_per_sec(self.raw_bytes, self.decode)
    }
    pub fn zstd_encode_mb_per_sec(&self) -> f64 {
        mb_per_sec(self.raw_bytes, self.zstd_encode)
    }
    pub fn zstd_decode_mb_per_sec(&self) -> f64 {
        mb_per_sec(self.raw_bytes, self.zstd_decode)
    }
    /// Our bytes over zstd-3's; below 1 is a win.
    pub fn ratio(&self) -> f64 {
        self.encoded_bytes as f64 / self.zstd_bytes.max(1) as f64
    }
}

/// One encoded page inside [`Encoded::buf`].
#[derive(Debug, Clone)]
struct PageRef {
    range: Range<usize>,
    value_type: ValueType,
    rows: usize,
    /// First row of the column in this page (unused for the dictionary page).
    first_row: usize,
    dictionary: bool,
}

/// A column's pages.
#[derive(Debug, Default)]
pub(super) struct Encoded {
    pub buf: Vec<u8>,
    pages: Vec<PageRef>,
}

/// A string column's dictionary and the code of every row, when the writer would use one.
#[derive(Debug)]
pub(super) struct Prepared {
    pub dictionary: Option<(Dictionary, Vec<u32>)>,
}

/// Measures one column: encode (one pass), check, decode (best of [`DECODE_PASSES`]) and the
/// zstd-3 baseline.
pub fn measure(dataset: &'static str, col: &DataColumn) -> Result<ColumnFigures> {
    let opts = EncodeOptions::default();
    let started = Instant::now();
    let prepared = prepare(col)?;
    let encoded = encode_column(col, &prepared, &opts)?;
    let encode = started.elapsed();
    check(col, &prepared, &encoded)?;
    let decode = decode_best(&encoded)?;
    let (zstd_bytes, zstd_encode, zstd_decode) = zstd_baseline(&col.values)?;
    Ok(ColumnFigures {
        dataset,
        column: col.name.clone(),
        value_type: col.values.type_name(),
        rows: col.values.len(),
        raw_bytes: col.values.raw_bytes(),
        chain: chain(&encoded, prepared.dictionary.is_some())?,
        pages: encoded.pages.iter().filter(|p| !p.dictionary).count(),
        dictionary_entries: prepared.dictionary.as_ref().map(|(d, _)| d.len()),
        encoded_bytes: encoded.buf.len() as u64,
        encode,
        decode,
        zstd_bytes,
        zstd_encode,
        zstd_decode,
    })
}

/// The fastest of [`DECODE_PASSES`] passes of `decode_page` over every page.
pub(super) fn decode_best(encoded: &Encoded) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..DECODE_PASSES {
        let started = Instant::now();
        for p in &encoded.pages {
            let page = decode_page(&encoded.buf[p.range.clone()], p.value_type, p.rows)
                .map_err(CliError::codec("decode a benchmark page"))?;
            black_box(page);
        }
        best = best.min(started.elapsed());
    }
    Ok(best)
}

/// Builds the dictionary the partition writer would: for tags, or for strings whose distinct
/// values are at most half the rows (and at most one page of entries).
pub(super) fn prepare(col: &DataColumn) -> Result<Prepared> {
    let Values::Str(s) = &col.values else {
        return Ok(Prepared { dictionary: None });
    };
    let (dict, codes) = build_dictionary(&s.offsets, &s.data, None)
        .map_err(CliError::codec("build a dictionary"))?;
    let entries = dict.len();
    let worth = col.tag || entries * 2 <= s.len();
    let dictionary = (entries > 0 && worth && entries <= MAX_PAGE_ROWS).then_some((dict, codes));
    Ok(Prepared { dictionary })
}

/// Encodes like the partition writer: the dictionary page (never forced), then the pages.
pub(super) fn encode_column(
    col: &DataColumn,
    prepared: &Prepared,
    opts: &EncodeOptions,
) -> Result<Encoded> {
    let mut enc = Encoded::default();
    match &prepared.dictionary {
        Some((dict, codes)) => {
            let values = PageValues::Utf8 {
                offsets: &dict.offsets,
                data: &dict.data,
            };
            let dict_opts = EncodeOptions {
                force_codec: None,
                force_outer: None,
                ..opts.clone()
            };
            push_page(&mut enc, values, 0, true, &dict_opts)?;
            encode_pages(&mut enc, PageValues::Codes(codes), opts)?;
        }
        None => encode_pages(&mut enc, col.values.page_values(), opts)?,
    }
    Ok(enc)
}

fn encode_pages(enc: &mut Encoded, values: PageValues<'_>, opts: &EncodeOptions) -> Result<()> {
    for start in (0..values.len()).step_by(PAGE_ROWS) {
        let end = (start + PAGE_ROWS).min(values.len());
        push_page(enc, slice(values, start, end)?, start, false, opts)?;
    }
    Ok(())
}

fn push_page(
    enc: &mut Encoded,
    values: PageValues<'_>,
    first_row: usize,
    dictionary: bool,
    opts: &EncodeOptions,
) -> Result<()> {
    let at = enc.buf.len();
    let input = PageInput {
        values,
        validity: None,
    };
    encode_page(&input, opts, &mut enc.buf).map_err(CliError::codec("encode a benchmark page"))?;
    enc.pages.push(PageRef {
        range: at..enc.buf.len(),
        value_type: values.value_type(),
        rows: values.len(),
        first_row,
        dictionary,
    });
    Ok(())
}

/// Rows `start..end` (`start` a multiple of the page size, so bitmaps stay byte-aligned).
fn slice(values: PageValues<'_>, start: usize, end: usize) -> Result<PageValues<'_>> {
    Ok(match values {
        PageValues::I64(v) => PageValues::I64(&v[start..end]),
        PageValues::U64(v) => PageValues::U64(&v[start..end]),
        PageValues::F64(v) => PageValues::F64(&v[start..end]),
        PageValues::Codes(v) => PageValues::Codes(&v[start..end]),
        PageValues::Bool(b) => PageValues::Bool(
            b.slice_bytes(start, end - start)
                .ok_or_else(|| CliError::Invalid("bitmap slice out of range".into()))?,
        ),
        PageValues::Utf8 { offsets, data } => PageValues::Utf8 {
            offsets: &offsets[start..=end],
            data,
        },
    })
}

/// Decodes every page once and compares it with its input: figures of a codec that does not
/// round-trip would be meaningless.
fn check(col: &DataColumn, prepared: &Prepared, enc: &Encoded) -> Result<()> {
    for p in &enc.pages {
        let page = decode_page(&enc.buf[p.range.clone()], p.value_type, p.rows)
            .map_err(CliError::codec("decode a benchmark page"))?;
        let same = match (&prepared.dictionary, p.dictionary) {
            (Some((dict, _)), true) => same_values(
                &page.values,
                PageValues::Utf8 {
                    offsets: &dict.offsets,
                    data: &dict.data,
                },
            ),
            (Some((_, codes)), false) => same_values(
                &page.values,
                slice(PageValues::Codes(codes), p.first_row, p.first_row + p.rows)?,
            ),
            (None, _) => same_values(
                &page.values,
                slice(col.values.page_values(), p.first_row, p.first_row + p.rows)?,
            ),
        };
        if !same || page.validity.is_some() {
            return Err(CliError::Invalid(format!(
                "column {}: the page at row {} does not decode to its input",
                col.name, p.first_row
            )));
        }
    }
    Ok(())
}

fn same_values(decoded: &DecodedValues, source: PageValues<'_>) -> bool {
    match (decoded, source) {
        (DecodedValues::I64(d), PageValues::I64(s)) => d == s,
        (DecodedValues::Codes(d), PageValues::Codes(s)) => d == s,
        (DecodedValues::F64(d), PageValues::F64(s)) => {
            d.len() == s.len() && d.iter().zip(s).all(|(a, b)| a.to_bits() == b.to_bits())
        }
        (DecodedValues::Bool(d), PageValues::Bool(s)) => {
            d.len() == s.len() && (0..s.len()).all(|i| d.get(i) == s.get(i))
        }
        (
            DecodedValues::Utf8 { offsets, data },
            PageValues::Utf8 {
                offsets: so,
                data: sd,
            },
        ) => {
            offsets.len() == so.len()
                && (0..so.len().saturating_sub(1)).all(|i| {
                    data[offsets[i] as usize..offsets[i + 1] as usize]
                        == sd[so[i] as usize..so[i + 1] as usize]
                })
        }
        _ => false,
    }
}

/// "leaf[+outer]" of the most common data-page chain, "dict:" first for dictionary columns,
/// and "(k/n)" when not every page agrees.
pub(super) fn chain(enc: &Encoded, dictionary: bool) -> Result<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut total = 0;
    for p in enc.pages.iter().filter(|p| !p.dictionary) {
        let h = PageHeader::decode(&enc.buf[p.range.clone()])
            .map_err(CliError::codec("decode a page header"))?;
        let name = match h.outer {
            Outer::None => h.codec.name().to_string(),
            outer => format!("{}+{}", h.codec.name(), outer.name()),
        };
        *counts.entry(name).or_default() += 1;
        total += 1;
    }
    let Some((name, n)) = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
    else {
        return Ok("-".into());
    };
    let prefix = if dictionary { "dict:" } else { "" };
    Ok(if n == total {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}{name} ({n}/{total})")
    })
}

/// zstd level 3 over the raw values as one frame: (bytes, compress time, best decompress).
fn zstd_baseline(values: &Values) -> Result<(u64, Duration, Duration)> {
    let raw = values.baseline_bytes();
    let failed = |what: &str| CliError::Invalid(format!("zstd baseline: {what}"));
    let started = Instant::now();
    let packed = zstd::bulk::compress(&raw, ZSTD_LEVEL).map_err(|_| failed("compress"))?;
    let encode = started.elapsed();
    let mut decode = Duration::MAX;
    for _ in 0..DECODE_PASSES {
        let started = Instant::now();
        let back = zstd::bulk::decompress(&packed, raw.len()).map_err(|_| failed("decompress"))?;
        decode = decode.min(started.elapsed());
        if back != raw {
            return Err(failed("round trip differs"));
        }
    }
    Ok((packed.len() as u64, encode, decode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::datasets::Strings;

    #[test]
    fn a_tag_column_is_dictionary_coded_and_round_trips() {
        let mut s = Strings::with_capacity(70_000);
        for i in 0..70_000 {
            s.push(["A", "AAAA", "MX"][i % 3].as_bytes()).unwrap();
        }
        let col = DataColumn::new("qtype", true, Values::Str(s));
        let f = measure("t", &col).unwrap();
        assert!(f.chain.starts_with("dict:"), "{}", f.chain);
        assert_eq!(f.pages, 2);
        assert_eq!(f.dictionary_entries, Some(3));
        assert!(f.encoded_bytes > 0 && f.zstd_bytes > 0);
    }

    #[test]
    fn numbers_round_trip() {
        let ts: Vec<i64> = (0..100_000).map(|i| 1_000_000 * i).collect();
        let col = DataColumn::new("ts", false, Values::Timestamp(ts));
        let f = measure("t", &col).unwrap();
        assert_eq!(f.rows, 100_000);
        assert_eq!(f.raw_bytes, 800_000);
        assert!(f.bytes_per_value() < 8.0);
    }
}
