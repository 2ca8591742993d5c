//! API keys: the credentials of callers of the incoming API (`/api/1/…`), issued by the
//! admin API to a user and checked on every call.
//!
//! A key is an HS256 JWT (`jsonwebtoken`) with the claims `sub` (the user id), `jti` (the
//! key id, a UUID), `iat`, `exp` and `iss: "fss"`, signed with the value of the keystore
//! alias [`PHIXFLOW_API_KEY`]. It is shown once, when it is issued; the registry keeps its
//! record only (id, user, name, times, revocation: `store::registry::ApiKey`), loaded into
//! memory with the users. A call is admitted when, in this order:
//!
//! 1. the header ([`RuntimeConfig::api_key_header`](crate::RuntimeConfig)) carries a key:
//!    `Authorization: Bearer <key>`, or the whole value of another configured header;
//! 2. its signature verifies with the current signing key, by HS256 alone (a token naming
//!    `none` or another algorithm is refused before any signature is computed);
//! 3. it has not expired (30 s of leeway for clocks, no more) and was issued by `fss`;
//! 4. its `jti` names a record that is not revoked and belongs to `sub`, a user that
//!    exists — 401 otherwise, with a message saying which check failed and never the
//!    token;
//! 5. the user holds `use-api-key` and `run-actions` — 403 naming what it lacks. Privileges
//!    are read on every call, so withdrawing one stops every key of the user at once.
//!
//! Verification is cheap (one HMAC-SHA256 and a JSON parse; no argon2, no disk): the
//! records are in memory and the signing key is cached. The cache is tagged with the
//! keystore's generation (`KeystoreFile::generation`), which every change made through the
//! keystore handle bumps (the admin API's `PUT` and `DELETE /api/keystore/…`): a call that
//! sees another generation re-reads the alias first, so a replacement takes effect on the
//! next call and every key signed with the old value stops verifying. An edit of the
//! keystore file behind fss's back is seen at the next start only.
//!
//! The signing key is created (32 random bytes, through `KeystoreFile::put`) when the
//! admin API is enabled or the alias is first needed and absent; deleting it through the
//! admin API therefore rotates it on next use. A value shorter than
//! [`MIN_API_KEY_SIGNING_BYTES`] (possible only by editing the file: the admin API refuses
//! one) is refused for issuing (409) and verifying (500, the cause logged).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{HeaderMap, HeaderName};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::credentials::{PRIVILEGE_REST_API, PRIVILEGE_RUN_ACTIONS, PRIVILEGE_USE_API_KEY};
use super::Directory;
use crate::error::{Error, Result};
use crate::store::keystore::{KeystoreFile, MIN_API_KEY_SIGNING_BYTES, PHIXFLOW_API_KEY};
use crate::store::registry::ApiKey;

/// The `iss` claim of every key fss issues, and the only one it accepts.
pub(crate) const ISSUER: &str = "fss";
/// The clock skew an expiry is allowed, in seconds.
pub(crate) const EXPIRY_LEEWAY_SECONDS: u64 = 30;
/// The name of a key when the request gives none.
pub(crate) const DEFAULT_KEY_NAME: &str = "default";
/// The lifetime of a key when the request gives none, in days.
pub(crate) const DEFAULT_EXPIRES_IN_DAYS: u32 = 90;
/// The longest lifetime a key may have, in days (ten years).
pub(crate) const MAX_EXPIRES_IN_DAYS: u32 = 3650;
/// The most keys one user may hold that are neither revoked nor expired.
pub(crate) const MAX_LIVE_KEYS_PER_USER: usize = 100;
/// The longest key accepted: far above what fss issues (about 300 bytes), so that a huge
/// header costs no base64 or HMAC work.
const MAX_TOKEN_BYTES: usize = 2048;
const MS_PER_DAY: i64 = 86_400_000;

/// Who called with a valid API key: what the incoming API records and authorizes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCaller {
    /// The user the key belongs to (its `sub`).
    pub user: Arc<str>,
    /// The key's id (its `jti`), for execution records and the runs it starts.
    pub key_id: String,
    /// The user holds `access-rest-api`: it may see every caller's runs.
    pub is_admin: bool,
}

/// The claims of a key.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    jti: String,
    iat: i64,
    exp: i64,
    iss: String,
}

