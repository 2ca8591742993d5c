//! The cache of access tokens obtained with the providers' credentials: one slot per
//! (provider, token endpoint, scope), so that concurrent first calls wait for one token
//! request instead of each making its own, and a token is reused until shortly before it
//! expires.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a cached token is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// The connector configuration name.
    pub connector: String,
    /// The provider name.
    pub provider: String,
    /// The token endpoint.
    pub token_url: String,
    /// The scope asked for (`""` for none).
    pub scope: String,
}

/// An access token and when to stop using it.
#[derive(Clone)]
pub struct AccessToken {
    /// The token, sent as `Authorization: Bearer …`.
    pub value: String,
    /// When it is no longer used (its expiry less a margin); `None`: until refused.
    pub expires_at: Option<Instant>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl AccessToken {
    /// Whether the token may still be used at `now`.
    pub fn is_fresh(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

/// One cache slot: held (async) while its token is fetched, so that one caller fetches
/// and the others wait for its result.
pub type TokenSlot = Arc<tokio::sync::Mutex<Option<AccessToken>>>;

/// The token cache of one runtime.
#[derive(Debug, Default)]
pub struct Tokens {
    slots: Mutex<HashMap<TokenKey, TokenSlot>>,
}

impl Tokens {
    /// The slot of `key`, created empty when there is none.
    pub fn slot(&self, key: &TokenKey) -> TokenSlot {
        let mut slots = self
            .slots
            .lock()
            .expect("token cache lock is never poisoned");
        if let Some(s) = slots.get(key) {
            return Arc::clone(s);
        }
        let s = TokenSlot::default();
        slots.insert(key.clone(), Arc::clone(&s));
        s
    }

    /// Drops every token of `provider` of `connector`; how many slots held one.
    pub fn drop_provider(&self, connector: &str, provider: &str) -> usize {
        let mut slots = self
            .slots
            .lock()
            .expect("token cache lock is never poisoned");
        let before = slots.len();
        slots.retain(|k, _| !(k.connector == connector && k.provider == provider));
        before - slots.len()
    }

    /// How many slots the cache holds (tests, metrics).
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .expect("token cache lock is never poisoned")
            .len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
