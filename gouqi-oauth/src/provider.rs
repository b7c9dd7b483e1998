//! [`TokenCache`] as gouqi's token provider (feature `gouqi-provider`).
//!
//! This needs a gouqi with `Credentials::OAuth` and the `TokenProvider`
//! trait: today the patched gouqi built by `upstream/gouqi/apply` in this
//! repository, used through
//! `cargo --config 'patch.crates-io.gouqi.path="target/gouqi-fork"'`.
//!
//! With it, gouqi's own clients refresh and retry on every call, typed
//! accessors included:
//!
//! ```no_run
//! # async fn run(cache: gouqi_oauth::TokenCache) -> Result<(), Box<dyn std::error::Error>> {
//! let host = "https://api.atlassian.com/ex/jira/your-cloud-id/";
//! let jira = gouqi::r#async::Jira::new(host, gouqi::Credentials::from(cache.clone()))?;
//! // A 401 here: one refresh (shared with every concurrent caller), one retry.
//! let issue = jira.issues().get("ED-1").await?;
//!
//! // The blocking client (not from inside an async runtime, as with gouqi).
//! let jira = gouqi::Jira::new(host, gouqi::Credentials::from(cache))?;
//! # let _ = (issue, jira);
//! # Ok(())
//! # }
//! ```
//!
//! The refresh itself is the cache's: refresh ahead of expiry, single-flight
//! after a 401 (callers that saw the same rejected token share one refresh),
//! the store's cross-process lock, and rotating refresh tokens saved before
//! use. A failure reaches the caller as `gouqi::Error::TokenProvider`, whose
//! source downcasts to [`crate::Error`]:
//!
//! ```no_run
//! # async fn run(jira: gouqi::r#async::Jira) {
//! match jira.issues().get("ED-1").await {
//!     Err(gouqi::Error::TokenProvider(source)) => {
//!         if let Some(e) = source.downcast_ref::<gouqi_oauth::Error>()
//!             && e.needs_reauthorization()
//!         {
//!             eprintln!("log in again: {e}");
//!         }
//!     }
//!     other => drop(other),
//! }
//! # }
//! ```

use std::future::Future;
use std::sync::OnceLock;

use gouqi::{AccessToken, BoxFuture, TokenProvider, TokenProviderError};

use crate::cache::{Token, TokenCache};

impl TokenProvider for TokenCache {
    /// Blocking: runs [`TokenCache::token`] on a small runtime owned by
    /// gouqi-oauth. Do not call it from async code (gouqi's blocking client
    /// cannot be used there either).
    fn token(&self) -> Result<AccessToken, TokenProviderError> {
        if let Some(token) = held_and_fresh(self) {
            return Ok(token);
        }
        block_on(self.token_async())
    }

    /// Blocking form of [`TokenProvider::refresh_after_unauthorized_async`].
    fn refresh_after_unauthorized(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenProviderError> {
        block_on(self.refresh_after_unauthorized_async(rejected))
    }

    fn token_async(&self) -> BoxFuture<'_, Result<AccessToken, TokenProviderError>> {
        Box::pin(async move {
            if let Some(token) = held_and_fresh(self) {
                return Ok(token);
            }
            let token = TokenCache::token(self).await?;
            Ok(access_token(&token))
        })
    }

    /// Maps gouqi's rejected token back to the cache's [`Token`]: if it is
    /// still the one held, [`TokenCache::token_after_unauthorized`] refreshes
    /// it (once, for every caller that saw it rejected); if it was already
    /// replaced, the current token is the answer, without a refresh.
    fn refresh_after_unauthorized_async<'a>(
        &'a self,
        rejected: &'a AccessToken,
    ) -> BoxFuture<'a, Result<AccessToken, TokenProviderError>> {
        Box::pin(async move {
            let token = match self.peek().await {
                Some(held) if held.tokens().access_token.secret() == rejected.secret() => {
                    self.token_after_unauthorized(&held).await?
                }
                _ => TokenCache::token(self).await?,
            };
            Ok(access_token(&token))
        })
    }
}

impl From<TokenCache> for gouqi::Credentials {
    /// gouqi's OAuth 2.0 credentials, with this cache as the token provider.
    fn from(cache: TokenCache) -> gouqi::Credentials {
        gouqi::Credentials::oauth(cache)
    }
}

/// The common case without waiting or a runtime: a token is held, saved,
/// outside the refresh-ahead window, and no refresh is running. Otherwise
/// `None`, and the caller goes through [`TokenCache::token`].
fn held_and_fresh(cache: &TokenCache) -> Option<AccessToken> {
    if cache.is_stale() {
        return None;
    }
    let held = cache.current()?;
    // `current` may have moved on since `is_stale`; only a token outside
    // the refresh-ahead window is handed out here.
    (cache.refresh_due_in()? > std::time::Duration::ZERO).then(|| access_token(&held))
}

fn access_token(token: &Token) -> AccessToken {
    AccessToken::new(token.tokens().access_token.secret().as_str())
}

/// Runs token work for gouqi's blocking client. The cache needs a tokio
/// runtime (its refresh runs on a task, store I/O on the blocking pool); one
/// worker thread is started the first time the blocking client asks for a
/// token and is shared by every cache in the process.
fn block_on<T>(
    future: impl Future<Output = Result<T, TokenProviderError>>,
) -> Result<T, TokenProviderError> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("gouqi-oauth-token")
            .enable_all()
            .build()
    });
    match runtime {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => Err(Box::new(crate::Error::Config(format!(
            "cannot start the token runtime: {e}"
        )))),
    }
}
