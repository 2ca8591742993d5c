//! One connection's life: what its requests tell its task, and when the task closes it.
//!
//! hyper's own header-read timeout starts only once a connection is known to be HTTP/1,
//! and HTTP/2 has no idle timeout at all, so a connection that never sends a request —
//! silent, half an HTTP/2 preface, or the preface and SETTINGS and nothing else — would
//! hold its slot forever. Each connection's task therefore watches its [`Activity`]:
//!
//! - no request head completed within the header-read timeout of the accept: the
//!   connection is dropped, whatever its protocol;
//! - no request open for the idle timeout (HTTP/1 keep-alive between requests, HTTP/2
//!   with no open stream): it is closed gracefully (HTTP/2: GOAWAY), and dropped if it
//!   has not closed [`CLOSE_GRACE`] later.
//!
//! A request counts as open from the moment hyper hands its head to the service until
//! its response body has been sent or dropped ([`Tracked`]).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

/// How long a connection asked to close gracefully for being idle may take to do so
/// before it is dropped.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What a connection's requests tell its task: whether a request head ever arrived, how
/// many requests are open, and when the last one started or ended.
#[derive(Debug)]
pub(crate) struct Activity {
    /// When the connection was accepted; `last_change_ms` counts from here.
    born: Instant,
    /// Whether a request head has been completed on this connection.
    seen: AtomicBool,
    /// Requests whose response has not been sent yet.
    open: AtomicUsize,
    /// Milliseconds after `born` when a request last started or ended.
    last_change_ms: AtomicU64,
}

/// What the task should do with its connection at a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// No request head arrived within the header-read timeout: drop the connection.
    NoRequest,
    /// A request is open: look again after the idle timeout.
    Busy,
    /// Nothing to do before this instant.
    Until(Instant),
    /// No request has been open for the idle timeout: close the connection.
    Idle,
}

impl Activity {
    /// The activity of a connection accepted now.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Activity {
            born: Instant::now(),
            seen: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            last_change_ms: AtomicU64::new(0),
        })
    }

    /// When the connection was accepted.
    pub(crate) fn born(&self) -> Instant {
        self.born
    }

    fn touch(&self) {
        let ms = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_change_ms.store(ms, Ordering::Relaxed);
    }

    /// What to do at `now`, with the header-read timeout `header_read` and the idle
    /// timeout `idle`.
    pub(crate) fn check(&self, now: Instant, header_read: Duration, idle: Duration) -> Check {
        if !self.seen.load(Ordering::Acquire) {
            let until = self.born + header_read;
            return if now >= until {
                Check::NoRequest
            } else {
                Check::Until(until)
            };
        }
        if self.open.load(Ordering::Acquire) > 0 {
            return Check::Busy;
        }
        let since = self.born + Duration::from_millis(self.last_change_ms.load(Ordering::Relaxed));
        let until = since + idle;
        if now >= until {
            Check::Idle
        } else {
            Check::Until(until)
        }
    }
}

/// A request in progress on a connection; dropping it ends the request for the idle
/// timeout. Created when hyper calls the service, moved into the response body.
#[derive(Debug)]
pub(crate) struct OpenRequest(Arc<Activity>);

impl OpenRequest {
    /// Counts a request that starts now on the connection of `activity`.
    pub(crate) fn start(activity: &Arc<Activity>) -> Self {
        activity.open.fetch_add(1, Ordering::AcqRel);
        activity.seen.store(true, Ordering::Release);
        activity.touch();
        OpenRequest(Arc::clone(activity))
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        // The time first, so that a check that sees no open request sees the new time.
        self.0.touch();
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request open until hyper has sent it or dropped it.
#[derive(Debug)]
pub(crate) struct Tracked<B> {
    inner: B,
    _open: OpenRequest,
}

impl<B> Tracked<B> {
    /// `inner`, keeping `open` until it is dropped.
    pub(crate) fn new(inner: B, open: OpenRequest) -> Self {
        Tracked { inner, _open: open }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HRT: Duration = Duration::from_secs(2);
    const IDLE: Duration = Duration::from_secs(5);

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_request_is_dropped_at_the_header_read_timeout() {
        let a = Activity::new();
        let born = a.born();
        assert_eq!(a.check(born, HRT, IDLE), Check::Until(born + HRT));
        assert_eq!(a.check(born + HRT, HRT, IDLE), Check::NoRequest);
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_request_keeps_the_connection_busy_and_its_end_starts_the_idle_clock() {
        let a = Activity::new();
        tokio::time::advance(Duration::from_secs(1)).await;
        let open = OpenRequest::start(&a);
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(a.check(later, HRT, IDLE), Check::Busy);
        tokio::time::advance(Duration::from_secs(3)).await;
        let ended = Instant::now();
        drop(open);
        assert_eq!(a.check(ended, HRT, IDLE), Check::Until(ended + IDLE));
        assert_eq!(a.check(ended + IDLE, HRT, IDLE), Check::Idle);
    }
}
