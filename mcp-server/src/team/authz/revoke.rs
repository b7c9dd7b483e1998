//! `POST /revoke` (RFC 7009): revokes an access token, or a refresh token
//! with every token of its authorization. The
//! answer is 200 whether or not the token was known, so that it tells an
//! attacker nothing.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::authenticate_client;
use super::errors::{OAuthError, no_store};
use super::{AuthzState, parse_params};
use crate::team::store::{RefreshUse, TokenHash};

/// `POST /revoke`.
pub async fn revoke(
    State(state): State<Arc<AuthzState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match revoke_token(&state, &headers, &body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn revoke_token(
    state: &AuthzState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), OAuthError> {
    let form = parse_params(body).map_err(OAuthError::invalid_request)?;
    let client = authenticate_client(state.store.as_ref(), headers, &form).await?;
    let token = form
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let key = TokenHash::of(token);
    // An access token: revoked alone, and only by the client it was issued
    // to (RFC 7009 §2.1).
    if let Some(record) = state.store.access(&key).await? {
        if record.client_id != client.client_id {
            tracing::warn!(client_id = %client.client_id, "a client tried to revoke another client's access token");
            return Ok(());
        }
        state.store.revoke_token(&key).await?;
        tracing::info!(client_id = %client.client_id, "revoked an access token");
        return Ok(());
    }
    // A refresh token: its record is reached by taking it (it is being
    // revoked anyway), and the whole authorization goes with it, access
    // tokens included (RFC 7009 §2.1). Whoever holds another client's
    // refresh token has a leaked one: revoking is the safe answer then too.
    match state.store.take_refresh(&key).await? {
        RefreshUse::Fresh(record) | RefreshUse::Replayed(record) => {
            if record.client_id != client.client_id {
                tracing::warn!(client_id = %client.client_id, "a client presented another client's refresh token; its family is revoked");
            }
            let revoked = state.store.revoke_family(&record.family).await?;
            tracing::info!(client_id = %client.client_id, revoked, "revoked a refresh token and its family");
        }
        RefreshUse::Unknown => {}
    }
    Ok(())
}
