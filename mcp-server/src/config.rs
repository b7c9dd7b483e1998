//! Configuration: flags, then environment, then a TOML file, then defaults.
//! Everything is validated at start, and each error names the variable and
//! says what to put in it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gouqi_oauth::HttpSettings;
use gouqi_oauth::secrecy::SecretString;
use gouqi_oauth::{CLOUD_DEFAULT_SCOPES, DATA_CENTER_DEFAULT_SCOPES};
use url::Url;

use crate::catalog;

mod team;

pub use team::{
    ALLOW_ANY, ATLASSIAN_CALLBACK_PATH, AbuseLimits, ConnectionLimits, DEFAULT_RATE_LIMIT,
    DEFAULT_USER_CACHE_SIZE, TeamSettings,
};

/// The default OAuth redirect URI (register the same one in the app).
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:8080/callback";

/// Every setting, by its environment variable name.
pub const VARIABLES: [&str; 47] = [
    "JIRA_URL",
    "JIRA_DEPLOYMENT",
    "JIRA_AUTH_TYPE",
    "JIRA_USERNAME",
    "JIRA_API_TOKEN",
    "JIRA_PASSWORD",
    "JIRA_TOKEN",
    "JIRA_OAUTH_CLIENT_ID",
    "JIRA_OAUTH_CLIENT_SECRET",
    "JIRA_OAUTH_REDIRECT_URI",
    "JIRA_OAUTH_SCOPES",
    "JIRA_OAUTH_GRANT",
    "JIRA_OAUTH_CLOUD_ID",
    "JIRA_OAUTH_TOKEN_FILE",
    "JIRA_OAUTH_AUTHORIZE_URL",
    "JIRA_OAUTH_TOKEN_URL",
    "JIRA_OAUTH_API_URL",
    "JIRA_TIMEOUT_SECS",
    "JIRA_CA_BUNDLE",
    "JIRA_TLS_NATIVE_ROOTS",
    "JIRA_MCP_READ_ONLY",
    "JIRA_MCP_TOOLS",
    "JIRA_MCP_DISABLED_TOOLS",
    "JIRA_MCP_PROJECTS",
    "JIRA_MCP_PERMISSION_AWARE",
    "JIRA_MCP_HTTP_ADDR",
    "JIRA_MCP_PUBLIC_URL",
    "JIRA_MCP_ENCRYPTION_KEY",
    "JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS",
    "JIRA_MCP_DATABASE_URL",
    "JIRA_MCP_DATABASE_PASSWORD",
    "JIRA_MCP_ACCESS_TOKEN_TTL_SECS",
    "JIRA_MCP_REFRESH_TOKEN_TTL_SECS",
    "JIRA_MCP_RATE_LIMIT",
    "JIRA_MCP_ALLOWED_HOSTS",
    "JIRA_MCP_ALLOWED_ORIGINS",
    "JIRA_MCP_USER_CACHE_SIZE",
    "JIRA_MCP_HEADER_TIMEOUT_SECS",
    "JIRA_MCP_BODY_TIMEOUT_SECS",
    "JIRA_MCP_MAX_CONNECTIONS",
    "JIRA_MCP_REFRESH_TOKEN_MAX_LIFETIME",
    "JIRA_MCP_AUTHZ_RATE_LIMIT",
    "JIRA_MCP_REGISTER_RATE_LIMIT",
    "JIRA_MCP_TRUSTED_PROXIES",
    "JIRA_MCP_UNUSED_CLIENT_TTL_SECS",
    "JIRA_MCP_CONFIG",
    "RUST_LOG",
];

/// Settings that take a list (space- or comma-separated, or a TOML array).
const LISTS: [&str; 8] = [
    "JIRA_OAUTH_SCOPES",
    "JIRA_MCP_TOOLS",
    "JIRA_MCP_DISABLED_TOOLS",
    "JIRA_MCP_PROJECTS",
    "JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS",
    "JIRA_MCP_ALLOWED_HOSTS",
    "JIRA_MCP_ALLOWED_ORIGINS",
    "JIRA_MCP_TRUSTED_PROXIES",
];

