//! The keystore: named secrets ("aliases") in one file, each sealed with the file's master
//! key; and AES-256-GCM sealing of small secrets with a 256-bit key ([`Keystore`]).
//!
//! # The file
//!
//! `<data>/keystore.key` by default (`--keystore FILE`, `FSS_KEYSTORE` moves it), mode
//! 0600, a small JSON document:
//!
//! ```json
//! {
//!   "version": 1,
//!   "masterKey": "<base64 of 32 random bytes>",
//!   "aliases": {
//!     "exchange-admin-key": "fss:v1:…",
//!     "oauth-admin-key": "fss:v1:…"
//!   }
//! }
//! ```
//!
//! Every alias value is sealed with the master key, its alias name the context, so that a
//! value copied under another name does not open there. Two aliases are built in, created
//! with the file: `oauth-admin-key` (32 random bytes; seals the OAuth providers of the
//! registry) and `exchange-admin-key` (32 random bytes; seals the Password properties of
//! the tables). A third is made by fss when it is first needed, but is the operator's to
//! replace: [`PHIXFLOW_API_KEY`], the HMAC key that signs API keys (32 random bytes; a
//! replacement must have at least [`MIN_API_KEY_SIGNING_BYTES`], and invalidates every
//! API key). Other aliases are the operator's (`PUT /api/keystore/{alias}`).
//!
//! Invariants:
//! - The file is created once, on first use when there is none. After that nothing is
//!   ever recreated: a built-in alias that went missing stays missing, and what uses it
//!   fails with an internal error whose log text names its FLOW-KEY code, since a new key
//!   would orphan for good every secret the old one sealed. The connection test reports
//!   it too.
//! - A file that group or others may access, that is not a regular file, or that is not a
//!   keystore document is refused with a message saying what is wrong; it is never
//!   replaced behind the operator's back. Messages name the file by its file name only
//!   (they may reach a deployment's answer) and never carry a key or a value.
//! - Every change made through [`KeystoreFile`] bumps its [`generation`]
//!   (`KeystoreFile::generation`), so that what caches an opened value (the API-key
//!   signing key) notices a replacement with one atomic load, without reading the file.
//! - Every write is atomic: the whole document goes to a temp file (mode 0600) in the
//!   same folder, is synced, then renamed (or, on creation, linked) into place, and the
//!   folder is synced. Writes of one runtime are serialized by [`KeystoreFile`].
//! - A legacy keystore (32 raw bytes, fss before aliases) is upgraded in place: the raw
//!   key becomes the master key and the value of `exchange-admin-key`, so Password values
//!   sealed under it still open; `oauth-admin-key` is created.
//!
//! Losing the file loses the secrets; back it up with the data folder, but apart from
//! copies of the databases.
//!
//! # Sealed values
//!
//! A sealed value is text: [`PREFIX`] then the base64 of a fresh random 96-bit nonce
//! followed by the ciphertext and its 128-bit tag. The caller's `context` (for tables: the
//! table and the property) is authenticated with it, so that a sealed value copied into
//! another column does not open there.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use aes_gcm::aead::{Aead, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, KeyInit};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// The keystore's file name inside the data folder (unless `--keystore` moves it).
pub(crate) const KEYSTORE_FILE: &str = "keystore.key";
/// The size of a key: AES-256.
pub(crate) const KEY_BYTES: usize = 32;
/// What every sealed value starts with; the version names the cipher and the layout.
pub(crate) const PREFIX: &str = "fss:v1:";
/// The nonce size of AES-GCM: 96 bits, random per sealed value.
const NONCE_BYTES: usize = 12;
/// The file mode of the keystore: read and write by its owner only.
#[cfg(unix)]
const MODE: u32 = 0o600;
/// The `version` of the document this build writes and reads.
const FORMAT_VERSION: u64 = 1;

/// The built-in alias whose key seals the OAuth providers of the registry.
pub(crate) const OAUTH_ADMIN_KEY: &str = "oauth-admin-key";
/// The built-in alias whose key seals the Password properties of the tables.
pub(crate) const EXCHANGE_ADMIN_KEY: &str = "exchange-admin-key";
/// The alias whose value signs API keys (HS256): created with 32 random bytes when it is
/// first needed, replaceable through the admin API; a replacement invalidates every key.
pub(crate) const PHIXFLOW_API_KEY: &str = "phixflow-api-key";
/// The fewest bytes the value of [`PHIXFLOW_API_KEY`] may have (P11): an HMAC key shorter
/// than its hash's output weakens it.
pub(crate) const MIN_API_KEY_SIGNING_BYTES: usize = 32;
/// The longest alias name, in bytes.
pub(crate) const MAX_ALIAS_BYTES: usize = 128;
/// The largest alias value, in bytes.
pub(crate) const MAX_VALUE_BYTES: usize = 8192;
/// The most aliases one keystore holds: bounds the file (about 3 MiB at most).
pub(crate) const MAX_ALIASES: usize = 256;
/// The largest file read as a keystore: above what [`MAX_ALIASES`] values can fill.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// A built-in alias: created with the file, never replaced or deleted through the API.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Builtin {
    /// The alias name.
    pub(crate) alias: &'static str,
    /// The connection test's code when the alias is absent.
    pub(crate) absent_code: &'static str,
    /// What its key seals, for messages.
    pub(crate) seals: &'static str,
}

