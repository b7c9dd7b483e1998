//! The blocking client: gouqi's `Jira`, with OAuth 2.0.
//!
//! Token work (refresh, store I/O) runs on a small runtime owned by the
//! client, so, as with gouqi's own blocking client, do not call it from
//! inside an async runtime.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::{Token, TokenCache};
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::network::HttpSettings;
use crate::transport::{Transport, accessors, client_build_error, gouqi_error, is_unauthorized};

type GouqiJira = gouqi::Jira;

/// A blocking Jira client whose credential may be OAuth 2.0.
///
/// - [`Jira::call`] and the request methods ([`Jira::get`], [`Jira::post`], …)
///   refresh ahead of expiry and, after a 401, refresh once (shared with every
///   concurrent caller) and retry once.
/// - The typed accessors ([`Jira::issues`], [`Jira::search`], …) refresh ahead
///   of expiry and return gouqi's own interfaces bound to the fresh token.
///   Wrap them in [`Jira::call`] for the 401 retry as well.
#[derive(Clone)]
pub struct Jira {
    transport: Arc<Transport<GouqiJira>>,
    runtime: Option<Arc<tokio::runtime::Runtime>>,
}

impl std::fmt::Debug for Jira {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.transport.fmt(f)
    }
}

impl Jira {
    /// A client for `host` (a site URL, or `https://api.atlassian.com/ex/jira/{cloudId}/`
    /// for Cloud OAuth) with `credentials`, and the default [`HttpSettings`]
    /// (30 s timeout).
    pub fn new(host: impl Into<String>, credentials: impl Into<Credentials>) -> Result<Jira> {
        Self::with_settings(host, credentials, &HttpSettings::default())
    }

    /// Like [`Jira::new`], with these network settings (timeout, trusted CAs).
    pub fn with_settings(
        host: impl Into<String>,
        credentials: impl Into<Credentials>,
        settings: &HttpSettings,
    ) -> Result<Jira> {
        let settings = settings.clone();
        Self::with_client_builder(host, credentials, move || {
            settings.blocking_client_builder()
        })
    }

    /// Like [`Jira::new`], with the HTTP client configured by `builder`. It is
    /// called again whenever the token changes.
    pub fn with_client_builder(
        host: impl Into<String>,
        credentials: impl Into<Credentials>,
        builder: impl Fn() -> reqwest::blocking::ClientBuilder + Send + Sync + 'static,
    ) -> Result<Jira> {
        let credentials = credentials.into();
        let runtime = match &credentials {
            Credentials::OAuth(cache) => {
                cache.preload()?;
                Some(Arc::new(token_runtime()?))
            }
            _ => None,
        };
        let build = move |host: &str, headers| {
            let client = builder()
                .default_headers(headers)
                .build()
                .map_err(client_build_error)?;
            Ok(GouqiJira::from_client(
                host,
                gouqi::Credentials::Anonymous,
                client,
            )?)
        };
        let transport = Transport::new(&host.into(), credentials, Arc::new(build))?;
        Ok(Jira {
            transport: Arc::new(transport),
            runtime,
        })
    }

    /// The credential this client uses.
    pub fn credentials(&self) -> &Credentials {
        self.transport.credentials()
    }

    fn oauth(&self) -> Option<(&TokenCache, &tokio::runtime::Runtime)> {
        match (self.transport.credentials(), &self.runtime) {
            (Credentials::OAuth(cache), Some(runtime)) => Some((cache, runtime)),
            _ => None,
        }
    }

    /// Runs one gouqi call with a fresh token. On a 401 the token is refreshed
    /// once for all callers that used it, and `f` runs once more; a second
    /// 401 is returned as [`gouqi::Error::Unauthorized`].
    pub fn call<T>(&self, f: impl Fn(&GouqiJira) -> gouqi::Result<T>) -> Result<T> {
        let host = self.transport.host();
        let Some((cache, runtime)) = self.oauth() else {
            return f(&self.transport.last_client()).map_err(|e| gouqi_error(e, host));
        };
        let token = runtime.block_on(cache.token())?;
        let result = f(&self.transport.client_for(Some(&token))?);
        if !is_unauthorized(&result) {
            return result.map_err(|e| gouqi_error(e, host));
        }
        tracing::debug!("Jira answered 401; refreshing once and retrying");
        let token: Token = runtime.block_on(cache.token_after_unauthorized(&token))?;
        f(&self.transport.client_for(Some(&token))?).map_err(|e| gouqi_error(e, host))
    }

