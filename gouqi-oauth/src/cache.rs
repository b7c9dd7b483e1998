//! The caching, refreshing wrapper around a [`TokenSource`]. One lock guards
//! the current token: callers that find it about to expire, or rejected by
//! Jira, queue on that lock, and only the first of them refreshes.
//!
//! Refreshes also hold the store's cross-process lock and re-read the store
//! first, so a token another process just rotated is adopted, not replayed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Error, Result, StoreError};
use crate::source::{Grant, TokenSource};
use crate::store::TokenStore;
use crate::token::{Site, TokenSet};

/// The default refresh-ahead window: a token expiring within it is renewed
/// before it is used. It is at most 1/12 of a token's stated
/// lifetime (5 minutes is 1/12 of Atlassian's hour).
pub(crate) const DEFAULT_SKEW: Duration = Duration::from_secs(300);

/// An access token handed out by a [`TokenCache`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Token {
    set: Arc<TokenSet>,
    generation: u64,
}

impl Token {
    /// The token set this token belongs to (secrets stay redacted in `Debug`).
    pub fn tokens(&self) -> &TokenSet {
        &self.set
    }

    /// Increases each time the cache takes a new token; equal generations mean
    /// the same token.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

#[derive(Default)]
struct State {
    token: Option<Token>,
    /// Set while the held token set could not be persisted yet. It is kept
    /// (its refresh token may be the only valid one) and saved before use.
    unsaved: Option<Unsaved>,
    /// The held token was minted because Jira rejected its predecessor.
    minted_after_401: bool,
    generation: u64,
}

/// What an unsaved token set replaces: the stored set's access token when the
/// refresh ran. Saving it later is only right if the store still holds that
/// set; anything else there is a newer login (or a logout) to respect.
struct Unsaved {
    replaces: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Renewal {
    /// The held token is missing or about to expire.
    Expiring,
    /// Jira rejected the held token.
    Rejected,
    /// The caller wants a new token regardless.
    Forced,
}

#[derive(Clone)]
struct Inner {
    source: TokenSource,
    store: Arc<dyn TokenStore>,
    skew: Duration,
    site: Option<Site>,
    state: Arc<Mutex<State>>,
}

/// Caches the current token and refreshes it ahead of expiry or after a 401,
/// one refresh at a time. Clones share the cache.
///
/// `Debug` never shows a token.
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.inner.source)
            .field("store", &self.inner.store)
            .field("skew", &self.inner.skew)
            .field("site", &self.inner.site)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache over `source`, persisting to `store`, refreshing tokens 5 minutes
    /// before they expire (at most 1/12 of their stated lifetime ahead).
    pub fn new(source: TokenSource, store: impl TokenStore + 'static) -> TokenCache {
        Self::with_store(source, Arc::new(store))
    }

    /// Like [`TokenCache::new`], for a store that is already shared.
    pub fn with_store(source: TokenSource, store: Arc<dyn TokenStore>) -> TokenCache {
        TokenCache {
            inner: Arc::new(Inner {
                source,
                store,
                skew: DEFAULT_SKEW,
                site: None,
                state: Arc::default(),
            }),
        }
    }

