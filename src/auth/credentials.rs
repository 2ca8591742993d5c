//! HTTP Basic credentials: the password and token hashes, the verified-credential cache,
//! and the privileges a user may hold.
//!
//! Passwords and service tokens are stored only as salted argon2id hashes (PHC strings).
//! A token is the user's second password, made by the API and shown once: a password of
//! the token's shape ([`is_token`]) is checked against the user's token hash, any other
//! against the password hash, so that every attempt costs one hash (passwords of the
//! token's shape are refused when set). Argon2 is slow on purpose, so a verified credential
//! is remembered in memory under a keyed SHA-256 of the `Authorization` value (the key is
//! random per process, so the cache holds nothing an offline attacker could test passwords
//! against); the cache is emptied whenever a user changes, and a verification that raced
//! with a change is not remembered. At most [`MAX_CONCURRENT_HASHES`] hashes run at once,
//! on the blocking pool, so that a flood of wrong passwords cannot take every core from the
//! data path. An unknown user costs the same hash as a wrong password, so the answer time
//! does not tell which.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::store::registry::User;

/// The privilege the admin API requires.
pub const PRIVILEGE_REST_API: &str = "access-rest-api";
/// Another spelling of [`PRIVILEGE_REST_API`] found in Flowable's documentation.
pub const PRIVILEGE_REST_API_ALIAS: &str = "rest-access-api";
/// The privilege to call every service with `"auth": {"basic": true}`; followed by
/// `:{service name}` it grants that one service only.
pub const PRIVILEGE_FLOW_SERVICE: &str = "flow-service";
/// The privilege to authenticate with an API key (`Authorization: Bearer <key>`) at all;
/// checked on every call, so that withdrawing it stops every key of the user at once.
pub const PRIVILEGE_USE_API_KEY: &str = "use-api-key";
/// The privilege to run actions through the incoming API (`/api/1/action/…`); an API key
/// needs it besides [`PRIVILEGE_USE_API_KEY`].
pub const PRIVILEGE_RUN_ACTIONS: &str = "run-actions";
/// The privilege to scrape `GET /api/management/metrics` and nothing else of the admin
/// API: for a read-only Prometheus user.
pub const PRIVILEGE_METRICS: &str = "metrics";
/// Every privilege a user may hold (besides `flow-service:{service name}`).
pub const PRIVILEGES: &[&str] = &[
    PRIVILEGE_REST_API,
    PRIVILEGE_METRICS,
    PRIVILEGE_FLOW_SERVICE,
    PRIVILEGE_USE_API_KEY,
    PRIVILEGE_RUN_ACTIONS,
];

/// The start of every service token.
const TOKEN_PREFIX: &str = "fsst_";
/// Random bytes in a token (base64url without padding after the prefix).
const TOKEN_BYTES: usize = 32;
/// The length of a token: the prefix and 43 base64url characters.
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + (TOKEN_BYTES * 4).div_ceil(3);

/// How many password hashes may run at the same time.
const MAX_CONCURRENT_HASHES: usize = 2;
/// How many verified credentials are remembered before the cache starts over.
const MAX_CACHED_CREDENTIALS: usize = 1024;

/// The verified-credential cache: keyed digest of an `Authorization` value → the user id.
#[derive(Default)]
struct Verified {
    users: HashMap<[u8; 32], Arc<str>>,
    /// Bumped by every [`Authenticator::forget_all`]: a verification that began under an
    /// older generation checked a hash that may be gone, so its result is not kept.
    generation: u64,
}