    /// The gouqi client for a token refreshed ahead of expiry. If the refresh
    /// fails, the failure is logged and the last client is returned; its
    /// requests then fail with gouqi's own error.
    pub fn snapshot(&self) -> GouqiJira {
        let Some((cache, runtime)) = self.oauth() else {
            return self.transport.last_client();
        };
        match runtime
            .block_on(cache.token())
            .and_then(|token| self.transport.client_for(Some(&token)))
        {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "token refresh failed; using the last token");
                self.transport.last_client()
            }
        }
    }

    /// `GET rest/{api}/latest{endpoint}`, with refresh and retry.
    pub fn get<D: DeserializeOwned>(&self, api: &str, endpoint: &str) -> Result<D> {
        self.call(|j| j.get(api, endpoint))
    }

    /// `GET rest/{api}/{version}{endpoint}`, with refresh and retry.
    pub fn get_versioned<D: DeserializeOwned>(
        &self,
        api: &str,
        version: Option<&str>,
        endpoint: &str,
    ) -> Result<D> {
        self.call(|j| j.get_versioned(api, version, endpoint))
    }

    /// `POST`, with refresh and retry.
    pub fn post<D: DeserializeOwned, S: Serialize>(
        &self,
        api: &str,
        endpoint: &str,
        body: S,
    ) -> Result<D> {
        self.call(|j| j.post(api, endpoint, &body))
    }

    /// `POST rest/{api}/{version}{endpoint}`, with refresh and retry.
    pub fn post_versioned<D: DeserializeOwned, S: Serialize>(
        &self,
        api: &str,
        version: Option<&str>,
        endpoint: &str,
        body: S,
    ) -> Result<D> {
        self.call(|j| j.post_versioned(api, version, endpoint, &body))
    }

    /// `PUT`, with refresh and retry.
    pub fn put<D: DeserializeOwned, S: Serialize>(
        &self,
        api: &str,
        endpoint: &str,
        body: S,
    ) -> Result<D> {
        self.call(|j| j.put(api, endpoint, &body))
    }

    /// `DELETE`, with refresh and retry.
    pub fn delete<D: DeserializeOwned>(&self, api: &str, endpoint: &str) -> Result<D> {
        self.call(|j| j.delete(api, endpoint))
    }

    /// The current user's session, with refresh and retry.
    pub fn session(&self) -> Result<gouqi::Session> {
        self.call(|j| j.session())
    }

    /// gouqi's transitions interface for `issue_key`, bound to a fresh token.
    pub fn transitions(&self, issue_key: impl Into<String>) -> gouqi::transitions::Transitions {
        self.snapshot().transitions(issue_key)
    }

    accessors! {
        /// gouqi's search interface, bound to a fresh token.
        search -> gouqi::Search;
        /// gouqi's issues interface, bound to a fresh token.
        issues -> gouqi::issues::Issues;
        /// gouqi's issue-links interface, bound to a fresh token.
        issue_links -> gouqi::issue_links::IssueLinks;
        /// gouqi's projects interface, bound to a fresh token.
        projects -> gouqi::projects::Projects;
        /// gouqi's attachments interface, bound to a fresh token.
        attachments -> gouqi::attachments::Attachments;
        /// gouqi's components interface, bound to a fresh token.
        components -> gouqi::components::Components;
        /// gouqi's boards interface, bound to a fresh token.
        boards -> gouqi::boards::Boards;
        /// gouqi's sprints interface, bound to a fresh token.
        sprints -> gouqi::sprints::Sprints;
        /// gouqi's versions interface, bound to a fresh token.
        versions -> gouqi::versions::Versions;
        /// gouqi's resolutions interface, bound to a fresh token.
        resolution -> gouqi::resolution::Resolution;
        /// gouqi's users interface, bound to a fresh token.
        users -> gouqi::users::Users;
        /// gouqi's groups interface, bound to a fresh token.
        groups -> gouqi::groups::Groups;
    }
}

/// A one-thread runtime for token work; it runs only while a call waits on it.
fn token_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the token runtime: {e}")))
}
