//! Flow listeners (B27): `POST /fs/{service}/listener` registrations, called back when
//! their event occurs.
//!
//! A service that declares `listenableEvents` mounts `/listener` and describes itself
//! with `providesListening`. Flow registers a ListenerServiceRequest there: the event to
//! listen for (`listenType`, one of those keys), the object it is about
//! (`valueForListening`) and where to say it happened (`callbackUri`). The registration
//! is written to `listeners.db` before the engine is answered 204, so it outlives a
//! restart; it is an execution record (operation `listener`, status `waiting` until it
//! fires).
//!
//! When an event of that key is sent ([`notify`], from every path an event takes), each
//! registration whose service is still mounted and still lists the key, whose tenant is
//! the event's (a registration without a tenant matches any), and whose object matches
//! the event's correlation parameters is called back: a ListenerServiceResponse echoing
//! the registration's token, tenant, culture and annotations, with `listeningEventValue`
//! the registered value whose properties named after payload fields carry the payload's
//! values. The callback goes through the runtime's callback client, with the headers,
//! retries and counters of WAIT callbacks.
//!
//! A registration fires **once**: it is taken out when its event matches and removed for
//! good once the callback was delivered or given up. Flow registers again each time a
//! state listens again; a new registration of the same service, state and listen type
//! replaces the earlier one. Bounds: at most [`MAX_PER_SERVICE`] registrations wait per
//! service (past it, 400), each keeps at most [`MAX_KEPT_BYTES`] (past it, 413), and each
//! expires after the runtime's wait timeout (`--wait-timeout`). No credential is stored: the `Authorization` header of the
//! registration is not kept, and its callback carries none.
//!
//! Several instances: the runtime keeps its registrations in an index loaded once from
//! the store, which is all there is to know when the store is its own (SQLite). When other
//! instances share the store (PostgreSQL), the index is read again before each event is
//! matched and before a registration is counted against the bound, so a registration
//! made through any instance fires for an event sent to any other; and each registration
//! an event matches is claimed in the store before its callback goes out, so that it fires
//! once even when two instances match it at the same moment.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::{Map, Value};
use tokio::sync::OnceCell;
use tracing::Instrument;

use super::model::EventModel;
use super::{EventDefinition, Events};
use crate::clock::now_millis;
use crate::error::{Error, Result};
use crate::execution::records::CallbackRecord;
use crate::execution::{new_execution_id, CallbackOutcome, CallbackTarget};
use crate::http::body::{self, Blank, ReqBody, ResBody};
use crate::operation::{self, Notes};
use crate::protocol::{Culture, EngineValue, ListenerServiceRequest, ListenerServiceResponse};
use crate::router::{Mounts, OperationKind, Route, Service};
use crate::shared::Shared;
use crate::store::listeners::{ListenerRow, ListenerStore};

/// The most registrations that wait on one service; one more is refused with 400.
pub(crate) const MAX_PER_SERVICE: usize = 10_000;
/// The most JSON one registration keeps (its token, culture, annotations and
/// `valueForListening`); a larger one is refused with 413. With [`MAX_PER_SERVICE`] it
/// bounds what the waiting listeners of a service hold.
pub(crate) const MAX_KEPT_BYTES: usize = 64 << 10;

/// The registered listeners of a runtime; cheap to clone (the deliveries hold one).
#[derive(Debug, Clone)]
pub(super) struct Listeners {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn ListenerStore>,
    /// Every waiting registration by id, loaded from the store on first use.
    index: OnceCell<Mutex<HashMap<String, Arc<Registration>>>>,
    /// Held while a registration is checked against the bound and written, so that the
    /// bound is exact.
    writing: tokio::sync::Mutex<()>,
    /// The most registrations that wait on one service: [`MAX_PER_SERVICE`] (tests
    /// lower it).
    per_service: AtomicUsize,
}

/// One waiting registration, its JSON columns parsed.
#[derive(Debug)]
struct Registration {
    row: ListenerRow,
    culture: Option<Culture>,
    annotations: Option<BTreeMap<String, String>>,
    value: Option<EngineValue>,
}

