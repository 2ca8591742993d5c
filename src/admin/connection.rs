//! The connection test (ThingWorx `TestConnection`, later `ValidateFlowSetup`): checks, for
//! real, each dependency fss needs to serve flows, and reports each failure with a stable
//! code and its catalogue message.
//!
//! `GET /api/management/connection-test` answers 200
//! `{"status": "ok", "message": "TestConnection completed successfully", "checks"}`, or 503
//! `{"status": "failed", "message", "checks", "failures": [{"code", "message", "detail"}]}`
//! where `message` is every failure as `[CODE] message`, joined by `"; "` (the same text
//! whichever service asks). `checks` lists what was checked: `{"name", "status": "ok" |
//! "failed", "code"}`.
//!
//! | code | when |
//! | --- | --- |
//! | `FLOW-KEY-03` | the keystore file cannot be read: absent, not permitted, not a regular file |
//! | `FLOW-KEY-04` | it is read but unusable: group or others may access it, it is not a keystore document, an alias does not open with its master key |
//! | `FLOW-KEY-01` | the alias `oauth-admin-key` is absent |
//! | `FLOW-KEY-02` | the alias `exchange-admin-key` is absent |
//! | `FLOW-DB-01` | the registry database does not take a write (locked, read-only) |
//! | `FLOW-DATA-01` | a probe file cannot be written, synced and removed in the data folder |
//! | `FLOW-OAUTH-03` | an OAuth provider that a mounted service uses is not loaded |
//! | `FLOW-OAUTH-02` | a token endpoint of those providers refuses the connection or does not answer within 5 s |
//! | `FLOW-OAUTH-01` | a token endpoint fails TLS or answers 5xx |
//!
//! The messages of the `FLOW-KEY` and `FLOW-OAUTH-01/02` codes are ThingWorx Flow's, word
//! for word (features T10), "ThingWorx" included, since callers match on them; the other
//! codes are fss's own and as stable. `detail` says in fss's words what is wrong; it
//! names files by their file name only and never holds a key, a secret or a credential.
//!
//! The keystore is re-read from disk on every test, not taken from the runtime's handle:
//! the test is for what the next start would find. Token endpoints are probed with one
//! `GET` each, without credentials (any answer below 500, or a 501, means reachable), each distinct
//! URL once, concurrently.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use super::Admin;
use crate::http::body::{self, ResBody};
use crate::http::client::{OutboundClient, OutboundError};
use crate::oauth::OAuth;
use crate::router::Snapshot;
use crate::store::keystore::{self, Fault, KeystoreFile, EXCHANGE_ADMIN_KEY, OAUTH_ADMIN_KEY};
use crate::store::Registry;

/// The message of a test without failures.
pub(crate) const SUCCESS_MESSAGE: &str = "TestConnection completed successfully";

/// The longest a token endpoint probe may take, connect included.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most token endpoints probed at once.
const MAX_CONCURRENT_PROBES: usize = 16;

/// A code of the catalogue with its fixed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Code {
    /// `FLOW-…-NN`.
    pub(crate) code: &'static str,
    /// The message, verbatim.
    pub(crate) message: &'static str,
}

/// `oauth-admin-key` is absent.
pub(crate) const KEY_01: Code = Code {
    code: "FLOW-KEY-01",
    message: "OAuth admin key not found in the ThingWorx KeyStore.",
};
/// `exchange-admin-key` is absent.
pub(crate) const KEY_02: Code = Code {
    code: "FLOW-KEY-02",
    message: "Exchange admin key not found in the ThingWorx KeyStore.",
};
/// The keystore file cannot be read.
pub(crate) const KEY_03: Code = Code {
    code: "FLOW-KEY-03",
    message: "Failed to get ThingWorx Flow keys from the ThingWorx KeyStore.",
};
/// The keystore file is read but unusable.
pub(crate) const KEY_04: Code = Code {
    code: "FLOW-KEY-04",
    message: "Failed to get ThingWorx Flow keys from the ThingWorx KeyStore.",
};
/// The registry database does not take a write.
pub(crate) const DB_01: Code = Code {
    code: "FLOW-DB-01",
    message: "Failed to write to the database. Check that the data folder's database is not \
              locked or read-only.",
};
/// The data folder does not take a file.
pub(crate) const DATA_01: Code = Code {
    code: "FLOW-DATA-01",
    message: "Failed to write to the data folder. Check its permissions and free space.",
};
/// A token endpoint fails TLS or answers 5xx.
pub(crate) const OAUTH_01: Code = Code {
    code: "FLOW-OAUTH-01",
    message: "Failed to connect to ThingWorx Flow OAuth service. Check ThingWorx logs for \
              more details.",
};
/// A token endpoint cannot be reached.
pub(crate) const OAUTH_02: Code = Code {
    code: "FLOW-OAUTH-02",
    message: "Failed to connect to ThingWorx Flow OAuth service. Check whether ThingWorx \
              Flow OAuth service is up and running.",
};
/// The code of a provider that a mounted service uses and that is not loaded; its message
/// names them ([`not_loaded_message`]).
pub(crate) const OAUTH_03: &str = "FLOW-OAUTH-03";

