//! Every credential gouqi knows, plus OAuth 2.0, with secrets held in types
//! that redact themselves.

use base64::Engine;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::cache::TokenCache;
use crate::error::{Error, Result};

/// How a client authenticates to Jira.
///
/// The static variants mirror `gouqi::Credentials`, and `From<gouqi::Credentials>`
/// converts them. `Debug` never prints a secret.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// No authentication.
    Anonymous,
    /// Username (or email) and password (or API token / PAT), sent as HTTP Basic.
    Basic(String, SecretString),
    /// A static bearer token (e.g. a Data Center personal access token).
    Bearer(SecretString),
    /// A `JSESSIONID` cookie value.
    Cookie(SecretString),
    /// OAuth 2.0: tokens come from the cache, which refreshes them.
    OAuth(TokenCache),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic(user, _) => write!(f, "Basic({user:?}, [redacted])"),
            Credentials::Bearer(_) => f.write_str("Bearer([redacted])"),
            Credentials::Cookie(_) => f.write_str("Cookie([redacted])"),
            Credentials::OAuth(cache) => f.debug_tuple("OAuth").field(cache).finish(),
        }
    }
}

impl From<gouqi::Credentials> for Credentials {
    fn from(credentials: gouqi::Credentials) -> Credentials {
        match credentials {
            gouqi::Credentials::Basic(user, pass) => Credentials::Basic(user, pass.into()),
            gouqi::Credentials::Bearer(token) => Credentials::Bearer(token.into()),
            gouqi::Credentials::Cookie(session) => Credentials::Cookie(session.into()),
            // OAuth 1.0a, and gouqi's own OAuth provider (patched gouqi), have
            // no counterpart here: say so rather than fail silently later.
            // (Not logged: stock gouqi's `Debug` prints the secrets.)
            _ => {
                tracing::warn!(
                    "these gouqi credentials cannot be carried over and are dropped (anonymous \
                     requests follow); use gouqi_oauth::Credentials::OAuth(TokenCache), or \
                     gouqi's own client"
                );
                Credentials::Anonymous
            }
        }
    }
}

impl From<TokenCache> for Credentials {
    fn from(cache: TokenCache) -> Credentials {
        Credentials::OAuth(cache)
    }
}

impl Credentials {
    /// The header a static credential adds to every request, marked sensitive
    /// so that reqwest's `Debug` (which gouqi traces) prints `Sensitive`.
    pub(crate) fn static_header(&self) -> Result<Option<(HeaderName, HeaderValue)>> {
        let (name, value) = match self {
            Credentials::Anonymous | Credentials::OAuth(_) => return Ok(None),
            Credentials::Basic(user, pass) => {
                let pair = format!("{user}:{}", pass.expose_secret());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                (AUTHORIZATION, format!("Basic {encoded}"))
            }
            Credentials::Bearer(token) => {
                (AUTHORIZATION, format!("Bearer {}", token.expose_secret()))
            }
            Credentials::Cookie(session) => {
                (COOKIE, format!("JSESSIONID={}", session.expose_secret()))
            }
        };
        Ok(Some((name, sensitive(&value)?)))
    }
}

/// A header value that reqwest and http redact in `Debug`.
pub(crate) fn sensitive(value: &str) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        Error::Config(
            "the credential contains characters that cannot be sent in an HTTP header \
             (control characters or non-ASCII); check that it was copied whole"
                .into(),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}
