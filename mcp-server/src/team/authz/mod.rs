//! The authorization server for MCP clients (MCP authorization, 2025-11-25):
//! metadata, client registration, the consent page, the hop through
//! Atlassian's consent, `/token` and `/revoke`. Its tokens are jira-mcp's
//! own ([`tokens`]); Atlassian's never leave the server.
//!
//! Every endpoint keeps its state in the [`TeamStore`] (or sealed with the
//! [`Sealer`]), never in process memory, so that any replica can serve any
//! step of an authorization.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use url::Url;

use crate::auth::OAuthSetup;
use crate::config::{AbuseLimits, Config};
use crate::team::store::crypto::Sealer;
use crate::team::store::{StoreResult, TeamStore, UserId};

pub mod callback;
pub mod client_auth;
pub mod consent;
pub mod errors;
pub mod limits;
pub mod metadata;
pub mod page;
pub mod pkce;
pub mod register;
pub mod revoke;
pub mod token;
pub mod tokens;

/// Lets a client call the read tools.
pub const SCOPE_READ: &str = "jira:read";
/// Lets a client call the tools that change Jira (with [`SCOPE_READ`]).
pub const SCOPE_WRITE: &str = "jira:write";
/// Every scope this server knows, for metadata and the default grant.
pub const SCOPES: [&str; 2] = [SCOPE_READ, SCOPE_WRITE];

/// The largest request body any authorization endpoint reads: registrations
/// and token requests are small, and a cap keeps a client from making the
/// server buffer megabytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the authorization endpoints share.
pub struct AuthzState {
    /// Users, clients, pending authorizations, codes and tokens.
    pub store: Arc<dyn TeamStore>,
    /// Seals Atlassian grants, PKCE verifiers and consent requests.
    pub sealer: Arc<Sealer>,
    /// `JIRA_MCP_PUBLIC_URL`: the issuer, and the base of every endpoint.
    pub public_url: Url,
    /// The protected resource (`{public_url}/mcp`): the audience of every
    /// token issued here.
    pub resource: String,
    /// The Atlassian app that users consent to.
    pub atlassian: OAuthSetup,
    /// The configuration (for the Jira client that identifies a user).
    pub config: Arc<Config>,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens (each rotation starts a new one).
    pub refresh_ttl: Duration,
    /// The absolute lifetime of an authorization (a token family): no
    /// refresh extends it past this, counted from the code's redemption.
    pub refresh_max_lifetime: Duration,
    /// Per-address rate limits on these endpoints, and how long a client
    /// that never completed an authorization is kept.
    pub abuse: AbuseLimits,
    /// Called with the user whose new Atlassian grant was just saved: the
    /// team server drops that user's cached Jira connection, so the next
    /// call uses the new grant (and site) at once.
    pub on_sign_in: Option<SignInHook>,
}

/// See [`AuthzState::on_sign_in`].
pub type SignInHook = Arc<dyn Fn(&UserId) + Send + Sync>;

impl AuthzState {
    /// The issuer identifier (RFC 8414): the public URL as the `url` crate
    /// writes it (a root URL ends with `/`, as the MCP Python SDK renders
    /// it). The `iss` of every authorization response; the protected
    /// resource metadata must list exactly this string.
    pub fn issuer(&self) -> &str {
        self.public_url.as_str()
    }

    /// The absolute URL of an endpoint of this server (`path` starts with
    /// `/`), kept under the public URL's path when it has one.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.as_str().trim_end_matches('/'))
    }

    /// True when `resource` names this server's protected resource (a
    /// trailing `/` is tolerated).
    pub fn is_resource(&self, resource: &str) -> bool {
        resource.trim_end_matches('/') == self.resource.trim_end_matches('/')
    }
}

impl fmt::Debug for AuthzState {
    // The config and the sealer redact their secrets themselves; the rest
    // is public, but spelled out so that nothing new leaks by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthzState")
            .field("store", &self.store.describe())
            .field("sealer", &self.sealer)
            .field("public_url", &self.public_url.as_str())
            .field("resource", &self.resource)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("refresh_max_lifetime", &self.refresh_max_lifetime)
            .field("abuse", &self.abuse)
            .finish_non_exhaustive()
    }
}

/// The authorization server's routes. Every route a caller can reach
/// without a token, except the metadata, is rate limited per address
/// ([`limits`]).
pub fn router(state: Arc<AuthzState>) -> Router {
    let registration = Router::new()
        .route("/register", post(register::register))
        .route_layer(from_fn_with_state(
            limits::AddressLimit::registrations(&state.abuse),
            limits::limit,
        ));
    let limited = Router::new()
        .route("/authorize", get(consent::authorize))
        .route("/authorize/consent", post(consent::consent))
        .route(
            crate::config::ATLASSIAN_CALLBACK_PATH,
            get(callback::callback),
        )
        .route("/token", post(token::token))
        .route("/revoke", post(revoke::revoke))
        .route_layer(from_fn_with_state(
            limits::AddressLimit::general(&state.abuse),
            limits::limit,
        ));
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::metadata),
        )
        .merge(registration)
        .merge(limited)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Revokes every MCP token of `user` (logout from every client) and deletes
/// their unredeemed codes, in one transaction; other users' tokens are
/// untouched. Returns how many tokens and codes that was. Their Atlassian grant stays, so that the
/// user can authorize a client again without consenting at Atlassian.
pub async fn revoke_user(store: &dyn TeamStore, user: &UserId) -> StoreResult<u64> {
    let revoked = store.revoke_user_tokens(user).await?;
    tracing::info!(user = %user, revoked, "revoked every MCP token of a user");
    Ok(revoked)
}

/// Deletes `user` with their Atlassian grant, codes and tokens. False when
/// no such user existed.
pub async fn delete_user(store: &dyn TeamStore, user: &UserId) -> StoreResult<bool> {
    let deleted = store.delete_user(user).await?;
    tracing::info!(user = %user, deleted, "deleted a user and their Atlassian grant");
    Ok(deleted)
}

/// Splits a space-separated `scope` parameter, dropping duplicates.
pub(crate) fn split_scopes(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|known| known == s) {
            scopes.push(s.to_string());
        }
    }
    scopes
}

/// Parses a form-encoded body or query string, refusing a parameter given
/// twice (RFC 6749 §3.1 and §3.2: "MUST NOT be included more than once").
pub(crate) fn parse_params(
    raw: &[u8],
) -> Result<std::collections::HashMap<String, String>, String> {
    let mut params = std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if params.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(format!(
                "the parameter `{k}` is given more than once; send it once"
            ));
        }
    }
    Ok(params)
}
