//! Differential tests of the fast paths: aggregations run inside the engine (tags grouped on
//! dictionary codes, time buckets on the sorted time key) and COUNT / MIN / MAX answered from
//! statistics must return exactly what DataFusion's generic plan returns on the same data
//! (floats to 1e-9 relative: sums may add in another order), over memtables, flushed files,
//! a column added after some files were written, and after a restart. Each query also checks
//! that the fast path really ran.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use cairn_engine::{Db, DbOptions};
use cairn_query::Session;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z
const MINUTE: i64 = 60_000_000_000;

fn opts() -> DbOptions {
    DbOptions {
        background: false,
        ..DbOptions::default()
    }
}

/// `v`, or NULL with probability `p`.
macro_rules! maybe {
    ($rng:expr, $p:expr, $v:expr) => {{
        let v = $v;
        if $rng.random_bool($p) { None } else { Some(v) }
    }};
}

/// `rows` rows starting at minute `start`, roughly one per minute with duplicates.
fn batch(rng: &mut StdRng, start: i64, rows: usize, with_extra: bool) -> RecordBatch {
    let mut ts = Vec::new();
    let (mut host, mut region, mut ok) = (Vec::new(), Vec::new(), Vec::new());
    let (mut v, mut n, mut u, mut note, mut extra) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..rows {
        // Out of order within the batch sometimes; several rows per timestamp sometimes.
        let minute = start + (i as i64) / 2 + rng.random_range(-3..=3);
        ts.push(T0 + minute * MINUTE + rng.random_range(0..3) * 1_000_000_000);
        let h = rng.random_range(0..20);
        host.push(maybe!(rng, 0.05, format!("h{h:02}")));
        region.push(maybe!(
            rng,
            0.1,
            ["eu", "us", "ap"][rng.random_range(0..3)].to_string()
        ));
        ok.push(maybe!(rng, 0.1, rng.random_bool(0.6)));
        // NaN is tested on its own (`nan_is_the_largest_double`): DataFusion's grouped
        // MIN / MAX do not order it consistently.
        let x = match rng.random_range(0..40) {
            1 => -0.0,
            2 => 0.0,
            _ => (rng.random_range(-1000..1000) as f64) / 8.0,
        };
        v.push(maybe!(rng, 0.1, x));
        n.push(maybe!(rng, 0.1, rng.random_range(-1_000_000i64..1_000_000)));
        u.push(maybe!(rng, 0.05, rng.random_range(0u64..5_000)));
        note.push(maybe!(rng, 0.5, format!("note{}", rng.random_range(0..5))));
        extra.push(maybe!(rng, 0.2, rng.random_range(0..100) as f64));
    }
    let mut fields = vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("host", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("ok", DataType::Boolean, true),
        Field::new("v", DataType::Float64, true),
        Field::new("n", DataType::Int64, true),
        Field::new("u", DataType::UInt64, true),
        Field::new("note", DataType::Utf8, true),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(ts).with_timezone("UTC")),
        Arc::new(StringArray::from(host)),
        Arc::new(StringArray::from(region)),
        Arc::new(BooleanArray::from(ok)),
        Arc::new(Float64Array::from(v)),
        Arc::new(Int64Array::from(n)),
        Arc::new(UInt64Array::from(u)),
        Arc::new(StringArray::from(note)),
    ];
    if with_extra {
        fields.push(Field::new("extra", DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from(extra)));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// Files (two partitions' worth, some small), a column added afterwards, more files and
/// rows left in memtables.
fn load(db: &Db) {
    let mut rng = StdRng::seed_from_u64(7);
    for (k, rows) in [900usize, 700, 300].iter().enumerate() {
        db.write("m", &batch(&mut rng, k as i64 * 200, *rows, false))
            .unwrap();
        db.flush().unwrap();
    }
    db.add_columns(
        "m",
        vec![cairn_engine::ColumnSpec::field(
            "extra",
            cairn_engine::ColumnType::F64,
        )],
    )
    .unwrap();
    db.write("m", &batch(&mut rng, 500, 800, true)).unwrap();
    db.flush().unwrap();
    db.write("m", &batch(&mut rng, 700, 600, true)).unwrap();
    db.write("m", &batch(&mut rng, 100, 50, false)).unwrap();
}

const CREATE: &str = "CREATE TIMESERIES m (ts TIMESTAMP TIME_KEY, host VARCHAR TAG, \
    region VARCHAR TAG, ok BOOLEAN, v DOUBLE, n BIGINT, u BIGINT UNSIGNED, note VARCHAR) \
    WITH (partition_by = '4h')";

fn queries() -> Vec<(String, &'static str)> {
    let groups = [
        "",
        "host",
        "region",
        "ok",
        "host, region",
        "note",
        "time_bucket('15m', ts)",
        "time_bucket(INTERVAL '1 hour', ts), host",
        "time_bucket('PT7M', ts, TIMESTAMP '2024-01-01T00:03:00Z'), ok, region",
        "time_bucket('1 day', ts)",
    ];
    let aggs = [
        "count(*)",
        "count(*), count(v), sum(v), avg(v), min(v), max(v)",
        "sum(n), avg(n), min(n), max(n), count(n)",
        "sum(u), min(u), max(u), avg(u), min(ts), max(ts)",
        "count(extra), sum(extra), min(extra), max(extra)",
    ];
    let filters = [
        "",
        "WHERE host = 'h03'",
        "WHERE host IN ('h01', 'h07', 'nope') AND ok = true",
        "WHERE region != 'eu'",
        "WHERE ts >= '2024-01-01T03:00:00Z' AND ts < '2024-01-01T09:30:00Z'",
        "WHERE v > 10.5",
        "WHERE n IS NULL",
        "WHERE note IS NOT NULL AND u <= 2500",
        "WHERE extra >= 50",
        "WHERE host < 'h05' AND region IS NULL",
    ];
    let mut out = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        for (ai, a) in aggs.iter().enumerate() {
            // Every group with every aggregate list, and a rotating filter (all filters
            // with every group over the query set).
            for fi in [(gi + ai) % filters.len(), (gi * 3 + ai + 5) % filters.len()] {
                let f = filters[fi];
                let sql = if g.is_empty() {
                    format!("SELECT {a} FROM m {f}")
                } else {
                    format!("SELECT {g}, {a} FROM m {f} GROUP BY {g}")
                };
                // Unfiltered COUNT / MIN / MAX may be answered from statistics instead.
                out.push((sql, "CairnAggregateExec|PlaceholderRowExec"));
            }
        }
    }
    // Answered from statistics (no filter): no scan at all.
    for a in [
        "count(*)",
        "count(*), min(v), max(v), min(ts), max(ts)",
        "min(host), max(host), min(n), max(n), min(u), max(u), count(v), count(host)",
        "min(extra), max(extra), count(extra)",
        "max(ok), min(ok), min(note), max(note)",
    ] {
        out.push((format!("SELECT {a} FROM m"), "PlaceholderRowExec"));
    }
    out
}

