//! `cairn sql` end to end through the binary: `-c` statements with aligned tables and command
//! tags, errors with their SQLSTATE and a non-zero exit, piped multi-line input, meta-commands,
//! CSV and JSON output, and the same statements against a running `cairn serve`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cairn(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env_remove("CAIRN_DATA_DIR")
        .env_remove("CAIRN_URL")
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

fn sql(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut all = vec!["sql", "--data-dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    cairn(&all, stdin)
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CREATE: &str =
    "CREATE TIMESERIES cpu (ts TIMESTAMP TIME_KEY, host VARCHAR TAG, usage DOUBLE)";
const INSERT: &str = "INSERT INTO cpu VALUES ('2024-01-01T00:00:00Z', 'a', 0.5), \
                      ('2024-01-01T00:00:01.25Z', 'bbbbbb', 12), ('2024-01-01T00:00:02Z', 'c', NULL)";

#[test]
fn commands_print_tags_and_aligned_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = sql(
        dir.path(),
        &[
            "-c",
            CREATE,
            "-c",
            INSERT,
            "-c",
            "SELECT * FROM cpu ORDER BY ts",
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "CREATE TIMESERIES\n\
         INSERT 0 3\n\
         \x20           ts           |  host  | usage\n\
         -------------------------+--------+-------\n\
         \x202024-01-01 00:00:00     | a      |   0.5\n\
         \x202024-01-01 00:00:01.250 | bbbbbb |  12.0\n\
         \x202024-01-01 00:00:02     | c      |\n\
         (3 rows)\n\n"
    );
    // The rows were written to the directory: a second process sees them.
    let out = sql(dir.path(), &["-c", "SELECT count(*) AS n FROM cpu"], None);
    assert_eq!(text(&out).0, " n\n---\n 3\n(1 row)\n\n");
}

#[test]
fn an_error_exits_non_zero_with_its_sqlstate_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let out = sql(
        dir.path(),
        &["-c", "SELECT * FROM missing", "-c", CREATE],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("SQLSTATE 42P01"), "{stderr}");
    assert!(stderr.contains("missing"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    // The statement after the error did not run.
    let out = sql(
        dir.path(),
        &["-c", "SHOW COLLECTIONS", "--format", "csv"],
        None,
    );
    let (stdout, _) = text(&out);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let out = sql(dir.path(), &["-c", "SELEC 1"], None);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("SQLSTATE 42601"));
}

#[test]
fn piped_input_runs_multi_line_statements_and_meta_commands() {
    let dir = tempfile::tempdir().unwrap();
    let script = "CREATE TIMESERIES t (\n  ts TIMESTAMP TIME_KEY,\n  v BIGINT\n);\n\
                  INSERT INTO t VALUES\n  ('2024-01-01', 1),\n  ('2024-01-02', 22); \
                  -- a comment; with a semicolon\n\
                  \\dt\n\
                  SELECT v, 'x;y' AS s\nFROM t\nORDER BY v\n";
    let out = sql(dir.path(), &[], Some(script));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("CREATE TIMESERIES\nINSERT 0 2\n"),
        "{stdout}"
    );
    assert!(stdout.contains(" t          | ts       |"), "{stdout}");
    // The last statement has no `;`: it runs at the end of the input.
    assert!(
        stdout.ends_with("  v |  s\n----+-----\n  1 | x;y\n 22 | x;y\n(2 rows)\n\n"),
        "{stdout}"
    );
    // An error in piped input stops with a non-zero status.
    let out = sql(
        dir.path(),
        &[],
        Some("SELECT 1;\nSELECT * FROM nope;\nSELECT 2;\n"),
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("42P01"), "{stderr}");
    assert!(!stdout.contains('2'), "{stdout}");
}

#[test]
fn csv_and_json_formats_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let out = sql(dir.path(), &["-c", CREATE, "-c", INSERT], None);
    assert!(out.status.success());
    let insert = "INSERT INTO cpu VALUES ('2024-01-01T00:00:03Z', 'd,\"e\"', 1), \
                  ('2024-01-01T00:00:04Z', '', 2)";
    let out = sql(
        dir.path(),
        &[
            "--format",
            "csv",
            "-c",
            insert,
            "-c",
            "SELECT host, usage FROM cpu ORDER BY ts",
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    // Commands print nothing; NULL is an empty field, the empty string "".
    assert_eq!(
        stdout,
        "host,usage\na,0.5\nbbbbbb,12.0\nc,\n\"d,\"\"e\"\"\",1.0\n\"\",2.0\n"
    );
    let out = sql(
        dir.path(),
        &[
            "--format",
            "json",
            "-c",
            "SELECT host, usage, usage > 1 AS big FROM cpu WHERE ts < '2024-01-01T00:00:03Z' ORDER BY ts",
        ],
        None,
    );
    assert_eq!(
        text(&out).0,
        "[\n{\"host\":\"a\",\"usage\":0.5,\"big\":false},\n\
         {\"host\":\"bbbbbb\",\"usage\":12.0,\"big\":true},\n\
         {\"host\":\"c\",\"usage\":null,\"big\":null}\n]\n"
    );
}

/// A port free a moment ago (the server binds it right after).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `cairn serve` on a data directory, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _killed = self.0.kill();
        let _waited = self.0.wait();
    }
}

#[test]
fn against_a_server_and_its_locked_directory() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _server = Serve(
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["serve", "--data-dir", dir.path().to_str().unwrap()])
            .args([
                "--pg-listen",
                &listen,
                "--http-listen",
                "off",
                "--ilp-listen",
                "off",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The directory is held by the server: the shell says so and names the URL to use.
    let out = sql(dir.path(), &["-c", "SELECT 1"], None);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("in use") && stderr.contains("--url"),
        "{stderr}"
    );
    let url = format!("postgres://cairn@{listen}/default");
    let out = cairn(
        &[
            "sql",
            "--url",
            &url,
            "-c",
            CREATE,
            "-c",
            INSERT,
            "-c",
            "SELECT host, usage FROM cpu ORDER BY ts",
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("CREATE TIMESERIES\nINSERT 0 3\n"),
        "{stdout}"
    );
    assert!(stdout.contains(" bbbbbb |"), "{stdout}");
    assert!(stdout.ends_with("(3 rows)\n\n"), "{stdout}");
    let out = cairn(&["sql", "--url", &url, "-c", "SELECT * FROM nope"], None);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("SQLSTATE 42P01"), "{}", text(&out).1);
    // Nothing listens here: the error says what to check.
    let out = cairn(
        &[
            "sql",
            "--url",
            &format!("postgres://cairn@127.0.0.1:{}/default", free_port()),
            "-c",
            "SELECT 1",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).1.contains("cairn serve"), "{}", text(&out).1);
}
