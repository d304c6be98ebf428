#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Real PostgreSQL and InfluxDB clients against `cairn serve` (the binary, as a user runs it).
//!
//! Every PostgreSQL client runs the shared suite (tests/clients/suite.json) in each of its
//! modes (simple protocol with inlined parameters, extended protocol with typed parameters,
//! binary results, prepared statements), each mode on a fresh server that is restarted
//! (SIGTERM, same data directory) between the writes and the reads. A client prints one JSON
//! line per case; the comparison and the known-failing marks live here (tests/clients/suite.rs).
//! Grafana's catalog queries run through psycopg (tests/clients/grafana.json); the InfluxDB
//! client library writes through `/api/v2/write` and psycopg reads the points back.
//!
//! The clients are installed by `.ci/install-clients.sh`; a missing one fails its test unless
//! `CAIRN_SKIP_MISSING_CLIENTS` is set.

#[path = "clients/harness.rs"]
mod harness;
#[path = "clients/psql.rs"]
mod psql;
#[path = "clients/suite.rs"]
mod suite;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use harness::{Serve, client_available, clients_dir, run_bounded, scripts_dir};
use suite::{Case, Outcome, Report};

/// The longest one client process may run (a JVM compiling the runner included).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

/// How a client runs a list of cases.
enum Runner {
    /// psql, driven case by case from Rust.
    Psql,
    /// A script taking `PORT MODE CASES.json` and printing one JSON line per case.
    Script(fn() -> Command),
}

struct Client {
    name: &'static str,
    modes: &'static [&'static str],
    runner: Runner,
}

impl Client {
    /// Runs `cases` against the server; outcomes and the client's stderr.
    fn run(
        &self,
        server: &Serve,
        mode: &str,
        cases: &[Case],
        work: &Path,
    ) -> (Vec<Outcome>, String) {
        match &self.runner {
            Runner::Psql => (
                cases
                    .iter()
                    .map(|c| psql::run_case(server.pg.port(), c, work))
                    .collect(),
                String::new(),
            ),
            Runner::Script(command) => {
                let file = work.join(format!("cases-{}-{mode}.json", self.name));
                std::fs::write(&file, suite::client_file(cases)).unwrap();
                let mut cmd = command();
                cmd.arg(server.pg.port().to_string())
                    .arg(mode)
                    .arg(&file)
                    .env("TZ", "UTC");
                let out = run_bounded(&mut cmd, CLIENT_TIMEOUT);
                let stdout = String::from_utf8_lossy(&out.stdout);
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                (suite::parse_outcomes(&stdout), stderr)
            }
        }
    }
}

/// Runs the suite in `suite_file` with `client` in each of its modes.
fn run_suite(client: &Client, suite_file: &str) -> Report {
    let cases = suite::load(&scripts_dir().join(suite_file));
    let mut report = Report::default();
    for mode in client.modes {
        let tmp = tempfile::tempdir().unwrap();
        let mut server = Serve::start(tmp.path(), &[]);
        for (i, segment) in suite::segments(&cases, client.name, mode)
            .iter()
            .enumerate()
        {
            if i > 0 {
                server.restart();
            }
            let (outcomes, stderr) = client.run(&server, mode, segment, tmp.path());
            for case in segment {
                let got = outcomes.iter().find(|o| o.case == case.name);
                report.check(client.name, mode, case, got, &stderr);
            }
        }
        server.stop();
    }
    report
}

/// python3, leaving no `__pycache__` in the source tree.
fn python3() -> Command {
    let mut c = Command::new("python3");
    c.env("PYTHONDONTWRITEBYTECODE", "1");
    c
}

fn psycopg_installed() -> bool {
    client_available(
        "psycopg (PyPI psycopg[binary])",
        python3().args(["-c", "import psycopg"]),
    )
}

fn psycopg_command() -> Command {
    let mut c = python3();
    c.arg(scripts_dir().join("run_psycopg.py"));
    c
}