fn render(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in batches {
        let fmts: Vec<ArrayFormatter<'_>> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            rows.push(fmts.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    rows
}

fn same_cell(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

async fn compare_all(fast: &Session, generic: &Session, label: &str) -> usize {
    let mut checked = 0;
    for (sql, marker) in queries() {
        let plan = fast.sql(&format!("EXPLAIN {sql}"), &[]).await.unwrap();
        let text = render(&plan.batches)
            .into_iter()
            .map(|r| r.join(" "))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            marker.split('|').any(|m| text.contains(m)) && !text.contains("AggregateExec: mode"),
            "{label}: {sql}: fast path not used:\n{text}"
        );
        let a = fast.sql(&sql, &[]).await.unwrap();
        let b = generic.sql(&sql, &[]).await.unwrap();
        assert_eq!(
            a.schema.fields().len(),
            b.schema.fields().len(),
            "{label}: {sql}"
        );
        for (fa, fb) in a.schema.fields().iter().zip(b.schema.fields()) {
            assert_eq!(
                fa.data_type(),
                fb.data_type(),
                "{label}: {sql}: column {}",
                fa.name()
            );
        }
        let mut ra = render(&a.batches);
        let mut rb = render(&b.batches);
        // Group keys come first; sort by them (aggregates may differ in the last bits).
        let nkeys = a.schema.fields().len() - agg_count(&sql);
        ra.sort_by(|x, y| x[..nkeys].cmp(&y[..nkeys]));
        rb.sort_by(|x, y| x[..nkeys].cmp(&y[..nkeys]));
        assert_eq!(
            ra.len(),
            rb.len(),
            "{label}: {sql}: row counts\nfast {ra:?}\ngeneric {rb:?}"
        );
        for (x, y) in ra.iter().zip(&rb) {
            assert!(
                x.iter().zip(y).all(|(p, q)| same_cell(p, q)),
                "{label}: {sql}:\nfast    {x:?}\ngeneric {y:?}"
            );
        }
        checked += 1;
    }
    checked
}

/// The number of aggregate calls in the select list.
fn agg_count(sql: &str) -> usize {
    let select = &sql[..sql.find(" FROM ").unwrap()];
    ["count(", "sum(", "avg(", "min(", "max("]
        .iter()
        .map(|f| select.matches(f).count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_paths_equal_the_generic_plan() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), opts()).unwrap());
    let fast = Session::new(db.clone());
    fast.sql(CREATE, &[]).await.unwrap();
    load(&db);
    let generic = Session::with_fast_paths(db.clone(), false);
    let stats = db.collection_stats("m").unwrap();
    assert!(stats.files >= 4 && stats.memtable_rows > 0, "{stats:?}");
    let n = compare_all(&fast, &generic, "mixed").await;
    assert_eq!(n, queries().len());

    // After a restart without close: files plus rows replayed from the log.
    drop((fast, generic));
    drop(Arc::try_unwrap(db).ok().unwrap());
    let db = Arc::new(Db::open(dir.path(), opts()).unwrap());
    let fast = Session::new(db.clone());
    let generic = Session::with_fast_paths(db.clone(), false);
    compare_all(&fast, &generic, "restarted").await;

    // Everything flushed.
    db.checkpoint().unwrap();
    compare_all(&fast, &generic, "flushed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_collection_and_no_matching_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), opts()).unwrap());
    let fast = Session::new(db.clone());
    let generic = Session::with_fast_paths(db.clone(), false);
    fast.sql(CREATE, &[]).await.unwrap();
    for sql in [
        "SELECT count(*), sum(v), min(ts) FROM m",
        "SELECT host, count(*) FROM m GROUP BY host",
        "SELECT count(*), avg(n) FROM m WHERE host = 'x'",
    ] {
        let a = render(&fast.sql(sql, &[]).await.unwrap().batches);
        let b = render(&generic.sql(sql, &[]).await.unwrap().batches);
        assert_eq!(a, b, "{sql}");
    }
}

