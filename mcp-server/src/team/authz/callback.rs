//! `GET /oauth/atlassian/callback`: Atlassian sends the user back here after
//! their consent. The server exchanges Atlassian's code (the grant stays
//! here, sealed), identifies the user, and completes the MCP client's
//! authorization with a code of its own.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use gouqi_oauth::{AuthorizationCode, PendingAuthorization, TokenStore};
use serde_json::Value;
use url::Url;

use super::consent::{browser_cookie, browser_cookie_name, cookie_value};
use super::errors::{client_redirect, redirect_error};
use super::page;
use super::pkce::constant_time_eq;
use super::tokens::random_secret;
use super::{AuthzState, parse_params};
use crate::jira::JiraClient;
use crate::team::store::grant::UserGrantStore;
use crate::team::store::{CodeRecord, PendingRecord, StoreError, TokenHash, UserRecord, now};

/// How long an authorization code issued to an MCP client lives.
pub const CODE_TTL_SECS: i64 = 60;

fn start_again(status: StatusCode, title: &str, message: &str) -> Response {
    page::error(status, title, message)
}

/// `GET /oauth/atlassian/callback?code&state` (or `?error&state`).
pub async fn callback(
    State(state): State<Arc<AuthzState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(q) = parse_params(query.unwrap_or_default().as_bytes()) else {
        return start_again(
            StatusCode::BAD_REQUEST,
            "Invalid callback",
            "Atlassian's answer was malformed. Start again from your MCP client.",
        );
    };
    let Some(atlassian_state) = q.get("state").filter(|s| !s.is_empty()) else {
        return start_again(
            StatusCode::BAD_REQUEST,
            "Invalid callback",
            "Atlassian's answer has no state. Start again from your MCP client.",
        );
    };
    let key = TokenHash::of(atlassian_state);
    let expired = || {
        start_again(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in is unknown, expired, or was already completed. Start again from your \
             MCP client.",
        )
    };
    let unavailable = |e: StoreError| {
        start_again(
            StatusCode::SERVICE_UNAVAILABLE,
            "Server unavailable",
            &e.to_string(),
        )
    };
    // Read, check the browser, and only then take: a request from another
    // browser must not use up the sign-in of the one that started it.
    let pending = match state.store.pending(&key).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return expired(),
        Err(e) => return unavailable(e),
    };
    if !same_browser(&headers, &key, &pending) {
        tracing::warn!(
            client_id = %pending.client_id,
            "an Atlassian callback came from a browser that did not approve its consent page; \
             refused (a login CSRF attempt, or cookies blocked)"
        );
        return start_again(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "This sign-in was not started in this browser: its consent page was approved \
             somewhere else (or this browser blocked the cookie set then). Nothing was \
             authorized. If someone sent you this link, do nothing more: it would have given \
             them access to Jira as you. If you started it yourself, start again from your MCP \
             client in this browser.",
        );
    }
    let pending = match state.store.take_pending(&key).await {
        Ok(Some(pending)) if pending.expires_at > now() => pending,
        Ok(_) => return expired(),
        Err(e) => return unavailable(e),
    };
    let mut response = if let Some(error) = q.get("error") {
        atlassian_refused(&state, &pending, error)
    } else if let Some(code) = q.get("code").filter(|c| !c.is_empty()) {
        match complete(&state, &key, atlassian_state, code, &pending).await {
            Ok(response) | Err(response) => response,
        }
    } else {
        start_again(
            StatusCode::BAD_REQUEST,
            "Invalid callback",
            "Atlassian's answer has no code. Start again from your MCP client.",
        )
    };
    // The sign-in is used up: the cookie that bound it goes.
    let spent = browser_cookie(&state, &key, "", 0);
    if let Ok(value) = HeaderValue::from_str(&spent) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// True when the request carries the cookie set on the browser that
/// approved this sign-in (its hash compared in constant time).
fn same_browser(headers: &HeaderMap, key: &TokenHash, pending: &PendingRecord) -> bool {
    let Some(expected) = &pending.browser_hash else {
        return false;
    };
    let Some(cookie) = cookie_value(headers, &browser_cookie_name(key)).filter(|c| !c.is_empty())
    else {
        return false;
    };
    constant_time_eq(
        TokenHash::of(&cookie).as_str().as_bytes(),
        expected.as_str().as_bytes(),
    )
}

/// The error codes an authorization server may answer (RFC 6749
/// §4.1.2.1). Anything else Atlassian (or whoever calls the callback)
/// sends is logged and passed on only as `other`: the value comes from
/// the request, and must not reach a log line or the client as it is.
const OAUTH_ERRORS: [&str; 7] = [
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
];

/// Atlassian said no (the user denied, or the app is misconfigured): the
/// MCP client hears `access_denied` or `server_error`.
fn atlassian_refused(state: &AuthzState, pending: &PendingRecord, error: &str) -> Response {
    let error = OAUTH_ERRORS
        .into_iter()
        .find(|known| *known == error)
        .unwrap_or("other");
    tracing::info!(client_id = %pending.client_id, atlassian_error = error, "Atlassian refused the authorization");
    let (code, description) = if error == "access_denied" {
        (
            "access_denied",
            "the user denied access at Atlassian".to_string(),
        )
    } else {
        (
            "server_error",
            format!("Atlassian refused the authorization ({error})"),
        )
    };
    redirect_error(
        &pending.redirect_uri,
        code,
        &description,
        pending.client_state.as_deref(),
        state.issuer(),
    )
}

