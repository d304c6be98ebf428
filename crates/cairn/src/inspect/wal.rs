//! WAL segments: the header, then every frame walked with the WAL's own reader (every CRC
//! checked), counted by record type, with the end of the segment classified the way recovery
//! classifies it: a clean end, a torn tail (damage in the last segment that provably held no
//! acknowledged record: reported, not an error) or corruption.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_engine::inspect as engine;
use cairn_io::{Fs, align_up};
use cairn_wal::decode::FrameHeader;
use cairn_wal::inspect::{InspectedFrame, SegmentFrames};
use cairn_wal::{BLOCK_BYTES, Corruption, FORMAT_VERSION, SEGMENT_HEADER_BYTES, SegmentHeader};
use serde::Serialize;

use super::Options;
use super::model::{Findings, fmt_time_ms, hex_bytes};

/// Where a segment sits in its log, which decides how its end is judged.
#[derive(Debug, Clone, Copy)]
pub enum Position {
    /// The newest segment: damage at its end may be a torn tail.
    Last,
    /// A sealed segment: it must hold exactly the LSNs up to `last_lsn` (the successor's
    /// `prev_last_lsn`; `None` if the successor's header is unreadable).
    Sealed { last_lsn: Option<u64> },
}

#[derive(Debug, Serialize)]
pub struct HeaderView {
    pub format_version: u16,
    pub header_bytes: usize,
    pub block_bytes: usize,
    pub segment_id: String,
    pub first_lsn: u64,
    pub prev_first_lsn: u64,
    pub prev_last_lsn: u64,
    pub created_unix_ms: u64,
    pub created: String,
    /// 0 none, 1 AES-256-GCM.
    pub cipher: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct TypeCount {
    pub record_type: u16,
    pub name: String,
    pub records: u64,
    pub payload_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct RecordLine {
    pub lsn: u64,
    pub record_type: u16,
    pub type_name: String,
    pub flags: u16,
    pub flag_names: String,
    pub payload_len: u32,
    pub offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How the segment ends.
#[derive(Debug, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum End {
    /// Valid frames, then only zeros (or the end of the file) from `offset`.
    Clean { offset: u64 },
    /// Damage recovery would cut off (never-acknowledged bytes of an interrupted flush).
    TornTail {
        offset: u64,
        bytes: u64,
        later_frames: u64,
        why: String,
    },
    /// Damage that is an error (the problem list has the details).
    Corrupt { offset: u64, why: String },
    /// The header or the file could not be read.
    Unreadable,
}

#[derive(Debug, Serialize)]
pub struct SegmentReport {
    pub path: String,
    pub file_bytes: u64,
    pub last_segment: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderView>,
    pub records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_lsn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_lsn: Option<u64>,
    pub by_type: Vec<TypeCount>,
    /// Record frames (headers and stored payloads).
    pub record_bytes: u64,
    /// Padding frames: one per flush (group commit).
    pub flushes: u64,
    pub padding_bytes: u64,
    /// The highest durable-LSN claim of a padding frame.
    pub durable_claim: u64,
    /// Bytes after the last valid frame (zeros, or a cut-off tail).
    pub unused_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<u64>,
    pub end: End,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub record_list: Vec<RecordLine>,
}

impl SegmentReport {
    fn new(path: &Path, position: Position) -> Self {
        Self {
            path: path.display().to_string(),
            file_bytes: 0,
            last_segment: matches!(position, Position::Last),
            header: None,
            records: 0,
            first_lsn: None,
            last_lsn: None,
            by_type: Vec::new(),
            record_bytes: 0,
            flushes: 0,
            padding_bytes: 0,
            durable_claim: 0,
            unused_bytes: 0,
            decoded: None,
            end: End::Unreadable,
            record_list: Vec::new(),
        }
    }
}

fn header_view(h: &SegmentHeader) -> HeaderView {
    HeaderView {
        format_version: FORMAT_VERSION,
        header_bytes: SEGMENT_HEADER_BYTES,
        block_bytes: BLOCK_BYTES,
        segment_id: format!("{:016x}", h.segment_id),
        first_lsn: h.first_lsn,
        prev_first_lsn: h.prev_first_lsn,
        prev_last_lsn: h.prev_last_lsn,
        created_unix_ms: h.created_unix_ms,
        created: fmt_time_ms(h.created_unix_ms),
        cipher: u8::from(h.encryption.is_some()),
        key_id: h.encryption.as_ref().map(|e| e.0),
    }
}

/// Reads only the header of the segment at `path` (`None` if it does not decode).
pub fn read_header(fs: &dyn Fs, path: &Path) -> Option<SegmentHeader> {
    SegmentFrames::open(fs, path).ok().map(|(h, _)| h)
}

/// `(expected, found)` for a damaged frame.
pub fn describe(problem: &Corruption) -> (String, String) {
    match problem {
        Corruption::BadMagic { found } => (
            "segment magic \"CAIRNWAL\"".into(),
            hex_bytes(found, 8).to_string(),
        ),
        Corruption::UnsupportedVersion { found, supported } => (
            format!("segment format version {supported}"),
            format!("version {found}"),
        ),
        Corruption::HeaderCrc { stored, computed } => (
            format!("segment header CRC32C {stored:#010x}"),
            format!("{computed:#010x} over bytes 0..124"),
        ),
        Corruption::HeaderField { field, detail } => {
            (format!("a valid header field {field}"), detail.clone())
        }
        Corruption::NameMismatch {
            name_lsn,
            header_lsn,
        } => (
            format!("first LSN {name_lsn} (from the file name)"),
            format!("first LSN {header_lsn} in the header"),
        ),
        Corruption::LengthTooLarge { len, max } => (
            format!("a frame payload of at most {max} bytes"),
            format!("{len} bytes"),
        ),
        Corruption::Truncated { len, available } => (
            format!("a {len}-byte frame"),
            format!("{available} bytes left in the file"),
        ),
        Corruption::RecordCrc { stored, computed } => (
            format!("frame CRC32C {stored:#010x}"),
            format!("{computed:#010x} over the frame's bytes"),
        ),
        Corruption::ReservedBits => (
            "zero reserved bytes 20..24 in the frame header".into(),
            "non-zero bytes".into(),
        ),
        Corruption::LsnMismatch { expected, found } => (
            format!("a frame with LSN {expected}"),
            format!("LSN {found}"),
        ),
        Corruption::LsnOutOfRange { lsn } => ("an LSN below 2^63".into(), format!("LSN {lsn}")),
        Corruption::Zeroed => (
            "a frame header".into(),
            "zero bytes followed by data".into(),
        ),
        Corruption::BadPadding { len } => (
            format!("a padding frame ending on a {BLOCK_BYTES}-byte boundary"),
            format!("a {len}-byte padding frame that does not"),
        ),
        other => ("a valid frame".into(), other.to_string()),
    }
}

/// Inspects one segment file.
pub fn inspect_segment(
    fs: &dyn Fs,
    path: &Path,
    position: Position,
    opts: &Options,
    findings: &mut Findings,
) -> SegmentReport {
    let mut report = SegmentReport::new(path, position);
    let (header, mut frames) = match SegmentFrames::open(fs, path) {
        Ok(x) => x,
        Err(cairn_wal::WalError::Corrupt {
            offset, problem, ..
        }) => {
            let (expected, found) = match problem {
                Corruption::Truncated { len, available } => (
                    format!("a {len}-byte segment header"),
                    format!("a {available}-byte file"),
                ),
                other => describe(&other),
            };
            findings.problem(path, offset, expected, found);
            return report;
        }
        Err(e) => {
            findings.problem(path, 0, "a readable WAL segment", e.to_string());
            return report;
        }
    };
    report.file_bytes = frames.file_len();
    report.header = Some(header_view(&header));
    if let Some((key_id, ..)) = header.encryption {
        findings.note(
            path,
            None,
            format!(
                "encrypted (cipher 1, AES-256-GCM, key id {key_id}); frame checksums verified; \
                 authentication tags and payloads need the key, which cairn inspect cannot \
                 take (cairn has no key file)"
            ),
        );
    }
    if let Some(name_lsn) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(cairn_wal::parse_segment_file_name)
        && name_lsn != header.first_lsn
    {
        let (expected, found) = describe(&Corruption::NameMismatch {
            name_lsn,
            header_lsn: header.first_lsn,
        });
        findings.problem(path, 24, expected, found);
    }
    match walk(&mut frames, &header, position, opts, &mut report, findings) {
        Ok(()) => {}
        Err(e) => {
            findings.problem(path, frames.position(), "a readable segment", e.to_string());
            report.end = End::Unreadable;
        }
    }
    report
}

/// Damage found while walking: where, why, and whether it is proven to be more than a torn
/// write (a CRC-valid frame with the wrong LSN).
struct Damage {
    offset: u64,
    problem: Corruption,
    proven: bool,
}

fn walk(
    frames: &mut SegmentFrames,
    header: &SegmentHeader,
    position: Position,
    opts: &Options,
    report: &mut SegmentReport,
    findings: &mut Findings,
) -> cairn_wal::Result<()> {
    let path = Path::new(&report.path).to_path_buf();
    let decode = opts.decode && header.encryption.is_none();
    let mut expected = header.first_lsn;
    let mut types: BTreeMap<u16, (u64, u64)> = BTreeMap::new();
    let mut decoded = 0u64;
    let damage = loop {
        match frames.next_frame()? {
            InspectedFrame::Record {
                offset,
                header: h,
                payload,
            } => {
                if h.lsn != expected {
                    break Some(Damage {
                        offset,
                        problem: Corruption::LsnMismatch {
                            expected,
                            found: h.lsn,
                        },
                        proven: true,
                    });
                }
                if let Position::Sealed {
                    last_lsn: Some(last),
                } = position
                    && h.lsn == last + 1
                {
                    findings.problem(
                        &path,
                        offset,
                        format!("no record after LSN {last} (the next segment's prev_last_lsn)"),
                        format!("LSN {}", h.lsn),
                    );
                }
                let t = types.entry(h.record_type).or_default();
                t.0 += 1;
                t.1 += u64::from(h.payload_len);
                decoded += u64::from(add_record(
                    report, offset, &h, &payload, opts, decode, findings,
                ));
                expected += 1;
            }
            InspectedFrame::Padding { len, claim, .. } => {
                report.flushes += 1;
                report.padding_bytes += len;
                report.durable_claim = report.durable_claim.max(claim);
            }
            InspectedFrame::End { offset } => {
                report.unused_bytes = frames.file_len().saturating_sub(offset);
                report.end = End::Clean { offset };
                if let Position::Sealed {
                    last_lsn: Some(last),
                } = position
                    && expected <= last
                {
                    findings.problem(
                        &path,
                        offset,
                        format!("records up to LSN {last} (the next segment's prev_last_lsn)"),
                        format!("the segment ends after LSN {}", expected - 1),
                    );
                }
                break None;
            }
            InspectedFrame::Bad { offset, problem } => {
                break Some(Damage {
                    offset,
                    problem,
                    proven: false,
                });
            }
        }
    };
    report.by_type = types
        .into_iter()
        .map(|(t, (records, bytes))| TypeCount {
            record_type: t,
            name: type_name(t),
            records,
            payload_bytes: bytes,
        })
        .collect();
    if decode {
        report.decoded = Some(decoded);
    }
    if let Some(d) = damage {
        judge_damage(frames, d, expected, position, report, findings)?;
    }
    Ok(())
}

/// Counts a valid record and, as asked, decodes its payload and lists it. Returns whether
/// the payload was decoded.
fn add_record(
    report: &mut SegmentReport,
    offset: u64,
    h: &FrameHeader,
    payload: &[u8],
    opts: &Options,
    decode: bool,
    findings: &mut Findings,
) -> bool {
    report.first_lsn.get_or_insert(h.lsn);
    report.last_lsn = Some(h.lsn);
    report.records += 1;
    report.record_bytes += h.frame_len() as u64;
    let mut decoded = false;
    let detail = decode.then(|| {
        match engine::describe_record(h.record_type, h.flags, payload) {
            Ok(d) => {
                decoded = true;
                d
            }
            Err(why) => {
                // Only the engine's own record types must decode; others are a caller's.
                if engine::record_type_name(h.record_type).is_some() {
                    findings.problem(
                        Path::new(&report.path),
                        offset,
                        format!("a decodable payload of LSN {}", h.lsn),
                        why.clone(),
                    );
                }
                format!("does not decode: {why}")
            }
        }
    });
    if opts.records {
        report.record_list.push(RecordLine {
            lsn: h.lsn,
            record_type: h.record_type,
            type_name: type_name(h.record_type),
            flags: h.flags,
            flag_names: flag_names(h.flags),
            payload_len: h.payload_len,
            offset,
            detail,
        });
    }
    decoded
}

/// Classifies damage the way recovery does: in a sealed segment it is corruption; in the
/// last segment it is a torn tail unless it is proven (a CRC-valid frame with the wrong LSN)
/// or a flush that survived after it claims that LSN `expected` was already durable.
fn judge_damage(
    frames: &mut SegmentFrames,
    damage: Damage,
    expected: u64,
    position: Position,
    report: &mut SegmentReport,
    findings: &mut Findings,
) -> cairn_wal::Result<()> {
    let path = Path::new(&report.path).to_path_buf();
    let Damage {
        offset,
        problem,
        proven,
    } = damage;
    report.unused_bytes = frames.file_len().saturating_sub(offset);
    let (want, found) = describe(&problem);
    let why = format!("{want} (found {found})");
    let later = look_ahead(frames, offset)?;
    let acknowledged = proven || later.max_claim >= expected;
    match position {
        Position::Last if !acknowledged => {
            findings.note(
                &path,
                Some(offset),
                format!(
                    "torn tail: {why}; the last flush was interrupted before it was \
                     acknowledged, recovery cuts these {} bytes ({} later frames); not an error",
                    report.unused_bytes, later.frames
                ),
            );
            report.end = End::TornTail {
                offset,
                bytes: report.unused_bytes,
                later_frames: later.frames,
                why,
            };
        }
        Position::Last => {
            let reason = if proven {
                found
            } else {
                format!(
                    "{found}; a later flush that survived claims LSN {} durable, so this \
                     is acknowledged data",
                    later.max_claim
                )
            };
            findings.problem(&path, offset, format!("{want} (LSN {expected})"), reason);
            report.end = End::Corrupt { offset, why };
        }
        Position::Sealed { .. } => {
            findings.problem(
                &path,
                offset,
                format!("{want} (LSN {expected}, in a sealed segment)"),
                found,
            );
            report.end = End::Corrupt { offset, why };
        }
    }
    Ok(())
}

/// What survived after damage.
struct LookAhead {
    frames: u64,
    max_claim: u64,
}

/// Probes every block boundary after `bad_offset` for flushes that survived (flushes start
/// on block boundaries), collecting their frames and durable-LSN claims.
fn look_ahead(frames: &mut SegmentFrames, bad_offset: u64) -> cairn_wal::Result<LookAhead> {
    let block = BLOCK_BYTES as u64;
    let mut out = LookAhead {
        frames: 0,
        max_claim: 0,
    };
    let mut probe = align_up(bad_offset + 1, block);
    while probe < frames.file_len() {
        frames.seek(probe);
        loop {
            match frames.next_frame()? {
                InspectedFrame::Record { .. } => out.frames += 1,
                InspectedFrame::Padding { claim, .. } => {
                    out.frames += 1;
                    out.max_claim = out.max_claim.max(claim);
                }
                InspectedFrame::End { .. } => return Ok(out),
                InspectedFrame::Bad { .. } => break,
            }
        }
        probe = align_up(frames.position().max(probe + 1), block);
    }
    Ok(out)
}

/// The engine's name of a record type, `padding`, or `type <n>`.
pub fn type_name(record_type: u16) -> String {
    if record_type == cairn_wal::inspect::PADDING_TYPE {
        return "padding".into();
    }
    engine::record_type_name(record_type).map_or_else(|| format!("type {record_type}"), Into::into)
}

/// The engine's record flags by name (`CONTINUED|LZ4`), other bits in hex, `-` for none.
pub fn flag_names(flags: u16) -> String {
    let mut names = Vec::new();
    let mut rest = flags;
    for (bit, name) in [
        (engine::FLAG_CONTINUED, "CONTINUED"),
        (engine::FLAG_LZ4, "LZ4"),
    ] {
        if rest & bit != 0 {
            names.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#06x}"));
    }
    if names.is_empty() {
        "-".into()
    } else {
        names.join("|")
    }
}