/// NaN orders above every other double (PostgreSQL's rule, and DataFusion's for MIN / MAX
/// without GROUP BY): the engine's grouped MIN / MAX agree with the ungrouped answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_is_the_largest_double() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), opts()).unwrap());
    let fast = Session::new(db.clone());
    let generic = Session::with_fast_paths(db.clone(), false);
    fast.sql(CREATE, &[]).await.unwrap();
    fast.sql(
        "INSERT INTO m (ts, host, v) VALUES \
         ('2024-01-01T00:00:00Z', 'a', 1.0), ('2024-01-01T00:01:00Z', 'a', 'NaN'), \
         ('2024-01-01T00:02:00Z', 'a', -5.0), ('2024-01-01T00:03:00Z', 'b', 'NaN'), \
         ('2024-01-01T00:04:00Z', 'b', 2.0), ('2024-01-01T00:05:00Z', 'c', 3.0)",
        &[],
    )
    .await
    .unwrap();
    for flushed in [false, true] {
        if flushed {
            db.flush().unwrap();
        }
        let grouped = render(
            &fast
                .sql(
                    "SELECT host, min(v), max(v) FROM m GROUP BY host ORDER BY host",
                    &[],
                )
                .await
                .unwrap()
                .batches,
        );
        let mut ungrouped = Vec::new();
        for h in ["a", "b", "c"] {
            let sql = format!("SELECT '{h}', min(v), max(v) FROM m WHERE host = '{h}'");
            ungrouped.extend(render(&generic.sql(&sql, &[]).await.unwrap().batches));
        }
        assert_eq!(grouped, ungrouped, "flushed: {flushed}");
        assert_eq!(grouped[0], ["a", "-5.0", "NaN"]);
    }
}

/// Regression: group ids of a file's dictionary were cached by the dictionary's address, so
/// a later file's dictionary allocated at a freed address reused the wrong ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_files_dictionary_is_interned_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), opts()).unwrap());
    let fast = Session::new(db.clone());
    fast.sql(
        "CREATE TIMESERIES t (ts TIMESTAMP TIME_KEY, host VARCHAR TAG)",
        &[],
    )
    .await
    .unwrap();
    let hosts: Vec<String> = (0..40).map(|i| format!("h{i:02}")).collect();
    for (i, h) in hosts.iter().enumerate() {
        let sql = format!("INSERT INTO t VALUES ('2024-01-01T00:00:{:02}Z', '{h}')", i);
        fast.sql(&sql, &[]).await.unwrap();
        db.flush().unwrap();
    }
    for _ in 0..5 {
        let out = fast
            .sql(
                "SELECT host, count(*) FROM t GROUP BY host ORDER BY host",
                &[],
            )
            .await
            .unwrap();
        let rows = render(&out.batches);
        let want: Vec<Vec<String>> = hosts.iter().map(|h| vec![h.clone(), "1".into()]).collect();
        assert_eq!(rows, want);
    }
}
