//! The HTTP API end to end over loopback: InfluxDB writes, `/query` JSON, health and
//! metrics, durability across restarts, authentication, limits and hostile clients.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod http_support;

use std::time::{Duration, Instant};

use cairn_server::config::{Limits, User};
use http_support::{Raw, TestServer, gzip};
use serde_json::json;

const THREE_LINES: &str = "cpu,host=a usage=1.5 1714564800000000000\n\
                           cpu,host=b usage=2.5 1714564801000000000\n\
                           cpu,host=a usage=3.5 1714564802000000000\n";

fn small_limits(c: &mut cairn_server::ServerConfig) {
    c.limits = Limits {
        max_body_bytes: 1 << 20,
        max_line_bytes: 1000,
        idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
}

#[test]
fn write_then_query_health_and_metrics() {
    let s = TestServer::start(|_| {});
    let a = s.post("/write?db=default", &[], THREE_LINES.as_bytes());
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(s.count("cpu"), 3);
    let v = s.sql("SELECT host, usage FROM cpu ORDER BY time");
    assert_eq!(v["rows"], json!([["a", 1.5], ["b", 2.5], ["a", 3.5]]));
    assert_eq!(v["row_count"], 3);
    assert_eq!(v["command"], "SELECT 3");

    let h = s.get("/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-type"), Some("application/json"));
    let h = h.json();
    assert_eq!(h["name"], "cairn");
    assert_eq!(h["status"], "pass");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));

    let m = s.get("/metrics");
    assert_eq!(m.header("content-type"), Some("text/plain; version=0.0.4"));
    assert!(
        m.body
            .contains("cairn_rows_ingested_total{protocol=\"http\"} 3\n"),
        "{}",
        m.body
    );
    assert!(m.body.contains("cairn_wal_fsyncs_total "), "{}", m.body);

    let p = s.get("/ping");
    assert_eq!(p.status, 204);
    let version = format!("cairn-{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(p.header("x-influxdb-version"), Some(version.as_str()));
}

#[test]
fn v2_write_gzip_with_millisecond_precision() {
    let s = TestServer::start(|_| {});
    let body = gzip(b"mem,host=a used=10i 1714564800123\nmem,host=a used=11i 1714564800124\n");
    let a = s.post(
        "/api/v2/write?bucket=default&org=ignored&precision=ms",
        &[("content-encoding", "gzip")],
        &body,
    );
    assert_eq!(a.status, 204, "{}", a.body);
    let v = s.sql("SELECT time, used FROM mem ORDER BY time");
    assert_eq!(
        v["columns"][0],
        json!({"name": "time", "type": "timestamptz"})
    );
    assert_eq!(v["columns"][1], json!({"name": "used", "type": "int8"}));
    assert_eq!(
        v["rows"],
        json!([
            ["2024-05-01T12:00:00.123000000Z", 10],
            ["2024-05-01T12:00:00.124000000Z", 11]
        ])
    );
}

#[test]
fn partial_write_names_the_bad_line_and_keeps_the_good_ones() {
    let s = TestServer::start(|_| {});
    let text = "cpu,host=a usage=1 1\ncpu,host=b usage=oops 2\ncpu,host=c usage=3 3\n\
                cpu,host=d usage=4 4\n";
    let a = s.post("/write?db=default", &[], text.as_bytes());
    assert_eq!(a.status, 400, "{}", a.body);
    let v = a.json();
    assert_eq!(v["code"], "invalid");
    assert_eq!(v["line"], 2);
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with("partial write: 1 of 4 lines rejected: line 2: "),
        "{message}"
    );
    assert_eq!(v["errors"][0]["line"], 2);
    assert!(v["errors"][0]["column"].as_u64().unwrap() >= 1);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);
    assert_eq!(s.count("cpu"), 3);
    assert!(s.metrics().contains("cairn_lines_rejected_total 1\n"));
}

