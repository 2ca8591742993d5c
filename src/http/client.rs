//! The one outbound HTTP client: WAIT callbacks today, and every later caller fss makes
//! (an `http` process, event channels) through the same [`OutboundClient`].
//!
//! It is hyper-util's pooled client over `hyper-rustls`: `http://` in clear, `https://`
//! with rustls (the ring provider), HTTP/2 or HTTP/1.1 as the server picks by ALPN.
//!
//! Invariants:
//! - Certificates and host names are always verified. There is no switch to accept an
//!   invalid certificate: a private CA is trusted by naming it (`--ca-file`), never by
//!   turning verification off.
//! - Trust is the platform's store (rustls-native-certs) plus the optional CA bundle.
//!   The platform's store rather than a compiled-in list (webpki-roots) because that is
//!   where operators already put their corporate CAs, system-wide, and it follows the
//!   OS's updates (a distrusted root goes with a package update, not a rebuild of fss).
//! - Every request is bounded: a TCP connect timeout and a total timeout that covers
//!   the handshake, the request and the reading of the (size-limited) answer.
//! - Failures say why in words (`OutboundError`): "TLS: the certificate of 10.0.0.5 is
//!   not trusted (UnknownIssuer)", "connect timeout after 10 s", "connection refused".

use std::error::Error as StdError;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rustls::crypto::ring;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Default TCP connect timeout of an outbound request: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of an outbound request, answer included: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How the outbound client trusts servers and how long it waits for them.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// A PEM bundle of CA certificates trusted besides the platform's store
    /// (`--ca-file`, `FSS_CA_FILE`). Default none. A file that cannot be read or holds
    /// no certificate is an error at start.
    pub ca_file: Option<PathBuf>,
    /// How long a TCP connect may take (`--connect-timeout`). Default 10 s.
    pub connect_timeout: Duration,
    /// How long a whole request may take: connect, TLS handshake, sending, and reading
    /// the answer (`--request-timeout`). Default 30 s.
    pub request_timeout: Duration,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            ca_file: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Why an outbound request (or building the client) failed, in words an operator can
/// act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// The extra CA bundle cannot be used.
    #[error("CA file {}: {reason}", path.display())]
    CaFile {
        /// The file named by `--ca-file`.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The request cannot be sent as given (a bad URI, an unsupported scheme).
    #[error("request is not usable: {0}")]
    Unusable(String),
    /// The TLS handshake failed: the certificate did not verify, or the server refused.
    #[error("TLS: {0}")]
    Tls(String),
    /// No TCP connection within the connect timeout.
    #[error("connect timeout after {} s", after.as_secs())]
    ConnectTimeout {
        /// The connect timeout.
        after: Duration,
    },
    /// No connection: refused, unreachable, the name did not resolve.
    #[error("{0}")]
    Connect(String),
    /// The exchange did not complete within the total timeout.
    #[error("no complete answer within {} s", after.as_secs())]
    Timeout {
        /// The total timeout.
        after: Duration,
    },
    /// The answer was larger than the caller reads.
    #[error("answer larger than {limit} bytes")]
    TooLarge {
        /// The caller's limit.
        limit: usize,
    },
    /// The connection broke while sending or receiving.
    #[error("{0}")]
    Exchange(String),
}

impl OutboundError {
    /// Whether trying the same request again may succeed: a transport failure may pass;
    /// an unusable request or CA file will not, nor will an answer too large (the server
    /// got the request and will answer the same).
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            OutboundError::CaFile { .. }
                | OutboundError::Unusable(_)
                | OutboundError::TooLarge { .. }
        )
    }
}

/// The client every outbound request goes through; cheap to clone (one pool, shared).
#[derive(Debug, Clone)]
pub struct OutboundClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    connect_timeout: Duration,
    request_timeout: Duration,
}

// === impl OutboundClient ===

