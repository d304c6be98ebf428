//! `Db::sql` through the embedded API: DDL, INSERT and SELECT with typed `$n` parameters,
//! results as Arrow batches, and the same answers after a restart and after a flush.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn::arrow_array::cast::AsArray;
use cairn::arrow_array::types::{Float64Type, Int64Type};
use cairn::{Db, DbOptions, QueryError, ScalarValue};

fn ts(s: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(s.into()))
}

fn count(db: &Db, sql: &str, params: &[ScalarValue]) -> i64 {
    let out = db.sql(sql, params).unwrap();
    out.batches[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .value(0)
}

#[test]
fn sql_with_parameters_survives_restart_and_flush() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        let out = db
            .sql(
                "CREATE TIMESERIES cpu (ts TIMESTAMP TIME_KEY, host VARCHAR TAG, usage DOUBLE, cores BIGINT)",
                &[],
            )
            .unwrap();
        assert_eq!(out.command_tag(), "CREATE TIMESERIES");
        // Parameters are cast to the column types: a string to a timestamp, an integer to
        // a DOUBLE.
        let insert = "INSERT INTO cpu VALUES ($1, $2, $3, $4)";
        for (i, host) in ["a", "b", "a"].iter().enumerate() {
            let out = db
                .sql(
                    insert,
                    &[
                        ts(&format!("2024-01-01T00:0{i}:00Z")),
                        ScalarValue::from(*host),
                        ScalarValue::Int64(Some(i as i64 + 1)),
                        ScalarValue::Int64(Some(4)),
                    ],
                )
                .unwrap();
            assert_eq!(out.command_tag(), "INSERT 0 1");
        }
        let out = db
            .sql(
                "SELECT sum(usage) FROM cpu WHERE host = $1 AND ts >= $2",
                &["a".into(), ts("2024-01-01T00:00:00Z")],
            )
            .unwrap();
        let sum = out.batches[0]
            .column(0)
            .as_primitive::<Float64Type>()
            .value(0);
        assert_eq!(sum, 4.0);
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM cpu", &[]), 3);
    db.flush().unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM cpu WHERE host = $1",
            &["a".into()]
        ),
        2
    );
    // Engine API and SQL see the same rows.
    let scanned = db.scan("cpu", &Default::default()).unwrap().num_rows();
    assert_eq!(scanned, 3);
}

/// `LIMIT $1` / `OFFSET $2` take BIGINT parameters, also when given as text (as drivers
/// that send untyped parameters do); a value that is not a number is an error naming it.
#[test]
fn limit_and_offset_parameters_are_bigint() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    db.sql("CREATE TIMESERIES m (ts TIMESTAMP TIME_KEY, v BIGINT)", &[])
        .unwrap();
    db.sql(
        "INSERT INTO m VALUES ('2024-01-01T00:00:00Z', 1), ('2024-01-01T00:00:01Z', 2), \
         ('2024-01-01T00:00:02Z', 3), ('2024-01-01T00:00:03Z', 4)",
        &[],
    )
    .unwrap();
    let sum = "SELECT sum(v) FROM (SELECT v FROM m ORDER BY v LIMIT $1 OFFSET $2)";
    assert_eq!(count(&db, sum, &["2".into(), "1".into()]), 5);
    assert_eq!(count(&db, sum, &[3i64.into(), 0i64.into()]), 6);
    let bad = db.sql(sum, &["two".into(), "0".into()]).unwrap_err();
    assert!(matches!(bad, QueryError::Parameter(_)), "{bad}");
    assert!(bad.to_string().contains("$1"), "{bad}");
}

#[test]
fn parameter_mistakes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    db.sql("CREATE TIMESERIES m (ts TIMESTAMP TIME_KEY, v DOUBLE)", &[])
        .unwrap();
    let too_few = db.sql("SELECT * FROM m WHERE v > $1", &[]).unwrap_err();
    assert!(matches!(too_few, QueryError::Parameter(_)), "{too_few}");
    assert!(too_few.to_string().contains("1 parameter"), "{too_few}");
    let too_many = db
        .sql("SELECT * FROM m WHERE v > $1", &[1.0.into(), 2.0.into()])
        .unwrap_err();
    assert!(matches!(too_many, QueryError::Parameter(_)), "{too_many}");
    let wrong_type = db
        .sql("SELECT * FROM m WHERE v > $1", &["not a number".into()])
        .unwrap_err();
    assert!(
        matches!(wrong_type, QueryError::Parameter(_)),
        "{wrong_type}"
    );
    assert!(wrong_type.to_string().contains("$1"), "{wrong_type}");
    let ddl = db
        .sql("DROP TIMESERIES m", &[ScalarValue::Int64(Some(1))])
        .unwrap_err();
    assert!(matches!(ddl, QueryError::Parameter(_)), "{ddl}");
    let gap = db
        .sql("SELECT * FROM m WHERE v > $2", &[1.0.into()])
        .unwrap_err();
    assert!(gap.to_string().contains("$1"), "{gap}");
}

#[test]
fn blocking_sql_inside_an_async_runtime_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let e = db.sql("SELECT 1", &[]).unwrap_err();
        assert!(e.to_string().contains("session()"), "{e}");
        let out = db.session().sql("SELECT 1 AS one", &[]).await.unwrap();
        assert_eq!(out.num_rows(), 1);
    });
}
