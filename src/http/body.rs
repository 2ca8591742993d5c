//! Request and response body types, and the bounded reader every JSON endpoint uses.
//!
//! Responses are either a complete buffer (`Full`) or a boxed stream (file downloads), so
//! the common case allocates no box. Requests arrive boxed behind [`ReqBody`], so the
//! runtime can be driven by hyper's `Incoming` or by an in-process body alike.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Either, Empty, Full};
use tokio::time::{Instant, Sleep};

use crate::error::{Error, Result};

/// The error type of request bodies: whatever the transport reports.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every request the runtime handles.
pub type ReqBody = BoxBody<Bytes, BoxError>;

/// The body of every response: a full buffer, or a stream for large answers.
pub type ResBody = Either<Full<Bytes>, BoxBody<Bytes, std::io::Error>>;

static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Boxes any body into a [`ReqBody`].
pub fn boxed<B>(body: B) -> ReqBody
where
    B: hyper::body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed()
}

/// A request body holding `bytes`, for in-process calls and tests.
pub fn from_bytes(bytes: impl Into<Bytes>) -> ReqBody {
    Full::new(bytes.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

/// An empty request body.
pub fn empty_request() -> ReqBody {
    Empty::<Bytes>::new()
        .map_err(|e: Infallible| match e {})
        .boxed()
}

/// A response body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> ResBody {
    Either::Left(Full::new(bytes.into()))
}

/// A response whose body is `value` serialized as JSON.
pub fn json_response<T: serde::Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
) -> Response<ResBody> {
    // Serializing plain data structures into a Vec cannot fail; the types here own no maps
    // with non-string keys.
    let bytes = serde_json::to_vec(value).expect("wire types serialize to JSON");
    json_bytes_response(status, bytes.into())
}

/// A response whose body is already-serialized JSON.
pub fn json_bytes_response(status: StatusCode, bytes: Bytes) -> Response<ResBody> {
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, APPLICATION_JSON.clone());
    resp
}

/// Reads a whole body into memory, refusing it with 413 as soon as it passes `limit` bytes.
///
/// A `Content-Length` over the limit is refused before a byte is read. The buffer is
/// pre-sized from `Content-Length` (capped by the limit), so a well-behaved client costs
/// one allocation.
pub async fn read_limited(
    mut body: ReqBody,
    content_length: Option<u64>,
    limit: u64,
) -> Result<Bytes> {
    if let Some(len) = content_length {
        if len > limit {
            return Err(Error::PayloadTooLarge { limit });
        }
    }
    // The common case is one data frame: hand its bytes over without copying, and only
    // start a buffer when a second frame arrives.
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(read_error)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > limit {
            return Err(Error::PayloadTooLarge { limit });
        }
        match (&mut buf, first.take()) {
            (Some(buf), _) => buf.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (None, Some(prev)) => {
                let cap = content_length.unwrap_or(total).clamp(total, limit) as usize;
                let mut b = BytesMut::with_capacity(cap);
                b.extend_from_slice(&prev);
                b.extend_from_slice(&data);
                buf = Some(b);
            }
        }
    }
    Ok(match buf {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    })
}

