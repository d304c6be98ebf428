//! The python side of `cairn bench dns`: the query texts and the answer checksums from
//! `shared/bench/common.py`, and the peers (`run_duckdb.py`, `run_chdb.py`) in child processes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::dns_json::{self, Lookup};
use super::report::Json;
use crate::error::{CliError, Result};

/// The directory of the peer benchmark, relative to an ancestor of the repository.
const SHARED_BENCH: &str = "shared/bench";

/// `shared/bench` next to the repository (`../shared` from its root), searched upwards from
/// the working directory, the executable and the crate.
pub fn find_shared() -> Option<PathBuf> {
    let mut starts = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    starts
        .iter()
        .flat_map(|s| s.ancestors())
        .map(|a| a.join(SHARED_BENCH))
        .find(|p| p.join("common.py").is_file())
}

/// One of the ten queries, as `common.QUERIES` defines it.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub id: String,
    pub label: String,
    /// `q.text("cairn")`.
    pub text: String,
}

/// Runs `python3 -c <code> <shared>` with `stdin` as its input; its stdout.
fn python(shared: &Path, code: &str, stdin: Option<&str>) -> Result<String> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(code)
        .arg(shared)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(CliError::io("run python3", Path::new("python3")))?;
    // Write from a thread: python may fill its stdout pipe before it has read all input.
    let writer = match (stdin, child.stdin.take()) {
        (Some(text), Some(mut pipe)) => {
            let text = text.to_string();
            Some(std::thread::spawn(move || pipe.write_all(text.as_bytes())))
        }
        _ => None,
    };
    let output = child
        .wait_with_output()
        .map_err(CliError::io("run python3", Path::new("python3")))?;
    let written = writer.map(|w| w.join());
    if !output.status.success() {
        return Err(CliError::Invalid(format!(
            "python3 failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    if let Some(w) = written {
        w.map_err(|_| CliError::ThreadPanicked)?
            .map_err(CliError::io("write to python3", Path::new("python3")))?;
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The ten queries (`common.QUERIES`, cairn's dialect), from one python call.
pub fn queries(shared: &Path) -> Result<Vec<QuerySpec>> {
    let code = "import json, sys; sys.path.insert(0, sys.argv[1]); import common; \
                print(json.dumps([{'id': q.id, 'label': q.label, 'text': q.text('cairn')} \
                for q in common.QUERIES]))";
    let out = dns_json::parse(python(shared, code, None)?.trim())?;
    let specs: Option<Vec<QuerySpec>> = out
        .items()
        .iter()
        .map(|q| {
            Some(QuerySpec {
                id: q.get("id")?.text()?.to_string(),
                label: q.get("label")?.text()?.to_string(),
                text: q.get("text")?.text()?.to_string(),
            })
        })
        .collect();
    match specs {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(CliError::Invalid(
            "common.QUERIES did not dump as a list of queries".into(),
        )),
    }
}

/// `common.checksum(qid, rows)` of every result: `results` is a JSON object of query id to
/// rows. Returns query id to checksum.
pub fn checksums(shared: &Path, results: &str) -> Result<BTreeMap<String, String>> {
    let code = "import json, sys; sys.path.insert(0, sys.argv[1]); import common; \
                d = json.load(sys.stdin); \
                print(json.dumps({q: common.checksum(q, rows) for q, rows in d.items()}))";
    let out = dns_json::parse(python(shared, code, Some(results))?.trim())?;
    match out {
        Json::Obj(fields) => Ok(fields
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.text()?.to_string())))
            .collect()),
        _ => Err(CliError::Invalid(
            "the checksums are not a JSON object".into(),
        )),
    }
}

/// A peer engine driven by its script in `shared/bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    DuckDb,
    ChDb,
}

impl Peer {
    pub fn parse(name: &str) -> Option<Peer> {
        match name.trim().to_ascii_lowercase().as_str() {
            "duckdb" => Some(Peer::DuckDb),
            "chdb" | "clickhouse" => Some(Peer::ChDb),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Peer::DuckDb => "DuckDB",
            Peer::ChDb => "chDB",
        }
    }

    fn module(self) -> &'static str {
        match self {
            Peer::DuckDb => "duckdb",
            Peer::ChDb => "chdb",
        }
    }

    fn script(self) -> &'static str {
        match self {
            Peer::DuckDb => "run_duckdb.py",
            Peer::ChDb => "run_chdb.py",
        }
    }
}

/// What one peer run gave: its figures, or why there are none.
#[derive(Debug, Clone)]
pub struct PeerRun {
    pub peer: Peer,
    /// The JSON object the script printed last (`Json::Obj(vec![])` if it did not run).
    pub result: Json,
    /// Why the peer has no figures.
    pub skipped: Option<String>,
}

impl PeerRun {
    /// (best ms, answer matched) of query `id`.
    pub fn query(&self, id: &str) -> Option<(f64, bool)> {
        let q = self
            .result
            .get("queries")?
            .items()
            .iter()
            .find(|q| q.get("id").and_then(Lookup::text) == Some(id))?;
        let matched = matches!(q.get("match"), Some(Json::Bool(true)));
        Some((q.get("best_ms")?.num()?, matched))
    }

    pub fn num(&self, key: &str) -> f64 {
        self.result
            .get(key)
            .and_then(Lookup::num)
            .unwrap_or(f64::NAN)
    }

    pub fn text(&self, key: &str) -> &str {
        self.result.get(key).and_then(Lookup::text).unwrap_or("?")
    }
}

/// Runs `python3 <shared>/<script> --phase bulk --data <base> --work <work> --queries` (and
/// `--max-rows`, `--repeat`); stderr goes to ours. A missing python module or a failed run
/// is reported in `skipped`, not as an error.
pub fn run(
    peer: Peer,
    shared: &Path,
    base: &Path,
    work: &Path,
    repeat: usize,
    max_rows: Option<usize>,
) -> PeerRun {
    let skipped = |why: String| PeerRun {
        peer,
        result: Json::Obj(Vec::new()),
        skipped: Some(why),
    };
    let import = Command::new("python3")
        .args(["-c", &format!("import {}", peer.module())])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !import.is_ok_and(|s| s.success()) {
        return skipped(format!(
            "python3 cannot import {} (pip install duckdb chdb)",
            peer.module()
        ));
    }
    let mut cmd = Command::new("python3");
    cmd.arg(shared.join(peer.script()))
        .args([
            "--phase",
            "bulk",
            "--queries",
            "--repeat",
            &repeat.to_string(),
        ])
        .arg("--data")
        .arg(base)
        .arg("--work")
        .arg(work);
    if let Some(n) = max_rows {
        cmd.args(["--max-rows", &n.to_string()]);
    }
    let output = match cmd.stdin(Stdio::null()).stderr(Stdio::inherit()).output() {
        Ok(o) => o,
        Err(e) => return skipped(format!("cannot run python3: {e}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return skipped(format!("{} failed ({})", peer.script(), output.status));
    }
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    match last.map(|l| dns_json::parse(l.trim())) {
        Some(Ok(result @ Json::Obj(_))) => PeerRun {
            peer,
            result,
            skipped: None,
        },
        _ => skipped(format!(
            "{} printed no JSON object on its last line",
            peer.script()
        )),
    }
}