/// The built-in aliases, in the order the connection test checks them.
pub(crate) const BUILTINS: [Builtin; 2] = [
    Builtin {
        alias: OAUTH_ADMIN_KEY,
        absent_code: "FLOW-KEY-01",
        seals: "the OAuth providers",
    },
    Builtin {
        alias: EXCHANGE_ADMIN_KEY,
        absent_code: "FLOW-KEY-02",
        seals: "the Password properties of the tables",
    },
];

/// The built-in alias named `alias`, if it is one.
pub(crate) fn builtin(alias: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.alias == alias)
}

/// Whether `alias` may name an alias: 1 to [`MAX_ALIAS_BYTES`] of letters, digits, `.`,
/// `_`, `-` (names appear in URLs of the admin API).
pub(crate) fn valid_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias.len() <= MAX_ALIAS_BYTES
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

// === impl Keystore ===

/// A cipher over one 256-bit key, ready to seal and open values.
#[derive(Clone)]
pub(crate) struct Keystore {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Keystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keystore { .. }") // never the key
    }
}
impl Keystore {
    /// A keystore over `key` (tests and callers that hold a key already).
    pub(crate) fn from_key(key: &[u8; KEY_BYTES]) -> Self {
        Keystore {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// Seals `plaintext`, bound to `context`, as text: [`PREFIX`] + base64(nonce ||
    /// ciphertext || tag).
    pub(crate) fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("AES-GCM encrypts any message shorter than 64 GiB");
        let mut raw = Vec::with_capacity(NONCE_BYTES + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        let mut out = String::with_capacity(PREFIX.len() + raw.len() * 4 / 3 + 4);
        out.push_str(PREFIX);
        base64::engine::general_purpose::STANDARD.encode_string(raw, &mut out);
        out
    }

    /// Opens a value [`Keystore::seal`] made with the same `context`.
    ///
    /// # Errors
    ///
    /// The text is not a sealed value, or it was sealed with another key or context, or
    /// it was altered. The message names none of the value.
    pub(crate) fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>> {
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| Error::internal("keystore: the value is not a sealed value"))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| Error::internal("keystore: a sealed value is not valid base64"))?;
        if raw.len() < NONCE_BYTES {
            return Err(Error::internal("keystore: a sealed value is truncated"));
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| {
                Error::internal(
                    "keystore: a sealed value does not open with this data folder's key \
                     (was keystore.key replaced?)",
                )
            })
    }
}

// === impl KeystoreFile ===

/// The keystore file of one runtime: read (or created) on first use, then held in memory
/// and shared by everything that needs a key or an alias. Changes are written through to
/// the file before they are acknowledged, one at a time.
pub(crate) struct KeystoreFile {
    path: PathBuf,
    /// The document as last read or written; `None` until first use. Held while a change
    /// is written (blocking I/O: callers are off the async workers), briefly otherwise.
    doc: Mutex<Option<Document>>,
    /// Bumped (under `doc`) by every change written; read without a lock by caches of
    /// opened values.
    generation: AtomicU64,
}

impl fmt::Debug for KeystoreFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreFile")
            .field("path", &self.path)
            .finish_non_exhaustive() // never a key
    }
}

impl KeystoreFile {
    /// The keystore at `path`; nothing is read until first use.
    pub(crate) fn new(path: PathBuf) -> Self {
        KeystoreFile {
            path,
            doc: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// The keystore at its default place in `data_dir`.
    pub(crate) fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join(KEYSTORE_FILE))
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// How many changes were written through this handle: a value read under an older
    /// generation may have been replaced since. Never blocks.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Runs `f` on the document, reading or creating the file first when this is the
    /// first use. Blocking.
    fn with<T>(&self, f: impl FnOnce(&mut Document) -> Result<T>) -> Result<T> {
        // Nothing panics under this lock but the OS calls of a write, after which the
        // document in memory is still the one on disk: a poisoned lock is taken over.
        let mut guard = self.doc.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(open_or_create(&self.path)?);
        }
        f(guard.as_mut().expect("read or created just above"))
    }

