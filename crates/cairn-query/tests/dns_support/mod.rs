//! The DNS benchmark's data, queries and reference answers, all from `shared/bench/` (next to
//! the repository): `gen_dns.py` writes the rows and the answers, `common.py` holds the queries
//! and the checksum. Nothing of the benchmark is restated here.

pub mod json;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use cairn_query::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use cairn_query::arrow::compute::cast;
use cairn_query::arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};

use json::Json;

/// Rows generated (the reference answers are for exactly this many).
pub const ROWS: usize = 100_000;
const GENERATOR: &str = "shared/bench/gen_dns.py";

/// One benchmark query, as `common.QUERIES` defines it.
#[derive(Debug)]
pub struct Query {
    pub id: String,
    pub label: String,
    /// One letter per result column: i, f, s, b, t (see `common.py`).
    pub kinds: String,
    pub sql: String,
}

/// The reference answer of one query.
#[derive(Debug)]
pub struct Answer {
    pub rows: usize,
    pub checksum: String,
}

#[derive(Debug)]
pub struct Bench {
    pub dir: PathBuf,
    /// The line protocol text, `ROWS` lines.
    pub lp: String,
    pub queries: Vec<Query>,
    /// `answers[qid]` of the expected.json, in query order.
    pub answers: Vec<(String, Answer)>,
    /// `rows` of the expected.json.
    pub expected_rows: u64,
}

impl Bench {
    pub fn answer(&self, qid: &str) -> &Answer {
        self.answers
            .iter()
            .find(|(id, _)| id == qid)
            .map(|(_, a)| a)
            .unwrap_or_else(|| panic!("expected.json has no answer for {qid}"))
    }

    /// The first `n` lines of the line protocol and the rest.
    pub fn lp_split(&self, n: usize) -> (&str, &str) {
        let at = self
            .lp
            .match_indices('\n')
            .nth(n - 1)
            .map_or(self.lp.len(), |(i, _)| i + 1);
        self.lp.split_at(at)
    }
}

/// The data set, generated on first use (shared by the tests of this process).
pub fn bench() -> &'static Bench {
    static BENCH: OnceLock<Bench> = OnceLock::new();
    BENCH.get_or_init(|| load().unwrap_or_else(|why| panic!("DNS test data: {why}")))
}

fn load() -> Result<Bench, String> {
    let script = find_generator().ok_or_else(|| {
        format!(
            "{GENERATOR} not found in any parent directory of {} (the benchmark lives in \
             ../shared/bench next to the repository)",
            env!("CARGO_MANIFEST_DIR")
        )
    })?;
    let dir = script
        .parent()
        .ok_or("the generator has no directory")?
        .to_path_buf();
    python_available()?;
    let base = ensure_generated(&script)?;

    let lp_path = base.with_extension("lp");
    let lp = std::fs::read_to_string(&lp_path)
        .map_err(|e| format!("cannot read {}: {e}", lp_path.display()))?;
    let exp_path = base.with_extension("expected.json");
    let text = std::fs::read_to_string(&exp_path)
        .map_err(|e| format!("cannot read {}: {e}", exp_path.display()))?;
    let expected = Json::parse(&text).map_err(|e| format!("{}: {e}", exp_path.display()))?;
    let expected_rows = expected
        .get("rows")
        .and_then(Json::as_u64)
        .ok_or("expected.json has no \"rows\"")?;
    let Some(Json::Obj(entries)) = expected.get("answers") else {
        return Err("expected.json has no \"answers\" object".into());
    };
    let mut answers = Vec::new();
    for (qid, a) in entries {
        let rows = a.get("rows").and_then(Json::as_u64);
        let checksum = a.get("checksum").and_then(Json::as_str);
        let (Some(rows), Some(checksum)) = (rows, checksum) else {
            return Err(format!("expected.json: bad answer for {qid}"));
        };
        let answer = Answer {
            rows: rows as usize,
            checksum: checksum.to_owned(),
        };
        answers.push((qid.clone(), answer));
    }

    let queries = dump_queries(&dir)?;
    Ok(Bench {
        dir,
        lp,
        queries,
        answers,
        expected_rows,
    })
}

/// `shared/bench/gen_dns.py`, searched upwards from this crate (as `cairn bench codec` does).
fn find_generator() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join(GENERATOR))
        .find(|p| p.is_file())
}

fn python_available() -> Result<(), String> {
    match Command::new("python3").arg("-c").arg("pass").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("python3 -c pass failed ({})", o.status)),
        Err(e) => Err(format!(
            "python3 is needed (it generates the data and computes the reference checksums) \
             but cannot be run: {e}"
        )),
    }
}

