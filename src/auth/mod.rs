//! Authentication: the users of this server, the HTTP Basic login of the admin API and
//! of services with `"auth": {"basic": true}`, the client-certificate login of services
//! with `"auth": {"clientCertificate": …}` (`client_certificate`), and the API keys of the
//! incoming API (`api_key`: signed tokens, [`Auth::authenticate_api_key`]).
//!
//! Users (with their password and token hashes and privileges) and the records of their
//! API keys persist in the registry (`store::registry`); this module keeps them in memory,
//! loaded on first use, so that a check never touches the disk. It needs nothing of the admin API: a secured service
//! accepts the users of the registry whether or not the admin API (which edits them) is
//! enabled. How credentials are verified — argon2id hashes, tokens, the cache — is in
//! `credentials`.

pub(crate) mod api_key;
pub(crate) mod client_certificate;
pub(crate) mod credentials;
pub(crate) mod signature;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{HeaderMap, HeaderName};

use crate::error::{Error, Result};
use crate::store::keystore::KeystoreFile;
use crate::store::registry::{ApiKey, User};
use crate::store::Registry;
use api_key::ApiKeys;
use credentials::{Authenticator, Secrets};

pub use api_key::ApiCaller;
pub(crate) use credentials::random_secret;
pub use credentials::{
    PRIVILEGES, PRIVILEGE_FLOW_SERVICE, PRIVILEGE_METRICS, PRIVILEGE_REST_API,
    PRIVILEGE_REST_API_ALIAS, PRIVILEGE_RUN_ACTIONS, PRIVILEGE_USE_API_KEY,
};

/// The users of one runtime and their API keys, loaded from the registry on first use.
pub struct Auth {
    registry: Arc<dyn Registry>,
    /// Holds the API-key signing key (`phixflow-api-key`).
    keystore: Arc<KeystoreFile>,
    /// The header API keys arrive in (`--api-key-header`).
    api_key_header: HeaderName,
    directory: tokio::sync::OnceCell<Directory>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("loaded", &self.directory.initialized())
            .finish_non_exhaustive()
    }
}

/// The loaded users, the authenticator that checks their credentials, and their API keys.
pub(crate) struct Directory {
    registry: Arc<dyn Registry>,
    /// Held briefly, never across `.await`.
    users: Mutex<BTreeMap<String, User>>,
    authenticator: Authenticator,
    api_keys: ApiKeys,
}

impl Auth {
    /// The users of `registry`, their API keys signed with the alias of `keystore` and
    /// arriving in `api_key_header`; nothing is read until first use.
    pub(crate) fn new(
        registry: Arc<dyn Registry>,
        keystore: Arc<KeystoreFile>,
        api_key_header: HeaderName,
    ) -> Self {
        Auth {
            registry,
            keystore,
            api_key_header,
            directory: tokio::sync::OnceCell::new(),
        }
    }