/// The message of [`OAUTH_03`].
fn not_loaded_message(connector: &str, provider: &str, service: &str) -> String {
    format!("The OAuth provider {connector}/{provider} that {service} uses is not loaded.")
}

/// The built-in aliases and the code of each one's absence.
const BUILTIN_CODES: [(&str, Code); 2] = [(OAUTH_ADMIN_KEY, KEY_01), (EXCHANGE_ADMIN_KEY, KEY_02)];

/// How one check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// The dependency works.
    Ok,
    /// It does not; a failure says why.
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
        }
    }
}

/// One thing the test checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    /// What was checked: `keystore`, `keystore:oauth-admin-key`, `database`,
    /// `dataFolder`, `oauthProvider:{connector}/{provider}`, `oauthTokenEndpoint:{url}`.
    pub(crate) name: String,
    /// How it went.
    pub(crate) status: Status,
    /// The code of its failure.
    pub(crate) code: Option<&'static str>,
}

/// One failure: its code, its catalogue message, and what fss found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// `FLOW-…-NN`.
    pub(crate) code: &'static str,
    /// The catalogue's message.
    pub(crate) message: String,
    /// What is wrong, in fss's words (file names only, never a secret).
    pub(crate) detail: String,
}

/// What a connection test found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// Every check, in the order run.
    pub(crate) checks: Vec<Check>,
    /// The failures, in the order found.
    pub(crate) failures: Vec<Failure>,
}

// === impl Report ===

impl Report {
    /// Whether nothing failed.
    pub(crate) fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// [`SUCCESS_MESSAGE`], or every failure as `[CODE] message`, joined by `"; "`.
    pub(crate) fn message(&self) -> String {
        if self.is_ok() {
            return SUCCESS_MESSAGE.to_owned();
        }
        let parts: Vec<String> = self
            .failures
            .iter()
            .map(|f| format!("[{}] {}", f.code, f.message))
            .collect();
        parts.join("; ")
    }

    /// The answer's body.
    pub(crate) fn to_json(&self) -> Value {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| match c.code {
                Some(code) => json!({"name": c.name, "status": c.status.as_str(), "code": code}),
                None => json!({"name": c.name, "status": c.status.as_str()}),
            })
            .collect();
        if self.is_ok() {
            return json!({"status": "ok", "message": self.message(), "checks": checks});
        }
        let failures: Vec<Value> = self
            .failures
            .iter()
            .map(|f| json!({"code": f.code, "message": f.message, "detail": f.detail}))
            .collect();
        json!({
            "status": "failed",
            "message": self.message(),
            "checks": checks,
            "failures": failures,
        })
    }

    fn ok(&mut self, name: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            status: Status::Ok,
            code: None,
        });
    }

    fn fail(&mut self, name: impl Into<String>, code: Code, detail: String) {
        self.fail_with(name, code.code, code.message.to_owned(), detail);
    }

    fn fail_with(
        &mut self,
        name: impl Into<String>,
        code: &'static str,
        message: String,
        detail: String,
    ) {
        let name = name.into();
        tracing::warn!(check = %name, code, detail = %detail, "Connection test check failed.");
        self.checks.push(Check {
            name,
            status: Status::Failed,
            code: Some(code),
        });
        self.failures.push(Failure {
            code,
            message,
            detail,
        });
    }

    fn extend(&mut self, other: Report) {
        self.checks.extend(other.checks);
        self.failures.extend(other.failures);
    }
}

