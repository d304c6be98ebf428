//! Opening a log directory: listing segments, checking their chain, verifying sealed
//! segments and finding the end of the last one.
//!
//! The rules (docs/formats/wal.md, "Recovery"):
//! - every segment header must be valid and its name must match its first LSN; each header
//!   names its predecessor's first LSN, so a missing middle segment is detected;
//! - a sealed segment (one with a successor) must hold exactly the LSNs up to the successor's
//!   first LSN − 1; any damage there is an error;
//! - in the last segment, damage is a torn tail unless a later flush that survived claims a
//!   durable LSN at or past the damaged record: every flush ends with a padding frame carrying
//!   the LSN known durable when it was written, so acknowledged data cannot hide behind a
//!   "torn tail".

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_io::{Fs, OpenOptions, align_up};

use crate::crypto::KeyRing;
use crate::error::{Corruption, Result, WalError};
use crate::options::RecoveryPolicy;
use crate::reader::{Frame, FrameReader, expect_lsn, open_frame};
use crate::segment::{BLOCK_BYTES, SegmentCtx, SegmentHeader, parse_segment_file_name};

/// A segment found on disk.
#[derive(Debug, Clone)]
pub(crate) struct SegmentMeta {
    pub path: PathBuf,
    pub ctx: Arc<SegmentCtx>,
}

impl SegmentMeta {
    pub(crate) fn first_lsn(&self) -> u64 {
        self.ctx.header.first_lsn
    }
}

/// What was cut off the end of the last segment when opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub segment: PathBuf,
    /// Where the damage starts; the file was truncated to this length.
    pub offset: u64,
    pub bytes_dropped: u64,
    /// Why the bytes at `offset` are not a valid frame.
    pub problem: Corruption,
    /// Valid (but never acknowledged) frames found after the damage and dropped with it.
    pub later_frames_dropped: u64,
}

/// The outcome of scanning one segment.
#[derive(Debug)]
pub(crate) struct ScanResult {
    /// LSN of the last valid record (first LSN − 1 if none).
    pub last_lsn: u64,
    pub records: u64,
    pub tail: Option<TornTail>,
    /// The highest LSN of any valid record seen, including records dropped with a torn tail
    /// (never reused).
    pub max_lsn_seen: u64,
    /// Under [`RecoveryPolicy::Salvage`]: the damage where scanning stopped.
    pub salvaged: Option<WalError>,
}

/// Lists the segments of `dir` in LSN order, removing leftover temporary files, and checks
/// headers, names, keys and the predecessor chain.
pub(crate) fn list_segments(
    fs: &dyn Fs,
    dir: &Path,
    keys: Option<&KeyRing>,
) -> Result<Vec<SegmentMeta>> {
    let entries = fs
        .list_dir(dir)
        .map_err(|e| WalError::io("list WAL directory", dir, e))?;
    let mut removed_tmp = false;
    let mut named: Vec<(u64, PathBuf)> = Vec::new();
    for entry in entries {
        if entry.is_dir {
            continue;
        }
        if entry.name.starts_with("wal-") && entry.name.ends_with(".seg.tmp") {
            let path = dir.join(&entry.name);
            fs.remove_file(&path)
                .map_err(|e| WalError::io("remove temporary segment", &path, e))?;
            removed_tmp = true;
        } else if let Some(first_lsn) = parse_segment_file_name(&entry.name) {
            named.push((first_lsn, dir.join(&entry.name)));
        }
    }
    if removed_tmp {
        fs.sync_dir(dir)
            .map_err(|e| WalError::io("sync WAL directory", dir, e))?;
    }
    named.sort();
    let mut out: Vec<SegmentMeta> = Vec::with_capacity(named.len());
    for (name_lsn, path) in named {
        let header = read_header(fs, &path)?;
        if header.first_lsn != name_lsn {
            return Err(corrupt(
                &path,
                0,
                None,
                Corruption::NameMismatch {
                    name_lsn,
                    header_lsn: header.first_lsn,
                },
            ));
        }
        if let Some(prev) = out.last()
            && header.prev_first_lsn != prev.first_lsn()
        {
            return Err(WalError::MissingSegment {
                segment: path,
                expected_prev_first_lsn: header.prev_first_lsn,
                found_prev_first_lsn: prev.first_lsn(),
            });
        }
        let ctx = SegmentCtx::from_header(path.clone(), header, keys)?;
        out.push(SegmentMeta { path, ctx });
    }
    Ok(out)
}

