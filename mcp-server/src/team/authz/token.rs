//! `POST /token`: the authorization-code grant (PKCE S256, exact redirect
//! URI, single-use codes) and the rotating refresh-token grant (a replayed
//! refresh token revokes its whole family).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth::authenticate_client;
use super::errors::{OAuthError, no_store};
use super::pkce;
use super::tokens::random_secret;
use super::{AuthzState, parse_params, split_scopes};
use crate::team::store::{
    ClientRecord, FamilyStart, RefreshUse, TokenHash, TokenRecord, UnixTime, UserId, now, seconds,
};

/// `POST /token`.
pub async fn token(
    State(state): State<Arc<AuthzState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match grant(&state, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn grant(
    state: &AuthzState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let form = parse_params(body).map_err(OAuthError::invalid_request)?;
    let client = authenticate_client(state.store.as_ref(), headers, &form).await?;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => authorization_code(state, &client, &form).await,
        Some("refresh_token") => refresh_token(state, &client, &form).await,
        Some(other) => Err(OAuthError::bad_request(
            "unsupported_grant_type",
            format!("grant_type {other} is not supported: use authorization_code or refresh_token"),
        )),
        None => Err(OAuthError::invalid_request("grant_type is missing")),
    }
}

fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
}

fn check_resource(state: &AuthzState, form: &HashMap<String, String>) -> Result<(), OAuthError> {
    match form.get("resource") {
        Some(resource) if !state.is_resource(resource) => Err(OAuthError::bad_request(
            "invalid_target",
            format!(
                "resource must be this server's MCP endpoint, {}",
                state.resource
            ),
        )),
        _ => Ok(()),
    }
}

/// The family of the tokens issued for a code: derived from the code, so a
/// second use of the code can find and revoke them (RFC 6749 §4.1.2).
fn family_of(code: &str) -> String {
    TokenHash::of(&format!("family:{code}"))
        .as_str()
        .to_string()
}

async fn authorization_code(
    state: &AuthzState,
    client: &ClientRecord,
    form: &HashMap<String, String>,
) -> Result<Response, OAuthError> {
    let code = required(form, "code")?;
    let redirect_uri = required(form, "redirect_uri")?;
    let verifier = required(form, "code_verifier")?;
    check_resource(state, form)?;
    let family = family_of(code);
    // The family's absolute end is fixed here, once: refreshes cannot move it.
    let start = FamilyStart {
        family: family.clone(),
        expires_at: now().saturating_add(seconds(state.refresh_max_lifetime)),
    };
    let Some(record) = state.store.take_code(&TokenHash::of(code), &start).await? else {
        // Unknown, expired or used: if it was used, whoever holds its tokens
        // may have stolen the code; revoke them.
        let revoked = state.store.revoke_family(&family).await?;
        if revoked > 0 {
            tracing::warn!(client_id = %client.client_id, revoked, "an authorization code was presented twice; its tokens are revoked");
        }
        return Err(OAuthError::invalid_grant(
            "the authorization code is unknown, expired or already used: authorize again",
        ));
    };
    if record.expires_at <= now() {
        return Err(OAuthError::invalid_grant(
            "the authorization code expired: authorize again",
        ));
    }
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if record.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the one in the authorization request",
        ));
    }
    if !pkce::verify(verifier, &record.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge (PKCE S256)",
        ));
    }
    let issued = Issue {
        client_id: &record.client_id,
        user: &record.user,
        scopes: &record.scopes,
        audience: &record.resource,
        family: &family,
    };
    let response = issue(state, issued).await?;
    tracing::info!(client_id = %record.client_id, user = %record.user, "issued tokens for an authorization code");
    Ok(response)
}

