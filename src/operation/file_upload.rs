//! File upload: `POST /fs/{name}/file/content` (also `/files/content`).
//!
//! Two bodies are read, both streamed from the socket to a temp file with bounded memory:
//!
//! - `multipart/form-data`, parsed by `multer` with explicit limits. The request part is
//!   the first part whose Content-Type contains `application/json` or whose name is
//!   `FileDataRequest` (any case); the file is the first other part (`FileData`,
//!   `fileContent`, `file`, ...). Either order works: a file that comes first is streamed
//!   into the first resource's folder and moved where the request says once it arrives.
//! - `application/octet-stream`: the body is the file; its name comes from
//!   `Content-Disposition` or the `name` query parameter, the folder from `resourcePath`.
//!
//! The file is refused with 413 as soon as it passes `maxUploadBytes` (its temp file is
//! removed); a missing request part is 400 "No file data request was given", a missing
//! file 400 "No file was uploaded" (the Flow wire protocol, `protocol`). The execution tracks `File Name`
//! (`filename*` first, else `filename`; path, `..` and control characters removed; never
//! empty) and `File Content Type` (the part's type; absent or
//! `application/octet-stream` → guessed from the name).

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;

use super::file::{check_resource_path, execution, select_resource, Selected};
use super::Context;
use crate::error::{Error, Result};
use crate::execution::{engine, OperationKind, FILE_CONTENT_TYPE, FILE_NAME};
use crate::http::body::{self, ReqBody, ResBody};
use crate::http::request::query_pairs;
use crate::process::file::Upload;
use crate::process::{Spool, SpooledFile};
use crate::protocol::{FileDataRequest, ObjectDataResponse};
use crate::router::Service;

/// The largest request (JSON) part of a multipart upload.
pub(crate) const MAX_REQUEST_PART_BYTES: u64 = 256 << 10;
/// Room for part headers and boundaries on top of the file and the request part.
const MULTIPART_OVERHEAD_BYTES: u64 = 1 << 20;
/// The longest file name kept, in bytes.
const MAX_NAME_BYTES: usize = 1024;
/// The name of the request part in the engine's and the Java SDK's uploads.
const REQUEST_PART: &str = "FileDataRequest";
const OCTET_STREAM: &str = "application/octet-stream";

/// Answers a file upload request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    // With one file resource the limits are known before a byte is streamed; with several,
    // the request part picks the resource, and its limits apply once that is read.
    let early = match ctx.service.file_resources.as_slice() {
        [only] => Some(only.admission.admit().await?),
        _ => None,
    };
    let (parts, body) = req.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let received = match essence.as_str() {
        "multipart/form-data" => multipart(ctx, &parts, content_type, body).await?,
        OCTET_STREAM => raw(ctx, &parts, body).await?,
        _ => {
            return Err(Error::UnsupportedMediaType(
                format!(
                    "an upload is multipart/form-data or application/octet-stream, \
                     not '{content_type}'"
                )
                .into(),
            ))
        }
    };
    finish(ctx, &parts, received, early.is_some()).await
}

/// A file streamed to its temp file, with the request that came with it.
struct Received {
    request: FileDataRequest,
    file: SpooledFile,
    name: String,
    content_type: String,
}

/// Stores (or hands to the process) a received upload and answers its `$File`.
async fn finish(
    ctx: &Context<'_>,
    parts: &Parts,
    received: Received,
    admitted: bool,
) -> Result<Response<ResBody>> {
    let service = &ctx.service;
    let Received {
        request,
        file,
        name,
        content_type,
    } = received;
    let selected = upload_resource(service, &request)?;
    let _admitted = match admitted {
        true => None,
        false => Some(selected.resource.admission.admit().await?),
    };
    let limit = selected.definition.max_upload_bytes();
    if file.size() > limit {
        return Err(Error::FileTooLarge { limit });
    }
    let process = selected
        .resource
        .upload
        .as_ref()
        .expect("upload_resource checks that the resource has an upload");
    let mut execution = execution(
        ctx,
        OperationKind::FileUpload,
        selected.resource_path.clone(),
        parts,
        &request,
        &selected.definition.pass_headers,
    )?;
    execution.track(FILE_NAME, name.clone());
    execution.track(FILE_CONTENT_TYPE, content_type.clone());
    ctx.note_execution(&execution);
    let base = ctx.shared.base_url(parts);
    let upload = Upload {
        service: &service.name,
        resource_path: selected.resource_path,
        file,
        name,
        content_type,
        execution_id: &execution.id,
        base_url: &base,
    };
    let work = process.upload(upload, || Ok(execution.document()));
    let view = engine::deadline(ctx.shared.config.execution_timeout, work).await?;
    let response = ObjectDataResponse {
        culture: request.culture,
        object_data: vec![view.into_object()],
        has_more_results: false,
        offset_token: None,
    };
    Ok(body::json_response(StatusCode::OK, &response))
}

