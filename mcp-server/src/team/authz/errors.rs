//! RFC 6749 §5.2 error answers (JSON, `no-store`), and the error redirects
//! of the authorization endpoint (§4.1.2.1, with RFC 9207's `iss`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

/// An OAuth error answered as JSON.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The RFC 6749 / 7591 / 8707 error code.
    pub error: &'static str,
    /// What went wrong and how to fix it; never a secret.
    pub description: String,
    /// Answer `WWW-Authenticate: Basic` (a failed `client_secret_basic`).
    pub basic_challenge: bool,
}

impl OAuthError {
    /// A 400 with `error`.
    pub fn bad_request(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        Self::bad_request("invalid_request", description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        Self::bad_request("invalid_grant", description)
    }

    /// `invalid_client` (401).
    pub fn invalid_client(description: impl Into<String>, basic: bool) -> OAuthError {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
            basic_challenge: basic,
        }
    }

    /// `server_error` (a 503: the store could not be reached).
    pub fn unavailable(description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "temporarily_unavailable",
            description: description.into(),
            basic_challenge: false,
        }
    }
}

impl From<crate::team::store::StoreError> for OAuthError {
    fn from(e: crate::team::store::StoreError) -> OAuthError {
        tracing::error!(error = %e, "the team store failed during an authorization request");
        OAuthError::unavailable(e.to_string())
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"jira-mcp\""),
            );
        }
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub fn no_store(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A 302 to `location`, not cached.
pub fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(value) => {
            headers.insert(header::LOCATION, value);
        }
        // A URL built by `url` is always a valid header value.
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
    no_store(headers);
    response
}

/// The client's redirect URI with `params` appended to its query.
pub fn client_redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            redirect(url.as_str())
        }
        // Registered URIs were parsed at registration; this is unreachable
        // unless the store was edited by hand.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// An error sent back to the client through its redirect URI, with its
/// `state` and this server's `iss` (RFC 9207).
pub fn redirect_error(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    client_redirect(redirect_uri, &params)
}
