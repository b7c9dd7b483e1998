//! The token source: asks the token endpoint for new tokens, with bounded
//! retries for transient failures, and sorts its errors into ones the user
//! can act on. It holds no state; caching and locking live in `refresh.rs`.

use std::time::{Duration, SystemTime};

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenUrl,
};

use crate::error::{Error, Result, describe};
use crate::network::HttpSettings;
use crate::token::TokenSet;
use crate::token_endpoint::{TokenHttp, TokenHttpError};

type OAuthClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;
type TokenError = RequestTokenError<TokenHttpError, BasicErrorResponse>;

/// How new access tokens are obtained.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// A user authorized the app (Cloud 3LO, Data Center): new tokens come
    /// from the stored refresh token.
    AuthorizationCode,
    /// A service account: new tokens are minted from the client id and
    /// secret alone; there is no refresh token.
    ClientCredentials,
}

/// Bounded retries with exponential backoff for transient token-endpoint
/// failures (connect errors, timeouts, 5xx, 429).
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Requests sent at most, the first one included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the error is
    /// returned at once, carrying the server's delay.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// Obtains tokens from an OAuth 2.0 token endpoint.
///
/// `Debug` shows the endpoint and client id; the secret prints as `[redacted]`.
#[derive(Clone, Debug)]
pub struct TokenSource {
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    token_url: TokenUrl,
    redirect_uri: Option<RedirectUrl>,
    scopes: Vec<String>,
    grant: Grant,
    retry: RetryPolicy,
    settings: HttpSettings,
    http: TokenHttp,
}

impl TokenSource {
    /// A source for `client_id` at `token_url`, using the authorization-code
    /// grant's refresh tokens. The HTTP client times out after 30 s.
    pub fn new(client_id: ClientId, token_url: TokenUrl) -> Result<TokenSource> {
        let settings = HttpSettings::default();
        Ok(TokenSource {
            client_id,
            client_secret: None,
            token_url,
            redirect_uri: None,
            scopes: Vec::new(),
            grant: Grant::AuthorizationCode,
            retry: RetryPolicy::default(),
            http: http_client(&settings)?,
            settings,
        })
    }

    /// Sets the client secret (sent in the request body).
    pub fn client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// Chooses the grant.
    pub fn grant(mut self, grant: Grant) -> Self {
        self.grant = grant;
        self
    }

    /// The scopes to request (client credentials) or to record when the server
    /// does not echo them.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sends `redirect_uri` with every refresh. Jira Data Center requires it
    /// and answers `invalid_grant` without it.
    pub fn redirect_uri(mut self, uri: RedirectUrl) -> Self {
        self.redirect_uri = Some(uri);
        self
    }

    /// Replaces the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Replaces the request timeout (connect timeout: the smaller of it and 10 s).
    pub fn timeout(self, timeout: Duration) -> Result<Self> {
        let settings = self.settings.clone().timeout(timeout);
        self.http_settings(settings)
    }

    /// Replaces the network settings (timeout, trusted certificates).
    pub fn http_settings(mut self, settings: HttpSettings) -> Result<Self> {
        self.http = http_client(&settings)?;
        self.settings = settings;
        Ok(self)
    }

