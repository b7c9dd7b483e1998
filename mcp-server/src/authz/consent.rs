//! `GET /authorize` (checks the MCP client's request and shows the consent
//! page) and `POST /authorize/consent` (the user's decision; approval starts
//! the hop through Atlassian's consent).
//!
//! The request travels from one to the other sealed (AES-256-GCM, with the
//! server's key) in the form's `request` field, so any replica can take the
//! POST. CSRF: a random token sits in an HttpOnly, SameSite=Strict cookie,
//! in the form, and inside the sealed request; all three must match.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::errors::{redirect, redirect_error};
use super::page::{self, escape};
use super::pkce::{self, constant_time_eq};
use super::tokens::random_secret;
use super::{AuthzState, SCOPES, parse_params, split_scopes};
use crate::store::{ClientRecord, PendingRecord, TokenHash, UnixTime, now};

/// The CSRF cookie's name.
pub const CSRF_COOKIE: &str = "jira_mcp_csrf";
/// How long the consent page stays valid (and the Atlassian hop after it).
pub const CONSENT_TTL_SECS: i64 = 600;
/// The associated data of a sealed consent request: a sealed grant or
/// verifier can never be passed off as one.
const REQUEST_AAD: &[u8] = b"jira-mcp/consent-request/v1";

/// An MCP client's checked authorization request, waiting for the user.
#[derive(Clone, Serialize, Deserialize)]
pub struct ConsentRequest {
    /// The client.
    pub client_id: String,
    /// Its registered redirect URI.
    pub redirect_uri: String,
    /// Its PKCE S256 challenge.
    pub code_challenge: String,
    /// The scopes it asked for.
    pub scopes: Vec<String>,
    /// Its `state`.
    pub state: Option<String>,
    /// The RFC 8707 resource it asked for.
    pub resource: Option<String>,
    /// The CSRF token bound to this page.
    pub csrf: String,
    /// After this, the POST is refused.
    pub expires_at: UnixTime,
}

impl fmt::Debug for ConsentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentRequest")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("resource", &self.resource)
            .field("csrf", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where an error goes: a page when the client or redirect URI cannot be
/// trusted (never redirect to an unchecked URI), else the client.
enum Refusal {
    Page(StatusCode, &'static str, String),
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl Refusal {
    fn answer(self, issuer: &str) -> Response {
        match self {
            Refusal::Page(status, title, message) => page::error(status, title, &message),
            Refusal::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => redirect_error(&redirect_uri, error, &description, state.as_deref(), issuer),
        }
    }
}

/// `GET /authorize`.
pub async fn authorize(
    State(state): State<Arc<AuthzState>>,
    RawQuery(query): RawQuery,
) -> Response {
    match check_request(&state, query.as_deref().unwrap_or_default()).await {
        Ok((client, request)) => consent_page(&state, &client, request),
        Err(refusal) => refusal.answer(state.issuer()),
    }
}

async fn check_request(
    state: &AuthzState,
    query: &str,
) -> Result<(ClientRecord, ConsentRequest), Refusal> {
    let bad = |message: String| {
        Refusal::Page(
            StatusCode::BAD_REQUEST,
            "Invalid authorization request",
            message,
        )
    };
    let q = parse_params(query.as_bytes()).map_err(bad)?;
    let client = find_client(state, &q).await?;
    let redirect_uri = match q.get("redirect_uri") {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.clone(),
        Some(uri) => {
            return Err(bad(format!(
                "The redirect URI {uri} is not registered for this client. Nothing was sent to \
                 it. The client must register it exactly (POST /register) before using it."
            )));
        }
        // RFC 6749 §3.1.2.3: optional when exactly one is registered.
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return Err(bad(
                "redirect_uri is missing, and this client registered several: the client must \
                 send one of them"
                    .into(),
            ));
        }
    };
    let client_state = q.get("state").cloned();
    let refuse = |error: &'static str, description: String| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone(),
        error,
        description,
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err(refuse(
            "unsupported_response_type",
            "response_type must be code".into(),
        ));
    }
    let challenge = q.get("code_challenge").cloned().unwrap_or_default();
    if challenge.is_empty() {
        return Err(refuse(
            "invalid_request",
            "code_challenge is required: this server requires PKCE with S256".into(),
        ));
    }
    if q.get("code_challenge_method").map(String::as_str) != Some(pkce::METHOD) {
        return Err(refuse(
            "invalid_request",
            "code_challenge_method must be S256 (plain, or none given, is refused)".into(),
        ));
    }
    if !pkce::is_challenge(&challenge) {
        return Err(refuse(
            "invalid_request",
            "code_challenge is not an S256 challenge (43 base64url characters)".into(),
        ));
    }
    let scopes = requested_scopes(q.get("scope").map(String::as_str))
        .map_err(|d| refuse("invalid_scope", d))?;
    let resource = q.get("resource").cloned();
    if let Some(r) = &resource
        && !state.is_resource(r)
    {
        return Err(refuse(
            "invalid_target",
            format!(
                "resource must be this server's MCP endpoint, {}",
                state.resource
            ),
        ));
    }
    let request = ConsentRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        code_challenge: challenge,
        scopes,
        state: client_state,
        resource,
        csrf: random_secret(),
        expires_at: now() + CONSENT_TTL_SECS,
    };
    Ok((client, request))
}

