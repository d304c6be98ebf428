//! Figure 2 of `cairn bench codec`: the DNS rows as one packed partition file on the real
//! file system: size, write and scan speed, what a one-column read touches, encryption.

use std::hint::black_box;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_crypto::KeyRing;
use cairn_io::RealFs;
use cairn_storage::{
    ByteSource, ColumnInput, ColumnSpec, ColumnType, CountingSource, FileSource, PartitionInfo,
    PartitionReader, ReadOptions, Schema, TAIL_BYTES, Tail, WriteOptions, write_partition,
};

use super::datasets::Dataset;
use super::evict_page_cache;
use crate::error::{CliError, Result};

/// Warm scans; the fastest counts.
pub const SCAN_PASSES: usize = 3;
/// The column of the one-column read.
pub const ONE_COLUMN: &str = "qtype";

/// Write and scan figures of one file.
#[derive(Debug, Clone)]
pub struct FileFigures {
    pub file_bytes: u64,
    pub write: Duration,
    pub scan_warm: Duration,
    /// `read_column` time of each column in the fastest warm scan.
    pub scan_columns: Vec<(String, Duration)>,
}

/// What opening the file and reading one column read.
#[derive(Debug, Clone)]
pub struct OneColumnRead {
    pub column: &'static str,
    pub open_reads: u64,
    pub open_bytes: u64,
    pub column_reads: u64,
    pub column_bytes: u64,
    /// The column's dictionary and pages (`byte_ranges`).
    pub stored_bytes: u64,
    pub footer_bytes: u64,
    /// Bytes read outside the column's ranges, the footer and the tail, by the open and by
    /// `read_column`.
    pub open_other_bytes: u64,
    pub column_other_bytes: u64,
}

impl OneColumnRead {
    pub fn other_bytes(&self) -> u64 {
        self.open_other_bytes + self.column_other_bytes
    }

    pub fn only_its_pages_and_footer(&self) -> bool {
        self.other_bytes() == 0
    }
}

/// Everything section 2 measured.
#[derive(Debug, Clone)]
pub struct PartitionFigures {
    pub rows: usize,
    pub columns: usize,
    pub raw_bytes: u64,
    pub plain: FileFigures,
    /// None when the page cache could not be dropped.
    pub scan_cold: Option<Duration>,
    pub cold_note: String,
    pub one_column: OneColumnRead,
    pub encrypted: FileFigures,
}

impl PartitionFigures {
    pub fn bytes_per_row(&self) -> f64 {
        self.plain.file_bytes as f64 / self.rows.max(1) as f64
    }
}

/// The DNS schema: ts TIME_KEY, the four strings as tags, cached and elapsed_ms fields.
fn schema(dns: &Dataset) -> Result<Schema> {
    let specs = dns
        .columns
        .iter()
        .map(|c| match c.values.type_name() {
            "timestamp" => ColumnSpec::time_key(&c.name),
            "string" => ColumnSpec::tag(&c.name),
            "bool" => ColumnSpec::field(&c.name, ColumnType::Bool),
            _ => ColumnSpec::field(&c.name, ColumnType::F64),
        })
        .collect();
    Schema::new(specs).map_err(CliError::storage("build the DNS schema"))
}

pub fn measure(dns: &Dataset, dir: &Path) -> Result<PartitionFigures> {
    let fs = RealFs::default();
    let schema = schema(dns)?;
    let ring = KeyRing::new(1, [0x5a; 32]);
    let plain_path = dir.join("dns.cpart");
    let (plain, scan_cold, cold_note) = {
        let plain = write_and_scan(&fs, dns, &schema, &plain_path, None)?;
        let (cold, note) = match evict_page_cache(dir) {
            Ok(()) => (
                Some(scan(&fs, &plain_path, &ReadOptions::default())?.0),
                "cold = after posix_fadvise(DONTNEED) on the file".to_string(),
            ),
            Err(e) => (None, format!("cold scan skipped: {e}")),
        };
        (plain, cold, note)
    };
    let one_column = one_column_read(&fs, &plain_path)?;
    let enc_path = dir.join("dns-encrypted.cpart");
    let encrypted = write_and_scan(&fs, dns, &schema, &enc_path, Some(ring))?;
    Ok(PartitionFigures {
        rows: dns.rows(),
        columns: dns.columns.len(),
        raw_bytes: dns.raw_bytes(),
        plain,
        scan_cold,
        cold_note,
        one_column,
        encrypted,
    })
}

