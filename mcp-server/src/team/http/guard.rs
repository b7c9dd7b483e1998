//! The bearer check in front of `/mcp`: jira-mcp's own access token → the
//! [`Caller`] (put into the request for the tool layer), the `jira:read`
//! scope, the per-client rate limit, and `jira:write` for the write tools.
//!
//! Answers follow RFC 6750 and MCP authorization: a missing or bad token
//! gets a 401 whose `WWW-Authenticate` names the Protected Resource Metadata
//! and the scopes; a missing scope gets a 403 `insufficient_scope`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::TeamState;
use super::audit;
use super::connections::refuse;
use crate::catalog;
use crate::session::{self, Outcome};
use crate::team::authz::tokens::{Caller, Rejection, authenticate};
use crate::team::authz::{SCOPE_READ, SCOPE_WRITE, SCOPES};

/// The largest `/mcp` request body, here and in rmcp (and nginx's
/// `client_max_body_size 14m` in deploy/nginx.conf): room for
/// `upload_attachment`'s largest file (10 MiB, 13.4 MiB as base64) in its
/// JSON-RPC call. One limit, documented in the README ("Upload limit").
pub const MAX_BODY: usize = 14 * 1024 * 1024;
const _: () = assert!(
    MAX_BODY as u64 > crate::tools::MAX_ATTACHMENT_BYTES.div_ceil(3) * 4 + 64 * 1024,
    "a largest upload_attachment call must fit in MAX_BODY"
);

/// The middleware on `/mcp`.
pub async fn guard(State(team): State<Arc<TeamState>>, request: Request, next: Next) -> Response {
    let bearer = bearer(request.headers());
    let caller = match authenticate(team.store.as_ref(), bearer.as_deref(), &team.resource).await {
        Ok(caller) => caller,
        Err(Rejection::Store(e)) => {
            tracing::warn!(error = %e, "the team store could not check an access token");
            return refuse(request, unavailable()).await;
        }
        Err(rejection) => return refuse(request, unauthorized(&team, &rejection)).await,
    };
    if !caller.has(SCOPE_READ) {
        let refusal = insufficient_scope(&team, "this token lacks the jira:read scope");
        return refuse(request, refusal).await;
    }
    if let Err(wait) = team.limiter.take(&caller.client_id) {
        return refuse(request, too_many(wait)).await;
    }
    let request = match check_write_scope(&team, &caller, request).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let mut request = request;
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Reads the JSON-RPC body (capped) and refuses a `tools/call` of a tool
/// that changes Jira when the token lacks `jira:write`.
async fn check_write_scope(
    team: &TeamState,
    caller: &Caller,
    request: Request,
) -> Result<Request, Response> {
    if request.method() != Method::POST || caller.has(SCOPE_WRITE) {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over {MAX_BODY} bytes"),
        )
            .into_response()
    })?;
    if let Some((tool, issue_key)) = write_tool_called(&bytes)
        && let Some(refusal) = caller.refusal(tool)
    {
        let key = issue_key.as_deref();
        let account = team.clients.account(&caller.user);
        audit::record(
            caller,
            account.as_deref(),
            tool,
            key,
            Outcome::Refused,
            Duration::ZERO,
        );
        return Err(insufficient_scope(team, &refusal));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The first write tool a `tools/call` (single or batched) names, with the
/// issue key of its arguments for the audit line.
fn write_tool_called(body: &Bytes) -> Option<(&'static str, Option<String>)> {
    let message: Value = serde_json::from_slice(body).ok()?;
    let messages = match &message {
        Value::Array(batch) => batch.iter().collect(),
        single => vec![single],
    };
    messages.into_iter().find_map(|m| {
        if m["method"] != "tools/call" {
            return None;
        }
        let tool = catalog::find(m["params"]["name"].as_str()?)?;
        let issue_key = session::issue_key(m["params"]["arguments"].as_object());
        tool.writes.then_some((tool.name, issue_key))
    })
}

fn challenge(team: &TeamState, error: Option<&str>) -> HeaderValue {
    let mut value = format!(
        "Bearer resource_metadata=\"{}\", scope=\"{}\"",
        team.metadata_url(),
        SCOPES.join(" ")
    );
    if let Some(error) = error {
        value = format!("Bearer error=\"{error}\", {}", &value["Bearer ".len()..]);
    }
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// 401: no token (no error code, RFC 6750 §3.1), or a token that is not a
/// live one of this server's (`invalid_token`).
fn unauthorized(team: &TeamState, rejection: &Rejection) -> Response {
    let error = match rejection {
        Rejection::Missing => None,
        _ => Some("invalid_token"),
    };
    let body = json!({
        "error": error.unwrap_or("unauthorized"),
        "error_description": rejection.to_string(),
    });
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge(team, error));
    response
}

/// 403 `insufficient_scope`, naming the scopes to ask for.
fn insufficient_scope(team: &TeamState, why: &str) -> Response {
    let body = json!({"error": "insufficient_scope", "error_description": why});
    let mut response = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        challenge(team, Some("insufficient_scope")),
    );
    response
}

/// 429 with `Retry-After` in whole seconds.
fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        format!("rate limit reached for this client (JIRA_MCP_RATE_LIMIT): retry in {secs} s"),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the team store cannot be reached; try again shortly",
    )
        .into_response()
}