impl OutboundClient {
    /// A client trusting the platform's roots and `config.ca_file`.
    ///
    /// # Errors
    ///
    /// [`OutboundError::CaFile`] when the CA file cannot be read or holds no certificate.
    pub fn new(config: &OutboundConfig) -> Result<Self, OutboundError> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(native_roots().iter().cloned());
        if let Some(path) = &config.ca_file {
            for cert in load_ca_file(path)? {
                // `load_ca_file` checked each one parses as a trust anchor.
                let _ = roots.add(cert);
            }
        }
        Ok(Self::with_roots(roots, config))
    }

    fn with_roots(roots: RootCertStore, config: &OutboundConfig) -> Self {
        let tls = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        // Let https:// URIs through the inner connector; the TLS layer wraps them.
        http.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        OutboundClient {
            inner: Arc::new(Inner {
                client: Client::builder(TokioExecutor::new()).build(connector),
                connect_timeout: config.connect_timeout,
                request_timeout: config.request_timeout,
            }),
        }
    }

    /// Sends `req` and reads the answer, at most `max_answer_bytes` of it, all within
    /// the total timeout.
    ///
    /// # Errors
    ///
    /// Why no whole answer came; see [`OutboundError`]. A status of 4xx or 5xx is an
    /// answer, not an error.
    pub async fn send(
        &self,
        req: Request<Full<Bytes>>,
        max_answer_bytes: usize,
    ) -> Result<Response<Bytes>, OutboundError> {
        self.send_within(req, max_answer_bytes, self.inner.request_timeout)
            .await
    }

    /// The total timeout of a request (`--request-timeout`).
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// As [`OutboundClient::send`], within the total timeout `after` instead of the
    /// client's: a caller with its own timeout (an `http` process's `timeoutMs`) may wait
    /// less or more than `--request-timeout`.
    ///
    /// # Errors
    ///
    /// As [`OutboundClient::send`]; [`OutboundError::Timeout`] names `after`.
    pub async fn send_within(
        &self,
        req: Request<Full<Bytes>>,
        max_answer_bytes: usize,
        after: Duration,
    ) -> Result<Response<Bytes>, OutboundError> {
        let exchange = async {
            let resp = self.exchange(req).await?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, max_answer_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        OutboundError::TooLarge {
                            limit: max_answer_bytes,
                        }
                    } else {
                        OutboundError::Exchange(format!("reading the answer failed: {e}"))
                    }
                })?
                .to_bytes();
            Ok(Response::from_parts(parts, body))
        };
        tokio::time::timeout(after, exchange)
            .await
            .map_err(|_| OutboundError::Timeout { after })?
    }

    /// Sends `req` and returns the answer's head as soon as it arrives, the body left to
    /// stream. The total timeout covers only the head: a streaming caller bounds the
    /// body itself.
    ///
    /// # Errors
    ///
    /// As [`OutboundClient::send`].
    pub async fn send_streaming(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, OutboundError> {
        let after = self.inner.request_timeout;
        tokio::time::timeout(after, self.exchange(req))
            .await
            .map_err(|_| OutboundError::Timeout { after })?
    }

    async fn exchange(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, OutboundError> {
        match req.uri().scheme_str() {
            Some("http" | "https") => {}
            Some(other) => {
                return Err(OutboundError::Unusable(format!(
                    "scheme '{other}' is not http or https"
                )))
            }
            None => return Err(OutboundError::Unusable("the URI has no scheme".into())),
        }
        let host = req.uri().host().unwrap_or_default().to_owned();
        self.inner
            .client
            .request(req)
            .await
            .map_err(|e| describe(&e, &host, self.inner.connect_timeout))
    }
}

/// The platform's roots, loaded once per process: every runtime (and every test server)
/// shares them.
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        if !found.errors.is_empty() {
            tracing::warn!(
                failed = found.errors.len(),
                first = %found.errors[0],
                "Some of the platform's CA certificates could not be loaded."
            );
        }
        if found.certs.is_empty() {
            tracing::warn!(
                "No CA certificate of the platform was found: outbound HTTPS trusts only --ca-file."
            );
        }
        found.certs
    })
}