async fn complete(
    state: &AuthzState,
    key: &TokenHash,
    atlassian_state: &str,
    code: &str,
    pending: &PendingRecord,
) -> Result<Response, Response> {
    let server_error =
        |title: &str, message: String| page::error(StatusCode::BAD_GATEWAY, title, &message);
    let verifier = state
        .sealer
        .open(&pending.sealed_verifier, key.as_str().as_bytes())
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| {
            server_error(
                "Start again",
                "This sign-in cannot be completed (the server's encryption key changed). Start \
                 again from your MCP client."
                    .into(),
            )
        })?;
    let url = Url::parse(&pending.atlassian_url).map_err(|e| {
        server_error(
            "Start again",
            format!("The stored sign-in is damaged ({e}). Start again from your MCP client."),
        )
    })?;
    let resumed = PendingAuthorization::resume(url, atlassian_state.to_string(), verifier);
    let flow = state
        .atlassian
        .flow()
        .map_err(|e| server_error("Server misconfigured", e.to_string()))?;
    let login = flow
        .exchange(&resumed, AuthorizationCode::new(code.to_string()))
        .await
        .map_err(|e| match &e {
            // Atlassian's words, not gouqi-oauth's advice (which is for the
            // CLI): the user only has to consent again.
            gouqi_oauth::Error::ReauthorizationRequired { code, .. } => page::error(
                StatusCode::FORBIDDEN,
                "Atlassian refused the sign-in",
                &format!(
                    "Atlassian did not accept this sign-in (it answered {code}). Consent again: \
                     start again from your MCP client. If this repeats, the Atlassian app's \
                     client id, secret or callback URL is wrong."
                ),
            ),
            // The code itself was refused (`invalid_grant` on the exchange).
            gouqi_oauth::Error::InvalidCallback(why) => page::error(
                StatusCode::FORBIDDEN,
                "Atlassian refused the sign-in",
                &format!(
                    "Atlassian did not accept this sign-in: {why}. Consent again: start \
                          again from your MCP client."
                ),
            ),
            _ => server_error(
                "Atlassian sign-in failed",
                format!("{e} Start again from your MCP client."),
            ),
        })?;
    let user = identify(state, &login).await?;
    let grant: Arc<dyn TokenStore> = Arc::new(UserGrantStore::new(
        state.store.clone(),
        state.sealer.clone(),
        user.id.clone(),
        tokio::runtime::Handle::current(),
    ));
    flow.save(&login.tokens, &grant)
        .await
        .map_err(|e| server_error("Could not keep the Atlassian sign-in", e.to_string()))?;
    if let Some(hook) = &state.on_sign_in {
        hook(&user.id);
    }
    let mcp_code = random_secret();
    let record = CodeRecord {
        client_id: pending.client_id.clone(),
        user: user.id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        scopes: pending.scopes.clone(),
        resource: state.resource.clone(),
        expires_at: now() + CODE_TTL_SECS,
    };
    state
        .store
        .put_code(&TokenHash::of(&mcp_code), &record)
        .await
        .map_err(|e| server_error("Server unavailable", e.to_string()))?;
    tracing::info!(client_id = %pending.client_id, user = %user.id, "authorized an MCP client");
    let mut params = vec![("code", mcp_code.as_str())];
    if let Some(client_state) = pending.client_state.as_deref() {
        params.push(("state", client_state));
    }
    params.push(("iss", state.issuer()));
    Ok(client_redirect(&pending.redirect_uri, &params))
}

/// Finds who signed in (their Jira account) and records them.
async fn identify(state: &AuthzState, login: &gouqi_oauth::Login) -> Result<UserRecord, Response> {
    let me = JiraClient::account_of(&state.config, &login.api_base, &login.tokens)
        .await
        .map_err(|e| {
            page::error(
                StatusCode::BAD_GATEWAY,
                "Could not identify you in Jira",
                &format!("{e} Start again from your MCP client."),
            )
        })?;
    // Cloud has an account id; Data Center a user name (or key).
    let text = |k: &str| me.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let account = text("account_id").or_else(|| text("name")).ok_or_else(|| {
        page::error(
            StatusCode::BAD_GATEWAY,
            "Could not identify you in Jira",
            "Jira did not say which account signed in. Start again from your MCP client.",
        )
    })?;
    let site = login
        .tokens
        .site
        .as_ref()
        .and_then(|s| {
            s.cloud_id
                .clone()
                .or_else(|| s.url.as_ref().map(Url::to_string))
        })
        .unwrap_or_else(|| login.api_base.to_string());
    state
        .store
        .upsert_user(account, &site, text("display_name"))
        .await
        .map_err(|e| {
            page::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Server unavailable",
                &e.to_string(),
            )
        })
}
