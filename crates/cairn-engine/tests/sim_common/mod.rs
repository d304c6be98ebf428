//! Helpers shared by the engine's SimFs model and crash tests: a file system wrapper that
//! stops the "process" after a number of mutating calls, a seeded RNG, canonical rows (with
//! an exact, totally ordered value type) and conversions between rows and Arrow batches.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod check;
pub mod model;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
    UInt64Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use cairn_engine::{ColumnType, Db, DbOptions, ManualClock, ScanRequest};
use cairn_io::{Backend, DirEntry, File, FileRef, Fs, FsRef, LockGuard, OpenOptions, SimFs};

/// 2024-01-01T00:00:00Z.
pub const T0: i64 = 1_704_067_200_000_000_000;
pub const SEC: i64 = 1_000_000_000;
pub const HOUR: i64 = 3600 * SEC;
/// The data directory on the simulated disk.
pub const ROOT: &str = "/db";

/// Wraps a [`SimFs`] as one process's view of it. Every mutating call (create, write, sync,
/// set_len, preallocate, rename, remove, mkdir) is counted; once the budget is spent, that
/// call and every later call of any kind fails, as if the process had died right before it.
/// `kill` stops it at once. Each life of a `Db` gets its own wrapper, so a dead `Db`'s
/// drop can change nothing on the disk the next life sees.
#[derive(Debug)]
pub struct StopFs {
    inner: SimFs,
    state: Arc<StopState>,
}

#[derive(Debug)]
struct StopState {
    dead: AtomicBool,
    mutations: AtomicU64,
    /// The index of the mutating call that dies (`u64::MAX`: none).
    stop_at: AtomicU64,
}

impl StopState {
    fn check(&self) -> io::Result<()> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(io::Error::other("the process is dead (simulated crash)"));
        }
        Ok(())
    }

    fn mutate(&self) -> io::Result<()> {
        self.check()?;
        let i = self.mutations.fetch_add(1, Ordering::SeqCst);
        if i >= self.stop_at.load(Ordering::SeqCst) {
            self.dead.store(true, Ordering::SeqCst);
            return Err(io::Error::other("the process died here (simulated crash)"));
        }
        Ok(())
    }
}

impl StopFs {
    pub fn new(inner: SimFs) -> Arc<StopFs> {
        Arc::new(StopFs {
            inner,
            state: Arc::new(StopState {
                dead: AtomicBool::new(false),
                mutations: AtomicU64::new(0),
                stop_at: AtomicU64::new(u64::MAX),
            }),
        })
    }

    pub fn kill(&self) {
        self.state.dead.store(true, Ordering::SeqCst);
    }

    pub fn is_dead(&self) -> bool {
        self.state.dead.load(Ordering::SeqCst)
    }

    /// Mutating calls made so far.
    pub fn mutations(&self) -> u64 {
        self.state.mutations.load(Ordering::SeqCst)
    }