#[test]
fn write_errors_name_what_is_wrong() {
    let s = TestServer::start(|_| {});
    let a = s.post("/write?db=nope", &[], THREE_LINES.as_bytes());
    assert_eq!(a.status, 404);
    assert_eq!(
        a.json(),
        json!({
            "code": "not found",
            "message": "database \"nope\" not found",
            "error": "database \"nope\" not found"
        })
    );
    let a = s.post("/write", &[], THREE_LINES.as_bytes());
    assert_eq!(a.status, 400);
    assert!(
        a.json()["message"].as_str().unwrap().contains("\"db\""),
        "{}",
        a.body
    );
    let a = s.post("/api/v2/write?org=x", &[], THREE_LINES.as_bytes());
    assert_eq!(a.status, 400);
    assert!(
        a.json()["message"].as_str().unwrap().contains("\"bucket\""),
        "{}",
        a.body
    );
    let a = s.post(
        "/write?db=default&precision=fortnights",
        &[],
        THREE_LINES.as_bytes(),
    );
    assert_eq!(a.status, 400);
    assert!(a.body.contains("precision"), "{}", a.body);

    // Not UTF-8 on line 2: refused whole, nothing written.
    let a = s.post("/write?db=default", &[], b"bad v=1 1\nbad,t=\xff v=2 2\n");
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["line"], 2);
    assert!(a.body.contains("UTF-8"), "{}", a.body);
    let q = s.query(json!({"sql": "SELECT * FROM bad"}));
    assert_eq!(q.status, 400, "{}", q.body);

    let a = s.get("/write?db=default");
    assert_eq!(a.status, 405);
    assert!(a.body.contains("GET"), "{}", a.body);
    let a = s.get("/nowhere");
    assert_eq!(a.status, 404);
    let message = a.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("/nowhere") && message.contains("POST /query"),
        "{message}"
    );
}

#[test]
fn bodies_over_the_limits_are_refused() {
    let s = TestServer::start(small_limits);
    let big = "x".repeat(2 << 20);
    let a = s.post("/write?db=default", &[], big.as_bytes());
    assert_eq!(a.status, 413);
    assert!(a.body.contains("--max-body-bytes"), "{}", a.body);

    // 50 MB of zeros compress to ~50 KB: the decoded size is what counts.
    let bomb = gzip(&vec![0u8; 50 << 20]);
    assert!(bomb.len() < 1 << 20);
    let a = s.post("/write?db=default", &[("content-encoding", "gzip")], &bomb);
    assert_eq!(a.status, 413, "{}", a.body);
    assert!(a.body.contains("--max-body-bytes"), "{}", a.body);

    let a = s.post("/write?db=default", &[("content-encoding", "br")], b"x");
    assert_eq!(a.status, 415, "{}", a.body);
    let a = s.post(
        "/write?db=default",
        &[("content-encoding", "gzip")],
        b"not gzip",
    );
    assert_eq!(a.status, 400, "{}", a.body);

    // A line over max_line_bytes is a bad line; the others are written.
    let text = format!("ll v=1 1\nll,t={} v=2 2\nll v=3 3\n", "y".repeat(2000));
    let a = s.post("/write?db=default", &[], text.as_bytes());
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["line"], 2);
    assert!(a.body.contains("--max-line-bytes"), "{}", a.body);
    assert_eq!(s.count("ll"), 2);

    let q = s.query(json!({"sql": format!("SELECT '{}'", "z".repeat(2 << 20))}));
    assert_eq!(q.status, 413);
    assert_eq!(q.json()["sqlstate"], "54000");
}

#[test]
fn writes_survive_restart_before_and_after_checkpoint() {
    let mut s = TestServer::start(|_| {});
    let a = s.post("/write?db=default", &[], THREE_LINES.as_bytes());
    assert_eq!(a.status, 204);
    // An idle keep-alive connection is closed by the shutdown, not waited for.
    let mut idle = Raw::connect(s.addr);
    assert_eq!(idle.get("/health").status, 200);
    s.restart();
    assert!(idle.closed_by_server());
    assert_eq!(s.count("cpu"), 3);

    let more = "cpu,host=c usage=9 1714564803000000000\n";
    assert_eq!(
        s.post("/write?db=default", &[], more.as_bytes()).status,
        204
    );
    let v = s.sql("CHECKPOINT");
    assert_eq!(v["columns"], json!([]));
    assert_eq!(v["rows"], json!([]));
    let flushes = s
        .metrics()
        .lines()
        .find_map(|l| l.strip_prefix("cairn_flushes_total "))
        .map(|n| n.parse::<u64>().unwrap());
    assert!(flushes.unwrap() >= 1, "CHECKPOINT flushed nothing");
    s.restart();
    assert_eq!(s.count("cpu"), 4);
}