/// `GET /health` (of the server or of one service): 200 with a small JSON status.
pub fn health() -> Response<ResBody> {
    json_bytes_response(StatusCode::OK, Bytes::from_static(br#"{"status":"UP"}"#))
}

/// What a blank body (empty or only whitespace) means to the endpoint reading it.
#[derive(Debug, Clone, Copy)]
pub enum Blank {
    /// The body is required: a blank one is refused with 400 and this message.
    Refuse(&'static str),
    /// The body is optional: a blank one reads as the type's default.
    Default,
}

/// Reads a JSON body of at most `limit` bytes and parses it, refusing or defaulting a
/// blank one as `blank` says. Returns the bytes too, for debug capture.
///
/// # Errors
///
/// 413 over the limit, 408 for a stalled body, 400 for a refused blank body or JSON that
/// does not parse.
pub async fn read_json<T: serde::de::DeserializeOwned + Default>(
    body: ReqBody,
    headers: &http::HeaderMap,
    limit: u64,
    blank: Blank,
) -> Result<(Bytes, T)> {
    let bytes = read_limited(body, content_length(headers), limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return match blank {
            Blank::Refuse(msg) => Err(Error::bad_request(msg)),
            Blank::Default => Ok((bytes, T::default())),
        };
    }
    let value = serde_json::from_slice(&bytes)?;
    Ok((bytes, value))
}

/// Maps the errors of `multer`, for every multipart body fss reads: the whole body or one
/// part over its limit is 413, a body that stalls or fails while being read is what
/// [`read_error`] says (408 for a stall), anything else is a malformed body (400).
pub fn multer_error(e: multer::Error) -> Error {
    match e {
        multer::Error::StreamSizeExceeded { limit } => Error::PayloadTooLarge { limit },
        multer::Error::FieldSizeExceeded { limit, .. } => Error::PayloadTooLarge { limit },
        multer::Error::StreamReadFailed(e) => read_error(e),
        other => Error::bad_request(format!("the multipart body is malformed: {other}")),
    }
}

/// The `Content-Length` of a request, when it sent a valid one.
pub fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The deadlines every request body is read under (the server's `body_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeouts {
    /// The longest pause between two frames (or before the first one).
    pub idle: Duration,
    /// The longest a whole body may take, from its first read to its end.
    pub total: Duration,
    /// The slowest average rate, in bytes per second over `window`; 0: no minimum.
    pub min_rate: u64,
    /// The window `min_rate` is averaged over.
    pub window: Duration,
}

/// Why a request body was cut off: the error [`TimedBody`] yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyTimedOut {
    /// No data for this long.
    Idle(Duration),
    /// The body did not end within this deadline.
    Total(Duration),
    /// Fewer than `min_rate` bytes per second arrived over a `window`.
    TooSlow {
        /// The minimum rate in bytes per second.
        min_rate: u64,
        /// The window it is averaged over.
        window: Duration,
    },
}

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyTimedOut::Idle(d) => write!(f, "no body data for {} s", d.as_secs()),
            BodyTimedOut::Total(d) => write!(f, "body not complete within {} s", d.as_secs()),
            BodyTimedOut::TooSlow { min_rate, window } => write!(
                f,
                "body slower than {min_rate} bytes/s over {} s",
                window.as_secs()
            ),
        }
    }
}

impl std::error::Error for BodyTimedOut {}

/// A request body read under [`BodyTimeouts`]: it fails with [`BodyTimedOut`] when no
/// frame arrives within the idle limit, when it has not ended within the total deadline,
/// or when fewer bytes than the minimum rate asks for arrive within a window. A client
/// that stalls, or trickles a byte at a time, is cut off and its resources freed.
///
/// The clocks start at the first read, so time spent waiting for an admission slot
/// before the body is touched does not count against the client.
#[derive(Debug)]
pub struct TimedBody<B> {
    inner: B,
    limits: BodyTimeouts,
    /// Set at the first read.
    clock: Option<BodyClock>,
    /// Armed at the clock's next deadline while the body waits for the client.
    timer: Option<Pin<Box<Sleep>>>,
}

/// Where a body's deadlines stand.
#[derive(Debug)]
struct BodyClock {
    /// The total deadline.
    end: Instant,
    /// The idle deadline: the last frame plus the idle limit.
    idle_at: Instant,
    /// The end of the current rate window (far away when there is no minimum rate).
    window_end: Instant,
    /// Bytes received in the current window.
    window_bytes: u64,
}

impl BodyClock {
    fn start(now: Instant, limits: &BodyTimeouts) -> Self {
        BodyClock {
            end: now + limits.total,
            idle_at: now + limits.idle,
            window_end: Self::window_end(now, limits),
            window_bytes: 0,
        }
    }

    fn window_end(now: Instant, limits: &BodyTimeouts) -> Instant {
        match limits.min_rate {
            // Never reached before the total deadline.
            0 => now + limits.total + limits.total,
            _ => now + limits.window,
        }
    }

    /// Closes the rate window if it has ended: too few bytes in it is an error, else a
    /// new window starts.
    fn roll(&mut self, now: Instant, limits: &BodyTimeouts) -> Result<(), BodyTimedOut> {
        if limits.min_rate == 0 || now < self.window_end {
            return Ok(());
        }
        let window_ms = u64::try_from(limits.window.as_millis()).unwrap_or(u64::MAX);
        let needed = limits.min_rate.saturating_mul(window_ms) / 1000;
        if self.window_bytes < needed {
            return Err(BodyTimedOut::TooSlow {
                min_rate: limits.min_rate,
                window: limits.window,
            });
        }
        self.window_end = now + limits.window;
        self.window_bytes = 0;
        Ok(())
    }

    /// The deadline that passed while the body waited for the client, if any.
    fn expired(&mut self, now: Instant, limits: &BodyTimeouts) -> Result<(), BodyTimedOut> {
        if now >= self.end {
            return Err(BodyTimedOut::Total(limits.total));
        }
        if now >= self.idle_at {
            return Err(BodyTimedOut::Idle(limits.idle));
        }
        self.roll(now, limits)
    }

