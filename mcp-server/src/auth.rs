//! OAuth plumbing shared by the CLI and the MCP tools: building the flow, the
//! token store and cache from the configuration, and describing the login.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use gouqi_oauth::secrecy::ExposeSecret;
use gouqi_oauth::{
    AuthUrl, AuthorizationFlow, ClientId, ClientSecret, Endpoints, FileStore, HttpSettings,
    RedirectUrl, Site, TokenCache, TokenSet, TokenSource, TokenStore, TokenUrl,
};
use serde::Serialize;
use url::Url;

use crate::config::{Auth, Config, Deployment, Grant, OAuthSettings};
use crate::tool_error::{ToolError, ToolErrorKind, explain, explain_store};

/// Everything OAuth needs, derived from the configuration.
#[derive(Clone, Debug)]
pub struct OAuthSetup {
    settings: OAuthSettings,
    deployment: Deployment,
    site_url: Option<Url>,
    http: HttpSettings,
}

impl OAuthSetup {
    /// The OAuth setup, when the configuration uses OAuth.
    pub fn from_config(config: &Config) -> Option<OAuthSetup> {
        match &config.auth {
            Some(Auth::OAuth(settings)) => Some(OAuthSetup {
                settings: (**settings).clone(),
                deployment: config.deployment,
                site_url: config.url.clone(),
                http: config.http.clone(),
            }),
            _ => None,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    /// How the HTTP clients connect (timeout, trusted CAs).
    pub fn http(&self) -> &HttpSettings {
        &self.http
    }

    /// The API gateway (Cloud) or site (Data Center).
    pub fn api_url(&self) -> Result<Url, gouqi_oauth::Error> {
        Ok(self.endpoints()?.api)
    }

    fn endpoints(&self) -> Result<Endpoints, gouqi_oauth::Error> {
        let mut endpoints = match (self.deployment, &self.site_url) {
            (Deployment::DataCenter, Some(site)) => Endpoints::data_center(site)?,
            _ => Endpoints::cloud(),
        };
        if let Some(url) = &self.settings.authorize_url {
            endpoints.authorize = AuthUrl::from_url(url.clone());
        }
        if let Some(url) = &self.settings.token_url {
            endpoints.token = TokenUrl::from_url(url.clone());
        }
        if let Some(url) = &self.settings.api_url {
            endpoints.api = url.clone();
        }
        Ok(endpoints)
    }

    /// The authorization-code flow for this configuration.
    pub fn flow(&self) -> Result<AuthorizationFlow, gouqi_oauth::Error> {
        let client_id = ClientId::new(self.settings.client_id.clone());
        let redirect = RedirectUrl::from_url(self.settings.redirect_uri.clone());
        let mut flow = match (self.deployment, &self.site_url) {
            (Deployment::DataCenter, Some(site)) => {
                AuthorizationFlow::data_center(site, client_id, redirect)?
            }
            _ => AuthorizationFlow::cloud(client_id, redirect),
        };
        flow = flow
            .endpoints(self.endpoints()?)
            .scopes(self.settings.scopes.clone())
            .http_settings(self.http.clone());
        if let Some(secret) = &self.settings.client_secret {
            flow = flow.client_secret(ClientSecret::new(secret.expose_secret().to_string()));
        }
        if let Some(id) = &self.settings.cloud_id {
            flow = flow.cloud_id(id.clone());
        } else if let (Deployment::Cloud, Some(url)) = (self.deployment, &self.site_url) {
            flow = flow.site_url(url.clone());
        }
        Ok(flow)
    }

    /// The token file.
    pub fn store(&self) -> Arc<dyn TokenStore> {
        Arc::new(FileStore::new(&self.settings.token_file))
    }

    /// The refreshing token cache, bound to the configured site.
    pub fn cache(&self) -> Result<TokenCache, gouqi_oauth::Error> {
        let flow = self.flow()?;
        let cache = TokenCache::with_store(self.source(&flow)?, self.store());
        Ok(match flow.site_binding() {
            Some(site) => cache.site(site),
            None => cache,
        })
    }

    /// The refreshing token cache of one team-server user: their grant in
    /// `store` (a per-user view of the team store), bound to their `site`
    /// so that a grant for another site is refused rather than used.
    pub fn user_cache(
        &self,
        store: Arc<dyn TokenStore>,
        site: Site,
    ) -> Result<TokenCache, gouqi_oauth::Error> {
        let flow = self.flow()?;
        Ok(TokenCache::with_store(self.source(&flow)?, store).site(site))
    }

    /// The token source for this grant: what refreshes (or mints) tokens.
    fn source(&self, flow: &AuthorizationFlow) -> Result<TokenSource, gouqi_oauth::Error> {
        Ok(match self.settings.grant {
            Grant::AuthorizationCode => flow.token_source()?,
            Grant::ClientCredentials => flow
                .token_source()?
                .grant(gouqi_oauth::Grant::ClientCredentials),
        })
    }

    /// Jira Cloud or Data Center.
    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// The gouqi base URL for tokens bound to `site`.
    pub fn api_base(&self, site: Option<&Site>) -> Result<Url, gouqi_oauth::Error> {
        let api = self.api_url()?;
        match self.deployment {
            Deployment::DataCenter => Ok(api),
            Deployment::Cloud => {
                let cloud_id = site
                    .and_then(|s| s.cloud_id.clone())
                    .or_else(|| self.settings.cloud_id.clone())
                    .ok_or_else(|| gouqi_oauth::Error::Config(
                        "the Jira Cloud site is unknown: log in again (jira-mcp auth login), or set JIRA_OAUTH_CLOUD_ID".into(),
                    ))?;
                gouqi_oauth::cloud_api_base(&api, &cloud_id)
            }
        }
    }
}

/// What `auth status` and the `auth_status` tool report. No secrets.
#[derive(Debug, Clone, Serialize)]
pub struct AuthStatus {
    /// `stdio` (one user, tokens in a local store) or `team` (the team
    /// server: the caller's own grant, kept by the server).
    pub mode: &'static str,
    /// Team server: jira-mcp's id of the calling user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Team server: the MCP client the caller's token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `JIRA_AUTH_TYPE`, or `none` when nothing is configured.
    pub auth_type: String,
    /// `cloud` or `datacenter`.
    pub deployment: Deployment,
    /// The OAuth grant, for OAuth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<Grant>,
    /// True when Jira calls can be made without the user.
    pub logged_in: bool,
    /// True when only a new login can restore access.
    pub needs_reauthorization: bool,
    /// Whether Jira (and the token endpoint) answered; absent when not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jira_reachable: Option<bool>,
    /// The Jira account, when it was looked up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The site URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The Cloud id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_id: Option<String>,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// When the access token expires (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<u64>,
    /// Seconds until it expires (negative: expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_expires_in: Option<i64>,
    /// Whether a refresh token is stored (stdio; the team server keeps each
    /// user's grant and does not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_present: Option<bool>,
    /// Seconds since the refresh token was issued (it rotates on each refresh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_age: Option<u64>,
    /// Where the tokens are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// What to do next, in a sentence.
    pub message: String,
}

/// Whole seconds from `from` to `to` (each read in whole Unix seconds):
/// negative when `to` is earlier.
fn signed_seconds(from: SystemTime, to: SystemTime) -> i64 {
    let unix = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    };
    unix(to).saturating_sub(unix(from))
}

impl AuthStatus {
    /// The status as far as configuration and the token store tell, without
    /// touching the network.
    pub fn offline(config: &Config) -> AuthStatus {
        let mut status = AuthStatus {
            mode: "stdio",
            user_id: None,
            client_id: None,
            auth_type: config.auth.as_ref().map_or("none", Auth::kind).to_string(),
            deployment: config.deployment,
            grant: None,
            logged_in: false,
            needs_reauthorization: false,
            jira_reachable: None,
            account: None,
            site: config.url.as_ref().map(Url::to_string),
            cloud_id: None,
            scopes: Vec::new(),
            access_token_expires_at: None,
            access_token_expires_in: None,
            refresh_token_present: Some(false),
            refresh_token_age: None,
            store: None,
            message: String::new(),
        };
        match (&config.auth, OAuthSetup::from_config(config)) {
            (None, _) => status.message = NOT_CONFIGURED.into(),
            (Some(_), Some(setup)) => status.fill_oauth(&setup),
            (Some(_), None) => {
                status.logged_in = true;
                status.message = "static credentials are configured".into();
            }
        }
        status
    }