fn write_and_scan(
    fs: &RealFs,
    dns: &Dataset,
    schema: &Schema,
    path: &Path,
    keys: Option<KeyRing>,
) -> Result<FileFigures> {
    let inputs: Vec<ColumnInput<'_>> = dns
        .columns
        .iter()
        .map(|c| ColumnInput {
            values: c.values.page_values(),
            validity: None,
        })
        .collect();
    let opts = WriteOptions {
        keys: keys.clone(),
        ..WriteOptions::default()
    };
    let started = Instant::now();
    let written = write_partition(fs, path, schema, &inputs, PartitionInfo::default(), &opts)
        .map_err(CliError::storage("write the partition file"))?;
    let write = started.elapsed();
    let read_opts = ReadOptions {
        keys,
        expected_len: Some(written.len_bytes),
        ..ReadOptions::default()
    };
    let mut scan_warm = Duration::MAX;
    let mut scan_columns = Vec::new();
    for _ in 0..SCAN_PASSES {
        let (total, columns) = scan(fs, path, &read_opts)?;
        if total < scan_warm {
            (scan_warm, scan_columns) = (total, columns);
        }
    }
    Ok(FileFigures {
        file_bytes: written.len_bytes,
        write,
        scan_warm,
        scan_columns,
    })
}

/// Open + `read_column` of every column: the total time and each column's.
fn scan(
    fs: &RealFs,
    path: &Path,
    opts: &ReadOptions,
) -> Result<(Duration, Vec<(String, Duration)>)> {
    let started = Instant::now();
    let reader = PartitionReader::open_file(fs, path, opts)
        .map_err(CliError::storage("open the partition file"))?;
    let mut columns = Vec::new();
    for (c, meta) in reader.footer().columns.iter().enumerate() {
        let column_started = Instant::now();
        let column = reader
            .read_column(c)
            .map_err(CliError::storage("read a column"))?;
        black_box(column);
        columns.push((meta.spec.name.clone(), column_started.elapsed()));
    }
    Ok((started.elapsed(), columns))
}

/// Opens through a [`CountingSource`], reads [`ONE_COLUMN`], and checks every read against
/// the column's byte ranges, the footer and the tail.
fn one_column_read(fs: &RealFs, path: &Path) -> Result<OneColumnRead> {
    let source = FileSource::open(fs, path).map_err(CliError::io("open", path))?;
    let counting = Arc::new(CountingSource::new(source));
    let shared: Arc<dyn ByteSource> = counting.clone();
    let reader = PartitionReader::open(shared, &ReadOptions::default())
        .map_err(CliError::storage("open the partition file"))?;
    let (open_reads, open_bytes, open_log) = (counting.reads(), counting.bytes(), counting.log());
    counting.reset();
    let col = reader
        .column_index(ONE_COLUMN)
        .map_err(CliError::storage("find the column"))?;
    black_box(
        reader
            .read_column(col)
            .map_err(CliError::storage("read a column"))?,
    );
    let ranges = reader
        .byte_ranges(&[col])
        .map_err(CliError::storage("column byte ranges"))?;
    let footer_bytes = footer_len(path, reader.len_bytes())?;
    let footer_start = reader.len_bytes() - TAIL_BYTES as u64 - footer_bytes;
    let mut allowed = ranges.clone();
    allowed.push(footer_start..reader.len_bytes());
    let outside = |log: &[(u64, u64)]| -> u64 {
        log.iter()
            .map(|&(offset, len)| bytes_outside(offset..offset + len, &allowed))
            .sum()
    };
    Ok(OneColumnRead {
        column: ONE_COLUMN,
        open_reads,
        open_bytes,
        column_reads: counting.reads(),
        column_bytes: counting.bytes(),
        stored_bytes: ranges.iter().map(|r| r.end - r.start).sum(),
        footer_bytes,
        open_other_bytes: outside(&open_log),
        column_other_bytes: outside(&counting.log()),
    })
}

/// The footer length recorded in the file's tail.
fn footer_len(path: &Path, file_len: u64) -> Result<u64> {
    let file = std::fs::File::open(path).map_err(CliError::io("open", path))?;
    let mut tail = [0u8; TAIL_BYTES];
    file.read_exact_at(&mut tail, file_len.saturating_sub(TAIL_BYTES as u64))
        .map_err(CliError::io("read the tail of", path))?;
    Ok(u64::from(Tail::decode(&tail).footer_len))
}

/// Bytes of `read` covered by none of `allowed` (which do not overlap each other).
fn bytes_outside(read: Range<u64>, allowed: &[Range<u64>]) -> u64 {
    let covered: u64 = allowed
        .iter()
        .map(|a| a.end.min(read.end).saturating_sub(a.start.max(read.start)))
        .sum();
    (read.end - read.start).saturating_sub(covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_outside_subtracts_covered_parts() {
        assert_eq!(bytes_outside(0..100, &[10..20, 90..200]), 80);
        assert_eq!(bytes_outside(10..20, &[0..100, 200..300]), 0);
        assert_eq!(bytes_outside(0..10, &[]), 10);
    }
}