/// Settings that may be given as TOML integers.
const NUMBERS: [&str; 12] = [
    "JIRA_TIMEOUT_SECS",
    "JIRA_MCP_ACCESS_TOKEN_TTL_SECS",
    "JIRA_MCP_REFRESH_TOKEN_TTL_SECS",
    "JIRA_MCP_RATE_LIMIT",
    "JIRA_MCP_USER_CACHE_SIZE",
    "JIRA_MCP_HEADER_TIMEOUT_SECS",
    "JIRA_MCP_BODY_TIMEOUT_SECS",
    "JIRA_MCP_MAX_CONNECTIONS",
    "JIRA_MCP_REFRESH_TOKEN_MAX_LIFETIME",
    "JIRA_MCP_AUTHZ_RATE_LIMIT",
    "JIRA_MCP_REGISTER_RATE_LIMIT",
    "JIRA_MCP_UNUSED_CLIENT_TTL_SECS",
];

/// The longest `JIRA_TIMEOUT_SECS` accepted (a day).
const MAX_TIMEOUT_SECS: u64 = 86_400;

/// Where a setting came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// The environment.
    Env,
    /// The TOML file.
    File(PathBuf),
    /// The file a `*_FILE` variable names (e.g. `JIRA_MCP_ENCRYPTION_KEY_FILE`).
    SecretFile(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("command-line flag"),
            Source::Env => f.write_str("environment"),
            Source::File(path) => write!(f, "config file {}", path.display()),
            Source::SecretFile(variable) => write!(f, "file {variable} names"),
        }
    }
}

/// A configuration error: which variable, where it was set, and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{variable}{}: {message}", origin.as_ref().map(|s| format!(" (from the {s})")).unwrap_or_default())]
pub struct ConfigError {
    /// The variable's environment name.
    pub variable: String,
    /// Where the bad value came from, if it was set.
    pub origin: Option<Source>,
    /// What is wrong and what to put there.
    pub message: String,
}

pub(crate) fn error(
    variable: &str,
    source: Option<&Source>,
    message: impl Into<String>,
) -> ConfigError {
    ConfigError {
        variable: variable.into(),
        origin: source.cloned(),
        message: message.into(),
    }
}

/// Jira Cloud or Data Center.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    /// `*.atlassian.net`, REST API v3.
    Cloud,
    /// Jira Data Center / Server, REST API v2.
    #[serde(rename = "datacenter")]
    DataCenter,
}

/// Which OAuth grant obtains tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// A user logs in once in a browser.
    AuthorizationCode,
    /// A service account: client id and secret only.
    ClientCredentials,
}

/// OAuth 2.0 settings.
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    /// `JIRA_OAUTH_CLIENT_ID`.
    pub client_id: String,
    /// `JIRA_OAUTH_CLIENT_SECRET`.
    pub client_secret: Option<SecretString>,
    /// `JIRA_OAUTH_REDIRECT_URI`.
    pub redirect_uri: Url,
    /// `JIRA_OAUTH_SCOPES`.
    pub scopes: Vec<String>,
    /// `JIRA_OAUTH_GRANT`.
    pub grant: Grant,
    /// `JIRA_OAUTH_CLOUD_ID`.
    pub cloud_id: Option<String>,
    /// `JIRA_OAUTH_TOKEN_FILE`.
    pub token_file: PathBuf,
    /// `JIRA_OAUTH_AUTHORIZE_URL`.
    pub authorize_url: Option<Url>,
    /// `JIRA_OAUTH_TOKEN_URL`.
    pub token_url: Option<Url>,
    /// `JIRA_OAUTH_API_URL`.
    pub api_url: Option<Url>,
}

/// How jira-mcp authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    /// OAuth 2.0 (3LO, Data Center, or service account).
    OAuth(Box<OAuthSettings>),
    /// Email and API token (Cloud), as HTTP Basic.
    ApiToken {
        /// `JIRA_USERNAME`.
        username: String,
        /// `JIRA_API_TOKEN`.
        token: SecretString,
    },
    /// Data Center personal access token, as a Bearer token.
    Pat {
        /// `JIRA_TOKEN`.
        token: SecretString,
    },
    /// Username and password, as HTTP Basic.
    Basic {
        /// `JIRA_USERNAME`.
        username: String,
        /// `JIRA_PASSWORD`.
        password: SecretString,
    },
    /// Any bearer token.
    Bearer {
        /// `JIRA_TOKEN`.
        token: SecretString,
    },
    /// No authentication.
    Anonymous,
}

