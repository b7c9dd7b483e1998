//! Liveness and readiness for orchestrators and load balancers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;

use super::TeamState;

/// `GET /healthz`: the process answers.
pub async fn live() -> &'static str {
    "ok"
}

/// `GET /readyz`: the store answers; otherwise 503 with the cause.
pub async fn ready(State(team): State<Arc<TeamState>>) -> (StatusCode, String) {
    match team.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready".into()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}")),
    }
}