/// The certificates of the PEM bundle at `path`, each usable as a trust anchor.
///
/// # Errors
///
/// [`OutboundError::CaFile`] naming the file when it cannot be read, is not PEM, holds
/// no certificate or one that is not a usable CA certificate.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, OutboundError> {
    let fail = |reason: String| OutboundError::CaFile {
        path: path.to_owned(),
        reason,
    };
    // Read first, so that "cannot be read" carries the OS's reason.
    let pem = std::fs::read(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("is not a PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(fail(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let mut check = RootCertStore::empty();
    for (n, cert) in certs.iter().enumerate() {
        check
            .add(cert.clone())
            .map_err(|e| fail(format!("certificate {} is not usable: {e}", n + 1)))?;
    }
    Ok(certs)
}

/// The words for a failed exchange with `host`: the TLS or I/O error deepest in the
/// chain says more than hyper-util's "client error (Connect)".
fn describe(e: &hyper_util::client::legacy::Error, host: &str, connect: Duration) -> OutboundError {
    if let Some(tls) = find::<rustls::Error>(e) {
        return OutboundError::Tls(describe_tls(tls, host));
    }
    if let Some(io) = find_io(e) {
        match io.kind() {
            io::ErrorKind::TimedOut if e.is_connect() => {
                return OutboundError::ConnectTimeout { after: connect }
            }
            io::ErrorKind::ConnectionRefused => {
                return OutboundError::Connect(format!("connection refused by {host}"))
            }
            _ => {}
        }
    }
    let chain = chain_text(e);
    if e.is_connect() {
        OutboundError::Connect(format!("cannot connect to {host}: {chain}"))
    } else {
        OutboundError::Exchange(format!("exchange with {host} failed: {chain}"))
    }
}

fn describe_tls(e: &rustls::Error, host: &str) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                format!("the certificate of {host} is not trusted (UnknownIssuer)")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the certificate of {host} is not valid for that name (NotValidForName)")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("the certificate of {host} has expired (Expired)")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("the certificate of {host} is not valid yet (NotValidYet)")
            }
            CertificateError::Revoked => format!("the certificate of {host} is revoked (Revoked)"),
            other => format!("the certificate of {host} is refused ({other:?})"),
        },
        rustls::Error::AlertReceived(alert) => {
            format!("{host} ended the handshake with the alert {alert:?}")
        }
        rustls::Error::NoApplicationProtocol => {
            format!("{host} speaks neither h2 nor http/1.1 (ALPN)")
        }
        other => format!("handshake with {host} failed: {other}"),
    }
}

/// The first `T` in the chain of `e`, looking inside `io::Error`s too: their `source()`
/// skips the error they wrap, and TLS failures come wrapped in one.
fn find<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = next(err);
    }
    None
}

/// The deepest `io::Error` of the chain: the outer ones only wrap it.
fn find_io<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    let mut cur = Some(e);
    let mut found = None;
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            found = Some(io);
        }
        cur = next(err);
    }
    found
}

fn next<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(inner) = err.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
        return Some(inner);
    }
    err.source()
}

/// The messages of the chain of `e` below its own, joined by ": ".
fn chain_text(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = next(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        cur = next(err);
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ca_file_names_the_file() {
        let err = load_ca_file(Path::new("/no/such/ca.pem")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/no/such/ca.pem") && text.contains("cannot be read"),
            "{text}"
        );
    }

    #[test]
    fn ca_file_without_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let text = load_ca_file(&path).unwrap_err().to_string();
        assert!(
            text.contains("empty.pem") && text.contains("no PEM certificate"),
            "{text}"
        );
    }

    #[test]
    fn only_transport_failures_are_retryable() {
        assert!(OutboundError::Tls("x".into()).is_retryable());
        assert!(OutboundError::ConnectTimeout {
            after: Duration::from_secs(1)
        }
        .is_retryable());
        assert!(!OutboundError::Unusable("x".into()).is_retryable());
    }

    #[test]
    fn tls_reasons_name_host_and_cause() {
        let e = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            OutboundError::Tls(describe_tls(&e, "127.0.0.1")).to_string(),
            "TLS: the certificate of 127.0.0.1 is not trusted (UnknownIssuer)"
        );
        // Wrapped the way tokio-rustls and hyper-rustls wrap it.
        let wrapped = io::Error::other(io::Error::new(io::ErrorKind::InvalidData, e));
        assert!(find::<rustls::Error>(&wrapped).is_some());
    }
}
