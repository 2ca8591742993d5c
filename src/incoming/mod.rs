//! The incoming API: any REST client runs an action that opts in with `"api": {…}` by
//! POSTing plain JSON (issue 13, spec P1–P17; the auth header, the JSON paths of the
//! answer and the status URL are provisional, D10).
//!
//! Endpoints (names percent-encoded as in the URL, `My%20API`):
//!
//! - `POST /api/1/action/{service}/{action or alias}/trigger` — runs the action
//!   (`?timeout=ms` overrides its `timeoutMs`); only POST.
//! - `POST /api/1/action/{action}/trigger` — the legacy form, when the name is unique
//!   among the API actions of all services.
//! - `GET …/trigger/{processId}` — the poll URL of a run; only GET. Allowed to the user
//!   whose key started the run and to admins (an API key of a user holding
//!   `access-rest-api`, or admin Basic credentials); 404 to others. A run started
//!   anonymously is polled anonymously (its process id is the capability).
//!
//! A trigger: the action is found on the routing snapshot; the caller authenticates
//! (an API key unless `allowAnonymous`; then the caller is `System`); a `signature` is
//! verified over the raw body while it is read, before anything runs; the inputs are
//! bound ([`bind`]) and checked; an `Idempotency-Key` repeat is answered from the store;
//! then the run starts ([`runs`]) and is answered as [`answer`] describes. Every trigger
//! gets an execution id (`X-Execution-Id`) and an execution record (operation
//! `trigger`; tracked: `Caller`, `Mode`, `Process Id`, `Records`).

mod answer;
mod bind;
mod runs;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Method, Request, Response};
use hyper::body::Body as _;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::auth::signature::Verifier;
use crate::auth::Auth;
use crate::definition::{ApiDefinition, ApiMode};
use crate::error::{Error, Result};
use crate::execution::records::ExecutionRecord;
use crate::execution::{new_execution_id, ProcessProperties, RequestFields};
use crate::http::body::{ReqBody, ResBody};
use crate::http::header::EXECUTION_ID;
use crate::router::{Mounts, Service, Snapshot};
use crate::shared::Shared;
use crate::store::keystore::KeystoreFile;
use crate::store::runs::{RunRow, RunStore, FAILED, RUNNING};
use answer::Outcome;
use runs::KeysInFlight;

/// The URL prefix of the incoming API.
pub(crate) const PREFIX: &str = "/api/1/";
/// The prefix of the trigger URLs.
const ACTION_PREFIX: &str = "/api/1/action/";
/// The caller of anonymous triggers, in records and process properties (P9).
pub(crate) const ANONYMOUS_CALLER: &str = "System";
/// The header of an idempotent call.
pub(crate) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The header marking an answer replayed for an `Idempotency-Key` repeat.
pub(crate) const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The header naming the run of an answer that the action's outputs shaped.
pub(crate) const PROCESS_ID: HeaderName = HeaderName::from_static("x-process-id");
/// The longest `Idempotency-Key`, in bytes.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The incoming API of one runtime.
#[derive(Debug)]
pub(crate) struct Incoming {
    shared: Shared,
    mounts: Arc<Mounts>,
    auth: Arc<Auth>,
    keystore: Arc<KeystoreFile>,
    runs: Arc<dyn RunStore>,
    keys: KeysInFlight,
    /// When the runs past their retention were last purged (at most once an hour).
    purged: std::sync::Mutex<Option<Instant>>,
    /// Set once: the runs database was opened and checked.
    opened: OnceLock<()>,
}

/// Who is calling.
#[derive(Debug, Clone)]
struct Caller {
    /// The API key's user, or [`ANONYMOUS_CALLER`].
    user: Arc<str>,
    /// The user holds `access-rest-api`: may poll every run.
    is_admin: bool,
    /// Authenticated by an API key (its `Authorization` is not passed to the process).
    by_key: bool,
}

impl Caller {
    fn anonymous() -> Self {
        Caller {
            user: Arc::from(ANONYMOUS_CALLER),
            is_admin: false,
            by_key: false,
        }
    }
}