    /// Runs the change `f` on the document as the file holds it now: under an exclusive
    /// `flock` of the keystore's folder, the file is read again first, so that instances sharing
    /// one keystore (`--files-dir` with `--database`) never write over each other's
    /// changes. The cache takes the document as written (the generation moves when it
    /// differs from what was cached). Blocking.
    fn with_write<T>(&self, f: impl FnOnce(&mut Document) -> Result<T>) -> Result<T> {
        let mut guard = self.doc.lock().unwrap_or_else(|p| p.into_inner());
        // The folder is locked, not a file: the keystore file is replaced by a rename
        // (a lock on it would stay with the old file), and no lock file is left beside it.
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let lock = std::fs::File::open(&dir)
            .map_err(|e| Error::io("the keystore folder could not be opened", &e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| Error::io("the keystore could not be locked", &e.into()))?;
        let mut fresh = open_or_create(&self.path)?;
        if guard
            .as_ref()
            .is_some_and(|cached| cached.to_bytes() != fresh.to_bytes())
        {
            self.generation.fetch_add(1, Ordering::Release);
        }
        let out = f(&mut fresh);
        *guard = Some(fresh);
        out
        // The flock is released when `lock` is dropped (closed).
    }

    /// The value of `alias`, storing `value` under it first when the file has none: the
    /// way a key made on demand is created once, whichever instance sharing the keystore
    /// gets there first. Blocking.
    ///
    /// # Errors
    ///
    /// As [`KeystoreFile::put`].
    pub(crate) fn value_or_put(&self, alias: &str, value: &[u8]) -> Result<Vec<u8>> {
        if let Some(v) = self.value(alias)? {
            return Ok(v);
        }
        check_alias(alias)?;
        self.with_write(|doc| {
            if doc.aliases.contains_key(alias) {
                return doc.reveal(alias);
            }
            let mut next = doc.clone();
            let sealed = next.master.seal(value, alias.as_bytes());
            next.aliases.insert(alias.to_owned(), sealed);
            write(&self.path, &next, Placement::Replace)
                .map_err(|e| Error::io("the keystore could not be written", &e))?;
            *doc = next;
            self.generation.fetch_add(1, Ordering::Release);
            Ok(value.to_vec())
        })
    }

    /// Reads the file, or creates it when there is none (the first start). Blocking.
    ///
    /// # Errors
    ///
    /// What [`inspect`] reports, as an internal error; or the file cannot be created.
    pub(crate) fn ensure_open(&self) -> Result<()> {
        self.with(|_| Ok(()))
    }

    /// The cipher over the 256-bit key of `alias` (a built-in alias). Blocking on first
    /// use.
    ///
    /// # Errors
    ///
    /// The file cannot be used; the alias is absent (the log text names its FLOW-KEY
    /// code), does not open with the master key, or is not a 256-bit key.
    pub(crate) fn key(&self, alias: &str) -> Result<Keystore> {
        self.with(|doc| {
            let raw = doc.reveal(alias)?;
            let key: [u8; KEY_BYTES] = raw.try_into().map_err(|_| {
                Error::internal(format!(
                    "the alias {alias} of the keystore {} is not a 256-bit key [FLOW-KEY-04]",
                    doc.name
                ))
            })?;
            Ok(Keystore::from_key(&key))
        })
    }

    /// The value of `alias`, opened; `None` when the keystore has no such alias. For the
    /// secrets users store (webhook secrets, signing keys); never shown. Blocking on first
    /// use.
    ///
    /// # Errors
    ///
    /// The file cannot be used, or the value does not open with the master key.
    pub(crate) fn value(&self, alias: &str) -> Result<Option<Vec<u8>>> {
        self.with(|doc| {
            if doc.aliases.contains_key(alias) {
                doc.reveal(alias).map(Some)
            } else {
                Ok(None)
            }
        })
    }

    /// The alias names, sorted: names only.
    ///
    /// # Errors
    ///
    /// The file cannot be used.
    pub(crate) fn aliases(&self) -> Result<Vec<String>> {
        self.with(|doc| Ok(doc.aliases.keys().cloned().collect()))
    }

    /// Stores `value` under `alias`, replacing any value it had. Blocking.
    ///
    /// # Errors
    ///
    /// 400 for a name that is not an alias name or a value outside 1 to
    /// [`MAX_VALUE_BYTES`] bytes (the message never quotes it); 409 for a built-in alias,
    /// or a new alias past [`MAX_ALIASES`]; the file cannot be used or written.
    pub(crate) fn put(&self, alias: &str, value: &[u8]) -> Result<()> {
        check_alias(alias)?;
        if value.is_empty() || value.len() > MAX_VALUE_BYTES {
            return Err(Error::bad_request(format!(
                "the value of an alias must have 1 to {MAX_VALUE_BYTES} bytes; it has {}",
                value.len()
            )));
        }
        refuse_builtin(alias)?;
        self.with_write(|doc| {
            if !doc.aliases.contains_key(alias) && doc.aliases.len() >= MAX_ALIASES {
                return Err(Error::conflict(format!(
                    "the keystore holds {MAX_ALIASES} aliases, the most it may; delete one \
                     first"
                )));
            }
            let mut next = doc.clone();
            let sealed = next.master.seal(value, alias.as_bytes());
            next.aliases.insert(alias.to_owned(), sealed);
            write(&self.path, &next, Placement::Replace)
                .map_err(|e| Error::io("the keystore could not be written", &e))?;
            *doc = next;
            self.generation.fetch_add(1, Ordering::Release);
            Ok(())
        })
    }

    /// Deletes `alias`; whether it existed. Blocking.
    ///
    /// # Errors
    ///
    /// 400 for a name that is not an alias name; 409 for a built-in alias; the file
    /// cannot be used or written.
    pub(crate) fn delete(&self, alias: &str) -> Result<bool> {
        check_alias(alias)?;
        refuse_builtin(alias)?;
        self.with_write(|doc| {
            if !doc.aliases.contains_key(alias) {
                return Ok(false);
            }
            let mut next = doc.clone();
            next.aliases.remove(alias);
            write(&self.path, &next, Placement::Replace)
                .map_err(|e| Error::io("the keystore could not be written", &e))?;
            *doc = next;
            self.generation.fetch_add(1, Ordering::Release);
            Ok(true)
        })
    }
}

/// 400 unless `alias` is an alias name; the message states the rule, not the name.
fn check_alias(alias: &str) -> Result<()> {
    if valid_alias(alias) {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "an alias name is 1 to {MAX_ALIAS_BYTES} letters, digits, '.', '_' or '-'"
        )))
    }
}

