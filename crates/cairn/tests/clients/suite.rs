//! The shared query suite (suite.json, grafana.json): cases, which client modes run them,
//! where the server restarts, and how a client's answer is compared with the expectation
//! (including cases marked known-failing because of a server bug).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Sql {
    One(String),
    Steps(Vec<String>),
}

impl Default for Sql {
    fn default() -> Self {
        Sql::Steps(Vec::new())
    }
}

impl Sql {
    pub fn steps(&self) -> Vec<String> {
        match self {
            Sql::One(s) => vec![s.clone()],
            Sql::Steps(v) => v.clone(),
        }
    }
}

/// One case as the comparison sees it (the client gets the JSON object as written).
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub sql: Sql,
    #[serde(default)]
    pub params: Vec<(String, Value)>,
    pub rows: Option<Vec<Vec<Value>>>,
    pub rows_include: Option<Vec<Vec<Value>>>,
    pub columns: Option<Vec<String>>,
    pub rowcount: Option<i64>,
    pub error: Option<String>,
    /// Text the error message must contain.
    pub error_contains: Option<String>,
    #[serde(default)]
    pub modes: Vec<String>,
    #[serde(default)]
    pub only: Vec<String>,
    #[serde(default)]
    pub restart_before: bool,
    #[serde(default)]
    pub known_failing: BTreeMap<String, String>,
    #[serde(default)]
    pub psql_script: bool,
    /// The case as written, for the client.
    #[serde(skip)]
    pub raw: Value,
}

impl Case {
    /// Whether `client` in `mode` runs this case.
    pub fn runs_on(&self, client: &str, mode: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|c| c == client))
            && (self.modes.is_empty() || self.modes.iter().any(|m| m == mode))
    }

    /// The reason this case is known to fail for `client` in `mode`, if it is.
    pub fn known_failing(&self, client: &str, mode: &str) -> Option<&str> {
        let keys = [
            format!("{client}:{mode}"),
            client.to_owned(),
            "*".to_owned(),
        ];
        keys.iter()
            .find_map(|k| self.known_failing.get(k))
            .map(String::as_str)
    }
}

/// Every case of a suite file, in order.
pub fn load(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|raw| {
            let mut c: Case = serde_json::from_value(raw.clone())
                .unwrap_or_else(|e| panic!("{}: bad case {raw}: {e}", path.display()));
            c.raw = raw.clone();
            c
        })
        .collect()
}

/// The cases `client` runs in `mode`, split where the server restarts.
pub fn segments(cases: &[Case], client: &str, mode: &str) -> Vec<Vec<Case>> {
    let mut out: Vec<Vec<Case>> = vec![Vec::new()];
    for c in cases.iter().filter(|c| c.runs_on(client, mode)) {
        if c.restart_before && !out.last().unwrap().is_empty() {
            out.push(Vec::new());
        }
        out.last_mut().unwrap().push(c.clone());
    }
    out
}