/// `<target>/cairn-test-data/dns_<ROWS>` (the path prefix of the generated files), generated
/// into a private directory and renamed into place (expected.json last) if missing, so that
/// parallel tests and processes never see half-written files.
fn ensure_generated(script: &Path) -> Result<PathBuf, String> {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .ok_or("CARGO_TARGET_TMPDIR has no parent")?;
    let data = target.join("cairn-test-data");
    let name = format!("dns_{ROWS}");
    let base = data.join(&name);
    let done =
        |b: &Path| b.with_extension("expected.json").is_file() && b.with_extension("lp").is_file();
    if done(&base) {
        return Ok(base);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = data.join(format!(".gen-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let out = Command::new("python3")
        .arg(script)
        .args(["--rows", &ROWS.to_string(), "--formats", "csv,lp", "--out"])
        .arg(&tmp)
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() {
        std::fs::remove_dir_all(&tmp).ok();
        return Err(format!(
            "python3 {} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for ext in ["csv", "lp", "expected.json"] {
        let from = tmp.join(format!("{name}.{ext}"));
        let to = base.with_extension(ext);
        std::fs::rename(&from, &to)
            .map_err(|e| format!("cannot rename {} to {}: {e}", from.display(), to.display()))?;
    }
    std::fs::remove_dir_all(&tmp).ok();
    Ok(base)
}

/// Runs a python3 snippet with `common` importable; `args` follow the bench directory in
/// `sys.argv`.
fn python(dir: &Path, code: &str, args: &[&str], stdin: &str) -> Result<String, String> {
    let prelude = "import sys, json; sys.path.insert(0, sys.argv[1]); import common; ";
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(format!("{prelude}{code}"))
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let mut input = child.stdin.take().ok_or("no stdin")?;
    input
        .write_all(stdin.as_bytes())
        .map_err(|e| format!("writing to python3: {e}"))?;
    drop(input);
    let out = child
        .wait_with_output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 -c {code:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("python3 output: {e}"))
}

fn dump_queries(dir: &Path) -> Result<Vec<Query>, String> {
    let code = "print(json.dumps([[q.id, q.label, q.kinds, q.text('cairn')] \
                for q in common.QUERIES]))";
    let text = python(dir, code, &[], "")?;
    let list = Json::parse(&text).map_err(|e| format!("common.QUERIES as JSON: {e}"))?;
    let bad = || format!("unexpected common.QUERIES dump: {text}");
    let mut out = Vec::new();
    for q in list.as_arr().ok_or_else(bad)? {
        let f: Vec<&str> = q
            .as_arr()
            .ok_or_else(bad)?
            .iter()
            .map(|v| v.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?;
        let [id, label, kinds, sql] = f[..] else {
            return Err(bad());
        };
        out.push(Query {
            id: id.into(),
            label: label.into(),
            kinds: kinds.into(),
            sql: sql.into(),
        });
    }
    Ok(out)
}

/// `common.checksum(qid, rows)` of rows given as a JSON list of lists.
pub fn checksum(bench: &Bench, qid: &str, rows_json: &str) -> Result<String, String> {
    let code = "print(common.checksum(sys.argv[2], json.load(sys.stdin)))";
    Ok(python(&bench.dir, code, &[qid], rows_json)?
        .trim()
        .to_owned())
}

/// The result rows as a JSON list of lists, typed as `common.py` expects (int counts, float
/// averages, str strings, bool `cached`, epoch seconds for timestamps); each column's Arrow
/// type must be one that fits its kind.
pub fn rows_json(batches: &[RecordBatch], kinds: &str) -> Result<String, String> {
    let mut out = String::from("[");
    let mut first = true;
    for batch in batches {
        if batch.num_columns() != kinds.len() {
            return Err(format!(
                "{} columns, the query's kinds {kinds:?} want {}",
                batch.num_columns(),
                kinds.len()
            ));
        }
        let cols: Vec<Vec<String>> = batch
            .columns()
            .iter()
            .zip(kinds.chars())
            .enumerate()
            .map(|(i, (c, k))| column_json(c, k).map_err(|e| format!("column {i}: {e}")))
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            if !first {
                out.push(',');
            }
            first = false;
            out.push('[');
            for (j, col) in cols.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str(&col[r]);
            }
            out.push(']');
        }
    }
    out.push(']');
    Ok(out)
}

/// One column's values as JSON literals (null for nulls).
fn column_json(col: &ArrayRef, kind: char) -> Result<Vec<String>, String> {
    let t = col.data_type();
    let wrong = || Err(format!("kind {kind:?} but Arrow type {t}"));
    let casted = |to: &DataType| cast(col, to).map_err(|e| format!("cast {t} to {to}: {e}"));
    let mut out = Vec::with_capacity(col.len());
    match kind {
        'i' if t.is_integer() => {
            let a = casted(&DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            for i in 0..a.len() {
                out.push(if a.is_null(i) {
                    "null".into()
                } else {
                    a.value(i).to_string()
                });
            }
        }
        'f' if t.is_floating() => {
            let a = casted(&DataType::Float64)?;
            let a = a.as_primitive::<Float64Type>();
            for i in 0..a.len() {
                let v = a.value(i);
                if a.is_null(i) {
                    out.push("null".into());
                } else if v.is_finite() {
                    out.push(format!("{v:?}"));
                } else {
                    return Err(format!("row {i}: {v} is not a JSON number"));
                }
            }
        }
        's' if matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
            || matches!(t, DataType::Dictionary(_, v) if v.is_string()) =>
        {
            let a = casted(&DataType::Utf8)?;
            let a = a.as_string::<i32>();
            for i in 0..a.len() {
                let mut s = String::new();
                if a.is_null(i) {
                    s.push_str("null");
                } else {
                    json::quote(a.value(i), &mut s);
                }
                out.push(s);
            }
        }
        'b' if *t == DataType::Boolean => {
            let a = col.as_boolean();
            for i in 0..a.len() {
                out.push(if a.is_null(i) {
                    "null".into()
                } else {
                    a.value(i).to_string()
                });
            }
        }
        't' => {
            let DataType::Timestamp(unit, _) = t else {
                return wrong();
            };
            let per_second = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let a = casted(&DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            for i in 0..a.len() {
                out.push(if a.is_null(i) {
                    "null".into()
                } else {
                    a.value(i).div_euclid(per_second).to_string()
                });
            }
        }
        _ => return wrong(),
    }
    Ok(out)
}
