//! The physical limits the WAL is compared against: write + fdatasync rate (4 KiB, and 1 MiB
//! like a batch) and sequential bandwidth, measured through `cairn_io::RealFs` with plain `pwrite`.

use std::path::Path;
use std::time::{Duration, Instant};

use cairn_io::{AlignedBuf, Backend, DIRECT_IO_ALIGN, FileRef, Fs, OpenOptions, RealFs};

use super::{Percentiles, evict_page_cache, mb_per_sec, per_sec};
use crate::error::{CliError, Result};

const CHUNK_BYTES: usize = 1 << 20;

/// How the file of a write + fdatasync loop is prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefill {
    /// Written with zeros and synced first: overwrites need no metadata update (as with a
    /// recycled segment). Offsets wrap around at the end of the file.
    ZeroFilled,
    /// Only `fallocate`d (unwritten extents, as the WAL preallocates its segments): each
    /// first write of a block converts an extent, which the sync must journal. The loop
    /// stops at the end of the file.
    Fallocated,
}

impl Prefill {
    pub fn label(self) -> &'static str {
        match self {
            Prefill::ZeroFilled => "zero-filled file",
            Prefill::Fallocated => "fallocated file (unwritten extents)",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Prefill::ZeroFilled => "zero_filled",
            Prefill::Fallocated => "fallocated",
        }
    }
}

/// A write + fdatasync loop.
#[derive(Debug, Clone)]
pub struct SyncLoop {
    pub prefill: Prefill,
    pub direct: bool,
    pub block_bytes: usize,
    pub file_bytes: u64,
    pub ops: u64,
    pub elapsed: Duration,
    pub ops_per_sec: f64,
    pub mb_per_sec: f64,
    pub latency: Percentiles,
}

/// A sequential write (then one fdatasync) and a cold buffered read-back of the same file.
#[derive(Debug, Clone)]
pub struct Sequential {
    pub direct: bool,
    pub total_bytes: u64,
    pub chunk_bytes: usize,
    pub write_elapsed: Duration,
    pub write_mb_per_sec: f64,
    pub read_elapsed: Duration,
    pub read_mb_per_sec: f64,
}

fn open_new(fs: &RealFs, path: &Path, direct: bool) -> Result<FileRef> {
    fs.open(path, OpenOptions::create_new().with_direct(direct))
        .map_err(CliError::io("create raw test file", path))
}

fn filled(byte: u8, len: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::with_capacity(len);
    buf.extend_filled(byte, len);
    buf
}

/// Runs `pwrite` of `block_bytes` + `fdatasync` at sequential offsets until `duration` has
/// passed (or, for a fallocated file, until its end).
pub fn sync_loop(
    dir: &Path,
    prefill: Prefill,
    direct: bool,
    block_bytes: usize,
    file_bytes: u64,
    duration: Duration,
) -> Result<SyncLoop> {
    if block_bytes == 0 || !block_bytes.is_multiple_of(DIRECT_IO_ALIGN) {
        return Err(CliError::Invalid(format!(
            "block size {block_bytes} is not a multiple of {DIRECT_IO_ALIGN}"
        )));
    }
    let fs = RealFs::new(Backend::Pwrite);
    let path = dir.join(format!("raw-sync-{}-{block_bytes}.dat", prefill.key()));
    let file = open_new(&fs, &path, direct)?;
    let io = CliError::io;
    match prefill {
        Prefill::ZeroFilled => {
            let zeros = filled(0, CHUNK_BYTES);
            let mut at = 0;
            while at < file_bytes {
                let len = CHUNK_BYTES.min((file_bytes - at) as usize);
                file.write_all_at(&zeros.as_slice()[..len], at)
                    .map_err(io("zero-fill raw test file", &path))?;
                at += len as u64;
            }
        }
        Prefill::Fallocated => file
            .preallocate(file_bytes)
            .map_err(io("fallocate raw test file", &path))?,
    }
    file.sync_data().map_err(io("sync raw test file", &path))?;
    fs.sync_dir(dir).map_err(io("sync directory", dir))?;

    let block = filled(0xA5, block_bytes);
    let blocks = (file_bytes / block_bytes as u64).max(1);
    let mut latencies_ns = Vec::with_capacity(1 << 16);
    let start = Instant::now();
    let deadline = start + duration;
    let mut ops = 0u64;
    while Instant::now() < deadline {
        if prefill == Prefill::Fallocated && ops >= blocks {
            break;
        }
        let offset = (ops % blocks) * block_bytes as u64;
        let t = Instant::now();
        file.write_all_at(block.as_slice(), offset)
            .map_err(io("write raw test file", &path))?;
        file.sync_data()
            .map_err(io("fdatasync raw test file", &path))?;
        latencies_ns.push(u32::try_from(t.elapsed().as_nanos()).unwrap_or(u32::MAX));
        ops += 1;
    }
    let elapsed = start.elapsed();
    drop(file);
    fs.remove_file(&path)
        .map_err(io("remove raw test file", &path))?;
    Ok(SyncLoop {
        prefill,
        direct,
        block_bytes,
        file_bytes,
        ops,
        elapsed,
        ops_per_sec: per_sec(ops as f64, elapsed),
        mb_per_sec: mb_per_sec(ops * block_bytes as u64, elapsed),
        latency: Percentiles::from_ns(latencies_ns),
    })
}

/// Writes `total_bytes` in 1 MiB chunks into a fresh file, then one `fdatasync` (timed
/// together); then evicts the file from the page cache and reads it back with buffered 1 MiB
/// reads, as WAL replay does.
pub fn sequential(dir: &Path, direct: bool, total_bytes: u64) -> Result<Sequential> {
    let fs = RealFs::new(Backend::Pwrite);
    let sub = dir.join("raw-seq");
    std::fs::create_dir(&sub).map_err(CliError::io("create directory", &sub))?;
    let path = sub.join("seq.dat");
    let io = CliError::io;
    let file = open_new(&fs, &path, direct)?;
    let mut chunk = filled(0, CHUNK_BYTES);
    for (i, b) in chunk.as_mut_slice().iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let start = Instant::now();
    let mut at = 0;
    while at < total_bytes {
        let len = CHUNK_BYTES.min((total_bytes - at) as usize);
        file.write_all_at(&chunk.as_slice()[..len], at)
            .map_err(io("write raw test file", &path))?;
        at += len as u64;
    }
    file.sync_data()
        .map_err(io("fdatasync raw test file", &path))?;
    let write_elapsed = start.elapsed();
    drop(file);

    evict_page_cache(&sub)?;
    let reader = fs
        .open(&path, OpenOptions::read())
        .map_err(io("open raw test file", &path))?;
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut checksum = 0u64;
    let start = Instant::now();
    let mut at = 0;
    while at < total_bytes {
        let len = CHUNK_BYTES.min((total_bytes - at) as usize);
        reader
            .read_exact_at(&mut buf[..len], at)
            .map_err(io("read raw test file", &path))?;
        checksum = checksum.wrapping_add(u64::from(buf[len - 1]));
        at += len as u64;
    }
    let read_elapsed = start.elapsed();
    drop(reader);
    std::fs::remove_dir_all(&sub).map_err(io("remove directory", &sub))?;
    std::hint::black_box(checksum);
    Ok(Sequential {
        direct,
        total_bytes,
        chunk_bytes: CHUNK_BYTES,
        write_elapsed,
        write_mb_per_sec: mb_per_sec(total_bytes, write_elapsed),
        read_elapsed,
        read_mb_per_sec: mb_per_sec(total_bytes, read_elapsed),
    })
}
