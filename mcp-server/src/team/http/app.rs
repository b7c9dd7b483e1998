//! The team server's router: `/mcp` behind the bearer guard, the metadata
//! and health routes, and the authorization server's routes, all behind the
//! Host/Origin check.

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;

use super::{TeamState, guard, health, hosts, mcp, metadata};
use crate::auth::OAuthSetup;
use crate::team::authz::{self, AuthzState};

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
/// consent, the Atlassian callback, /token, /revoke), on the team state's
/// store and sealer.
pub fn authz_router(team: &Arc<TeamState>) -> Result<Router, String> {
    let config = team.server.config().clone();
    let atlassian = OAuthSetup::from_config(&config)
        .ok_or("the team server needs OAuth settings (JIRA_AUTH_TYPE=oauth)")?;
    let state = AuthzState {
        store: team.store.clone(),
        sealer: team.sealer.clone(),
        public_url: team.settings.public_url.clone(),
        resource: team.resource.clone(),
        atlassian,
        config: Arc::new(config),
        access_ttl: team.settings.access_ttl,
        refresh_ttl: team.settings.refresh_ttl,
        refresh_max_lifetime: team.settings.refresh_max_lifetime,
        abuse: team.settings.abuse.clone(),
        on_sign_in: Some(forget_connection(team)),
    };
    Ok(authz::router(Arc::new(state)))
}

/// After a user signs in again, their cached connection (old grant, maybe
/// another site) is dropped, so the next call opens one on the new grant.
fn forget_connection(team: &Arc<TeamState>) -> authz::SignInHook {
    let clients = team.clients.clone();
    Arc::new(move |user| clients.forget(user))
}