impl Registration {
    /// The registration of a stored row; JSON columns that do not parse read as absent.
    fn of_row(row: ListenerRow) -> Self {
        fn parse<T: serde::de::DeserializeOwned>(text: Option<&str>) -> Option<T> {
            serde_json::from_str(text?).ok()
        }
        Registration {
            culture: parse(row.culture.as_deref()),
            annotations: parse(row.annotations.as_deref()),
            value: parse(Some(&row.value)),
            row,
        }
    }
}

impl Listeners {
    /// The listeners kept in `store` (`listeners.db` under the data folder, every write
    /// synced: they are few and each is a promise to Flow); nothing is opened until
    /// needed.
    pub(super) fn with_store(store: Arc<dyn ListenerStore>) -> Self {
        Listeners {
            inner: Arc::new(Inner {
                store,
                index: OnceCell::new(),
                writing: tokio::sync::Mutex::new(()),
                per_service: AtomicUsize::new(MAX_PER_SERVICE),
            }),
        }
    }

    /// The waiting registrations, loaded from the store on first use (a load that fails
    /// is tried again by the next caller). When other instances share the store, they are
    /// read again at every call: a registration made through another instance is seen,
    /// and one another instance fired is gone.
    async fn index(&self) -> Result<&Mutex<HashMap<String, Arc<Registration>>>> {
        let mut loaded = false;
        let index = self
            .inner
            .index
            .get_or_try_init(|| async {
                loaded = true;
                let rows = self.load().await?;
                let index = rows
                    .into_iter()
                    .map(|r| (r.id.clone(), Arc::new(Registration::of_row(r))))
                    .collect();
                Ok::<_, Error>(Mutex::new(index))
            })
            .await?;
        if self.inner.store.is_shared() && !loaded {
            let rows = self.load().await?;
            let mut index = lock(index);
            let mut known = std::mem::take(&mut *index);
            index.extend(rows.into_iter().map(|r| {
                // A registration already parsed is kept as it is (a row never changes).
                let parsed = known
                    .remove(&r.id)
                    .unwrap_or_else(|| Arc::new(Registration::of_row(r)));
                (parsed.row.id.clone(), parsed)
            }));
        }
        Ok(index)
    }

    /// Every waiting registration of the store.
    async fn load(&self) -> Result<Vec<ListenerRow>> {
        let store = Arc::clone(&self.inner.store);
        blocking(move || store.load(now_millis())).await
    }

    /// Of the registrations `fired` took out of the index, those this instance may fire:
    /// all of them when the store is this runtime's alone, else those the store lets it
    /// claim (another instance may have taken one for the same event, or another one).
    async fn claim(&self, fired: Vec<Arc<Registration>>) -> Vec<Arc<Registration>> {
        if fired.is_empty() || !self.inner.store.is_shared() {
            return fired;
        }
        let store = Arc::clone(&self.inner.store);
        let now = now_millis();
        let claimed = blocking(move || {
            let mut claimed = Vec::with_capacity(fired.len());
            for r in fired {
                match store.claim(&r.row.id, now) {
                    Ok(true) => claimed.push(r),
                    Ok(false) => {}
                    // Unclaimed, it stays in the store: a later event may fire it.
                    Err(e) => {
                        tracing::error!(error = %e, id = %r.row.id, "A listener could not be claimed.");
                    }
                }
            }
            Ok(claimed)
        })
        .await;
        claimed.unwrap_or_default()
    }

    /// Keeps `row`: in the store, then in the index, replacing a registration of the
    /// same service, state and listen type, and dropping the service's expired ones.
    ///
    /// # Errors
    ///
    /// 400 when the service already has [`MAX_PER_SERVICE`] waiting; the store failed.
    async fn add(&self, row: ListenerRow) -> Result<()> {
        let _writing = self.inner.writing.lock().await;
        let index = self.index().await?;
        let now = now_millis();
        let (waiting, expired) = {
            let index = lock(index);
            let mut waiting = 0;
            let mut expired = Vec::new();
            for r in index.values().filter(|r| r.row.service == row.service) {
                if r.row.expires_ms <= now {
                    expired.push(r.row.id.clone());
                } else if !replaces(&row, &r.row) {
                    waiting += 1;
                }
            }
            (waiting, expired)
        };
        let most = self.inner.per_service.load(Ordering::Relaxed);
        if waiting >= most {
            return Err(Error::bad_request(format!(
                "the service {} already has {most} listeners waiting, the most it keeps; a \
                 listener waits until its event is sent or the wait timeout passes",
                row.service
            )));
        }
        let store = Arc::clone(&self.inner.store);
        let written = row.clone();
        let gone = expired.clone();
        blocking(move || {
            for id in &gone {
                store.remove(id)?;
            }
            store.insert(&written)
        })
        .await?;
        let mut index = lock(index);
        for id in &expired {
            index.remove(id);
        }
        index.retain(|_, r| !replaces(&row, &r.row));
        index.insert(row.id.clone(), Arc::new(Registration::of_row(row)));
        Ok(())
    }

