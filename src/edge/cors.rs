//! Browser calls from other origins (CORS) to services. An `OPTIONS` request to a
//! service URL is answered 204 with `Allow`; when it is a preflight from a configured
//! origin it also carries `Access-Control-Allow-Origin`, `-Methods`, `-Headers` and
//! `-Max-Age`, and the real answers to that origin carry `Access-Control-Allow-Origin`
//! and expose fss's own headers. An origin that is not configured gets no CORS header,
//! so the browser keeps the answer from the page.

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use super::EdgeConfig;
use crate::http::body::{self, ResBody};

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";
/// The request headers a preflight allows when it does not ask for others.
const DEFAULT_ALLOWED_HEADERS: &str = "authorization, content-type, x-boomi-debug";
/// The answer headers a page may read.
const EXPOSED_HEADERS: &str =
    "x-execution-id, x-manywho-service-problem-kind, content-disposition, retry-after";

/// The `Access-Control-Allow-Origin` value for a request with `headers`: its `Origin`
/// when that is configured (or `*` is), else `None`.
fn allowed<'a>(headers: &'a HeaderMap, config: &EdgeConfig) -> Option<&'a HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    permits(config, origin).then_some(origin)
}

/// Whether `origin` is configured (or `*` is).
fn permits(config: &EdgeConfig, origin: &HeaderValue) -> bool {
    origin
        .to_str()
        .is_ok_and(|o| config.cors_origins.iter().any(|a| a == "*" || a == o))
}

/// The answer to `OPTIONS` on a service URL whose methods are `allow` (OPTIONS added).
pub(crate) fn preflight(
    headers: &HeaderMap,
    allow: &str,
    config: &EdgeConfig,
) -> Response<ResBody> {
    let mut resp = Response::new(body::full(bytes::Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let allow =
        HeaderValue::from_str(&format!("{allow}, OPTIONS")).expect("method names are header-safe");
    let out = resp.headers_mut();
    out.insert(header::ALLOW, allow.clone());
    out.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed(headers, config) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, allow);
        let asked = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .filter(|v| {
                v.to_str().is_ok_and(|s| {
                    s.split(',').all(|t| {
                        let t = t.trim();
                        !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
                })
            })
            .cloned()
            .unwrap_or(HeaderValue::from_static(DEFAULT_ALLOWED_HEADERS));
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        out.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    resp
}

/// The `Origin` of a request, kept for [`allow_origin`] only when some origin may call
/// from a browser: the common request keeps nothing.
pub(crate) fn origin_of(headers: &HeaderMap, config: &EdgeConfig) -> Option<HeaderValue> {
    if config.cors_origins.is_empty() {
        return None;
    }
    headers.get(header::ORIGIN).cloned()
}

/// Adds the CORS headers of an answer to a request from `origin` when that origin is
/// configured; nothing otherwise.
pub(crate) fn allow_origin(
    origin: &HeaderValue,
    resp: &mut Response<ResBody>,
    config: &EdgeConfig,
) {
    if !permits(config, origin) {
        return;
    }
    let out = resp.headers_mut();
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    out.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    out.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    out.append(header::VARY, HeaderValue::from_static("Origin"));
}