// === the test ===

/// `GET /api/management/connection-test`: 200 when every check passes, else 503.
pub(super) async fn answer(admin: &Admin) -> Response<ResBody> {
    let report = report(admin).await;
    let status = if report.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    body::json_response(status, &report.to_json())
}

/// Runs every check of the connection test. Never fails: what does not work is in the
/// report. Bounded in time: the database waits about a second for a lock, each token
/// endpoint [`PROBE_TIMEOUT`].
pub(super) async fn report(admin: &Admin) -> Report {
    let uses = provider_uses(&admin.mounts.snapshot());
    let endpoints: BTreeSet<String> = uses.iter().flat_map(|u| u.token_urls.clone()).collect();
    let keystore = Arc::clone(&admin.keystore);
    let registry = Arc::clone(&admin.registry);
    let data_dir = admin.data_dir.clone();
    let oauth = Arc::clone(&admin.shared.oauth);
    let local = tokio::task::spawn_blocking(move || {
        let mut report = Report::default();
        check_keystore(&keystore, &mut report);
        check_database(&*registry, &mut report);
        check_data_folder(&data_dir, &mut report);
        check_providers_loaded(&oauth, &uses, &mut report);
        report
    });
    let probes = probe_token_endpoints(&admin.shared.outbound, endpoints);
    let (local, probes) = tokio::join!(local, probes);
    // The checks do not panic; if one did, it is a bug and surfaces as one.
    let mut report = local.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    report.extend(probes);
    check_event_broker(&mut report);
    report
}

/// The keystore file as it is on disk: readable, usable, its built-in aliases present.
/// The runtime's handle is opened first, so that the first start creates the file as it
/// would for the first secret; after that only the disk counts. Blocking.
fn check_keystore(handle: &KeystoreFile, report: &mut Report) {
    // A failure here is the file's, and `inspect` says what it is.
    let _ = handle.ensure_open();
    let inspection = match keystore::inspect(handle.path()) {
        Ok(i) => i,
        Err(Fault::Unreadable(detail)) => return report.fail("keystore", KEY_03, detail),
        Err(Fault::Unusable(detail)) => return report.fail("keystore", KEY_04, detail),
    };
    if inspection.broken.is_empty() {
        report.ok("keystore");
    } else {
        let detail = format!(
            "the alias{} {} of the keystore {} do{} not open with its master key",
            if inspection.broken.len() == 1 {
                ""
            } else {
                "es"
            },
            inspection.broken.join(", "),
            file_name(handle.path()),
            if inspection.broken.len() == 1 {
                "es"
            } else {
                ""
            },
        );
        report.fail("keystore", KEY_04, detail);
    }
    for (alias, code) in BUILTIN_CODES {
        let name = format!("keystore:{alias}");
        if inspection.holds(alias) {
            report.ok(name);
        } else {
            let what = keystore::builtin(alias).map_or("secrets", |b| b.seals);
            let detail = format!(
                "the keystore {} has no alias {alias}; fss does not recreate it, since {what} \
                 sealed with it would be lost: restore the keystore from a backup",
                file_name(handle.path())
            );
            report.fail(name, code, detail);
        }
    }
}

/// A write transaction on the registry, begun and rolled back. Blocking.
fn check_database(registry: &dyn Registry, report: &mut Report) {
    match registry.check_writable() {
        Ok(()) => report.ok("database"),
        Err(e) => {
            // The database's own words may name a path: they go to the log only.
            tracing::warn!(error = %e, "Connection test: the registry database takes no write.");
            report.fail(
                "database",
                DB_01,
                format!(
                    "{} did not take a write within {} s (locked by another connection, \
                     read-only, or failing); the server log has the database's words",
                    crate::store::sqlite::REGISTRY_FILE,
                    1
                ),
            );
        }
    }
}

/// A probe file created, written, synced and removed in the data folder. Blocking.
fn check_data_folder(data_dir: &Path, report: &mut Report) {
    let probe = data_dir.join(format!(".connection-test-{}", uuid::Uuid::new_v4()));
    let written = (|| {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&probe)?;
        f.write_all(b"fss connection test")?;
        f.sync_all()?;
        std::fs::remove_file(&probe)
    })();
    let _ = std::fs::remove_file(&probe);
    match written {
        Ok(()) => report.ok("dataFolder"),
        // An I/O error's text names no path.
        Err(e) => report.fail(
            "dataFolder",
            DATA_01,
            format!(
                "a probe file could not be written, synced and removed in the data folder: {e}"
            ),
        ),
    }
}

