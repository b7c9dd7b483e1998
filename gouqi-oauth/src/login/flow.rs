//! The authorization-code flow with PKCE for Jira Cloud (3LO) and Jira Data
//! Center (RFC 6749 §4.1, RFC 7636): the authorization URL, the code
//! exchange, site discovery, and storing the result.

use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenUrl,
};
use url::Url;

use super::callback::parse_pasted;
use super::loopback::LoopbackListener;
use crate::discovery::{accessible_resources_with, cloud_api_base, select_site};
use crate::error::{Error, Result, StoreError};
use crate::network::HttpSettings;
use crate::source::TokenSource;
use crate::store::TokenStore;
use crate::token::{Site, TokenSet};

/// Atlassian Cloud's authorization endpoint.
const CLOUD_AUTHORIZE_URL: &str = "https://auth.atlassian.com/authorize";
/// Atlassian Cloud's token endpoint.
const CLOUD_TOKEN_URL: &str = "https://auth.atlassian.com/oauth/token";
/// Atlassian's API gateway (also serves accessible-resources).
const CLOUD_API_URL: &str = "https://api.atlassian.com";
/// The scopes requested on Cloud unless told otherwise.
pub const CLOUD_DEFAULT_SCOPES: [&str; 4] = [
    "read:jira-work",
    "write:jira-work",
    "read:jira-user",
    "offline_access",
];
/// The scope requested on Data Center unless told otherwise.
pub const DATA_CENTER_DEFAULT_SCOPES: [&str; 1] = ["WRITE"];

/// Which kind of Jira the flow talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deployment {
    /// Atlassian Cloud (3LO app): tokens call the API gateway.
    Cloud,
    /// Jira Data Center / Server with an incoming OAuth 2.0 application link:
    /// tokens call the site directly.
    DataCenter,
}

/// Where the flow sends its requests; every one can be overridden (gateways,
/// proxies, tests).
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// The authorization endpoint the browser opens.
    pub authorize: AuthUrl,
    /// The token endpoint.
    pub token: TokenUrl,
    /// Cloud: the API gateway (`https://api.atlassian.com`). Data Center: the site.
    pub api: Url,
}

impl Endpoints {
    /// Atlassian Cloud's endpoints.
    pub fn cloud() -> Endpoints {
        Endpoints {
            authorize: AuthUrl::from_url(parse_const(CLOUD_AUTHORIZE_URL)),
            token: TokenUrl::from_url(parse_const(CLOUD_TOKEN_URL)),
            api: parse_const(CLOUD_API_URL),
        }
    }

    /// A Data Center site's endpoints: `{site}/rest/oauth2/latest/{authorize,token}`.
    pub fn data_center(site: &Url) -> Result<Endpoints> {
        let site = with_trailing_slash(site);
        let join = |path: &str| {
            site.join(path)
                .map_err(|e| Error::Config(format!("cannot build the {path} URL from {site}: {e}")))
        };
        Ok(Endpoints {
            authorize: AuthUrl::from_url(join("rest/oauth2/latest/authorize")?),
            token: TokenUrl::from_url(join("rest/oauth2/latest/token")?),
            api: site.clone(),
        })
    }
}

/// An authorization the user has yet to grant: the URL to open, and the
/// `state` and PKCE verifier needed to complete it later.
///
/// `Debug` redacts the verifier and the state.
#[derive(Debug)]
pub struct PendingAuthorization {
    url: Url,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
}

impl PendingAuthorization {
    /// The URL to open in a browser.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The `state` the redirect must carry back.
    pub fn state(&self) -> &str {
        self.state.secret()
    }

    /// The PKCE verifier. It is a secret: keep it only where the refresh
    /// token may go (encrypted), e.g. to finish the authorization on another
    /// replica of a server with [`PendingAuthorization::resume`].
    pub fn verifier_secret(&self) -> &str {
        self.verifier.secret()
    }

