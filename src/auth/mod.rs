//! Authentication: the users of this server, the HTTP Basic login of the admin API and
//! of services with `"auth": {"basic": true}`, and the client-certificate login of
//! services with `"auth": {"clientCertificate": …}` (`client_certificate`).
//!
//! Users (with their password and token hashes and privileges) persist in the registry
//! (`store::registry`); this module keeps them in memory, loaded on first use, so that a
//! check never touches the disk. It needs nothing of the admin API: a secured service
//! accepts the users of the registry whether or not the admin API (which edits them) is
//! enabled. How credentials are verified — argon2id hashes, tokens, the cache — is in
//! `credentials`.

pub(crate) mod client_certificate;
pub(crate) mod credentials;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use http::HeaderMap;

use crate::error::{Error, Result};
use crate::store::registry::User;
use crate::store::Registry;
use credentials::{Authenticator, Secrets};

pub use credentials::{
    PRIVILEGES, PRIVILEGE_FLOW_SERVICE, PRIVILEGE_REST_API, PRIVILEGE_REST_API_ALIAS,
};

/// The users of one runtime, loaded from the registry on first use.
pub struct Auth {
    registry: Arc<dyn Registry>,
    directory: tokio::sync::OnceCell<Directory>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("loaded", &self.directory.initialized())
            .finish_non_exhaustive()
    }
}

/// The loaded users and the authenticator that checks their credentials.
pub(crate) struct Directory {
    registry: Arc<dyn Registry>,
    /// Held briefly, never across `.await`.
    users: Mutex<BTreeMap<String, User>>,
    authenticator: Authenticator,
}

impl Auth {
    /// The users of `registry`; nothing is read until first use.
    pub(crate) fn new(registry: Arc<dyn Registry>) -> Self {
        Auth {
            registry,
            directory: tokio::sync::OnceCell::new(),
        }
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
        let d = Directory::load(Arc::clone(&self.registry))?;
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
                let registry = Arc::clone(&self.registry);
                tokio::task::spawn_blocking(move || Directory::load(registry))
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
}

impl Directory {
    fn load(registry: Arc<dyn Registry>) -> Result<Self> {
        let users = registry
            .load()?
            .users
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        Ok(Directory {
            registry,
            users: Mutex::new(users),
            authenticator: Authenticator::new()?,
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
        let user = self
            .authenticate(headers, || {
                Error::Unauthorized(
                    "credentials are required: send HTTP Basic credentials of a user \
                     holding the privilege 'access-rest-api'"
                        .into(),
                )
            })
            .await?;
        let allowed = self
            .users()
            .get(&*user)
            .is_some_and(|u| u.privileges.contains(PRIVILEGE_REST_API));
        if !allowed {
            return Err(Error::Forbidden(
                format!("user '{user}' does not hold the privilege '{PRIVILEGE_REST_API}'").into(),
            ));
        }
        Ok(user)
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

    /// Deletes the user `id`; returns whether it existed.
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
        self.authenticator.forget_all();
        Ok(existed)
    }
}
