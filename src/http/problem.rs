//! The HTTP renderings of [`Error`]: the ServiceProblem answer of Flow endpoints
//! (`kind`, `uri`, `statusCode`, `message` and the `X-ManyWho-Service-Problem-Kind` header)
//! and the `{"statusCode", "errorMessage"}` answer of the admin API.

use std::borrow::Cow;

use http::{header, HeaderValue, Response};

use super::body::{self, ResBody};
use super::header::SERVICE_PROBLEM_KIND;
use crate::error::Error;

impl Error {
    /// Renders the ServiceProblem answer of a Flow endpoint; `uri` is the request path.
    pub fn into_service_problem(self, uri: &str) -> Response<ResBody> {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(%uri, error = %self, "Request failed.");
        }
        let mut message = self.to_string();
        // The Java SDK truncates messages to 500 characters; keep the body bounded too.
        if message.len() > 2000 {
            let mut cut = 2000;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let problem = crate::protocol::ServiceProblem {
            kind: "service",
            uri,
            status_code: status.as_u16(),
            message: &message,
        };
        let mut resp = body::json_response(status, &problem);
        let headers = resp.headers_mut();
        headers.insert(SERVICE_PROBLEM_KIND, HeaderValue::from_static("service"));
        match self {
            Error::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            Error::Overloaded { retry_after, .. } | Error::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            Error::RangeNotSatisfiable { size } => {
                let v = HeaderValue::from_str(&format!("bytes */{size}"))
                    .expect("a number is a valid header value");
                headers.insert(header::CONTENT_RANGE, v);
            }
            Error::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="fss""#),
                );
            }
            _ => {}
        }
        resp
    }

    /// Renders the admin API answer: `{"statusCode": N, "errorMessage": "..."}`, with
    /// `WWW-Authenticate` on 401 and `Allow` on 405. A 5xx logs its cause and shows a
    /// generic message, so that internals (paths, SQL) do not leak to the client.
    pub fn into_admin_response(self) -> Response<ResBody> {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::warn!(error = %self, "Admin request failed.");
            Cow::Borrowed("internal error; the server log has the details")
        } else {
            Cow::Owned(self.to_string())
        };
        let mut resp = body::json_response(
            status,
            &serde_json::json!({"statusCode": status.as_u16(), "errorMessage": message}),
        );
        let headers = resp.headers_mut();
        match self {
            Error::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="fss admin", charset="UTF-8""#),
                );
            }
            Error::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_not_allowed_carries_allow() {
        let resp = Error::MethodNotAllowed { allow: "GET, POST" }.into_service_problem("/x");
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[header::ALLOW], "GET, POST");
        assert_eq!(resp.headers()[SERVICE_PROBLEM_KIND], "service");
    }
}
