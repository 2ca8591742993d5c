//! Request and response body types, and the bounded reader every JSON endpoint uses.
//!
//! Responses are either a complete buffer (`Full`) or a boxed stream (file downloads), so
//! the common case allocates no box. Requests arrive boxed behind [`ReqBody`], so the
//! runtime can be driven by hyper's `Incoming` or by an in-process body alike.

use std::convert::Infallible;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Either, Empty, Full};

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
}

/// The error a request body yields when the client stops sending for too long.
#[derive(Debug)]
pub struct BodyIdle {
    /// The idle limit.
    pub idle: std::time::Duration,
}

impl std::fmt::Display for BodyIdle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no body data for {} s", self.idle.as_secs())
    }
}

impl std::error::Error for BodyIdle {}

/// A request body that fails with [`BodyIdle`] when no frame arrives within `idle` of
/// the previous one (or of the first read), so a client that stalls mid-body is cut off
/// and its resources freed.
#[derive(Debug)]
pub struct IdleTimeout<B> {
    inner: B,
    idle: std::time::Duration,
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<B> IdleTimeout<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, idle: std::time::Duration) -> Self {
        IdleTimeout {
            inner,
            idle,
            sleep: None,
        }
    }
}

impl<B> hyper::body::Body for IdleTimeout<B>
where
    B: hyper::body::Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        use std::task::Poll;
        let this = self.get_mut();
        let idle = this.idle;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                sleep.as_mut().reset(tokio::time::Instant::now() + idle);
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyIdle { idle })))),
                Poll::Pending => Poll::Pending,
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

/// Maps a body read error: a stall becomes 408, anything else 400.
pub fn read_error(e: BoxError) -> Error {
    match e.downcast_ref::<BodyIdle>() {
        Some(idle) => Error::BodyTimeout {
            seconds: idle.idle.as_secs(),
        },
        None => Error::bad_request(format!("request body could not be read: {e}")),
    }
}
