//! `cairn import` end to end through the binary: a CSV with quoted fields, a NULL and its
//! header in another order than the collection's; a bad value (line and column reported, rows
//! of earlier batches kept); line protocol with a bad line (reported, the rest written); and
//! standard input. Into a running server: CSV by COPY, line protocol by HTTP (bad lines
//! reported by their line in the file), and the fallback to the server that holds the
//! default data directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "clients/harness.rs"]
mod harness;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use harness::Serve;

/// The binary with no CAIRN_* variables from the caller's environment.
fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    for var in ["CAIRN_DATA_DIR", "CAIRN_URL", "CAIRN_HTTP_URL"] {
        cmd.env_remove(var);
    }
    cmd
}

fn cairn(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = command()
        .args(args)
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

// ---- into a running server ----

/// How long one command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

fn run(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = command();
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    harness::run_bounded(&mut cmd, COMMAND_TIMEOUT)
}

fn pg_url(s: &Serve) -> String {
    format!("postgres://cairn@{}/default", s.pg)
}

/// Runs SQL through the server and returns its CSV output (the command must succeed).
fn query_server(s: &Serve, sql: &str) -> String {
    let url = pg_url(s);
    let out = run(&["sql", "--url", &url, "--format", "csv", "-c", sql], &[]);
    assert!(out.status.success(), "{sql}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn csv_into_a_server_by_copy() {
    let dir = tempfile::tempdir().unwrap();
    let s = Serve::start(dir.path(), &[]);
    let url = pg_url(&s);
    query_server(&s, CREATE);
    let small = dir.path().join("small.csv");
    std::fs::write(
        &small,
        "note,n,host,ts,ok\n\
         \"hello, world\",-1,a,2023-01-01T00:00:00Z,true\n\
         \"say \"\"hi\"\"\",,b,2023-01-01 00:00:01.5,f\n\
         \"two\nlines\",-3,\"c\",1672531202000000000,\n",
    )
    .unwrap();
    // Big enough to go in several chunks (and several server batches).
    let rows = 80_000u64;
    let mut big = String::from("ts,host,n\n");
    for i in 0..rows {
        big.push_str(&format!(
            "{},h{},{i}\n",
            1_704_067_200_000_000_000u64 + i,
            i % 5
        ));
    }
    assert!(big.len() > 2 << 20);
    let big_path = dir.path().join("big.csv");
    std::fs::write(&big_path, &big).unwrap();
    let (small, big_path) = (small.to_str().unwrap(), big_path.to_str().unwrap());
    let out = run(
        &["import", "--url", &url, "--into", "events", small, big_path],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("{} rows", rows + 3)),
        "{}",
        stdout(&out)
    );
    // Every row exactly once.
    assert_eq!(
        query_server(
            &s,
            "SELECT count(*) AS c, count(DISTINCT ts) AS t, sum(n) AS s FROM events"
        ),
        format!(
            "c,t,s\n{},{},{}\n",
            rows + 3,
            rows + 3,
            rows * (rows - 1) / 2 - 4
        )
    );
    assert_eq!(
        query_server(
            &s,
            "SELECT host, n, ok, note FROM events WHERE n < 0 OR n IS NULL ORDER BY ts"
        ),
        "host,n,ok,note\na,-1,t,\"hello, world\"\nb,,f,\"say \"\"hi\"\"\"\nc,-3,,\"two\nlines\"\n"
    );

    // No header, another delimiter and NULL marker, as COPY options.
    let plain = dir.path().join("plain.csv");
    std::fs::write(
        &plain,
        "2022-01-01T00:00:00Z;x;NA;yes;NA\n2022-01-01T00:00:01Z;y;8;no;\n",
    )
    .unwrap();
    let plain = plain.to_str().unwrap();
    let args = [
        "import",
        "--url",
        &url,
        "--into",
        "events",
        "--no-header",
        "--delimiter",
        ";",
    ];
    let out = run(&[&args[..], &["--null", "NA", plain]].concat(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        query_server(
            &s,
            "SELECT host, n, ok, note FROM events WHERE ts < '2023-01-01' ORDER BY ts"
        ),
        "host,n,ok,note\nx,,t,\ny,8,f,\"\"\n"
    );

    // A bad value: the server's error with the file's line and column; nothing of it written.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "ts,host,n\n2021-01-01T00:00:01Z,a,1\n2021-01-01T00:00:02Z,a,two\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    let out = run(&["import", "--url", &url, "--into", "events", bad], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("{bad}: ")), "{err}");
    assert!(err.contains("line 3, column \"n\""), "{err}");
    assert!(err.contains("No rows were written"), "{err}");
    assert_eq!(
        query_server(
            &s,
            "SELECT count(*) AS c FROM events WHERE ts < '2022-01-01'"
        ),
        "c\n0\n"
    );
    // An unknown collection is named with the ones that exist.
    let out = run(&["import", "--url", &url, "--into", "nope", bad], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("its collections: events"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn line_protocol_into_a_server_by_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = Serve::start(dir.path(), &[]);
    // Three requests of 10,000 lines; the bad line is in the second.
    let (lines, bad_line) = (25_000u64, 12_345u64);
    let mut text = String::new();
    let mut sum = 0u64;
    for i in 1..=lines {
        if i == bad_line {
            text.push_str("cpu,host=x usage= 1\n");
        } else if i == 3 {
            text.push_str("# a comment\n");
        } else {
            text.push_str(&format!(
                "cpu,host=h{} n={i}i {}\n",
                i % 3,
                1_704_067_200_000_000_000u64 + i
            ));
            sum += i;
        }
    }
    let lp = dir.path().join("cpu.lp");
    std::fs::write(&lp, text).unwrap();
    let path = lp.to_str().unwrap();
    let (url, http) = (pg_url(&s), format!("http://{}", s.http));
    let out = run(&["import", "--url", &url, "--http", &http, path], &[]);
    assert!(
        !out.status.success(),
        "a bad line makes the exit status non-zero"
    );
    let err = stderr(&out);
    assert!(err.contains(&format!("{path}:{bad_line}: column")), "{err}");
    assert!(err.contains("1 line(s) were rejected"), "{err}");
    let written = lines - 2;
    assert!(
        stdout(&out).contains(&format!("{written} rows")),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        query_server(
            &s,
            "SELECT count(*) AS c, count(DISTINCT time) AS t, sum(n) AS s FROM cpu"
        ),
        format!("c,t,s\n{written},{written},{sum}\n")
    );
    // --http names a server, but without --url an explicit data directory is opened here.
    let out = run(
        &[
            "import",
            "--data-dir",
            dir.path().join("other").to_str().unwrap(),
            "--http",
            &http,
            path,
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("also pass --url"), "{}", stderr(&out));
    assert!(!dir.path().join("other").exists());
}

#[test]
fn a_server_holding_the_default_directory_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let s = Serve::start(dir.path(), &[]);
    // The default data directory ($XDG_DATA_HOME/cairn) is the server's.
    let xdg = dir.path().join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    std::os::unix::fs::symlink(s.data_dir(), xdg.join("cairn")).unwrap();
    let lp = dir.path().join("mem.lp");
    std::fs::write(
        &lp,
        "mem,host=a used=1i 1\nmem,host=b used=2i 2\nmem,host=c used=3i 3\n",
    )
    .unwrap();
    let path = lp.to_str().unwrap();
    let http = format!("http://{}", s.http);
    let env = [("XDG_DATA_HOME", xdg.as_path())];
    let out = run(&["import", "--http", &http, path], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is in use by a running server; importing through it at"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        query_server(&s, "SELECT host, used FROM mem ORDER BY time"),
        "host,used\na,1\nb,2\nc,3\n"
    );
    // Named explicitly, the directory is not a fallback: the error says to use --url.
    let data = s.data_dir();
    let out = run(
        &["import", "--data-dir", data.to_str().unwrap(), path],
        &env,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("import through that server instead with --url"),
        "{}",
        stderr(&out)
    );
}