impl Auth {
    /// The `JIRA_AUTH_TYPE` value.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::OAuth(_) => "oauth",
            Auth::ApiToken { .. } => "api_token",
            Auth::Pat { .. } => "pat",
            Auth::Basic { .. } => "basic",
            Auth::Bearer { .. } => "bearer",
            Auth::Anonymous => "anonymous",
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// `JIRA_URL`: the site (optional for Cloud OAuth, which discovers it).
    pub url: Option<Url>,
    /// `JIRA_DEPLOYMENT`.
    pub deployment: Deployment,
    /// `None` when nothing is configured yet: the server still starts and its
    /// tools say what to set.
    pub auth: Option<Auth>,
    /// The TOML file that was read, if any.
    pub file: Option<PathBuf>,
    /// `JIRA_TIMEOUT_SECS`, `JIRA_CA_BUNDLE`, `JIRA_TLS_NATIVE_ROOTS`: how every
    /// HTTP client (Jira, token endpoint, site discovery) connects.
    pub http: HttpSettings,
    /// `JIRA_MCP_READ_ONLY`, `JIRA_MCP_TOOLS`, `JIRA_MCP_DISABLED_TOOLS`,
    /// `JIRA_MCP_PROJECTS`, `JIRA_MCP_PERMISSION_AWARE`: what the server may do.
    pub controls: Controls,
    /// `JIRA_MCP_HTTP_ADDR` and the other team-server settings: set when
    /// the server is to serve MCP over HTTP to a team instead of stdio.
    pub team: Option<TeamSettings>,
    /// `JIRA_MCP_DATABASE_URL` (default: `team.db` in the data directory),
    /// read with or without `JIRA_MCP_HTTP_ADDR`: the `team` admin commands
    /// open the store and need nothing else. `None` when neither the
    /// variable nor a data directory is known.
    pub team_store: Option<SecretString>,
}

/// What an admin allows: which tools exist, and which projects they reach.
#[derive(Clone, Debug, Default)]
pub struct Controls {
    /// `JIRA_MCP_READ_ONLY`: no tool that changes Jira.
    pub read_only: bool,
    /// `JIRA_MCP_TOOLS`: only these tools (names or toolsets), when set.
    pub only: Option<BTreeSet<&'static str>>,
    /// `JIRA_MCP_DISABLED_TOOLS`: never these.
    pub disabled: BTreeSet<&'static str>,
    /// `JIRA_MCP_PROJECTS`: only these project keys (upper case), when set.
    pub projects: Option<Vec<String>>,
    /// `JIRA_MCP_PERMISSION_AWARE`: at the first tool call of each login, ask
    /// Jira for the user's permissions and hide the write tools they lack.
    pub permission_aware: bool,
}

impl Controls {
    /// Why `tool` may not be used here, or `None` when it may.
    pub fn refusal(&self, tool: &str) -> Option<String> {
        let info = catalog::find(tool)?;
        if self.read_only && info.writes {
            return Some(format!(
                "`{tool}` changes Jira, and this server is read-only (JIRA_MCP_READ_ONLY=true)"
            ));
        }
        if self.disabled.contains(info.name) {
            return Some(format!(
                "`{tool}` is disabled on this server (JIRA_MCP_DISABLED_TOOLS)"
            ));
        }
        match &self.only {
            Some(only) if !only.contains(info.name) => Some(format!(
                "`{tool}` is not enabled on this server (JIRA_MCP_TOOLS)"
            )),
            _ => None,
        }
    }
}

/// Settings given as command-line flags (they win over everything else).
#[derive(Clone, Debug, Default)]
pub struct Flags {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// Other flags, by variable name (`JIRA_URL` for `--url`, …).
    pub values: BTreeMap<&'static str, String>,
}

/// One merged setting.
type Setting = (String, Source);

impl Config {
    /// Loads the configuration from flags, the process environment, and the
    /// TOML file (`--config`, `JIRA_MCP_CONFIG`, or the default path if it exists).
    pub fn load(flags: &Flags) -> Result<Config, ConfigError> {
        Self::load_from(
            flags,
            &|name| std::env::var(name).ok(),
            default_config_path(),
        )
    }