/// What a trigger URL names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    /// `…/{service}/{action}/trigger` or, with `service` None, the legacy form.
    Trigger {
        service: Option<String>,
        action: String,
        /// The path up to `/trigger`, as sent, for `Location`.
        base: &'a str,
    },
    /// `…/trigger/{processId}`.
    Poll {
        service: Option<String>,
        action: String,
        process_id: String,
    },
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The index in [`Service::stats`] of action `index`: the fixed slots, then one per action.
fn action_slot(service: &Service, index: usize) -> usize {
    service.stats.len() - service.actions.len() + index
}

/// Parses a path under `/api/1/action/`.
fn target(path: &str) -> Option<Target<'_>> {
    let rest = path.strip_prefix(ACTION_PREFIX)?;
    let trimmed = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = trimmed.split('/').collect();
    let base = &path[..ACTION_PREFIX.len() + trimmed.len()];
    match segs.as_slice() {
        [s, a, "trigger"] => Some(Target::Trigger {
            service: Some(decode(s)),
            action: decode(a),
            base,
        }),
        [a, "trigger"] => Some(Target::Trigger {
            service: None,
            action: decode(a),
            base,
        }),
        [s, a, "trigger", p] => Some(Target::Poll {
            service: Some(decode(s)),
            action: decode(a),
            process_id: decode(p),
        }),
        [a, "trigger", p] => Some(Target::Poll {
            service: None,
            action: decode(a),
            process_id: decode(p),
        }),
        _ => None,
    }
}

/// The API action of `service` named `name` (its name or its `alias`).
fn api_action(service: &Service, name: &str) -> Option<usize> {
    service.definition.message_actions.iter().position(|a| {
        a.api
            .as_ref()
            .is_some_and(|api| a.name == name || api.alias.as_deref() == Some(name))
    })
}

/// Finds the action a trigger URL names on `snapshot`.
///
/// # Errors
///
/// 404 for an unknown service, an action without `api`, or a legacy name that no or
/// several services have.
fn find(snapshot: &Snapshot, service: Option<&str>, action: &str) -> Result<(Arc<Service>, usize)> {
    match service {
        Some(name) => {
            let s = snapshot
                .service(name)
                .ok_or_else(|| Error::not_found(format!("no service '{name}' is mounted")))?;
            let i = api_action(s, action).ok_or_else(|| {
                Error::not_found(format!(
                    "service '{name}' has no action '{action}' open to the incoming API \
                     (an action opts in with \"api\": {{}})"
                ))
            })?;
            Ok((Arc::clone(s), i))
        }
        None => {
            let mut found = snapshot
                .services()
                .filter_map(|s| api_action(s, action).map(|i| (Arc::clone(s), i)));
            let first = found.next().ok_or_else(|| {
                Error::not_found(format!(
                    "no service has an action '{action}' open to the incoming API"
                ))
            })?;
            if found.next().is_some() {
                return Err(Error::not_found(format!(
                    "several services have an API action '{action}': use \
                     /api/1/action/{{service}}/{{action}}/trigger"
                )));
            }
            Ok(first)
        }
    }
}

impl Incoming {
    /// The incoming API over the runtime's parts; its runs database (`runs.db` in the
    /// data folder) opens on first use.
    pub(crate) fn new(
        shared: Shared,
        mounts: Arc<Mounts>,
        auth: Arc<Auth>,
        keystore: Arc<KeystoreFile>,
        runs: Arc<dyn RunStore>,
    ) -> Self {
        Incoming {
            shared,
            mounts,
            auth,
            keystore,
            runs,
            keys: KeysInFlight::default(),
            purged: std::sync::Mutex::new(None),
            opened: OnceLock::new(),
        }
    }

    /// Answers a request under [`PREFIX`]. Never fails: errors become their answers.
    pub(crate) async fn handle(&self, req: Request<ReqBody>) -> Response<ResBody> {
        let path = req.uri().path().to_owned();
        let Some(target) = target(&path) else {
            let e = Error::not_found(
                "no such incoming API URL: POST /api/1/action/{service}/{action}/trigger",
            );
            return answer::problem(&e, "");
        };
        match target {
            Target::Trigger {
                service,
                action,
                base,
            } => self.trigger(req, service.as_deref(), &action, base).await,
            Target::Poll {
                service,
                action,
                process_id,
            } => {
                let r = self
                    .poll(&req, service.as_deref(), &action, &process_id)
                    .await;
                r.unwrap_or_else(|e| answer::problem(&e, ""))
            }
        }
    }