/// The signing key as last read, with the keystore generation it was read under.
struct SigningKey {
    generation: u64,
    /// The value's length: shorter than [`MIN_API_KEY_SIGNING_BYTES`] is refused.
    len: usize,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// A key just issued: its record and the token, shown once.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) record: ApiKey,
    pub(crate) token: String,
}

/// The API keys of one runtime: their records and the cached signing key.
pub(crate) struct ApiKeys {
    keystore: Arc<KeystoreFile>,
    /// Where keys arrive; `Authorization` means `Bearer <key>`.
    header: HeaderName,
    /// Records by key id, revoked ones included. Held briefly, never across `.await`.
    records: Mutex<HashMap<String, ApiKey>>,
    /// Held briefly, never across `.await`.
    signing: Mutex<Option<Arc<SigningKey>>>,
    /// Serializes the creation of an absent signing key, so that two first uses do not
    /// each make one (the second would invalidate what the first signed). Held on the
    /// blocking pool only.
    creating: Arc<Mutex<()>>,
    validation: Validation,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("header", &self.header)
            .finish_non_exhaustive() // never the signing key
    }
}

impl ApiKeys {
    /// The keys of `records`, signed with the alias of `keystore`, arriving in `header`.
    pub(crate) fn new(
        keystore: Arc<KeystoreFile>,
        header: HeaderName,
        records: Vec<ApiKey>,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = EXPIRY_LEEWAY_SECONDS;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        ApiKeys {
            keystore,
            header,
            records: Mutex::new(records.into_iter().map(|k| (k.id.clone(), k)).collect()),
            signing: Mutex::new(None),
            creating: Arc::new(Mutex::new(())),
            validation,
        }
    }

    fn records(&self) -> MutexGuard<'_, HashMap<String, ApiKey>> {
        self.records
            .lock()
            .expect("API key lock is never poisoned: no code panics under it")
    }

    /// The cached signing key when it is still the keystore's.
    fn cached(&self) -> Option<Arc<SigningKey>> {
        let generation = self.keystore.generation();
        self.signing
            .lock()
            .expect("signing key lock is never poisoned: no code panics under it")
            .as_ref()
            .filter(|k| k.generation == generation)
            .map(Arc::clone)
    }

    fn remember(&self, generation: u64, value: &[u8]) -> Arc<SigningKey> {
        let key = Arc::new(SigningKey {
            generation,
            len: value.len(),
            encoding: EncodingKey::from_secret(value),
            decoding: DecodingKey::from_secret(value),
        });
        *self
            .signing
            .lock()
            .expect("signing key lock is never poisoned: no code panics under it") =
            Some(Arc::clone(&key));
        key
    }

    /// The signing key, from the cache, or read (and created when absent) on the blocking
    /// pool.
    async fn signing_key(&self) -> Result<Arc<SigningKey>> {
        if let Some(k) = self.cached() {
            return Ok(k);
        }
        let keystore = Arc::clone(&self.keystore);
        let creating = Arc::clone(&self.creating);
        let (generation, value) =
            tokio::task::spawn_blocking(move || read_or_create(&keystore, &creating))
                .await
                .map_err(Error::internal)??;
        Ok(self.remember(generation, &value))
    }

    /// Creates the signing key when it is absent (at start, when the admin API is
    /// enabled). Blocking.
    ///
    /// # Errors
    ///
    /// The keystore cannot be read or written.
    pub(crate) fn ensure_signing_key_blocking(&self) -> Result<()> {
        let (generation, value) = read_or_create(&self.keystore, &self.creating)?;
        self.remember(generation, &value);
        Ok(())
    }

    /// The key in the request's headers, before any of it is decoded.
    fn token<'h>(&self, headers: &'h HeaderMap) -> Result<&'h str> {
        let bearer = self.header == http::header::AUTHORIZATION;
        let Some(value) = headers.get(&self.header) else {
            return Err(Error::Unauthorized(if bearer {
                "an API key is required: send it as 'Authorization: Bearer <key>'".into()
            } else {
                format!(
                    "an API key is required: send it in the header {}",
                    self.header
                )
                .into()
            }));
        };
        let value = value
            .to_str()
            .map_err(|_| unauthorized("the API key is malformed: the header is not text"))?
            .trim();
        let token = if bearer {
            match value.split_once(' ') {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
                _ => {
                    return Err(unauthorized(
                        "the Authorization header does not carry an API key: send \
                         'Authorization: Bearer <key>'",
                    ))
                }
            }
        } else {
            value
        };
        if token.is_empty() {
            return Err(unauthorized("the API key is missing: the header is empty"));
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(unauthorized(
                "the API key is malformed: it is longer than any key fss issues",
            ));
        }
        Ok(token)
    }
}

