//! One user's Atlassian grant, seen as a `gouqi_oauth::TokenStore`, so that
//! gouqi-oauth's `TokenCache` refreshes it with the same care as a token
//! file: under the user's lock, after re-reading what another request (or
//! replica) may have written, saving before the new access token is used.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use gouqi_oauth::{StoreLock, TokenSet, TokenStore, decode_token_set, encode_token_set};
use tokio::runtime::RuntimeFlavor;

use super::crypto::Sealer;
use super::{StoreError, StoreResult, TeamStore, UserId};

/// How long a refresh waits for another request's refresh of the same user.
/// A token request is bounded well below this, so a longer wait means a
/// stuck holder.
pub const GRANT_LOCK_WAIT: Duration = Duration::from_secs(30);

/// The name gouqi-oauth's errors give this store.
const BACKEND: &str = "jira-mcp team store";

/// One user's sealed grant in a [`TeamStore`].
///
/// Its methods block (gouqi-oauth calls them on blocking threads): they
/// drive the async store on `runtime`. They must not be called from a task
/// of a current-thread runtime.
pub struct UserGrantStore {
    store: Arc<dyn TeamStore>,
    sealer: Arc<Sealer>,
    user: UserId,
    runtime: tokio::runtime::Handle,
}

impl fmt::Debug for UserGrantStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserGrantStore")
            .field("store", &self.store.describe())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl UserGrantStore {
    /// The grant of `user` in `store`, sealed with `sealer`.
    pub fn new(
        store: Arc<dyn TeamStore>,
        sealer: Arc<Sealer>,
        user: UserId,
        runtime: tokio::runtime::Handle,
    ) -> UserGrantStore {
        UserGrantStore {
            store,
            sealer,
            user,
            runtime,
        }
    }

    /// The user whose grant this is.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The associated data a grant is sealed with: the row it belongs to,
    /// so that a grant copied onto another user's row cannot be opened.
    fn aad(&self) -> &[u8] {
        self.user.0.as_bytes()
    }

    /// Runs `future` to completion on the store's runtime, from a blocking
    /// thread (as TokenCache calls) or, on a multi-threaded runtime, from
    /// one of its workers too (`block_in_place` hands the worker's other
    /// tasks over first). Only a current-thread runtime's own tasks cannot
    /// block: `block_on` panics there.
    fn block_on<T>(
        &self,
        future: impl Future<Output = StoreResult<T>>,
    ) -> Result<T, gouqi_oauth::StoreError> {
        let run = || self.runtime.block_on(future);
        let on_multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|current| current.runtime_flavor() == RuntimeFlavor::MultiThread);
        let result = if on_multi_thread {
            tokio::task::block_in_place(run)
        } else {
            run()
        };
        result.map_err(|e| to_oauth(&e))
    }
}

/// gouqi-oauth's form of a store error; the message keeps the cause and fix.
fn to_oauth(e: &StoreError) -> gouqi_oauth::StoreError {
    gouqi_oauth::StoreError::Backend {
        backend: BACKEND,
        message: e.to_string(),
    }
}

impl TokenStore for UserGrantStore {
    fn load(&self) -> Result<Option<TokenSet>, gouqi_oauth::StoreError> {
        let Some(sealed) = self.block_on(self.store.load_grant(&self.user))? else {
            return Ok(None);
        };
        let plain = self
            .sealer
            .open(&sealed, self.aad())
            .map_err(|e| to_oauth(&e))?;
        decode_token_set(&plain, BACKEND).map(Some)
    }

    fn save(&self, tokens: &TokenSet) -> Result<(), gouqi_oauth::StoreError> {
        // Always sealed with the current key: a grant sealed with a rotated
        // key moves to the new one at its next refresh.
        let sealed = self.sealer.seal(&encode_token_set(tokens), self.aad());
        self.block_on(self.store.save_grant(&self.user, &sealed))
    }

    fn clear(&self) -> Result<bool, gouqi_oauth::StoreError> {
        self.block_on(self.store.clear_grant(&self.user))
    }

    fn lock(&self) -> Result<StoreLock, gouqi_oauth::StoreError> {
        self.block_on(self.store.lock_grant(&self.user, GRANT_LOCK_WAIT))
    }

    fn location(&self) -> String {
        format!(
            "the Atlassian grant of user {} in {}",
            self.user,
            self.store.describe()
        )
    }
}