    /// The grant this source uses.
    pub fn grant_kind(&self) -> &Grant {
        &self.grant
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &TokenUrl {
        &self.token_url
    }

    /// Obtains a new token set to replace `current`: a refresh for the
    /// authorization-code grant, a new mint for client credentials.
    pub async fn renew(&self, current: Option<&TokenSet>) -> Result<TokenSet> {
        match (&self.grant, current.and_then(|c| c.refresh_token.as_ref())) {
            (Grant::ClientCredentials, _) => self.client_credentials(current).await,
            (Grant::AuthorizationCode, Some(refresh)) => self.refresh(refresh, current).await,
            (Grant::AuthorizationCode, None) => Err(Error::ReauthorizationRequired {
                code: "no_refresh_token".into(),
                description: describe(Some(
                    "the stored token set has no refresh token (was `offline_access` requested?)",
                )),
            }),
        }
    }

    async fn refresh(
        &self,
        refresh: &RefreshToken,
        current: Option<&TokenSet>,
    ) -> Result<TokenSet> {
        let client = self.oauth_client();
        self.with_retries(current, || {
            let mut request = client.exchange_refresh_token(refresh);
            if let Some(uri) = &self.redirect_uri {
                request = request.add_extra_param("redirect_uri", uri.as_str());
            }
            request.request_async(&self.http)
        })
        .await
    }

    async fn client_credentials(&self, current: Option<&TokenSet>) -> Result<TokenSet> {
        let client = self.oauth_client();
        self.with_retries(current, || {
            let scopes = self.scopes.iter().map(|s| Scope::new(s.clone()));
            client
                .exchange_client_credentials()
                .add_scopes(scopes)
                .request_async(&self.http)
        })
        .await
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    ///
    /// Not retried: a code is single-use, and a second try after a lost
    /// response would only meet `invalid_grant`.
    pub async fn exchange_code(
        &self,
        code: AuthorizationCode,
        verifier: PkceCodeVerifier,
        redirect_uri: &RedirectUrl,
    ) -> Result<TokenSet> {
        let client = self.oauth_client();
        let sent_at = SystemTime::now();
        let response = client
            .exchange_code(code)
            .set_pkce_verifier(verifier)
            .set_redirect_uri(std::borrow::Cow::Borrowed(redirect_uri))
            .request_async(&self.http)
            .await
            .map_err(|e| match classify(e, 1) {
                Error::ReauthorizationRequired { code, description } => {
                    Error::InvalidCallback(format!(
                        "the authorization code was rejected (`{code}`{description}). Codes are \
                     single-use and expire within minutes: start the login again"
                    ))
                }
                other => other,
            })?;
        Ok(TokenSet::from_response(
            &response,
            sent_at,
            None,
            &self.scopes,
        ))
    }

    fn oauth_client(&self) -> OAuthClient {
        let client = BasicClient::new(self.client_id.clone())
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(self.token_url.clone());
        match &self.client_secret {
            Some(secret) => client.set_client_secret(secret.clone()),
            None => client,
        }
    }

    async fn with_retries<F, Fut>(
        &self,
        current: Option<&TokenSet>,
        mut send: F,
    ) -> Result<TokenSet>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<BasicTokenResponse, TokenError>>,
    {
        let mut attempt = 1;
        loop {
            let sent_at = SystemTime::now();
            let error = match send().await {
                Ok(response) => {
                    return Ok(TokenSet::from_response(
                        &response,
                        sent_at,
                        current,
                        &self.scopes,
                    ));
                }
                Err(error) => error,
            };
            let wait = match &error {
                RequestTokenError::Request(e) if e.is_transient() => self.backoff(e, attempt),
                _ => None,
            };
            match wait {
                Some(wait) if attempt < self.retry.max_attempts => {
                    tracing::warn!(attempt, ?wait, cause = %error_cause(&error), "token request failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return Err(classify(error, attempt)),
            }
        }
    }

    /// How long to wait before retrying, or `None` when the server asked for
    /// a longer pause than the policy allows.
    fn backoff(&self, error: &TokenHttpError, attempt: u32) -> Option<Duration> {
        if let TokenHttpError::Unavailable {
            retry_after: Some(after),
            ..
        } = error
        {
            return (*after <= self.retry.max_retry_after).then_some(*after);
        }
        let doubled = self
            .retry
            .initial_backoff
            .saturating_mul(1 << (attempt - 1).min(16));
        Some(doubled.min(self.retry.max_backoff))
    }
}

fn http_client(settings: &HttpSettings) -> Result<TokenHttp> {
    TokenHttp::new(settings)
        .map_err(|e| Error::Config(format!("cannot build the token HTTP client: {e}")))
}

fn error_cause(error: &TokenError) -> String {
    match error {
        RequestTokenError::Request(e) => e.to_string(),
        other => format!("{other}"),
    }
}

/// Turns an oauth2 error into one that says what to do.
fn classify(error: TokenError, attempts: u32) -> Error {
    match error {
        RequestTokenError::ServerResponse(response) => server_error(&response),
        RequestTokenError::Request(TokenHttpError::Forbidden { error, description }) => {
            Error::ReauthorizationRequired {
                code: error.unwrap_or_else(|| "http_403".into()),
                description: describe(description.as_deref()),
            }
        }
        RequestTokenError::Request(TokenHttpError::Network {
            host,
            failure,
            cause,
        }) => Error::Network {
            host,
            failure,
            cause,
        },
        RequestTokenError::Request(e) if e.is_transient() => {
            let retry_after = match &e {
                TokenHttpError::Unavailable { retry_after, .. } => *retry_after,
                _ => None,
            };
            Error::TokenEndpointUnavailable {
                attempts,
                cause: e.to_string(),
                retry_hint: retry_after
                    .map(|d| format!(" (the server asked to wait {} s)", d.as_secs()))
                    .unwrap_or_default(),
                retry_after,
            }
        }
        RequestTokenError::Request(e) => Error::MalformedTokenResponse {
            detail: e.to_string(),
        },
        RequestTokenError::Parse(e, _body) => Error::MalformedTokenResponse {
            detail: parse_detail(&e),
        },
        RequestTokenError::Other(message) => Error::MalformedTokenResponse { detail: message },
    }
}

/// Describes a token-response parse failure without quoting the body.
fn parse_detail(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = e.inner();
    let message = inner.to_string();
    if message.starts_with("missing field") {
        // Names only the field, e.g. "missing field `access_token`".
        return message
            .split(" at line")
            .next()
            .unwrap_or(&message)
            .to_string();
    }
    let what = crate::store::describe_json_error(inner);
    match e.path().to_string().as_str() {
        "." => what,
        path => format!("{what}, in field `{path}`"),
    }
}

fn server_error(response: &BasicErrorResponse) -> Error {
    let code = response.error().to_string();
    let description = describe(response.error_description().map(String::as_str));
    let hint = match response.error() {
        BasicErrorResponseType::InvalidGrant | BasicErrorResponseType::UnauthorizedClient => {
            return Error::ReauthorizationRequired { code, description };
        }
        BasicErrorResponseType::InvalidClient => {
            "Check the client id and client secret of the OAuth app."
        }
        BasicErrorResponseType::InvalidScope => {
            "Request only scopes that the OAuth app has been granted in its console."
        }
        BasicErrorResponseType::UnsupportedGrantType => {
            "Enable this grant type for the OAuth app, or choose the grant the app supports."
        }
        _ => "Check the OAuth app's configuration and the token URL.",
    };
    Error::TokenRequestRejected {
        code,
        description,
        hint,
    }
}
