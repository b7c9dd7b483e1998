//! Keeps the token set in the OS keyring, falling back to the token file on
//! machines without a keyring service (headless Linux, containers).

use std::sync::OnceLock;

use super::format::{self, DecodeError};
use super::{FileStore, StoreLock, TokenStore};
use crate::error::StoreError;
use crate::token::TokenSet;

/// Where a [`KeyringStore`] ended up keeping tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringBackend {
    /// The OS keyring.
    Keyring,
    /// The fallback token file: no keyring service answered.
    File,
}

/// Stores the token set as one keyring entry (`service`, `user`).
///
/// The first operation probes the keyring. If no keyring service exists, the
/// store says so once (a `warn` log naming the file) and uses the fallback
/// [`FileStore`] from then on. The cross-process refresh lock is always the
/// fallback file's lock file, so processes agree on it whatever the backend.
#[derive(Debug)]
pub struct KeyringStore {
    service: String,
    user: String,
    fallback: FileStore,
    backend: OnceLock<KeyringBackend>,
}

impl KeyringStore {
    /// A store for the keyring entry `service`/`user`, with `fallback` for
    /// machines without a keyring.
    pub fn new(service: impl Into<String>, user: impl Into<String>, fallback: FileStore) -> Self {
        KeyringStore {
            service: service.into(),
            user: user.into(),
            fallback,
            backend: OnceLock::new(),
        }
    }

    /// Which backend this store uses, probing the keyring on first call.
    pub fn backend(&self) -> KeyringBackend {
        *self
            .backend
            .get_or_init(|| match self.entry().map(|e| e.get_password()) {
                Ok(Ok(_)) | Ok(Err(keyring::Error::NoEntry)) => KeyringBackend::Keyring,
                Ok(Err(e)) | Err(e) => {
                    tracing::warn!(
                        reason = %e,
                        file = %self.fallback.path().display(),
                        "no OS keyring is available; keeping OAuth tokens in the token file instead"
                    );
                    KeyringBackend::File
                }
            })
    }

    fn entry(&self) -> keyring::Result<keyring::Entry> {
        keyring::Entry::new(&self.service, &self.user)
    }

    fn failed(&self, e: &keyring::Error) -> StoreError {
        StoreError::Backend {
            backend: "OS keyring",
            message: format!("entry {}/{}: {e}", self.service, self.user),
        }
    }

    fn decode(&self, text: &str) -> Result<TokenSet, StoreError> {
        format::decode(text.as_bytes()).map_err(|e| StoreError::Backend {
            backend: "OS keyring",
            message: match e {
                DecodeError::Corrupt(detail) => format!(
                    "entry {}/{} is corrupt ({detail}); it was left as it is: delete it, then log in again",
                    self.service, self.user
                ),
                DecodeError::Version(found) => format!(
                    "entry {}/{} has format version {found}; upgrade the program",
                    self.service, self.user
                ),
            },
        })
    }
}

impl TokenStore for KeyringStore {
    fn load(&self) -> Result<Option<TokenSet>, StoreError> {
        if self.backend() == KeyringBackend::File {
            return self.fallback.load();
        }
        match self.entry().and_then(|e| e.get_password()) {
            Ok(text) => self.decode(&text).map(Some),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.failed(&e)),
        }
    }

    fn save(&self, tokens: &TokenSet) -> Result<(), StoreError> {
        if self.backend() == KeyringBackend::File {
            return self.fallback.save(tokens);
        }
        // Like the file: never replace an entry we cannot read.
        self.load()?;
        let text = String::from_utf8(format::encode(tokens)).unwrap_or_default();
        self.entry()
            .and_then(|e| e.set_password(&text))
            .map_err(|e| self.failed(&e))
    }

    fn clear(&self) -> Result<bool, StoreError> {
        if self.backend() == KeyringBackend::File {
            return self.fallback.clear();
        }
        match self.entry().and_then(|e| e.delete_credential()) {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.failed(&e)),
        }
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        match self.backend() {
            KeyringBackend::File => self.fallback.check_writable(),
            KeyringBackend::Keyring => self.load().map(drop),
        }
    }

    fn lock(&self) -> Result<StoreLock, StoreError> {
        self.fallback.lock()
    }

    fn location(&self) -> String {
        match self.backend() {
            KeyringBackend::Keyring => {
                format!("the OS keyring entry {}/{}", self.service, self.user)
            }
            KeyringBackend::File => self.fallback.location(),
        }
    }
}