    /// What loading the directory needs, owned (for the blocking pool).
    fn loader(&self) -> impl FnOnce() -> Result<Directory> + Send + 'static {
        let registry = Arc::clone(&self.registry);
        let keystore = Arc::clone(&self.keystore);
        let header = self.api_key_header.clone();
        move || Directory::load(registry, keystore, header)
    }

    /// The directory, loading it on first use; blocking (for start-up code that runs off
    /// the async workers).
    ///
    /// # Errors
    ///
    /// The registry cannot be read.
    pub(crate) fn open_blocking(&self) -> Result<&Directory> {
        if let Some(d) = self.directory.get() {
            return Ok(d);
        }
        let d = self.loader()()?;
        // A concurrent first use loaded it too: either copy is the registry's state.
        let _ = self.directory.set(d);
        Ok(self
            .directory
            .get()
            .expect("the directory was set just above"))
    }

    /// The directory, loading it on the blocking pool on first use.
    ///
    /// # Errors
    ///
    /// The registry cannot be read (the cause is logged; the error says only that).
    pub(crate) async fn open(&self) -> Result<&Directory> {
        self.directory
            .get_or_try_init(|| async {
                tokio::task::spawn_blocking(self.loader())
                    .await
                    .map_err(Error::internal)?
                    .map_err(|e| {
                        tracing::error!(error = %e, "Users cannot be loaded.");
                        Error::internal("the users of this server cannot be loaded")
                    })
            })
            .await
    }

    /// Checks the HTTP Basic credentials of a request to the service named `service`,
    /// which requires them; returns the verified user id. Credentials verified before are
    /// answered from the cache, without hashing. Runs before the body is read.
    ///
    /// # Errors
    ///
    /// 401 without valid credentials, 403 when the user holds neither `flow-service` nor
    /// `flow-service:{service}`.
    pub(crate) async fn authorize_service(
        &self,
        service: &str,
        headers: &HeaderMap,
    ) -> Result<Arc<str>> {
        let directory = self.open().await?;
        let user = directory
            .authenticate(headers, || {
                Error::Unauthorized(
                    format!(
                        "service '{service}' requires authentication: send HTTP Basic \
                         credentials (user and password or token) of a user holding the \
                         privilege '{PRIVILEGE_FLOW_SERVICE}' or \
                         '{PRIVILEGE_FLOW_SERVICE}:{service}'"
                    )
                    .into(),
                )
            })
            .await?;
        let allowed = directory
            .users()
            .get(&*user)
            .is_some_and(|u| credentials::may_call(u, service));
        if !allowed {
            return Err(Error::Forbidden(
                format!(
                    "user '{user}' may not call service '{service}': it holds neither \
                     '{PRIVILEGE_FLOW_SERVICE}' nor '{PRIVILEGE_FLOW_SERVICE}:{service}'"
                )
                .into(),
            ));
        }
        Ok(user)
    }

    /// Makes the users and API keys in memory those of `users` and `api_keys`, as just
    /// read from a registry that other instances write: a user or key they changed works
    /// (or stops working) here now. Verified credentials are forgotten only when a user
    /// changed. Nothing happens before the users were first loaded.
    pub(crate) fn refresh(&self, users: Vec<User>, api_keys: Vec<ApiKey>) {
        let Some(d) = self.directory.get() else {
            return;
        };
        let fresh: BTreeMap<String, User> = users.into_iter().map(|u| (u.id.clone(), u)).collect();
        let users_changed = {
            let mut current = d.users();
            let changed = *current != fresh;
            if changed {
                *current = fresh;
            }
            changed
        };
        let keys_changed = d.replace_api_keys(api_keys);
        if users_changed {
            d.authenticator.forget_all();
        }
        if users_changed || keys_changed {
            tracing::debug!(
                users_changed,
                keys_changed,
                "Users reloaded from the registry."
            );
        }
    }

    /// The caller of a request to the incoming API, by its API key (see `api_key` for
    /// every check, in order). Async because the first call loads the users and the
    /// signing key on the blocking pool; after that it never blocks, hashes with argon2
    /// or touches the disk, and runs before the body is read.
    ///
    /// # Errors
    ///
    /// 401 ([`Error::Unauthorized`]) when the key is missing, malformed, forged, expired,
    /// revoked or unknown, or its user is gone; 403 ([`Error::Forbidden`]) when the user
    /// lacks `use-api-key` or `run-actions` (checked on every call). Every message says
    /// which, and none quotes the key.
    pub async fn authenticate_api_key(&self, headers: &HeaderMap) -> Result<ApiCaller> {
        self.open().await?.authenticate_api_key(headers).await
    }
}

impl Directory {
    fn load(
        registry: Arc<dyn Registry>,
        keystore: Arc<KeystoreFile>,
        api_key_header: HeaderName,
    ) -> Result<Self> {
        let loaded = registry.load()?;
        let users = loaded
            .users
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        Ok(Directory {
            registry,
            users: Mutex::new(users),
            authenticator: Authenticator::new()?,
            api_keys: ApiKeys::new(keystore, api_key_header, loaded.api_keys),
        })
    }