    /// An authorization begun earlier (possibly by another process), from
    /// its URL, `state` and PKCE verifier.
    pub fn resume(url: Url, state: String, verifier: String) -> PendingAuthorization {
        PendingAuthorization {
            url,
            state: CsrfToken::new(state),
            verifier: PkceCodeVerifier::new(verifier),
        }
    }

    /// Reads what a user pasted (the redirected URL, its query string, or
    /// the code followed by the state) and checks its `state` against this
    /// authorization. Nothing is consumed: a wrong paste leaves it usable.
    pub fn code_from_pasted(&self, pasted: &str) -> Result<AuthorizationCode> {
        parse_pasted(pasted, self.state())
    }
}

/// The outcome of a login.
#[derive(Debug, Clone)]
pub struct Login {
    /// The tokens, bound to their site (already saved, when a store was given).
    pub tokens: TokenSet,
    /// The base URL for gouqi: `{api}/ex/jira/{cloudId}/` on Cloud, the site on Data Center.
    pub api_base: Url,
    /// Things the user should know (e.g. no refresh token was issued).
    pub warnings: Vec<String>,
}

/// The configuration of an authorization-code login.
#[derive(Clone, Debug)]
pub struct AuthorizationFlow {
    deployment: Deployment,
    endpoints: Endpoints,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect_uri: RedirectUrl,
    scopes: Vec<String>,
    cloud_id: Option<String>,
    site_url: Option<Url>,
    http: HttpSettings,
}

impl AuthorizationFlow {
    /// A Jira Cloud (3LO) login with Atlassian's endpoints and default scopes.
    pub fn cloud(client_id: ClientId, redirect_uri: RedirectUrl) -> AuthorizationFlow {
        AuthorizationFlow {
            deployment: Deployment::Cloud,
            endpoints: Endpoints::cloud(),
            client_id,
            client_secret: None,
            redirect_uri,
            scopes: CLOUD_DEFAULT_SCOPES.map(String::from).to_vec(),
            cloud_id: None,
            site_url: None,
            http: HttpSettings::default(),
        }
    }

    /// A Jira Data Center login against `site` (an incoming application link).
    pub fn data_center(
        site: &Url,
        client_id: ClientId,
        redirect_uri: RedirectUrl,
    ) -> Result<AuthorizationFlow> {
        Ok(AuthorizationFlow {
            deployment: Deployment::DataCenter,
            endpoints: Endpoints::data_center(site)?,
            client_id,
            client_secret: None,
            redirect_uri,
            scopes: DATA_CENTER_DEFAULT_SCOPES.map(String::from).to_vec(),
            cloud_id: None,
            site_url: Some(site.clone()),
            http: HttpSettings::default(),
        })
    }