/// 409 for a built-in alias: replacing or deleting it would orphan what it sealed.
fn refuse_builtin(alias: &str) -> Result<()> {
    match builtin(alias) {
        Some(b) => Err(Error::conflict(format!(
            "the alias {alias} is built in: stored secrets depend on it ({} are sealed with \
             it), so it can be neither replaced nor deleted",
            b.seals
        ))),
        None => Ok(()),
    }
}

// === the document ===

/// The keystore document in memory.
#[derive(Clone)]
struct Document {
    /// The file name, for messages.
    name: String,
    master_key: [u8; KEY_BYTES],
    /// The cipher over `master_key`.
    master: Keystore,
    /// Sealed values by alias name.
    aliases: BTreeMap<String, String>,
}

impl Document {
    /// A new document: a random master key and the built-in aliases, each a random key.
    fn new_random(name: String) -> Self {
        let master_key: [u8; KEY_BYTES] = Aes256Gcm::generate_key(&mut OsRng).into();
        let mut doc = Self::with_master(name, master_key);
        for b in BUILTINS {
            let key: [u8; KEY_BYTES] = Aes256Gcm::generate_key(&mut OsRng).into();
            doc.insert(b.alias, &key);
        }
        doc
    }

    /// The upgrade of a legacy keystore: its raw key becomes the master key and the value
    /// of `exchange-admin-key` (Password values sealed under it still open); the OAuth
    /// key is new.
    fn from_legacy(name: String, raw: [u8; KEY_BYTES]) -> Self {
        let mut doc = Self::with_master(name, raw);
        doc.insert(EXCHANGE_ADMIN_KEY, &raw);
        let key: [u8; KEY_BYTES] = Aes256Gcm::generate_key(&mut OsRng).into();
        doc.insert(OAUTH_ADMIN_KEY, &key);
        doc
    }

    fn with_master(name: String, master_key: [u8; KEY_BYTES]) -> Self {
        Document {
            name,
            master: Keystore::from_key(&master_key),
            master_key,
            aliases: BTreeMap::new(),
        }
    }

    fn insert(&mut self, alias: &str, value: &[u8]) {
        let sealed = self.master.seal(value, alias.as_bytes());
        self.aliases.insert(alias.to_owned(), sealed);
    }

    /// The clear value of `alias`.
    fn reveal(&self, alias: &str) -> Result<Vec<u8>> {
        let sealed = self
            .aliases
            .get(alias)
            .ok_or_else(|| match builtin(alias) {
                Some(b) => Error::internal(format!(
                    "the keystore {} has no alias {alias} [{}]: it is not recreated, since {} \
                 sealed with it would be lost for good; restore the keystore from a backup",
                    self.name, b.absent_code, b.seals
                )),
                None => Error::internal(format!("the keystore {} has no alias {alias}", self.name)),
            })?;
        self.master.open(sealed, alias.as_bytes()).map_err(|_| {
            Error::internal(format!(
                "the alias {alias} of the keystore {} does not open with its master key \
                 [FLOW-KEY-04]",
                self.name
            ))
        })
    }