/// The cases as the clients read them: `sql` always a list of statements.
pub fn client_file(cases: &[Case]) -> String {
    let list: Vec<Value> = cases
        .iter()
        .map(|c| {
            let mut raw = c.raw.clone();
            raw["sql"] = Value::from(c.sql.steps());
            raw
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap()
}

/// A client's answer to one case (one JSON line on its stdout).
#[derive(Debug, Clone, Deserialize)]
pub struct Outcome {
    pub case: String,
    pub rows: Option<Vec<Vec<Option<String>>>>,
    pub columns: Option<Vec<String>>,
    pub rowcount: Option<i64>,
    pub error: Option<ClientError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClientError {
    pub sqlstate: Option<String>,
    pub message: String,
}

/// The outcomes in a client's stdout (other lines are ignored).
pub fn parse_outcomes(stdout: &str) -> Vec<Outcome> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad outcome {l}: {e}")))
        .collect()
}

/// Why `got` does not meet `case`'s expectation, or `None` when it does.
pub fn mismatch(case: &Case, got: &Outcome) -> Option<String> {
    if let Some(code) = &case.error {
        return match &got.error {
            Some(e) if e.sqlstate.as_deref() == Some(code.as_str()) => match &case.error_contains {
                Some(text) if !e.message.contains(text.as_str()) => {
                    Some(format!("error message lacks {text:?}: {}", e.message))
                }
                _ => None,
            },
            Some(e) => Some(format!(
                "expected SQLSTATE {code}, got {:?}: {}",
                e.sqlstate, e.message
            )),
            None => Some(format!("expected SQLSTATE {code}, got rows {:?}", got.rows)),
        };
    }
    if let Some(e) = &got.error {
        return Some(format!("error {:?}: {}", e.sqlstate, e.message));
    }
    let rows = got.rows.clone().unwrap_or_default();
    if let Some(want) = &case.rows
        && !(want.len() == rows.len() && want.iter().zip(&rows).all(|(w, g)| row_matches(w, g)))
    {
        return Some(format!(
            "rows differ\n      expected {}\n      got      {}",
            show_expected(want),
            show(&rows)
        ));
    }
    if let Some(want) = &case.rows_include {
        for w in want {
            if !rows.iter().any(|g| row_matches(w, g)) {
                return Some(format!(
                    "no row like {} among {}",
                    show_expected(std::slice::from_ref(w)),
                    show(&rows)
                ));
            }
        }
    }
    if let (Some(want), Some(cols)) = (&case.columns, &got.columns)
        && want != cols
    {
        return Some(format!("columns {cols:?}, expected {want:?}"));
    }
    if let (Some(want), Some(n)) = (case.rowcount, got.rowcount)
        && want != n
    {
        return Some(format!("row count {n}, expected {want}"));
    }
    None
}

fn row_matches(want: &[Value], got: &[Option<String>]) -> bool {
    want.len() == got.len()
        && want
            .iter()
            .zip(got)
            .all(|(w, g)| cell_matches(w, g.as_deref()))
}

fn cell_matches(want: &Value, got: Option<&str>) -> bool {
    match (want, got) {
        (Value::Null, None) => true,
        (Value::String(w), Some(g)) => w == g,
        (Value::Object(o), _) if o.contains_key("any") => true,
        (Value::Object(o), Some(g)) => o
            .get("prefix")
            .and_then(Value::as_str)
            .is_some_and(|p| g.starts_with(p)),
        _ => false,
    }
}

fn show_expected(rows: &[Vec<Value>]) -> String {
    serde_json::to_string(rows).unwrap()
}

fn show(rows: &[Vec<Option<String>>]) -> String {
    serde_json::to_string(rows).unwrap()
}

/// What a client's run of the suite found.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: usize,
    pub failures: Vec<String>,
    pub known: Vec<String>,
}

impl Report {
    /// Records `case`'s outcome for `client` in `mode` (`None`: the client gave no answer).
    pub fn check(
        &mut self,
        client: &str,
        mode: &str,
        case: &Case,
        got: Option<&Outcome>,
        stderr: &str,
    ) {
        let problem = match got {
            Some(g) => mismatch(case, g),
            None => Some(format!(
                "no answer from the client; its stderr ends:\n{}",
                tail(stderr, 2000)
            )),
        };
        let at = format!("{client} [{mode}] {}", case.name);
        match (problem, case.known_failing(client, mode)) {
            (None, None) => self.passed += 1,
            (None, Some(reason)) => self.failures.push(format!(
                "{at}: passes now but is marked known_failing ({reason}); remove the mark"
            )),
            (Some(p), None) => self.failures.push(format!("{at}: {p}")),
            (Some(p), Some(reason)) => self.known.push(format!("{at}: {reason}\n    {p}")),
        }
    }

    /// Prints the known failures and fails on any other.
    pub fn finish(self, what: &str) {
        eprintln!(
            "{what}: {} checks passed, {} known failures, {} failures",
            self.passed,
            self.known.len(),
            self.failures.len()
        );
        for k in &self.known {
            eprintln!("KNOWN FAILURE {k}");
        }
        assert!(
            self.failures.is_empty(),
            "{what}: {} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert!(self.passed > 0, "{what}: no case ran");
    }
}

pub fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
