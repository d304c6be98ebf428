#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The PostgreSQL wire protocol end to end with tokio-postgres: simple and extended protocol,
//! typed parameters in text and binary, COPY FROM STDIN, settings, transactions, errors with
//! SQLSTATEs, and rows surviving a restart and a checkpoint.

use cairn_server::{Server, ServerConfig};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

async fn start(dir: &std::path::Path) -> Server {
    Server::start(ServerConfig::for_tests(dir)).await.unwrap()
}

async fn connect(server: &Server) -> Client {
    let addr = server.pg_addr.unwrap();
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=cairn dbname=default",
            addr.port()
        ),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("connection: {e}");
        }
    });
    client
}

fn simple_rows(msgs: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    msgs.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_parameters_copy_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let c = connect(&server).await;
    c.batch_execute(
        "CREATE TIMESERIES cpu (ts TIMESTAMP TIME_KEY, host VARCHAR TAG, usage DOUBLE, n BIGINT, ok BOOLEAN)",
    )
    .await
    .unwrap();
    let n = c
        .execute(
            "INSERT INTO cpu VALUES ('2024-01-01T00:00:00Z', 'a', 1.5, 1, true), ('2024-01-01T00:00:01Z', 'b', 2.5, 2, false)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    // Extended protocol, binary results, typed parameters.
    let rows = c
        .query(
            "SELECT host, usage, n, ok FROM cpu WHERE n >= $1 ORDER BY host",
            &[&1i64],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(0), "a");
    assert_eq!(rows[0].get::<_, f64>(1), 1.5);
    assert_eq!(rows[1].get::<_, i64>(2), 2);
    assert!(!rows[1].get::<_, bool>(3));
    let rows = c
        .query("SELECT count(*) FROM cpu WHERE host = $1", &[&"b"])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 1);
    // Simple protocol, several statements.
    let msgs = c
        .simple_query("SELECT 1 AS one; SELECT host FROM cpu ORDER BY host")
        .await
        .unwrap();
    assert_eq!(
        simple_rows(&msgs),
        vec![
            vec![Some("1".into())],
            vec![Some("a".into())],
            vec![Some("b".into())]
        ]
    );
    // COPY FROM STDIN, CSV with a header in another order.
    let sink = c
        .copy_in("COPY cpu FROM STDIN (FORMAT csv, HEADER true)")
        .await
        .unwrap();
    use futures::SinkExt;
    let mut sink = std::pin::pin!(sink);
    sink.send(bytes::Bytes::from_static(
        b"host,ts,usage,n,ok\nc,2024-01-01T00:00:02Z,3.5,3,true\nd,2024-01-01T00:00:03Z,,4,false\n",
    ))
    .await
    .unwrap();
    let copied = sink.as_mut().finish().await.unwrap();
    assert_eq!(copied, 2);
    // A quoted (case-kept) collection name; a missing collection is an error at Parse, and
    // the connection stays in step for the next statement.
    c.batch_execute("CREATE COLLECTION \"Mixed\" (ts TIMESTAMP TIME_KEY, v BIGINT)")
        .await
        .unwrap();
    let sink = c
        .copy_in("COPY \"Mixed\" (ts, v) FROM STDIN (FORMAT csv)")
        .await
        .unwrap();
    let mut sink = std::pin::pin!(sink);
    sink.send(bytes::Bytes::from_static(b"2024-01-01T00:00:00Z,7\n"))
        .await
        .unwrap();
    assert_eq!(sink.as_mut().finish().await.unwrap(), 1);
    let Err(e) = c
        .copy_in::<_, bytes::Bytes>("COPY no_such FROM STDIN (FORMAT csv)")
        .await
    else {
        panic!("COPY into a missing collection was accepted");
    };
    assert_eq!(e.code().unwrap().code(), "42P01", "{e}");
    let v: i64 = c
        .query_one("SELECT v FROM \"Mixed\"", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 7);
    // version(), current_database(), SHOW.
    let v: String = c.query_one("SELECT version()", &[]).await.unwrap().get(0);
    assert!(v.starts_with("PostgreSQL 16") && v.contains("cairn"), "{v}");
    let d: String = c
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(d, "default");
    let msgs = c.simple_query("SHOW server_version").await.unwrap();
    assert!(
        simple_rows(&msgs)[0][0]
            .as_deref()
            .unwrap()
            .contains("cairn")
    );
    // Errors carry SQLSTATEs.
    let e = c.simple_query("SELEC 1").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42601", "{e}");
    let e = c.simple_query("SELECT * FROM nope").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42P01", "{e}");
    let e = c.simple_query("SET no_such_setting = 1").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42704", "{e}");
    // Restart: everything is still there, then flushed.
    drop(c);
    server.shutdown().await.unwrap();
    let server = start(dir.path()).await;
    let c = connect(&server).await;
    let rows = c
        .query("SELECT count(*), sum(n) FROM cpu", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 4);
    assert_eq!(rows[0].get::<_, i64>(1), 10);
    c.batch_execute("CHECKPOINT").await.unwrap();
    let rows = c
        .query("SELECT host FROM cpu WHERE usage IS NULL", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "d");
    drop(c);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_honest() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let c = connect(&server).await;
    c.batch_execute("CREATE TIMESERIES t (ts TIMESTAMP TIME_KEY, v BIGINT)")
        .await
        .unwrap();
    // A read-only block commits and rolls back fine.
    c.batch_execute("BEGIN; SELECT 1; ROLLBACK").await.unwrap();
    c.batch_execute("BEGIN; INSERT INTO t (v) VALUES (1); COMMIT")
        .await
        .unwrap();
    // ROLLBACK cannot undo a write: it says so.
    c.batch_execute("BEGIN").await.unwrap();
    c.batch_execute("INSERT INTO t (v) VALUES (2)")
        .await
        .unwrap();
    let e = c.batch_execute("ROLLBACK").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "0A000", "{e}");
    // The block is failed until it ends.
    let e = c.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "25P02", "{e}");
    c.batch_execute("ROLLBACK").await.unwrap();
    let rows = c.query("SELECT count(*) FROM t", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 2);
    drop(c);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_users_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::for_tests(dir.path());
    config.users = vec![cairn_server::config::User {
        name: "alice".into(),
        password: "s3cret pass".into(),
    }];
    let server = Server::start(config).await.unwrap();
    let port = server.pg_addr.unwrap().port();
    let dsn = |user: &str, pass: &str, db: &str| {
        format!("host=127.0.0.1 port={port} user={user} password='{pass}' dbname={db}")
    };
    let (c, conn) = tokio_postgres::connect(&dsn("alice", "s3cret pass", "default"), NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let one: i64 = c.query_one("SELECT 1::BIGINT", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    for (user, pass, db, code) in [
        ("alice", "wrong", "default", "28P01"),
        ("mallory", "x", "default", "28P01"),
        ("cairn", "", "default", "28P01"),
        ("alice", "s3cret pass", "nosuch", "3D000"),
    ] {
        let e = tokio_postgres::connect(&dsn(user, pass, db), NoTls)
            .await
            .err()
            .unwrap_or_else(|| panic!("{user}/{db} connected"));
        assert_eq!(e.code().map(|c| c.code()), Some(code), "{user}/{db}: {e}");
    }
    drop(c);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_mode_only_knows_cairn_and_limits_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::for_tests(dir.path());
    config.limits.max_connections = 2;
    let server = Server::start(config).await.unwrap();
    let port = server.pg_addr.unwrap().port();
    let e = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname=default"),
        NoTls,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(e.code().map(|c| c.code()), Some("28000"), "{e}");
    // libpq's habit: no database named, or the user's name: `default`.
    let a = connect(&server).await;
    let (b, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=cairn dbname=cairn"),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let d: String = b
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(d, "default");
    // A third connection is over the limit of 2.
    let e = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=cairn dbname=default"),
        NoTls,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(e.code().map(|c| c.code()), Some("53300"), "{e}");
    drop(a);
    drop(b);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let c = connect(&server).await;
    c.batch_execute("SET statement_timeout = 200")
        .await
        .unwrap();
    let e = c
        .simple_query(
            "SELECT count(*) FROM generate_series(1, 100000000000) AS t(x) WHERE x % 7 = 3",
        )
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "57014", "{e}");
    // The connection is still usable.
    let one: i64 = c.query_one("SELECT 1::BIGINT", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    drop(c);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_memory_is_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::for_tests(dir.path());
    config.limits.query_memory_bytes = 4_000_000;
    let server = Server::start(config).await.unwrap();
    let c = connect(&server).await;
    let e = c
        .simple_query(
            "SELECT x, count(*) FROM generate_series(1, 3000000) t(x) GROUP BY x ORDER BY 2 DESC LIMIT 1",
        )
        .await
        .unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code().code(), "53200", "{e}");
    assert!(db.hint().unwrap().contains("--query-memory-bytes"), "{e}");
    // Small queries still run on the same connection.
    let n: i64 = c
        .query_one("SELECT count(*) FROM generate_series(1, 1000) t(x)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1000);
    drop(c);
    server.shutdown().await.unwrap();
}