    /// Takes out of the index every registration `wanted` accepts, and every expired one;
    /// returns the first ones. Each registration is taken once, so it fires once.
    fn take(
        index: &Mutex<HashMap<String, Arc<Registration>>>,
        now: i64,
        wanted: impl Fn(&Registration) -> bool,
    ) -> (Vec<Arc<Registration>>, Vec<String>) {
        let mut index = lock(index);
        let mut fired = Vec::new();
        let mut expired = Vec::new();
        index.retain(|id, r| {
            if r.row.expires_ms <= now {
                expired.push(id.clone());
                false
            } else if wanted(r) {
                fired.push(Arc::clone(r));
                false
            } else {
                true
            }
        });
        (fired, expired)
    }

    /// Removes `ids` from the store; failures are logged (the rows expire anyway).
    async fn forget(&self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let store = Arc::clone(&self.inner.store);
        if let Err(e) = blocking(move || ids.iter().try_for_each(|id| store.remove(id))).await {
            tracing::warn!(error = %e, "Fired or expired listeners could not be removed.");
        }
    }
}

/// Whether `new` replaces `old`: the same service, Flow state and listen type.
fn replaces(new: &ListenerRow, old: &ListenerRow) -> bool {
    new.state_id.is_some()
        && new.state_id == old.state_id
        && new.service == old.service
        && new.listen_type == old.listen_type
}

/// The guard of the index; a panic while it was held left it usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs a blocking store call off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("a listener store call panicked: {e}")))?
}

/// Registers one listener: answers 204 once it is kept, or the ServiceProblem of what was
/// wrong; counted and recorded as the service's `listener` execution.
pub(super) async fn register(
    events: &Events,
    service: Arc<Service>,
    req: Request<ReqBody>,
) -> Response<ResBody> {
    let started = Instant::now();
    let exec_id = new_execution_id();
    let path = req.uri().path().to_owned();
    let span = crate::execution::span(&exec_id, &service.name);
    let accepted = accept(events, &service, &exec_id, req)
        .instrument(span.clone())
        .await;
    let (resp, notes) = match accepted {
        Ok(listen_type) => {
            let mut resp = Response::new(body::full(Bytes::new()));
            *resp.status_mut() = StatusCode::NO_CONTENT;
            let notes = Notes {
                name: Some(Arc::from(listen_type)),
                waiting: true,
                ..Notes::default()
            };
            (resp, notes)
        }
        Err(e) => (
            span.in_scope(|| e.into_execution_problem(&path, Some(&exec_id))),
            Notes::default(),
        ),
    };
    let route = Route::of(OperationKind::Listener);
    operation::conclude(
        &events.shared,
        &service,
        &route,
        Some(exec_id),
        started,
        notes,
        resp,
    )
}