    /// Lets `n` more mutating calls through; the next one dies.
    pub fn stop_after(&self, n: u64) {
        self.state
            .stop_at
            .store(self.mutations() + n, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct StopFile {
    inner: FileRef,
    state: Arc<StopState>,
}

impl File for StopFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.state.check()?;
        self.inner.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.state.mutate()?;
        self.inner.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.state.mutate()?;
        self.inner.sync_data()
    }
    fn len_bytes(&self) -> io::Result<u64> {
        self.state.check()?;
        self.inner.len_bytes()
    }
    fn set_len(&self, len_bytes: u64) -> io::Result<()> {
        self.state.mutate()?;
        self.inner.set_len(len_bytes)
    }
    fn preallocate(&self, len_bytes: u64) -> io::Result<()> {
        self.state.mutate()?;
        self.inner.preallocate(len_bytes)
    }
    fn is_direct(&self) -> bool {
        self.inner.is_direct()
    }
}

impl Fs for StopFs {
    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<FileRef> {
        if options.create || options.create_new {
            self.state.mutate()?;
        } else {
            self.state.check()?;
        }
        let inner = self.inner.open(path, options)?;
        Ok(Arc::new(StopFile {
            inner,
            state: self.state.clone(),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.state.mutate()?;
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.state.mutate()?;
        self.inner.remove_file(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.state.mutate()?;
        self.inner.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.state.check()?;
        self.inner.list_dir(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.state.mutate()?;
        self.inner.sync_dir(path)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.state.check()?;
        self.inner.exists(path)
    }
    fn lock_exclusive(&self, path: &Path) -> io::Result<LockGuard> {
        self.state.check()?;
        self.inner.lock_exclusive(path)
    }
}

/// Engine options on `fs`: no background thread, a manual clock at `now_ns`, small WAL
/// segments, O_DIRECT alignment enforced by the simulation.
pub fn sim_options(fs: &Arc<StopFs>, now_ns: i64) -> DbOptions {
    DbOptions {
        background: false,
        // Off by default in the engine; the simulated runs cover the compressed log records.
        compress_wal: true,
        clock: ManualClock::new(now_ns),
        fs: Some((fs.clone() as FsRef, Backend::Pwrite)),
        wal: cairn_wal::WalOptions {
            segment_target_bytes: 64 * 1024,
            direct_io: cairn_wal::DirectIo::On,
            ..cairn_wal::WalOptions::default()
        },
        ..DbOptions::default()
    }
}

/// SplitMix64: tiny, seedable and stable across `rand` versions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Strings the tests write (and the only ones a scan may return): empty, non-ASCII and the
/// characters line protocol escapes.
pub const VOCAB: &[&str] = &[
    "",
    "a",
    "b",
    "host-1",
    "host-2",
    "host-3",
    "us-east",
    "eu-west",
    "zeta",
    "älpha",
    "日本",
    "with space",
    "with,comma",
    "k=v",
];

/// An f64 compared and hashed by IEEE total order, as Arrow's kernels compare floats.
#[derive(Debug, Clone, Copy)]
pub struct F64(pub f64);

impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for F64 {}
impl PartialOrd for F64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for F64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One cell. Timestamps are `I`. Within one column only one non-null variant occurs, so the
/// derived order is the column type's order (booleans false < true, strings bytewise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Val {
    #[default]
    Null,
    B(bool),
    I(i64),
    U(u64),
    F(F64),
    S(&'static str),
}

pub const MAX_COLS: usize = 12;
/// A row in a collection's column order; columns past the schema are `Null`.
pub type Row = [Val; MAX_COLS];

/// A column as the tests model it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Col {
    pub name: String,
    pub ty: ColumnType,
}

pub fn col(name: &str, ty: ColumnType) -> Col {
    Col {
        name: name.to_string(),
        ty,
    }
}

fn vocab(s: &str) -> &'static str {
    VOCAB
        .iter()
        .find(|v| **v == s)
        .copied()
        .unwrap_or_else(|| panic!("a scan returned a string that was never written: {s:?}"))
}

/// The rows of `batch`, whose columns are looked up by the names of `cols`.
pub fn batch_rows(batch: &RecordBatch, cols: &[Col], out: &mut Vec<Row>) {
    let n = batch.num_rows();
    let start = out.len();
    out.resize(start + n, [Val::Null; MAX_COLS]);
    for (c, spec) in cols.iter().enumerate() {
        let a = batch
            .column_by_name(&spec.name)
            .unwrap_or_else(|| panic!("the scan lacks column {:?}", spec.name));
        let a: ArrayRef = if spec.ty == ColumnType::String && a.data_type() != &DataType::Utf8 {
            arrow_cast::cast(a, &DataType::Utf8).unwrap()
        } else {
            a.clone()
        };
        for r in 0..n {
            if a.is_null(r) {
                continue;
            }
            out[start + r][c] = match spec.ty {
                ColumnType::Timestamp => {
                    Val::I(a.as_primitive::<TimestampNanosecondType>().value(r))
                }
                ColumnType::I64 => Val::I(a.as_primitive::<Int64Type>().value(r)),
                ColumnType::U64 => Val::U(a.as_primitive::<UInt64Type>().value(r)),
                ColumnType::F64 => Val::F(F64(a.as_primitive::<Float64Type>().value(r))),
                ColumnType::Bool => Val::B(a.as_boolean().value(r)),
                ColumnType::String => Val::S(vocab(a.as_string::<i32>().value(r))),
            };
        }
    }
}

/// A scan's rows, sorted.
pub fn scan_rows(
    db: &Db,
    name: &str,
    cols: &[Col],
    req: &ScanRequest,
) -> Result<Vec<Row>, cairn_engine::EngineError> {
    let r = db.scan(name, req)?;
    let mut out = Vec::with_capacity(r.num_rows());
    for b in &r.batches {
        batch_rows(b, cols, &mut out);
    }
    out.sort_unstable();
    Ok(out)
}

/// A batch of `rows` holding the columns `include` picks (by index into `cols`).
pub fn rows_batch(cols: &[Col], include: &[usize], rows: &[Row]) -> RecordBatch {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for &c in include {
        let spec = &cols[c];
        let vals = rows.iter().map(|r| r[c]);
        let (dt, a): (DataType, ArrayRef) = match spec.ty {
            ColumnType::Timestamp => {
                let mut b = TimestampNanosecondBuilder::new();
                vals.for_each(|v| b.append_option(as_i(v)));
                (
                    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                    Arc::new(b.finish().with_timezone("UTC")),
                )
            }
            ColumnType::I64 => {
                let mut b = Int64Builder::new();
                vals.for_each(|v| b.append_option(as_i(v)));
                (DataType::Int64, Arc::new(b.finish()))
            }
            ColumnType::U64 => {
                let mut b = UInt64Builder::new();
                vals.for_each(|v| {
                    b.append_option(match v {
                        Val::U(x) => Some(x),
                        _ => None,
                    })
                });
                (DataType::UInt64, Arc::new(b.finish()))
            }
            ColumnType::F64 => {
                let mut b = Float64Builder::new();
                vals.for_each(|v| {
                    b.append_option(match v {
                        Val::F(x) => Some(x.0),
                        _ => None,
                    })
                });
                (DataType::Float64, Arc::new(b.finish()))
            }
            ColumnType::Bool => {
                let mut b = BooleanBuilder::new();
                vals.for_each(|v| {
                    b.append_option(match v {
                        Val::B(x) => Some(x),
                        _ => None,
                    })
                });
                (DataType::Boolean, Arc::new(b.finish()))
            }
            ColumnType::String => {
                let mut b = StringBuilder::new();
                vals.for_each(|v| {
                    b.append_option(match v {
                        Val::S(x) => Some(x),
                        _ => None,
                    })
                });
                (DataType::Utf8, Arc::new(b.finish()))
            }
        };
        fields.push(Field::new(&spec.name, dt, true));
        arrays.push(a);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn as_i(v: Val) -> Option<i64> {
    match v {
        Val::I(x) => Some(x),
        _ => None,
    }
}

/// A random non-null value of type `ty` from a small domain, so that equal values and
/// predicate matches are common. Timestamps are not drawn here.
pub fn gen_value(rng: &mut Rng, ty: ColumnType) -> Val {
    match ty {
        ColumnType::Timestamp => Val::I(T0 + rng.range(0, 6 * HOUR)),
        ColumnType::I64 => Val::I(match rng.below(20) {
            0 => i64::MIN,
            1 => i64::MAX,
            _ => rng.range(-50, 50),
        }),
        ColumnType::U64 => Val::U(match rng.below(20) {
            0 => u64::MAX,
            _ => rng.below(100),
        }),
        ColumnType::F64 => Val::F(F64(match rng.below(12) {
            0 => -0.0,
            1 => 0.0,
            2 => 1e300,
            3 => -2.5e-8,
            _ => rng.range(-40, 40) as f64 * 0.25,
        })),
        ColumnType::Bool => Val::B(rng.chance(50)),
        ColumnType::String => Val::S(VOCAB[rng.below(VOCAB.len() as u64) as usize]),
    }
}

/// The names of the files (not directories) in `dir` of the simulated disk.
pub fn file_names(sim: &SimFs, dir: &str) -> Vec<String> {
    sim.file_names(Path::new(dir)).unwrap_or_default()
}