    /// Reads a document; every problem is [`Fault::Unusable`], in words that carry no
    /// byte of a key.
    fn parse(name: String, bytes: &[u8]) -> Result<Self, Fault> {
        let unusable = |what: String| Fault::Unusable(format!("the keystore {name} {what}"));
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Eof => "JSON cut short",
                _ => "not JSON",
            };
            unusable(format!(
                "is not a keystore document (JSON with version, masterKey and aliases; this \
                 is {what} at line {} column {}) nor a legacy key (it holds {} bytes, not \
                 {KEY_BYTES})",
                e.line(),
                e.column(),
                bytes.len()
            ))
        })?;
        let Value::Object(mut obj) = value else {
            return Err(unusable(
                "is not a keystore document: not a JSON object".into(),
            ));
        };
        match obj.get("version").and_then(Value::as_u64) {
            Some(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(unusable(format!(
                    "has version {v}; this fss reads version {FORMAT_VERSION}"
                )))
            }
            None => {
                return Err(unusable(
                    "is not a keystore document: it has no numeric version".into(),
                ))
            }
        }
        let master_key: [u8; KEY_BYTES] = obj
            .get("masterKey")
            .and_then(Value::as_str)
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| {
                unusable(format!(
                    "is not a keystore document: its masterKey is not the base64 of \
                     {KEY_BYTES} bytes"
                ))
            })?;
        let Some(Value::Object(aliases)) = obj.remove("aliases") else {
            return Err(unusable(
                "is not a keystore document: it has no aliases object".into(),
            ));
        };
        if aliases.len() > MAX_ALIASES {
            return Err(unusable(format!(
                "holds {} aliases, more than {MAX_ALIASES}",
                aliases.len()
            )));
        }
        let mut doc = Self::with_master(name.clone(), master_key);
        for (alias, sealed) in aliases {
            match sealed {
                Value::String(s) if valid_alias(&alias) && s.starts_with(PREFIX) => {
                    doc.aliases.insert(alias, s);
                }
                _ => {
                    return Err(Fault::Unusable(format!(
                        "the keystore {name} holds an alias that is not an alias name with a \
                         sealed value"
                    )))
                }
            }
        }
        Ok(doc)
    }

    /// The document as the file holds it.
    fn to_bytes(&self) -> Vec<u8> {
        let aliases: Map<String, Value> = self
            .aliases
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let doc = json!({
            "version": FORMAT_VERSION,
            "masterKey": base64::engine::general_purpose::STANDARD.encode(self.master_key),
            "aliases": aliases,
        });
        let mut out = serde_json::to_vec_pretty(&doc).expect("a JSON value serializes");
        out.push(b'\n');
        out
    }
}

// === reading and writing the file ===

/// What is wrong with a keystore file, in words naming it by its file name only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// It cannot be read: absent, not permitted, not a regular file (FLOW-KEY-03).
    Unreadable(String),
    /// It is read but cannot be used: group or others may access it, it is not a keystore
    /// document, an alias does not open with the master key (FLOW-KEY-04).
    Unusable(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Unreadable(m) | Fault::Unusable(m) => f.write_str(m),
        }
    }
}

/// What a keystore file held when it was read.
enum Found {
    /// No file: the first start.
    Missing,
    /// 32 raw bytes: a keystore of fss before aliases.
    Legacy([u8; KEY_BYTES]),
    /// A keystore document.
    Document(Box<Document>),
}

/// The keystore file as it is on disk now, read afresh (the connection test: nothing is
/// created or upgraded).
#[derive(Debug)]
pub(crate) struct Inspection {
    /// Every alias name the file holds.
    pub(crate) aliases: Vec<String>,
    /// The aliases whose value does not open with the master key (or, for a built-in
    /// one, is not a 256-bit key).
    pub(crate) broken: Vec<String>,
}

impl Inspection {
    /// Whether the file holds `alias`.
    pub(crate) fn holds(&self, alias: &str) -> bool {
        self.aliases.iter().any(|a| a == alias)
    }
}

/// Reads the keystore file at `path` afresh and checks every alias opens. Blocking.
///
/// # Errors
///
/// The file cannot be read ([`Fault::Unreadable`]: absent, not permitted, not a regular
/// file) or used ([`Fault::Unusable`]: open to group or others, not a keystore document).
pub(crate) fn inspect(path: &Path) -> Result<Inspection, Fault> {
    let name = file_name(path);
    match read(path)? {
        Found::Missing => Err(Fault::Unreadable(format!(
            "the keystore {name} does not exist"
        ))),
        Found::Legacy(_) => Err(Fault::Unusable(format!(
            "the keystore {name} is a legacy 32-byte key, not a keystore document; fss \
             upgrades it when it opens the keystore"
        ))),
        Found::Document(doc) => {
            let broken = doc
                .aliases
                .keys()
                .filter(|a| match doc.reveal(a) {
                    Ok(v) => builtin(a).is_some() && v.len() != KEY_BYTES,
                    Err(_) => true,
                })
                .cloned()
                .collect();
            Ok(Inspection {
                aliases: doc.aliases.keys().cloned().collect(),
                broken,
            })
        }
    }
}

