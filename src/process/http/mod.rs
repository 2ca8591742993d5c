//! The `http` process: one outbound request per execution, made on the connection's task
//! through the runtime's one [`OutboundClient`] — no task spawned, no program started.
//!
//! Compiled at mount ([`HttpProcess::new`]): the method, the templates of the URL,
//! headers, body and authentication (`template`), the authentication (`auth`), and how
//! the answer maps to outputs (message actions) or objects (table loads). Per call:
//!
//! 1. The request is filled from the execution's document; a header holding a control
//!    character once filled in is refused with 400 naming the header.
//! 2. It is authenticated: an OAuth access token from the token cache (a provider that is
//!    not loaded is 503 until it is), or a bearer, Basic or API key header.
//! 3. It is sent within `timeoutMs` per attempt, its answer read up to `maxAnswerBytes`.
//!    Idempotent methods (and others with `retryNonIdempotent`) are tried `retries` more
//!    times on a transport failure, 429, 502, 503 or 504, after a back-off of
//!    100 ms × 2^attempt with jitter (at most 2 s) or the answer's `Retry-After` when it
//!    is at most 5 s, and never once the back-off would end past the execution timeout.
//!    An OAuth API that answers 401 gets one new token and one more request.
//! 4. A 2xx answer is read as JSON when outputs or objects are declared, and mapped by
//!    JSON pointer; anything else fails the execution: 502 (an error status with up to
//!    512 bytes of its body, an answer too large or not JSON, no connection), 504 (no
//!    answer in time).
//!
//! Messages name the upstream by `scheme://host:port` only — never the filled-in path or
//! query, which may hold inputs — and never a credential or token: what an upstream
//! answers is quoted with the request's secrets replaced by `<redacted>`.

mod auth;
mod template;

use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use serde_json::{Map, Value};
use tokio::time::Instant;

use self::auth::Auth;
use self::template::{form_body, Encoding, JsonTemplate, Template, Values};
use super::{Builtins, ProcessCall, Reply};
use crate::definition::HttpProcessDefinition;
use crate::error::{Error, Result};
use crate::http::client::{OutboundClient, OutboundError};
use crate::oauth::OAuth;

/// Default largest answer read: 10 MiB.
pub const DEFAULT_MAX_ANSWER_BYTES: u64 = 10 << 20;
/// How much of an error answer's body a message quotes.
const QUOTED_ANSWER_BYTES: usize = 512;
/// The first back-off.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The longest `Retry-After` honoured; a longer one ends the retries.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// The media type of form bodies.
const FORM_URLENCODED: &str = "application/x-www-form-urlencoded";
/// The media type of JSON bodies.
const JSON: &str = "application/json";
/// The media type of text bodies unless `contentType` says otherwise.
const DEFAULT_TEXT_TYPE: &str = "text/plain; charset=utf-8";

/// A compiled `http` process.
#[derive(Debug)]
pub struct HttpProcess {
    method: Method,
    url: Template,
    /// `scheme://host:port` of the URL (its host is never templated), for messages.
    origin: String,
    headers: Vec<HeaderTemplate>,
    body: Body,
    auth: Auth,
    /// Output name → JSON pointer (message actions).
    outputs: Vec<(String, String)>,
    /// Where the objects are (table loads).
    objects: Option<Objects>,
    /// The longest one attempt may take.
    timeout: Duration,
    /// Extra attempts after a retryable failure.
    retries: u32,
    /// Whether failures of this method may be retried.
    may_retry: bool,
    max_answer_bytes: usize,
    /// The execution timeout: no back-off ends past it.
    budget: Duration,
    oauth: Arc<OAuth>,
    outbound: OutboundClient,
    /// The provider store was read (blocking, once, off the runtime's workers).
    providers_read: AtomicBool,
}

/// A request header and its value template.
#[derive(Debug)]
struct HeaderTemplate {
    name: HeaderName,
    /// The name as the definition writes it, for messages.
    shown: String,
    value: Template,
}

/// The request body, compiled.
#[derive(Debug)]
enum Body {
    None,
    Json(JsonTemplate),
    Text(Template, HeaderValue),
    Form(Vec<(String, Template)>),
}

/// Where a table load finds its objects.
#[derive(Debug)]
struct Objects {
    pointer: String,
    properties: Vec<(String, String)>,
    has_more_results: Option<String>,
}

/// The secrets of one call, replaced by `<redacted>` wherever an answer is quoted.
#[derive(Debug, Default)]
pub(super) struct Secrets(Vec<String>);

impl Secrets {
    fn add(&mut self, secret: String) {
        if !secret.is_empty() && !self.0.contains(&secret) {
            self.0.push(secret);
        }
    }

