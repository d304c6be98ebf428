//! A timer for a socket operation that makes no progress: the client behind it has stalled
//! (stopped reading its answer, or stopped in the middle of a message) and is disconnected
//! after a limit instead of holding its connection forever.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

#[derive(Debug)]
pub struct Stall {
    limit: Duration,
    /// Running while the operation is pending; cleared whenever it makes progress.
    since: Option<Pin<Box<Sleep>>>,
}

impl Stall {
    pub fn new(limit: Duration) -> Stall {
        Stall { limit, since: None }
    }

    /// `r`, the operation's latest poll, unless it has now been pending for the limit: then
    /// a `TimedOut` error saying `what` the client failed to do.
    pub fn settle<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<T>>,
        what: &str,
    ) -> Poll<io::Result<T>> {
        if !r.is_pending() {
            self.since = None;
            return r;
        }
        let limit = self.limit;
        let timer = self
            .since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{what} for {limit:?} (--idle-timeout)"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Progress made another way: the timer starts afresh at the next stall.
    pub fn reset(&mut self) {
        self.since = None;
    }
}
