//! The data folder's keystore: one random 256-bit key in `<data>/keystore.key`, and
//! AES-256-GCM sealing of small secrets with it (Password properties of the tables; any
//! other store that keeps secrets at rest seals them here too).
//!
//! The file is 32 raw bytes, created with mode 0600 the first time a store needs it and
//! reused on every later start. It is never replaced: a file of another size, or one that
//! group or others may read or write, is refused with an error saying what is wrong, since
//! a new key would make every stored secret unreadable. Losing the file loses the secrets;
//! back it up with the data folder, but apart from copies of the databases.
//!
//! A sealed value is text: [`PREFIX`] then the base64 of a fresh random 96-bit nonce
//! followed by the ciphertext and its 128-bit tag. The caller's `context` (for tables: the
//! table and the property) is authenticated with it, so that a sealed value copied into
//! another column does not open there.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::Path;

use aes_gcm::aead::{Aead, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, KeyInit};
use base64::Engine as _;

use crate::error::{Error, Result};

/// The keystore's file name inside the data folder.
pub(crate) const KEYSTORE_FILE: &str = "keystore.key";
/// The size of the key: AES-256.
pub(crate) const KEY_BYTES: usize = 32;
/// What every sealed value starts with; the version names the cipher and the layout.
pub(crate) const PREFIX: &str = "fss:v1:";
/// The nonce size of AES-GCM: 96 bits, random per sealed value.
const NONCE_BYTES: usize = 12;
/// The file mode of the keystore: read and write by its owner only.
#[cfg(unix)]
const MODE: u32 = 0o600;

/// The key of one data folder, ready to seal and open values.
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
    /// The keystore of `data_dir`, creating its key file (mode 0600) when there is none.
    ///
    /// # Errors
    ///
    /// The file does not hold exactly [`KEY_BYTES`] bytes, group or others may access it,
    /// it is not a regular file, or it cannot be read or created.
    pub(crate) fn open_or_create(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(KEYSTORE_FILE);
        let key = match std::fs::File::open(&path) {
            Ok(file) => read_key(file)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(data_dir)?,
            Err(e) => return Err(keystore_error("cannot be opened", &e)),
        };
        Ok(Self::from_key(&key))
    }

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

/// A keystore failure: what went wrong with the file, named by its name in the data
/// folder (no absolute path: the message may reach a deployment's answer).
fn keystore_error(what: &str, e: &dyn fmt::Display) -> Error {
    Error::internal(format!(
        "the keystore {KEYSTORE_FILE} of the data folder {what}: {e}"
    ))
}

/// Reads and checks the key of an existing keystore.
fn read_key(mut file: std::fs::File) -> Result<[u8; KEY_BYTES]> {
    let meta = file
        .metadata()
        .map_err(|e| keystore_error("cannot be read", &e))?;
    if !meta.is_file() {
        return Err(Error::internal(format!(
            "the keystore {KEYSTORE_FILE} of the data folder is not a regular file"
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::internal(format!(
                "the keystore {KEYSTORE_FILE} of the data folder has mode {mode:04o}; it must \
                 be {MODE:04o} (readable by its owner only): run chmod 600 on it"
            )));
        }
    }
    if meta.len() != KEY_BYTES as u64 {
        return Err(Error::internal(format!(
            "the keystore {KEYSTORE_FILE} of the data folder holds {} bytes; it must hold \
             exactly {KEY_BYTES} (one 256-bit key); it is not replaced, since stored \
             secrets need the key they were sealed with",
            meta.len()
        )));
    }
    let mut key = [0u8; KEY_BYTES];
    file.read_exact(&mut key)
        .map_err(|e| keystore_error("cannot be read", &e))?;
    Ok(key)
}

/// Creates the keystore with a fresh random key: written whole and synced under a temp
/// name, then linked into place, so that a reader never sees a partial key and two
/// starts racing agree on one key (the loser reads the winner's).
fn create_key(data_dir: &Path) -> Result<[u8; KEY_BYTES]> {
    let key: [u8; KEY_BYTES] = Aes256Gcm::generate_key(&mut OsRng).into();
    let tmp = data_dir.join(format!(".{KEYSTORE_FILE}.{}.tmp", uuid::Uuid::new_v4()));
    let written = (|| -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(MODE);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, data_dir.join(KEYSTORE_FILE))
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            // The new name must survive a power loss as well as the key's bytes.
            if let Ok(dir) = std::fs::File::open(data_dir) {
                let _ = dir.sync_all();
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let file = std::fs::File::open(data_dir.join(KEYSTORE_FILE))
                .map_err(|e| keystore_error("cannot be opened", &e))?;
            read_key(file)
        }
        Err(e) => Err(keystore_error("cannot be created", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::open_or_create(dir.path()).unwrap();
        let sealed = ks.seal(b"x", b"c");
        let key = std::fs::read(dir.path().join(KEYSTORE_FILE)).unwrap();
        assert_eq!(key.len(), KEY_BYTES);
        let again = Keystore::open_or_create(dir.path()).unwrap();
        assert_eq!(again.open(&sealed, b"c").unwrap(), b"x");
        assert_eq!(std::fs::read(dir.path().join(KEYSTORE_FILE)).unwrap(), key);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file is left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEYSTORE_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
