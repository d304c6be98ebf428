//! The PostgreSQL byte stream checked as it is read, before pgwire sees it. pgwire buffers a
//! whole message before decoding it and accepts up to 1 GiB (and a 100 MiB Query costs the
//! SQL layer about 18 times its size); it reads a Query without its NUL as an empty query and
//! decodes invalid UTF-8 lossily, so U+FFFD would be stored in place of what the client
//! sent. [`Capped`] follows the framing over every read (after TLS): it fails the read as
//! soon as a header announces a message over the limit or a length below 4, and checks the
//! strings of Query and Parse messages for UTF-8 and their terminating NUL as they stream by.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pgwire::error::ErrorInfo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::stall::Stall;

/// Why a connection's input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A message over the limit (54000), described.
    TooLong(String),
    /// A message that breaks the protocol's framing (08P01).
    Malformed(String),
    /// Text that is not UTF-8 (22021).
    NotUtf8(char),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooLong(m) => write!(f, "message too long: {m}"),
            Refusal::Malformed(m) => write!(f, "invalid message: {m}"),
            Refusal::NotUtf8(kind) => {
                write!(
                    f,
                    "invalid byte sequence for encoding \"UTF8\" in message '{kind}'"
                )
            }
        }
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// The refusal inside a read error, if it is one.
    pub fn of(e: &io::Error) -> Option<&Refusal> {
        e.get_ref()?.downcast_ref::<Refusal>()
    }

    /// What the client is told before the connection closes.
    pub fn error(&self, max_message: usize) -> ErrorInfo {
        let (code, message) = match self {
            Refusal::TooLong(_) => (
                "54000",
                format!(
                    "{self}; cairn accepts PostgreSQL messages up to {max_message} bytes \
                     (--max-message-bytes); load large data with COPY ... FROM STDIN"
                ),
            ),
            Refusal::Malformed(_) => ("08P01", self.to_string()),
            Refusal::NotUtf8(_) => (
                "22021",
                format!("{self}; send SQL and text parameters as UTF-8 (client_encoding UTF8)"),
            ),
        };
        ErrorInfo::new("FATAL".to_owned(), code.to_owned(), message)
    }

    fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// A message header being read: the type byte (absent in the startup packet) and the
/// 4-byte big-endian length, which counts itself.
#[derive(Debug, Default, Clone, Copy)]
struct Header {
    bytes: [u8; 5],
    have: usize,
}

#[derive(Debug, Clone, Copy)]
enum Scan {
    /// Reading a header; `startup`: the startup packet's (no type byte).
    Header { startup: bool, h: Header },
    /// Inside a message body of `kind` (0 in the startup phase); `then_startup`: another
    /// startup packet follows (after an SSLRequest or GSSENCRequest that was declined).
    Body {
        kind: u8,
        left: usize,
        then_startup: bool,
        text: Text,
    },
}

impl Scan {
    fn header(startup: bool) -> Scan {
        Scan::Header {
            startup,
            h: Header::default(),
        }
    }
}

/// The NUL-terminated strings at the start of a body still to be checked for UTF-8, and a
/// character split between two reads.
#[derive(Debug, Default, Clone, Copy)]
struct Text {
    strings: u8,
    pending: [u8; 4],
    pending_len: usize,
}

impl Text {
    /// Checks `data` (the body bytes just read); `false` on invalid UTF-8.
    fn feed(&mut self, mut data: &[u8]) -> bool {
        while self.strings > 0 && !data.is_empty() {
            let end = data.iter().position(|&b| b == 0);
            let segment = &data[..end.unwrap_or(data.len())];
            if !self.segment(segment, end.is_some()) {
                return false;
            }
            match end {
                Some(e) => {
                    self.strings -= 1;
                    data = &data[e + 1..];
                }
                None => data = &[],
            }
        }
        true
    }

    fn segment(&mut self, mut seg: &[u8], terminated: bool) -> bool {
        if self.pending_len > 0 {
            let width = match self.pending[0] {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF4 => 4,
                _ => return false,
            };
            while self.pending_len < width && !seg.is_empty() {
                self.pending[self.pending_len] = seg[0];
                self.pending_len += 1;
                seg = &seg[1..];
            }
            if self.pending_len < width {
                return !terminated;
            }
            if std::str::from_utf8(&self.pending[..width]).is_err() {
                return false;
            }
            self.pending_len = 0;
        }
        match std::str::from_utf8(seg) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() && !terminated => {
                let tail = &seg[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                true
            }
            Err(_) => false,
        }
    }
}

/// The connection's stream, checked as it is read.
#[derive(Debug)]
pub struct Capped<S> {
    inner: S,
    max_message: usize,
    scan: Scan,
    /// How long a client may stall in the middle of a message.
    stall: Option<Stall>,
}

impl<S> Capped<S> {
    pub fn new(inner: S, max_message: usize) -> Capped<S> {
        Capped {
            inner,
            max_message,
            scan: Scan::header(true),
            stall: None,
        }
    }

    /// A client that stops sending in the middle of a message for `limit` is disconnected
    /// (between messages a connection may idle as long as it likes: pools do).
    pub fn with_stall_limit(mut self, limit: Duration) -> Capped<S> {
        self.stall = Some(Stall::new(limit));
        self
    }

    fn mid_message(&self) -> bool {
        match self.scan {
            Scan::Header { h, .. } => h.have > 0,
            Scan::Body { .. } => true,
        }
    }