async fn find_client(
    state: &AuthzState,
    q: &HashMap<String, String>,
) -> Result<ClientRecord, Refusal> {
    let client_id = q
        .get("client_id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            Refusal::Page(
                StatusCode::BAD_REQUEST,
                "Invalid authorization request",
                "client_id is missing: start the authorization from your MCP client".into(),
            )
        })?;
    match state.store.client(client_id).await {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(Refusal::Page(
            StatusCode::BAD_REQUEST,
            "Unknown client",
            "This MCP client is not registered with this server (or was removed). Remove the \
             server from the client and add it again, so that it registers."
                .into(),
        )),
        Err(e) => Err(Refusal::Page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Server unavailable",
            e.to_string(),
        )),
    }
}

/// The scopes asked for: both when none, `offline_access` ignored (refresh
/// tokens are always issued), anything else unknown refused.
fn requested_scopes(scope: Option<&str>) -> Result<Vec<String>, String> {
    let mut scopes = split_scopes(scope.unwrap_or_default());
    scopes.retain(|s| s != "offline_access");
    if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(format!(
            "scope {unknown} is unknown; this server's scopes are {}",
            SCOPES.join(" ")
        ));
    }
    if scopes.is_empty() {
        scopes = SCOPES.map(String::from).to_vec();
    }
    Ok(scopes)
}

fn consent_page(state: &AuthzState, client: &ClientRecord, request: ConsentRequest) -> Response {
    let sealed = match seal_request(state, &request) {
        Ok(sealed) => sealed,
        Err(message) => {
            return page::error(StatusCode::INTERNAL_SERVER_ERROR, "Server error", &message);
        }
    };
    let name = client
        .client_name
        .as_deref()
        .unwrap_or("An unnamed MCP client");
    let scopes: String = request
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code>: {}</li>", escape(s), describe_scope(s)))
        .collect();
    let body = format!(
        "<p><strong>{name}</strong> (client id <code>{client_id}</code>) wants to use Jira as you \
         through this server.</p>\n\
         <p>If you allow it, you will sign in to Atlassian next, and the client will receive its \
         access at <code>{redirect}</code>. Allow only if you started this from that client.</p>\n\
         <ul>{scopes}</ul>\n\
         <form method=\"post\" action=\"/authorize/consent\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{sealed}\">\n\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\n\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form>",
        name = escape(name),
        client_id = escape(&client.client_id),
        redirect = escape(&request.redirect_uri),
        sealed = escape(&sealed),
        csrf = escape(&request.csrf),
    );
    let targets = form_targets(state, &request.redirect_uri);
    let mut response = page::html(
        StatusCode::OK,
        page::frame("Allow access to Jira?", &body),
        &targets,
    );
    let cookie = csrf_cookie(state, &request.csrf, CONSENT_TTL_SECS);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn describe_scope(scope: &str) -> &'static str {
    match scope {
        super::SCOPE_READ => "read issues, projects and users",
        super::SCOPE_WRITE => "create and change issues, comments and worklogs",
        _ => "",
    }
}

/// Where the consent form's POST may redirect: Atlassian (approve) and the
/// client (deny).
fn form_targets(state: &AuthzState, redirect_uri: &str) -> Vec<String> {
    // The flow knows the authorization URL for Cloud, Data Center and any
    // override; a throwaway `begin` is the one place that builds it.
    let atlassian = state
        .atlassian
        .flow()
        .map(|flow| flow.begin().url().to_string())
        .unwrap_or_default();
    [atlassian.as_str(), redirect_uri]
        .iter()
        .filter_map(|u| page::origin_of(u))
        .collect()
}