/// Reads and checks the ListenerServiceRequest, then keeps it; returns its listen type.
async fn accept(
    events: &Events,
    service: &Service,
    exec_id: &str,
    req: Request<ReqBody>,
) -> Result<String> {
    let (parts, body) = req.into_parts();
    let (_, request): (_, ListenerServiceRequest) = body::read_json(
        body,
        &parts.headers,
        events.shared.config.max_request_bytes,
        Blank::Refuse("the body must be a ListenerServiceRequest"),
    )
    .await?;
    let listenable = &service.definition.listenable_events;
    let listen_type = match request.listen_type.as_deref() {
        None | Some("") => {
            return Err(Error::bad_request(format!(
                "listenType is required: one of {}",
                listenable.join(", ")
            )))
        }
        Some(t) if !listenable.iter().any(|e| e == t) => {
            return Err(Error::bad_request(format!(
                "listenType '{t}' is not one of this service's listenableEvents: {}",
                listenable.join(", ")
            )))
        }
        Some(t) => t.to_owned(),
    };
    let callback_uri = match request.callback_uri.as_deref() {
        None | Some("") => return Err(Error::bad_request("callbackUri is required")),
        Some(uri) if !is_http_url(uri) => {
            return Err(Error::bad_request(
                "callbackUri must be an absolute http:// or https:// URL",
            ))
        }
        Some(uri) => uri.to_owned(),
    };
    let registered_ms = now_millis();
    let wait = events.shared.config.wait_timeout;
    let row = ListenerRow {
        id: exec_id.to_owned(),
        service: service.name.to_string(),
        listen_type: listen_type.clone(),
        callback_uri,
        state_id: request.state_id.filter(|s| !s.is_empty()),
        tenant_id: request.tenant_id.filter(|t| !t.is_empty()),
        token: request.token,
        culture: request.culture.as_ref().map(json),
        annotations: request.annotations.as_ref().map(json),
        value: json(&request.value_for_listening),
        registered_ms,
        expires_ms: registered_ms.saturating_add(millis(wait)),
    };
    let kept = row.token.as_ref().map_or(0, String::len)
        + row.culture.as_ref().map_or(0, String::len)
        + row.annotations.as_ref().map_or(0, String::len)
        + row.value.len();
    if kept > MAX_KEPT_BYTES {
        return Err(Error::TooLarge(
            format!(
                "a listener keeps at most {} KiB of its token, culture, annotations and \
                 valueForListening; this one has {kept} bytes",
                MAX_KEPT_BYTES >> 10
            )
            .into(),
        ));
    }
    events.listeners.add(row).await?;
    Ok(listen_type)
}

/// A wire value as JSON text.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("wire types serialize to JSON")
}

/// `d` in whole milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whether `uri` is an absolute `http://` or `https://` URL with a host.
fn is_http_url(uri: &str) -> bool {
    uri.parse::<http::Uri>().is_ok_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty())
    })
}

/// Calls back every listener registered for `event` whose object matches `payload`
/// (checked against the event's model), from tenant `tenant_id`; returns at once, the
/// deliveries run on their own.
pub(super) fn notify(
    events: &Events,
    event: &Arc<EventDefinition>,
    payload: &Map<String, Value>,
    tenant_id: &str,
) {
    let listeners = events.listeners.clone();
    let mounts = Arc::clone(&events.mounts);
    let shared = events.shared.clone();
    let event = Arc::clone(event);
    let payload = payload.clone();
    let tenant_id = tenant_id.to_owned();
    tokio::spawn(async move {
        fire(listeners, &mounts, shared, &event, &payload, &tenant_id).await;
    });
}

/// Takes the registrations `event` fires and starts their callbacks.
async fn fire(
    listeners: Listeners,
    mounts: &Mounts,
    shared: Shared,
    event: &EventDefinition,
    payload: &Map<String, Value>,
    tenant_id: &str,
) {
    let index = match listeners.index().await {
        Ok(index) => index,
        Err(e) => {
            tracing::error!(error = %e, event = %event.info.key, "Listeners could not be loaded.");
            return;
        }
    };
    let key = event.info.key.as_str();
    let snapshot = mounts.snapshot();
    let (fired, expired) = Listeners::take(index, now_millis(), |r| {
        r.row.listen_type == key
            && r.row.tenant_id.as_deref().is_none_or(|t| t == tenant_id)
            && snapshot
                .service(&r.row.service)
                .is_some_and(|s| s.definition.listenable_events.iter().any(|e| e == key))
            && correlates(&event.model, r.value.as_ref(), payload)
    });
    listeners.forget(expired).await;
    for registration in listeners.claim(fired).await {
        let response = ListenerServiceResponse {
            token: registration.row.token.clone(),
            tenant_id: registration.row.tenant_id.clone(),
            culture: registration.culture.clone(),
            annotations: registration.annotations.clone(),
            listening_event_value: changed(registration.value.as_ref(), payload),
        };
        let listeners = listeners.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            call_back(&listeners, &shared, &registration, &response).await;
        });
    }
}