    /// The team server's status before the caller's grant is checked: OAuth
    /// with the authorization-code grant, not logged in yet.
    pub fn team(config: &Config) -> AuthStatus {
        AuthStatus {
            mode: "team",
            user_id: None,
            client_id: None,
            auth_type: "oauth".into(),
            deployment: config.deployment,
            grant: Some(Grant::AuthorizationCode),
            logged_in: false,
            needs_reauthorization: false,
            jira_reachable: None,
            account: None,
            site: config.url.as_ref().map(Url::to_string),
            cloud_id: None,
            scopes: Vec::new(),
            access_token_expires_at: None,
            access_token_expires_in: None,
            refresh_token_present: None,
            refresh_token_age: None,
            store: None,
            message: String::new(),
        }
    }

    fn fill_oauth(&mut self, setup: &OAuthSetup) {
        let store = setup.store();
        self.grant = Some(setup.settings.grant);
        self.store = Some(store.location());
        match store.load() {
            Ok(Some(tokens)) => self.fill_tokens(&tokens, setup.settings.grant),
            Ok(None) if setup.settings.grant == Grant::ClientCredentials => {
                self.logged_in = true;
                self.message = "service account: a token is minted on first use".into();
            }
            Ok(None) => self.message = NOT_LOGGED_IN.into(),
            Err(e) => self.message = explain_store(&e),
        }
    }

