#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Line protocol over TCP: batches per read, bad lines skipped (the good ones written), an
//! over-long line dropped without being buffered, invalid UTF-8 lines dropped, and the rows
//! durable across a restart.

use std::time::Duration;

use cairn_server::{Server, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio_postgres::NoTls;

async fn count(server: &Server, sql: &str) -> i64 {
    let port = server.pg_addr.unwrap().port();
    let (c, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=cairn dbname=default"),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    match c.query_one(sql, &[]).await {
        Ok(row) => row.get(0),
        Err(e) if e.code().map(|c| c.code()) == Some("42P01") => 0,
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// Waits until `sql` counts `want` (TCP line protocol has no acknowledgement).
async fn wait_for(server: &Server, sql: &str, want: i64) {
    for _ in 0..500 {
        if count(server, sql).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{sql} never reached {want} (now {})",
        count(server, sql).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::for_tests(dir.path());
    config.limits.max_line_bytes = 1000;
    let server = Server::start(config.clone()).await.unwrap();
    let mut s = tokio::net::TcpStream::connect(server.ilp_addr.unwrap())
        .await
        .unwrap();
    // Good lines, a bad one, a line split across writes.
    s.write_all(b"cpu,host=a usage=1 1700000000000000000\nthis is not line protocol\ncpu,host=b usage=2 17000000000")
        .await
        .unwrap();
    s.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b"00000000\n").await.unwrap();
    // An over-long line (dropped), invalid UTF-8 (dropped), then a good line.
    let long = format!("cpu,host=c usage=3 {}\n", "9".repeat(5000));
    s.write_all(long.as_bytes()).await.unwrap();
    s.write_all(b"cpu,host=\xff\xfe usage=4 1700000000000000002\n")
        .await
        .unwrap();
    s.write_all(b"cpu,host=d usage=5 1700000000000000003\n")
        .await
        .unwrap();
    s.shutdown().await.unwrap();
    drop(s);
    wait_for(&server, "SELECT count(*) FROM cpu", 3).await;
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM cpu WHERE host IN ('a', 'b', 'd')"
        )
        .await,
        3
    );
    let metrics = server.state().metrics.render(server.db());
    assert!(
        metrics.contains("cairn_rows_ingested_total{protocol=\"ilp\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cairn_lines_rejected_total 3"),
        "{metrics}"
    );
    server.shutdown().await.unwrap();
    let server = Server::start(config).await.unwrap();
    assert_eq!(count(&server, "SELECT count(*) FROM cpu").await, 3);
    server.shutdown().await.unwrap();
}
