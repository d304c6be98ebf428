//! `cairn inspect` end to end: the built binary on data directories written through the
//! embedded API, healthy and then damaged in the ways an operator meets (a flipped bit in a
//! page, in a WAL frame, a torn last flush, garbage files), checking the exit status and
//! that every problem names the file and the offset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use cairn::arrow_array::TimestampNanosecondArray;
use cairn::arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use cairn::arrow_schema::{DataType, Field, Schema, TimeUnit};
use cairn::{ColumnSpec, ColumnType, DbOptions, EngineDb};
use cairn_io::RealFs;
use cairn_storage::{PartitionReader, ReadOptions};
use cairn_wal::inspect::{InspectedFrame, SegmentFrames};

/// 2024-01-01T00:00:00Z in nanoseconds.
const T0: i64 = 1_704_067_200_000_000_000;
const FLUSHED_ROWS: usize = 3000;
const LOGGED_WRITES: usize = 5;
const ROWS_PER_LOGGED_WRITE: usize = 10;

/// What `make_db` wrote.
struct Written {
    /// The last LSN the log assigned.
    last_lsn: u64,
}

fn batch(start: usize, rows: usize) -> RecordBatch {
    let ts = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let schema = Schema::new(vec![
        Field::new("ts", ts, false),
        Field::new("host", DataType::Utf8, true),
        Field::new("usage", DataType::Float64, true),
    ]);
    let times: Vec<i64> = (start..start + rows)
        .map(|i| T0 + i as i64 * 1_000_000_000)
        .collect();
    let hosts: Vec<String> = (start..start + rows)
        .map(|i| format!("h{}", i % 7))
        .collect();
    let usage: Vec<f64> = (start..start + rows)
        .map(|i| (i % 100) as f64 / 3.0)
        .collect();
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")) as ArrayRef,
            Arc::new(StringArray::from(hosts)),
            Arc::new(Float64Array::from(usage)),
        ],
    )
    .unwrap()
}

/// A data directory with one collection `cpu`: `FLUSHED_ROWS` rows checkpointed into a
/// partition file (pages of 1024 rows, so each column has several), then `LOGGED_WRITES`
/// durable writes left only in the WAL (the database is dropped without closing).
fn make_db(dir: &Path) -> Written {
    let mut opts = DbOptions {
        background: false,
        ..DbOptions::default()
    };
    opts.partition.page_rows = 1024;
    let db = EngineDb::open(dir, opts).unwrap();
    db.create_collection(
        "cpu",
        vec![
            ColumnSpec::time_key("ts"),
            ColumnSpec::tag("host"),
            ColumnSpec::field("usage", ColumnType::F64),
        ],
        None,
    )
    .unwrap();
    db.write("cpu", &batch(0, FLUSHED_ROWS)).unwrap();
    db.checkpoint().unwrap();
    for w in 0..LOGGED_WRITES {
        let start = FLUSHED_ROWS + w * ROWS_PER_LOGGED_WRITE;
        db.write("cpu", &batch(start, ROWS_PER_LOGGED_WRITE))
            .unwrap();
    }
    let last_lsn = db.wal().next_lsn().0 - 1;
    drop(db);
    Written { last_lsn }
}

