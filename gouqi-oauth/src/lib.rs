//! OAuth 2.0 for the [`gouqi`] Jira client: tokens that are refreshed before
//! they expire, refreshed exactly once when Jira answers 401, stored safely,
//! and never written to logs.
//!
//! # Layers
//!
//! - [`TokenSource`] obtains tokens from the token endpoint (refresh-token or
//!   client-credentials grant), with bounded retries for transient failures.
//! - [`TokenCache`] holds the current token behind one lock. A token inside
//!   the skew window (default 5 min) is refreshed before use; after a 401 all
//!   callers that used the same token share a single refresh. Refreshes hold
//!   the store's cross-process lock and re-read the store, so two processes
//!   never send the same rotating refresh token.
//! - The request path ([`Jira`], [`r#async::Jira`]) attaches the token as a
//!   *sensitive* default header and retries once after a 401. gouqi itself
//!   only ever sees `Credentials::Anonymous`, so its tracing spans (which
//!   record the client's credentials) carry no token.
//! - [`TokenStore`] keeps token sets: [`FileStore`] (versioned JSON, mode 0600,
//!   atomic replace, cross-process lock) and [`MemoryStore`].
//!
//! # Migrating from gouqi
//!
//! Change the import and the constructor; the rest of the program stays.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Before:
//! // use gouqi::{Credentials, r#async::Jira};
//! // let jira = Jira::new("https://your-site.atlassian.net", Credentials::Bearer(token))?;
//!
//! // After:
//! use gouqi_oauth::{ClientId, ClientSecret, Credentials, FileStore, TokenCache, TokenSource, TokenUrl};
//! use gouqi_oauth::r#async::Jira;
//!
//! let source = TokenSource::new(
//!     ClientId::new("your-client-id".into()),
//!     TokenUrl::new("https://auth.atlassian.com/oauth/token".into())?,
//! )?
//! .client_secret(ClientSecret::new(std::env::var("JIRA_OAUTH_CLIENT_SECRET")?));
//! let store = FileStore::new(FileStore::default_path("gouqi-oauth")?);
//! let credentials = Credentials::OAuth(TokenCache::new(source, store));
//! let jira = Jira::new("https://api.atlassian.com/ex/jira/your-cloud-id/", credentials)?;
//!
//! // gouqi's API, unchanged:
//! let issue = jira.issues().get("ED-1").await?;
//! // With a one-time refresh-and-retry on 401:
//! let issue = jira.call(|j| async move { j.issues().get("ED-1").await }).await?;
//! let myself: serde_json::Value = jira.get("api", "/myself").await?;
//! # let _ = (issue, myself);
//! # Ok(())
//! # }
//! ```
//!
//! The blocking client is [`Jira`], mirroring `gouqi::Jira`:
//!
//! ```no_run
//! # fn run(credentials: gouqi_oauth::Credentials) -> Result<(), Box<dyn std::error::Error>> {
//! let jira = gouqi_oauth::Jira::new("https://api.atlassian.com/ex/jira/your-cloud-id/", credentials)?;
//! let issue = jira.call(|j| j.issues().get("ED-1"))?;
//! # let _ = issue;
//! # Ok(())
//! # }
//! ```
//!
//! # Service accounts (client credentials)
//!
//! ```no_run
//! # fn run() -> gouqi_oauth::Result<()> {
//! use gouqi_oauth::{ClientId, ClientSecret, Grant, MemoryStore, TokenCache, TokenSource, TokenUrl};
//!
//! let source = TokenSource::new(
//!     ClientId::new("service-account-client-id".into()),
//!     TokenUrl::new("https://auth.atlassian.com/oauth/token".into()).expect("a valid URL"),
//! )?
//! .client_secret(ClientSecret::new("service-account-secret".into()))
//! .grant(Grant::ClientCredentials);
//! let jira = gouqi_oauth::Jira::new(
//!     "https://api.atlassian.com/ex/jira/your-cloud-id/",
//!     TokenCache::new(source, MemoryStore::new()),
//! )?;
//! # let _ = jira;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

#[path = "asynchronous.rs"]
pub mod r#async;
mod credentials;
pub mod error;
mod http;
pub mod refresh;
pub mod source;
pub mod store;
pub mod sync;
pub mod token;
mod transport;

pub use credentials::Credentials;
pub use error::{Error, Result, StoreError};
pub use oauth2::{AccessToken, ClientId, ClientSecret, RedirectUrl, RefreshToken, TokenUrl};
pub use refresh::{Token, TokenCache};
pub use source::{Grant, RetryPolicy, TokenSource};
pub use store::{FileStore, MemoryStore, StoreLock, TokenStore};
pub use sync::Jira;
pub use token::{Site, TokenSet};