/// The file name of `path`, for messages (never the folders above it).
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || KEYSTORE_FILE.to_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Reads what the file at `path` holds, checking it is a regular file its owner alone may
/// access.
fn read(path: &Path) -> Result<Found, Fault> {
    let name = file_name(path);
    let unreadable = |what: &str, e: &dyn fmt::Display| {
        Fault::Unreadable(format!("the keystore {name} {what}: {e}"))
    };
    // Checked before opening: opening a FIFO would block.
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(unreadable("cannot be read", &e)),
    };
    if !meta.is_file() {
        return Err(Fault::Unreadable(format!(
            "the keystore {name} is not a regular file"
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Fault::Unusable(format!(
                "the keystore {name} has mode {mode:04o}; it must be {MODE:04o} (readable by \
                 its owner only): run chmod 600 on it"
            )));
        }
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(Fault::Unusable(format!(
            "the keystore {name} holds {} bytes, more than a keystore may ({MAX_FILE_BYTES})",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| unreadable("cannot be read", &e))?;
    if bytes.len() == KEY_BYTES {
        let raw: [u8; KEY_BYTES] = bytes.try_into().expect("the length was just checked");
        return Ok(Found::Legacy(raw));
    }
    Document::parse(name, &bytes).map(|d| Found::Document(Box::new(d)))
}

/// Reads the keystore at `path`, creating it when there is none and upgrading a legacy
/// one. Blocking.
fn open_or_create(path: &Path) -> Result<Document> {
    let name = file_name(path);
    match read(path).map_err(|f| Error::internal(f.to_string()))? {
        Found::Document(doc) => Ok(*doc),
        Found::Legacy(raw) => {
            let doc = Document::from_legacy(name.clone(), raw);
            write(path, &doc, Placement::Replace).map_err(|e| {
                Error::internal(format!("the keystore {name} cannot be upgraded: {e}"))
            })?;
            tracing::info!(file = %name, "Legacy keystore upgraded to the alias format.");
            Ok(doc)
        }
        Found::Missing => {
            let doc = Document::new_random(name.clone());
            match write(path, &doc, Placement::New) {
                Ok(()) => {
                    tracing::info!(file = %name, "Keystore created.");
                    Ok(doc)
                }
                // Another start won the race: its keystore is the one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    match read(path).map_err(|f| Error::internal(f.to_string()))? {
                        Found::Document(doc) => Ok(*doc),
                        _ => Err(Error::internal(format!(
                            "the keystore {name} changed while it was created"
                        ))),
                    }
                }
                Err(e) => Err(Error::internal(format!(
                    "the keystore {name} cannot be created: {e}"
                ))),
            }
        }
    }
}

/// How a written document takes the file's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Only if there is no file (linked: a racing start keeps the first one).
    New,
    /// Over the file (renamed).
    Replace,
}