/// The resource an upload goes to; it must declare an upload.
fn upload_resource<'a>(service: &'a Service, request: &FileDataRequest) -> Result<Selected<'a>> {
    let selected = select_resource(service, request.resource_path.as_deref())?;
    if selected.resource.upload.is_none() {
        return Err(Error::not_found(format!(
            "file resource '{}' has no upload operation",
            selected.definition.path
        )));
    }
    Ok(selected)
}

/// The largest `maxUploadBytes` of the service's uploads: the bound while the request
/// part has not arrived yet.
fn largest_limit(service: &Service) -> u64 {
    service
        .file_resources
        .iter()
        .filter(|r| r.upload.is_some())
        .map(|r| service.definition.file_resources[r.index].max_upload_bytes())
        .max()
        .unwrap_or(0)
}

// === multipart ===

async fn multipart(
    ctx: &Context<'_>,
    parts: &Parts,
    content_type: &str,
    body: ReqBody,
) -> Result<Received> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| Error::bad_request(format!("multipart Content-Type is unusable: {e}")))?;
    let service = &ctx.service;
    let largest = largest_limit(service);
    let whole = largest
        .saturating_add(MAX_REQUEST_PART_BYTES)
        .saturating_add(MULTIPART_OVERHEAD_BYTES);
    if body::content_length(&parts.headers).is_some_and(|n| n > whole) {
        return Err(Error::PayloadTooLarge { limit: whole });
    }
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(whole)
            .per_field(largest.max(MAX_REQUEST_PART_BYTES)),
    );
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let store = &ctx.shared.store;

    let mut request: Option<FileDataRequest> = None;
    let mut received: Option<(SpooledFile, String, String)> = None;
    while let Some(mut field) = form.next_field().await.map_err(multer_error)? {
        let part_type = field
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let is_request = part_type
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("application/json"))
            || field
                .name()
                .is_some_and(|n| n.eq_ignore_ascii_case(REQUEST_PART));
        if is_request && request.is_none() {
            let mut buf = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(multer_error)? {
                if (buf.len() + chunk.len()) as u64 > MAX_REQUEST_PART_BYTES {
                    return Err(Error::bad_request(format!(
                        "the FileDataRequest part is larger than {MAX_REQUEST_PART_BYTES} bytes"
                    )));
                }
                buf.extend_from_slice(&chunk);
            }
            request = Some(parse_request(&buf)?);
        } else if !is_request && received.is_none() {
            let name = file_name(field.headers(), &ctx.exec_id);
            let content_type = file_content_type(part_type.as_deref(), &name);
            // With the request known the temp file goes straight into its folder;
            // otherwise into the first resource's, to be moved on commit.
            let (resource_path, limit) = match &request {
                Some(r) => {
                    let s = upload_resource(service, r)?;
                    (s.resource_path, s.definition.max_upload_bytes())
                }
                None => (select_resource(service, None)?.resource_path, largest),
            };
            let mut sink = store.spool(&service.name, &resource_path, &ctx.exec_id);
            while let Some(chunk) = field.chunk().await.map_err(multer_error)? {
                check_limit(&sink, &chunk, limit)?;
                sink.write(chunk).await?;
            }
            received = Some((sink.finish().await?, name, content_type));
        }
        // Any further part is skipped: multer drains it on the next call.
    }
    let Some(request) = request else {
        return Err(Error::bad_request("No file data request was given"));
    };
    let Some((file, name, content_type)) = received else {
        return Err(Error::bad_request("No file was uploaded"));
    };
    Ok(Received {
        request,
        file,
        name,
        content_type,
    })
}

/// Decodes the request part and checks its `resourcePath` at once, so that a path over
/// the limits is refused before a file part is streamed anywhere.
fn parse_request(bytes: &[u8]) -> Result<FileDataRequest> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(FileDataRequest::default());
    }
    let request: FileDataRequest = serde_json::from_slice(bytes).map_err(|e| {
        Error::bad_request(format!("the FileDataRequest part is not valid JSON: {e}"))
    })?;
    if let Some(path) = &request.resource_path {
        check_resource_path(path)?;
    }
    Ok(request)
}