const PSYCOPG: Client = Client {
    name: "psycopg",
    modes: &["simple", "extended", "binary"],
    runner: Runner::Script(psycopg_command),
};

#[test]
fn psql() {
    if !psql::installed() {
        return;
    }
    let client = Client {
        name: "psql",
        modes: &["simple"],
        runner: Runner::Psql,
    };
    run_suite(&client, "suite.json").finish("psql");
}

#[test]
fn psycopg() {
    if !psycopg_installed() {
        return;
    }
    run_suite(&PSYCOPG, "suite.json").finish("psycopg");
}

#[test]
fn node_postgres() {
    let modules = clients_dir().join("node_modules");
    if !client_available(
        "node-postgres (npm pg, in target/clients/node_modules)",
        Command::new("node")
            .args(["-e", "require('pg')"])
            .env("NODE_PATH", &modules),
    ) {
        return;
    }
    let client = Client {
        name: "node",
        modes: &["simple", "extended", "prepared"],
        runner: Runner::Script(|| {
            let mut c = Command::new("node");
            c.arg(scripts_dir().join("run_node.js"))
                .env("NODE_PATH", clients_dir().join("node_modules"));
            c
        }),
    };
    run_suite(&client, "suite.json").finish("node-postgres");
}

const JDBC_JAR: &str = "/usr/share/java/postgresql.jar";

#[test]
fn jdbc() {
    if !client_available(
        "Java and the PostgreSQL JDBC driver (Debian libpostgresql-jdbc-java)",
        Command::new("test").args(["-f", JDBC_JAR]),
    ) || !client_available("java", Command::new("java").arg("-version"))
    {
        return;
    }
    let client = Client {
        name: "jdbc",
        modes: &["simple", "extended", "binary"],
        runner: Runner::Script(|| {
            let mut c = Command::new("java");
            c.args(["-Duser.timezone=UTC", "-Xss4m", "-cp", JDBC_JAR])
                .arg(scripts_dir().join("RunJdbc.java"));
            c
        }),
    };
    run_suite(&client, "suite.json").finish("jdbc");
}

/// The catalog queries Grafana's PostgreSQL data source sends (version, schemas, tables,
/// columns) and a time-series panel query with its macros expanded, through psycopg.
#[test]
fn grafana_catalog_queries() {
    if !psycopg_installed() {
        return;
    }
    run_suite(&PSYCOPG, "grafana.json").finish("grafana (psycopg)");
}

/// influxdb-client (v2 API) writes points with a synchronous WriteApi and a batch with one
/// bad line; after a restart psycopg reads the points back.
#[test]
fn influxdb_client_writes() {
    if !psycopg_installed()
        || !client_available(
            "influxdb-client (PyPI)",
            python3().args(["-c", "import influxdb_client"]),
        )
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Serve::start(tmp.path(), &[]);
    let cases = suite::load(&scripts_dir().join("influx.json"));
    let mut report = Report::default();
    let (writes, reads): (Vec<Case>, Vec<Case>) =
        cases.into_iter().partition(|c| c.runs_on("influx", "v2"));
    let file = tmp.path().join("influx-cases.json");
    std::fs::write(&file, suite::client_file(&writes)).unwrap();
    let out = run_bounded(
        python3()
            .arg(scripts_dir().join("run_influx.py"))
            .arg(format!("http://{}", server.http))
            .arg(&file),
        CLIENT_TIMEOUT,
    );
    let outcomes = suite::parse_outcomes(&String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for case in &writes {
        let got = outcomes.iter().find(|o| o.case == case.name);
        report.check("influx", "v2", case, got, &stderr);
    }
    server.restart();
    let (outcomes, stderr) = PSYCOPG.run(&server, "simple", &reads, tmp.path());
    for case in &reads {
        let got = outcomes.iter().find(|o| o.case == case.name);
        report.check("psycopg", "simple", case, got, &stderr);
    }
    server.stop();
    report.finish("influxdb-client");
}
