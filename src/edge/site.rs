//! Cross-site requests to the admin API. A browser that holds admin Basic credentials
//! sends them with any request a page of another site makes, and a deployment can run
//! commands: so a state-changing admin request (anything but GET, HEAD and OPTIONS) is
//! refused with 403 when `Sec-Fetch-Site` says it comes from another site or its `Origin`
//! is neither this server's nor a configured one, and its body must be JSON or
//! multipart — the types a plain HTML form cannot send without a preflight.

use http::request::Parts;
use http::{header, Method};

use super::EdgeConfig;
use crate::error::{Error, Result};

/// Refuses an admin request a page of another site may have made.
///
/// # Errors
///
/// 403 naming the header that says cross-site; 415 for a body that is neither
/// `application/json` nor `multipart/form-data`.
pub(crate) fn check_admin_request(parts: &Parts, config: &EdgeConfig) -> Result<()> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let h = &parts.headers;
    let origin = h.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let allowed = origin.is_some_and(|o| config.admin_origins.iter().any(|a| a == o));
    if !allowed {
        if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            if !matches!(site, "same-origin" | "none") {
                return Err(Error::Forbidden(
                    format!(
                        "a state-changing admin request from another site is refused \
                         (Sec-Fetch-Site: {site})"
                    )
                    .into(),
                ));
            }
        }
        if let Some(o) = origin {
            if !same_origin(o, parts) {
                return Err(Error::Forbidden(
                    format!(
                        "a state-changing admin request from the web origin '{o}' is refused; \
                         allow it with --admin-allowed-origins"
                    )
                    .into(),
                ));
            }
        }
    }
    if has_body(parts) {
        let ct = h
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !(ct.starts_with("application/json") || ct.starts_with("multipart/form-data")) {
            let shown = if ct.is_empty() { "none" } else { ct.as_str() };
            return Err(Error::UnsupportedMediaType(
                format!(
                    "a {} to the admin API must send application/json or \
                     multipart/form-data; Content-Type was {shown}",
                    parts.method
                )
                .into(),
            ));
        }
    }
    Ok(())
}

/// Whether `origin` is this server as the client addressed it (`Host`).
fn same_origin(origin: &str, parts: &Parts) -> bool {
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str));
    host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

/// Whether the request announces a body.
fn has_body(parts: &Parts) -> bool {
    let h = &parts.headers;
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder()
            .method(method)
            .uri("/api/repository/deployments");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cross_site_writes_are_refused() {
        let c = EdgeConfig::default();
        let json = [
            ("content-type", "application/json"),
            ("content-length", "2"),
        ];
        let ok = |h: &[(&str, &str)]| check_admin_request(&parts(Method::POST, h), &c);
        assert!(ok(&json).is_ok(), "no browser headers: a script or curl");
        let mut h = json.to_vec();
        h.push(("origin", "http://evil.example"));
        assert_eq!(ok(&h).unwrap_err().status(), 403);
        h.push(("host", "fss.local:9090"));
        assert_eq!(ok(&h).unwrap_err().status(), 403);
        let same = [
            ("content-type", "application/json"),
            ("origin", "http://fss.local:9090"),
            ("host", "fss.local:9090"),
            ("sec-fetch-site", "same-origin"),
        ];
        assert!(ok(&same).is_ok());
        assert_eq!(
            ok(&[("sec-fetch-site", "cross-site")])
                .unwrap_err()
                .status(),
            403
        );
        let form = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-length", "3"),
        ];
        assert_eq!(ok(&form).unwrap_err().status(), 415);
        assert!(
            check_admin_request(&parts(Method::GET, &[("sec-fetch-site", "cross-site")]), &c)
                .is_ok()
        );
        let allowed = EdgeConfig {
            admin_origins: vec!["https://console.example".into()],
            ..EdgeConfig::default()
        };
        let h = [
            ("origin", "https://console.example"),
            ("sec-fetch-site", "cross-site"),
        ];
        assert!(check_admin_request(&parts(Method::DELETE, &h), &allowed).is_ok());
    }
}