    /// Authenticates the caller of an action with `api`.
    ///
    /// # Errors
    ///
    /// 401 without a valid API key (unless the action allows anonymous callers); 403 when
    /// the key's user lacks the privileges.
    async fn caller(&self, api: &ApiDefinition, headers: &http::HeaderMap) -> Result<Caller> {
        if api.allow_anonymous {
            return Ok(Caller::anonymous());
        }
        self.key_caller(headers).await
    }

    /// The caller an API key names.
    async fn key_caller(&self, headers: &http::HeaderMap) -> Result<Caller> {
        let c = self.auth.authenticate_api_key(headers).await?;
        Ok(Caller {
            user: c.user,
            is_admin: c.is_admin,
            by_key: true,
        })
    }

    /// Whether `headers` carry admin Basic credentials.
    async fn is_admin_basic(&self, headers: &http::HeaderMap) -> bool {
        let basic = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "));
        if !basic {
            return false;
        }
        match self.auth.open().await {
            Ok(d) => d.authenticate_admin(headers).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Purges runs past their retention, at most once an hour, off the async workers.
    fn maybe_purge(&self) {
        let due = {
            let mut last = self.purged.lock().expect("purge lock is never poisoned");
            let due = last.is_none_or(|t| t.elapsed() > Duration::from_secs(3600));
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if !due {
            return;
        }
        let store = Arc::clone(&self.runs);
        let retention = self.shared.config.api_retention.as_millis() as i64;
        tokio::task::spawn_blocking(move || {
            match store.purge(crate::clock::now_millis() - retention) {
                Ok(n) if n > 0 => tracing::info!(purged = n, "Runs past their retention purged."),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "Runs could not be purged."),
            }
        });
    }

    /// `POST …/trigger`.
    async fn trigger(
        &self,
        req: Request<ReqBody>,
        service: Option<&str>,
        action: &str,
        base: &str,
    ) -> Response<ResBody> {
        let started = Instant::now();
        let exec_id = new_execution_id();
        let snapshot = self.mounts.snapshot();
        let found = find(&snapshot, service, action);
        let mut notes = Notes::default();
        let (mut resp, svc) = match found {
            Err(e) => (answer::problem(&e, &exec_id), None),
            Ok((svc, index)) => {
                let r = self
                    .run_trigger(req, &svc, index, base, &exec_id, &mut notes)
                    .instrument(crate::execution::span(&exec_id, &svc.name))
                    .await;
                (
                    r.unwrap_or_else(|e| answer::problem(&e, &exec_id)),
                    Some((svc, index)),
                )
            }
        };
        if let Ok(v) = HeaderValue::from_str(&exec_id) {
            resp.headers_mut().insert(EXECUTION_ID, v);
        }
        let elapsed = started.elapsed();
        if let Some((svc, index)) = svc {
            if let Some(stats) = svc.stats.get(action_slot(&svc, index)) {
                stats.record(resp.status().as_u16(), elapsed);
            }
            let records = &self.shared.records;
            if records.is_enabled() {
                let mut record = ExecutionRecord::new(
                    exec_id,
                    Arc::clone(&svc.name),
                    "trigger",
                    Arc::clone(&svc.actions[index].name),
                    SystemTime::now() - elapsed,
                    elapsed,
                    resp.status().as_u16(),
                    resp.status() == http::StatusCode::ACCEPTED,
                );
                record.tracked = notes.tracked;
                records.push(record);
            }
        }
        resp
    }

    /// The trigger of action `index` of `svc`, once found.
    async fn run_trigger(
        &self,
        req: Request<ReqBody>,
        svc: &Arc<Service>,
        index: usize,
        base: &str,
        exec_id: &str,
        notes: &mut Notes,
    ) -> Result<Response<ResBody>> {
        if req.method() != Method::POST {
            return Err(Error::MethodNotAllowed { allow: "POST" });
        }
        let def = svc.action_definition(index);
        let api = def.api.clone().unwrap_or_default();
        let query = bind::query_pairs(req.uri().query());
        let wait_ms = bind::timeout_override(&query)?.unwrap_or_else(|| api.timeout_ms());
        let caller = self.caller(&api, req.headers()).await?;
        notes.track("Caller", &caller.user);
        notes.track(
            "Mode",
            match api.mode {
                ApiMode::Sync => "sync",
                ApiMode::Async => "async",
            },
        );
        let idempotency = idempotency_key(req.headers())?;
        // Admission before the body: a refused call costs no body read.
        let admitted = svc.actions[index].admission.admit().await?;
        let (parts, body) = req.into_parts();
        let limit = def
            .max_request_bytes
            .unwrap_or(self.shared.config.max_request_bytes);
        let bytes = self
            .read_verified(&api, &parts.headers, body, limit)
            .await?;
        let bound = bind::bind(def, &svc.definition, &parts, &query, &bytes)?;

        let mut properties = ProcessProperties::of_request(
            RequestFields {
                pass_headers: [&svc.definition.pass_headers, &def.pass_headers],
                ..RequestFields::default()
            },
            &parts,
            &svc.definition.configuration_values,
            None,
        )?;
        properties.user = Some(caller.user.to_string());
        if caller.by_key {
            // The key is the caller's secret for fss, not the process's.
            properties.authorization = None;
        }

        self.open_store().await?;
        self.maybe_purge();
        let mode = match api.mode {
            ApiMode::Sync => "sync",
            ApiMode::Async => "async",
        };
        let mut row = RunRow {
            process_id: uuid::Uuid::new_v4().to_string(),
            service: svc.name.to_string(),
            action: def.name.clone(),
            user: caller.user.to_string(),
            mode: mode.to_owned(),
            status: RUNNING.to_owned(),
            started_ms: crate::clock::now_millis(),
            finished_ms: None,
            answer: None,
            idempotency_key: None,
            body_sha256: None,
        };
        let location = format!("{base}/{}", row.process_id);
        // The row is written before the run when a repeat or a poll may look for it
        // while it runs; a sync call without a key writes it only when it turns async.
        let mut stored = false;
        if let Some(key) = idempotency {
            let hash = hex(&Sha256::digest(&bytes));
            let scope = format!(
                "{}\u{0}{}\u{0}{}\u{0}{key}",
                caller.user, svc.name, def.name
            );
            let _guard = self.keys.lock(scope).await;
            let since =
                crate::clock::now_millis() - self.shared.config.idempotency_ttl.as_millis() as i64;
            let found = {
                let store = Arc::clone(&self.runs);
                let (u, s, a, k) = (
                    caller.user.to_string(),
                    svc.name.to_string(),
                    def.name.clone(),
                    key.clone(),
                );
                runs::blocking(move || store.find_idempotent(&u, &s, &a, &k, since)).await?
            };
            if let Some(previous) = found {
                if previous.body_sha256.as_deref() != Some(hash.as_str()) {
                    return Err(Error::Unprocessable(
                        format!(
                            "Idempotency-Key '{key}' was used with another request body; \
                             send a new key for a new request"
                        )
                        .into(),
                    ));
                }
                notes.track("Process Id", &previous.process_id);
                notes.track("Replayed", "true");
                let mut resp = replay(&previous, base);
                resp.headers_mut()
                    .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
                return Ok(resp);
            }
            row.idempotency_key = Some(key);
            row.body_sha256 = Some(hash);
            runs::record_start(Arc::clone(&self.runs), row.clone()).await?;
            stored = true;
        } else if api.mode == ApiMode::Async {
            runs::record_start(Arc::clone(&self.runs), row.clone()).await?;
            stored = true;
        }
        notes.track("Process Id", &row.process_id);
        let count = bound.records.len();
        let is_array = bound.is_array;
        let mut run = runs::start(
            Arc::clone(svc),
            index,
            bound.records,
            bound.is_array,
            properties,
            exec_id.to_owned(),
            admitted,
        );
        let wait = Duration::from_millis(wait_ms);
        let ended = tokio::select! {
            biased;
            o = &mut run => Some(o),
            () = tokio::time::sleep(wait) => None,
        };
        if let Some(outcome) = ended {
            notes.outcomes(&outcome, count, is_array);
            let json = outcome.to_json();
            let store = Arc::clone(&self.runs);
            let pid = row.process_id.clone();
            if stored {
                runs::record_end(store, pid.clone(), &outcome).await;
            }
            // A sync call answered in time without an Idempotency-Key has its result in
            // the answer and nothing to poll: it costs the store nothing.
            return Ok(answer::finished(&pid, &json));
        }
        let prefer_async = api.mode == ApiMode::Async || prefers_async(&parts.headers);
        if !prefer_async {
            drop(run);
            let e = Error::GatewayTimeout(
                format!(
                    "the action did not finish within {wait_ms} ms and was stopped; send \
                     'Prefer: respond-async' to have it continue and poll for its result"
                )
                .into(),
            );
            if stored {
                let failed = Outcome::Single(Err(e.to_string()));
                runs::record_end(Arc::clone(&self.runs), row.process_id.clone(), &failed).await;
            }
            return Err(e);
        }
        if !stored {
            runs::record_start(Arc::clone(&self.runs), row.clone()).await?;
        }
        self.continue_run(run, row.process_id.clone(), exec_id.to_owned());
        Ok(answer::running(&row.process_id, &location))
    }

    /// Lets `run` go on past the answer, up to the wait timeout, and stores its end.
    fn continue_run(&self, run: runs::RunFuture, process_id: String, exec_id: String) {
        let store = Arc::clone(&self.runs);
        let records = Arc::clone(&self.shared.records);
        let wait = self.shared.config.wait_timeout;
        tokio::spawn(
            async move {
                let outcome = match tokio::time::timeout(wait, run).await {
                    Ok(o) => o,
                    Err(_) => Outcome::Single(Err(format!(
                        "the action did not finish within the wait timeout of {} s and was stopped",
                        wait.as_secs()
                    ))),
                };
                let ok = outcome.run_status() != FAILED;
                runs::record_end(store, process_id, &outcome).await;
                records.update(&exec_id, |r| {
                    r.status = if ok { "succeeded" } else { "failed" }
                });
            }
            .in_current_span(),
        );
    }

    /// Opens the runs database once, off the async workers.
    async fn open_store(&self) -> Result<()> {
        if self.opened.get().is_some() {
            return Ok(());
        }
        let store = Arc::clone(&self.runs);
        runs::blocking(move || store.get("").map(drop)).await?;
        let _ = self.opened.set(());
        Ok(())
    }

    /// Reads the body up to `limit`, verifying the action's signature over it when it has
    /// one (the header is checked before a byte is read).
    async fn read_verified(
        &self,
        api: &ApiDefinition,
        headers: &http::HeaderMap,
        mut body: ReqBody,
        limit: u64,
    ) -> Result<Bytes> {
        if let Some(len) = crate::http::body::content_length(headers) {
            if len > limit {
                return Err(Error::PayloadTooLarge { limit });
            }
        }
        let mut verifier = match &api.signature {
            Some(def) => Some(self.verifier(def, headers).await?),
            None => None,
        };
        let mut buf = BytesMut::with_capacity(body.size_hint().lower().min(limit) as usize);
        while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
            let frame = frame.map_err(crate::http::body::read_error)?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if (buf.len() + data.len()) as u64 > limit {
                return Err(Error::PayloadTooLarge { limit });
            }
            if let Some(v) = verifier.as_mut() {
                v.update(&data);
            }
            buf.extend_from_slice(&data);
        }
        if let Some(v) = verifier {
            v.finish()?;
        }
        Ok(buf.freeze())
    }

    /// The verifier of signature `def`, its secret from the keystore.
    async fn verifier(
        &self,
        def: &crate::definition::SignatureDefinition,
        headers: &http::HeaderMap,
    ) -> Result<Verifier> {
        let keystore = Arc::clone(&self.keystore);
        let alias = def.secret_alias.clone();
        let secret = runs::blocking(move || keystore.value(&alias)).await?;
        let Some(secret) = secret else {
            tracing::error!(alias = %def.secret_alias, "The signature secret of an action is not in the keystore.");
            return Err(Error::internal(
                "the signature secret of this action is not set",
            ));
        };
        Verifier::new(def, headers, &secret, crate::clock::now_millis() / 1000)
    }

    /// `GET …/trigger/{processId}`.
    async fn poll(
        &self,
        req: &Request<ReqBody>,
        service: Option<&str>,
        action: &str,
        process_id: &str,
    ) -> Result<Response<ResBody>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Err(Error::MethodNotAllowed { allow: "GET" });
        }
        let unknown = || Error::not_found(format!("no run '{process_id}' of this action"));
        let (svc, index) = find(&self.mounts.snapshot(), service, action)?;
        let def = svc.action_definition(index);
        let api = def.api.clone().unwrap_or_default();
        let has_auth = req.headers().contains_key(http::header::AUTHORIZATION);
        let admin = self.is_admin_basic(req.headers()).await;
        let caller = if admin {
            None
        } else if has_auth || !api.allow_anonymous {
            Some(self.key_caller(req.headers()).await?)
        } else {
            Some(Caller::anonymous())
        };
        self.open_store().await?;
        let store = Arc::clone(&self.runs);
        let id = process_id.to_owned();
        let row = runs::blocking(move || store.get(&id))
            .await?
            .ok_or_else(unknown)?;
        if row.service != *svc.name || row.action != def.name {
            return Err(unknown());
        }
        let allowed = match &caller {
            None => true,
            Some(c) => c.is_admin || *c.user == row.user,
        };
        if !allowed {
            return Err(unknown());
        }
        Ok(answer::poll(&row))
    }
}