    /// Replaces each secret in `text` where it stands as a whole word (a short client id
    /// such as `id` leaves `invalid` alone).
    fn redact(&self, text: &mut String) {
        for secret in &self.0 {
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            let mut before: Option<char> = None;
            while let Some(i) = rest.find(secret.as_str()) {
                let after = &rest[i + secret.len()..];
                let prev = rest[..i].chars().next_back().or(before);
                let whole = !prev.is_some_and(char::is_alphanumeric)
                    && !after.chars().next().is_some_and(char::is_alphanumeric);
                out.push_str(&rest[..i]);
                out.push_str(if whole { "<redacted>" } else { secret });
                before = secret.chars().next_back();
                rest = after;
            }
            out.push_str(rest);
            *text = out;
        }
    }
}

// === impl HttpProcess ===

impl HttpProcess {
    /// Compiles `def` to run on `builtins`' OAuth store and outbound client.
    ///
    /// # Errors
    ///
    /// A part that validation refuses (a bad method, template, header or URL), in words.
    pub fn new(def: &HttpProcessDefinition, builtins: &Builtins) -> Result<Self, String> {
        let method_name = def.method.as_deref().unwrap_or("GET");
        let method = Method::from_bytes(method_name.as_bytes())
            .map_err(|_| format!("'{method_name}' is not a method"))?;
        let url = Template::parse(&def.url)?;
        let origin = url
            .with_each_name("x")
            .parse::<Uri>()
            .map_err(|e| format!("'{}' is not a valid URL: {e}", def.url))
            .map(|u| origin_of(&u))?;
        let headers = def
            .headers
            .iter()
            .map(|(name, value)| {
                Ok(HeaderTemplate {
                    name: HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("'{name}' is not a header name"))?,
                    shown: name.clone(),
                    value: Template::parse(value)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let body = match &def.body {
            None => Body::None,
            Some(b) => match (&b.json, &b.text, &b.form) {
                (Some(json), None, None) => Body::Json(JsonTemplate::parse(json)?),
                (None, Some(text), None) => {
                    let ct = b.content_type.as_deref().unwrap_or(DEFAULT_TEXT_TYPE);
                    let ct = HeaderValue::from_str(ct)
                        .map_err(|_| format!("'{ct}' is not a valid header value"))?;
                    Body::Text(Template::parse(text)?, ct)
                }
                (None, None, Some(form)) => Body::Form(
                    form.iter()
                        .map(|(k, v)| Ok((k.clone(), Template::parse(v)?)))
                        .collect::<Result<_, String>>()?,
                ),
                _ => return Err("a body needs exactly one of json, text, form".into()),
            },
        };
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        );
        Ok(HttpProcess {
            method,
            url,
            origin,
            headers,
            body,
            auth: Auth::new(def.auth.as_ref())?,
            outputs: def
                .outputs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            objects: def.objects.as_ref().map(|o| Objects {
                pointer: o.pointer.clone(),
                properties: o
                    .properties
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                has_more_results: o.has_more_results.clone(),
            }),
            timeout: def.timeout_ms.map_or_else(
                || builtins.outbound.request_timeout(),
                Duration::from_millis,
            ),
            retries: def.retries.unwrap_or(0),
            may_retry: idempotent || def.retry_non_idempotent,
            max_answer_bytes: usize::try_from(
                def.max_answer_bytes.unwrap_or(DEFAULT_MAX_ANSWER_BYTES),
            )
            .unwrap_or(usize::MAX),
            budget: builtins.execution_timeout,
            oauth: Arc::clone(&builtins.oauth),
            outbound: builtins.outbound.clone(),
            providers_read: AtomicBool::new(false),
        })
    }

    /// Runs one execution: the request filled from `call`, its answer as the reply
    /// (`outputs`, or `objects` and `hasMoreResults` for a table load).
    ///
    /// # Errors
    ///
    /// 400 for a header that holds a control character once filled in; 503 for an
    /// OAuth provider that is not loaded; 502 and 504 for an upstream (or token
    /// endpoint) that failed; see the module docs.
    pub async fn run(&self, call: ProcessCall) -> Result<Reply> {
        let mut secrets = Secrets::default();
        let (uri, mut headers, body) = {
            let values = Values::of(&call);
            let uri = self.url.render(&values, Encoding::Url);
            let uri: Uri = uri.parse().map_err(|e| {
                // Filled-in values are percent-encoded: only the definition's own text
                // can make the URL invalid, and validation parsed it.
                Error::internal(format!("the http process URL does not parse: {e}"))
            })?;
            let mut headers = HeaderMap::with_capacity(self.headers.len() + 3);
            for h in &self.headers {
                let value = h.value.render(&values, Encoding::Plain);
                headers.append(h.name.clone(), header_value(&h.shown, &value)?);
            }
            let body = self.body(&values, &mut headers);
            if let Some((name, value)) = self.auth.header(&values, &mut secrets)? {
                headers.insert(name, value);
            }
            (uri, headers, body)
        };
        if (!self.outputs.is_empty() || self.objects.is_some()) && !headers.contains_key(ACCEPT) {
            headers.insert(ACCEPT, HeaderValue::from_static(JSON));
        }
        let started = Instant::now();
        let answer = match &self.auth {
            Auth::ClientCredentials(client) => {
                self.read_providers().await?;
                let (token, header) = client
                    .bearer(
                        &self.oauth,
                        &self.outbound,
                        self.timeout,
                        None,
                        &mut secrets,
                    )
                    .await?;
                headers.insert(AUTHORIZATION, header);
                let answer = self.exchange(&uri, &headers, &body, started).await?;
                if answer.status() == StatusCode::UNAUTHORIZED {
                    // The token was revoked or expired early: one new token, one more try.
                    let (_, header) = client
                        .bearer(
                            &self.oauth,
                            &self.outbound,
                            self.timeout,
                            Some(&token),
                            &mut secrets,
                        )
                        .await?;
                    headers.insert(AUTHORIZATION, header);
                    self.exchange(&uri, &headers, &body, started).await?
                } else {
                    answer
                }
            }
            _ => self.exchange(&uri, &headers, &body, started).await?,
        };
        self.reply(&answer, &secrets)
    }

    /// The body filled from `values`, its `Content-Type` added unless a header sets it.
    fn body(&self, values: &Values<'_>, headers: &mut HeaderMap) -> Bytes {
        let (bytes, content_type) = match &self.body {
            Body::None => return Bytes::new(),
            Body::Json(t) => {
                let doc = t.render(values);
                let bytes = serde_json::to_vec(&doc).expect("a JSON value serializes");
                (bytes, HeaderValue::from_static(JSON))
            }
            Body::Text(t, ct) => (t.render(values, Encoding::Plain).into_bytes(), ct.clone()),
            Body::Form(fields) => {
                let filled: Vec<(&str, String)> = fields
                    .iter()
                    .map(|(k, t)| (k.as_str(), t.render(values, Encoding::Plain)))
                    .collect();
                let body = form_body(filled.iter().map(|(k, v)| (*k, v.as_str())));
                (body.into_bytes(), HeaderValue::from_static(FORM_URLENCODED))
            }
        };
        headers.entry(CONTENT_TYPE).or_insert(content_type);
        Bytes::from(bytes)
    }

    /// Reads the OAuth provider store unless that was done: the first read is blocking
    /// (SQLite, the keystore), so it runs off the runtime's workers; later ones are
    /// in memory.
    async fn read_providers(&self) -> Result<()> {
        if self.providers_read.load(Ordering::Acquire) {
            return Ok(());
        }
        let oauth = Arc::clone(&self.oauth);
        tokio::task::spawn_blocking(move || oauth.ensure_loaded())
            .await
            .map_err(|e| Error::internal(format!("reading the OAuth providers failed: {e}")))??;
        self.providers_read.store(true, Ordering::Release);
        Ok(())
    }

    /// Sends the request, trying again as the module docs say; the last answer, whatever
    /// its status.
    ///
    /// # Errors
    ///
    /// 502 or 504 when no answer came.
    async fn exchange(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
        started: Instant,
    ) -> Result<Response<Bytes>> {
        let mut attempt = 0;
        loop {
            let mut req = Request::new(Full::new(body.clone()));
            *req.method_mut() = self.method.clone();
            *req.uri_mut() = uri.clone();
            *req.headers_mut() = headers.clone();
            let result = self
                .outbound
                .send_within(req, self.max_answer_bytes, self.timeout)
                .await;
            if self.may_retry && attempt < self.retries {
                let delay = match &result {
                    Ok(resp) if is_retryable_status(resp.status()) => {
                        match retry_after(resp.headers()) {
                            Some(wait) if wait > MAX_RETRY_AFTER => None,
                            Some(wait) => Some(wait),
                            None => Some(backoff(attempt)),
                        }
                    }
                    Err(e) if e.is_retryable() => Some(backoff(attempt)),
                    _ => None,
                };
                if let Some(delay) = delay.filter(|d| started.elapsed() + *d < self.budget) {
                    tracing::debug!(
                        upstream = %self.origin,
                        attempt = attempt + 1,
                        delay_ms = delay.as_millis() as u64,
                        "Http process tries again."
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                    continue;
                }
            }
            return result.map_err(|e| transport_error(&e, &self.origin));
        }
    }

    /// The reply of a 2xx answer, or the 502 of any other.
    fn reply(&self, answer: &Response<Bytes>, secrets: &Secrets) -> Result<Reply> {
        let status = answer.status();
        if !status.is_success() {
            return Err(Error::BadGateway(
                format!(
                    "{} answered {}{}",
                    self.origin,
                    status.as_u16(),
                    snippet(answer.body(), secrets)
                )
                .into(),
            ));
        }
        if self.outputs.is_empty() && self.objects.is_none() {
            return Ok(Reply::default());
        }
        let body = answer.body();
        let doc: Value = if body.iter().all(u8::is_ascii_whitespace) {
            // Nothing to map: every output is left out, no object loaded.
            Value::Null
        } else {
            serde_json::from_slice(body).map_err(|_| {
                Error::BadGateway(
                    format!(
                        "the answer of {} is not JSON, and the http process maps outputs \
                         from it{}",
                        self.origin,
                        snippet(body, secrets)
                    )
                    .into(),
                )
            })?
        };
        let Some(objects) = &self.objects else {
            let outputs: Map<String, Value> = self
                .outputs
                .iter()
                .filter_map(|(name, p)| Some((name.clone(), doc.pointer(p)?.clone())))
                .collect();
            return Ok(Reply::outputs(Value::Object(outputs)));
        };
        let items = match doc.pointer(&objects.pointer) {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(items)) => items.as_slice(),
            Some(_) => {
                return Err(Error::BadGateway(
                    format!(
                        "the answer of {} holds no array at '{}' (objects.pointer)",
                        self.origin, objects.pointer
                    )
                    .into(),
                ))
            }
        };
        let plain: Vec<Value> = items
            .iter()
            .map(|item| {
                Value::Object(
                    objects
                        .properties
                        .iter()
                        .filter_map(|(name, p)| Some((name.clone(), item.pointer(p)?.clone())))
                        .collect(),
                )
            })
            .collect();
        let more = objects
            .has_more_results
            .as_deref()
            .and_then(|p| doc.pointer(p))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut reply = Map::new();
        reply.insert("objects".into(), Value::Array(plain));
        reply.insert("hasMoreResults".into(), Value::Bool(more));
        Ok(Reply(reply))
    }
}

/// `scheme://host:port` of `uri`, the port the scheme's default when it has none.
fn origin_of(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = uri.host().unwrap_or_default();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    format!("{scheme}://{host}:{port}")
}

/// `": "` and up to [`QUOTED_ANSWER_BYTES`] of `body`, control characters replaced and
/// the call's secrets redacted; nothing for an empty body.
fn snippet(body: &[u8], secrets: &Secrets) -> String {
    let cut = &body[..body.len().min(QUOTED_ANSWER_BYTES)];
    let mut text: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    secrets.redact(&mut text);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// The error of an exchange with `who` (`scheme://host:port`, or "the token endpoint …")
/// that brought no answer.
fn transport_error(e: &OutboundError, who: &str) -> Error {
    match e {
        OutboundError::Timeout { after } => Error::GatewayTimeout(
            format!("{who} did not answer within {} ms", after.as_millis()).into(),
        ),
        OutboundError::TooLarge { limit } => Error::BadGateway(
            format!("the answer of {who} is larger than {limit} bytes (maxAnswerBytes)").into(),
        ),
        OutboundError::Exchange(why) => {
            Error::BadGateway(format!("the exchange with {who} failed: {why}").into())
        }
        OutboundError::Unusable(_) | OutboundError::CaFile { .. } => {
            Error::internal(format!("a request to {who} cannot be sent: {e}"))
        }
        other => Error::BadGateway(format!("could not reach {who}: {other}").into()),
    }
}

/// `value` as the value of the header `shown`.
///
/// # Errors
///
/// 400 naming the header (never its value) when the value holds a control character.
fn header_value(shown: &str, value: &str) -> Result<HeaderValue> {
    let refused = || {
        Error::bad_request(format!(
            "the header '{shown}' of the http request would hold a control character (such \
             as a line break) once its placeholders are filled in; the values it names may \
             not hold one"
        ))
    };
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(refused());
    }
    HeaderValue::from_str(value).map_err(|_| refused())
}

/// Whether an answer with `status` may pass when tried again.
fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The `Retry-After` of an answer in seconds (the HTTP-date form is not followed).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// The back-off before attempt `attempt + 1`: 100 ms × 2^attempt, at most 2 s, between
/// half of that and all of it so that callers refused together do not return together.
fn backoff(attempt: u32) -> Duration {
    let full = FIRST_BACKOFF
        .saturating_mul(1 << attempt.min(16))
        .min(MAX_BACKOFF);
    let half = full / 2;
    // A fresh `RandomState` is randomly keyed: its hash is the jitter.
    let spread = std::collections::hash_map::RandomState::new().hash_one(attempt);
    let jitter_ms = spread % (half.as_millis() as u64 + 1);
    half + Duration::from_millis(jitter_ms)
}

#[cfg(test)]
mod tests;