fn read_header(fs: &dyn Fs, path: &Path) -> Result<SegmentHeader> {
    let file = fs
        .open(path, OpenOptions::read())
        .map_err(|e| WalError::io("open segment", path, e))?;
    let mut raw = [0u8; crate::segment::SEGMENT_HEADER_BYTES];
    let n =
        read_up_to(&*file, &mut raw).map_err(|e| WalError::io("read segment header", path, e))?;
    SegmentHeader::decode(&raw[..n]).map_err(|problem| corrupt(path, 0, None, problem))
}

fn read_up_to(file: &dyn cairn_io::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(&mut buf[done..], done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

pub(crate) fn corrupt(path: &Path, offset: u64, lsn: Option<u64>, problem: Corruption) -> WalError {
    WalError::Corrupt {
        segment: path.to_path_buf(),
        offset,
        lsn,
        problem,
    }
}

pub(crate) fn open_reader(fs: &dyn Fs, meta: &SegmentMeta) -> Result<FrameReader> {
    let file = fs
        .open(&meta.path, OpenOptions::read())
        .map_err(|e| WalError::io("open segment", &meta.path, e))?;
    let len = file
        .len_bytes()
        .map_err(|e| WalError::io("stat segment", &meta.path, e))?;
    Ok(FrameReader::new(file, meta.ctx.clone(), len))
}

/// Scans a sealed segment, which must hold exactly the LSNs `first_lsn..=expected_last`.
/// `next` is the successor (for the error when LSNs are missing). Every encrypted record's tag
/// is checked too.
pub(crate) fn scan_sealed(
    fs: &dyn Fs,
    meta: &SegmentMeta,
    next: &SegmentMeta,
    policy: RecoveryPolicy,
) -> Result<ScanResult> {
    let expected_last = next.ctx.header.prev_last_lsn;
    if expected_last + 1 < meta.first_lsn() {
        let problem = Corruption::HeaderField {
            field: "prev_last_lsn",
            detail: format!(
                "{expected_last} is below the previous segment's first LSN {}",
                meta.first_lsn()
            ),
        };
        return Err(corrupt(&next.path, 0, None, problem));
    }
    let mut reader = open_reader(fs, meta)?;
    let mut expected = meta.first_lsn();
    let mut records = 0u64;
    let fail = |err: WalError, last: u64, records: u64| -> Result<ScanResult> {
        match policy {
            RecoveryPolicy::Strict => Err(err),
            RecoveryPolicy::Salvage => Ok(ScanResult {
                last_lsn: last,
                records,
                tail: None,
                max_lsn_seen: last,
                salvaged: Some(err),
            }),
        }
    };
    while expected <= expected_last {
        match reader.next_frame()? {
            Frame::Record {
                offset,
                header,
                raw,
                payload,
            } => {
                if let Err(problem) = expect_lsn(header.lsn, expected) {
                    let err = corrupt(&meta.path, offset, Some(expected), problem);
                    return fail(err, expected - 1, records);
                }
                if meta.ctx.cipher.is_some()
                    && let Err(e) = open_frame(&meta.ctx, offset, header, &raw, payload)
                {
                    return fail(e, expected - 1, records);
                }
                expected += 1;
                records += 1;
            }
            Frame::Padding { .. } => {}
            Frame::End { .. } => {
                let err = WalError::LsnGap {
                    segment: next.path.clone(),
                    prev_last_lsn: expected - 1,
                    first_lsn: next.first_lsn(),
                };
                return fail(err, expected - 1, records);
            }
            Frame::Bad { offset, problem } => {
                return fail(
                    corrupt(&meta.path, offset, Some(expected), problem),
                    expected - 1,
                    records,
                );
            }
        }
    }
    Ok(ScanResult {
        last_lsn: expected_last,
        records,
        tail: None,
        max_lsn_seen: expected_last,
        salvaged: None,
    })
}

/// Scans the last segment and finds its valid end. A torn tail is reported (the caller
/// truncates it); damage that a surviving later flush proves was acknowledged is an error
/// under the strict policy.
pub(crate) fn scan_last(
    fs: &dyn Fs,
    meta: &SegmentMeta,
    policy: RecoveryPolicy,
) -> Result<ScanResult> {
    let mut reader = open_reader(fs, meta)?;
    let mut expected = meta.first_lsn();
    let mut records = 0u64;
    let (offset, problem, proven_durable) = loop {
        match reader.next_frame()? {
            Frame::Record {
                offset,
                header,
                raw,
                payload,
            } => {
                if let Err(problem) = expect_lsn(header.lsn, expected) {
                    break (offset, problem, true);
                }
                if meta.ctx.cipher.is_some()
                    && open_frame(&meta.ctx, offset, header, &raw, payload).is_err()
                {
                    break (offset, Corruption::Tampered, true);
                }
                expected += 1;
                records += 1;
            }
            Frame::Padding { .. } => {}
            Frame::End { .. } => {
                let last_lsn = expected - 1;
                return Ok(ScanResult {
                    last_lsn,
                    records,
                    tail: None,
                    max_lsn_seen: last_lsn,
                    salvaged: None,
                });
            }
            Frame::Bad { offset, problem } => break (offset, problem, false),
        }
    };
    // A CRC-valid record with the wrong LSN or a failing tag is damage, never a torn write.
    // Anything else is a torn tail unless a flush that survived after it claims that the
    // record at `offset` was already durable.
    let later = look_ahead(&mut reader, offset)?;
    let damaged = proven_durable || later.max_claim >= expected;
    let salvaged = if damaged {
        let err = corrupt(&meta.path, offset, Some(expected), problem.clone());
        match policy {
            RecoveryPolicy::Strict => return Err(err),
            RecoveryPolicy::Salvage => Some(err),
        }
    } else {
        None
    };
    let tail = TornTail {
        segment: meta.path.clone(),
        offset,
        bytes_dropped: reader.file_len() - offset,
        problem,
        later_frames_dropped: later.frames,
    };
    let last_lsn = expected - 1;
    Ok(ScanResult {
        last_lsn,
        records,
        tail: Some(tail),
        max_lsn_seen: last_lsn.max(later.max_lsn),
        salvaged,
    })
}

/// What survived after damage in the last segment.
struct LookAhead {
    frames: u64,
    /// The highest durable-LSN claim of a surviving padding frame.
    max_claim: u64,
    /// The highest LSN of a surviving record.
    max_lsn: u64,
}

/// Probes every block boundary after damage at `bad_offset` for flushes that survived,
/// collecting their durable-LSN claims and record LSNs.
fn look_ahead(reader: &mut FrameReader, bad_offset: u64) -> Result<LookAhead> {
    let block = BLOCK_BYTES as u64;
    let mut out = LookAhead {
        frames: 0,
        max_claim: 0,
        max_lsn: 0,
    };
    let mut probe = align_up(bad_offset + 1, block);
    while probe < reader.file_len() {
        reader.seek(probe);
        loop {
            match reader.next_frame()? {
                Frame::Record { header, .. } => {
                    out.frames += 1;
                    out.max_lsn = out.max_lsn.max(header.lsn);
                }
                Frame::Padding { claim } => {
                    out.frames += 1;
                    out.max_claim = out.max_claim.max(claim);
                }
                Frame::End { .. } => return Ok(out),
                Frame::Bad { .. } => break,
            }
        }
        // Flushes start on block boundaries: continue at the first one after what parsed.
        probe = align_up(reader.position().max(probe + 1), block);
    }
    Ok(out)
}
