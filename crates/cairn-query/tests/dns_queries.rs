#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The 10 queries of the DNS benchmark (`shared/bench/`) through a cairn-query `Session`,
//! checked against the answers `gen_dns.py` computes without any database (row count and the
//! order-independent checksum of `common.py`), with the 100K rows in four places: all in
//! memtables, all in files, half and half, and after a restart.
//!
//! Needs python3 and `../shared/bench` next to the repository; the data is generated once into
//! `target/cairn-test-data/`.

mod dns_support;

use std::sync::Arc;

use cairn_engine::{Db, DbOptions, LineErrorPolicy, Precision};
use cairn_query::Session;
use cairn_query::arrow::array::AsArray;
use cairn_query::arrow::datatypes::Int64Type;
use dns_support::{Bench, ROWS};

const CREATE: &str = "CREATE TIMESERIES dns (ts TIMESTAMP TIME_KEY, client_ip VARCHAR TAG, \
                      qname VARCHAR TAG, qtype VARCHAR TAG, rcode VARCHAR TAG, cached BOOLEAN, \
                      elapsed_ms DOUBLE)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every row in memtables.
    Memtable,
    /// Every row in partition files (`checkpoint`).
    Flushed,
    /// The first half in files, the second in memtables.
    Mixed,
    /// First half flushed, second written, dropped without closing and reopened (the second
    /// half is replayed from the log).
    Restart,
}

#[test]
fn dns_queries_memtable_only() {
    run(Mode::Memtable);
}

#[test]
fn dns_queries_all_flushed() {
    run(Mode::Flushed);
}

#[test]
fn dns_queries_half_flushed_half_memtable() {
    run(Mode::Mixed);
}

#[test]
fn dns_queries_after_restart() {
    run(Mode::Restart);
}

fn options() -> DbOptions {
    DbOptions {
        background: false,
        ..DbOptions::default()
    }
}

fn write(db: &Db, text: &str, mode: Mode) {
    let lines = text.bytes().filter(|&b| b == b'\n').count() as u64;
    let report = db
        .write_lines_to(
            "default",
            text,
            Precision::Nanoseconds,
            LineErrorPolicy::RejectBatch,
        )
        .unwrap_or_else(|e| panic!("{mode:?}: write_lines_to failed: {e}"));
    assert!(
        report.errors.is_empty(),
        "{mode:?}: line protocol rejected: {:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert_eq!(report.rows_written, lines, "{mode:?}: rows written");
}

fn run(mode: Mode) {
    let bench = dns_support::bench();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut db = Arc::new(Db::open(dir.path(), options()).unwrap());
    {
        let session = Session::new(db.clone());
        rt.block_on(session.sql(CREATE, &[]))
            .unwrap_or_else(|e| panic!("{mode:?}: {CREATE}: {e}"));
    }
    let (first, second) = bench.lp_split(ROWS / 2);
    match mode {
        Mode::Memtable => write(&db, &bench.lp, mode),
        Mode::Flushed => {
            write(&db, &bench.lp, mode);
            db.checkpoint().unwrap();
        }
        Mode::Mixed | Mode::Restart => {
            write(&db, first, mode);
            db.flush().unwrap();
            write(&db, second, mode);
        }
    }
    if mode == Mode::Restart {
        // Dropped without `close`: the second half comes back from the log.
        drop(Arc::try_unwrap(db).expect("no other holder of the Db"));
        db = Arc::new(Db::open(dir.path(), options()).unwrap());
    }
    check_placement(&db, mode);

    let session = Session::new(db.clone());
    let failures = rt.block_on(check_queries(&session, bench, mode));
    assert!(
        failures.is_empty(),
        "mode {mode:?}: {} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The rows are where the mode says (otherwise the mode tests something else).
fn check_placement(db: &Db, mode: Mode) {
    let s = db.collection_stats("dns").unwrap();
    let total = ROWS as u64;
    let half = (ROWS / 2) as u64;
    let (files, mem) = match mode {
        Mode::Memtable => (0, total),
        Mode::Flushed => (total, 0),
        Mode::Mixed | Mode::Restart => (half, total - half),
    };
    assert_eq!(
        (s.file_rows, s.memtable_rows),
        (files, mem),
        "{mode:?}: (rows in files, rows in memtables); stats {s:?}"
    );
}

/// Runs `SELECT COUNT(*)` and the 10 queries; one line per wrong answer.
async fn check_queries(session: &Session, bench: &Bench, mode: Mode) -> Vec<String> {
    let mut failures = Vec::new();
    let count_sql = "SELECT COUNT(*) FROM dns";
    match session.sql(count_sql, &[]).await {
        Ok(out) => {
            let got = out
                .batches
                .first()
                .filter(|b| b.num_rows() == 1 && b.num_columns() == 1)
                .and_then(|b| {
                    b.column(0)
                        .as_primitive_opt::<Int64Type>()
                        .map(|a| a.value(0))
                });
            if got != Some(ROWS as i64) || bench.expected_rows != ROWS as u64 {
                failures.push(format!(
                    "{count_sql}: expected {ROWS} (expected.json: {}), got {got:?} from {:?}",
                    bench.expected_rows, out.batches
                ));
            }
        }
        Err(e) => failures.push(format!("{count_sql}: {e}")),
    }

    for q in &bench.queries {
        let want = bench.answer(&q.id);
        let name = format!("{} ({}) in mode {mode:?}: {}", q.id, q.label, q.sql);
        let out = match session.sql(&q.sql, &[]).await {
            Ok(out) => out,
            Err(e) => {
                failures.push(format!("{name}: error: {e}"));
                continue;
            }
        };
        let rows = out.num_rows();
        let got = dns_support::rows_json(&out.batches, &q.kinds)
            .and_then(|json| dns_support::checksum(bench, &q.id, &json));
        match got {
            Ok(sum) if rows == want.rows && sum == want.checksum => {}
            Ok(sum) => failures.push(format!(
                "{name}: expected {} rows, checksum {}; got {rows} rows, checksum {sum}",
                want.rows, want.checksum
            )),
            Err(e) => failures.push(format!("{name}: {rows} rows: {e}")),
        }
    }
    failures
}