#[test]
fn shutdown_finishes_a_write_in_progress() {
    let mut s = TestServer::start(|_| {});
    let body = THREE_LINES.as_bytes();
    let mut raw = Raw::connect(s.addr);
    // `Expect: 100-continue`: the server answers 100 once the handler reads the body, so the
    // shutdown signal below arrives while a write is in progress.
    raw.send(
        format!(
            "POST /write?db=default HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(raw.read_answer().unwrap().status, 100);
    raw.send(&body[..10]).unwrap();
    s.server.as_ref().unwrap().state().shutdown.cancel();
    raw.send(&body[10..]).unwrap();
    let a = raw
        .read_answer()
        .expect("the write in progress is answered");
    assert_eq!(a.status, 204, "{}", a.body);
    assert!(raw.closed_by_server());
    s.restart();
    assert_eq!(s.count("cpu"), 3);
}

#[test]
fn query_returns_typed_json() {
    let s = TestServer::start(|_| {});
    let v = s.sql(
        "CREATE TIMESERIES t (ts TIMESTAMP TIME_KEY, host VARCHAR TAG, v DOUBLE, n BIGINT, \
         u BIGINT UNSIGNED, ok BOOLEAN, s TEXT)",
    );
    assert_eq!(v["columns"], json!([]));
    assert_eq!(v["command"], "CREATE TIMESERIES");
    let a = s.query(json!({
        "sql": "INSERT INTO t VALUES ($1, $2, $3, $4, 18446744073709551615, $5, $6)",
        "params": ["2024-05-01T12:00:00.000000001Z", "a", 2.5, -7, true, null],
    }));
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["command"], "INSERT 0 1");
    assert_eq!(v["row_count"], 1);
    assert_eq!(v["rows"], json!([]));
    s.sql(
        "INSERT INTO t VALUES ('2024-05-01T12:00:01Z', 'b', 'NaN', NULL, NULL, NULL, 'x'), \
         ('2024-05-01T12:00:02Z', 'c', '-Infinity', 1, 2, false, 'y')",
    );

    let v = s.sql("SELECT ts, host, v, n, u, ok, s FROM t ORDER BY ts");
    let types: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    // cairn's TIMESTAMP is a UTC instant: timestamptz.
    assert_eq!(
        types,
        [
            "timestamptz",
            "text",
            "float8",
            "int8",
            "numeric",
            "bool",
            "text"
        ]
    );
    assert_eq!(
        v["rows"],
        json!([
            [
                "2024-05-01T12:00:00.000000001Z",
                "a",
                2.5,
                -7,
                18446744073709551615u64,
                true,
                null
            ],
            [
                "2024-05-01T12:00:01.000000000Z",
                "b",
                "NaN",
                null,
                null,
                null,
                "x"
            ],
            [
                "2024-05-01T12:00:02.000000000Z",
                "c",
                "-Infinity",
                1,
                2,
                false,
                "y"
            ]
        ])
    );
    assert_eq!(v["command"], "SELECT 3");

    let v = s.sql(
        "SELECT arrow_cast(ts, 'Timestamp(Nanosecond, None)') AS local, \
         CAST('2024-05-01' AS DATE) AS d, make_array(1, 2) AS l, \
         arrow_cast(1, 'Int32') AS i4, arrow_cast(1, 'Int16') AS i2, \
         arrow_cast(1.5, 'Float32') AS f4, arrow_cast('ab', 'Binary') AS b \
         FROM t WHERE host = 'a'",
    );
    let types: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "timestamp",
            "date",
            "int8[]",
            "int4",
            "int2",
            "float4",
            "bytea"
        ]
    );
    assert_eq!(
        v["rows"],
        json!([[
            "2024-05-01T12:00:00.000000001",
            "2024-05-01",
            [1, 2],
            1,
            1,
            1.5,
            "\\x6162"
        ]])
    );
}

#[test]
fn query_errors_carry_sqlstate() {
    let s = TestServer::start(|_| {});
    let a = s.query(json!({"sql": "SELEC 1"}));
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["sqlstate"], "42601");
    assert!(
        a.json()["error"].as_str().unwrap().contains("syntax"),
        "{}",
        a.body
    );

    let a = s.query(json!({"sql": "SELECT * FROM missing_table"}));
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["sqlstate"], "42P01", "{}", a.body);

    let a = s.query(json!({"sql": "SELECT 1", "sqll": "x"}));
    assert_eq!(a.status, 400);
    assert!(
        a.json()["error"].as_str().unwrap().contains("sqll"),
        "{}",
        a.body
    );

    let a = s.post("/query", &[], b"{not json");
    assert_eq!(a.status, 400);
    assert!(a.json()["error"].is_string());

    let a = s.query(json!({"sql": "SELECT 1", "database": "nope"}));
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["sqlstate"], "3D000");

    let a = s.query(json!({"sql": "SELECT $1", "params": [[1]]}));
    assert_eq!(a.status, 400);
    assert!(a.body.contains("$1"), "{}", a.body);

    let v = s
        .query(json!({"sql": "SELECT $1 + 1 AS x", "params": [41]}))
        .json();
    assert_eq!(v["rows"], json!([[42]]));
}