    /// Sets the client secret (sent in the token request body).
    pub fn client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// Replaces the requested scopes. On Cloud, `offline_access` is added
    /// when missing: without it no refresh token is issued.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        if self.deployment == Deployment::Cloud
            && !self.scopes.iter().any(|s| s == "offline_access")
        {
            self.scopes.push("offline_access".into());
        }
        self
    }

    /// Replaces the endpoints (authorize, token, API gateway).
    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// The network settings for the token endpoint and site discovery.
    pub fn http_settings(mut self, settings: HttpSettings) -> Self {
        self.http = settings;
        self
    }

    /// Cloud: use the site with this cloud id.
    pub fn cloud_id(mut self, cloud_id: impl Into<String>) -> Self {
        self.cloud_id = Some(cloud_id.into());
        self
    }

    /// Cloud: use the site at this URL (when no cloud id is set).
    pub fn site_url(mut self, url: Url) -> Self {
        self.site_url = Some(url);
        self
    }

    /// The deployment.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The redirect URI.
    pub fn redirect_uri(&self) -> &RedirectUrl {
        &self.redirect_uri
    }

    /// The requested scopes.
    pub fn requested_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The site that tokens must belong to, for [`crate::TokenCache::site`].
    pub fn site_binding(&self) -> Option<Site> {
        match (&self.cloud_id, &self.site_url) {
            (None, None) => None,
            (cloud_id, url) => Some(Site {
                cloud_id: cloud_id.clone(),
                url: url.clone(),
                name: None,
            }),
        }
    }

    /// The token source that refreshes what this flow obtains (on Data
    /// Center it sends `redirect_uri` with every refresh, as DC requires).
    pub fn token_source(&self) -> Result<TokenSource> {
        let mut source = TokenSource::new(self.client_id.clone(), self.endpoints.token.clone())?
            .http_settings(self.http.clone())?
            .scopes(self.scopes.clone());
        if let Some(secret) = &self.client_secret {
            source = source.client_secret(secret.clone());
        }
        if self.deployment == Deployment::DataCenter {
            source = source.redirect_uri(self.redirect_uri.clone());
        }
        Ok(source)
    }

    /// Builds the authorization URL: `response_type=code`, client id, redirect
    /// URI, scopes, a random `state` and a PKCE S256 challenge; on Cloud also
    /// `audience=api.atlassian.com` and `prompt=consent`.
    pub fn begin(&self) -> PendingAuthorization {
        let client = BasicClient::new(self.client_id.clone())
            .set_auth_uri(self.endpoints.authorize.clone())
            .set_redirect_uri(self.redirect_uri.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        if self.deployment == Deployment::Cloud {
            request = request
                .add_extra_param("audience", "api.atlassian.com")
                .add_extra_param("prompt", "consent");
        }
        let (url, state) = request.url();
        PendingAuthorization {
            url,
            state,
            verifier,
        }
    }

    /// Exchanges `code`, finds the site, and returns the login (not saved).
    pub async fn exchange(
        &self,
        pending: &PendingAuthorization,
        code: AuthorizationCode,
    ) -> Result<Login> {
        let (tokens, warnings) = self.exchange_tokens(pending, code).await?;
        let (site, api_base) = self.find_site(&tokens).await?;
        Ok(Login {
            tokens: TokenSet {
                site: Some(site),
                ..tokens
            },
            api_base,
            warnings,
        })
    }

    async fn exchange_tokens(
        &self,
        pending: &PendingAuthorization,
        code: AuthorizationCode,
    ) -> Result<(TokenSet, Vec<String>)> {
        let verifier = PkceCodeVerifier::new(pending.verifier.secret().clone());
        let tokens = self
            .token_source()?
            .exchange_code(code, verifier, &self.redirect_uri)
            .await?;
        let warnings = self.check_refresh_token(&tokens);
        Ok((tokens, warnings))
    }

    /// Exchanges `code`, finds the site and saves the tokens to `store`
    /// (under its lock, so a refresh in another process cannot undo it).
    ///
    /// The user has approved by now, so the grant is kept whenever it can
    /// be: if the site cannot be chosen (several sites and none configured)
    /// or listed (a network failure), the tokens are saved without a site and
    /// the error says how to finish without logging in again.
    pub async fn complete(
        &self,
        pending: &PendingAuthorization,
        code: AuthorizationCode,
        store: &Arc<dyn TokenStore>,
    ) -> Result<Login> {
        let (tokens, warnings) = self.exchange_tokens(pending, code).await?;
        match self.find_site(&tokens).await {
            Ok((site, api_base)) => {
                let login = Login {
                    tokens: TokenSet {
                        site: Some(site),
                        ..tokens
                    },
                    api_base,
                    warnings,
                };
                self.save(&login.tokens, store).await?;
                Ok(login)
            }
            Err(Error::SiteSelection(why)) if self.site_may_be_chosen_later(&why) => {
                self.save(&tokens, store).await?;
                Err(Error::SiteSelection(format!(
                    "{why}\nThe login itself was saved to {} without a site: once the site is \
                     configured, no new login is needed",
                    store.location()
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// Saves a completed login under the store's lock. A failure says that
    /// the approval was spent and how to recover.
    pub async fn save(&self, tokens: &TokenSet, store: &Arc<dyn TokenStore>) -> Result<()> {
        let (store, tokens) = (store.clone(), tokens.clone());
        let location = store.location();
        let saved = tokio::task::spawn_blocking(move || store.replace(&tokens))
            .await
            .map_err(|e| StoreError::Backend {
                backend: "blocking task",
                message: e.to_string(),
            })?;
        saved.map_err(|source| Error::LoginNotSaved {
            store: location,
            source,
        })
    }

    /// True for a site-selection failure that a setting (or a retry) fixes
    /// without a new login: several sites, or the list could not be fetched.
    fn site_may_be_chosen_later(&self, why: &str) -> bool {
        self.deployment == Deployment::Cloud
            && self.cloud_id.is_none()
            && self.site_url.is_none()
            && !why.contains("reaches no Jira site")
    }

    /// Completes with what a user pasted: the redirected URL, its query, or
    /// the code followed by its state.
    pub async fn complete_pasted(
        &self,
        pending: &PendingAuthorization,
        pasted: &str,
        store: &Arc<dyn TokenStore>,
    ) -> Result<Login> {
        let code = pending.code_from_pasted(pasted)?;
        self.complete(pending, code, store).await
    }

    /// The whole login with loopback capture: checks that the store can take
    /// the result and binds the redirect URI first (so neither a broken token
    /// file nor a taken port fails after the user approved), hands the URL to
    /// `show_url`, waits up to `timeout` for the browser, then completes.
    pub async fn login_with_loopback(
        &self,
        store: &Arc<dyn TokenStore>,
        timeout: Duration,
        show_url: impl FnOnce(&Url),
    ) -> Result<Login> {
        check_writable(store).await?;
        let listener = LoopbackListener::bind(&self.redirect_uri).await?;
        let pending = self.begin();
        show_url(pending.url());
        let code = listener.wait_for_code(pending.state(), timeout).await?;
        self.complete(&pending, code, store).await
    }

    fn check_refresh_token(&self, tokens: &TokenSet) -> Vec<String> {
        if tokens.refresh_token.is_some() {
            return Vec::new();
        }
        let warning = match self.deployment {
            Deployment::Cloud => {
                "the token response has no refresh_token: the `offline_access` scope was not \
                 granted, so this login ends when the access token expires (1 h). Add \
                 offline_access to the app's scopes and log in again"
            }
            Deployment::DataCenter => {
                "the token response has no refresh_token, so this login ends when the access \
                 token expires; check the application link's settings"
            }
        };
        tracing::warn!("{warning}");
        vec![warning.to_string()]
    }

    async fn find_site(&self, tokens: &TokenSet) -> Result<(Site, Url)> {
        match self.deployment {
            Deployment::DataCenter => {
                let site = Site {
                    cloud_id: None,
                    url: Some(self.endpoints.api.clone()),
                    name: None,
                };
                Ok((site, with_trailing_slash(&self.endpoints.api)))
            }
            Deployment::Cloud => {
                let resources = accessible_resources_with(
                    &self.endpoints.api,
                    &tokens.access_token,
                    &self.http,
                )
                .await?;
                let chosen =
                    select_site(&resources, self.cloud_id.as_deref(), self.site_url.as_ref())?;
                Ok((
                    chosen.site(),
                    cloud_api_base(&self.endpoints.api, &chosen.id)?,
                ))
            }
        }
    }
}

/// Runs [`TokenStore::check_writable`] off the async threads.
pub async fn check_writable(store: &Arc<dyn TokenStore>) -> Result<()> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.check_writable())
        .await
        .map_err(|e| StoreError::Backend {
            backend: "blocking task",
            message: e.to_string(),
        })?
        .map_err(Error::Store)
}

fn with_trailing_slash(url: &Url) -> Url {
    let mut url = url.clone();
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// Parses a URL constant of this module; they are all valid.
fn parse_const(url: &str) -> Url {
    Url::parse(url).unwrap_or_else(|e| unreachable!("constant URL {url}: {e}"))
}
