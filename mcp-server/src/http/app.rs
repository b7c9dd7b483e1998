//! The team server's router: `/mcp` behind the bearer guard, the metadata
//! and health routes, and the authorization server's routes, all behind the
//! Host/Origin check.

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;

use super::{TeamState, guard, health, hosts, mcp, metadata};

/// The whole application; `authz` is the authorization server's router.
pub fn app(team: Arc<TeamState>, authz: Router) -> Router {
    let protected = Router::new()
        .route_service("/mcp", mcp::service(&team))
        .layer(from_fn_with_state(team.clone(), guard::guard));
    Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(metadata::protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(metadata::protected_resource),
        )
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .with_state(team.clone())
        .merge(protected)
        .merge(authz)
        .layer(from_fn_with_state(team, hosts::check))
}

/// The authorization server's routes (metadata, /register, /authorize,
/// consent, the Atlassian callback, /token, /revoke).
// merged with branch authz: replace the body with
// `crate::authz::router(Arc::new(crate::authz::AuthzState { .. }))`.
pub fn authz_router(_team: &Arc<TeamState>) -> Router {
    Router::new()
}