/// The signing key's value with the generation it was read under, creating it with 32
/// random bytes when the alias is absent. Blocking.
fn read_or_create(keystore: &KeystoreFile, creating: &Mutex<()>) -> Result<(u64, Vec<u8>)> {
    // The generation is read before the value: a change in between leaves the cache
    // tagged older than what it holds, which costs one more read, never a stale key.
    let generation = keystore.generation();
    if let Some(v) = keystore.value(PHIXFLOW_API_KEY)? {
        return Ok((generation, v));
    }
    let _one = creating.lock().unwrap_or_else(|p| p.into_inner());
    let generation = keystore.generation();
    if let Some(v) = keystore.value(PHIXFLOW_API_KEY)? {
        return Ok((generation, v));
    }
    let mut value = vec![0u8; MIN_API_KEY_SIGNING_BYTES];
    aes_gcm::aead::rand_core::RngCore::fill_bytes(&mut aes_gcm::aead::OsRng, &mut value);
    // Another instance sharing the keystore may have made it a moment ago: its key is
    // the one then.
    let stored = keystore.value_or_put(PHIXFLOW_API_KEY, &value)?;
    if stored == value {
        tracing::info!(alias = PHIXFLOW_API_KEY, "API key signing key created.");
    }
    Ok((keystore.generation(), stored))
}

fn unauthorized(why: &'static str) -> Error {
    Error::Unauthorized(why.into())
}

/// The 401 of a token `jsonwebtoken` refused, saying which check failed.
fn refusal(kind: &ErrorKind) -> Error {
    unauthorized(match kind {
        ErrorKind::InvalidSignature => {
            "the API key's signature does not verify: it was not issued by this server, or \
             its signing key (keystore alias phixflow-api-key) was replaced since"
        }
        ErrorKind::ExpiredSignature => "the API key has expired",
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            "the API key is not signed with HS256, the only algorithm accepted"
        }
        ErrorKind::InvalidIssuer => "the API key was not issued by fss (its iss is not 'fss')",
        ErrorKind::MissingRequiredClaim(_) => {
            "the API key is malformed: it lacks one of the claims sub, jti, iat, exp, iss"
        }
        _ => {
            "the API key is malformed: it is not a JWT of this server (three base64url \
             parts separated by '.', a JSON header naming HS256 and the claims sub, jti, \
             iat, exp, iss)"
        }
    })
}

// === impl Directory ===

impl Directory {
    /// The caller of a request to the incoming API, by the API key in its headers.
    /// Cheap: nothing is hashed with argon2, nothing is read from disk (but the signing
    /// key, once, and after it is replaced).
    ///
    /// # Errors
    ///
    /// 401 when the key is missing, malformed, forged, expired, revoked or unknown, or its
    /// user is gone; 403 when the user lacks `use-api-key` or `run-actions`.
    pub(crate) async fn authenticate_api_key(&self, headers: &HeaderMap) -> Result<ApiCaller> {
        let keys = &self.api_keys;
        let token = keys.token(headers)?;
        let signing = keys.signing_key().await?;
        if signing.len < MIN_API_KEY_SIGNING_BYTES {
            return Err(Error::internal(format!(
                "the keystore alias {PHIXFLOW_API_KEY} has {} bytes, fewer than the \
                 {MIN_API_KEY_SIGNING_BYTES} an API key signing key needs: replace it with \
                 PUT /api/keystore/{PHIXFLOW_API_KEY}",
                signing.len
            )));
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &signing.decoding, &keys.validation)
            .map_err(|e| refusal(e.kind()))?
            .claims;
        let now_ms = crate::clock::now_millis();
        {
            let records = keys.records();
            let record = records.get(&claims.jti).ok_or_else(|| {
                unauthorized(
                    "the API key is not known to this server: its user was deleted, or it \
                     was issued with another registry",
                )
            })?;
            if record.revoked_ms.is_some() {
                return Err(unauthorized("the API key was revoked"));
            }
            if record.user_id != claims.sub {
                return Err(unauthorized("the API key's claims do not match its record"));
            }
            let leeway_ms = EXPIRY_LEEWAY_SECONDS as i64 * 1000;
            if record.expires_ms.saturating_add(leeway_ms) < now_ms {
                return Err(unauthorized("the API key has expired"));
            }
        }
        let users = self.users();
        let Some(user) = users.get(&claims.sub) else {
            return Err(unauthorized("the API key's user no longer exists"));
        };
        let lacks: Vec<&str> = [PRIVILEGE_USE_API_KEY, PRIVILEGE_RUN_ACTIONS]
            .into_iter()
            .filter(|p| !user.privileges.contains(*p))
            .collect();
        if !lacks.is_empty() {
            return Err(Error::Forbidden(
                format!(
                    "user '{}' may not run actions with an API key: it lacks the \
                     privilege{} '{}'",
                    user.id,
                    if lacks.len() > 1 { "s" } else { "" },
                    lacks.join("' and '")
                )
                .into(),
            ));
        }
        Ok(ApiCaller {
            user: Arc::from(user.id.as_str()),
            key_id: claims.jti,
            is_admin: user.privileges.contains(PRIVILEGE_REST_API),
        })
    }