    /// Builder edits; on a cache that was already cloned they apply to this
    /// handle only (the token state stays shared).
    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> TokenCache {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Sets the refresh-ahead window (capped at 1/12 of a
    /// token's stated lifetime; see [`TokenSet::refresh_at`]).
    pub fn skew(self, skew: Duration) -> TokenCache {
        self.edit(|inner| inner.skew = skew)
    }

    /// Binds the cache to one site: stored tokens for another cloud id or
    /// site URL are refused with [`Error::SiteMismatch`].
    pub fn site(self, site: Site) -> TokenCache {
        self.edit(|inner| inner.site = Some(site))
    }

    /// The store behind this cache.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// The source behind this cache.
    pub fn source(&self) -> &TokenSource {
        &self.inner.source
    }

    /// A token that stays valid for at least the skew window, refreshing first
    /// if needed.
    pub async fn token(&self) -> Result<Token> {
        let state = self.inner.state.clone().lock_owned().await;
        match &state.token {
            Some(token) if state.unsaved.is_none() && !self.expiring(&token.set) => {
                Ok(token.clone())
            }
            _ => self.renew(state, Renewal::Expiring).await,
        }
    }

    /// The token to retry with after Jira answered 401 to `rejected`. If
    /// another caller (or process) already replaced it, that token is returned
    /// without a new refresh. Otherwise it is refreshed once, even if freshly
    /// minted (a revoked grant then surfaces as
    /// [`Error::ReauthorizationRequired`]); only a token that was itself minted
    /// after a 401 and is rejected while still fresh (under 30 s old and short
    /// of its stated expiry) is not refreshed again
    /// ([`Error::FreshTokenRejected`]). A token past its stated expiry is
    /// always refreshed, whatever its age.
    pub async fn token_after_unauthorized(&self, rejected: &Token) -> Result<Token> {
        let state = self.inner.state.clone().lock_owned().await;
        if let Some(token) = &state.token
            && token.generation != rejected.generation
            && state.unsaved.is_none()
        {
            return Ok(token.clone());
        }
        self.renew(state, Renewal::Rejected).await
    }

    /// Refreshes now, whatever the current token's expiry.
    pub async fn force_refresh(&self) -> Result<Token> {
        let state = self.inner.state.clone().lock_owned().await;
        self.renew(state, Renewal::Forced).await
    }

    /// Waits until no refresh is running. A process that exits after this
    /// cannot lose a refresh token that was rotated but not yet saved.
    pub async fn settled(&self) {
        drop(self.inner.state.lock().await);
    }

    /// The token held in memory, if any, without touching store or network.
    pub async fn peek(&self) -> Option<Token> {
        self.inner.state.lock().await.token.clone()
    }

    /// Loads a still-valid token set from the store into the cache, without
    /// touching the network, so that the first request can use it.
    /// Blocks on store I/O; a missing or expired token is left for later.
    pub fn preload(&self) -> Result<()> {
        let Ok(mut state) = self.inner.state.try_lock() else {
            return Ok(());
        };
        if state.token.is_some() {
            return Ok(());
        }
        if let Some(stored) = self.inner.store.load()? {
            self.check_stored(&stored)?;
            // Still valid, if perhaps inside the skew window: the typed
            // accessors can use it while a refresh runs in the background.
            if !stored.expires_within(Duration::ZERO, SystemTime::now()) {
                Self::install(&mut state, stored, false);
            }
        }
        Ok(())
    }

    /// The token held now, if one is held and no refresh is running.
    pub fn current(&self) -> Option<Token> {
        let state = self.inner.state.try_lock().ok()?;
        if state.unsaved.is_some() {
            return None;
        }
        state.token.clone()
    }

    /// How long until the held token enters the skew window (zero if it
    /// already has); `None` when no token is held or a refresh is running.
    pub fn refresh_due_in(&self) -> Option<Duration> {
        let state = self.inner.state.try_lock().ok()?;
        let token = state.token.as_ref()?;
        let refresh_at = token.set.refresh_at(self.inner.skew)?;
        Some(
            refresh_at
                .duration_since(SystemTime::now())
                .unwrap_or_default(),
        )
    }

    /// True when the next request should wait for a refresh: no token yet,
    /// one about to expire, or one not yet saved. False while a refresh runs.
    pub fn is_stale(&self) -> bool {
        match self.inner.state.try_lock() {
            Ok(state) => match &state.token {
                Some(token) => state.unsaved.is_some() || self.expiring(&token.set),
                None => true,
            },
            Err(_) => false,
        }
    }

    fn expiring(&self, tokens: &TokenSet) -> bool {
        tokens.expires_within(self.inner.skew, SystemTime::now())
    }

    /// Runs the renewal on its own task, so that a caller giving up halfway
    /// (a cancelled request) cannot lose a rotated refresh token between the
    /// token response and the save.
    async fn renew(&self, state: OwnedMutexGuard<State>, why: Renewal) -> Result<Token> {
        let this = self.clone();
        tokio::spawn(async move { this.renew_locked(state, why).await })
            .await
            .map_err(|e| Error::Config(format!("the token refresh task failed: {e}")))?
    }

    async fn renew_locked(&self, mut state: OwnedMutexGuard<State>, why: Renewal) -> Result<Token> {
        // Every write happens under the cross-process lock, after re-reading
        // the store: another process may have rotated, logged in or out.
        let store = self.inner.store.clone();
        let _cross_process = blocking(move || store.lock()).await?;
        let mut stored = self.load().await?;
        if state.unsaved.is_some() {
            stored = self.settle_unsaved(&mut state, stored).await?;
        }
        if let Some(stored) = &stored {
            let held = state.token.as_ref();
            let rejected =
                why == Renewal::Rejected && held.is_some_and(|t| t.set.same_access_token(stored));
            if why != Renewal::Forced && !rejected && !self.expiring(stored) {
                return Ok(Self::adopt(&mut state, stored));
            }
            // Refreshing again would only burn a rotation: Jira rejected a
            // token minted moments ago because of an earlier 401, and not
            // for its expiry (a token past its stated expiry is refreshed).
            let fresh = held.is_some_and(|t| t.set.rejected_while_fresh(SystemTime::now()));
            if rejected && fresh && state.minted_after_401 {
                return Err(Error::FreshTokenRejected);
            }
        }
        if stored.is_none() && *self.inner.source.grant_kind() == Grant::AuthorizationCode {
            state.token = None;
            return Err(Error::NotLoggedIn {
                store: self.inner.store.location(),
            });
        }
        let renewed = self.inner.source.renew(stored.as_ref()).await?;
        tracing::info!(expires_at = ?renewed.expires_at, "obtained a new access token");
        // Persist before anything uses the new access token: with rotating
        // refresh tokens the old one is dead from now on.
        let saved = self.save(&renewed).await;
        let token = Self::install(&mut state, renewed, why == Renewal::Rejected);
        if saved.is_err() {
            state.unsaved = Some(Unsaved {
                replaces: stored.map(|s| s.access_token.secret().clone()),
            });
        }
        saved.map(|()| token)
    }

    /// Saves the held, not yet persisted token set if the store still holds
    /// the set it replaces; otherwise drops it in favour of what the store
    /// holds now (a newer login, or none after a logout). Returns the store's
    /// content afterwards.
    async fn settle_unsaved(
        &self,
        state: &mut State,
        stored: Option<TokenSet>,
    ) -> Result<Option<TokenSet>> {
        let (Some(unsaved), Some(held)) = (state.unsaved.take(), state.token.clone()) else {
            return Ok(stored);
        };
        let in_store = stored.as_ref().map(|s| s.access_token.secret());
        if in_store != unsaved.replaces.as_ref() {
            tracing::warn!(
                "the token store changed (a new login or a logout) while a refreshed token \
                 waited to be saved; using what the store holds"
            );
            return Ok(stored);
        }
        if let Err(e) = self.save(&held.set).await {
            state.unsaved = Some(unsaved);
            return Err(e);
        }
        Ok(Some((*held.set).clone()))
    }

    /// Takes the stored set unless it is the one already held.
    fn adopt(state: &mut State, stored: &TokenSet) -> Token {
        match &state.token {
            Some(held) if held.set.same_access_token(stored) => held.clone(),
            _ => {
                tracing::debug!("adopting the token set found in the store");
                Self::install(state, stored.clone(), false)
            }
        }
    }

    fn install(state: &mut State, tokens: TokenSet, after_401: bool) -> Token {
        state.generation += 1;
        let token = Token {
            set: Arc::new(tokens),
            generation: state.generation,
        };
        state.token = Some(token.clone());
        state.unsaved = None;
        state.minted_after_401 = after_401;
        token
    }

    async fn load(&self) -> Result<Option<TokenSet>> {
        let store = self.inner.store.clone();
        let stored = blocking(move || store.load()).await?;
        if let Some(stored) = &stored {
            self.check_stored(stored)?;
        }
        Ok(stored)
    }

    /// Refuses stored tokens of another site, or a user's login where this
    /// cache mints service-account tokens (they would act as that user).
    fn check_stored(&self, stored: &TokenSet) -> Result<()> {
        if let Some(wanted) = &self.inner.site {
            check_site(stored, wanted)?;
        }
        if *self.inner.source.grant_kind() == Grant::ClientCredentials
            && stored.refresh_token.is_some()
        {
            return Err(Error::StoreHoldsUserLogin {
                store: self.inner.store.location(),
            });
        }
        Ok(())
    }

    async fn save(&self, tokens: &TokenSet) -> Result<()> {
        let store = self.inner.store.clone();
        let tokens = tokens.clone();
        blocking(move || store.save(&tokens)).await
    }
}

/// Refuses a token set issued for another site than the configured one.
fn check_site(stored: &TokenSet, wanted: &Site) -> Result<()> {
    let Some(have) = &stored.site else {
        return Ok(());
    };
    let ids_differ = matches!((&have.cloud_id, &wanted.cloud_id), (Some(a), Some(b)) if a != b);
    let urls_differ = matches!((&have.url, &wanted.url), (Some(a), Some(b)) if a.as_str().trim_end_matches('/') != b.as_str().trim_end_matches('/'));
    if ids_differ || urls_differ {
        return Err(Error::SiteMismatch {
            stored: have.to_string(),
            configured: wanted.to_string(),
        });
    }
    Ok(())
}

/// Runs blocking store I/O off the async worker threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(Error::Store),
        Err(e) => Err(Error::Store(StoreError::Backend {
            backend: "blocking task",
            message: e.to_string(),
        })),
    }
}
