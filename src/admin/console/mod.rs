//! The console at `/console`: a web page for the people who run fss, served from assets
//! embedded in the binary (no CDN, no build step), that shows what the admin API answers —
//! services and their URLs, executions, latency, health — and only ever calls that API.
//!
//! A browser cannot be given Basic credentials safely, so the page logs in once
//! (`POST /console/session`) and gets a session cookie (`HttpOnly`, `SameSite=Strict`,
//! `Secure` over HTTPS) and a CSRF token. The admin API then accepts the cookie in place of
//! Basic credentials, with the same privileges; every state-changing call with the cookie
//! must also send the token in `X-CSRF-Token`. Sessions live in this instance's memory:
//! they end with the process, after [`IDLE`] without use, or [`LIFETIME`] after login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::Ctx;
use crate::auth::{random_secret, PRIVILEGE_METRICS, PRIVILEGE_REST_API};
use crate::error::{Error, Result};
use crate::http::body::{self, ReqBody, ResBody};

/// Where the console lives.
pub(crate) const PREFIX: &str = "/console";
/// The session cookie's name.
const COOKIE: &str = "fss_console";
/// The header every state-changing call made with the cookie carries the CSRF token in.
const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused this long ends.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after its login, however much it is used.
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// What the page sends in `X-Requested-With` on every call.
const REQUESTED_WITH: &str = "fss-console";
/// Sessions kept at most; a login past it ends the one least recently used.
const MAX_SESSIONS: usize = 1024;
/// The largest login body.
const MAX_LOGIN_BYTES: u64 = 4096;
/// The privileges that may log in: the admin one, or `metrics` for a read-only view.
const MAY_LOG_IN: [&str; 2] = [PRIVILEGE_REST_API, PRIVILEGE_METRICS];

const INDEX_HTML: &str = include_str!("index.html");
const CONSOLE_JS: &str = include_str!("console.js");
const CONSOLE_CSS: &str = include_str!("console.css");

/// One logged-in browser.
#[derive(Debug)]
struct Session {
    user: Arc<str>,
    csrf: String,
    created: Instant,
    used: Instant,
}

/// The console sessions of this instance, by cookie value.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_cookie: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_cookie
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new session of `user`: its cookie value and CSRF token.
    fn open(&self, user: Arc<str>) -> (String, String) {
        let now = Instant::now();
        let cookie = random_secret();
        let csrf = random_secret();
        let mut all = self.lock();
        all.retain(|_, s| live(s, now));
        if all.len() >= MAX_SESSIONS {
            if let Some(oldest) = all
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
            {
                all.remove(&oldest);
            }
        }
        all.insert(
            cookie.clone(),
            Session {
                user,
                csrf: csrf.clone(),
                created: now,
                used: now,
            },
        );
        (cookie, csrf)
    }

    /// The user and CSRF token of the live session `cookie`, marking it used.
    fn touch(&self, cookie: &str) -> Option<(Arc<str>, String)> {
        let now = Instant::now();
        let mut all = self.lock();
        let session = all.get_mut(cookie)?;
        if !live(session, now) {
            all.remove(cookie);
            return None;
        }
        session.used = now;
        Some((Arc::clone(&session.user), session.csrf.clone()))
    }

    fn close(&self, cookie: &str) {
        self.lock().remove(cookie);
    }

    /// The user of the request's console session, when it has one and no `Authorization`
    /// header (explicit credentials win). A state-changing request must carry the
    /// session's CSRF token.
    ///
    /// # Errors
    ///
    /// 401 for a cookie of no live session; 403 for a missing or wrong CSRF token.
    pub(crate) fn user_of(&self, headers: &HeaderMap, method: &Method) -> Result<Option<Arc<str>>> {
        if headers.contains_key(header::AUTHORIZATION) {
            return Ok(None);
        }
        let Some(cookie) = cookie_of(headers) else {
            return Ok(None);
        };
        let Some((user, csrf)) = self.touch(cookie) else {
            return Err(Error::Unauthorized(
                "the console session has ended: log in again".into(),
            ));
        };
        if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes);
            if !sent.is_some_and(|s| constant_time_eq(s, csrf.as_bytes())) {
                return Err(Error::Forbidden(
                    "a state-changing call of a console session needs its CSRF token in \
                     X-CSRF-Token"
                        .into(),
                ));
            }
        }
        Ok(Some(user))
    }
}