/// The authenticator: the verified-credential cache and the hashing budget.
pub(crate) struct Authenticator {
    /// Random per process; keys the cache so that it holds no plain hash of a password.
    secret: [u8; 32],
    verified: Mutex<Verified>,
    hashing: Semaphore,
    /// The hash an unknown user is checked against, so that its answer takes as long.
    dummy_hash: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

/// The stored hashes a user's credentials are checked against.
#[derive(Debug, Clone)]
pub(crate) struct Secrets {
    password_hash: String,
    token_hash: Option<String>,
}

impl Secrets {
    /// The hashes of `user`.
    pub(crate) fn of(user: &User) -> Self {
        Secrets {
            password_hash: user.password_hash.clone(),
            token_hash: user.token_hash.clone(),
        }
    }
}

impl Authenticator {
    /// A new authenticator (blocking: hashes the dummy password once).
    pub(crate) fn new() -> Result<Self> {
        Ok(Authenticator {
            secret: random_32(),
            verified: Mutex::new(Verified::default()),
            hashing: Semaphore::new(MAX_CONCURRENT_HASHES),
            dummy_hash: hash_password(&uuid::Uuid::new_v4().to_string())?,
        })
    }

    /// Forgets every verified credential (a user changed).
    pub(crate) fn forget_all(&self) {
        let mut v = self.lock();
        v.users.clear();
        v.generation += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Verified> {
        self.verified
            .lock()
            .expect("credential cache lock is never poisoned: no code panics under it")
    }

    /// The user the request's Basic credentials belong to. `missing` is the error when
    /// there is no `Authorization` header (it says what credentials are needed);
    /// `secrets_of` gives the stored hashes of a user id, and is called only when the
    /// credentials are not in the cache.
    ///
    /// # Errors
    ///
    /// 401 when the header is missing, malformed, or the user or password is wrong.
    pub(crate) async fn authenticate(
        &self,
        headers: &HeaderMap,
        missing: impl FnOnce() -> Error,
        secrets_of: impl Fn(&str) -> Option<Secrets>,
    ) -> Result<Arc<str>> {
        let value = headers
            .get(http::header::AUTHORIZATION)
            .ok_or_else(missing)?;
        let key: [u8; 32] = Sha256::new()
            .chain_update(self.secret)
            .chain_update(value.as_bytes())
            .finalize()
            .into();
        let generation = {
            let v = self.lock();
            if let Some(user) = v.users.get(&key) {
                return Ok(Arc::clone(user));
            }
            v.generation
        };
        let (user, password) = parse_basic(value.as_bytes())?;
        let secrets = secrets_of(&user);
        let known = secrets.is_some();
        let hash = match secrets {
            Some(Secrets {
                token_hash: Some(t),
                ..
            }) if is_token(&password) => t,
            Some(s) => s.password_hash,
            None => self.dummy_hash.clone(),
        };
        let ok = {
            let _permit = self
                .hashing
                .acquire()
                .await
                .map_err(|_| Error::internal("password hashing is shut down"))?;
            tokio::task::spawn_blocking(move || verify_password(&password, &hash))
                .await
                .map_err(Error::internal)?
        };
        if !(ok && known) {
            return Err(Error::Unauthorized("wrong user or password".into()));
        }
        let user: Arc<str> = Arc::from(user);
        let mut v = self.lock();
        if v.generation == generation {
            if v.users.len() >= MAX_CACHED_CREDENTIALS {
                v.users.clear();
            }
            v.users.insert(key, Arc::clone(&user));
        }
        Ok(user)
    }

    /// Hashes `password` within the hashing budget, off the async workers.
    pub(crate) async fn hash(&self, password: String) -> Result<String> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| Error::internal("password hashing is shut down"))?;
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(Error::internal)?
    }
}

/// 32 random bytes (256 bits) straight from the operating system's generator.
///
/// # Panics
///
/// When the OS has no working generator: fss cannot make a secret then, and a token or key
/// from anything weaker must not exist.
fn random_32() -> [u8; 32] {
    let mut out = [0u8; 32];
    getrandom::fill(&mut out)
        .expect("the OS random generator must work: fss makes no secret without it");
    out
}

/// A new random secret of 256 bits as 43 base64url characters: a console session or its
/// CSRF token.
pub(crate) fn random_secret() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_32())
}