/// An OAuth provider as the mounted services use it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProviderUse {
    connector: String,
    provider: String,
    /// The first service (by name) that uses it.
    service: String,
    /// Every token endpoint it is used with.
    token_urls: BTreeSet<String>,
}

/// The OAuth providers the `http` processes of the mounted services authenticate with.
fn provider_uses(snapshot: &Snapshot) -> Vec<ProviderUse> {
    let mut services: Vec<_> = snapshot.services().collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let mut uses: BTreeMap<(String, String), ProviderUse> = BTreeMap::new();
    for service in services {
        for (_, spec) in service.definition.processes() {
            let Some(oauth) = spec
                .http
                .as_ref()
                .and_then(|h| h.auth.as_ref())
                .and_then(|a| a.oauth.as_ref())
            else {
                continue;
            };
            uses.entry((oauth.connector.clone(), oauth.provider.clone()))
                .or_insert_with(|| ProviderUse {
                    connector: oauth.connector.clone(),
                    provider: oauth.provider.clone(),
                    service: service.name.to_string(),
                    token_urls: BTreeSet::new(),
                })
                .token_urls
                .insert(oauth.token_url.clone());
        }
    }
    uses.into_values().collect()
}

/// Each used provider is in the OAuth provider store. Blocking (the store's first read).
fn check_providers_loaded(oauth: &OAuth, uses: &[ProviderUse], report: &mut Report) {
    for u in uses {
        let name = format!("oauthProvider:{}/{}", u.connector, u.provider);
        let message = not_loaded_message(&u.connector, &u.provider, &u.service);
        match oauth.credentials(&u.connector, &u.provider) {
            Ok(Some(_)) => report.ok(name),
            Ok(None) => report.fail_with(
                name,
                OAUTH_03,
                message,
                format!(
                    "load it with POST /api/oauth/configurations under connector {} and \
                     provider {}",
                    u.connector, u.provider
                ),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "Connection test: the OAuth provider store cannot be read.");
                report.fail_with(
                    name,
                    OAUTH_03,
                    message,
                    "the OAuth provider store cannot be read; the server log has the cause"
                        .to_owned(),
                );
            }
        }
    }
}

/// One `GET` to each token endpoint, concurrently, each within [`PROBE_TIMEOUT`].
async fn probe_token_endpoints(outbound: &OutboundClient, urls: BTreeSet<String>) -> Report {
    let mut results: Vec<(String, Result<(), ProbeFailure>)> = futures_util::stream::iter(urls)
        .map(|url| async move {
            let outcome = probe(outbound, &url).await;
            (url, outcome)
        })
        .buffer_unordered(MAX_CONCURRENT_PROBES)
        .collect()
        .await;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut report = Report::default();
    for (url, outcome) in results {
        let name = format!("oauthTokenEndpoint:{}", endpoint(&url));
        match outcome {
            Ok(()) => report.ok(name),
            Err(ProbeFailure { code, detail }) => report.fail(name, code, detail),
        }
    }
    report
}

/// Why a token endpoint is not reachable.
#[derive(Debug)]
struct ProbeFailure {
    code: Code,
    detail: String,
}

/// Probes one token endpoint: any answer below 500, or 501 (GET not implemented), is
/// reachable. No credentials are sent.
async fn probe(outbound: &OutboundClient, url: &str) -> Result<(), ProbeFailure> {
    let shown = endpoint(url);
    let fail = |code, detail| ProbeFailure { code, detail };
    let req = Request::get(url)
        .header(http::header::USER_AGENT, "fss-connection-test")
        .body(Full::new(Bytes::new()))
        .map_err(|_| {
            fail(
                OAUTH_01,
                format!("the token endpoint {shown} is not a usable URL"),
            )
        })?;
    let outcome = tokio::time::timeout(PROBE_TIMEOUT, outbound.send_streaming(req)).await;
    match outcome {
        Err(_) => Err(fail(
            OAUTH_02,
            format!(
                "the token endpoint {shown} did not answer within {} s",
                PROBE_TIMEOUT.as_secs()
            ),
        )),
        // 501 is a server that does not answer GET (a token endpoint may take POST only):
        // it is up, so it is reachable.
        Ok(Ok(resp))
            if resp.status().is_server_error() && resp.status() != StatusCode::NOT_IMPLEMENTED =>
        {
            Err(fail(
                OAUTH_01,
                format!("the token endpoint {shown} answered {}", resp.status()),
            ))
        }
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            let code = match e {
                OutboundError::Tls(_) | OutboundError::Unusable(_) => OAUTH_01,
                _ => OAUTH_02,
            };
            Err(fail(code, format!("the token endpoint {shown}: {e}")))
        }
    }
}

