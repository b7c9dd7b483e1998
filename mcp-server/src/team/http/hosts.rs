//! Host and Origin checks on every route (DNS rebinding): a browser page on
//! another site, or a name that resolves to this server, is refused before
//! any handler runs. rmcp checks `/mcp` the same way; this layer covers the
//! metadata, health and authorization routes too.
//!
//! Matching follows rmcp's: a host entry without a port matches any port;
//! unlike rmcp's, an empty list matches nothing and only `*` matches all;
//! an origin entry matches scheme, host and port (`:*` for any port; an
//! entry without a port, any port).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use url::Url;

use super::TeamState;
use super::connections::refuse;
use crate::config::ALLOW_ANY;

/// The middleware: 403 for a foreign `Host` or `Origin`.
pub async fn check(State(team): State<Arc<TeamState>>, request: Request, next: Next) -> Response {
    let settings = &team.settings;
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    if !host_allowed(host.as_deref(), &settings.allowed_hosts) {
        tracing::warn!("refused a request with a Host header that is not allowed");
        let refusal = forbidden("the Host header is not allowed (JIRA_MCP_ALLOWED_HOSTS)");
        return refuse(request, refusal).await;
    }
    if !origin_allowed(request.headers(), &settings.allowed_origins) {
        tracing::warn!("refused a request with an Origin header that is not allowed");
        let refusal = forbidden("the Origin header is not allowed (JIRA_MCP_ALLOWED_ORIGINS)");
        return refuse(request, refusal).await;
    }
    next.run(request).await
}

fn forbidden(why: &'static str) -> Response {
    (StatusCode::FORBIDDEN, why).into_response()
}

/// A host and optional port, lower case, IPv6 without brackets.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let url = Url::parse(&format!("http://{}", authority.trim())).ok()?;
    let host = url
        .host_str()?
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    // `Url` drops the default port 80; keep it when it was written.
    let written = authority.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
    let port = url.port().or(written.filter(|_| !authority.ends_with(']')));
    Some((host, port))
}

/// True when `host` matches an allowed entry, or the list is `*`. An empty
/// list allows nothing (the settings refuse one; fail closed regardless).
pub fn host_allowed(host: Option<&str>, allowed: &[String]) -> bool {
    if allows_any(allowed) {
        return true;
    }
    let Some((host, port)) = host.and_then(split_authority) else {
        return false;
    };
    allowed
        .iter()
        .filter_map(|a| split_authority(a))
        .any(|(h, p)| h == host && p.is_none_or(|p| Some(p) == port))
}

/// True when there is no `Origin`, or it matches an allowed entry.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    if allows_any(allowed) {
        return true;
    }
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == "null" {
        return allowed.iter().any(|a| a == "null");
    }
    let Ok(origin) = Url::parse(origin) else {
        return false;
    };
    allowed.iter().any(|entry| origin_matches(&origin, entry))
}

/// `*` (the settings' explicit "check off").
pub fn allows_any(allowed: &[String]) -> bool {
    allowed.iter().any(|entry| entry == ALLOW_ANY)
}

fn origin_matches(origin: &Url, entry: &str) -> bool {
    let (entry, any_port) = match entry.strip_suffix(":*") {
        Some(base) => (base, true),
        None => (entry, false),
    };
    let Ok(entry_url) = Url::parse(entry) else {
        return false;
    };
    let written_port = entry
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    entry_url.scheme() == origin.scheme()
        && entry_url.host_str().map(str::to_ascii_lowercase)
            == origin.host_str().map(str::to_ascii_lowercase)
        && (any_port
            || !written_port
            || entry_url.port_or_known_default() == origin.port_or_known_default())
}
