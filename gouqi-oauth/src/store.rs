//! Where token sets live between runs, and the lock that keeps two processes
//! from refreshing with the same (rotating) refresh token.

mod file;
mod format;
#[cfg(feature = "keyring")]
mod keyring;

pub use file::FileStore;
pub(crate) use format::describe_json_error;

/// A token set in the versioned JSON layout the file store writes, for
/// stores kept outside this crate (a database row, say). The secrets are in
/// clear: encrypt the bytes before they leave the process.
pub fn encode_token_set(tokens: &TokenSet) -> Vec<u8> {
    format::encode(tokens)
}

/// Reads what [`encode_token_set`] wrote. `backend` names the store in the
/// error; the error never quotes the bytes.
pub fn decode_token_set(bytes: &[u8], backend: &'static str) -> Result<TokenSet, StoreError> {
    format::decode(bytes).map_err(|e| StoreError::Backend {
        backend,
        message: match e {
            format::DecodeError::Corrupt(detail) => format!("a stored token set is corrupt ({detail})"),
            format::DecodeError::Version(found) => format!(
                "a stored token set has format version {found}, but this program reads version {}: upgrade it",
                format::VERSION
            ),
        },
    })
}
#[cfg(feature = "keyring")]
pub use keyring::{KeyringBackend, KeyringStore};

use std::fmt::Debug;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::StoreError;
use crate::token::TokenSet;

/// Holds a store's exclusive lock until dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct StoreLock(#[allow(dead_code)] Box<dyn Send>);

impl StoreLock {
    /// Wraps whatever releases the lock on drop (a locked file, a mutex guard…).
    pub fn new(guard: impl Send + 'static) -> StoreLock {
        StoreLock(Box::new(guard))
    }
}

impl Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreLock")
    }
}

/// A place to keep one token set.
///
/// Implement it to keep tokens elsewhere (an OS keyring, a database shared by
/// several servers). The methods block; callers in async code run them on a
/// blocking thread.
pub trait TokenStore: Send + Sync + Debug {
    /// The stored token set, or `None` when nothing is stored.
    fn load(&self) -> Result<Option<TokenSet>, StoreError>;

    /// Replaces the stored token set. After it returns, a crash must not lose it.
    fn save(&self, tokens: &TokenSet) -> Result<(), StoreError>;

    /// Removes the stored token set (log out); true when one was stored.
    /// Callers other than a refresh use [`TokenStore::remove`], which locks.
    fn clear(&self) -> Result<bool, StoreError>;

    /// Takes the store's exclusive lock, waiting for other holders (in this or
    /// other processes). Refreshes happen under it, so that a rotating refresh
    /// token is never sent twice.
    fn lock(&self) -> Result<StoreLock, StoreError>;

    /// Where the tokens are, for messages and status output (never secrets).
    fn location(&self) -> String;

    /// Checks, before a user is sent to a browser, that a login could be
    /// saved: the store is readable, not corrupt, and takes writes.
    fn check_writable(&self) -> Result<(), StoreError> {
        self.load().map(drop)
    }

    /// Saves a token set obtained outside a refresh (a login) under the
    /// store's lock, so that a refresh running in another process finishes
    /// first and cannot overwrite it afterwards.
    fn replace(&self, tokens: &TokenSet) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        self.save(tokens)
    }

    /// Removes the stored token set under the store's lock (log out), so that
    /// a refresh running in another process cannot write it back afterwards.
    /// True when one was stored.
    fn remove(&self) -> Result<bool, StoreError> {
        let _lock = self.lock()?;
        self.clear()
    }
}

/// Keeps the token set in memory, for tests and for programs that obtain
/// tokens at every start (client credentials).
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    tokens: Arc<Mutex<Option<TokenSet>>>,
    lock: Arc<Mutex<()>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A store that starts with `tokens` (e.g. from a login elsewhere).
    pub fn with_tokens(tokens: TokenSet) -> MemoryStore {
        let store = MemoryStore::default();
        *store.tokens.lock() = Some(tokens);
        store
    }
}

impl TokenStore for MemoryStore {
    fn load(&self) -> Result<Option<TokenSet>, StoreError> {
        Ok(self.tokens.lock().clone())
    }

    fn save(&self, tokens: &TokenSet) -> Result<(), StoreError> {
        *self.tokens.lock() = Some(tokens.clone());
        Ok(())
    }

    fn clear(&self) -> Result<bool, StoreError> {
        Ok(self.tokens.lock().take().is_some())
    }

    fn lock(&self) -> Result<StoreLock, StoreError> {
        Ok(StoreLock::new(self.lock.lock_arc()))
    }

    fn location(&self) -> String {
        "the in-memory token store".to_string()
    }
}