    /// Issues a key to the user `user_id` (which must exist; the caller serializes this
    /// with user changes), named `name`, valid for `days` days; writes its record through
    /// to the registry before returning the token.
    ///
    /// # Errors
    ///
    /// 404 for an unknown user; 409 when the user holds [`MAX_LIVE_KEYS_PER_USER`] live
    /// keys or the signing key is too short; the keystore or the registry cannot be used.
    pub(crate) async fn issue_api_key(
        &self,
        user_id: &str,
        name: String,
        days: u32,
    ) -> Result<Issued> {
        if !self.users().contains_key(user_id) {
            return Err(Error::not_found(format!(
                "Could not find a user with id '{user_id}'."
            )));
        }
        let now_ms = crate::clock::now_millis();
        let live = self
            .api_keys
            .records()
            .values()
            .filter(|k| k.user_id == user_id && k.revoked_ms.is_none() && k.expires_ms > now_ms)
            .count();
        if live >= MAX_LIVE_KEYS_PER_USER {
            return Err(Error::conflict(format!(
                "user '{user_id}' holds {MAX_LIVE_KEYS_PER_USER} API keys that are neither \
                 revoked nor expired, the most it may; revoke one first"
            )));
        }
        let signing = self.api_keys.signing_key().await?;
        if signing.len < MIN_API_KEY_SIGNING_BYTES {
            return Err(Error::conflict(format!(
                "the keystore alias {PHIXFLOW_API_KEY} has {} bytes, fewer than the \
                 {MIN_API_KEY_SIGNING_BYTES} an API key signing key needs: replace it with \
                 PUT /api/keystore/{PHIXFLOW_API_KEY} before issuing keys",
                signing.len
            )));
        }
        let record = ApiKey {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            name,
            created_ms: now_ms,
            expires_ms: now_ms + i64::from(days) * MS_PER_DAY,
            revoked_ms: None,
        };
        let claims = Claims {
            sub: record.user_id.clone(),
            jti: record.id.clone(),
            iat: record.created_ms / 1000,
            exp: record.expires_ms / 1000,
            iss: ISSUER.to_owned(),
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &signing.encoding)
                .map_err(|e| Error::internal(format!("an API key cannot be signed: {e}")))?;
        let registry = Arc::clone(&self.registry);
        let r = record.clone();
        tokio::task::spawn_blocking(move || registry.insert_api_key(&r))
            .await
            .map_err(Error::internal)??;
        self.api_keys
            .records()
            .insert(record.id.clone(), record.clone());
        Ok(Issued { record, token })
    }

