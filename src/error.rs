//! The crate's one error type and its mapping onto HTTP answers.
//!
//! Flow endpoints answer every error with the ServiceProblem body of the `protocol` module (`ServiceProblem`)
//! (`kind`, `uri`, `statusCode`, `message`) and the `X-ManyWho-Service-Problem-Kind`
//! header; the admin API answers `{"statusCode", "errorMessage"}`. Both renderings live in
//! `http::problem`, so that this module stays a leaf every layer may use.
//! Expected outcomes on the hot path (no route, limit exceeded) carry `&'static str`
//! or `Cow` messages so that refusing a request costs no formatting.

use std::borrow::Cow;

use http::StatusCode;

/// Shorthand for results whose error is the crate [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way a request, a definition or the runtime can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed or lacks something it must carry (400).
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// Nothing is mounted at the path, or the named thing does not exist (404).
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    /// Credentials are missing or wrong (401); the answer asks for Basic credentials.
    #[error("{0}")]
    Unauthorized(Cow<'static, str>),
    /// The caller is known but may not do this (403).
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// The request clashes with what exists, e.g. a duplicate id (409).
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// The request is well-formed but cannot be processed as sent (422), e.g. an
    /// `Idempotency-Key` reused with another body.
    #[error("{0}")]
    Unprocessable(Cow<'static, str>),
    /// The path exists but not for this method (405); `allow` lists the methods that are.
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed {
        /// The value of the `Allow` header.
        allow: &'static str,
    },
    /// The body is larger than the operation accepts (413), decided while reading.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes that was exceeded.
        limit: u64,
    },
    /// Something the request carries is larger than fss accepts (413), in words: what, and
    /// which limit (a `.zip` that unpacks past its limit).
    #[error("{0}")]
    TooLarge(Cow<'static, str>),
    /// An uploaded file is larger than its file resource's `maxUploadBytes` (413), decided
    /// while streaming.
    #[error(
        "the file exceeds the upload limit of {limit} bytes (maxUploadBytes of the file resource)"
    )]
    FileTooLarge {
        /// The `maxUploadBytes` that was exceeded.
        limit: u64,
    },
    /// A `Range` asks for bytes past the end of the file (416).
    #[error("the requested range is not satisfiable: the file has {size} bytes")]
    RangeNotSatisfiable {
        /// The file's size, sent back in `Content-Range: bytes */{size}`.
        size: u64,
    },
    /// The body's media type is not one the operation reads (415).
    #[error("{0}")]
    UnsupportedMediaType(Cow<'static, str>),
    /// The operation is at its concurrency limit (503 with `Retry-After`).
    #[error("{message}")]
    Overloaded {
        /// Which limit, for the caller.
        message: &'static str,
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// The operation's request rate is exceeded (429 with `Retry-After`).
    #[error("the operation's maxRequestsPerSecond limit is exceeded; retry after {retry_after} s")]
    RateLimited {
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// The client stopped sending its body (408).
    #[error("the request body stalled: no data for {seconds} s")]
    BodyTimeout {
        /// The idle limit in seconds.
        seconds: u64,
    },
    /// The request body did not end within the total body deadline (408).
    #[error("the request body did not arrive within the limit of {seconds} s (--body-timeout)")]
    BodyDeadline {
        /// The deadline in seconds.
        seconds: u64,
    },
    /// The request body arrived slower than the minimum rate (408).
    #[error(
        "the request body arrived slower than the minimum of {min_rate} bytes/s \
         averaged over {seconds} s (--body-min-rate)"
    )]
    BodyTooSlow {
        /// The minimum rate in bytes per second.
        min_rate: u64,
        /// The window it is averaged over, in seconds.
        seconds: u64,
    },
    /// The process ran past its deadline and was stopped (504): `limit` names which
    /// deadline (`execution timeout`, `wait timeout`).
    #[error("the process did not finish within the {limit} of {seconds} s and was stopped")]
    ExecutionTimeout {
        /// Which deadline passed.
        limit: &'static str,
        /// The deadline in seconds.
        seconds: u64,
    },
    /// A system the process called answered wrongly or could not be reached (502): an
    /// error status, an answer too large or not JSON, a refused connection. The message
    /// names the system by `scheme://host:port` only, never a path, query or credential.
    #[error("{0}")]
    BadGateway(Cow<'static, str>),
    /// A system the process called did not answer in time (504); named as for
    /// [`Error::BadGateway`].
    #[error("{0}")]
    GatewayTimeout(Cow<'static, str>),
    /// Something the process needs is not there yet (503), such as an OAuth provider
    /// that is not loaded; the message says what to do.
    #[error("{0}")]
    Unavailable(Cow<'static, str>),
    /// The process behind the operation failed; the message is the process's own (500).
    #[error("{0}")]
    Process(String),
    /// Something inside fss failed (500). The message is logged, not shown in full.
    #[error("{0}")]
    Internal(String),
    /// The data folder's file system is full (507 Insufficient Storage): no space or quota
    /// left. `what` says what could not be written; the message never names a path, so it
    /// is shown to the client as it is.
    #[error("the storage is full: {what}; free space on the data folder's file system and retry")]
    InsufficientStorage {
        /// What could not be written, a lowercase fragment ("the upload could not be written").
        what: &'static str,
    },
    /// The operation is declared but this build does not serve it (501).
    #[error("{0}")]
    NotImplemented(Cow<'static, str>),
    /// An I/O error outside of a request (start-up, files).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A 400 with a message that says what was wrong.
    pub fn bad_request(msg: impl Into<Cow<'static, str>>) -> Self {
        Error::BadRequest(msg.into())
    }

    /// A 404 naming what was not found.
    pub fn not_found(msg: impl Into<Cow<'static, str>>) -> Self {
        Error::NotFound(msg.into())
    }

    /// A 409 naming what clashed.
    pub fn conflict(msg: impl Into<Cow<'static, str>>) -> Self {
        Error::Conflict(msg.into())
    }

    /// An internal failure; the message goes to the log only (it may name a path or carry
    /// a database's text), the client gets a generic one.
    pub fn internal(msg: impl std::fmt::Display) -> Self {
        Error::Internal(msg.to_string())
    }

    /// The error of an I/O failure while doing `what` (a lowercase fragment such as "the
    /// upload could not be written"): [`Error::InsufficientStorage`] when the file system
    /// is full, so that the client learns why; else an internal error whose text (which
    /// may name a path) is only logged.
    pub fn io(what: &'static str, e: &std::io::Error) -> Self {
        if is_storage_full(e) {
            Error::InsufficientStorage { what }
        } else {
            Error::Internal(format!("{what}: {e}"))
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge { .. } | Error::FileTooLarge { .. } | Error::TooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Error::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Error::ExecutionTimeout { .. } | Error::GatewayTimeout(_) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Error::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::InsufficientStorage { .. } => StatusCode::INSUFFICIENT_STORAGE,
            Error::Io(e) if is_storage_full(e) => StatusCode::INSUFFICIENT_STORAGE,
            Error::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::BodyTimeout { .. } | Error::BodyDeadline { .. } | Error::BodyTooSlow { .. } => {
                StatusCode::REQUEST_TIMEOUT
            }
            Error::Process(_) | Error::Internal(_) | Error::Io(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Whether this error is a client's fault (4xx).
    pub fn is_client_error(&self) -> bool {
        self.status().is_client_error()
    }

    /// Whether the data folder's file system is full (507).
    pub fn is_storage_full(&self) -> bool {
        self.status() == StatusCode::INSUFFICIENT_STORAGE
    }

    /// Whether the message is only for the log: an internal failure or an I/O error whose
    /// text may name a server path or carry a database's words. Every other message is
    /// built by fss for the client (or, for [`Error::Process`], by the definition's own
    /// process).
    pub fn is_log_only(&self) -> bool {
        match self {
            Error::Internal(_) => true,
            Error::Io(e) => !is_storage_full(e),
            _ => false,
        }
    }
}

/// Whether an I/O error says that the file system is full: no space (`ENOSPC`) or no
/// quota (`EDQUOT`) left.
pub(crate) fn is_storage_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::BadRequest(format!("request body is not valid JSON: {e}").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_variant() {
        assert_eq!(Error::bad_request("x").status(), 400);
        assert_eq!(Error::not_found("x").status(), 404);
        assert_eq!(Error::MethodNotAllowed { allow: "POST" }.status(), 405);
        assert_eq!(Error::PayloadTooLarge { limit: 1 }.status(), 413);
        assert_eq!(Error::FileTooLarge { limit: 1 }.status(), 413);
        assert_eq!(Error::RangeNotSatisfiable { size: 1 }.status(), 416);
        assert_eq!(Error::Process("boom".into()).status(), 500);
        for (e, status) in [
            (Error::BadGateway("x".into()), 502),
            (Error::Unavailable("x".into()), 503),
            (Error::GatewayTimeout("x".into()), 504),
        ] {
            assert_eq!(e.status(), status);
            // Their messages are built for the caller: shown, not only logged.
            assert!(!e.is_log_only());
        }
        let late = Error::ExecutionTimeout {
            limit: "execution timeout",
            seconds: 30,
        };
        assert_eq!(late.status(), 504);
        assert!(late.to_string().contains("execution timeout of 30 s"));
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(Error::io("x", &full).status(), 507);
        assert_eq!(Error::Io(full).status(), 507);
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(Error::io("x", &other).status(), 500);
        assert!(Error::io("x", &other).is_log_only());
    }
}