    /// Like [`Config::load`], with the environment and default file given
    /// (for tests).
    pub fn load_from(
        flags: &Flags,
        env: &dyn Fn(&str) -> Option<String>,
        default_file: Option<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let chosen = Self::choose_file(flags, env, default_file)?;
        let from_file = match &chosen {
            Some(file) => read_toml(file)?,
            None => BTreeMap::new(),
        };
        let file = chosen.map(|c| c.path);
        let mut settings: BTreeMap<&'static str, Setting> = BTreeMap::new();
        for name in VARIABLES {
            let value = flags
                .values
                .get(name)
                .map(|v| (v.clone(), Source::Flag))
                .or_else(|| {
                    env(name)
                        .filter(|v| !v.is_empty())
                        .map(|v| (v, Source::Env))
                })
                .or_else(|| from_file.get(name).cloned());
            if let Some(value) = value {
                settings.insert(name, value);
            }
        }
        team::secret_files(&mut settings, env)?;
        Settings(settings).validate(file)
    }

    fn choose_file(
        flags: &Flags,
        env: &dyn Fn(&str) -> Option<String>,
        default_file: Option<PathBuf>,
    ) -> Result<Option<ConfigFile>, ConfigError> {
        let chosen = |path: PathBuf, named_by| ConfigFile { path, named_by };
        if let Some(path) = &flags.config {
            return exists(path, "--config", &Source::Flag).map(|p| Some(chosen(p, "--config")));
        }
        if let Some(path) = env("JIRA_MCP_CONFIG").filter(|p| !p.is_empty()) {
            return exists(Path::new(&path), "JIRA_MCP_CONFIG", &Source::Env)
                .map(|p| Some(chosen(p, "JIRA_MCP_CONFIG")));
        }
        Ok(default_file
            .filter(|p| p.is_file())
            .map(|p| chosen(p, "the default config file")))
    }

    /// The Jira REST API version for this deployment.
    pub fn api_version(&self) -> &'static str {
        match self.deployment {
            Deployment::Cloud => "3",
            Deployment::DataCenter => "2",
        }
    }
}

fn exists(path: &Path, variable: &str, source: &Source) -> Result<PathBuf, ConfigError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(error(
            variable,
            Some(source),
            format!(
                "the config file {} does not exist; give the path of a TOML file",
                path.display()
            ),
        ))
    }
}

/// The default TOML file: `~/.config/jira-mcp/config.toml` on Linux.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "jira-mcp").map(|d| d.config_dir().join("config.toml"))
}

/// The TOML file in use, and what named it (`--config`, `JIRA_MCP_CONFIG`
/// or the default location), for messages.
struct ConfigFile {
    path: PathBuf,
    named_by: &'static str,
}

/// The TOML key for a variable: `JIRA_OAUTH_CLIENT_ID` is `oauth_client_id`.
pub fn toml_key(variable: &str) -> String {
    variable.trim_start_matches("JIRA_").to_ascii_lowercase()
}

fn read_toml(file: &ConfigFile) -> Result<BTreeMap<&'static str, Setting>, ConfigError> {
    let source = Source::File(file.path.clone());
    let fail = |message: String| error(file.named_by, Some(&source), message);
    let text =
        std::fs::read_to_string(&file.path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| fail(toml_error(&text, &e)))?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let Some(name) = VARIABLES
            .iter()
            .find(|v| toml_key(v) == key && **v != "JIRA_MCP_CONFIG")
        else {
            let known: Vec<String> = VARIABLES
                .iter()
                .filter(|v| !matches!(**v, "JIRA_MCP_CONFIG" | "RUST_LOG"))
                .map(|v| toml_key(v))
                .collect();
            return Err(fail(format!(
                "unknown key `{key}`; the keys are: {}",
                known.join(", ")
            )));
        };
        let text = match value {
            toml::Value::String(s) => s,
            // Checked like the environment's text by `Settings::http`.
            toml::Value::Integer(n) if NUMBERS.contains(name) => n.to_string(),
            toml::Value::Boolean(b)
                if matches!(
                    *name,
                    "JIRA_TLS_NATIVE_ROOTS" | "JIRA_MCP_READ_ONLY" | "JIRA_MCP_PERMISSION_AWARE"
                ) =>
            {
                b.to_string()
            }
            toml::Value::Array(items) if LISTS.contains(name) => items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            other => {
                return Err(error(
                    name,
                    Some(&source),
                    format!("`{key}` must be a string, not {}", other.type_str()),
                ));
            }
        };
        out.insert(*name, (text, source.clone()));
    }
    Ok(out)
}

