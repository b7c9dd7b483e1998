//! jira-mcp's own tokens: random secrets, kept in the store only as hashes,
//! and checked on every `/mcp` request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::SCOPE_WRITE;
use crate::catalog;
use crate::team::store::{StoreError, TeamStore, TokenHash, UserId, now};

/// A new random secret (256 bits, base64url): a token, a code, a `state`.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator fails only on a broken system; refuse to go on then.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Who a valid access token acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The user.
    pub user: UserId,
    /// The MCP client that holds the token.
    pub client_id: String,
    /// The scopes the user approved for it.
    pub scopes: Vec<String>,
}

impl Caller {
    /// True when the token carries `scope`.
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Why this caller's token may not call `tool`, if it may not: a tool
    /// that changes Jira needs [`SCOPE_WRITE`]. The one answer for
    /// `tools/list`, `tools/call` and the HTTP guard.
    pub fn refusal(&self, tool: &str) -> Option<String> {
        let writes = catalog::find(tool).is_some_and(|t| t.writes);
        (writes && !self.has(SCOPE_WRITE)).then(|| {
            format!(
                "`{tool}` changes Jira, and this client was authorized without the \
                 `{SCOPE_WRITE}` scope: authorize it again with `{SCOPE_WRITE}`"
            )
        })
    }
}

/// Why a request's token was refused (all answered with 401 and
/// `WWW-Authenticate`, except a store failure, which is a 503).
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// No `Authorization: Bearer` header.
    #[error("this server needs an access token: authorize the MCP client first")]
    Missing,
    /// Unknown, expired, revoked, or issued by someone else (an Atlassian
    /// token, say): the store holds no live record of it.
    #[error("the access token is invalid, expired or revoked: authorize again")]
    Invalid,
    /// Issued by this server for another resource.
    #[error("the access token was issued for another resource, not this server")]
    WrongAudience,
    /// The store could not be asked.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a bearer token: known to the store, alive, and bound to
/// `audience` (this server's `/mcp` URL).
pub async fn authenticate(
    store: &dyn TeamStore,
    bearer: Option<&str>,
    audience: &str,
) -> Result<Caller, Rejection> {
    let token = bearer.filter(|t| !t.is_empty()).ok_or(Rejection::Missing)?;
    let record = store
        .access(&TokenHash::of(token))
        .await?
        .ok_or(Rejection::Invalid)?;
    if record.expires_at <= now() {
        return Err(Rejection::Invalid);
    }
    if record.audience != audience {
        return Err(Rejection::WrongAudience);
    }
    Ok(Caller {
        user: record.user,
        client_id: record.client_id,
        scopes: record.scopes,
    })
}
