//! The HTTP client for the token endpoint: timeouts, no redirects, a cap on
//! the response size, and status codes sorted into "retry" and "give up"
//! before oauth2 parses the body.

use std::time::Duration;

use http::StatusCode;
use oauth2::{HttpRequest, HttpResponse};

use crate::error::NetworkFailure;
use crate::network::{HttpSettings, classify as classify_network, host_of};

/// Token responses are a few hundred bytes; anything much larger is not one.
const MAX_BODY: usize = 64 * 1024;

/// Why a token request did not produce a response that oauth2 should parse.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenHttpError {
    /// Connect error, timeout, or a broken connection.
    #[error("{0}")]
    Transport(String),
    /// The network failed in a way that retrying cannot fix (TLS certificate).
    #[error("cannot reach {host}: {failure} ({cause})")]
    Network {
        host: String,
        failure: NetworkFailure,
        cause: String,
    },
    /// 429 or 5xx: the server may recover.
    #[error("HTTP {status}")]
    Unavailable {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    /// 403: Atlassian's answer when the grant needs re-consent.
    #[error("HTTP 403 Forbidden")]
    Forbidden {
        error: Option<String>,
        description: Option<String>,
    },
    /// Any other status oauth2 cannot read as an OAuth error (HTML, redirects…).
    #[error("HTTP {status} with a body that is not an OAuth error response")]
    Unexpected { status: StatusCode },
    /// The body exceeded [`MAX_BODY`].
    #[error("a response body larger than {MAX_BODY} bytes")]
    TooLarge,
}

impl TokenHttpError {
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, Self::Transport(_) | Self::Unavailable { .. })
    }
}

#[derive(serde::Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Sends token requests.
#[derive(Debug, Clone)]
pub(crate) struct TokenHttp {
    client: reqwest::Client,
}

impl TokenHttp {
    pub(crate) fn new(settings: &HttpSettings) -> Result<TokenHttp, reqwest::Error> {
        let client = settings
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            // Token requests come once an hour; an idle pooled connection would
            // tie this client to whichever runtime opened it.
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(TokenHttp { client })
    }

    pub(crate) async fn execute(
        &self,
        request: HttpRequest,
    ) -> Result<HttpResponse, TokenHttpError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| TokenHttpError::Transport(e.without_url().to_string()))?;
        let url = request.url().clone();
        let transport_error = |e: reqwest::Error| transport_error(&e, &url);
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(transport_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(TokenHttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        classify(status, &headers, &body)?;
        let mut out = http::Response::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// Names the host and the cause; a certificate problem is not retried.
fn transport_error(e: &reqwest::Error, url: &url::Url) -> TokenHttpError {
    let (failure, cause) = classify_network(e);
    let host = host_of(url);
    match failure {
        NetworkFailure::Tls => TokenHttpError::Network {
            host,
            failure,
            cause,
        },
        _ => TokenHttpError::Transport(format!(
            "cannot reach {host}: {failure} ({cause}). {}",
            failure.hint()
        )),
    }
}

/// Passes 200 and readable OAuth errors through to oauth2; sorts the rest.
fn classify(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), TokenHttpError> {
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return Err(TokenHttpError::Unavailable {
            status,
            retry_after: retry_after(headers),
        });
    }
    if status.is_success() {
        return Ok(());
    }
    let parsed = serde_json::from_slice::<OAuthErrorBody>(body).ok();
    match (status, parsed) {
        (StatusCode::FORBIDDEN, parsed) => Err(TokenHttpError::Forbidden {
            error: parsed.as_ref().map(|p| p.error.clone()),
            description: parsed.and_then(|p| p.error_description),
        }),
        (s, Some(_)) if s.is_client_error() => Ok(()),
        (status, _) => Err(TokenHttpError::Unexpected { status }),
    }
}

/// Reads `Retry-After` given in seconds (the form token endpoints use).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp {
    type Error = TokenHttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, TokenHttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.execute(request))
    }
}
