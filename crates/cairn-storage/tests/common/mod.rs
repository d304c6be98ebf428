//! Helpers shared by the partition-file integration tests: an owned test table and its
//! write inputs, row-by-row cells for comparing what was read with what was written, the
//! brute-force stats and time filters the reader is checked against, and byte surgery on
//! finished files (CRC32C forging, page replacement with a rebuilt footer).
// Results carry the storage crate's error, which is large by design (see its lib.rs).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

pub mod check;
pub mod tables;

use std::path::Path;
use std::sync::Arc;

use cairn_codec::{Bitmap, PageValues};
use cairn_crypto::KeyRing;
use cairn_io::{Fs, SimFs};
use cairn_storage::{
    Column, ColumnData, ColumnInput, ColumnRole, ColumnSpec, ColumnType, Extent, Footer, MemSource,
    PartitionInfo, PartitionReader, ReadOptions, Result, Schema, TAIL_BYTES, Tail, WriteOptions,
    WrittenPartition, write_partition,
};

/// SplitMix64: a tiny deterministic generator whose output never changes with a crate
/// version (the golden fixture depends on it).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// The values of one test column (timestamps are `I64`).
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    I64(Vec<i64>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::I64(v) => v.len(),
            Data::U64(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::Str(v) => v.len(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestColumn {
    pub spec: ColumnSpec,
    pub data: Data,
    /// Which rows are present (None: all).
    pub valid: Option<Vec<bool>>,
}

/// A table as the tests think of it: what is written and what a read must return.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub cols: Vec<TestColumn>,
}

/// One value of one row, comparable across writes and reads (floats by their bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    I64(i64),
    U64(u64),
    F64(u64),
    Bool(bool),
    Str(Vec<u8>),
}

impl Table {
    pub fn push(&mut self, spec: ColumnSpec, data: Data, valid: Option<Vec<bool>>) {
        self.cols.push(TestColumn { spec, data, valid });
    }

    pub fn schema(&self) -> Schema {
        Schema {
            columns: self.cols.iter().map(|c| c.spec.clone()).collect(),
        }
    }

    pub fn rows(&self) -> usize {
        self.cols.first().map_or(0, |c| c.data.len())
    }

    pub fn index(&self, name: &str) -> usize {
        self.cols.iter().position(|c| c.spec.name == name).unwrap()
    }

    pub fn time_key(&self) -> Option<usize> {
        self.schema().time_key()
    }

    /// The TIME_KEY values.
    pub fn times(&self) -> Vec<i64> {
        match &self.cols[self.time_key().unwrap()].data {
            Data::I64(v) => v.clone(),
            other => panic!("time key holds {other:?}"),
        }
    }

    pub fn cells(&self, c: usize) -> Vec<Cell> {
        let col = &self.cols[c];
        let present = |i: usize| col.valid.as_ref().is_none_or(|v| v[i]);
        (0..col.data.len())
            .map(|i| {
                if !present(i) {
                    return Cell::Null;
                }
                match &col.data {
                    Data::I64(v) => Cell::I64(v[i]),
                    Data::U64(v) => Cell::U64(v[i]),
                    Data::F64(v) => Cell::F64(v[i].to_bits()),
                    Data::Bool(v) => Cell::Bool(v[i]),
                    Data::Str(v) => Cell::Str(v[i].as_bytes().to_vec()),
                }
            })
            .collect()
    }
}

/// Owned write buffers for a table (bitmaps and string offsets), borrowed as inputs.
#[derive(Debug)]
pub struct Inputs {
    bufs: Vec<(Buf, Option<Bitmap>)>,
}

#[derive(Debug)]
enum Buf {
    I64(Vec<i64>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    Bool(Bitmap),
    Str(Vec<i32>, Vec<u8>),
}

impl Inputs {
    pub fn of(t: &Table) -> Self {
        let bufs = t
            .cols
            .iter()
            .map(|c| {
                let buf = match &c.data {
                    Data::I64(v) => Buf::I64(v.clone()),
                    Data::U64(v) => Buf::U64(v.clone()),
                    Data::F64(v) => Buf::F64(v.clone()),
                    Data::Bool(v) => Buf::Bool(Bitmap::from_bools(v)),
                    Data::Str(v) => {
                        let (offsets, data) = utf8(v);
                        Buf::Str(offsets, data)
                    }
                };
                (buf, c.valid.as_deref().map(Bitmap::from_bools))
            })
            .collect();
        Self { bufs }
    }

    pub fn inputs(&self) -> Vec<ColumnInput<'_>> {
        self.bufs
            .iter()
            .map(|(b, v)| ColumnInput {
                values: match b {
                    Buf::I64(v) => PageValues::I64(v),
                    Buf::U64(v) => PageValues::U64(v),
                    Buf::F64(v) => PageValues::F64(v),
                    Buf::Bool(b) => PageValues::Bool(b.as_ref()),
                    Buf::Str(offsets, data) => PageValues::Utf8 { offsets, data },
                },
                validity: v.as_ref().map(Bitmap::as_ref),
            })
            .collect()
    }
}

/// Arrow-style offsets and bytes of `v`.
pub fn utf8(v: &[String]) -> (Vec<i32>, Vec<u8>) {
    let mut offsets = vec![0i32];
    let mut data = Vec::new();
    for s in v {
        data.extend_from_slice(s.as_bytes());
        offsets.push(data.len() as i32);
    }
    (offsets, data)
}

/// The cells of a column as read.
pub fn column_cells(col: &Column) -> Vec<Cell> {
    (0..col.len())
        .map(|i| {
            if !col.is_valid(i) {
                return Cell::Null;
            }
            match &col.data {
                ColumnData::I64(v) => Cell::I64(v[i]),
                ColumnData::U64(v) => Cell::U64(v[i]),
                ColumnData::F64(v) => Cell::F64(v[i].to_bits()),
                ColumnData::Bool(b) => Cell::Bool(b.get(i)),
                ColumnData::Utf8 { .. } | ColumnData::Dict { .. } => {
                    Cell::Str(col.str_bytes(i).unwrap().to_vec())
                }
            }
        })
        .collect()
}

pub fn info() -> PartitionInfo {
    PartitionInfo {
        schema_version: 7,
        wal_lsn: 4242,
    }
}

pub fn page_rows(n: u32) -> WriteOptions {
    WriteOptions {
        page_rows: n,
        ..WriteOptions::default()
    }
}

pub fn ring() -> KeyRing {
    KeyRing::new(1, [0x5a; 32])
}

pub fn encrypted(mut opts: WriteOptions) -> WriteOptions {
    opts.keys = Some(ring());
    opts
}

pub fn with_keys(keys: KeyRing) -> ReadOptions {
    ReadOptions {
        keys: Some(keys),
        ..ReadOptions::default()
    }
}

pub fn write(
    fs: &dyn Fs,
    path: &Path,
    t: &Table,
    info: PartitionInfo,
    opts: &WriteOptions,
) -> Result<WrittenPartition> {
    let inputs = Inputs::of(t);
    write_partition(fs, path, &t.schema(), &inputs.inputs(), info, opts)
}

/// A SimFs with a `/parts` directory.
pub fn sim() -> SimFs {
    let fs = SimFs::new(1);
    fs.create_dir_all(Path::new("/parts")).unwrap();
    fs
}

/// The bytes of `t` written with `opts` (through a SimFs).
pub fn file_bytes(t: &Table, opts: &WriteOptions) -> Vec<u8> {
    let fs = sim();
    let path = Path::new("/parts/t.crnp");
    write(&fs, path, t, info(), opts).unwrap();
    fs.read_file(path).unwrap()
}

pub const MEM_NAME: &str = "mem/t.crnp";

pub fn open_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<PartitionReader> {
    PartitionReader::open(Arc::new(MemSource::new(MEM_NAME, bytes.to_vec())), opts)
}

/// Where the footer of a well-formed file starts, and its tail.
pub fn tail_of(bytes: &[u8]) -> (usize, Tail) {
    let mut tb = [0u8; TAIL_BYTES];
    tb.copy_from_slice(&bytes[bytes.len() - TAIL_BYTES..]);
    let tail = Tail::decode(&tb);
    (bytes.len() - TAIL_BYTES - tail.footer_len as usize, tail)
}

/// Decodes the footer of a well-formed file (unencrypted: the body is all of it).
pub fn footer_of(bytes: &[u8]) -> Footer {
    let (start, tail) = tail_of(bytes);
    let end = start + tail.footer_len as usize;
    let plain = if Footer::body_is_encrypted(&bytes[start..end]) {
        end - 16
    } else {
        end
    };
    Footer::decode(&bytes[start..plain], start as u64).unwrap()
}

/// Rewrites the tail's footer CRC to match the footer bytes as they are now.
pub fn fix_footer_crc(bytes: &mut [u8]) {
    let (start, tail) = tail_of(bytes);
    let crc = crc32c::crc32c(&bytes[start..bytes.len() - TAIL_BYTES]);
    let n = bytes.len();
    bytes[n - TAIL_BYTES..].copy_from_slice(
        &Tail {
            footer_crc: crc,
            ..tail
        }
        .encode(),
    );
}

/// Overwrites `buf[at..at + 4]` so that `crc32c(buf) == target`. CRC32C is affine in the
/// message bits, and 32 consecutive bits are a full-rank window (a CRC detects every burst
/// of up to 32 bits), so solving a 32x32 system over GF(2) always succeeds.
pub fn forge_crc(buf: &mut [u8], at: usize, target: u32) {
    let base = crc32c::crc32c(buf);
    // pivots[b]: a combination of window bits (mask) whose CRC effect has top bit b.
    let mut pivots: [Option<(u32, u32)>; 32] = [None; 32];
    for j in 0..32 {
        buf[at + j / 8] ^= 1 << (j % 8);
        let mut effect = crc32c::crc32c(buf) ^ base;
        buf[at + j / 8] ^= 1 << (j % 8);
        let mut mask = 1u32 << j;
        for b in (0..32).rev() {
            if effect >> b & 1 == 0 {
                continue;
            }
            match pivots[b] {
                Some((e, m)) => {
                    effect ^= e;
                    mask ^= m;
                }
                None => {
                    pivots[b] = Some((effect, mask));
                    break;
                }
            }
        }
    }
    let mut want = base ^ target;
    let mut flips = 0u32;
    for b in (0..32).rev() {
        if want >> b & 1 == 1 {
            let (e, m) = pivots[b].expect("a 32-bit window is full rank for CRC32C");
            want ^= e;
            flips ^= m;
        }
    }
    assert_eq!(want, 0);
    for j in 0..32 {
        if flips >> j & 1 == 1 {
            buf[at + j / 8] ^= 1 << (j % 8);
        }
    }
    assert_eq!(crc32c::crc32c(buf), target);
}

/// An unencrypted file with page `page` of column `col` replaced by `new` (any length):
/// later regions move, and the footer (extents, the page's CRC) and the tail are rebuilt.
pub fn replace_page(bytes: &[u8], col: usize, page: usize, new: &[u8]) -> Vec<u8> {
    let (start, _) = tail_of(bytes);
    let mut footer = footer_of(bytes);
    let old = footer.columns[col].pages[page].extent;
    let delta = new.len() as i64 - i64::from(old.len);
    let shift = |e: &mut Extent| {
        if e.offset > old.offset {
            e.offset = (e.offset as i64 + delta) as u64;
        }
    };
    for c in &mut footer.columns {
        if let Some(d) = &mut c.dictionary {
            shift(&mut d.extent);
        }
        for p in &mut c.pages {
            shift(&mut p.extent);
        }
    }
    if let Some(s) = &mut footer.sparse_index {
        shift(&mut s.extent);
    }
    footer.columns[col].pages[page].extent = Extent {
        offset: old.offset,
        len: new.len() as u32,
        crc: crc32c::crc32c(new),
    };
    let mut out = bytes[..old.offset as usize].to_vec();
    out.extend_from_slice(new);
    out.extend_from_slice(&bytes[old.end() as usize..start]);
    let body = footer.encode();
    out.extend_from_slice(&body);
    out.extend_from_slice(&Tail::new(body.len() as u32, crc32c::crc32c(&body)).encode());
    out
}

/// Column specs used across the tests.
pub fn ts() -> ColumnSpec {
    ColumnSpec::time_key("ts")
}

pub fn field(name: &str, t: ColumnType) -> ColumnSpec {
    ColumnSpec::new(name, t, ColumnRole::Field)
}
