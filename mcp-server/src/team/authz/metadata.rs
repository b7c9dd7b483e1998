//! Authorization server metadata (RFC 8414), where MCP clients discover the
//! endpoints. Served at the root well-known path only: the MCP Python SDK
//! (`mcp` 2.3, `build_oauth_authorization_server_metadata_discovery_urls`)
//! tries `/.well-known/oauth-authorization-server` before any OpenID
//! Connect path, so `/.well-known/openid-configuration` is not needed.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{AuthzState, SCOPES, errors::no_store};

/// The metadata document.
pub fn document(state: &AuthzState) -> Value {
    let auth_methods = ["none", "client_secret_post", "client_secret_basic"];
    json!({
        "issuer": state.issuer(),
        "authorization_endpoint": state.endpoint("/authorize"),
        "token_endpoint": state.endpoint("/token"),
        "registration_endpoint": state.endpoint("/register"),
        "revocation_endpoint": state.endpoint("/revoke"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "authorization_response_iss_parameter_supported": true,
    })
}

/// `GET /.well-known/oauth-authorization-server`.
pub async fn metadata(State(state): State<Arc<AuthzState>>) -> Response {
    let mut response = Json(document(&state)).into_response();
    // Metadata is public; a short cache spares the store nothing, so keep
    // clients from holding on to stale endpoints after a reconfiguration.
    no_store(response.headers_mut());
    response
}
