//! The OAuth provider store: the client credentials of each provider of each connector
//! (`{"jira": {"JIRA": {"CLIENT_ID": "…", "CLIENT_SECRET": "…", …}}}`), loaded through the
//! admin API, kept sealed at rest, held in memory for `http` processes; and the cache of
//! the access tokens those processes obtain with them.
//!
//! Nothing of a provider but its two names ever leaves this module in an answer, a log
//! line, a record or a metric: [`Credentials`] prints as `<redacted>`, and the document
//! checks of [`OAuth::load`] name keys, never values.
//!
//! Reads ([`OAuth::credentials`]) take no lock but an `ArcSwap` load; changes are written
//! through to the registry (sealed with the keystore) before they are acknowledged, then
//! swapped in whole.

pub mod document;
pub mod tokens;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::store::keystore::Keystore;
use crate::store::registry::SealedProvider;
use crate::store::Registry;

pub use document::{LoadReport, LoadStatus};
pub use tokens::{AccessToken, TokenKey, Tokens};

/// The client credentials of one provider.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `CLIENT_ID`.
    pub client_id: String,
    /// `CLIENT_SECRET`.
    pub client_secret: String,
    /// Every other parameter of the provider, by name, as text.
    pub extra: BTreeMap<String, String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { <redacted> }")
    }
}

impl Credentials {
    /// The provider's document, as loaded: `CLIENT_ID`, `CLIENT_SECRET` and the extras.
    fn to_document(&self) -> Map<String, Value> {
        let mut m: Map<String, Value> = self
            .extra
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        m.insert("CLIENT_ID".into(), self.client_id.clone().into());
        m.insert("CLIENT_SECRET".into(), self.client_secret.clone().into());
        m
    }
}

/// A provider's key in the store: `(connector, provider)`.
pub type ProviderKey = (String, String);

/// The providers of one connector, by name (the list answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorProviders {
    /// The connector configuration name.
    pub connector: String,
    /// Its providers' names, sorted.
    pub providers: Vec<String>,
}

/// The OAuth provider store and the token cache of one runtime.
pub struct OAuth {
    /// Providers by key; loaded from the registry on first use.
    providers: OnceLock<ArcSwap<BTreeMap<ProviderKey, Arc<Credentials>>>>,
    registry: Arc<dyn Registry>,
    keystore: Arc<dyn Fn() -> Result<Keystore> + Send + Sync>,
    /// Serializes changes (load, delete) so that each is written and swapped whole.
    changes: Mutex<()>,
    /// Access tokens obtained with the providers' credentials.
    pub tokens: Tokens,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.providers.get().map(|p| p.load().len());
        f.debug_struct("OAuth")
            .field("providers", &n)
            .finish_non_exhaustive()
    }
}

/// What seals a provider's document: its two names, so that a sealed value copied to
/// another row does not open there.
fn context(connector: &str, provider: &str) -> Vec<u8> {
    format!("oauth\0{connector}\0{provider}").into_bytes()
}

impl OAuth {
    /// The store over `registry`, sealing with the key `keystore` opens (called at the
    /// first change or read, not before).
    pub(crate) fn new(
        registry: Arc<dyn Registry>,
        keystore: Arc<dyn Fn() -> Result<Keystore> + Send + Sync>,
    ) -> Self {
        OAuth {
            providers: OnceLock::new(),
            registry,
            keystore,
            changes: Mutex::new(()),
            tokens: Tokens::default(),
        }
    }

    /// Reads the stored providers unless that was done. Blocking (SQLite, the keystore).
    ///
    /// # Errors
    ///
    /// The registry cannot be read, or a stored provider does not open with the
    /// keystore's key.
    pub fn ensure_loaded(&self) -> Result<()> {
        if self.providers.get().is_some() {
            return Ok(());
        }
        let map = self.read_all()?;
        let _ = self.providers.set(ArcSwap::from_pointee(map));
        Ok(())
    }

    /// Reads the stored providers again, if they were read before (another instance
    /// changed them). Blocking.
    ///
    /// # Errors
    ///
    /// As [`OAuth::ensure_loaded`]; what is in memory stays then.
    pub(crate) fn reload(&self) -> Result<()> {
        let Some(current) = self.providers.get() else {
            return Ok(());
        };
        let _changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        current.store(Arc::new(self.read_all()?));
        Ok(())
    }