/// A new service token: `fsst_` and 43 base64url characters.
pub(crate) fn new_token() -> String {
    let random = random_32();
    let mut t = String::with_capacity(TOKEN_LEN);
    t.push_str(TOKEN_PREFIX);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(random, &mut t);
    t
}

/// Whether `password` has the shape of a service token.
pub(crate) fn is_token(password: &str) -> bool {
    password.len() == TOKEN_LEN
        && password.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Splits `Basic base64(user:password)`.
fn parse_basic(value: &[u8]) -> Result<(String, String)> {
    let bad = || {
        Error::Unauthorized(
            "the Authorization header is not HTTP Basic credentials \
             ('Basic ' followed by base64 of user:password)"
                .into(),
        )
    };
    let value = std::str::from_utf8(value).map_err(|_| bad())?.trim();
    let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (user, password) = decoded.split_once(':').ok_or_else(bad)?;
    Ok((user.to_owned(), password.to_owned()))
}

/// The salted argon2id hash of `password`, as a PHC string (blocking).
///
/// # Errors
///
/// Internal: the hasher failed (it does not for passwords of sane length).
pub(crate) fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password cannot be hashed: {e}")))
}

/// Whether `password` matches the PHC string `hash` (blocking).
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The canonical name of a privilege, or `None` when it is not one fss knows:
/// [`PRIVILEGES`], the alias of the REST privilege, or `flow-service:{service name}`.
pub(crate) fn canonical_privilege(p: &str) -> Option<String> {
    if p == PRIVILEGE_REST_API_ALIAS {
        return Some(PRIVILEGE_REST_API.to_owned());
    }
    if let Some(service) = service_of_privilege(p) {
        let valid = !service.trim().is_empty()
            && !service.contains('/')
            && !service.chars().any(char::is_control);
        return valid.then(|| p.to_owned());
    }
    PRIVILEGES
        .iter()
        .find(|k| **k == p)
        .map(|k| (*k).to_owned())
}

/// The service a `flow-service:{name}` privilege grants.
fn service_of_privilege(p: &str) -> Option<&str> {
    p.strip_prefix(PRIVILEGE_FLOW_SERVICE)?.strip_prefix(':')
}