    /// Follows the framing over `data` (the bytes just read, in order).
    pub fn scan_bytes(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match &mut self.scan {
                Scan::Body {
                    kind,
                    left,
                    then_startup,
                    text,
                } => {
                    let n = (*left).min(data.len());
                    if !text.feed(&data[..n]) {
                        return Err(Refusal::NotUtf8(char::from(*kind)).into_io());
                    }
                    *left -= n;
                    data = &data[n..];
                    if *left == 0 {
                        if text.strings > 0 {
                            return Err(Refusal::Malformed(format!(
                                "message '{}' ends inside a string (no terminating NUL)",
                                char::from(*kind)
                            ))
                            .into_io());
                        }
                        self.scan = Scan::header(*then_startup);
                    }
                }
                Scan::Header { startup, h } => {
                    let startup = *startup;
                    let need = if startup { 4 } else { 5 };
                    let n = (need - h.have).min(data.len());
                    h.bytes[h.have..h.have + n].copy_from_slice(&data[..n]);
                    h.have += n;
                    data = &data[n..];
                    if h.have < need {
                        continue;
                    }
                    let kind = if startup { 0 } else { h.bytes[0] };
                    let mut len = [0u8; 4];
                    len.copy_from_slice(&h.bytes[need - 4..need]);
                    self.scan = self.body(kind, u32::from_be_bytes(len) as usize, startup)?;
                }
            }
        }
        Ok(())
    }

    /// The state after a complete header.
    fn body(&self, kind: u8, len: usize, startup: bool) -> io::Result<Scan> {
        let name = if startup {
            "startup packet".to_owned()
        } else {
            format!("message '{}'", char::from(kind))
        };
        if len > self.max_message {
            return Err(Refusal::TooLong(format!("{name} of {len} bytes")).into_io());
        }
        if len < 4 {
            return Err(
                Refusal::Malformed(format!("{name} announces a length of {len}")).into_io(),
            );
        }
        // The startup phase repeats after an 8-byte SSL/GSSENC request.
        let then_startup = startup && len == 8;
        let strings = match kind {
            b'Q' => 1,
            b'P' => 2,
            _ => 0,
        };
        Ok(if len == 4 && strings == 0 {
            Scan::header(then_startup)
        } else {
            Scan::Body {
                kind,
                left: len - 4,
                then_startup,
                text: Text {
                    strings,
                    ..Text::default()
                },
            }
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        let mid_message = this.mid_message();
        let r = match &mut this.stall {
            Some(stall) if mid_message => {
                stall.settle(cx, r, "the client stopped in the middle of a message")
            }
            Some(stall) => {
                stall.reset();
                r
            }
            None => r,
        };
        match r {
            Poll::Ready(Ok(())) => Poll::Ready(this.scan_bytes(&buf.filled()[before..])),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn startup() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(&8u32.to_be_bytes());
        s.extend_from_slice(&80877103u32.to_be_bytes()); // SSLRequest, declined
        s.extend_from_slice(&20u32.to_be_bytes());
        s.extend(std::iter::repeat_n(0u8, 16)); // the startup packet
        s
    }

    /// The refusal of `stream` read in chunks of `chunk` bytes, if any.
    fn refusal(stream: &[u8], chunk: usize) -> Option<Refusal> {
        let mut c = Capped::new((), 100);
        stream
            .chunks(chunk)
            .map(|p| c.scan_bytes(p))
            .find_map(Result::err)
            .map(|e| Refusal::of(&e).unwrap().clone())
    }

    #[test]
    fn good_streams_pass_in_reads_of_any_size() {
        let mut s = startup();
        s.extend(msg(b'Q', "SELECT 'é€😀'\0".as_bytes()));
        s.extend(msg(
            b'P',
            "s1\0SELECT $1 || 'ü'\0\x00\x01\x00\x00\x00\x19".as_bytes(),
        ));
        s.extend(msg(b'B', b"\xff\xfe binary parameters are not text"));
        s.extend(msg(b'S', b""));
        for chunk in [1, 2, 3, 7, 64, 1000] {
            assert_eq!(refusal(&s, chunk), None, "chunk {chunk}");
        }
    }

    #[test]
    fn bad_streams_are_refused_in_reads_of_any_size() {
        let cases: [(Vec<u8>, Refusal); 5] = [
            (
                msg(b'Q', &[b'x'; 97]),
                Refusal::TooLong("message 'Q' of 101 bytes".into()),
            ),
            (
                vec![b'Q', 0, 0, 0, 3],
                Refusal::Malformed("message 'Q' announces a length of 3".into()),
            ),
            (
                msg(b'Q', b"SELECT 1"),
                Refusal::Malformed("message 'Q' ends inside a string (no terminating NUL)".into()),
            ),
            (
                msg(b'Q', b"SELECT '\xff\xfe\xc3('\0"),
                Refusal::NotUtf8('Q'),
            ),
            (
                msg(b'P', b"\0SELECT '\xe2\x82'\0\0\0"),
                Refusal::NotUtf8('P'),
            ),
        ];
        for (bad, expected) in cases {
            let mut s = startup();
            s.extend(bad);
            for chunk in [1, 2, 5, 1000] {
                assert_eq!(
                    refusal(&s, chunk).as_ref(),
                    Some(&expected),
                    "chunk {chunk}"
                );
            }
        }
        let mut huge = Vec::new();
        huge.extend_from_slice(&(1u32 << 30).to_be_bytes());
        assert!(matches!(refusal(&huge, 4), Some(Refusal::TooLong(_))));
    }
}
