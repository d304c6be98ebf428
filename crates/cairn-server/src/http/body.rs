//! Reading a request body under the limits: at most `max_body_bytes` (a declared
//! Content-Length over it is refused before reading; with `Content-Encoding: gzip` both the
//! compressed and the decoded size are capped, and decoding streams chunk by chunk into a
//! buffer that never grows past the cap, so a gzip bomb costs at most the limit), and no
//! stall longer than `idle_timeout` between chunks.

use std::io::{self, Write};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use flate2::write::MultiGzDecoder;
use futures::StreamExt;

use super::reply;
use crate::config::Limits;

/// Why a body could not be read.
#[derive(Debug)]
pub(super) enum BodyError {
    TooLarge { limit: usize },
    Stalled { idle: Duration },
    Encoding(String),
    BadGzip(String),
    Broken(String),
}

impl BodyError {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Stalled { .. } => StatusCode::REQUEST_TIMEOUT,
            BodyError::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::BadGzip(_) | BodyError::Broken(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The InfluxDB error code for [`super::reply::influx`].
    pub(super) fn influx_code(&self) -> &'static str {
        match self {
            BodyError::TooLarge { .. } => "request too large",
            BodyError::Stalled { .. } => "unavailable",
            BodyError::Encoding(_) | BodyError::BadGzip(_) | BodyError::Broken(_) => "invalid",
        }
    }

    /// The SQLSTATE for `/query`'s error shape.
    pub(super) fn sqlstate(&self) -> &'static str {
        match self {
            BodyError::TooLarge { .. } => "54000",
            BodyError::Stalled { .. } => "57014",
            _ => "08P01",
        }
    }

    /// The answer in InfluxDB's shape (writes); the connection closes after it.
    pub(super) fn influx_response(&self) -> Response {
        reply::closing(reply::influx(
            self.status(),
            self.influx_code(),
            self.message(),
        ))
    }

    /// The answer in `/query`'s shape; the connection closes after it.
    pub(super) fn sql_response(&self) -> Response {
        reply::closing(reply::sql_error(self.message(), self.sqlstate()))
    }

    pub(super) fn message(&self) -> String {
        match self {
            BodyError::TooLarge { limit } => format!(
                "request body too large: the limit is {limit} bytes (after gzip decoding); \
                 send smaller batches or raise --max-body-bytes"
            ),
            BodyError::Stalled { idle } => {
                format!("the request body stalled: nothing arrived for {idle:?} (--idle-timeout)")
            }
            BodyError::Encoding(e) => format!(
                "unsupported Content-Encoding {e:?}: send the body plain or with \
                 Content-Encoding: gzip"
            ),
            BodyError::BadGzip(e) => format!("the gzip body cannot be decoded: {e}"),
            BodyError::Broken(e) => format!("reading the request body failed: {e}"),
        }
    }
}

/// Reads the whole body (decoded if gzip), enforcing the limits.
pub(super) async fn read(
    body: Body,
    headers: &HeaderMap,
    limits: &Limits,
) -> Result<Vec<u8>, BodyError> {
    let limit = limits.max_body_bytes;
    let gzip = is_gzip(headers)?;
    if content_length(headers).is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut sink = if gzip {
        Sink::Gzip(Box::new(MultiGzDecoder::new(Capped::new(limit))))
    } else {
        Sink::Plain(Capped::new(limit))
    };
    let mut received = 0usize;
    let mut stream = body.into_data_stream();
    loop {
        let chunk = match tokio::time::timeout(limits.idle_timeout, stream.next()).await {
            Err(_) => {
                return Err(BodyError::Stalled {
                    idle: limits.idle_timeout,
                });
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Broken(e.to_string())),
            Ok(Some(Ok(chunk))) => chunk,
        };
        received = received.saturating_add(chunk.len());
        if received > limit {
            return Err(BodyError::TooLarge { limit });
        }
        sink.write(&chunk)?;
    }
    sink.finish()
}

fn is_gzip(headers: &HeaderMap) -> Result<bool, BodyError> {
    let Some(v) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    let text = v
        .to_str()
        .map_err(|_| BodyError::Encoding(String::from_utf8_lossy(v.as_bytes()).into_owned()))?;
    match text.trim().to_ascii_lowercase().as_str() {
        "gzip" | "x-gzip" => Ok(true),
        "" | "identity" => Ok(false),
        _ => Err(BodyError::Encoding(text.to_owned())),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

enum Sink {
    Plain(Capped),
    Gzip(Box<MultiGzDecoder<Capped>>),
}

impl Sink {
    fn write(&mut self, data: &[u8]) -> Result<(), BodyError> {
        match self {
            Sink::Plain(c) => c
                .write_all(data)
                .map_err(|_| BodyError::TooLarge { limit: c.limit }),
            Sink::Gzip(d) => d.write_all(data).map_err(|e| gzip_error(d.get_ref(), e)),
        }
    }

    fn finish(self) -> Result<Vec<u8>, BodyError> {
        match self {
            Sink::Plain(c) => Ok(c.buf),
            Sink::Gzip(mut d) => match d.try_finish() {
                Ok(()) => Ok(std::mem::take(&mut d.get_mut().buf)),
                Err(e) => Err(gzip_error(d.get_ref(), e)),
            },
        }
    }
}

fn gzip_error(out: &Capped, e: io::Error) -> BodyError {
    if out.over {
        BodyError::TooLarge { limit: out.limit }
    } else {
        BodyError::BadGzip(e.to_string())
    }
}

/// A buffer that refuses to grow past `limit` (its capacity included).
struct Capped {
    buf: Vec<u8>,
    limit: usize,
    over: bool,
}

impl Capped {
    fn new(limit: usize) -> Self {
        Capped {
            buf: Vec::new(),
            limit,
            over: false,
        }
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let len = self.buf.len();
        if data.len() > self.limit - len {
            self.over = true;
            return Err(io::Error::other("request body over the limit"));
        }
        if self.buf.capacity() - len < data.len() {
            let target = (self.buf.capacity().saturating_mul(2))
                .max(len + data.len())
                .max(8192)
                .min(self.limit);
            self.buf.reserve_exact(target - len);
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn capped_never_grows_past_its_limit() {
        let mut c = Capped::new(10_000);
        for _ in 0..9 {
            c.write_all(&[7u8; 1000]).unwrap();
        }
        assert!(c.write_all(&[7u8; 1001]).is_err());
        assert!(c.over);
        assert!(c.buf.capacity() <= 10_000);
        assert_eq!(c.buf.len(), 9000);
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 5 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        let mut sink = Sink::Gzip(Box::new(MultiGzDecoder::new(Capped::new(1 << 20))));
        let r = sink.write(&bomb).and_then(|()| sink.finish());
        assert!(matches!(r, Err(BodyError::TooLarge { limit }) if limit == 1 << 20));
    }
}
