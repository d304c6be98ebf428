//! The PostgreSQL wire protocol by hand over a blocking `TcpStream`, for hostile.rs: startup,
//! simple queries and reading backend messages, each read bounded in time.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One backend message.
#[derive(Debug, Clone)]
pub struct Msg {
    pub kind: u8,
    pub body: Vec<u8>,
}

impl Msg {
    /// The SQLSTATE of an ErrorResponse.
    pub fn error_code(&self) -> Option<String> {
        if self.kind != b'E' {
            return None;
        }
        self.body
            .split(|&b| b == 0)
            .find_map(|f| f.strip_prefix(b"C"))
            .map(|c| String::from_utf8_lossy(c).into_owned())
    }

    /// A DataRow with a column equal to `text`.
    pub fn is_row_with(&self, text: &str) -> bool {
        if self.kind != b'D' || self.body.len() < 2 {
            return false;
        }
        let mut at = 2;
        while at + 4 <= self.body.len() {
            let len = i32::from_be_bytes(self.body[at..at + 4].try_into().unwrap());
            at += 4;
            let Ok(len) = usize::try_from(len) else {
                continue;
            };
            if self.body.get(at..at + len) == Some(text.as_bytes()) {
                return true;
            }
            at += len;
        }
        false
    }
}

/// StartupMessage for protocol 3.0 as user `cairn`, database `default`.
pub fn startup_message() -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    for part in ["user", "cairn", "database", "default"] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut m = u32::try_from(body.len() + 4)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    m.extend_from_slice(&body);
    m
}

/// A connection with 20 s read and write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

/// A started session, ready for queries.
pub fn pg_session(addr: SocketAddr) -> TcpStream {
    let mut s = connect(addr);
    s.write_all(&startup_message()).unwrap();
    let reply = read_until_ready(&mut s, Duration::from_secs(20));
    assert!(
        reply.last().is_some_and(|m| m.kind == b'Z'),
        "startup failed: {reply:?}"
    );
    s
}

/// Sends a simple Query and reads its answer.
pub fn send_query(s: &mut TcpStream, sql: &str) -> Vec<Msg> {
    let mut m = vec![b'Q'];
    m.extend_from_slice(&u32::try_from(sql.len() + 5).unwrap().to_be_bytes());
    m.extend_from_slice(sql.as_bytes());
    m.push(0);
    if s.write_all(&m).is_err() {
        return Vec::new();
    }
    read_until_ready(s, Duration::from_secs(20))
}

/// Messages up to and including ReadyForQuery, or up to the server closing the connection.
/// Panics if the server does neither within `timeout` (a hang).
pub fn read_until_ready(s: &mut TcpStream, timeout: Duration) -> Vec<Msg> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    loop {
        let mut head = [0u8; 5];
        if !read_exact_until(s, &mut head, deadline, &out) {
            return out;
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        assert!(
            (4..=256 << 20).contains(&len),
            "bad message length {len} from the server after {out:?}"
        );
        let mut body = vec![0u8; len - 4];
        if !read_exact_until(s, &mut body, deadline, &out) {
            return out;
        }
        let kind = head[0];
        out.push(Msg { kind, body });
        if kind == b'Z' {
            return out;
        }
    }
}

/// Fills `buf`; `false` when the connection ended first. Panics at the deadline.
fn read_exact_until(s: &mut TcpStream, buf: &mut [u8], deadline: Instant, seen: &[Msg]) -> bool {
    let mut at = 0;
    while at < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the server neither answered nor closed the connection; so far: {seen:?}"
        );
        s.set_read_timeout(Some(left.min(Duration::from_secs(5))))
            .unwrap();
        match s.read(&mut buf[at..]) {
            Ok(0) => return false,
            Ok(n) => at += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false, // reset: closed
        }
    }
    true
}