/// Writes `doc` to `path` atomically: a temp file (mode 0600) in the same folder, synced,
/// then renamed or linked into place, and the folder synced so that the new name
/// survives a power loss too.
fn write(path: &Path, doc: &Document, placement: Placement) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", file_name(path), uuid::Uuid::new_v4()));
    let written = (|| -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(MODE);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(&doc.to_bytes())?;
        f.sync_all()?;
        match placement {
            Placement::New => std::fs::hard_link(&tmp, path),
            Placement::Replace => std::fs::rename(&tmp, path),
        }
    })();
    // After a rename there is nothing left to remove; after a link or a failure, the temp
    // name goes.
    let _ = std::fs::remove_file(&tmp);
    written?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn document(path: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn sealed_values_open_with_their_key_and_context_only() {
        let ks = Keystore::from_key(&[1; KEY_BYTES]);
        let a = ks.seal(b"hunter2", b"S/T\0Secret");
        let b = ks.seal(b"hunter2", b"S/T\0Secret");
        assert!(a.starts_with(PREFIX));
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(!a.contains("hunter2"));
        assert_eq!(ks.open(&a, b"S/T\0Secret").unwrap(), b"hunter2");
        assert!(ks.open(&a, b"S/T\0Other").is_err());
        assert!(Keystore::from_key(&[2; KEY_BYTES])
            .open(&a, b"S/T\0Secret")
            .is_err());
        let mut altered = a.clone();
        altered.pop();
        altered.push(if a.ends_with('A') { 'B' } else { 'A' });
        assert!(ks.open(&altered, b"S/T\0Secret").is_err());
        assert!(ks.open("hunter2", b"").is_err());
        assert!(ks.open("fss:v1:AAAA", b"").is_err());
    }

    #[test]
    fn the_file_is_created_once_with_the_builtin_aliases_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeystoreFile::in_data_dir(dir.path());
        let sealed = file.key(EXCHANGE_ADMIN_KEY).unwrap().seal(b"x", b"c");
        let path = dir.path().join(KEYSTORE_FILE);
        let bytes = std::fs::read(&path).unwrap();
        let doc = document(&path);
        assert_eq!(doc["version"], 1);
        let master = base64::engine::general_purpose::STANDARD
            .decode(doc["masterKey"].as_str().unwrap())
            .unwrap();
        assert_eq!(master.len(), KEY_BYTES);
        let aliases = doc["aliases"].as_object().unwrap();
        assert_eq!(aliases.len(), 2);
        for b in BUILTINS {
            assert!(aliases[b.alias].as_str().unwrap().starts_with(PREFIX));
        }
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(
            file.aliases().unwrap(),
            [EXCHANGE_ADMIN_KEY, OAUTH_ADMIN_KEY]
        );

        let again = KeystoreFile::in_data_dir(dir.path());
        assert_eq!(
            again
                .key(EXCHANGE_ADMIN_KEY)
                .unwrap()
                .open(&sealed, b"c")
                .unwrap(),
            b"x"
        );
        assert!(
            again
                .key(OAUTH_ADMIN_KEY)
                .unwrap()
                .open(&sealed, b"c")
                .is_err(),
            "each built-in alias is a key of its own"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "reading writes nothing"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file is left behind");
    }

    #[test]
    fn a_legacy_raw_key_is_upgraded_and_still_opens_what_it_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYSTORE_FILE);
        let raw = [9u8; KEY_BYTES];
        std::fs::write(&path, raw).unwrap();
        set_mode(&path, 0o600);
        let sealed = Keystore::from_key(&raw).seal(b"old secret", b"T\0P");

        let file = KeystoreFile::in_data_dir(dir.path());
        let exchange = file.key(EXCHANGE_ADMIN_KEY).unwrap();
        assert_eq!(exchange.open(&sealed, b"T\0P").unwrap(), b"old secret");
        let doc = document(&path);
        assert_eq!(
            doc["masterKey"],
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        assert!(doc["aliases"][OAUTH_ADMIN_KEY].is_string());
        assert_eq!(mode_of(&path), 0o600);
        assert!(file
            .key(OAUTH_ADMIN_KEY)
            .unwrap()
            .open(&sealed, b"T\0P")
            .is_err());
        // And after the upgrade, a new start reads the document.
        let again = KeystoreFile::in_data_dir(dir.path());
        assert_eq!(
            again
                .key(EXCHANGE_ADMIN_KEY)
                .unwrap()
                .open(&sealed, b"T\0P")
                .unwrap(),
            b"old secret"
        );
    }

    #[test]
    fn an_absent_builtin_alias_is_not_recreated_and_names_its_code() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYSTORE_FILE);
        KeystoreFile::new(path.clone()).ensure_open().unwrap();
        let mut doc = document(&path);
        doc["aliases"]
            .as_object_mut()
            .unwrap()
            .remove(OAUTH_ADMIN_KEY);
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        let before = std::fs::read(&path).unwrap();

        let file = KeystoreFile::new(path.clone());
        let err = file.key(OAUTH_ADMIN_KEY).unwrap_err().to_string();
        assert!(
            err.contains("FLOW-KEY-01") && err.contains(OAUTH_ADMIN_KEY),
            "{err}"
        );
        assert!(file.key(EXCHANGE_ADMIN_KEY).is_ok());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "nothing is recreated"
        );
        assert!(!err.contains(dir.path().to_str().unwrap()), "{err}");
        let inspection = inspect(&path).unwrap();
        assert!(!inspection.holds(OAUTH_ADMIN_KEY));
        assert!(inspection.holds(EXCHANGE_ADMIN_KEY));
    }

    #[test]
    fn aliases_are_put_listed_and_deleted_and_builtins_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYSTORE_FILE);
        let file = KeystoreFile::new(path.clone());
        assert_eq!(file.generation(), 0);
        file.put("webhook.secret-1", b"s3cr3t value").unwrap();
        assert_eq!(file.generation(), 1, "a change bumps the generation");
        let on_disk = std::fs::read(&path).unwrap();
        assert!(!on_disk.windows(6).any(|w| w == b"s3cr3t"));
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(
            file.aliases().unwrap(),
            [EXCHANGE_ADMIN_KEY, OAUTH_ADMIN_KEY, "webhook.secret-1"]
        );
        // Written through: a new start reads it.
        let again = KeystoreFile::new(path);
        assert_eq!(
            again.with(|d| d.reveal("webhook.secret-1")).unwrap(),
            b"s3cr3t value"
        );
        file.put("webhook.secret-1", b"other").unwrap();
        assert_eq!(
            file.value("webhook.secret-1").unwrap().as_deref(),
            Some(&b"other"[..])
        );
        assert_eq!(file.value("no-such-alias").unwrap(), None);

        assert_eq!(file.generation(), 2);
        assert!(file.delete("webhook.secret-1").unwrap());
        assert!(!file.delete("webhook.secret-1").unwrap());
        assert_eq!(file.generation(), 3, "only a change written bumps it");
        assert_eq!(file.aliases().unwrap().len(), 2);

        for b in BUILTINS {
            let e = file.put(b.alias, b"x").unwrap_err();
            assert_eq!(e.status(), 409, "{e}");
            assert!(e.to_string().contains("stored secrets depend on it"), "{e}");
            assert_eq!(file.delete(b.alias).unwrap_err().status(), 409);
        }
        for bad in ["", "a b", "a/b", "é", &"a".repeat(MAX_ALIAS_BYTES + 1)] {
            assert_eq!(file.put(bad, b"x").unwrap_err().status(), 400, "{bad:?}");
        }
        let e = file.put("big", &[b'v'; MAX_VALUE_BYTES + 1]).unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(file.put("empty", b"").unwrap_err().status(), 400);
        file.put("full", &[b'v'; MAX_VALUE_BYTES]).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file is left behind");
    }

    #[test]
    fn two_handles_on_one_file_never_write_over_each_other() {
        // Two instances sharing one keystore: each handle caches the document it read.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYSTORE_FILE);
        let (a, b) = (KeystoreFile::new(path.clone()), KeystoreFile::new(path));
        a.ensure_open().unwrap();
        b.ensure_open().unwrap();
        assert_eq!(a.value_or_put("signing", b"first").unwrap(), b"first");
        // b's cache predates it: the file is read again under the lock, so b takes a's key.
        let before = b.generation();
        assert_eq!(b.value_or_put("signing", b"second").unwrap(), b"first");
        assert!(
            b.generation() > before,
            "b's cached values are marked stale"
        );
        // A change through b keeps what a wrote, and a change through a keeps b's.
        b.put("from-b", b"1").unwrap();
        a.put("from-a", b"2").unwrap();
        let c = KeystoreFile::new(dir.path().join(KEYSTORE_FILE));
        assert_eq!(c.value("signing").unwrap().as_deref(), Some(&b"first"[..]));
        assert_eq!(c.value("from-b").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(c.value("from-a").unwrap().as_deref(), Some(&b"2"[..]));
    }

    #[test]
    fn inspect_tells_unreadable_from_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYSTORE_FILE);
        assert!(
            matches!(inspect(&path), Err(Fault::Unreadable(m)) if m.contains("does not exist"))
        );
        assert!(matches!(inspect(dir.path()), Err(Fault::Unreadable(m)) if m.contains("regular")));

        KeystoreFile::new(path.clone()).ensure_open().unwrap();
        let ok = inspect(&path).unwrap();
        assert!(ok.broken.is_empty() && ok.holds(OAUTH_ADMIN_KEY) && ok.holds(EXCHANGE_ADMIN_KEY));

        set_mode(&path, 0o644);
        let fault = inspect(&path).unwrap_err();
        assert!(
            matches!(&fault, Fault::Unusable(m) if m.contains("0644")),
            "{fault}"
        );
        assert!(KeystoreFile::new(path.clone()).ensure_open().is_err());
        set_mode(&path, 0o600);

        // An alias copied under another name does not open there.
        let mut doc = document(&path);
        let oauth = doc["aliases"][OAUTH_ADMIN_KEY].clone();
        doc["aliases"]["copied"] = oauth;
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(inspect(&path).unwrap().broken, ["copied"]);

        for garbage in [&b"not json at all"[..], b"[1,2]", b"{\"version\":1}", b"{}"] {
            std::fs::write(&path, garbage).unwrap();
            let fault = inspect(&path).unwrap_err();
            assert!(
                matches!(&fault, Fault::Unusable(m) if m.contains(KEYSTORE_FILE)),
                "{fault}"
            );
            assert!(!fault.to_string().contains(dir.path().to_str().unwrap()));
        }
        let err = KeystoreFile::new(path).ensure_open().unwrap_err();
        assert!(err.to_string().contains("keystore"), "{err}");
    }

    #[test]
    fn faults_never_carry_the_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYSTORE_FILE);
        let master = base64::engine::general_purpose::STANDARD.encode([5u8; 31]);
        let doc = json!({"version": 1, "masterKey": master, "aliases": {}});
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        set_mode(&path, 0o600);
        let fault = inspect(&path).unwrap_err().to_string();
        assert!(
            fault.contains("masterKey") && !fault.contains(&master),
            "{fault}"
        );
    }
}