/// A token URL as a check names it: scheme, host, port and path; never user information
/// or a query, which could carry a credential.
fn endpoint(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => {
            let scheme = uri.scheme_str().unwrap_or("?");
            let host = uri.host().unwrap_or("?");
            let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{scheme}://{host}{port}{}", uri.path())
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// The connection to an event broker (`FLOW-RABBIT-01`: "Failed to connect to RabbitMQ.
/// Check whether the RabbitMQ service is running and is accessible."). No event channel
/// uses a broker yet; when one does, its connection is checked here, with that code and
/// message. Until then there is nothing to check, and nothing is reported.
fn check_event_broker(_report: &mut Report) {}

/// The file name of `path`, for details (never the folders above it).
fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::client::OutboundConfig;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A loopback HTTP server answering every request with `status_line` and no body.
    async fn answering(status_line: &'static str) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    assert!(
                        !String::from_utf8_lossy(&buf)
                            .to_ascii_lowercase()
                            .contains("authorization"),
                        "the probe sends no credentials"
                    );
                    let answer = format!(
                        "HTTP/1.1 {status_line}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = sock.write_all(answer.as_bytes()).await;
                });
            }
        });
        (format!("http://{addr}/oauth/token?tenant=x"), task)
    }

    /// A loopback URL where nothing listens.
    async fn closed_port() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}/token")
    }

    fn client() -> OutboundClient {
        OutboundClient::new(&OutboundConfig::default()).unwrap()
    }

    #[test]
    fn the_message_joins_each_failure_as_code_and_message() {
        let mut r = Report::default();
        r.ok("database");
        assert!(r.is_ok());
        assert_eq!(r.message(), "TestConnection completed successfully");
        assert_eq!(
            r.to_json(),
            json!({"status": "ok", "message": SUCCESS_MESSAGE,
                   "checks": [{"name": "database", "status": "ok"}]})
        );
        r.fail("keystore:oauth-admin-key", KEY_01, "gone".into());
        r.fail("keystore:exchange-admin-key", KEY_02, "gone too".into());
        assert!(!r.is_ok());
        assert_eq!(
            r.message(),
            "[FLOW-KEY-01] OAuth admin key not found in the ThingWorx KeyStore.; \
             [FLOW-KEY-02] Exchange admin key not found in the ThingWorx KeyStore."
        );
        let v = r.to_json();
        assert_eq!(v["status"], "failed");
        assert_eq!(v["checks"][1]["code"], "FLOW-KEY-01");
        assert_eq!(v["failures"][1]["detail"], "gone too");
        assert_eq!(
            v["failures"][0]["message"],
            "OAuth admin key not found in the ThingWorx KeyStore."
        );
    }

    #[test]
    fn the_catalogue_agrees_with_the_keystore_built_ins() {
        for (alias, code) in BUILTIN_CODES {
            assert_eq!(keystore::builtin(alias).unwrap().absent_code, code.code);
        }
        assert_eq!(
            KEY_03.message, KEY_04.message,
            "one message, two codes (T10)"
        );
        assert_ne!(KEY_03.code, KEY_04.code);
    }

    #[test]
    fn endpoints_are_shown_without_query_or_user_information() {
        assert_eq!(
            endpoint("https://user:pw@idp.example:8443/oauth/token?client_secret=s"),
            "https://idp.example:8443/oauth/token"
        );
        assert_eq!(endpoint("http://idp/t"), "http://idp/t");
    }

    #[tokio::test]
    async fn a_token_endpoint_is_reachable_when_it_answers_below_500() {
        // A server that implements only POST answers GET with 501: it is up.
        let (post_only, post_only_server) = answering("501 Not Implemented").await;
        let r = probe_token_endpoints(&client(), [post_only].into()).await;
        assert!(r.is_ok(), "{r:?}");
        post_only_server.abort();
        let (url, server) = answering("401 Unauthorized").await;
        let r = probe_token_endpoints(&client(), [url].into()).await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(r.checks.len(), 1);
        assert!(r.checks[0]
            .name
            .starts_with("oauthTokenEndpoint:http://127.0.0.1:"));
        assert!(!r.checks[0].name.contains("tenant"), "no query is shown");
        server.abort();
    }

    #[tokio::test]
    async fn a_token_endpoint_answering_5xx_is_oauth_01_and_a_closed_port_oauth_02() {
        let (failing, server) = answering("500 Internal Server Error").await;
        let closed = closed_port().await;
        let r = probe_token_endpoints(&client(), [failing, closed.clone()].into()).await;
        let codes: Vec<&str> = r.failures.iter().map(|f| f.code).collect();
        assert_eq!(codes.len(), 2, "{r:?}");
        assert!(codes.contains(&"FLOW-OAUTH-01") && codes.contains(&"FLOW-OAUTH-02"));
        let f01 = r
            .failures
            .iter()
            .find(|f| f.code == "FLOW-OAUTH-01")
            .unwrap();
        assert_eq!(f01.message, OAUTH_01.message);
        assert!(f01.detail.contains("500"), "{}", f01.detail);
        let f02 = r
            .failures
            .iter()
            .find(|f| f.code == "FLOW-OAUTH-02")
            .unwrap();
        assert_eq!(f02.message, OAUTH_02.message);
        assert!(f02.detail.contains(&endpoint(&closed)), "{}", f02.detail);
        server.abort();
    }

    #[tokio::test]
    async fn a_tls_failure_at_a_token_endpoint_is_oauth_01() {
        // https:// to a server that speaks plain HTTP at once: the handshake fails.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/token", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let r = probe_token_endpoints(&client(), [url].into()).await;
        assert_eq!(r.failures.len(), 1, "{r:?}");
        assert_eq!(r.failures[0].code, "FLOW-OAUTH-01", "{r:?}");
        assert!(r.failures[0].detail.contains("TLS"), "{r:?}");
        server.abort();
    }

    #[tokio::test]
    async fn a_token_endpoint_that_never_answers_is_oauth_02_after_5_s() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let started = std::time::Instant::now();
        let r = probe_token_endpoints(&client(), [url].into()).await;
        let took = started.elapsed();
        assert_eq!(r.failures.len(), 1, "{r:?}");
        assert_eq!(r.failures[0].code, "FLOW-OAUTH-02");
        assert!(r.failures[0].detail.contains("within 5 s"), "{r:?}");
        assert!(
            took >= PROBE_TIMEOUT && took < PROBE_TIMEOUT * 2,
            "{took:?}"
        );
        server.abort();
    }

    #[test]
    fn a_provider_that_is_not_loaded_is_oauth_03() {
        let dir = tempfile::tempdir().unwrap();
        let registry: Arc<dyn Registry> =
            Arc::new(crate::store::sqlite::SqliteRegistry::new(dir.path()));
        let keys = Arc::new(KeystoreFile::in_data_dir(dir.path()));
        let oauth = OAuth::new(registry, Arc::new(move || keys.key(OAUTH_ADMIN_KEY)));
        let uses = vec![ProviderUse {
            connector: "jira".into(),
            provider: "JIRA".into(),
            service: "Tickets".into(),
            token_urls: BTreeSet::new(),
        }];
        let mut r = Report::default();
        check_providers_loaded(&oauth, &uses, &mut r);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].code, "FLOW-OAUTH-03");
        assert_eq!(
            r.failures[0].message,
            "The OAuth provider jira/JIRA that Tickets uses is not loaded."
        );
        oauth
            .load(&json!({"jira": {"JIRA": {"CLIENT_ID": "id-1", "CLIENT_SECRET": "s-1"}}}))
            .unwrap();
        let mut r = Report::default();
        check_providers_loaded(&oauth, &uses, &mut r);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(r.checks[0].name, "oauthProvider:jira/JIRA");
    }
}