    /// The records of the keys of `user_id`, oldest first.
    pub(crate) fn api_keys_of(&self, user_id: &str) -> Vec<ApiKey> {
        let mut keys: Vec<ApiKey> = self
            .api_keys
            .records()
            .values()
            .filter(|k| k.user_id == user_id)
            .cloned()
            .collect();
        keys.sort_by(|a, b| {
            a.created_ms
                .cmp(&b.created_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        keys
    }

    /// Revokes the key `key_id` of `user_id`: it stops working at once. Returns whether
    /// the user has such a key (revoking one twice is no error).
    ///
    /// # Errors
    ///
    /// The registry cannot be written; nothing changed then.
    pub(crate) async fn revoke_api_key(&self, user_id: &str, key_id: &str) -> Result<bool> {
        match self.api_keys.records().get(key_id) {
            Some(k) if k.user_id == user_id => {
                if k.revoked_ms.is_some() {
                    return Ok(true);
                }
            }
            _ => return Ok(false),
        }
        let now_ms = crate::clock::now_millis();
        let registry = Arc::clone(&self.registry);
        let id = key_id.to_owned();
        tokio::task::spawn_blocking(move || registry.revoke_api_key(&id, now_ms))
            .await
            .map_err(Error::internal)??;
        if let Some(k) = self.api_keys.records().get_mut(key_id) {
            k.revoked_ms.get_or_insert(now_ms);
        }
        Ok(true)
    }

    /// Forgets the keys of a deleted user (the registry deleted their records with it).
    pub(super) fn forget_api_keys_of(&self, user_id: &str) {
        self.api_keys.records().retain(|_, k| k.user_id != user_id);
    }

    /// Replaces every API key record with `records` (another instance revoked or made
    /// one); returns whether anything changed.
    pub(super) fn replace_api_keys(&self, records: Vec<ApiKey>) -> bool {
        let fresh: HashMap<String, ApiKey> =
            records.into_iter().map(|k| (k.id.clone(), k)).collect();
        let mut current = self.api_keys.records();
        let changed = *current != fresh;
        if changed {
            *current = fresh;
        }
        changed
    }

    /// Creates the signing key when it is absent. Blocking.
    ///
    /// # Errors
    ///
    /// The keystore cannot be read or written.
    pub(crate) fn ensure_signing_key_blocking(&self) -> Result<()> {
        self.api_keys.ensure_signing_key_blocking()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use base64::Engine as _;
    use http::{HeaderValue, StatusCode};
    use serde_json::{json, Value};

    use super::*;
    use crate::store::registry::User;
    use crate::store::sqlite::SqliteRegistry;

    /// A directory on a fresh registry and keystore, with the users `bot` (both API
    /// privileges) and `weak` (none), the keys arriving in `header`.
    fn directory(dir: &std::path::Path, header: HeaderName) -> (Directory, Arc<KeystoreFile>) {
        let registry: Arc<dyn crate::store::Registry> = Arc::new(SqliteRegistry::new(dir));
        let keystore = Arc::new(KeystoreFile::in_data_dir(dir));
        let d = Directory::load(registry, Arc::clone(&keystore), header).unwrap();
        for (id, privileges) in [
            ("bot", &[PRIVILEGE_USE_API_KEY, PRIVILEGE_RUN_ACTIONS][..]),
            ("weak", &[][..]),
            ("half", &[PRIVILEGE_USE_API_KEY][..]),
        ] {
            d.save_blocking(User {
                id: id.into(),
                password_hash: "not a hash".into(),
                token_hash: None,
                first_name: None,
                last_name: None,
                privileges: privileges.iter().map(|p| (*p).to_owned()).collect(),
            })
            .unwrap();
        }
        (d, keystore)
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    /// The status and message of a refused key; asserts the message quotes none of it.
    async fn refused(d: &Directory, headers: &HeaderMap, token: &str) -> (StatusCode, String) {
        let e = d.authenticate_api_key(headers).await.unwrap_err();
        let msg = e.to_string();
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!msg.contains(part), "the message echoes the key: {msg}");
        }
        (e.status(), msg)
    }

    /// `claims` signed with `secret` under the header `header`.
    fn hand_made(header: &Value, claims: &Value, secret: &[u8]) -> String {
        use hmac::Mac as _;
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        let signing_input = format!("{}.{}", b64(header), b64(claims));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(signing_input.as_bytes());
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    fn claims_of(token: &str) -> Value {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn an_issued_key_authenticates_its_user_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let (d, _) = directory(dir.path(), http::header::AUTHORIZATION);
        let issued = d.issue_api_key("bot", "ci".into(), 90).await.unwrap();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(issued.token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "HS256");
        let claims = claims_of(&issued.token);
        assert_eq!(claims["sub"], "bot");
        assert_eq!(claims["jti"], issued.record.id.as_str());
        assert_eq!(claims["iss"], "fss");
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        assert_eq!(exp - iat, 90 * 86_400);

        let caller = d
            .authenticate_api_key(&bearer(&issued.token))
            .await
            .unwrap();
        assert_eq!(
            caller,
            ApiCaller {
                user: "bot".into(),
                key_id: issued.record.id.clone(),
                is_admin: false,
            }
        );
        // The scheme is case-insensitive.
        let mut lower = HeaderMap::new();
        lower.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("bearer {}", issued.token)).unwrap(),
        );
        assert!(d.authenticate_api_key(&lower).await.is_ok());

        assert!(d.revoke_api_key("bot", &issued.record.id).await.unwrap());
        assert!(
            d.revoke_api_key("bot", &issued.record.id).await.unwrap(),
            "twice is no error"
        );
        assert!(
            !d.revoke_api_key("weak", &issued.record.id).await.unwrap(),
            "not weak's"
        );
        let (status, msg) = refused(&d, &bearer(&issued.token), &issued.token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(msg.contains("revoked"), "{msg}");
    }

    #[tokio::test]
    async fn missing_malformed_forged_and_foreign_keys_are_401_saying_why() {
        let dir = tempfile::tempdir().unwrap();
        let (d, keystore) = directory(dir.path(), http::header::AUTHORIZATION);
        let issued = d.issue_api_key("bot", "ci".into(), 1).await.unwrap();
        let secret = keystore.value(PHIXFLOW_API_KEY).unwrap().unwrap();
        assert_eq!(secret.len(), 32, "created with 32 random bytes");
        let claims = claims_of(&issued.token);
        let hs256 = json!({"alg": "HS256", "typ": "JWT"});

        let (s, msg) = refused(&d, &HeaderMap::new(), "").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(msg.contains("Authorization: Bearer"), "{msg}");

        let mut basic = HeaderMap::new();
        basic.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Basic dTpw"),
        );
        let (_, msg) = refused(&d, &basic, "").await;
        assert!(msg.contains("does not carry an API key"), "{msg}");

        let (s, msg) = refused(&d, &bearer("not.a.key"), "not.a.key").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(msg.contains("malformed"), "{msg}");

        let forged = hand_made(&hs256, &claims, b"not-the-signing-key-of-this-server");
        let (s, msg) = refused(&d, &bearer(&forged), &forged).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(msg.contains("signature"), "{msg}");

        let mut past = claims.clone();
        past["exp"] = json!(crate::clock::now_millis() / 1000 - 120);
        let expired = hand_made(&hs256, &past, &secret);
        let (s, msg) = refused(&d, &bearer(&expired), &expired).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(msg.contains("expired"), "{msg}");
        // Within the 30 s of leeway it still works.
        let mut recent = claims.clone();
        recent["exp"] = json!(crate::clock::now_millis() / 1000 - 5);
        let recent = hand_made(&hs256, &recent, &secret);
        assert!(d.authenticate_api_key(&bearer(&recent)).await.is_ok());

        // alg none: unsigned, refused before anything is computed.
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims));
        let (s, _) = refused(&d, &bearer(&none), &none).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let hs512 = hand_made(&json!({"alg": "HS512"}), &claims, &secret);
        let (_, msg) = refused(&d, &bearer(&hs512), &hs512).await;
        assert!(msg.contains("HS256"), "{msg}");

        let mut other_iss = claims.clone();
        other_iss["iss"] = json!("someone-else");
        let other_iss = hand_made(&hs256, &other_iss, &secret);
        let (_, msg) = refused(&d, &bearer(&other_iss), &other_iss).await;
        assert!(msg.contains("iss"), "{msg}");

        let mut unknown = claims.clone();
        unknown["jti"] = json!(uuid::Uuid::new_v4().to_string());
        let unknown = hand_made(&hs256, &unknown, &secret);
        let (_, msg) = refused(&d, &bearer(&unknown), &unknown).await;
        assert!(msg.contains("not known"), "{msg}");

        // Bot's key id claimed by another user.
        let mut stolen = claims.clone();
        stolen["sub"] = json!("weak");
        let stolen = hand_made(&hs256, &stolen, &secret);
        let (_, msg) = refused(&d, &bearer(&stolen), &stolen).await;
        assert!(msg.contains("do not match"), "{msg}");

        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        let (s, _) = refused(&d, &bearer(&huge), "").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn privileges_are_checked_on_every_call() {
        let dir = tempfile::tempdir().unwrap();
        let (d, _) = directory(dir.path(), http::header::AUTHORIZATION);
        let weak = d.issue_api_key("weak", "w".into(), 90).await.unwrap();
        let (s, msg) = refused(&d, &bearer(&weak.token), &weak.token).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(msg.contains("'use-api-key' and 'run-actions'"), "{msg}");
        let half = d.issue_api_key("half", "h".into(), 90).await.unwrap();
        let (s, msg) = refused(&d, &bearer(&half.token), &half.token).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(
            msg.contains("privilege 'run-actions'") && !msg.contains("use-api-key'"),
            "{msg}"
        );

        // Granted: the same key works; the admin privilege shows in the caller.
        let mut user = d.users().get("weak").unwrap().clone();
        user.privileges = [
            PRIVILEGE_USE_API_KEY,
            PRIVILEGE_RUN_ACTIONS,
            PRIVILEGE_REST_API,
        ]
        .iter()
        .map(|p| (*p).to_owned())
        .collect::<BTreeSet<_>>();
        d.save(user.clone()).await.unwrap();
        let caller = d.authenticate_api_key(&bearer(&weak.token)).await.unwrap();
        assert!(caller.is_admin);
        // Withdrawn: it stops at once.
        user.privileges.remove(PRIVILEGE_RUN_ACTIONS);
        d.save(user).await.unwrap();
        let (s, _) = refused(&d, &bearer(&weak.token), &weak.token).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Deleted: its keys go with it.
        assert!(d.remove("weak").await.unwrap());
        let (s, _) = refused(&d, &bearer(&weak.token), &weak.token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(d.api_keys_of("weak").is_empty());
    }

    #[tokio::test]
    async fn another_header_carries_the_key_alone() {
        let dir = tempfile::tempdir().unwrap();
        let header = HeaderName::from_static("x-api-key");
        let (d, _) = directory(dir.path(), header.clone());
        let issued = d.issue_api_key("bot", "ci".into(), 90).await.unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header.clone(),
            HeaderValue::from_str(&issued.token).unwrap(),
        );
        assert!(d.authenticate_api_key(&h).await.is_ok());
        // Authorization is not read then.
        let (s, msg) = refused(&d, &bearer(&issued.token), &issued.token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(msg.contains("x-api-key"), "{msg}");
    }

    #[tokio::test]
    async fn a_replaced_signing_key_is_noticed_and_a_short_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (d, keystore) = directory(dir.path(), http::header::AUTHORIZATION);
        let old = d.issue_api_key("bot", "ci".into(), 90).await.unwrap();
        assert!(d.authenticate_api_key(&bearer(&old.token)).await.is_ok());
        keystore
            .put(PHIXFLOW_API_KEY, b"0123456789abcdef0123456789abcdef")
            .unwrap();
        let (s, msg) = refused(&d, &bearer(&old.token), &old.token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(msg.contains("signature"), "{msg}");
        let new = d.issue_api_key("bot", "ci".into(), 90).await.unwrap();
        assert!(d.authenticate_api_key(&bearer(&new.token)).await.is_ok());

        // Only an edit behind the admin API can make it short: refused both ways.
        keystore.put(PHIXFLOW_API_KEY, b"short").unwrap();
        let e = d.issue_api_key("bot", "ci".into(), 90).await.unwrap_err();
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert!(e.to_string().contains("32"), "{e}");
        let e = d
            .authenticate_api_key(&bearer(&new.token))
            .await
            .unwrap_err();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);

        // Deleted: a new one is made on next use, and the old keys are dead.
        assert!(keystore.delete(PHIXFLOW_API_KEY).unwrap());
        let (s, _) = refused(&d, &bearer(&new.token), &new.token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(keystore.value(PHIXFLOW_API_KEY).unwrap().unwrap().len(), 32);
    }

    #[tokio::test]
    async fn records_survive_a_reload_and_unknown_users_get_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let (d, _) = directory(dir.path(), http::header::AUTHORIZATION);
        let issued = d.issue_api_key("bot", "ci".into(), 90).await.unwrap();
        let e = d.issue_api_key("ghost", "x".into(), 90).await.unwrap_err();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        drop(d);
        let registry: Arc<dyn crate::store::Registry> = Arc::new(SqliteRegistry::new(dir.path()));
        let keystore = Arc::new(KeystoreFile::in_data_dir(dir.path()));
        let again = Directory::load(registry, keystore, http::header::AUTHORIZATION).unwrap();
        assert_eq!(again.api_keys_of("bot"), vec![issued.record]);
        assert!(again
            .authenticate_api_key(&bearer(&issued.token))
            .await
            .is_ok());
    }
}