/// Whether `req` is the console's: under `/console`, or an admin API call its page made
/// (it sends `X-Requested-With: fss-console`, or the session cookie, as `EventSource` does).
pub(crate) fn is_console_call<B>(req: &Request<B>) -> bool {
    req.uri().path().starts_with(PREFIX)
        || cookie_of(req.headers()).is_some()
        || req
            .headers()
            .get("x-requested-with")
            .is_some_and(|v| v.as_bytes() == REQUESTED_WITH.as_bytes())
}

fn live(s: &Session, now: Instant) -> bool {
    now.duration_since(s.used) < IDLE && now.duration_since(s.created) < LIFETIME
}

/// The value of the console cookie among the request's `Cookie` headers.
fn cookie_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then_some(value)
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Answers a request under `/console`: the page, its assets, and the session.
pub(super) async fn handle(ctx: &Ctx, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let path = req.uri().path();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let method = req.method().clone();
    let asset = |body: &'static str, kind: &'static str| match method {
        Method::GET | Method::HEAD => Ok(asset(body, kind)),
        _ => Err(Error::MethodNotAllowed { allow: "GET, HEAD" }),
    };
    match rest {
        "" | "/" | "/index.html" => asset(INDEX_HTML, "text/html; charset=utf-8"),
        "/console.js" => asset(CONSOLE_JS, "text/javascript; charset=utf-8"),
        "/console.css" => asset(CONSOLE_CSS, "text/css; charset=utf-8"),
        "/session" => match method {
            Method::GET => current(ctx, &req),
            Method::POST => login(ctx, req).await,
            Method::DELETE => logout(ctx, &req),
            _ => Err(Error::MethodNotAllowed {
                allow: "GET, POST, DELETE",
            }),
        },
        _ => Err(Error::not_found(format!(
            "the console has no page {path}; it is at {PREFIX}"
        ))),
    }
}

/// An embedded asset: never cached without asking (a new binary may serve new assets),
/// never sniffed, never framed, and only this origin's scripts and styles.
fn asset(body: &'static str, kind: &'static str) -> Response<ResBody> {
    let mut resp = Response::new(body::full(Bytes::from_static(body.as_bytes())));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Login {
    user: String,
    password: String,
}

/// `POST /console/session` `{"user", "password"}`: checks them as the admin API checks
/// Basic credentials, and opens a session.
async fn login(ctx: &Ctx, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let (parts, body) = req.into_parts();
    let (_, login): (_, Login) = body::read_json(
        body,
        &parts.headers,
        MAX_LOGIN_BYTES,
        body::Blank::Refuse("the login needs a JSON body {\"user\", \"password\"}"),
    )
    .await?;
    if login.user.is_empty() || login.password.is_empty() {
        return Err(Error::bad_request(
            "the login needs a non-empty \"user\" and \"password\"",
        ));
    }
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", login.user, login.password));
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Basic {basic}"))
        .map_err(|_| Error::bad_request("the user name or password holds a control character"))?;
    headers.insert(header::AUTHORIZATION, value);
    let directory = ctx.admin.directory();
    let user = directory
        .authenticate(&headers, || {
            Error::Unauthorized("wrong user or password".into())
        })
        .await
        .map_err(|e| match e {
            Error::Unauthorized(_) => Error::Unauthorized("wrong user or password".into()),
            other => other,
        })?;
    directory.require(&user, &MAY_LOG_IN)?;
    let (cookie, csrf) = ctx.admin.sessions.open(Arc::clone(&user));
    let secure = if ctx.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let set = format!(
        "{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME.as_secs()
    );
    let mut resp = session_answer(ctx, &user, &csrf);
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&set).map_err(Error::internal)?,
    );
    Ok(resp)
}