async fn refresh_token(
    state: &AuthzState,
    client: &ClientRecord,
    form: &HashMap<String, String>,
) -> Result<Response, OAuthError> {
    let presented = required(form, "refresh_token")?;
    check_resource(state, form)?;
    let asked = form.get("scope").map(|s| split_scopes(s));
    if let Some(unknown) = asked
        .iter()
        .flatten()
        .find(|s| !super::SCOPES.contains(&s.as_str()))
    {
        return Err(OAuthError::bad_request(
            "invalid_scope",
            format!("scope {unknown} is unknown"),
        ));
    }
    let record = match state.store.take_refresh(&TokenHash::of(presented)).await? {
        RefreshUse::Fresh(record) => record,
        RefreshUse::Replayed(record) => {
            let revoked = state.store.revoke_family(&record.family).await?;
            tracing::warn!(client_id = %record.client_id, user = %record.user, revoked, "a used refresh token was presented again; its family is revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of this authorization is now \
                 revoked: authorize again",
            ));
        }
        RefreshUse::Unknown => {
            return Err(OAuthError::invalid_grant(
                "the refresh token is unknown, expired or revoked: authorize again",
            ));
        }
    };
    if record.client_id != client.client_id {
        state.store.revoke_family(&record.family).await?;
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let scopes = match asked {
        Some(asked) if !asked.is_empty() => {
            if let Some(wider) = asked.iter().find(|s| !record.scopes.contains(s)) {
                // The presented token is spent; the family stays usable
                // through its access token until the client authorizes again.
                return Err(OAuthError::bad_request(
                    "invalid_scope",
                    format!("scope {wider} was not granted; a refresh can only narrow the scopes"),
                ));
            }
            asked
        }
        _ => record.scopes.clone(),
    };
    let issued = Issue {
        client_id: &record.client_id,
        user: &record.user,
        scopes: &scopes,
        audience: &record.audience,
        family: &record.family,
    };
    issue(state, issued).await
}

/// What a new token pair is for.
struct Issue<'a> {
    client_id: &'a str,
    user: &'a UserId,
    scopes: &'a [String],
    audience: &'a str,
    family: &'a str,
}

/// `ttl` from now, in the store's whole seconds, rounded up: rounded down,
/// a token would end up to a second before the `expires_in` it was issued
/// with, and a client refreshing just in time would be refused.
fn expiry_after(ttl: Duration) -> UnixTime {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + ttl;
    seconds(at).saturating_add(i64::from(at.subsec_nanos() > 0))
}

/// The whole seconds left until `expires_at`, rounded down (never more
/// than the token really has, however long storing it took).
fn seconds_until(expires_at: UnixTime) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let at = Duration::from_secs(expires_at.try_into().unwrap_or(0));
    seconds(at.saturating_sub(now))
}

async fn issue(state: &AuthzState, issued: Issue<'_>) -> Result<Response, OAuthError> {
    let access = random_secret();
    let refresh = random_secret();
    let record = |ttl: Duration| TokenRecord {
        client_id: issued.client_id.to_string(),
        user: issued.user.clone(),
        scopes: issued.scopes.to_vec(),
        audience: issued.audience.to_string(),
        family: issued.family.to_string(),
        expires_at: expiry_after(ttl),
    };
    // Refused when a replay revoked the family meanwhile (a racing thief or
    // victim); tokens stored just before such a revocation die with it.
    let revoked = || {
        OAuthError::invalid_grant(
            "this authorization was revoked (its code or refresh token was used twice): \
             authorize again",
        )
    };
    let access_record = record(state.access_ttl);
    if !state
        .store
        .put_access(&TokenHash::of(&access), &access_record)
        .await?
    {
        return Err(revoked());
    }
    if !state
        .store
        .put_refresh(&TokenHash::of(&refresh), &record(state.refresh_ttl))
        .await?
    {
        return Err(revoked());
    }
    let body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": seconds_until(access_record.expires_at),
        "refresh_token": refresh,
        "scope": issued.scopes.join(" "),
    });
    let mut response = Json(body).into_response();
    no_store(response.headers_mut());
    Ok(response)
}