    fn read_all(&self) -> Result<BTreeMap<ProviderKey, Arc<Credentials>>> {
        let sealed = self.registry.oauth_providers()?;
        if sealed.is_empty() {
            return Ok(BTreeMap::new());
        }
        let keystore = (self.keystore)()?;
        let mut map = BTreeMap::new();
        for s in sealed {
            let plain = keystore.open(&s.sealed, &context(&s.connector, &s.provider))?;
            let doc: Map<String, Value> = serde_json::from_slice(&plain).map_err(|_| {
                Error::internal("a stored OAuth provider is not a JSON object once opened")
            })?;
            let creds = document::credentials_of(&doc).map_err(|_| {
                Error::internal("a stored OAuth provider lacks CLIENT_ID or CLIENT_SECRET")
            })?;
            map.insert((s.connector, s.provider), Arc::new(creds));
        }
        Ok(map)
    }

    fn current(&self) -> Result<Arc<BTreeMap<ProviderKey, Arc<Credentials>>>> {
        self.ensure_loaded()?;
        Ok(self
            .providers
            .get()
            .expect("ensure_loaded set the providers")
            .load_full())
    }

    /// The credentials of `provider` of `connector`, when loaded. Cheap after the first
    /// call (which reads the registry).
    ///
    /// # Errors
    ///
    /// The store could not be read.
    pub fn credentials(&self, connector: &str, provider: &str) -> Result<Option<Arc<Credentials>>> {
        let map = self.current()?;
        // BTreeMap<(String, String)> cannot be looked up by (&str, &str): scan the
        // connector's range instead of allocating a key.
        Ok(map
            .range((connector.to_owned(), String::new())..)
            .take_while(|((c, _), _)| c == connector)
            .find(|((_, p), _)| p == provider)
            .map(|(_, v)| Arc::clone(v)))
    }

    /// The connectors and their providers' names, sorted: names only.
    ///
    /// # Errors
    ///
    /// The store could not be read.
    pub fn list(&self) -> Result<Vec<ConnectorProviders>> {
        let map = self.current()?;
        let mut out: Vec<ConnectorProviders> = Vec::new();
        for (connector, provider) in map.keys() {
            match out.last_mut() {
                Some(last) if &last.connector == connector => last.providers.push(provider.clone()),
                _ => out.push(ConnectorProviders {
                    connector: connector.clone(),
                    providers: vec![provider.clone()],
                }),
            }
        }
        Ok(out)
    }

    /// Adds or updates every provider of `doc` (the ThingWorx shape), never deleting one;
    /// an invalid document is refused whole, every problem listed, nothing stored. The
    /// tokens of updated providers are dropped. Blocking.
    ///
    /// # Errors
    ///
    /// 400 listing every problem of the document (keys named, values never); the
    /// registry or the keystore failed.
    pub fn load(&self, doc: &Value) -> Result<LoadReport> {
        let parsed = document::parse(doc)?;
        let _guard = self
            .changes
            .lock()
            .expect("oauth change lock is never poisoned");
        let current = self.current()?;
        let keystore = (self.keystore)()?;
        let now = crate::clock::now_millis();
        let sealed: Vec<SealedProvider> = parsed
            .iter()
            .map(|(connector, provider, creds)| {
                let plain = serde_json::to_vec(&Value::Object(creds.to_document()))
                    .expect("a map of strings serializes");
                SealedProvider {
                    connector: connector.clone(),
                    provider: provider.clone(),
                    sealed: keystore.seal(&plain, &context(connector, provider)),
                    updated_ms: now,
                }
            })
            .collect();
        self.registry.put_oauth_providers(&sealed)?;
        let mut next = (*current).clone();
        let mut report = LoadReport::default();
        for (connector, provider, creds) in parsed {
            let key = (connector, provider);
            let status = if next.contains_key(&key) {
                self.tokens.drop_provider(&key.0, &key.1);
                LoadStatus::Updated
            } else {
                LoadStatus::Added
            };
            report
                .providers
                .push((key.0.clone(), key.1.clone(), status));
            next.insert(key, Arc::new(creds));
        }
        self.providers
            .get()
            .expect("current() loaded the providers")
            .store(Arc::new(next));
        Ok(report)
    }

    /// Deletes `provider` of `connector` and its tokens; whether it existed. The caller
    /// checks first that no mounted service uses it. Blocking.
    ///
    /// # Errors
    ///
    /// The registry failed.
    pub fn delete(&self, connector: &str, provider: &str) -> Result<bool> {
        let _guard = self
            .changes
            .lock()
            .expect("oauth change lock is never poisoned");
        let current = self.current()?;
        let key = (connector.to_owned(), provider.to_owned());
        if !current.contains_key(&key) {
            return Ok(false);
        }
        self.registry.delete_oauth_provider(connector, provider)?;
        let mut next = (*current).clone();
        next.remove(&key);
        self.providers
            .get()
            .expect("current() loaded the providers")
            .store(Arc::new(next));
        self.tokens.drop_provider(connector, provider);
        Ok(true)
    }
}