/// A TOML syntax error by line and column, without the offending line: it
/// may hold a client secret, an API token or a password, and this message
/// ends up in MCP hosts' logs.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let place = e.span().map(|span| {
        let before = text.get(..span.start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!(" at line {line}, column {column}")
    });
    format!(
        "not valid TOML{}: {}. (The line is not shown: it may hold a secret.)",
        place.unwrap_or_default(),
        e.message().trim_end_matches('.')
    )
}

/// The merged settings, by variable name, before validation.
pub(crate) struct Settings(BTreeMap<&'static str, Setting>);

impl Settings {
    pub(crate) fn get(&self, name: &str) -> Option<&Setting> {
        self.0.get(name)
    }

    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(|(v, _)| v.as_str())
    }

    fn source(&self, name: &str) -> Option<&Source> {
        self.get(name).map(|(_, s)| s)
    }

    fn require(&self, name: &str, auth_type: &str, what: &str) -> Result<String, ConfigError> {
        self.value(name).map(str::to_string).ok_or_else(|| {
            error(
                name,
                None,
                format!("required for JIRA_AUTH_TYPE={auth_type}: set it to {what}"),
            )
        })
    }

    fn secret(&self, name: &str, auth_type: &str, what: &str) -> Result<SecretString, ConfigError> {
        self.require(name, auth_type, what).map(SecretString::from)
    }

    pub(crate) fn url(&self, name: &str, example: &str) -> Result<Option<Url>, ConfigError> {
        let Some((text, source)) = self.get(name) else {
            return Ok(None);
        };
        let url = Url::parse(text.trim()).map_err(|e| {
            error(
                name,
                Some(source),
                format!("`{text}` is not a URL ({e}); use e.g. {example}"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(error(
                name,
                Some(source),
                format!("`{text}` must start with https:// (or http://); use e.g. {example}"),
            ));
        }
        Ok(Some(url))
    }

    fn validate(self, file: Option<PathBuf>) -> Result<Config, ConfigError> {
        let url = self.url("JIRA_URL", "https://your-site.atlassian.net")?;
        let deployment = self.deployment(url.as_ref())?;
        let mut auth = self.auth(deployment, url.as_ref())?;
        let controls = self.controls()?;
        let team = team::settings(&self, auth.as_mut(), &controls)?;
        let team_store = team::database_url(&self).ok();
        Ok(Config {
            url,
            deployment,
            auth,
            file,
            http: self.http()?,
            controls,
            team,
            team_store,
        })
    }

    fn controls(&self) -> Result<Controls, ConfigError> {
        Ok(Controls {
            read_only: self.boolean("JIRA_MCP_READ_ONLY")?.unwrap_or(false),
            only: self.tools("JIRA_MCP_TOOLS")?,
            disabled: self.tools("JIRA_MCP_DISABLED_TOOLS")?.unwrap_or_default(),
            projects: self.projects()?,
            permission_aware: self.boolean("JIRA_MCP_PERMISSION_AWARE")?.unwrap_or(false),
        })
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        let Some((text, source)) = self.get(name) else {
            return Ok(None);
        };
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(error(
                name,
                Some(source),
                format!("`{text}` is not true or false"),
            )),
        }
    }

    pub(crate) fn list(&self, name: &str) -> Option<(Vec<String>, &Source)> {
        let (text, source) = self.get(name)?;
        let items = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|i| !i.is_empty())
            .map(String::from)
            .collect();
        Some((items, source))
    }

    /// Tool names and toolsets, expanded to tool names; an unknown one is an
    /// error listing the valid ones.
    fn tools(&self, name: &str) -> Result<Option<BTreeSet<&'static str>>, ConfigError> {
        let Some((items, source)) = self.list(name) else {
            return Ok(None);
        };
        let mut tools = BTreeSet::new();
        for item in &items {
            let expanded = catalog::expand(item).ok_or_else(|| {
                error(
                    name,
                    Some(source),
                    format!(
                        "`{item}` is not a tool or toolset; the valid ones are {}",
                        catalog::valid_names()
                    ),
                )
            })?;
            tools.extend(expanded);
        }
        Ok(Some(tools))
    }

    fn projects(&self) -> Result<Option<Vec<String>>, ConfigError> {
        let Some((items, source)) = self.list("JIRA_MCP_PROJECTS") else {
            return Ok(None);
        };
        let mut keys = Vec::new();
        for item in items {
            let key = crate::input::project_key(&item)
                .ok()
                .filter(|k| !k.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    error(
                        "JIRA_MCP_PROJECTS",
                        Some(source),
                        format!(
                            "`{item}` is not a project key (like `ED`); list project keys, not ids"
                        ),
                    )
                })?;
            keys.push(key.to_ascii_uppercase());
        }
        if keys.is_empty() {
            return Err(error(
                "JIRA_MCP_PROJECTS",
                Some(source),
                "is empty; list the project keys the server may reach, e.g. `ED OPS`",
            ));
        }
        Ok(Some(keys))
    }

    fn http(&self) -> Result<HttpSettings, ConfigError> {
        let mut http = HttpSettings::default();
        if let Some((text, source)) = self.get("JIRA_TIMEOUT_SECS") {
            let secs = text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=MAX_TIMEOUT_SECS).contains(s))
                .ok_or_else(|| {
                    error(
                        "JIRA_TIMEOUT_SECS",
                        Some(source),
                        format!(
                            "`{text}` is not a whole number of seconds from 1 to {MAX_TIMEOUT_SECS}; use e.g. 30"
                        ),
                    )
                })?;
            http = http.timeout(std::time::Duration::from_secs(secs));
        }
        if let Some((text, source)) = self.get("JIRA_TLS_NATIVE_ROOTS") {
            let enabled = match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(error(
                        "JIRA_TLS_NATIVE_ROOTS",
                        Some(source),
                        format!("`{text}` is not true or false"),
                    ));
                }
            };
            http = http.native_roots(enabled);
        }
        if let Some((path, source)) = self.get("JIRA_CA_BUNDLE") {
            http = http.ca_bundle_file(Path::new(path)).map_err(|e| {
                let message = match e {
                    gouqi_oauth::Error::Config(message) => message,
                    other => other.to_string(),
                };
                error("JIRA_CA_BUNDLE", Some(source), message)
            })?;
        }
        Ok(http)
    }

    fn deployment(&self, url: Option<&Url>) -> Result<Deployment, ConfigError> {
        match self.get("JIRA_DEPLOYMENT") {
            Some((v, _)) if v.eq_ignore_ascii_case("cloud") => Ok(Deployment::Cloud),
            Some((v, _))
                if ["datacenter", "data_center", "server"]
                    .contains(&v.to_ascii_lowercase().as_str()) =>
            {
                Ok(Deployment::DataCenter)
            }
            Some((v, source)) => Err(error(
                "JIRA_DEPLOYMENT",
                Some(source),
                format!("`{v}` is not one of: cloud, datacenter"),
            )),
            None => Ok(match url.and_then(Url::host_str) {
                Some(host) if !host.to_ascii_lowercase().ends_with(".atlassian.net") => {
                    Deployment::DataCenter
                }
                _ => Deployment::Cloud,
            }),
        }
    }

    fn auth_type(&self) -> Result<Option<String>, ConfigError> {
        const TYPES: [&str; 6] = ["oauth", "api_token", "pat", "basic", "bearer", "anonymous"];
        if let Some((v, source)) = self.get("JIRA_AUTH_TYPE") {
            let v = v.to_ascii_lowercase();
            if !TYPES.contains(&v.as_str()) {
                return Err(error(
                    "JIRA_AUTH_TYPE",
                    Some(source),
                    format!("`{v}` is not one of: {}", TYPES.join(", ")),
                ));
            }
            return Ok(Some(v));
        }
        // Without an explicit type, infer it from the credentials given.
        let inferred = if self.value("JIRA_OAUTH_CLIENT_ID").is_some() {
            Some("oauth")
        } else if self.value("JIRA_API_TOKEN").is_some() {
            Some("api_token")
        } else if self.value("JIRA_PASSWORD").is_some() {
            Some("basic")
        } else if self.value("JIRA_TOKEN").is_some() {
            Some("bearer")
        } else {
            None
        };
        Ok(inferred.map(String::from))
    }

    fn auth(&self, deployment: Deployment, url: Option<&Url>) -> Result<Option<Auth>, ConfigError> {
        let Some(kind) = self.auth_type()? else {
            return Ok(None);
        };
        if kind != "oauth" && url.is_none() {
            return Err(error(
                "JIRA_URL",
                None,
                format!(
                    "required for JIRA_AUTH_TYPE={kind}: set it to your site, e.g. https://your-site.atlassian.net"
                ),
            ));
        }
        let auth = match kind.as_str() {
            "oauth" => Auth::OAuth(Box::new(self.oauth(deployment, url)?)),
            "api_token" => Auth::ApiToken {
                username: self.require("JIRA_USERNAME", &kind, "your Atlassian account email")?,
                token: self.secret(
                    "JIRA_API_TOKEN",
                    &kind,
                    "an API token from id.atlassian.com",
                )?,
            },
            "pat" => Auth::Pat {
                token: self.secret(
                    "JIRA_TOKEN",
                    &kind,
                    "a personal access token from your Jira profile",
                )?,
            },
            "basic" => Auth::Basic {
                username: self.require("JIRA_USERNAME", &kind, "your Jira username")?,
                password: self.secret("JIRA_PASSWORD", &kind, "your Jira password")?,
            },
            "bearer" => Auth::Bearer {
                token: self.secret("JIRA_TOKEN", &kind, "the bearer token")?,
            },
            _ => Auth::Anonymous,
        };
        Ok(Some(auth))
    }

    fn oauth(
        &self,
        deployment: Deployment,
        url: Option<&Url>,
    ) -> Result<OAuthSettings, ConfigError> {
        if deployment == Deployment::DataCenter && url.is_none() {
            return Err(error(
                "JIRA_URL",
                None,
                "required for OAuth on Data Center: set it to the Jira base URL, e.g. https://jira.example.com",
            ));
        }
        let grant = match self.get("JIRA_OAUTH_GRANT") {
            None => Grant::AuthorizationCode,
            Some((v, _)) if v == "authorization_code" => Grant::AuthorizationCode,
            Some((v, _)) if v == "client_credentials" => Grant::ClientCredentials,
            Some((v, source)) => {
                return Err(error(
                    "JIRA_OAUTH_GRANT",
                    Some(source),
                    format!("`{v}` is not one of: authorization_code, client_credentials"),
                ));
            }
        };
        let redirect_uri = self
            .url("JIRA_OAUTH_REDIRECT_URI", DEFAULT_REDIRECT_URI)?
            .unwrap_or_else(|| Url::parse(DEFAULT_REDIRECT_URI).unwrap_or_else(|_| unreachable!()));
        let scopes = match self.value("JIRA_OAUTH_SCOPES") {
            Some(text) => text.split_whitespace().map(String::from).collect(),
            None if deployment == Deployment::Cloud => {
                CLOUD_DEFAULT_SCOPES.map(String::from).to_vec()
            }
            None => DATA_CENTER_DEFAULT_SCOPES.map(String::from).to_vec(),
        };
        if scopes.is_empty() {
            return Err(error(
                "JIRA_OAUTH_SCOPES",
                self.source("JIRA_OAUTH_SCOPES"),
                "is empty; list the scopes separated by spaces, e.g. `read:jira-work write:jira-work read:jira-user offline_access`",
            ));
        }
        let token_file = match self.value("JIRA_OAUTH_TOKEN_FILE") {
            Some(path) => PathBuf::from(path),
            None => gouqi_oauth::FileStore::default_path("jira-mcp")
                .map_err(|e| error("JIRA_OAUTH_TOKEN_FILE", None, format!("{e}")))?,
        };
        Ok(OAuthSettings {
            client_id: self.require(
                "JIRA_OAUTH_CLIENT_ID",
                "oauth",
                "the client id of your OAuth 2.0 app",
            )?,
            client_secret: Some(self.secret(
                "JIRA_OAUTH_CLIENT_SECRET",
                "oauth",
                "the secret of your OAuth 2.0 app",
            )?),
            redirect_uri,
            scopes,
            grant,
            cloud_id: self.value("JIRA_OAUTH_CLOUD_ID").map(String::from),
            token_file,
            authorize_url: self.url(
                "JIRA_OAUTH_AUTHORIZE_URL",
                "https://auth.atlassian.com/authorize",
            )?,
            token_url: self.url(
                "JIRA_OAUTH_TOKEN_URL",
                "https://auth.atlassian.com/oauth/token",
            )?,
            api_url: self.url("JIRA_OAUTH_API_URL", "https://api.atlassian.com")?,
        })
    }
}