    fn next_deadline(&self) -> Instant {
        self.end.min(self.idle_at).min(self.window_end)
    }
}

impl<B> TimedBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, limits: BodyTimeouts) -> Self {
        TimedBody {
            inner,
            limits,
            clock: None,
            timer: None,
        }
    }
}

impl<B> hyper::body::Body for TimedBody<B>
where
    B: hyper::body::Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let limits = this.limits;
        let mut now = Instant::now();
        let clock = this
            .clock
            .get_or_insert_with(|| BodyClock::start(now, &limits));
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    clock.window_bytes += data.remaining() as u64;
                }
                clock.idle_at = now + limits.idle;
                if let Err(e) = clock.roll(now, &limits) {
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            // Waiting for the client: the deadlines run.
            Poll::Pending => loop {
                if let Err(e) = clock.expired(now, &limits) {
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
                let at = clock.next_deadline();
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                if timer.deadline() != at {
                    timer.as_mut().reset(at);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => now = Instant::now(),
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Maps a body read error: a body cut off by its deadlines becomes 408 naming the limit,
/// anything else 400.
pub fn read_error(e: BoxError) -> Error {
    match e.downcast_ref::<BodyTimedOut>() {
        Some(BodyTimedOut::Idle(idle)) => Error::BodyTimeout {
            seconds: idle.as_secs(),
        },
        Some(BodyTimedOut::Total(total)) => Error::BodyDeadline {
            seconds: total.as_secs(),
        },
        Some(BodyTimedOut::TooSlow { min_rate, window }) => Error::BodyTooSlow {
            min_rate: *min_rate,
            seconds: window.as_secs(),
        },
        None => Error::bad_request(format!("request body could not be read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn read_limited_accepts_up_to_the_limit() {
        let got = read_limited(from_bytes("12345"), None, 5).await.unwrap();
        assert_eq!(&got[..], b"12345");
    }

    #[tokio::test]
    async fn read_limited_refuses_past_the_limit() {
        let err = read_limited(from_bytes("123456"), None, 5)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 413);
        let err = read_limited(from_bytes("1"), Some(6), 5).await.unwrap_err();
        assert_eq!(err.status(), 413);
    }

    const LIMITS: BodyTimeouts = BodyTimeouts {
        idle: Duration::from_secs(10),
        total: Duration::from_secs(100),
        min_rate: 1000,
        window: Duration::from_secs(2),
    };

    #[tokio::test(start_paused = true)]
    async fn a_window_with_too_few_bytes_is_too_slow_and_one_with_enough_starts_the_next() {
        let start = Instant::now();
        let mut clock = BodyClock::start(start, &LIMITS);
        clock.window_bytes = 2000;
        let later = start + Duration::from_secs(2);
        assert_eq!(clock.roll(later, &LIMITS), Ok(()));
        assert_eq!(clock.window_end, later + LIMITS.window);
        clock.window_bytes = 1999;
        let err = clock.roll(later + LIMITS.window, &LIMITS).unwrap_err();
        assert_eq!(
            err,
            BodyTimedOut::TooSlow {
                min_rate: 1000,
                window: LIMITS.window
            }
        );
        assert_eq!(err.to_string(), "body slower than 1000 bytes/s over 2 s");
    }

    #[tokio::test(start_paused = true)]
    async fn the_total_and_idle_deadlines_pass_while_waiting() {
        let start = Instant::now();
        let limits = BodyTimeouts {
            min_rate: 0,
            ..LIMITS
        };
        let mut clock = BodyClock::start(start, &limits);
        assert_eq!(clock.next_deadline(), start + limits.idle);
        assert_eq!(
            clock.expired(start + limits.idle, &limits),
            Err(BodyTimedOut::Idle(limits.idle))
        );
        clock.idle_at = start + limits.total + limits.idle;
        assert_eq!(
            clock.expired(start + limits.total, &limits),
            Err(BodyTimedOut::Total(limits.total))
        );
    }

    #[test]
    fn cut_off_bodies_are_408_naming_their_limit() {
        let e = read_error(Box::new(BodyTimedOut::Total(Duration::from_secs(7))));
        assert_eq!(e.status(), 408);
        assert!(e.to_string().contains("7 s"), "{e}");
        let e = read_error(Box::new(BodyTimedOut::TooSlow {
            min_rate: 1024,
            window: Duration::from_secs(30),
        }));
        assert_eq!(e.status(), 408);
        assert!(e.to_string().contains("1024 bytes/s"), "{e}");
    }
}
