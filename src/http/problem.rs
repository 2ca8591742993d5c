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
        self.into_execution_problem(uri, None)
    }

    /// Renders the ServiceProblem answer of the execution `execution_id` on `uri`.
    ///
    /// A message that is only for the log ([`Error::is_log_only`]: it may name a server
    /// path or carry a database's text) is logged (inside the execution's span, which
    /// names the execution id and the service), and the client
    /// gets a generic message carrying that id, so that an operator can find the log line.
    pub fn into_execution_problem(
        self,
        uri: &str,
        execution_id: Option<&str>,
    ) -> Response<ResBody> {
        let status = self.status();
        let message = if self.is_log_only() {
            // the execution's span names it and its service
            tracing::error!(%uri, error = %self, "Request failed.");
            generic_message(execution_id)
        } else {
            if status.is_server_error() {
                tracing::warn!(%uri, error = %self, "Request failed.");
            }
            let mut message = self.client_message();
            // The Java SDK truncates messages to 500 characters; keep the body bounded too.
            if message.len() > 2000 {
                let mut cut = 2000;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
            }
            message
        };
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

    /// The message a client may read: the error's own, except that a full file system
    /// reached as a plain I/O error says so in words instead of the system's text.
    fn client_message(&self) -> String {
        match self {
            Error::Io(_) if self.is_storage_full() => Error::InsufficientStorage {
                what: "a file could not be written",
            }
            .to_string(),
            other => other.to_string(),
        }
    }

    /// Renders the admin API answer: `{"statusCode": N, "errorMessage": "..."}`, with
    /// `WWW-Authenticate` on 401 and `Allow` on 405. A 5xx logs its cause and shows a
    /// generic message, so that internals (paths, SQL) do not leak to the client; a full
    /// file system (507) says so, since that message names no path and tells the operator
    /// what to do.
    pub fn into_admin_response(self) -> Response<ResBody> {
        let status = self.status();
        let message = if self.is_storage_full() {
            tracing::warn!(error = %self, "Admin request failed.");
            Cow::Owned(self.client_message())
        } else if status.is_server_error() {
            tracing::error!(error = %self, "Admin request failed.");
            generic_message(None).into()
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

/// The message of a 5xx whose cause is only logged; it names the execution, whose id is
/// on the log line.
fn generic_message(execution_id: Option<&str>) -> String {
    match execution_id.filter(|id| !id.is_empty()) {
        Some(id) => format!("internal error in execution {id}; the server log has the details"),
        None => "internal error; the server log has the details".to_owned(),
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

    async fn message_of(resp: Response<ResBody>) -> (u16, String) {
        use http_body_util::BodyExt;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let m = v["message"].as_str().or(v["errorMessage"].as_str());
        (status, m.unwrap().to_owned())
    }

    #[tokio::test]
    async fn internal_errors_show_only_the_execution_id() {
        let e = Error::internal("file index: database disk image is malformed at /data/x");
        let (status, msg) = message_of(e.into_execution_problem("/fs/S/file", Some("ex-1"))).await;
        assert_eq!(status, 500);
        assert_eq!(
            msg,
            "internal error in execution ex-1; the server log has the details"
        );
        let e = Error::Io(std::io::Error::other("/data/files: broken"));
        let (_, msg) = message_of(e.into_service_problem("/fs/S/file")).await;
        assert!(!msg.contains("/data"), "{msg}");
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let (status, msg) = message_of(Error::Io(full).into_admin_response()).await;
        assert_eq!(status, 507);
        assert!(msg.starts_with("the storage is full"), "{msg}");
    }
}
