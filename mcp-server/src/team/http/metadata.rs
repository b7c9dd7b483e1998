//! Protected Resource Metadata (RFC 9728): tells an MCP client which
//! authorization server issues tokens for `/mcp`, and which scopes exist.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::TeamState;
use crate::team::authz::SCOPES;

/// `GET /.well-known/oauth-protected-resource` (and its `/mcp` suffix form).
pub async fn protected_resource(State(team): State<Arc<TeamState>>) -> Json<Value> {
    Json(json!({
        "resource": team.resource,
        // Exactly the authorization server's issuer string (clients compare it).
        "authorization_servers": [team.settings.public_url.as_str()],
        "scopes_supported": SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "jira-mcp",
    }))
}