/// Delivers one callback, records how it went, and forgets the registration.
async fn call_back(
    listeners: &Listeners,
    shared: &Shared,
    registration: &Registration,
    response: &ListenerServiceResponse,
) {
    let row = &registration.row;
    let target = CallbackTarget {
        uri: row.callback_uri.clone(),
        tenant_id: row.tenant_id.clone(),
        authorization: None,
    };
    let body = Bytes::from(serde_json::to_vec(response).expect("wire types serialize to JSON"));
    let outcome = shared.callbacks.deliver_json(&target, body).await;
    shared.records.update(&row.id, |r| {
        r.callback = Some(match &outcome {
            CallbackOutcome::Delivered { attempts } => {
                r.status = "succeeded";
                CallbackRecord {
                    attempts: *attempts,
                    delivered: true,
                    reason: None,
                }
            }
            CallbackOutcome::GaveUp { attempts, reason } => {
                r.status = "failed";
                CallbackRecord {
                    attempts: *attempts,
                    delivered: false,
                    reason: Some(reason.clone()),
                }
            }
        });
    });
    listeners.forget(vec![row.id.clone()]).await;
}

/// A payload value as Flow's `contentValue` text: strings as they are, `null` as none,
/// anything else as its JSON text.
fn content_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Whether the registered object matches the event: for each correlation parameter of
/// the model that the first object of `value` carries as a property with a non-empty
/// `contentValue`, the payload's value (as text) is that value. An object that names no
/// correlation parameter matches every event of its key.
fn correlates(
    model: &EventModel,
    value: Option<&EngineValue>,
    payload: &Map<String, Value>,
) -> bool {
    let Some(object) = value
        .and_then(|v| v.object_data.as_deref())
        .and_then(<[_]>::first)
    else {
        return true;
    };
    model.payload.iter().filter(|f| f.correlation).all(|f| {
        match object
            .property(&f.name)
            .and_then(|p| p.content_value.as_deref())
            .filter(|v| !v.is_empty())
        {
            None => true,
            Some(wanted) => payload.get(&f.name).and_then(content_text).as_deref() == Some(wanted),
        }
    })
}