    fn fill_tokens(&mut self, tokens: &TokenSet, grant: Grant) {
        let now = SystemTime::now();
        let unix = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        };
        if let Some(site) = &tokens.site {
            self.site = site.url.as_ref().map(Url::to_string).or(self.site.take());
            self.cloud_id = site.cloud_id.clone();
        }
        self.scopes = tokens.scopes.clone();
        self.access_token_expires_at = tokens.expires_at.map(unix);
        self.access_token_expires_in = tokens.expires_at.map(|t| signed_seconds(now, t));
        let has_refresh = tokens.refresh_token.is_some();
        self.refresh_token_present = Some(has_refresh);
        self.refresh_token_age = has_refresh.then(|| {
            now.duration_since(tokens.obtained_at)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        let expired = self.access_token_expires_in.is_some_and(|s| s <= 0);
        self.needs_reauthorization = expired && !has_refresh && grant == Grant::AuthorizationCode;
        self.logged_in = !self.needs_reauthorization;
        self.message = if self.needs_reauthorization {
            "the access token expired and there is no refresh token: log in again (`jira-mcp auth login`, or the init_oauth_flow tool)".into()
        } else {
            "logged in".into()
        };
    }

    /// Marks the status after a failed check against the token endpoint or Jira.
    pub fn failed(&mut self, error: &gouqi_oauth::Error) {
        if error.needs_reauthorization() {
            self.logged_in = false;
            self.needs_reauthorization = true;
        }
        self.message = explain(error);
    }
}

impl AuthStatus {
    /// Marks the status after a failed online check (token refresh or Jira call).
    pub fn check_failed(&mut self, error: &ToolError) {
        match error.kind {
            ToolErrorKind::Network => self.jira_reachable = Some(false),
            ToolErrorKind::Reauthorize => {
                self.logged_in = false;
                self.needs_reauthorization = true;
            }
            ToolErrorKind::Other => {}
        }
        self.message = error.message.clone();
    }
}

/// The message for a server with no credentials configured.
pub const NOT_CONFIGURED: &str = "Jira is not configured: set JIRA_URL and JIRA_AUTH_TYPE (oauth, api_token, \
     pat, basic, bearer or anonymous) with their credentials, in the environment or the config file; \
     see `jira-mcp --help`";

/// The message for an OAuth setup without tokens.
pub const NOT_LOGGED_IN: &str = "not logged in to Jira: run `jira-mcp auth login` in a terminal, or \
     call the init_oauth_flow tool and open the URL it returns";
