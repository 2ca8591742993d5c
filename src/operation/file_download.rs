//! File download: `GET /fs/{name}/file/content/{id}`, the `Download Uri` of a `$File`.
//!
//! The bytes are streamed from disk (never read whole) with `Content-Type`,
//! `Content-Length`, `Content-Disposition` (`filename` for old clients, `filename*` in
//! UTF-8 for everyone else) and `Accept-Ranges`. One byte range (`bytes=a-b`, `a-`, `-n`)
//! answers 206 with `Content-Range`; a range past the end answers 416; a range this server
//! does not serve (several ranges, another unit, bad syntax) is ignored and the whole file
//! is sent, as RFC 9110 allows. `?disposition=inline` (the `Embed Uri`) asks the browser
//! to show the file instead of saving it.

use std::io::SeekFrom;

use futures_util::TryStreamExt;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, StreamBody};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::Context;
use crate::error::{Error, Result};
use crate::execution::{Execution, OperationKind, FILE_CONTENT_TYPE, FILE_NAME};
use crate::http::body::{ReqBody, ResBody};
use crate::http::header::content_disposition;

/// Bytes read from disk per chunk of the answer.
const READ_CHUNK: usize = 64 << 10;

/// Answers a file download request.
pub(crate) async fn handle(
    ctx: &Context<'_>,
    id: &str,
    req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    let id = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .map_err(|_| Error::bad_request("file id is not valid UTF-8"))?
        .into_owned();
    super::file::check_file_id(&id)?;
    let stored = ctx
        .shared
        .store
        .file(&ctx.service.name, &id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no file with id '{id}'")))?;
    let record = &stored.record;
    let mut execution = Execution::new(
        ctx.exec_id.clone(),
        ctx.service.name.clone(),
        OperationKind::FileDownload,
        record.resource_path.clone(),
    );
    execution.track(FILE_NAME, record.name.clone());
    execution.track(FILE_CONTENT_TYPE, record.content_type.clone());
    ctx.note_execution(&execution);

    let mut file = match tokio::fs::File::open(&stored.path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(%id, "Indexed file has no bytes on disk.");
            return Err(Error::not_found(format!(
                "the bytes of file '{id}' are missing"
            )));
        }
        Err(e) => return Err(Error::internal(format!("file '{id}' cannot be read: {e}"))),
    };
    // The size on disk is the truth (it equals the index for every committed upload).
    let size = file.metadata().await.map_err(Error::internal)?.len();
    let range = match req.headers().get(header::RANGE) {
        Some(v) => parse_range(v.as_bytes(), size)?,
        None => None,
    };
    let (start, len) = range.map_or((0, size), |(a, b)| (a, b - a + 1));
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(Error::internal)?;
    }
    let stream =
        ReaderStream::with_capacity(file.take(len), READ_CHUNK).map_ok(hyper::body::Frame::data);
    let body: ResBody = Either::Right(BodyExt::boxed(StreamBody::new(stream)));

    let inline = req.uri().query().is_some_and(|q| {
        crate::http::request::query_pairs(q).any(|(k, v)| k == "disposition" && v == "inline")
    });
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&record.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(if inline { "inline" } else { "attachment" }, &record.name),
    );
    // The content type is the uploader's word: browsers must not second-guess it, and an
    // uploaded page shown inline must not run scripts in this server's origin.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    if let Some((a, b)) = range {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {a}-{b}/{size}"))
                .expect("numbers make a valid header value"),
        );
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(resp)
}

/// The one range of a `Range` header as inclusive `(first, last)`, clamped to the file.
///
/// `Ok(None)` means "send the whole file" (no usable range); an unsatisfiable range —
/// starting at or past the end, or any range of an empty file — is 416.
fn parse_range(value: &[u8], size: u64) -> Result<Option<(u64, u64)>> {
    let Ok(text) = std::str::from_utf8(value) else {
        return Ok(None);
    };
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        // Suffix: the last `b` bytes.
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(Error::RangeNotSatisfiable { size });
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let Ok(first) = a.parse::<u64>() else {
            return Ok(None);
        };
        let last = if b.is_empty() {
            u64::MAX
        } else {
            match b.parse::<u64>() {
                Ok(l) if l >= first => l,
                _ => return Ok(None),
            }
        };
        if first >= size {
            return Err(Error::RangeNotSatisfiable { size });
        }
        (first, last.min(size - 1))
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_clamp() {
        assert_eq!(parse_range(b"bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range(b"bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(b"bytes=90-500", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(b"bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(b"bytes=-500", 100).unwrap(), Some((0, 99)));
        assert_eq!(parse_range(b"bytes=0-1,5-6", 100).unwrap(), None);
        assert_eq!(parse_range(b"items=0-1", 100).unwrap(), None);
        assert_eq!(parse_range(b"bytes=5-1", 100).unwrap(), None);
        assert_eq!(parse_range(b"bytes=100-", 100).unwrap_err().status(), 416);
        assert_eq!(parse_range(b"bytes=-0", 100).unwrap_err().status(), 416);
    }
}
