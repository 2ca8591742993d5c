//! HTTPS on the shared listener: the server certificate (reloadable), ALPN, and the
//! optional request for client certificates.
//!
//! Invariants: every handshake takes the certificate the [`Tls`] holds at that moment,
//! so a reload ([`Tls::reload`], on SIGHUP) changes what new connections see and leaves
//! open ones alone; a reload that fails keeps the certificate in use. A client
//! certificate is asked for only with `--tls-client-ca`, and is optional at the TLS level:
//! services that require one refuse requests without it (401), so that the other
//! services of the same port stay open to callers without a certificate. The ring
//! provider is named explicitly: there is no process-wide default to depend on.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::crypto::{ring, CryptoProvider};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::http::request::ClientCertificate;

/// The flag of the certificate chain file.
pub const FLAG_TLS_CERT: &str = "--tls-cert";
/// The flag of the private key file.
pub const FLAG_TLS_KEY: &str = "--tls-key";
/// The flag of the client CA bundle.
pub const FLAG_TLS_CLIENT_CA: &str = "--tls-client-ca";

/// The protocols offered by ALPN, preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Where the listener's certificate, key and client CA live (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, leaf first (`--tls-cert`, `FSS_TLS_CERT`).
    pub cert: PathBuf,
    /// The private key of the leaf: PKCS#8, PKCS#1 (RSA) or SEC1 (EC); RSA, ECDSA P-256
    /// and P-384, or Ed25519 (`--tls-key`, `FSS_TLS_KEY`).
    pub key: PathBuf,
    /// The CA certificates client certificates must chain to; given, the listener asks
    /// every client for a certificate (`--tls-client-ca`, `FSS_TLS_CLIENT_CA`). Read once
    /// at start.
    pub client_ca: Option<PathBuf>,
}

/// A TLS file that cannot be used, named by its flag and path (never its content).
#[derive(Debug, thiserror::Error)]
#[error("{flag} {}: {reason}", path.display())]
pub struct TlsError {
    /// The flag that named the file.
    pub flag: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl TlsError {
    fn new(flag: &'static str, path: &Path, reason: impl Into<String>) -> Self {
        TlsError {
            flag,
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The listener's TLS state: the acceptor every connection handshakes with, and the
/// certificate it presents, swapped on reload.
pub struct Tls {
    config: TlsConfig,
    provider: Arc<CryptoProvider>,
    resolver: Arc<Resolver>,
    acceptor: TlsAcceptor,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the certificate chain, the key and the client CA of `config`, and checks
    /// that the key belongs to the certificate.
    ///
    /// # Errors
    ///
    /// A file cannot be read, holds no PEM item of its kind, the key is of an
    /// unsupported kind or does not match the certificate, or the client CA holds no
    /// usable certificate; the error names the flag and the file.
    pub fn from_config(config: TlsConfig) -> Result<Self, TlsError> {
        let provider = Arc::new(ring::default_provider());
        let resolver = Arc::new(Resolver(ArcSwap::from_pointee(load_certified_key(
            &config, &provider,
        )?)));
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::new(FLAG_TLS_CERT, &config.cert, e.to_string()))?;
        let builder = match &config.client_ca {
            Some(ca) => {
                let roots = load_roots(ca)?;
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::new(FLAG_TLS_CLIENT_CA, ca, e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut server = builder.with_cert_resolver(Arc::clone(&resolver) as _);
        server.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            config,
            provider,
            resolver,
        })
    }

    /// Reads the certificate and key files again; new handshakes present them, open
    /// connections keep theirs. Called on SIGHUP.
    ///
    /// # Errors
    ///
    /// As [`Tls::from_config`] for the certificate and key; the certificate in use then
    /// stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = load_certified_key(&self.config, &self.provider)?;
        self.resolver.0.store(Arc::new(key));
        Ok(())
    }

    /// Whether the listener asks clients for a certificate (`--tls-client-ca`).
    pub fn requests_client_certificates(&self) -> bool {
        self.config.client_ca.is_some()
    }

    /// What connections handshake with.
    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// The identity in the leaf of a verified client certificate chain; `None` when it does
/// not parse (rustls verified it, so that does not happen for a chain it accepted).
pub(crate) fn client_certificate(
    chain: Option<&[CertificateDer<'_>]>,
) -> Option<ClientCertificate> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let leaf = chain?.first()?;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let common_names = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    let dns_names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ClientCertificate {
        common_names,
        dns_names,
    })
}

/// The certificate every handshake presents: whatever was stored last.
#[derive(Debug)]
struct Resolver(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

fn load_certified_key(
    config: &TlsConfig,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = load_certificates(FLAG_TLS_CERT, &config.cert)?;
    let key = PrivateKeyDer::from_pem_file(&config.key).map_err(|e| {
        TlsError::new(
            FLAG_TLS_KEY,
            &config.key,
            pem_reason(
                &e,
                "PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
            ),
        )
    })?;
    let signing = provider.key_provider.load_private_key(key).map_err(|e| {
        TlsError::new(
            FLAG_TLS_KEY,
            &config.key,
            format!("not a usable private key (RSA, ECDSA P-256/P-384 or Ed25519): {e}"),
        )
    })?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => Err(TlsError::new(
            FLAG_TLS_KEY,
            &config.key,
            format!(
                "the private key does not belong to the certificate of {FLAG_TLS_CERT} {}",
                config.cert.display()
            ),
        )),
        Err(e) => Err(TlsError::new(
            FLAG_TLS_CERT,
            &config.cert,
            format!("its first certificate cannot be parsed: {e}"),
        )),
    }
}

fn load_certificates(
    flag: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    const WHAT: &str = "PEM certificate (BEGIN CERTIFICATE)";
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect)
        .map_err(|e| TlsError::new(flag, path, pem_reason(&e, WHAT)))?;
    if certs.is_empty() {
        return Err(TlsError::new(flag, path, format!("holds no {WHAT}")));
    }
    Ok(certs)
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(FLAG_TLS_CLIENT_CA, path)? {
        roots.add(cert).map_err(|e| {
            TlsError::new(
                FLAG_TLS_CLIENT_CA,
                path,
                format!("not a usable CA certificate: {e}"),
            )
        })?;
    }
    Ok(roots)
}

/// Why a PEM file could not be read, in words.
fn pem_reason(e: &rustls_pki_types::pem::Error, what: &str) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::Io(io) => format!("cannot be read: {io}"),
        Error::NoItemsFound => format!("holds no {what}"),
        // The other causes quote bytes of the file, which may be a key: not repeated.
        Error::MissingSectionEnd { .. } => "is not valid PEM: a section has no END line".into(),
        Error::Base64Decode(_) => "is not valid PEM: a section is not valid base64".into(),
        _ => "is not valid PEM".into(),
    }
}
