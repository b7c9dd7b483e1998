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
use url::Url;

use super::errors::{redirect, redirect_error};
use super::page::{self, escape};
use super::pkce::{self, constant_time_eq};
use super::register::is_loopback;
use super::tokens::random_secret;
use super::{AuthzState, SCOPES, parse_params, split_scopes};
use crate::config::ATLASSIAN_CALLBACK_PATH;
use crate::team::store::{ClientRecord, PendingRecord, TokenHash, UnixTime, now};

/// The CSRF cookie's name.
pub const CSRF_COOKIE: &str = "jira_mcp_csrf";
/// The prefix of the cookies that bind a sign-in to its browser.
pub const BROWSER_COOKIE_PREFIX: &str = "jira_mcp_signin_";
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

/// Why `/authorize` refused: always shown as a page, never redirected.
/// Registration is open, so no client or redirect URI is trusted before
/// the user has seen the consent page; redirecting errors at once would
/// make this server an open redirector (RFC 9700 §4.11.2).
struct Refusal(StatusCode, &'static str, String);

impl Refusal {
    fn answer(self) -> Response {
        page::error(self.0, self.1, &self.2)
    }
}

/// `GET /authorize`.
pub async fn authorize(
    State(state): State<Arc<AuthzState>>,
    RawQuery(query): RawQuery,
) -> Response {
    match check_request(&state, query.as_deref().unwrap_or_default()).await {
        Ok((client, request)) => consent_page(&state, &client, &request),
        Err(refusal) => refusal.answer(),
    }
}

async fn check_request(
    state: &AuthzState,
    query: &str,
) -> Result<(ClientRecord, ConsentRequest), Refusal> {
    let bad = |message: String| {
        Refusal(
            StatusCode::BAD_REQUEST,
            "Invalid authorization request",
            message,
        )
    };
    let q = parse_params(query.as_bytes()).map_err(bad)?;
    let client = find_client(state, &q).await?;
    let redirect_uri = match q.get("redirect_uri") {
        Some(uri)
            if client
                .redirect_uris
                .iter()
                .any(|r| redirect_uri_matches(r, uri)) =>
        {
            uri.clone()
        }
        Some(uri) => {
            return Err(bad(format!(
                "The redirect URI {} is not registered for this client. Nothing was sent to \
                 it. The client must register it (POST /register) before using it; only an \
                 http loopback URI may differ from the registered one, in its port.",
                shown_uri(uri)
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
    // The client's request is wrong: say so here, and send nothing to it.
    let refuse = |error: &str, description: String| {
        bad(format!(
            "{description} ({error}). Nothing was sent to the client; this is a fault of the MCP \
             client, so update it or report it to its makers."
        ))
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
        state: q.get("state").cloned(),
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
            Refusal(
                StatusCode::BAD_REQUEST,
                "Invalid authorization request",
                "client_id is missing: start the authorization from your MCP client".into(),
            )
        })?;
    match state.store.client(client_id).await {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            "Unknown client",
            "This MCP client is not registered with this server (or was removed). Remove the \
             server from the client and add it again, so that it registers."
                .into(),
        )),
        Err(e) => Err(Refusal(
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

fn consent_page(state: &AuthzState, client: &ClientRecord, request: &ConsentRequest) -> Response {
    let sealed = match seal_request(state, request) {
        Ok(sealed) => sealed,
        Err(message) => {
            return page::error(StatusCode::INTERNAL_SERVER_ERROR, "Server error", &message);
        }
    };
    // Format characters (a right-to-left override, say) were refused at
    // registration; a client stored before that shows them as U+FFFD.
    let name = client
        .client_name
        .as_deref()
        .map(page::visible)
        .unwrap_or("An unnamed MCP client".into());
    let scopes: String = request
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code>: {}</li>", escape(s), describe_scope(s)))
        .collect();
    // The code goes where the parsed URL points: show that, with the host
    // in its ASCII (punycode) form, so that a look-alike Unicode host
    // (`сlaude.ai` with a Cyrillic с) shows as the `xn--` name it is.
    let (host, full) = match Url::parse(&request.redirect_uri) {
        Ok(url) => (host_of(&url), url.to_string()),
        Err(_) => (
            String::new(),
            page::visible(&request.redirect_uri).into_owned(),
        ),
    };
    let idn_warning = if host.split('.').any(|label| label.starts_with("xn--")) {
        "<p><strong>Warning:</strong> this address is an internationalized domain name, shown \
         in its encoded (<code>xn--</code>) form. It is not the site whose name merely looks \
         like it.</p>\n"
    } else {
        ""
    };
    let body = format!(
        "<p><strong>{name}</strong> (client id <code>{client_id}</code>) wants to use Jira as you \
         through this server.</p>\n\
         <p>If you allow it, you will sign in to Atlassian next, and the client will receive its \
         access at</p>\n\
         <p style=\"font-size:1.5rem\"><strong>{host}</strong></p>\n\
         <p><code>{full}</code></p>\n\
         {idn_warning}\
         <p>Allow only if you started this from that client.</p>\n\
         <ul>{scopes}</ul>\n\
         <form method=\"post\" action=\"/authorize/consent\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{sealed}\">\n\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\n\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form>",
        name = escape(&name),
        client_id = escape(&client.client_id),
        host = escape(&host),
        full = escape(&full),
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

/// `host[:port]` of a URL, the host as the `url` crate serializes it
/// (ASCII: punycode for a Unicode domain, brackets for IPv6).
fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => String::new(),
    }
}

/// A URI from a request, for an error page: parsed when it parses (so
/// the host shows in punycode), else with invisible characters replaced.
fn shown_uri(uri: &str) -> String {
    Url::parse(uri)
        .map(String::from)
        .unwrap_or_else(|_| page::visible(uri).into_owned())
}

/// Whether a requested redirect URI matches a registered one: the parsed
/// URLs are equal, except that an `http` loopback URI (127.0.0.1, `[::1]`,
/// localhost) matches on any port: a native client listens on whatever
/// port is free when it runs (RFC 8252 §7.3). Scheme, host, path and query
/// must still match.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    let (Ok(registered), Ok(mut requested)) = (Url::parse(registered), Url::parse(requested))
    else {
        return false;
    };
    if registered.scheme() == "http" && is_loopback(registered.host().as_ref()) {
        // Only the port may differ; `set_port` fails only for hostless URLs.
        if requested.set_port(registered.port()).is_err() {
            return false;
        }
    }
    registered == requested
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
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
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
    let decision = field("decision");
    if !matches!(decision, "approve" | "deny") {
        return start_again("Choose Allow or Deny. Start again from your MCP client.");
    }
    // One answer per consent page: a replayed POST (same sealed request,
    // cookie and token) must not start a second authorization.
    match state
        .store
        .spend_consent(&TokenHash::of(&request.csrf), request.expires_at)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return start_again(
                "This consent page was already answered; each page can be answered once. \
                 Start again from your MCP client.",
            );
        }
        Err(e) => {
            return page::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Server unavailable",
                &e.to_string(),
            );
        }
    }
    let mut response = match decision {
        "approve" => approve(&state, request).await,
        _ => {
            tracing::info!(client_id = %request.client_id, "the user denied an MCP client");
            redirect_error(
                &request.redirect_uri,
                "access_denied",
                "the user denied access",
                request.state.as_deref(),
                state.issuer(),
            )
        }
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
    // Binds the callback to this browser (login CSRF, RFC 9700 §4.7): a
    // link to Atlassian with this state, sent to someone else, completes
    // nothing in their browser.
    let browser = random_secret();
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
        browser_hash: Some(TokenHash::of(&browser)),
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
    let mut response = redirect(pending.url().as_str());
    let cookie = browser_cookie(state, &key, &browser, CONSENT_TTL_SECS);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The name of the cookie that binds the sign-in keyed `key` to the
/// browser that approved it: one per sign-in, so that two authorizations
/// under way in one browser do not overwrite each other's.
pub fn browser_cookie_name(key: &TokenHash) -> String {
    let id = key.as_str().get(..16).unwrap_or_default();
    format!("{BROWSER_COOKIE_PREFIX}{id}")
}

/// The `Set-Cookie` value of that cookie. SameSite=Lax, not Strict: it
/// must come back on Atlassian's top-level redirect to the callback, the
/// one path it is sent to.
pub fn browser_cookie(state: &AuthzState, key: &TokenHash, value: &str, max_age: i64) -> String {
    let path = Url::parse(&state.endpoint(ATLASSIAN_CALLBACK_PATH))
        .map(|url| url.path().to_string())
        .unwrap_or_else(|_| ATLASSIAN_CALLBACK_PATH.to_string());
    let secure = if state.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        browser_cookie_name(key)
    )
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