fn inspect(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.arg("inspect").args(args).args(paths);
    cmd.env_remove("RUST_LOG");
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_panic(out: &Output) {
    let all = text(out);
    assert!(!all.contains("panicked"), "inspect panicked:\n{all}");
    assert!(out.status.code().is_some(), "killed by a signal:\n{all}");
}

/// The only partition file (`c<id>/<file>.cpf`) of the data directory.
fn partition_file(dir: &Path) -> PathBuf {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() && e.file_name().to_string_lossy().starts_with('c') {
            for f in std::fs::read_dir(e.path()).unwrap() {
                let p = f.unwrap().path();
                if p.extension().is_some_and(|x| x == "cpf") {
                    found.push(p);
                }
            }
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    found.pop().unwrap()
}

/// The newest WAL segment.
fn last_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

/// (offset, frame length, LSN) of every record frame of a segment.
fn record_frames(segment: &Path) -> Vec<(u64, u64, u64)> {
    let (_, mut frames) = SegmentFrames::open(&RealFs::default(), segment).unwrap();
    let mut out = Vec::new();
    loop {
        match frames.next_frame().unwrap() {
            InspectedFrame::Record { offset, header, .. } => {
                out.push((offset, header.frame_len() as u64, header.lsn))
            }
            InspectedFrame::Padding { .. } => {}
            InspectedFrame::End { .. } => return out,
            InspectedFrame::Bad { offset, problem } => {
                panic!("healthy segment damaged at {offset}: {problem}")
            }
        }
    }
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn healthy_data_directory_verifies_and_shows_collection_rows_and_lsns() {
    let dir = tempfile::tempdir().unwrap();
    let w = make_db(dir.path());
    let out = inspect(&["--records", "--pages", "--decode"], &[dir.path()]);
    let all = text(&out);
    assert_no_panic(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("cpu"), "collection not named:\n{all}");
    assert!(all.contains(&FLUSHED_ROWS.to_string()), "{all}");
    assert!(
        all.contains(&format!("..={}", w.last_lsn)),
        "WAL LSN range ending at {} not shown:\n{all}",
        w.last_lsn
    );
    assert!(all.contains("verified: no problems found"), "{all}");
    // With --decode every page was decoded (3 columns × 3 pages of 1024 rows).
    assert!(all.contains("9 pages decoded"), "{all}");
    // With --records every logged write has a line, decoded to its row count.
    let lines = all
        .lines()
        .filter(|l| l.contains(&format!("{ROWS_PER_LOGGED_WRITE} rows, 3 columns")))
        .count();
    assert_eq!(lines, LOGGED_WRITES, "{all}");
}

#[test]
fn json_parses_and_has_the_row_counts() {
    let dir = tempfile::tempdir().unwrap();
    let w = make_db(dir.path());
    let out = inspect(&["--json"], &[dir.path()]);
    assert_no_panic(&out);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    let d = &doc["inputs"][0];
    assert_eq!(d["kind"], "data_directory");
    let coll = &d["collections"][0];
    assert_eq!(coll["name"], "cpu");
    assert_eq!(coll["manifest"]["rows"], FLUSHED_ROWS);
    assert_eq!(d["partitions"][0]["footer"]["row_count"], FLUSHED_ROWS);
    assert_eq!(d["partitions"][0]["regions_bad"], 0);
    assert_eq!(d["wal"]["last_lsn"], w.last_lsn);
    assert_eq!(d["wal"]["first_lsn"], 1);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn flipped_byte_in_a_partition_page_names_file_and_page_offset() {
    let dir = tempfile::tempdir().unwrap();
    make_db(dir.path());
    let file = partition_file(dir.path());
    let reader =
        PartitionReader::open_file(&RealFs::default(), &file, &ReadOptions::default()).unwrap();
    let col = reader.column_index("usage").unwrap();
    let page = reader.footer().columns[col].pages[1].extent;
    drop(reader);
    flip_byte(&file, page.offset + u64::from(page.len) / 2);

    let out = inspect(&[], &[dir.path()]);
    let all = text(&out);
    assert_no_panic(&out);
    assert!(!out.status.success(), "{all}");
    let expected = format!(
        "{}: offset {}: page 1 of column \"usage\"",
        file.display(),
        page.offset
    );
    assert!(all.contains(&expected), "expected {expected:?} in:\n{all}");
    // The file given on its own reports the same damage.
    let out = inspect(&["--decode"], &[&file]);
    assert!(!out.status.success());
    assert!(text(&out).contains(&expected), "{}", text(&out));
}

#[test]
fn flipped_byte_in_a_wal_frame_mid_segment_names_file_and_frame_offset() {
    let dir = tempfile::tempdir().unwrap();
    make_db(dir.path());
    let segment = last_segment(dir.path());
    let frames = record_frames(&segment);
    // The first logged write after the checkpoint: later flushes vouch that it was durable,
    // so its damage is corruption, not a torn tail.
    let &(offset, len, lsn) = frames.iter().rev().nth(LOGGED_WRITES - 1).unwrap();
    flip_byte(&segment, offset + len / 2);

    let out = inspect(&[], &[dir.path()]);
    let all = text(&out);
    assert_no_panic(&out);
    assert!(!out.status.success(), "{all}");
    let expected = format!("{}: offset {offset}: frame CRC32C", segment.display());
    assert!(all.contains(&expected), "expected {expected:?} in:\n{all}");
    assert!(all.contains(&format!("LSN {lsn}")), "{all}");
    assert!(!all.contains("TORN TAIL"), "{all}");
}

#[test]
fn truncated_last_segment_is_a_torn_tail_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let w = make_db(dir.path());
    let segment = last_segment(dir.path());
    let frames = record_frames(&segment);
    let &(offset, _, lsn) = frames.last().unwrap();
    assert_eq!(lsn, w.last_lsn);
    // Cut the last flush inside its record's header, as a crash mid-write leaves it.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    f.set_len(offset + 20).unwrap();
    drop(f);

    let out = inspect(&["--json"], &[&segment]);
    let all = text(&out);
    assert_no_panic(&out);
    assert!(out.status.success(), "{all}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &doc["inputs"][0];
    assert_eq!(s["kind"], "wal_segment");
    assert_eq!(s["end"]["state"], "torn_tail");
    assert_eq!(s["end"]["offset"], offset);
    assert_eq!(s["last_lsn"], lsn - 1);
    let out = inspect(&[], &[dir.path()]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("torn tail"), "{all}");
}

#[test]
fn orphan_files_are_notes_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    make_db(dir.path());
    let file = partition_file(dir.path());
    let orphan = file.with_file_name("00000000000000ff.cpf");
    std::fs::copy(&file, &orphan).unwrap();
    let out = inspect(&[], &[dir.path()]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(&format!("{}: orphan", orphan.display())),
        "{all}"
    );
}

#[test]
fn garbage_empty_and_truncated_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    make_db(&dir.path().join("db"));
    let partition = partition_file(&dir.path().join("db"));

    let random = dir.path().join("random.bin");
    let bytes: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&random, &bytes).unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let truncated = dir.path().join("truncated.cpf");
    let full = std::fs::read(&partition).unwrap();
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    let cut_segment = dir.path().join("wal-00000000000000000001.seg");
    std::fs::write(&cut_segment, b"CAIRNWAL\x01\x00").unwrap();

    for path in [&random, &empty, &truncated, &cut_segment] {
        for args in [&[][..], &["--json", "--decode", "--pages", "--records"][..]] {
            let out = inspect(args, &[path]);
            let all = text(&out);
            assert_no_panic(&out);
            assert_eq!(out.status.code(), Some(1), "{all}");
            let expected = format!("{}: offset ", path.display());
            assert!(all.contains(&expected), "expected {expected:?} in:\n{all}");
        }
    }
    let out = inspect(&[], &[&empty]);
    assert!(text(&out).contains("an empty file"), "{}", text(&out));
    let out = inspect(&[], &[&truncated]);
    assert!(text(&out).contains("magic \"CRNP\""), "{}", text(&out));
}

#[test]
fn unreadable_directory_is_an_error_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    make_db(&locked);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable_anyway = std::fs::read_dir(&locked).is_ok();
    let out = inspect(&[], &[&locked]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_no_panic(&out);
    if readable_anyway {
        // Running as root: permissions do not apply, so the directory simply verifies.
        assert!(out.status.success(), "{}", text(&out));
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{}: offset 0:", locked.display())),
        "{}",
        text(&out)
    );
}

#[test]
fn help_describes_every_path_kind_and_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["inspect", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for word in [
        "data directory",
        "WAL directory",
        "WAL segment",
        "partition file",
        "--records",
        "--pages",
        "--decode",
        "--json",
        "Exit status",
        "torn tail",
    ] {
        assert!(help.contains(word), "--help lacks {word:?}:\n{help}");
    }
}