fn csrf_cookie(state: &AuthzState, value: &str, max_age: i64) -> String {
    let secure = if state.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{CSRF_COOKIE}={value}; Path=/authorize; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    )
}

fn seal_request(state: &AuthzState, request: &ConsentRequest) -> Result<String, String> {
    let json =
        serde_json::to_vec(request).map_err(|e| format!("cannot encode the request: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(state.sealer.seal(&json, REQUEST_AAD)))
}

fn open_request(state: &AuthzState, sealed: &str) -> Option<ConsentRequest> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let json = state.sealer.open(&bytes, REQUEST_AAD).ok()?;
    serde_json::from_slice(&json).ok()
}

/// The cookie's value in a `Cookie` header.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn forbidden() -> Response {
    page::error(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This approval did not come from the consent page this server showed you (its CSRF \
         token is missing or does not match). Nothing was authorized. Start again from your MCP \
         client.",
    )
}

fn start_again(message: &str) -> Response {
    page::error(StatusCode::BAD_REQUEST, "Start again", message)
}

/// `POST /authorize/consent`.
pub async fn consent(
    State(state): State<Arc<AuthzState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(form) = parse_params(&body) else {
        return start_again("The consent form was malformed. Start again from your MCP client.");
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let Some(cookie) = cookie_value(&headers, CSRF_COOKIE).filter(|c| !c.is_empty()) else {
        return forbidden();
    };
    let posted = field("csrf_token");
    if posted.is_empty() || !constant_time_eq(cookie.as_bytes(), posted.as_bytes()) {
        return forbidden();
    }
    let Some(request) = open_request(&state, field("request")) else {
        return start_again(
            "This consent page cannot be read (it was altered, or the server's key changed). \
             Start again from your MCP client.",
        );
    };
    if !constant_time_eq(request.csrf.as_bytes(), posted.as_bytes()) {
        return forbidden();
    }
    if request.expires_at <= now() {
        return start_again(
            "This consent page has expired (it is valid for 10 minutes). Start again from your \
             MCP client.",
        );
    }
    let mut response = match field("decision") {
        "approve" => approve(&state, request).await,
        "deny" => {
            tracing::info!(client_id = %request.client_id, "the user denied an MCP client");
            redirect_error(
                &request.redirect_uri,
                "access_denied",
                "the user denied access",
                request.state.as_deref(),
                state.issuer(),
            )
        }
        _ => start_again("Choose Allow or Deny. Start again from your MCP client."),
    };
    // The token is spent: clear the cookie.
    if let Ok(value) = HeaderValue::from_str(&csrf_cookie(&state, "", 0)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Approval: begins Atlassian's authorization (without the MCP client's
/// `resource`, which Atlassian rejects) and keeps the request for the
/// callback, keyed by the hash of Atlassian's `state`.
async fn approve(state: &AuthzState, request: ConsentRequest) -> Response {
    let flow = match state.atlassian.flow() {
        Ok(flow) => flow,
        Err(e) => {
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server misconfigured",
                &format!("The Atlassian app is not configured correctly: {e}"),
            );
        }
    };
    let pending = flow.begin();
    let key = TokenHash::of(pending.state());
    let record = PendingRecord {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri,
        code_challenge: request.code_challenge,
        scopes: request.scopes,
        client_state: request.state,
        resource: request.resource,
        sealed_verifier: state.sealer.seal(
            pending.verifier_secret().as_bytes(),
            key.as_str().as_bytes(),
        ),
        atlassian_url: without_state(pending.url()),
        expires_at: now() + CONSENT_TTL_SECS,
    };
    if let Err(e) = state.store.put_pending(&key, &record).await {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Server unavailable",
            &e.to_string(),
        );
    }
    tracing::info!(client_id = %record.client_id, "the user approved an MCP client; on to Atlassian");
    redirect(pending.url().as_str())
}

/// The authorization URL without its `state`: the record is keyed by the
/// state's hash, and keeps no copy of it (`resume` uses the URL only to
/// show it).
fn without_state(url: &url::Url) -> String {
    let mut url = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "state")
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    url.to_string()
}