/// `GET /console/session`: who is logged in, with the CSRF token (the page reloads).
fn current(ctx: &Ctx, req: &Request<ReqBody>) -> Result<Response<ResBody>> {
    let none = || Error::Unauthorized("no console session: log in".into());
    let cookie = cookie_of(req.headers()).ok_or_else(none)?;
    let (user, csrf) = ctx.admin.sessions.touch(cookie).ok_or_else(none)?;
    ctx.admin.directory().require(&user, &MAY_LOG_IN)?;
    Ok(session_answer(ctx, &user, &csrf))
}

/// `DELETE /console/session`: logs out (with the CSRF token), clearing the cookie.
fn logout(ctx: &Ctx, req: &Request<ReqBody>) -> Result<Response<ResBody>> {
    if ctx
        .admin
        .sessions
        .user_of(req.headers(), req.method())?
        .is_some()
    {
        if let Some(cookie) = cookie_of(req.headers()) {
            ctx.admin.sessions.close(cookie);
        }
    }
    let mut resp = Response::new(body::full(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("fss_console=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}

fn session_answer(ctx: &Ctx, user: &str, csrf: &str) -> Response<ResBody> {
    let mut resp = body::json_response(
        StatusCode::OK,
        &json!({
            "user": user,
            "privileges": ctx.admin.directory().privileges_of(user),
            "csrfToken": csrf,
            "idleTimeoutSeconds": IDLE.as_secs(),
        }),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let h = with_cookie("a=1; fss_console=abc; b=2");
        assert_eq!(cookie_of(&h), Some("abc"));
        assert_eq!(cookie_of(&with_cookie("fss_consoleX=abc")), None);
        assert_eq!(cookie_of(&with_cookie("fss_console=")), None);
    }

    #[test]
    fn a_session_needs_its_csrf_token_to_change_things() {
        let sessions = Sessions::default();
        let (cookie, csrf) = sessions.open(Arc::from("ops"));
        let mut h = with_cookie(&format!("{COOKIE}={cookie}"));
        let user = sessions.user_of(&h, &Method::GET).unwrap();
        assert_eq!(user.as_deref(), Some("ops"));
        let err = sessions.user_of(&h, &Method::DELETE).unwrap_err();
        assert_eq!(err.status(), 403);
        h.insert(CSRF_HEADER, HeaderValue::from_static("wrong"));
        assert_eq!(
            sessions.user_of(&h, &Method::POST).unwrap_err().status(),
            403
        );
        h.insert(CSRF_HEADER, HeaderValue::from_str(&csrf).unwrap());
        assert!(sessions.user_of(&h, &Method::POST).unwrap().is_some());
        sessions.close(&cookie);
        assert_eq!(
            sessions.user_of(&h, &Method::GET).unwrap_err().status(),
            401
        );
    }

    #[test]
    fn basic_credentials_win_over_the_cookie() {
        let sessions = Sessions::default();
        let mut h = with_cookie("fss_console=unknown");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic eDp5"),
        );
        assert!(sessions.user_of(&h, &Method::POST).unwrap().is_none());
    }

    #[test]
    fn a_session_ends_when_idle_or_past_its_lifetime() {
        let now = Instant::now();
        let one = Duration::from_secs(1);
        let mut s = Session {
            user: Arc::from("ops"),
            csrf: String::new(),
            created: now,
            used: now,
        };
        assert!(live(&s, now + IDLE - one));
        assert!(!live(&s, now + IDLE));
        // Used a moment ago, but logged in a lifetime ago.
        s.used = now + LIFETIME - one;
        assert!(live(&s, now + LIFETIME - one));
        assert!(!live(&s, now + LIFETIME));
    }

    #[test]
    fn sessions_are_capped() {
        let sessions = Sessions::default();
        let (first, _) = sessions.open(Arc::from("u"));
        for _ in 0..MAX_SESSIONS {
            sessions.open(Arc::from("u"));
        }
        assert_eq!(sessions.lock().len(), MAX_SESSIONS);
        assert!(sessions.touch(&first).is_none());
    }
}