fn check_limit(sink: &Spool, chunk: &Bytes, limit: u64) -> Result<()> {
    if sink.size() + chunk.len() as u64 > limit {
        return Err(Error::FileTooLarge { limit });
    }
    Ok(())
}

/// Maps multer's errors as every multipart body does, except that the per-part limit is
/// the file's: a part over it is the file over `maxUploadBytes`.
fn multer_error(e: multer::Error) -> Error {
    match e {
        multer::Error::FieldSizeExceeded { limit, .. } => Error::FileTooLarge { limit },
        other => body::multer_error(other),
    }
}

// === application/octet-stream ===

async fn raw(ctx: &Context<'_>, parts: &Parts, mut body: ReqBody) -> Result<Received> {
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            query_pairs(q)
                .filter(|(k, _)| k == "name" || k == "resourcePath")
                .collect()
        })
        .unwrap_or_default();
    let param = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let request = FileDataRequest {
        resource_path: param("resourcePath"),
        ..FileDataRequest::default()
    };
    let service = &ctx.service;
    let selected = upload_resource(service, &request)?;
    let limit = selected.definition.max_upload_bytes();
    if body::content_length(&parts.headers).is_some_and(|n| n > limit) {
        return Err(Error::FileTooLarge { limit });
    }
    let name = disposition_name(&parts.headers)
        .or_else(|| param("name"))
        .map(|n| clean_name(&n))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| ctx.exec_id.clone());
    let content_type = file_content_type(Some(OCTET_STREAM), &name);
    let mut sink = ctx
        .shared
        .store
        .spool(&service.name, &selected.resource_path, &ctx.exec_id);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(body::read_error)?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        check_limit(&sink, &chunk, limit)?;
        sink.write(chunk).await?;
    }
    Ok(Received {
        request,
        file: sink.finish().await?,
        name,
        content_type,
    })
}

// === names and types ===

/// The cleaned file name of a part, or `fallback` (the execution id) when it has none.
fn file_name(headers: &HeaderMap, fallback: &str) -> String {
    disposition_name(headers)
        .map(|n| clean_name(&n))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| fallback.to_owned())
}

/// The file name a `Content-Disposition` carries: `filename*` (RFC 5987/2231) when
/// present and decodable, else `filename` (raw UTF-8 or percent-encoded, RFC 7578; bytes
/// that are not UTF-8 are read as Latin-1).
fn disposition_name(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::CONTENT_DISPOSITION)?.as_bytes();
    let params = disposition_params(raw);
    let extended = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filename*"))
        .and_then(|(_, v)| decode_ext_value(v));
    extended.or_else(|| {
        let (_, v) = params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("filename"))?;
        let text = bytes_to_string(v);
        if text.contains('%') {
            if let Ok(decoded) = percent_encoding::percent_decode_str(&text).decode_utf8() {
                return Some(decoded.into_owned());
            }
        }
        Some(text)
    })
}

/// The `key=value` parameters of a `Content-Disposition` value, quoted strings unquoted
/// (`\"` and `\\` unescaped; any other backslash is kept, as browsers send Windows paths
/// unescaped).
fn disposition_params(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    // Skip the disposition type.
    let mut i = raw.iter().position(|&b| b == b';').unwrap_or(raw.len());
    while i < raw.len() {
        i += 1; // the ';'
        while i < raw.len() && raw[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < raw.len() && raw[i] != b'=' && raw[i] != b';' {
            i += 1;
        }
        let key = String::from_utf8_lossy(&raw[start..i]).trim().to_owned();
        if i >= raw.len() || raw[i] == b';' {
            continue;
        }
        i += 1; // the '='
        while i < raw.len() && raw[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if raw.get(i) == Some(&b'"') {
            i += 1;
            while i < raw.len() && raw[i] != b'"' {
                if raw[i] == b'\\' && matches!(raw.get(i + 1), Some(b'"' | b'\\')) {
                    i += 1;
                }
                value.push(raw[i]);
                i += 1;
            }
            // Past the closing quote, up to the next ';'.
            while i < raw.len() && raw[i] != b';' {
                i += 1;
            }
        } else {
            let start = i;
            while i < raw.len() && raw[i] != b';' {
                i += 1;
            }
            value.extend_from_slice(raw[start..i].trim_ascii_end());
        }
        out.push((key, value));
    }
    out
}

/// Decodes an RFC 5987 `ext-value`: `charset'language'percent-encoded`. UTF-8 and
/// ISO-8859-1 are understood; anything else is ignored.
fn decode_ext_value(v: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(v).ok()?;
    let mut it = text.splitn(3, '\'');
    let (charset, _lang, encoded) = (it.next()?, it.next()?, it.next()?);
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
        Some(bytes.iter().map(|&b| char::from(b)).collect())
    } else {
        None
    }
}

fn bytes_to_string(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) => s.to_owned(),
        Err(_) => v.iter().map(|&b| char::from(b)).collect(),
    }
}

