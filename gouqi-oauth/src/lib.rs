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
//! - The request path ([`Jira`], [`r#async::Jira`](async/struct.Jira.html)) attaches the token as a
//!   *sensitive* default header and retries once after a 401. gouqi itself
//!   only ever sees `Credentials::Anonymous`, so its tracing spans (which
//!   record the client's credentials) carry no token.
//! - [`HttpSettings`] says how every client above connects (timeout, TCP
//!   keepalive, a private CA bundle, the OS trust store); a server that cannot
//!   be reached is reported as [`Error::Network`], naming the host and the cause.
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
//! # Logging in
//!
//! [`AuthorizationFlow`] runs the authorization-code flow with PKCE for Jira
//! Cloud (3LO) and Data Center: it builds the authorization URL, captures the
//! code on a loopback listener (or takes a pasted redirect), exchanges it,
//! picks the Cloud site, and saves the tokens.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use gouqi_oauth::{AuthorizationFlow, ClientId, ClientSecret, FileStore, RedirectUrl, TokenCache, TokenStore};
//!
//! let flow = AuthorizationFlow::cloud(
//!     ClientId::new("your-client-id".into()),
//!     RedirectUrl::new("http://localhost:8080/callback".into())?,
//! )
//! .client_secret(ClientSecret::new(std::env::var("JIRA_OAUTH_CLIENT_SECRET")?))
//! .scopes(["read:jira-work", "write:jira-work", "read:jira-user"]); // + offline_access
//! let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(FileStore::default_path("gouqi-oauth")?));
//!
//! let login = flow
//!     .login_with_loopback(&store, gouqi_oauth::DEFAULT_LOGIN_TIMEOUT, |url| {
//!         eprintln!("Open this URL in a browser: {url}");
//!     })
//!     .await?;
//! for warning in &login.warnings {
//!     eprintln!("warning: {warning}");
//! }
//!
//! // The tokens are stored, bound to the chosen site; use them:
//! let site = login.tokens.site.clone().unwrap_or_default();
//! let cache = TokenCache::with_store(flow.token_source()?, store).site(site);
//! let jira = gouqi_oauth::r#async::Jira::new(login.api_base.as_str(), cache)?;
//! let me: serde_json::Value = jira.get("api", "/myself").await?;
//! # let _ = me;
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

// Private modules, one flat list of re-exports: one path per item. Only
// `r#async` stays a module, mirroring `gouqi::r#async` (its `Jira` is the
// async twin of the blocking [`Jira`]).
#[path = "asynchronous.rs"]
pub mod r#async;
mod cache;
mod credentials;
mod discovery;
mod error;
mod login;
mod network;
#[cfg(feature = "gouqi-provider")]
mod provider;
mod source;
mod store;
mod sync;
mod token;
mod token_endpoint;
mod transport;

pub use cache::{Token, TokenCache};
pub use credentials::Credentials;
pub use discovery::{AccessibleResource, accessible_resources_with, cloud_api_base};
pub use error::{Error, NetworkFailure, Result, StoreError};
pub use login::{
    AuthorizationFlow, CLOUD_DEFAULT_SCOPES, DATA_CENTER_DEFAULT_SCOPES, DEFAULT_LOGIN_TIMEOUT,
    Deployment, Endpoints, Login, LoopbackListener, PendingAuthorization, check_writable,
};
pub use network::HttpSettings;
pub use oauth2::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, ClientSecret, RedirectUrl, RefreshToken,
    TokenUrl,
};
/// The `secrecy` crate, whose `SecretString` [`Credentials`] holds.
pub use secrecy;
pub use source::{Grant, RetryPolicy, TokenSource};
pub use store::{
    FileStore, MemoryStore, StoreLock, TokenStore, decode_token_set, encode_token_set,
};
#[cfg(feature = "keyring")]
pub use store::{KeyringBackend, KeyringStore};
pub use sync::Jira;
pub use token::{Site, TokenSet};