    /// The users, by id.
    pub(crate) fn users(&self) -> MutexGuard<'_, BTreeMap<String, User>> {
        self.users
            .lock()
            .expect("users lock is never poisoned: no code panics under it")
    }

    /// How many users may use the admin API.
    pub(crate) fn admins(&self) -> usize {
        self.users()
            .values()
            .filter(|u| u.privileges.contains(PRIVILEGE_REST_API))
            .count()
    }

    /// The user the request's Basic credentials belong to; `missing` is the error when
    /// it sends none.
    ///
    /// # Errors
    ///
    /// 401 when the header is missing, malformed, or the user or password is wrong.
    pub(crate) async fn authenticate(
        &self,
        headers: &HeaderMap,
        missing: impl FnOnce() -> Error,
    ) -> Result<Arc<str>> {
        self.authenticator
            .authenticate(headers, missing, |id| self.users().get(id).map(Secrets::of))
            .await
    }

    /// The admin API's check: valid credentials of a user holding `access-rest-api`.
    ///
    /// # Errors
    ///
    /// 401 without valid credentials, 403 without the privilege.
    pub(crate) async fn authenticate_admin(&self, headers: &HeaderMap) -> Result<Arc<str>> {
        self.authenticate_holding(headers, &[PRIVILEGE_REST_API])
            .await
    }

    /// As [`Directory::authenticate_admin`], for the metrics scrape: a user holding
    /// `metrics` (a read-only scrape user) or `access-rest-api` may read them.
    ///
    /// # Errors
    ///
    /// 401 without valid credentials; 403 without either privilege.
    pub(crate) async fn authenticate_scraper(&self, headers: &HeaderMap) -> Result<Arc<str>> {
        self.authenticate_holding(headers, &[PRIVILEGE_METRICS, PRIVILEGE_REST_API])
            .await
    }

    /// The verified user of `headers`, when it holds one of `privileges` (the first is
    /// the one the errors name).
    async fn authenticate_holding(
        &self,
        headers: &HeaderMap,
        privileges: &[&str],
    ) -> Result<Arc<str>> {
        let named = privileges.first().copied().unwrap_or(PRIVILEGE_REST_API);
        let user = self
            .authenticate(headers, || {
                Error::Unauthorized(
                    format!(
                        "credentials are required: send HTTP Basic credentials of a user \
                         holding the privilege '{named}'"
                    )
                    .into(),
                )
            })
            .await?;
        self.require(&user, privileges)?;
        Ok(user)
    }

    /// That `user` (already verified, e.g. by a console session) still exists and holds
    /// one of `privileges` (the first is the one the error names).
    ///
    /// # Errors
    ///
    /// 403 when it does not.
    pub(crate) fn require(&self, user: &str, privileges: &[&str]) -> Result<()> {
        let named = privileges.first().copied().unwrap_or(PRIVILEGE_REST_API);
        let allowed = self
            .users()
            .get(user)
            .is_some_and(|u| privileges.iter().any(|p| u.privileges.contains(*p)));
        if allowed {
            Ok(())
        } else {
            Err(Error::Forbidden(
                format!("user '{user}' does not hold the privilege '{named}'").into(),
            ))
        }
    }

    /// The privileges `user` holds, sorted; empty for an unknown user.
    pub(crate) fn privileges_of(&self, user: &str) -> Vec<String> {
        let mut held: Vec<String> = self
            .users()
            .get(user)
            .map(|u| u.privileges.iter().cloned().collect())
            .unwrap_or_default();
        held.sort();
        held
    }

    /// Hashes a new password or token within the hashing budget.
    ///
    /// # Errors
    ///
    /// The hash could not be made.
    pub(crate) async fn hash(&self, password: String) -> Result<String> {
        self.authenticator.hash(password).await
    }

    /// Writes `user` through to the registry, then to memory; forgets every verified
    /// credential. Blocking.
    ///
    /// # Errors
    ///
    /// The registry cannot be written; nothing changed then.
    pub(crate) fn save_blocking(&self, user: User) -> Result<()> {
        self.registry.put_user(&user)?;
        self.users().insert(user.id.clone(), user);
        self.authenticator.forget_all();
        Ok(())
    }

    /// [`Directory::save_blocking`] on the blocking pool.
    ///
    /// # Errors
    ///
    /// The registry cannot be written; nothing changed then.
    pub(crate) async fn save(&self, user: User) -> Result<()> {
        let registry = Arc::clone(&self.registry);
        let u = user.clone();
        tokio::task::spawn_blocking(move || registry.put_user(&u))
            .await
            .map_err(Error::internal)??;
        self.users().insert(user.id.clone(), user);
        self.authenticator.forget_all();
        Ok(())
    }

    /// Deletes the user `id` and its API keys (they stop working at once); returns
    /// whether it existed.
    ///
    /// # Errors
    ///
    /// The registry cannot be written; nothing changed then.
    pub(crate) async fn remove(&self, id: &str) -> Result<bool> {
        let registry = Arc::clone(&self.registry);
        let owned = id.to_owned();
        let existed = tokio::task::spawn_blocking(move || registry.delete_user(&owned))
            .await
            .map_err(Error::internal)??;
        self.users().remove(id);
        self.forget_api_keys_of(id);
        self.authenticator.forget_all();
        Ok(existed)
    }
}