#[test]
fn users_need_credentials() {
    let s = TestServer::start(|c| {
        c.users = vec![User {
            name: "alice".into(),
            password: "s3cret".into(),
        }];
    });
    assert_eq!(s.get("/health").status, 200);
    assert_eq!(s.get("/ping").status, 204);
    let a = s.post("/write?db=default", &[], THREE_LINES.as_bytes());
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["code"], "unauthorized");
    let a = s.get("/metrics");
    assert_eq!(a.status, 401);
    let a = s.post(
        "/write?db=default",
        &[("authorization", "Token alice:wrong")],
        THREE_LINES.as_bytes(),
    );
    assert_eq!(a.status, 401);

    let a = s.post(
        "/api/v2/write?bucket=default",
        &[("authorization", "Token alice:s3cret")],
        THREE_LINES.as_bytes(),
    );
    assert_eq!(a.status, 204, "{}", a.body);
    // base64("alice:s3cret")
    let basic = [("authorization", "Basic YWxpY2U6czNjcmV0")];
    let a = s.post(
        "/query",
        &basic,
        json!({"sql": "SELECT count(*) FROM cpu"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["rows"], json!([[3]]));
    let a = s.post(
        "/write?db=default&u=alice&p=s3cret",
        &[],
        THREE_LINES.as_bytes(),
    );
    assert_eq!(a.status, 204, "{}", a.body);
    let a = s.post(
        "/write?db=default&u=alice&p=s3cre",
        &[],
        THREE_LINES.as_bytes(),
    );
    assert_eq!(a.status, 401);
}

#[test]
fn slow_and_oversized_clients_are_cut_off() {
    let s = TestServer::start(small_limits);

    // Slowloris: half a request line, then nothing. Others are served meanwhile.
    let mut slow = Raw::connect(s.addr);
    slow.send(b"GET /hea").unwrap();
    assert_eq!(s.get("/health").status, 200);
    assert!(slow.closed_by_server());

    // A body that stalls midway is answered 408.
    let mut stall = Raw::connect(s.addr);
    stall
        .send(b"POST /write?db=default HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\ncpu v=1")
        .unwrap();
    let a = stall.read_answer().expect("a stalled body is answered");
    assert_eq!(a.status, 408, "{}", a.body);

    // A 10 MB header: refused (431) or cut off, never buffered.
    let mut big_head = Raw::connect(s.addr);
    let header = format!(
        "GET /health HTTP/1.1\r\nhost: t\r\nx-big: {}\r\n\r\n",
        "h".repeat(10 << 20)
    );
    let _sent = big_head.send(header.as_bytes());
    if let Some(a) = big_head.read_answer() {
        assert_eq!(a.status, 431, "{}", a.body);
    }

    // A declared 100 MB body against the 1 MB limit: 413 before any of it is read.
    let mut big_body = Raw::connect(s.addr);
    big_body
        .send(b"POST /write?db=default HTTP/1.1\r\nhost: t\r\ncontent-length: 104857600\r\n\r\n")
        .unwrap();
    let a = big_body.read_answer().expect("413");
    assert_eq!(a.status, 413, "{}", a.body);

    // 100 MB chunked (no declared length): refused once the limit is passed.
    let mut chunked = Raw::connect(s.addr);
    chunked
        .send(b"POST /write?db=default HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
        .unwrap();
    let mut writer = chunked.stream.try_clone().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let chunk = format!("{:x}\r\n{}\r\n", 1 << 20, "v".repeat(1 << 20));
        for _ in 0..100 {
            if writer.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
    });
    if let Some(a) = chunked.read_answer() {
        assert_eq!(a.status, 413, "{}", a.body);
    }
    drop(chunked);
    feeder.join().unwrap();

    let h = s.get("/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "pass");
}

#[test]
fn connection_limit_answers_503() {
    let s = TestServer::start(|c| c.limits.max_connections = 2);
    let mut one = Raw::connect(s.addr);
    assert_eq!(one.get("/health").status, 200);
    let mut two = Raw::connect(s.addr);
    assert_eq!(two.get("/health").status, 200);

    let mut three = Raw::connect(s.addr);
    let _sent = three.send(b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n");
    let a = three.read_answer().expect("a refusal");
    assert_eq!(a.status, 503);
    assert!(
        a.json()["message"]
            .as_str()
            .unwrap()
            .contains("--max-connections"),
        "{}",
        a.body
    );
    assert!(three.closed_by_server());
    // The kept connections still work.
    assert_eq!(one.get("/health").status, 200);

    // Once one closes, its place is free (the server notices the close asynchronously).
    drop(two);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut c = Raw::connect(s.addr);
        let _sent = c.send(b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n");
        match c.read_answer() {
            Some(a) if a.status == 200 => break,
            Some(a) if a.status == 503 && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => panic!("no place freed: {other:?}"),
        }
    }
}
