//! The request path: gives each request a gouqi client that carries the
//! current credential as a sensitive default header. gouqi itself is handed
//! `Credentials::Anonymous`, so the token never reaches its tracing spans.
//!
//! A gouqi client is built once per token and reused until the token changes.

use std::sync::Arc;

use parking_lot::Mutex;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use url::Url;

use crate::cache::Token;
use crate::credentials::{Credentials, sensitive};
use crate::error::{Error, Result};
use crate::network::network_error;

/// Builds a gouqi client (sync or async) for `host` with these default headers.
pub(crate) type BuildClient<C> = dyn Fn(&str, HeaderMap) -> Result<C> + Send + Sync;

pub(crate) struct Transport<C> {
    host: String,
    credentials: Credentials,
    build: Arc<BuildClient<C>>,
    /// The last client built, with the token generation it carries (`None`:
    /// no OAuth token yet, or a static credential).
    last: Mutex<(Option<u64>, C)>,
}

impl<C: Clone> Transport<C> {
    pub(crate) fn new(
        host: &str,
        credentials: Credentials,
        build: Arc<BuildClient<C>>,
    ) -> Result<Self> {
        let host = normalize_host(host)?;
        let headers = match credentials.static_header()? {
            Some((name, value)) => HeaderMap::from_iter([(name, value)]),
            None => HeaderMap::new(),
        };
        let first = build(&host, headers)?;
        Ok(Transport {
            host,
            credentials,
            build,
            last: Mutex::new((None, first)),
        })
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The gouqi client for `token` (OAuth) or for the static credential.
    pub(crate) fn client_for(&self, token: Option<&Token>) -> Result<C> {
        let Some(token) = token else {
            return Ok(self.last_client());
        };
        {
            let last = self.last.lock();
            if last.0 == Some(token.generation()) {
                return Ok(last.1.clone());
            }
        }
        let bearer = format!("Bearer {}", token.tokens().access_token.secret());
        let headers = HeaderMap::from_iter([(AUTHORIZATION, sensitive(&bearer)?)]);
        let client = (self.build)(&self.host, headers)?;
        let mut last = self.last.lock();
        // A slower builder must not replace a client for a newer token.
        if last.0.is_none_or(|g| g < token.generation()) {
            *last = (Some(token.generation()), client.clone());
        }
        Ok(client)
    }

    /// The last client built, without refreshing anything.
    pub(crate) fn last_client(&self) -> C {
        self.last.lock().1.clone()
    }
}

impl<C> std::fmt::Debug for Transport<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jira")
            .field("host", &self.host)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// Reports gouqi's transport failures as [`Error::Network`] naming `host`;
/// every other gouqi error passes through.
pub(crate) fn gouqi_error(error: gouqi::Error, host: &str) -> Error {
    match (&error, Url::parse(host)) {
        (gouqi::Error::Http(e), Ok(url))
            if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() =>
        {
            network_error(e, &url)
        }
        _ => Error::Jira(error),
    }
}

/// The error for a reqwest client that could not be built (bad TLS or proxy setup).
pub(crate) fn client_build_error(e: reqwest::Error) -> Error {
    Error::Config(format!("cannot build the HTTP client: {}", e.without_url()))
}

/// Delegates gouqi's typed accessors to the client's `snapshot()`.
macro_rules! accessors {
    ($($(#[$doc:meta])* $name:ident -> $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> $ty {
            self.snapshot().$name()
        }
    )*};
}
pub(crate) use accessors;

/// True for the one gouqi error that means "this token was rejected".
pub(crate) fn is_unauthorized<T>(result: &gouqi::Result<T>) -> bool {
    matches!(result, Err(gouqi::Error::Unauthorized))
}

/// Checks the host and gives it the trailing slash gouqi's relative joins need
/// (`…/ex/jira/{cloudId}` would otherwise lose its last segment).
fn normalize_host(host: &str) -> Result<String> {
    let mut url = Url::parse(host).map_err(|e| {
        Error::Config(format!(
            "the Jira URL `{host}` is not a valid URL ({e}); use e.g. \
             https://your-site.atlassian.net or https://api.atlassian.com/ex/jira/<cloudId>/"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "the Jira URL `{host}` must start with https:// (or http:// for local tests)"
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::normalize_host;

    #[test]
    fn gateway_host_keeps_its_cloud_id_segment() {
        assert_eq!(
            normalize_host("https://api.atlassian.com/ex/jira/abc").unwrap(),
            "https://api.atlassian.com/ex/jira/abc/"
        );
        assert!(normalize_host("not a url").is_err());
        assert!(normalize_host("ftp://x").is_err());
    }
}
