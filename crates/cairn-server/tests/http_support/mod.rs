//! A server on its own runtime for blocking tests, a ureq client that returns every status,
//! and a raw keep-alive connection for the hostile cases.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use cairn_server::{Server, ServerConfig};
use serde_json::Value;
use tempfile::TempDir;

/// How long a test waits for any one answer before it fails (bounds every test).
pub const ANSWER_WAIT: Duration = Duration::from_secs(30);

pub struct TestServer {
    pub rt: tokio::runtime::Runtime,
    pub server: Option<Server>,
    pub addr: SocketAddr,
    pub config: ServerConfig,
    agent: ureq::Agent,
    _dir: TempDir,
}

/// A response: status, body text and headers (lower-case names).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl TestServer {
    /// A server on a fresh directory; `tune` adjusts the test configuration first.
    pub fn start(tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::for_tests(dir.path());
        tune(&mut config);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(Server::start(config.clone())).unwrap();
        let addr = server.http_addr.unwrap();
        // Pooled connections retire well before the server's idle timeout closes them, so a
        // request never races that close.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_age(config.limits.idle_timeout / 4)
            .timeout_global(Some(ANSWER_WAIT))
            .build()
            .into();
        TestServer {
            rt,
            server: Some(server),
            addr,
            config,
            agent,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Shuts the server down gracefully and starts it again on the same directory.
    pub fn restart(&mut self) {
        self.stop();
        let server = self
            .rt
            .block_on(Server::start(self.config.clone()))
            .unwrap();
        self.addr = server.http_addr.unwrap();
        self.server = Some(server);
    }

    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown()).unwrap();
        }
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut req = self.agent.post(&self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.send(body).unwrap())
    }

    pub fn get(&self, path: &str) -> Answer {
        answer(self.agent.get(&self.url(path)).call().unwrap())
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = self.agent.get(&self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.call().unwrap())
    }

    /// POST /query with a JSON body.
    pub fn query(&self, body: Value) -> Answer {
        self.post(
            "/query",
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    /// POST /query `{"sql": sql}`, expecting 200; returns the JSON answer.
    pub fn sql(&self, sql: &str) -> Value {
        let a = self.query(serde_json::json!({ "sql": sql }));
        assert_eq!(a.status, 200, "{sql}: {}", a.body);
        a.json()
    }

    /// `SELECT count(*) FROM <table>`.
    pub fn count(&self, table: &str) -> i64 {
        let v = self.sql(&format!("SELECT count(*) FROM {table}"));
        v["rows"][0][0].as_i64().unwrap()
    }

    pub fn metrics(&self) -> String {
        let a = self.get("/metrics");
        assert_eq!(a.status, 200);
        a.body
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _result = self.rt.block_on(s.shutdown());
        }
    }
}

fn answer(mut r: ureq::http::Response<ureq::Body>) -> Answer {
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = r.body_mut().read_to_string().unwrap();
    Answer {
        status,
        body,
        headers,
    }
}

/// A raw client connection, for what a well-behaved client library would not send.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
        stream.set_write_timeout(Some(ANSWER_WAIT)).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends a GET and reads its answer (the connection stays open).
    pub fn get(&mut self, path: &str) -> Answer {
        self.send(format!("GET {path} HTTP/1.1\r\nhost: t\r\n\r\n").as_bytes())
            .unwrap();
        self.read_answer().unwrap()
    }

    /// Reads one response with a Content-Length body; `None` if the server closed first.
    pub fn read_answer(&mut self) -> Option<Answer> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill() {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        while self.buf.len() < head_end + len {
            if !self.fill() {
                return None;
            }
        }
        let body = String::from_utf8_lossy(&self.buf[head_end..head_end + len]).into_owned();
        self.buf.drain(..head_end + len);
        Some(Answer {
            status,
            body,
            headers,
        })
    }

    /// Whether the server closes the connection (EOF or reset) before [`ANSWER_WAIT`]; bytes
    /// it sends first are skipped.
    pub fn closed_by_server(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}
