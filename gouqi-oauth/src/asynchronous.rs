//! The async client: gouqi's `r#async::Jira`, with OAuth 2.0.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::transport::{Transport, is_unauthorized};

type GouqiJira = gouqi::r#async::Jira;

/// An async Jira client whose credential may be OAuth 2.0.
///
/// - [`Jira::call`] and the request methods ([`Jira::get`], [`Jira::post`], …)
///   refresh ahead of expiry and, after a 401, refresh once (shared with every
///   concurrent caller) and retry once.
/// - The typed accessors ([`Jira::issues`], [`Jira::search`], …) return gouqi's
///   own interfaces bound to the current token. The first one starts a
///   background task that refreshes ahead of expiry while the client lives.
///   They cannot wait for a refresh, so a token that expired anyway (after a
///   suspend, say) meets a 401: wrap them in [`Jira::call`] for the retry.
#[derive(Clone)]
pub struct Jira {
    transport: Arc<Transport<GouqiJira>>,
    refresher: Arc<std::sync::Once>,
}

impl std::fmt::Debug for Jira {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jira")
            .field("host", &self.transport.host())
            .field("credentials", self.transport.credentials())
            .finish()
    }
}

macro_rules! accessors {
    ($($(#[$doc:meta])* $name:ident -> $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> $ty {
            self.snapshot().$name()
        }
    )*};
}

impl Jira {
    /// A client for `host` (a site URL, or `https://api.atlassian.com/ex/jira/{cloudId}/`
    /// for Cloud OAuth) with `credentials`.
    pub fn new(host: impl Into<String>, credentials: impl Into<Credentials>) -> Result<Jira> {
        Self::with_client_builder(host, credentials, reqwest::Client::builder)
    }

    /// Like [`Jira::new`], with the HTTP client configured by `builder` (proxies,
    /// timeouts, TLS). It is called again whenever the token changes.
    pub fn with_client_builder(
        host: impl Into<String>,
        credentials: impl Into<Credentials>,
        builder: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static,
    ) -> Result<Jira> {
        let build = move |host: &str, headers| {
            let client = builder().default_headers(headers).build().map_err(|e| {
                Error::Config(format!("cannot build the HTTP client: {}", e.without_url()))
            })?;
            Ok(GouqiJira::from_client(
                host,
                gouqi::Credentials::Anonymous,
                client,
            )?)
        };
        let credentials = credentials.into();
        if let Credentials::OAuth(cache) = &credentials {
            cache.preload()?;
        }
        let transport = Transport::new(&host.into(), credentials, Arc::new(build))?;
        Ok(Jira {
            transport: Arc::new(transport),
            refresher: Arc::new(std::sync::Once::new()),
        })
    }

    /// The credential this client uses.
    pub fn credentials(&self) -> &Credentials {
        self.transport.credentials()
    }

    /// Runs one gouqi call with a fresh token. On a 401 the token is refreshed
    /// once for all callers that used it, and `f` runs once more; a second
    /// 401 is returned as [`gouqi::Error::Unauthorized`].
    ///
    /// `f` may run twice, so it must be safe to repeat (POST and PUT included:
    /// a 401 means Jira did not act on the first one).
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: Fn(GouqiJira) -> Fut,
        Fut: Future<Output = gouqi::Result<T>>,
    {
        let Credentials::OAuth(cache) = self.transport.credentials() else {
            return Ok(f(self.transport.last_client()).await?);
        };
        let token = cache.token().await?;
        let result = f(self.transport.client_for(Some(&token))?).await;
        if !is_unauthorized(&result) {
            return Ok(result?);
        }
        tracing::debug!("Jira answered 401; refreshing once and retrying");
        let token = cache.token_after_unauthorized(&token).await?;
        Ok(f(self.transport.client_for(Some(&token))?).await?)
    }

