//! `cairn import` end to end through the binary: a CSV with quoted fields, a NULL and its
//! header in another order than the collection's; a bad value (line and column reported, rows
//! of earlier batches kept); line protocol with a bad line (reported, the rest written); and
//! standard input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn cairn(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env_remove("CAIRN_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs SQL against `db` and returns its CSV output (the command must succeed).
fn query(db: &Path, sql: &str) -> String {
    let out = cairn(
        &[
            "sql",
            "--data-dir",
            db.to_str().unwrap(),
            "--format",
            "csv",
            "-c",
            sql,
        ],
        None,
    );
    assert!(out.status.success(), "{sql}: {}", stderr(&out));
    stdout(&out)
}

fn import(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut all = vec!["import", "--data-dir", db.to_str().unwrap()];
    all.extend_from_slice(args);
    cairn(&all, stdin)
}

const CREATE: &str = "CREATE TIMESERIES events (ts TIMESTAMP TIME_KEY, host VARCHAR TAG, \
                      n BIGINT, ok BOOLEAN, note VARCHAR)";

#[test]
fn csv_with_quotes_nulls_and_reordered_header() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    query(&db, CREATE);
    let csv = dir.path().join("events.csv");
    std::fs::write(
        &csv,
        "note,n,host,ts,ok\n\
         \"hello, world\",1,a,2024-01-01T00:00:00Z,true\n\
         \"say \"\"hi\"\"\",,b,2024-01-01 00:00:01.5,f\n\
         \"two\nlines\",3,\"c\",1704067202000000000,\n",
    )
    .unwrap();
    let out = import(&db, &["--into", "events", csv.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("3 rows"), "{}", stdout(&out));
    assert_eq!(
        query(&db, "SELECT ts, host, n, ok, note FROM events ORDER BY ts"),
        "ts,host,n,ok,note\n\
         2024-01-01 00:00:00,a,1,true,\"hello, world\"\n\
         2024-01-01 00:00:01.500,b,,false,\"say \"\"hi\"\"\"\n\
         2024-01-01 00:00:02,c,3,,\"two\nlines\"\n"
    );
}

#[test]
fn a_bad_value_stops_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    query(&db, CREATE);
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "ts,host,n\n2024-01-01T00:00:01Z,a,1\n2024-01-01T00:00:02Z,a,2\n\
         2024-01-01T00:00:03Z,a,3\n2024-01-01T00:00:04Z,a,four\n2024-01-01T00:00:05Z,a,5\n",
    )
    .unwrap();
    let path = csv.to_str().unwrap();
    let out = import(&db, &["--into", "events", "--batch-rows", "2", path], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{path}: line 5, column \"n\": invalid BIGINT value \"four\""
        )),
        "{err}"
    );
    // The first batch (lines 2-3) was written; the batch holding line 5 was not.
    assert!(err.contains("2 rows were written"), "{err}");
    assert_eq!(query(&db, "SELECT count(*) AS c FROM events"), "c\n2\n");
    // A collection that does not exist is named with the ones that do.
    let out = import(&db, &["--into", "nope", path], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("its collections: events"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn line_protocol_skips_and_reports_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let lp = dir.path().join("cpu.lp");
    std::fs::write(
        &lp,
        "cpu,host=a usage=0.5 1704067200000000000\n\
         cpu,host=b usage=0.7 1704067201000000000\n\
         cpu,host=c usage= 1704067202000000000\n\
         # a comment\n\
         cpu,host=d usage=0.9 1704067203000000000",
    )
    .unwrap();
    let path = lp.to_str().unwrap();
    let out = import(&db, &[path], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("{path}:3:")), "{err}");
    assert!(err.contains("1 line(s) were rejected"), "{err}");
    assert!(stdout(&out).contains("3 rows"), "{}", stdout(&out));
    assert_eq!(
        query(&db, "SELECT host, usage FROM cpu ORDER BY time"),
        "host,usage\na,0.5\nb,0.7\nd,0.9\n"
    );
    // --into makes no sense for line protocol.
    let out = import(&db, &["--into", "cpu", path], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--into"), "{}", stderr(&out));
}

#[test]
fn standard_input_without_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    query(&db, CREATE);
    let csv = "2024-01-01T00:00:00Z;x;7;yes;\n2024-01-01T00:00:01Z;y;8;no;\"\"\n";
    let args = [
        "--into",
        "events",
        "--format",
        "csv",
        "--no-header",
        "--delimiter",
        ";",
        "-",
    ];
    let out = import(&db, &args, Some(csv));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        query(&db, "SELECT host, n, ok, note FROM events ORDER BY ts"),
        "host,n,ok,note\nx,7,true,\ny,8,false,\"\"\n"
    );
    // Line protocol from stdin creates its collection.
    let out = import(
        &db,
        &["--format", "lp", "-"],
        Some("mem,host=x used=1i 5\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(query(&db, "SELECT host, used FROM mem"), "host,used\nx,1\n");
}