/// The answer to a repeat of the call that started `previous`.
fn replay(previous: &RunRow, base: &str) -> Response<ResBody> {
    match previous.answer.as_deref() {
        Some(a) if previous.status != RUNNING => {
            let v = serde_json::from_str(a).unwrap_or_default();
            answer::finished(&previous.process_id, &v)
        }
        _ => answer::running(
            &previous.process_id,
            &format!("{base}/{}", previous.process_id),
        ),
    }
}

/// The `Idempotency-Key` of a call, when it sent one.
///
/// # Errors
///
/// 400 for an empty, over-long or non-text key.
fn idempotency_key(headers: &http::HeaderMap) -> Result<Option<String>> {
    let Some(v) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY => {
            Ok(Some(k.trim().to_owned()))
        }
        _ => Err(Error::bad_request(format!(
            "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY} bytes of visible text"
        ))),
    }
}

/// Whether the caller sent `Prefer: respond-async` (RFC 7240).
fn prefers_async(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::HeaderName::from_static("prefer"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// What a trigger learns for its execution record.
#[derive(Debug, Default)]
struct Notes {
    tracked: std::collections::BTreeMap<String, String>,
}

impl Notes {
    fn track(&mut self, name: &str, value: &str) {
        self.tracked.insert(name.to_owned(), value.to_owned());
    }

    /// The per-record outcomes, each failure with its message: `0 Success, 1 Fail: …`
    /// (the record caps the text), so that the console shows why a record failed.
    fn outcomes(&mut self, outcome: &Outcome, count: usize, is_array: bool) {
        let text = match outcome {
            Outcome::Single(Ok(_)) => "Success".to_owned(),
            Outcome::Single(Err(m)) => format!("Fail: {m}"),
            Outcome::Array(rs) => rs
                .iter()
                .enumerate()
                .map(|(i, r)| match r {
                    Ok(_) => format!("{i} Success"),
                    Err(m) => format!("{i} Fail: {m}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        let _ = (count, is_array);
        self.track("Records", &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_urls_parse() {
        assert_eq!(
            target("/api/1/action/Api%20Desk/Run%20Job/trigger"),
            Some(Target::Trigger {
                service: Some("Api Desk".into()),
                action: "Run Job".into(),
                base: "/api/1/action/Api%20Desk/Run%20Job/trigger",
            })
        );
        assert_eq!(
            target("/api/1/action/Echo/trigger/"),
            Some(Target::Trigger {
                service: None,
                action: "Echo".into(),
                base: "/api/1/action/Echo/trigger",
            })
        );
        assert_eq!(
            target("/api/1/action/S/A/trigger/p-1"),
            Some(Target::Poll {
                service: Some("S".into()),
                action: "A".into(),
                process_id: "p-1".into(),
            })
        );
        assert!(target("/api/1/action/S/A/run").is_none());
        assert!(target("/api/1/other").is_none());
    }

    #[test]
    fn prefer_respond_async_is_found_among_preferences() {
        let mut h = http::HeaderMap::new();
        h.insert("prefer", HeaderValue::from_static("wait=10, respond-async"));
        assert!(prefers_async(&h));
        assert!(!prefers_async(&http::HeaderMap::new()));
    }
}