    /// The gouqi client for the current token. The first call starts a
    /// background task that refreshes the token ahead of expiry for as long as
    /// this client lives; a token found stale also triggers a refresh at once.
    pub fn snapshot(&self) -> GouqiJira {
        let Credentials::OAuth(cache) = self.transport.credentials() else {
            return self.transport.last_client();
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&self.transport);
            self.refresher
                .call_once(|| drop(runtime.spawn(refresh_ahead(weak))));
            if cache.is_stale() {
                let transport = self.transport.clone();
                runtime.spawn(async move { refresh_once(&transport).await });
            }
        }
        match cache.current() {
            Some(token) => self
                .transport
                .client_for(Some(&token))
                .unwrap_or_else(|_| self.transport.last_client()),
            None => self.transport.last_client(),
        }
    }

    /// `GET rest/{api}/latest{endpoint}`, with refresh and retry.
    pub async fn get<D: DeserializeOwned>(&self, api: &str, endpoint: &str) -> Result<D> {
        self.call(|j| async move { j.get(api, endpoint).await })
            .await
    }

    /// `GET rest/{api}/{version}{endpoint}`, with refresh and retry.
    pub async fn get_versioned<D: DeserializeOwned>(
        &self,
        api: &str,
        version: Option<&str>,
        endpoint: &str,
    ) -> Result<D> {
        self.call(|j| async move { j.get_versioned(api, version, endpoint).await })
            .await
    }

    /// `POST`, with refresh and retry.
    pub async fn post<D: DeserializeOwned, S: Serialize>(
        &self,
        api: &str,
        endpoint: &str,
        body: S,
    ) -> Result<D> {
        let body = &body;
        self.call(|j| async move { j.post(api, endpoint, body).await })
            .await
    }

    /// `POST rest/{api}/{version}{endpoint}`, with refresh and retry.
    pub async fn post_versioned<D: DeserializeOwned, S: Serialize>(
        &self,
        api: &str,
        version: Option<&str>,
        endpoint: &str,
        body: S,
    ) -> Result<D> {
        let body = &body;
        self.call(|j| async move { j.post_versioned(api, version, endpoint, body).await })
            .await
    }

    /// `PUT`, with refresh and retry.
    pub async fn put<D: DeserializeOwned, S: Serialize>(
        &self,
        api: &str,
        endpoint: &str,
        body: S,
    ) -> Result<D> {
        let body = &body;
        self.call(|j| async move { j.put(api, endpoint, body).await })
            .await
    }

    /// `DELETE`, with refresh and retry.
    pub async fn delete<D: DeserializeOwned>(&self, api: &str, endpoint: &str) -> Result<D> {
        self.call(|j| async move { j.delete(api, endpoint).await })
            .await
    }

    /// The current user's session, with refresh and retry.
    pub async fn session(&self) -> Result<gouqi::Session> {
        self.call(|j| async move { j.session().await }).await
    }

    /// gouqi's transitions interface for `issue_key`, bound to the current token.
    pub fn transitions(
        &self,
        issue_key: impl Into<String> + std::fmt::Debug,
    ) -> gouqi::transitions::AsyncTransitions {
        self.snapshot().transitions(issue_key)
    }

    accessors! {
        /// gouqi's search interface, bound to the current token.
        search -> gouqi::AsyncSearch;
        /// gouqi's issues interface, bound to the current token.
        issues -> gouqi::issues::AsyncIssues;
        /// gouqi's issue-links interface, bound to the current token.
        issue_links -> gouqi::issue_links::AsyncIssueLinks;
        /// gouqi's projects interface, bound to the current token.
        projects -> gouqi::projects::AsyncProjects;
        /// gouqi's attachments interface, bound to the current token.
        attachments -> gouqi::attachments::AsyncAttachments;
        /// gouqi's components interface, bound to the current token.
        components -> gouqi::components::AsyncComponents;
        /// gouqi's versions interface, bound to the current token.
        versions -> gouqi::versions::AsyncVersions;
        /// gouqi's sprints interface, bound to the current token.
        sprints -> gouqi::sprints::AsyncSprints;
        /// gouqi's users interface, bound to the current token.
        users -> gouqi::users::AsyncUsers;
        /// gouqi's groups interface, bound to the current token.
        groups -> gouqi::groups::AsyncGroups;
    }
}

/// Refreshes one token if needed and rebuilds the gouqi client for it.
/// Returns false when only the user can fix the failure.
async fn refresh_once(transport: &Transport<GouqiJira>) -> bool {
    let Credentials::OAuth(cache) = transport.credentials() else {
        return false;
    };
    match cache.token().await {
        Ok(token) => transport.client_for(Some(&token)).is_ok(),
        Err(e) => {
            tracing::warn!(error = %e, "background token refresh failed");
            !e.needs_reauthorization()
        }
    }
}

/// Keeps the token fresh ahead of expiry while the client lives, so that
/// the typed accessors, which cannot wait for a refresh, find a valid token.
async fn refresh_ahead(transport: std::sync::Weak<Transport<GouqiJira>>) {
    const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(60);
    loop {
        let due = match transport.upgrade() {
            Some(t) => match &t.credentials() {
                Credentials::OAuth(cache) => cache.refresh_due_in().unwrap_or(IDLE_CHECK),
                _ => return,
            },
            None => return,
        };
        tokio::time::sleep(due.max(std::time::Duration::from_secs(1))).await;
        let Some(transport) = transport.upgrade() else {
            return;
        };
        if !refresh_once(&transport).await {
            return;
        }
    }
}