/// A plain file name: control characters (CR, LF, NUL, ...) removed, only the last path
/// component kept (`/` and `\` both separate), `.` and `..` dropped, trimmed, at most
/// [`MAX_NAME_BYTES`]. Empty when nothing is left.
fn clean_name(raw: &str) -> String {
    let no_controls: String = raw.chars().filter(|c| !c.is_control()).collect();
    let last = no_controls
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    if last == "." || last == ".." {
        return String::new();
    }
    let mut name = last.to_owned();
    if name.len() > MAX_NAME_BYTES {
        let mut cut = MAX_NAME_BYTES;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    name
}

/// The content type of an uploaded file: the part's own, unless it is absent or
/// `application/octet-stream`, in which case it is guessed from the name; when the name
/// says nothing, `application/octet-stream`.
fn file_content_type(part: Option<&str>, name: &str) -> String {
    let given = part.map(str::trim).filter(|t| {
        !t.is_empty()
            && t.len() <= 255
            && !t
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case(OCTET_STREAM)
    });
    match given {
        Some(t) => t.to_owned(),
        None => mime_guess::from_path(name)
            .first_raw()
            .unwrap_or(OCTET_STREAM)
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn name_of(cd: &[u8]) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_bytes(cd).unwrap(),
        );
        disposition_name(&h)
    }

    #[test]
    fn filename_star_wins_over_filename() {
        let cd = b"form-data; name=\"FileData\"; filename=\"fallback.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%BC.bin";
        assert_eq!(name_of(cd).unwrap(), "résumé ü.bin");
        let cd = b"attachment; filename*=iso-8859-1'en'caf%E9.txt";
        assert_eq!(name_of(cd).unwrap(), "café.txt");
    }

    #[test]
    fn filename_raw_utf8_and_percent_encoded() {
        assert_eq!(
            name_of("form-data; name=\"f\"; filename=\"日本語 ü.txt\"".as_bytes()).unwrap(),
            "日本語 ü.txt"
        );
        assert_eq!(
            name_of(b"form-data; name=\"f\"; filename=\"caf%C3%A9.txt\"").unwrap(),
            "café.txt"
        );
        assert_eq!(
            name_of(b"form-data; name=\"f\"; filename=\"a \\\"quoted\\\" name\"").unwrap(),
            "a \"quoted\" name"
        );
        assert_eq!(
            name_of(b"form-data; name=f; filename=plain.txt").unwrap(),
            "plain.txt"
        );
        assert_eq!(
            name_of(b"form-data; filename=\"caf\xe9.txt\"").unwrap(),
            "café.txt"
        );
        assert_eq!(name_of(b"form-data; name=\"f\""), None);
    }

    #[test]
    fn names_lose_paths_and_controls() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\x\\y.txt"), "y.txt");
        assert_eq!(clean_name("a\r\nb\0.txt"), "ab.txt");
        assert_eq!(clean_name(".."), "");
        assert_eq!(clean_name("dir/"), "");
        assert_eq!(clean_name(" spaced .txt "), "spaced .txt");
        let long = "é".repeat(1000);
        assert!(clean_name(&long).len() <= MAX_NAME_BYTES);
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("form-data; name=\"f\"; filename=\"../..\""),
        );
        assert_eq!(file_name(&h, "exec-1"), "exec-1");
    }

    #[test]
    fn content_type_from_part_else_guessed() {
        assert_eq!(
            file_content_type(Some("application/x-demo"), "a.bin"),
            "application/x-demo"
        );
        assert_eq!(file_content_type(None, "a.png"), "image/png");
        assert_eq!(
            file_content_type(Some("application/octet-stream"), "a.pdf"),
            "application/pdf"
        );
        assert_eq!(
            file_content_type(None, "no-extension"),
            "application/octet-stream"
        );
    }
}