/// Whether `user` may call the service named `service`: it holds `flow-service` or
/// `flow-service:{service}`. Allocates nothing.
pub(crate) fn may_call(user: &User, service: &str) -> bool {
    user.privileges
        .iter()
        .any(|p| p == PRIVILEGE_FLOW_SERVICE || service_of_privilege(p) == Some(service))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_verify() {
        let a = hash_password("pw").unwrap();
        let b = hash_password("pw").unwrap();
        assert_ne!(a, b, "two hashes of one password differ by their salt");
        assert!(a.starts_with("$argon2id$"));
        // Not in clear (a long password: a short one may turn up in the base64 by chance).
        let long = hash_password("correct-horse-battery").unwrap();
        assert!(!long.contains("correct-horse-battery"));
        assert!(verify_password("pw", &a));
        assert!(!verify_password("pW", &a));
        assert!(!verify_password("pw", "not a hash"));
    }

    #[test]
    fn basic_headers_parse() {
        let enc = base64::engine::general_purpose::STANDARD.encode("u:p:q");
        let (u, p) = parse_basic(format!("Basic {enc}").as_bytes()).unwrap();
        assert_eq!((u.as_str(), p.as_str()), ("u", "p:q"));
        assert!(parse_basic(b"Bearer x").is_err());
        assert!(parse_basic(b"Basic !!!").is_err());
        let enc = base64::engine::general_purpose::STANDARD.encode("nocolon");
        assert!(parse_basic(format!("basic {enc}").as_bytes()).is_err());
    }

    #[test]
    fn privilege_alias_is_canonical() {
        let c = |p: &str| canonical_privilege(p);
        assert_eq!(c("rest-access-api").as_deref(), Some("access-rest-api"));
        assert_eq!(c("access-rest-api").as_deref(), Some("access-rest-api"));
        assert_eq!(c("flow-service").as_deref(), Some("flow-service"));
        assert_eq!(
            c("flow-service:Orders").as_deref(),
            Some("flow-service:Orders")
        );
        assert_eq!(
            c("flow-service:My Desk").as_deref(),
            Some("flow-service:My Desk")
        );
        assert_eq!(c("flow-service:"), None);
        assert_eq!(c("flow-service:a/b"), None);
        assert_eq!(c("use-api-key").as_deref(), Some("use-api-key"));
        assert_eq!(c("run-actions").as_deref(), Some("run-actions"));
        assert_eq!(c("flow-services"), None);
        assert_eq!(c("root"), None);
    }

    #[test]
    fn service_grants_match_by_exact_name() {
        let user = |privs: &[&str]| User {
            id: "u".into(),
            password_hash: String::new(),
            token_hash: None,
            first_name: None,
            last_name: None,
            privileges: privs.iter().map(|p| (*p).to_owned()).collect(),
        };
        assert!(may_call(&user(&["flow-service"]), "Orders"));
        assert!(may_call(&user(&["flow-service:Orders"]), "Orders"));
        assert!(!may_call(&user(&["flow-service:Orders"]), "orders"));
        assert!(!may_call(&user(&["flow-service:Other"]), "Orders"));
        assert!(!may_call(&user(&["access-rest-api"]), "Orders"));
    }

    #[tokio::test]
    async fn verified_credentials_are_cached_until_a_user_changes() {
        let auth = Authenticator::new().unwrap();
        let secrets = Secrets {
            password_hash: hash_password("pw").unwrap(),
            token_hash: None,
        };
        let lookups = std::sync::atomic::AtomicUsize::new(0);
        let secrets_of = |id: &str| {
            lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (id == "u").then(|| secrets.clone())
        };
        let mut headers = HeaderMap::new();
        let enc = base64::engine::general_purpose::STANDARD.encode("u:pw");
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Basic {enc}").parse().unwrap(),
        );
        let missing = || Error::Unauthorized("none".into());
        for _ in 0..3 {
            let user = auth
                .authenticate(&headers, missing, secrets_of)
                .await
                .unwrap();
            assert_eq!(&*user, "u");
        }
        // Only the first call looked the user up and hashed; the others hit the cache.
        assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), 1);
        auth.forget_all();
        auth.authenticate(&headers, missing, secrets_of)
            .await
            .unwrap();
        assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), 2);
        let err = auth
            .authenticate(&HeaderMap::new(), missing, secrets_of)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "none");
    }

    #[tokio::test]
    async fn a_token_shaped_password_is_checked_against_the_token() {
        let auth = Authenticator::new().unwrap();
        let token = new_token();
        let secrets = Secrets {
            password_hash: hash_password("pw").unwrap(),
            token_hash: Some(hash_password(&token).unwrap()),
        };
        let check = |pw: &str| {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("u:{pw}"));
            let mut h = HeaderMap::new();
            h.insert(
                http::header::AUTHORIZATION,
                format!("Basic {enc}").parse().unwrap(),
            );
            h
        };
        let of = |_: &str| Some(secrets.clone());
        let missing = || Error::Unauthorized("none".into());
        assert!(auth.authenticate(&check("pw"), missing, of).await.is_ok());
        assert!(auth.authenticate(&check(&token), missing, of).await.is_ok());
        assert!(auth
            .authenticate(&check(&new_token()), missing, of)
            .await
            .is_err());
        assert!(auth.authenticate(&check("pW"), missing, of).await.is_err());
    }

    #[test]
    fn tokens_have_their_shape_and_differ() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LEN);
        assert_eq!(TOKEN_LEN, 48);
        assert!(is_token(&a) && is_token(&b), "{a}");
        assert!(!is_token("fsst_short"));
        assert!(!is_token(&format!("x{}", &a[1..])));
        assert!(!is_token(&format!("{}!", &a[..TOKEN_LEN - 1])));
    }
}
