//! `POST /revoke` (RFC 7009): revokes one access or refresh token. The
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
use crate::store::TokenHash;

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
    // A client may revoke only its own tokens (RFC 7009 §2.1). Access
    // tokens can be checked; a refresh token's record is only reachable by
    // using it, and its hash is unguessable, so holding it is the proof.
    if let Some(record) = state.store.access(&key).await?
        && record.client_id != client.client_id
    {
        tracing::warn!(client_id = %client.client_id, "a client tried to revoke another client's token");
        return Ok(());
    }
    let revoked = state.store.revoke_token(&key).await?;
    tracing::info!(client_id = %client.client_id, revoked, "token revocation");
    Ok(())
}
