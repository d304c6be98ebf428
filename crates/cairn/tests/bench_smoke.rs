//! Runs `cairn bench wal|codec|ingest|dns --quick` end to end (smoke tests of the benchmarks,
//! not of the figures).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn bench_wal_quick_runs_and_prints_goals() {
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-smoke-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    let json = dir.path().join("figures.json");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["bench", "wal", "--quick", "--dir"])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cairn bench wal failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(stdout.contains("\ngoals\n"), "no goals section:\n{stdout}");
    for section in [
        "1. raw",
        "2. raw",
        "3. durable",
        "4. batch",
        "5. buffered",
        "6. replay",
    ] {
        assert!(
            stdout.contains(section),
            "missing section {section}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("8. encryption"),
        "missing encryption:\n{stdout}"
    );
    assert!(stdout.contains("PASS") || stdout.contains("MISS"));
    let figures = std::fs::read_to_string(&json).unwrap();
    assert!(figures.trim_start().starts_with('{') && figures.contains("\"goals\""));
    // The run removes its own subdirectory; only the JSON file is left.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("figures.json")]);
}

#[test]
fn bench_wal_rejects_a_bad_duration() {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["bench", "wal", "--seconds", "0", "--dir"])
        .arg(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--seconds"));
}

/// Runs `cairn bench <what> --quick` into a fresh directory; checks it succeeded, printed
/// every one of `sections` and wrote JSON figures with goals. Returns the directory, stdout
/// and the JSON.
fn run_quick(what: &str, sections: &[&str]) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("cairn-bench-{what}-smoke-"))
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    let json = dir.path().join("figures.json");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["bench", what, "--quick", "--dir"])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .env_remove("CAIRN_DNS_CSV")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cairn bench {what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    for section in sections {
        assert!(
            stdout.contains(section),
            "missing section {section:?}:\n{stdout}"
        );
    }
    let figures = std::fs::read_to_string(&json).unwrap();
    assert!(figures.trim_start().starts_with('{') && figures.contains("\"goals\""));
    (dir, stdout, figures)
}

/// The scratch subdirectory is removed; only the figures (and the data sets in `data`, kept
/// when gen_dns.py was found beside the repository; a checkout without `../shared`
/// generates DNS-like rows in Rust and keeps nothing) remain.
fn assert_only_figures_left(dir: &std::path::Path) {
    let mut left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    left.retain(|n| n != "data");
    assert_eq!(left, ["figures.json"]);
}

#[test]
fn bench_codec_quick_runs_and_prints_sections() {
    let (dir, stdout, _) = run_quick(
        "codec",
        &[
            "1a. columns of dns",
            "1b. columns of cpu",
            "2. partition file",
            "touched only qtype's pages and the footer",
            "\ngoals\n",
        ],
    );
    assert!(stdout.contains("PASS") || stdout.contains("MISS"));
    assert_only_figures_left(dir.path());
}

#[test]
fn bench_ingest_quick_runs_and_prints_sections() {
    let (dir, _, figures) = run_quick(
        "ingest",
        &[
            "1-2. ingest",
            "line protocol, 1 thread",
            "Arrow, pre-parsed batches, 2 writer(s)",
            "Arrow, CSV parsed on the fly, 1 writer(s)",
            "data directory without the WAL",
            "3. scans",
            "one column (qtype)",
            "4. recovery",
            "64 MiB budget (default), cold cache",
            "\ngoals\n",
        ],
    );
    // Every ingest phase ran in its child and reported its 100,000 rows (the top level, line
    // protocol, CSV alone and four Arrow cases); both scans returned every row.
    assert!(
        figures.matches("\"rows\": 100000").count() >= 7,
        "phases without their rows:\n{figures}"
    );
    assert!(figures.contains("\"full_rows\": 100000") && figures.contains("\"one_rows\": 100000"));
    assert_only_figures_left(dir.path());
}

#[test]
fn bench_dns_quick_answers_every_query() {
    // The queries and their answers come from shared/bench beside the repository.
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench");
    if !shared.join("common.py").is_file() || !shared.join("gen_dns.py").is_file() {
        eprintln!("skipped: {} not found", shared.display());
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-dns-smoke-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    let json = dir.path().join("figures.json");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["bench", "dns", "--quick", "--dir"])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .env_remove("CAIRN_DNS_CSV")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cairn bench dns failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    // --quick runs no peers: the answers column holds cairn's verdict alone.
    for q in 1..=10 {
        let id = format!("q{q:02}");
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("no row for {id}:\n{stdout}"));
        assert_eq!(row.split_whitespace().last(), Some("ok"), "{id}:\n{stdout}");
    }
    assert!(stdout.contains("100,000 rows") && !stdout.contains("MISMATCH"));
    let figures = std::fs::read_to_string(&json).unwrap();
    assert!(figures.contains("\"cairn_mismatches\": 0"), "{figures}");
    assert_only_figures_left(dir.path());
}
