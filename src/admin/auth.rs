//! HTTP Basic authentication of the admin API, and the password hashes behind it.
//!
//! Passwords are stored only as salted argon2id hashes (PHC strings). Argon2 is slow on
//! purpose, so a verified credential is remembered in memory under a keyed SHA-256 of the
//! `Authorization` value (the key is random per process, so the cache holds nothing an
//! offline attacker could test passwords against); the cache is emptied whenever a user
//! changes. At most [`MAX_CONCURRENT_HASHES`] hashes run at once, on the blocking pool, so
//! that a flood of wrong passwords cannot take every core from the data path. An unknown
//! user costs the same hash as a wrong password, so the answer time does not tell which.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// The privilege the admin API requires.
pub const PRIVILEGE_REST_API: &str = "access-rest-api";
/// Another spelling of [`PRIVILEGE_REST_API`] found in Flowable's documentation.
pub const PRIVILEGE_REST_API_ALIAS: &str = "rest-access-api";
/// Every privilege a user may hold.
pub const PRIVILEGES: &[&str] = &[PRIVILEGE_REST_API];

/// How many password hashes may run at the same time.
const MAX_CONCURRENT_HASHES: usize = 2;
/// How many verified credentials are remembered before the cache starts over.
const MAX_CACHED_CREDENTIALS: usize = 1024;

/// The authenticator: the verified-credential cache and the hashing budget.
pub(super) struct Authenticator {
    /// Random per process; keys the cache so that it holds no plain hash of a password.
    secret: [u8; 32],
    /// Keyed digest of a verified `Authorization` value → the user id.
    verified: Mutex<HashMap<[u8; 32], String>>,
    hashing: Semaphore,
    /// The hash an unknown user is checked against, so that its answer takes as long.
    dummy_hash: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// A new authenticator (blocking: hashes the dummy password once).
    pub(super) fn new() -> Result<Self> {
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Ok(Authenticator {
            secret,
            verified: Mutex::new(HashMap::new()),
            hashing: Semaphore::new(MAX_CONCURRENT_HASHES),
            dummy_hash: hash_password(&uuid::Uuid::new_v4().to_string())?,
        })
    }

    /// Forgets every verified credential (a user changed).
    pub(super) fn forget_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], String>> {
        self.verified
            .lock()
            .expect("credential cache lock is never poisoned: no code panics under it")
    }

    /// The user the request's Basic credentials belong to. `hash_of` gives the stored hash
    /// of a user id.
    ///
    /// # Errors
    ///
    /// 401 when the header is missing, malformed, or the user or password is wrong.
    pub(super) async fn authenticate(
        &self,
        headers: &HeaderMap,
        hash_of: impl Fn(&str) -> Option<String>,
    ) -> Result<String> {
        let value = headers
            .get(http::header::AUTHORIZATION)
            .ok_or(Error::Unauthorized(
                "credentials are required: send HTTP Basic credentials of a user holding \
                 the privilege 'access-rest-api'"
                    .into(),
            ))?;
        let key: [u8; 32] = Sha256::new()
            .chain_update(self.secret)
            .chain_update(value.as_bytes())
            .finalize()
            .into();
        let cached = self.lock().get(&key).cloned();
        if let Some(user) = cached {
            if hash_of(&user).is_some() {
                return Ok(user);
            }
        }
        let (user, password) = parse_basic(value.as_bytes())?;
        let hash = hash_of(&user);
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
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
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED_CREDENTIALS {
            cache.clear();
        }
        cache.insert(key, user.clone());
        Ok(user)
    }

    /// Hashes `password` within the hashing budget, off the async workers.
    pub(super) async fn hash(&self, password: String) -> Result<String> {
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
pub(super) fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password cannot be hashed: {e}")))
}

/// Whether `password` matches the PHC string `hash` (blocking).
pub(super) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The canonical name of a privilege, or `None` when it is not one fss knows.
pub(super) fn canonical_privilege(p: &str) -> Option<&'static str> {
    if p == PRIVILEGE_REST_API_ALIAS {
        return Some(PRIVILEGE_REST_API);
    }
    PRIVILEGES.iter().copied().find(|k| *k == p)
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
        assert!(!a.contains("pw$"));
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
        assert_eq!(
            canonical_privilege("rest-access-api"),
            Some("access-rest-api")
        );
        assert_eq!(
            canonical_privilege("access-rest-api"),
            Some("access-rest-api")
        );
        assert_eq!(canonical_privilege("root"), None);
    }
}
