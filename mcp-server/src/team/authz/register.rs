//! Dynamic Client Registration (RFC 7591): `POST /register`.
//!
//! Any MCP client may register (the MCP specification expects open DCR);
//! what protects users is the consent page, which names the client and the
//! exact redirect URI its code will be sent to.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use url::{Host, Url};

use super::errors::{OAuthError, no_store};
use super::page::is_invisible;
use super::tokens::random_secret;
use super::{AuthzState, SCOPES, split_scopes};
use crate::team::store::{ClientAuth, ClientRecord, TokenHash, now, seconds};

/// The longest `client_name` accepted (it is shown on the consent page).
pub const MAX_CLIENT_NAME: usize = 100;
/// The most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 10;
/// The longest redirect URI accepted.
pub const MAX_REDIRECT_URI_LEN: usize = 2000;

/// The registration request (unknown members are ignored, as RFC 7591 says).
#[derive(Debug, Deserialize)]
struct Request {
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    scope: Option<String>,
}

fn invalid_metadata(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request("invalid_client_metadata", description)
}

/// `POST /register`.
pub async fn register(State(state): State<Arc<AuthzState>>, body: Bytes) -> Response {
    match register_client(&state, &body).await {
        Ok(answer) => {
            let mut response = (StatusCode::CREATED, Json(answer)).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn register_client(state: &AuthzState, body: &[u8]) -> Result<Value, OAuthError> {
    let request: Request = serde_json::from_slice(body).map_err(|e| {
        invalid_metadata(format!(
            "the registration must be a JSON object (RFC 7591) with at least redirect_uris: {e}"
        ))
    })?;
    let redirect_uris = check_redirect_uris(request.redirect_uris)?;
    let client_name = check_client_name(request.client_name)?;
    let grant_types = check_grant_types(request.grant_types)?;
    let response_types = check_response_types(request.response_types)?;
    let scope = check_scope(request.scope)?;
    // RFC 7591 §2: the default method is client_secret_basic.
    let method = request
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".into());
    let client_id = random_secret();
    let (auth, secret) = match method.as_str() {
        "none" => (ClientAuth::None, None),
        "client_secret_post" | "client_secret_basic" => {
            let secret = random_secret();
            let auth = ClientAuth::Secret {
                method: method.clone(),
                secret_hash: TokenHash::of(&secret),
            };
            (auth, Some(secret))
        }
        other => {
            return Err(invalid_metadata(format!(
                "token_endpoint_auth_method `{other}` is not supported: use none (a public \
                 client with PKCE), client_secret_post or client_secret_basic"
            )));
        }
    };
    let issued_at = now();
    purge_unused_clients(state, issued_at).await;
    let record = ClientRecord {
        client_id: client_id.clone(),
        client_name: client_name.clone(),
        redirect_uris: redirect_uris.clone(),
        auth,
        created_at: issued_at,
    };
    state.store.put_client(&record).await?;
    tracing::info!(
        client_id = %client_id,
        client_name = client_name.as_deref().unwrap_or(""),
        method = %method,
        "registered an MCP client"
    );
    let mut answer = json!({
        "client_id": client_id,
        "client_id_issued_at": issued_at,
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": method,
        "grant_types": grant_types,
        "response_types": response_types,
    });
    if let Some(name) = client_name {
        answer["client_name"] = json!(name);
    }
    if let Some(scope) = scope {
        answer["scope"] = json!(scope);
    }
    if let Some(secret) = secret {
        answer["client_secret"] = json!(secret);
        answer["client_secret_expires_at"] = json!(0);
    }
    Ok(answer)
}

/// Deletes the registrations that never completed an authorization within
/// `JIRA_MCP_UNUSED_CLIENT_TTL_SECS`: each registration is a stored row
/// anyone can create, so none may stay forever unused. Done here, where new
/// rows come from (and by the team server's periodic purge). A failure only
/// delays it.
async fn purge_unused_clients(state: &AuthzState, now: i64) {
    let cutoff = now.saturating_sub(seconds(state.abuse.unused_client_ttl));
    match state.store.purge_unused_clients(cutoff).await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(
            purged,
            "deleted clients that never completed an authorization"
        ),
        Err(e) => tracing::warn!(error = %e, "could not delete unused clients"),
    }
}

fn invalid_redirect(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request("invalid_redirect_uri", description)
}

/// Checks every redirect URI (RFC 8252 and OAuth 2.1: https, or http only
/// on a loopback host; no fragment), and gives them as the `url` crate
/// parses them: that form (a Unicode host in punycode) is what is stored,
/// compared and shown, and where codes go.
fn check_redirect_uris(uris: Option<Vec<String>>) -> Result<Vec<String>, OAuthError> {
    let uris = uris.unwrap_or_default();
    if uris.is_empty() {
        return Err(invalid_redirect(
            "redirect_uris is required: list the URIs the authorization code may be sent to",
        ));
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid_redirect(format!(
            "at most {MAX_REDIRECT_URIS} redirect URIs may be registered"
        )));
    }
    uris.iter()
        .map(|uri| check_redirect_uri(uri).map(String::from))
        .collect()
}

/// Checks one redirect URI; the parsed URL.
pub fn check_redirect_uri(uri: &str) -> Result<Url, OAuthError> {
    if uri.len() > MAX_REDIRECT_URI_LEN {
        return Err(invalid_redirect(format!(
            "a redirect URI is longer than {MAX_REDIRECT_URI_LEN} characters"
        )));
    }
    // The URL parser drops tabs and newlines and IDNA drops zero-width
    // characters: refuse them rather than store something other than what
    // the client sent.
    if let Some(c) = uri.chars().find(|c| is_invisible(*c)) {
        return Err(invalid_redirect(format!(
            "a redirect URI holds the invisible character U+{:04X} (a control, format or \
             separator character): remove it",
            u32::from(c)
        )));
    }
    let url = Url::parse(uri).map_err(|e| {
        invalid_redirect(format!(
            "`{uri}` is not an absolute URL ({e}): give the full URL"
        ))
    })?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(invalid_redirect(format!(
            "`{uri}` has a fragment (#…), which redirect URIs must not have: remove it"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid_redirect(format!(
            "`{uri}` holds user information: remove the user:password@ part"
        )));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(url.host().as_ref()) => Ok(url),
        "http" => Err(invalid_redirect(format!(
            "`{uri}` uses http on a host other than loopback: use https, or http://127.0.0.1, \
             http://localhost or http://[::1] for a local client"
        ))),
        _ => Err(invalid_redirect(format!(
            "`{uri}` must use https (or http on a loopback host such as http://127.0.0.1)"
        ))),
    }
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback(host: Option<&Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_client_name(name: Option<String>) -> Result<Option<String>, OAuthError> {
    let Some(name) = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_CLIENT_NAME {
        return Err(invalid_metadata(format!(
            "client_name is longer than {MAX_CLIENT_NAME} characters: shorten it"
        )));
    }
    if let Some(c) = name.chars().find(|c| is_invisible(*c)) {
        return Err(invalid_metadata(format!(
            "client_name holds the invisible character U+{:04X} (a control, format or separator \
             character, such as a right-to-left override, that would change how the consent \
             page shows it): use plain text",
            u32::from(c)
        )));
    }
    Ok(Some(name))
}

fn check_grant_types(grants: Option<Vec<String>>) -> Result<Vec<String>, OAuthError> {
    let grants = grants.unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(other) = grants
        .iter()
        .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(invalid_metadata(format!(
            "grant_types holds `{other}`: this server supports authorization_code and \
             refresh_token only"
        )));
    }
    if !grants.iter().any(|g| g == "authorization_code") {
        return Err(invalid_metadata(
            "grant_types must include authorization_code: it is how this server issues tokens",
        ));
    }
    Ok(grants)
}

fn check_response_types(types: Option<Vec<String>>) -> Result<Vec<String>, OAuthError> {
    let types = types.unwrap_or_else(|| vec!["code".into()]);
    if types.is_empty() || types.iter().any(|t| t != "code") {
        return Err(invalid_metadata(
            "response_types must be [\"code\"]: this server supports the authorization-code flow only",
        ));
    }
    Ok(types)
}

fn check_scope(scope: Option<String>) -> Result<Option<String>, OAuthError> {
    let Some(scope) = scope else {
        return Ok(None);
    };
    let scopes = split_scopes(&scope);
    if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(invalid_metadata(format!(
            "scope `{unknown}` is unknown: this server's scopes are {}",
            SCOPES.join(" ")
        )));
    }
    Ok(Some(scopes.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/callback",
            "http://localhost:8080/cb",
            "http://[::1]:9000/cb",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "https://example.com/cb#frag",
            "javascript:alert(1)",
            "com.example.app:/cb",
            "/relative",
            "https://user:pw@example.com/cb",
        ] {
            let e = check_redirect_uri(bad).unwrap_err();
            assert_eq!(e.error, "invalid_redirect_uri", "{bad}");
        }
    }
}