/// The registered value as the event changed it: every property of its objects named
/// after a payload field carries the payload's value, the others are as registered.
fn changed(value: Option<&EngineValue>, payload: &Map<String, Value>) -> Option<EngineValue> {
    let mut value = value?.clone();
    for object in value.object_data.iter_mut().flatten() {
        for property in object.properties.iter_mut().flatten() {
            if let Some(v) = property
                .developer_name
                .as_deref()
                .and_then(|name| payload.get(name))
            {
                property.content_value = content_text(v);
            }
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex as StdMutex;

    use http_body_util::BodyExt;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use serde_json::json;

    use super::super::catalog::DefinitionInfo;
    use super::super::model::parse_event;
    use super::*;
    use crate::auth::Auth;
    use crate::definition::{parse_definition, LoadedDefinition};
    use crate::execution::CallbackPolicy;
    use crate::process::Builtins;
    use crate::shared::RuntimeConfig;
    use crate::store::{Durability, Stores};

    /// What the callback peer received: the `ManyWhoTenant` header and the body.
    type Received = Arc<StdMutex<Vec<(Option<String>, Value)>>>;

    /// A loopback Flow engine: answers each callback with the next of `replies` (the last
    /// one repeats) and keeps what it got.
    async fn peer(replies: Vec<&'static str>) -> (String, Received) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Received = Arc::default();
        let seen = Arc::clone(&got);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                let replies = replies.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let seen = Arc::clone(&seen);
                        let replies = replies.clone();
                        async move {
                            let tenant = req
                                .headers()
                                .get("manywhotenant")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let n = {
                                let mut seen = seen.lock().unwrap();
                                seen.push((tenant, serde_json::from_slice(&body).unwrap()));
                                seen.len()
                            };
                            let reply = replies[(n - 1).min(replies.len() - 1)];
                            Ok::<_, std::convert::Infallible>(Response::new(
                                http_body_util::Full::new(Bytes::from(reply)),
                            ))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (format!("http://{addr}/api/run/1/response"), got)
    }

    /// Waits (at most 10 s) until `got` holds `n` callbacks.
    async fn callbacks(got: &Received, n: usize) -> Vec<(Option<String>, Value)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = got.lock().unwrap().clone();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{n} callbacks within 10 s: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The event registry of a runtime on `data`, with the service `Orders` (listening
    /// for `orderPlaced`) mounted.
    fn events(data: &Path) -> Arc<Events> {
        events_waiting(data, crate::shared::DEFAULT_WAIT_TIMEOUT)
    }

    /// The same, with the wait timeout `wait`.
    fn events_waiting(data: &Path, wait: Duration) -> Arc<Events> {
        let config = RuntimeConfig {
            data_dir: data.to_path_buf(),
            wait_timeout: wait,
            callback: CallbackPolicy {
                attempts: 3,
                backoff: Duration::from_millis(20),
            },
            ..RuntimeConfig::default()
        };
        let builtins = Builtins::unopened(data);
        let stores = Stores::open(data, Durability::Full);
        let auth = Arc::new(Auth::new(
            Arc::clone(&stores.registry),
            Arc::clone(&stores.keystore),
            config.api_key_header.clone(),
        ));
        let shared = Shared::new(
            config,
            Arc::clone(&builtins.store),
            Arc::clone(&builtins.oauth),
        );
        let mounts = Arc::new(Mounts::new(builtins));
        let definition = parse_definition(
            "Orders.json",
            br#"{"name": "Orders", "listenableEvents": ["orderPlaced", "orderShipped"],
                 "messageActions": [{"name": "Echo", "process": {"builtin": "echo"}}]}"#,
        )
        .unwrap();
        mounts
            .mount(vec![LoadedDefinition {
                definition,
                source: "Orders.json".into(),
                base_dir: data.to_path_buf(),
            }])
            .unwrap();
        Events::new(shared, mounts, auth, stores.keystore, stores.listeners)
    }

    /// The event `orderPlaced` with the correlation parameter `orderId`.
    fn order_placed() -> Arc<EventDefinition> {
        let model = parse_event(
            "orderPlaced.event",
            br#"{"key": "orderPlaced", "name": "Order placed",
                 "correlationParameters": [{"name": "orderId", "type": "string"}],
                 "payload": [{"name": "total", "type": "double"},
                             {"name": "status", "type": "string"}]}"#,
        )
        .unwrap();
        Arc::new(EventDefinition {
            info: DefinitionInfo {
                id: "e1".into(),
                key: "orderPlaced".into(),
                version: 1,
                name: None,
                category: None,
                description: None,
                deployment_id: "d1".into(),
                resource_name: "orderPlaced.event".into(),
                tenant_id: String::new(),
            },
            model,
        })
    }

    /// A ListenerServiceRequest for `orderPlaced` of the order `order_id` (none: any).
    fn request(callback: &str, state: &str, order_id: Option<&str>) -> Value {
        json!({
            "token": "tok-1", "tenantId": "tenant-a", "stateId": state,
            "callbackUri": callback,
            "culture": {"language": "EN", "country": "USA"},
            "annotations": {"source": "test"},
            "listenType": "orderPlaced",
            "valueForListening": {
                "developerName": "Order", "contentType": "ContentObject",
                "typeElementDeveloperName": "Order",
                "objectData": [{"developerName": "Order", "externalId": "o-1", "properties": [
                    {"developerName": "orderId", "contentType": "ContentString",
                     "contentValue": order_id},
                    {"developerName": "status", "contentType": "ContentString",
                     "contentValue": "new"},
                    {"developerName": "note", "contentType": "ContentString",
                     "contentValue": "kept"}
                ]}]
            }
        })
    }

    async fn post(events: &Events, body: &Value) -> Response<ResBody> {
        let service = Arc::clone(events.mounts.snapshot().service("Orders").unwrap());
        let req = Request::post("/fs/Orders/listener")
            .header("content-type", "application/json")
            .body(body::from_bytes(serde_json::to_vec(body).unwrap()))
            .unwrap();
        register(events, service, req).await
    }

    async fn message(resp: Response<ResBody>) -> (StatusCode, String) {
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, v["message"].as_str().unwrap_or_default().to_owned())
    }

    fn waiting(events: &Events) -> usize {
        events
            .listeners
            .inner
            .index
            .get()
            .map_or(0, |i| lock(i).len())
    }

    async fn send(events: &Arc<Events>, payload: Value, tenant: &str) {
        let Value::Object(payload) = payload else {
            panic!("payload is an object")
        };
        fire(
            events.listeners.clone(),
            &events.mounts,
            events.shared.clone(),
            &order_placed(),
            &payload,
            tenant,
        )
        .await;
    }

    #[tokio::test]
    async fn a_matching_event_calls_the_listener_back_once() {
        let dir = tempfile::tempdir().unwrap();
        let events = events(dir.path());
        let (uri, got) = peer(vec![r#""OK""#]).await;
        let resp = post(&events, &request(&uri, "s1", Some("o-1"))).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let id = resp.headers()["x-execution-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let record = events.shared.records.get(&id).unwrap();
        assert_eq!((record.operation, record.status), ("listener", "waiting"));

        // Another order, another tenant: not called.
        send(&events, json!({"orderId": "o-2", "total": 5.0}), "tenant-a").await;
        send(&events, json!({"orderId": "o-1", "total": 5.0}), "tenant-b").await;
        assert_eq!(
            waiting(&events),
            1,
            "a mismatch leaves the listener waiting"
        );

        send(
            &events,
            json!({"orderId": "o-1", "total": 12.5, "status": "placed"}),
            "tenant-a",
        )
        .await;
        assert_eq!(waiting(&events), 0, "a listener fires once");
        let seen = callbacks(&got, 1).await;
        let (tenant, body) = &seen[0];
        assert_eq!(tenant.as_deref(), Some("tenant-a"));
        assert_eq!(body["token"], "tok-1");
        assert_eq!(body["tenantId"], "tenant-a");
        assert_eq!(body["culture"]["language"], "EN");
        assert_eq!(body["annotations"], json!({"source": "test"}));
        let value = &body["listeningEventValue"];
        assert_eq!(value["typeElementDeveloperName"], "Order");
        let props = &value["objectData"][0]["properties"];
        assert_eq!(props[0]["contentValue"], "o-1");
        assert_eq!(props[1]["contentValue"], "placed", "a payload field is set");
        assert_eq!(props[2]["contentValue"], "kept", "other properties stay");
        assert_eq!(value["objectData"][0]["externalId"], "o-1");

        // Delivered: recorded, and gone from the store too.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let record = events.shared.records.get(&id).unwrap();
            let rows = events.listeners.inner.store.load(now_millis()).unwrap();
            if record.status == "succeeded" && rows.is_empty() {
                assert!(record.callback.unwrap().delivered);
                break;
            }
            assert!(Instant::now() < deadline, "the fired listener is forgotten");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        send(&events, json!({"orderId": "o-1"}), "tenant-a").await;
        assert_eq!(got.lock().unwrap().len(), 1, "a second event calls nobody");
    }

    #[tokio::test]
    async fn a_listener_registered_before_a_restart_is_called_back_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (uri, got) = peer(vec![r#""BUSY""#, r#""OK""#]).await;
        {
            let events = events(dir.path());
            // Any order: the object names no orderId. The later registration of the
            // same state replaces the first.
            let first = post(&events, &request("http://127.0.0.1:9/gone", "s1", None)).await;
            assert_eq!(first.status(), StatusCode::NO_CONTENT);
            let second = post(&events, &request(&uri, "s1", None)).await;
            assert_eq!(second.status(), StatusCode::NO_CONTENT);
            assert_eq!(waiting(&events), 1);
        }
        let events = events(dir.path());
        send(&events, json!({"orderId": "o-9"}), "tenant-a").await;
        // BUSY, then OK: retried as WAIT callbacks are.
        let seen = callbacks(&got, 2).await;
        assert_eq!(seen[0].1, seen[1].1, "the retry sends the same body");
        assert_eq!(
            seen[1].1["listeningEventValue"]["objectData"][0]["properties"][0]["contentValue"],
            "o-9"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while events.shared.callbacks.counts() != (1, 1, 0) {
            assert!(
                Instant::now() < deadline,
                "{:?}",
                events.shared.callbacks.counts()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn bad_registrations_are_refused_naming_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let events = events(dir.path());
        let uri = "http://127.0.0.1:9/cb";
        let mut no_type = request(uri, "s", None);
        no_type.as_object_mut().unwrap().remove("listenType");
        let (status, msg) = message(post(&events, &no_type).await).await;
        assert_eq!(status, 400);
        assert!(msg.contains("listenType is required"), "{msg}");
        assert!(msg.contains("orderPlaced, orderShipped"), "{msg}");
        let mut unknown = request(uri, "s", None);
        unknown["listenType"] = json!("orderLost");
        let (status, msg) = message(post(&events, &unknown).await).await;
        assert_eq!(status, 400);
        assert!(msg.contains("'orderLost'"), "{msg}");
        assert!(msg.contains("orderPlaced, orderShipped"), "{msg}");
        for bad in [
            json!(null),
            json!("ftp://x/y"),
            json!("/relative"),
            json!(""),
        ] {
            let mut req = request(uri, "s", None);
            req["callbackUri"] = bad.clone();
            let (status, msg) = message(post(&events, &req).await).await;
            assert_eq!(status, 400, "{bad}");
            assert!(msg.contains("callbackUri"), "{bad}: {msg}");
        }
        let mut big = request(uri, "s", None);
        big["annotations"] = json!({"blob": "x".repeat(MAX_KEPT_BYTES)});
        let (status, msg) = message(post(&events, &big).await).await;
        assert_eq!(status, 413);
        assert!(msg.contains("at most 64 KiB"), "{msg}");
        assert_eq!(waiting(&events), 0);
        assert!(events.listeners.inner.store.load(0).unwrap().is_empty());

        // The bound counts the waiting registrations of the service; one of the same
        // state replaces its earlier one and so always fits.
        events
            .listeners
            .inner
            .per_service
            .store(2, Ordering::Relaxed);
        for state in ["s1", "s2", "s2"] {
            let resp = post(&events, &request(uri, state, None)).await;
            assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{state}");
        }
        let (status, msg) = message(post(&events, &request(uri, "s3", None)).await).await;
        assert_eq!(status, 400);
        assert!(msg.contains("already has 2 listeners waiting"), "{msg}");
        assert_eq!(waiting(&events), 2);
    }

    #[tokio::test]
    async fn a_listener_expires_after_the_wait_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let events = events_waiting(dir.path(), Duration::from_millis(30));
        let (uri, got) = peer(vec![r#""OK""#]).await;
        let resp = post(&events, &request(&uri, "s1", None)).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let expires = events.listeners.inner.store.load(0).unwrap()[0].expires_ms;
        let deadline = Instant::now() + Duration::from_secs(5);
        while now_millis() <= expires {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        send(&events, json!({"orderId": "o-1"}), "tenant-a").await;
        assert_eq!(waiting(&events), 0, "an expired listener is dropped");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !stored_rows(&events).is_empty() {
            assert!(Instant::now() < deadline, "and removed from the store");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            got.lock().unwrap().is_empty(),
            "an expired listener is not called"
        );
    }

    /// The rows of the store, expired ones included.
    fn stored_rows(events: &Events) -> Vec<ListenerRow> {
        events.listeners.inner.store.load(i64::MIN).unwrap()
    }

    #[test]
    fn only_correlation_parameters_with_a_value_must_match() {
        let model = order_placed().model.clone();
        let value = |id: Option<&str>| -> EngineValue {
            serde_json::from_value(request("http://x/", "s", id)["valueForListening"].clone())
                .unwrap()
        };
        let payload = |v: Value| v.as_object().unwrap().clone();
        let p = payload(json!({"orderId": "o-1", "status": "x"}));
        assert!(correlates(&model, Some(&value(Some("o-1"))), &p));
        assert!(!correlates(&model, Some(&value(Some("o-2"))), &p));
        assert!(correlates(&model, Some(&value(None)), &p));
        assert!(correlates(&model, Some(&value(Some(""))), &p));
        assert!(correlates(&model, None, &p));
        assert!(!correlates(&model, Some(&value(Some("o-1"))), &Map::new()));
        // The status is not a correlation parameter: it need not match.
        let numbers = payload(json!({"orderId": 7}));
        assert!(correlates(&model, Some(&value(Some("7"))), &numbers));
        let out = changed(
            Some(&value(None)),
            &payload(json!({"status": null, "note": 1.5})),
        )
        .unwrap();
        let props = out.object_data.unwrap()[0].properties.clone().unwrap();
        assert_eq!(props[0].content_value, None);
        assert_eq!(props[1].content_value, None, "null clears the value");
        assert_eq!(props[2].content_value.as_deref(), Some("1.5"));
    }
}
