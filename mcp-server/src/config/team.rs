//! The team server's settings (`jira-mcp serve --http ADDR`): where it
//! listens, the public URL it is reached at, the store, the encryption key,
//! token lifetimes, the rate limit and the Host/Origin allow-lists.
//!
//! They are read only when `JIRA_MCP_HTTP_ADDR` (or `--http`) is set, and
//! checked together at start so that a half-configured team server never
//! starts.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gouqi_oauth::secrecy::{ExposeSecret, SecretString};
use ipnet::IpNet;
use url::Url;

use super::{Auth, ConfigError, Controls, Grant, Settings, error};

/// The default `JIRA_MCP_AUTHZ_RATE_LIMIT`: requests per minute per address.
pub const DEFAULT_PER_MINUTE: u32 = 60;
/// The default `JIRA_MCP_REGISTER_RATE_LIMIT`: registrations per hour per
/// address.
pub const DEFAULT_REGISTRATIONS_PER_HOUR: u32 = 20;
/// The default `JIRA_MCP_UNUSED_CLIENT_TTL_SECS` (a day).
pub const DEFAULT_UNUSED_CLIENT_TTL: Duration = Duration::from_secs(86_400);

/// The default `JIRA_MCP_RATE_LIMIT`: calls per minute per MCP client.
pub const DEFAULT_RATE_LIMIT: u32 = 120;
/// The default `JIRA_MCP_USER_CACHE_SIZE`: live per-user Jira connections.
pub const DEFAULT_USER_CACHE_SIZE: u64 = 1000;
/// The default `JIRA_MCP_ACCESS_TOKEN_TTL_SECS` (an hour).
const DEFAULT_ACCESS_TTL: u64 = 3600;
/// The default `JIRA_MCP_REFRESH_TOKEN_TTL_SECS` (30 days).
const DEFAULT_REFRESH_TTL: u64 = 30 * 86_400;
/// The default `JIRA_MCP_HEADER_TIMEOUT_SECS`.
const DEFAULT_HEADER_TIMEOUT: u64 = 15;
/// The default `JIRA_MCP_BODY_TIMEOUT_SECS` (an upload of 10 MiB at a slow
/// 1 Mbit/s takes about 80 s).
const DEFAULT_BODY_TIMEOUT: u64 = 120;
/// The default `JIRA_MCP_MAX_CONNECTIONS`: well under the usual 1024 file
/// descriptors, which the Jira and store connections share.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 512;
/// The default `JIRA_MCP_REFRESH_TOKEN_MAX_LIFETIME` (90 days).
const DEFAULT_REFRESH_MAX_LIFETIME: u64 = 90 * 86_400;
/// The path Atlassian redirects to after a user's consent.
pub const ATLASSIAN_CALLBACK_PATH: &str = "/oauth/atlassian/callback";
/// The allow-list entry that turns a Host or Origin check off.
pub const ALLOW_ANY: &str = "*";
/// How to make an encryption key, for messages.
const MAKE_A_KEY: &str = "make one with `openssl rand -base64 32`";

/// Everything the team server needs beyond the stdio configuration.
#[derive(Clone)]
pub struct TeamSettings {
    /// `JIRA_MCP_HTTP_ADDR` / `--http`: where to listen.
    pub addr: SocketAddr,
    /// `JIRA_MCP_PUBLIC_URL`: the externally visible base URL, without a
    /// trailing slash (default `http://ADDR` for a loopback address).
    pub public_url: Url,
    /// `JIRA_MCP_ENCRYPTION_KEY`: base64 of 32 bytes, seals Atlassian grants.
    pub encryption_key: SecretString,
    /// `JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS`: older keys, still opened.
    pub previous_keys: Vec<SecretString>,
    /// `JIRA_MCP_DATABASE_URL` (may hold a password: never printed).
    pub database_url: SecretString,
    /// `JIRA_MCP_ACCESS_TOKEN_TTL_SECS`.
    pub access_ttl: Duration,
    /// `JIRA_MCP_REFRESH_TOKEN_TTL_SECS`: a refresh token's sliding lifetime.
    pub refresh_ttl: Duration,
    /// `JIRA_MCP_REFRESH_TOKEN_MAX_LIFETIME` (seconds): an authorization's
    /// absolute lifetime, however often it is refreshed.
    pub refresh_max_lifetime: Duration,
    /// `JIRA_MCP_AUTHZ_RATE_LIMIT`, `JIRA_MCP_REGISTER_RATE_LIMIT`,
    /// `JIRA_MCP_TRUSTED_PROXIES`, `JIRA_MCP_UNUSED_CLIENT_TTL_SECS`.
    pub abuse: AbuseLimits,
    /// `JIRA_MCP_RATE_LIMIT`: calls per minute per MCP client.
    pub rate_limit: u32,
    /// `JIRA_MCP_ALLOWED_HOSTS`: accepted `Host` headers; never empty,
    /// `[*]` when the check is off.
    pub allowed_hosts: Vec<String>,
    /// `JIRA_MCP_ALLOWED_ORIGINS`: accepted `Origin` headers (when present);
    /// never empty, `[*]` when the check is off.
    pub allowed_origins: Vec<String>,
    /// `JIRA_MCP_USER_CACHE_SIZE`: how many users' Jira connections stay live.
    pub user_cache_size: usize,
    /// `JIRA_MCP_HEADER_TIMEOUT_SECS`, `JIRA_MCP_BODY_TIMEOUT_SECS` and
    /// `JIRA_MCP_MAX_CONNECTIONS`.
    pub connections: ConnectionLimits,
}

impl TeamSettings {
    /// The public URL as text, without a trailing slash.
    pub fn public(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_string()
    }

    /// This server as a protected resource: `{public}/mcp`, the audience of
    /// its access tokens.
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.public())
    }

    /// Where Atlassian sends users back: `{public}/oauth/atlassian/callback`.
    pub fn atlassian_callback(&self) -> String {
        format!("{}{ATLASSIAN_CALLBACK_PATH}", self.public())
    }
}

impl std::fmt::Debug for TeamSettings {
    // Keys and the database URL (which may carry a password) stay out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamSettings")
            .field("addr", &self.addr)
            .field("public_url", &self.public_url.as_str())
            .field("encryption_key", &"[redacted]")
            .field("previous_keys", &self.previous_keys.len())
            .field("database_url", &"[redacted]")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("refresh_max_lifetime", &self.refresh_max_lifetime)
            .field("abuse", &self.abuse)
            .field("rate_limit", &self.rate_limit)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .field("user_cache_size", &self.user_cache_size)
            .field("connections", &self.connections)
            .finish()
    }
}

/// The team settings when `JIRA_MCP_HTTP_ADDR` is set, else `None`. In team
/// mode the Atlassian redirect URI becomes `{public}/oauth/atlassian/callback`.
pub(super) fn settings(
    s: &Settings,
    auth: Option<&mut Auth>,
    controls: &Controls,
) -> Result<Option<TeamSettings>, ConfigError> {
    let Some((text, source)) = s.get("JIRA_MCP_HTTP_ADDR") else {
        return Ok(None);
    };
    if !cfg!(feature = "team") {
        return Err(error(
            "JIRA_MCP_HTTP_ADDR",
            Some(source),
            "this jira-mcp was built without the team server (cargo feature `team`, on by \
             default): unset it to serve over stdio, or install a build with the feature",
        ));
    }
    let addr: SocketAddr = text.trim().parse().map_err(|_| {
        error(
            "JIRA_MCP_HTTP_ADDR",
            Some(source),
            format!(
                "`{text}` is not an address to listen on; use IP:PORT, e.g. 127.0.0.1:8080 \
                 (or 0.0.0.0:8080 behind a reverse proxy)"
            ),
        )
    })?;
    let public_url = public_url(s, addr)?;
    let team = TeamSettings {
        addr,
        encryption_key: encryption_key(s)?,
        previous_keys: previous_keys(s)?,
        database_url: database_url(s)?,
        access_ttl: seconds(s, "JIRA_MCP_ACCESS_TOKEN_TTL_SECS", DEFAULT_ACCESS_TTL)?,
        refresh_ttl: seconds(s, "JIRA_MCP_REFRESH_TOKEN_TTL_SECS", DEFAULT_REFRESH_TTL)?,
        refresh_max_lifetime: seconds(
            s,
            "JIRA_MCP_REFRESH_TOKEN_MAX_LIFETIME",
            DEFAULT_REFRESH_MAX_LIFETIME,
        )?,
        abuse: abuse_limits(s)?,
        rate_limit: count_as(s, "JIRA_MCP_RATE_LIMIT", u64::from(DEFAULT_RATE_LIMIT))?,
        allowed_hosts: allow_list(s, "JIRA_MCP_ALLOWED_HOSTS", || default_hosts(&public_url))?,
        allowed_origins: allow_list(s, "JIRA_MCP_ALLOWED_ORIGINS", || vec![origin(&public_url)])?,
        user_cache_size: count_as(s, "JIRA_MCP_USER_CACHE_SIZE", DEFAULT_USER_CACHE_SIZE)?,
        connections: ConnectionLimits {
            header_timeout: seconds(s, "JIRA_MCP_HEADER_TIMEOUT_SECS", DEFAULT_HEADER_TIMEOUT)?,
            body_timeout: seconds(s, "JIRA_MCP_BODY_TIMEOUT_SECS", DEFAULT_BODY_TIMEOUT)?,
            max_connections: count_as(s, "JIRA_MCP_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS)?,
        },
        public_url,
    };
    if controls.permission_aware {
        return Err(error(
            "JIRA_MCP_PERMISSION_AWARE",
            s.get("JIRA_MCP_PERMISSION_AWARE").map(|(_, src)| src),
            "is not supported by the team server (JIRA_MCP_HTTP_ADDR): its tool list is shared \
             by every user. Unset it; each user's Jira permissions still apply to every call",
        ));
    }
    use_public_callback(s, auth, &team)?;
    Ok(Some(team))
}

/// `JIRA_MCP_PUBLIC_URL`; may be left out only for a loopback address.
fn public_url(s: &Settings, addr: SocketAddr) -> Result<Url, ConfigError> {
    let url = s.url("JIRA_MCP_PUBLIC_URL", "https://jira-mcp.example.com")?;
    let url = match url {
        Some(url) => url,
        None if addr.ip().is_loopback() => Url::parse(&format!("http://{addr}"))
            .map_err(|e| error("JIRA_MCP_HTTP_ADDR", None, e.to_string()))?,
        None => {
            return Err(error(
                "JIRA_MCP_PUBLIC_URL",
                None,
                format!(
                    "required when listening on {addr}, which is not a loopback address: set it \
                     to the https:// URL clients reach this server at (the reverse proxy's), \
                     e.g. https://jira-mcp.example.com"
                ),
            ));
        }
    };
    let source = s.get("JIRA_MCP_PUBLIC_URL").map(|(_, src)| src);
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err(error(
            "JIRA_MCP_PUBLIC_URL",
            source,
            "must be a base URL without path, query or fragment, e.g. https://jira-mcp.example.com",
        ));
    }
    let loopback = url
        .host_str()
        .is_some_and(|h| matches!(h, "localhost" | "127.0.0.1" | "[::1]"));
    if url.scheme() != "https" && !loopback {
        return Err(error(
            "JIRA_MCP_PUBLIC_URL",
            source,
            "must start with https:// (terminate TLS at a reverse proxy); http:// is accepted \
             only for localhost",
        ));
    }
    Ok(url)
}

/// The current encryption key: required, base64 of 32 bytes.
fn encryption_key(s: &Settings) -> Result<SecretString, ConfigError> {
    let Some((text, source)) = s.get("JIRA_MCP_ENCRYPTION_KEY") else {
        return Err(error(
            "JIRA_MCP_ENCRYPTION_KEY",
            None,
            format!(
                "required by the team server: it encrypts every user's Atlassian grant at \
                 rest. Set it to 32 random bytes in base64; {MAKE_A_KEY}"
            ),
        ));
    };
    check_key("JIRA_MCP_ENCRYPTION_KEY", text, source)?;
    Ok(SecretString::from(text.trim().to_string()))
}

fn previous_keys(s: &Settings) -> Result<Vec<SecretString>, ConfigError> {
    let Some((keys, source)) = s.list("JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS") else {
        return Ok(Vec::new());
    };
    keys.iter()
        .map(|k| {
            check_key("JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS", k, source)
                .map(|()| SecretString::from(k.clone()))
        })
        .collect()
}

/// A key is standard base64 of exactly 32 bytes. The message never echoes it.
fn check_key(name: &str, text: &str, source: &super::Source) -> Result<(), ConfigError> {
    match STANDARD.decode(text.trim()) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        Ok(bytes) => Err(error(
            name,
            Some(source),
            format!(
                "is {} bytes long; a key is 32 random bytes in base64: {MAKE_A_KEY}",
                bytes.len()
            ),
        )),
        Err(_) => Err(error(
            name,
            Some(source),
            format!("is not standard base64 (the value is not shown); {MAKE_A_KEY}"),
        )),
    }
}

/// `JIRA_MCP_DATABASE_URL`, default `sqlite://<data dir>/team.db`, with
/// `JIRA_MCP_DATABASE_PASSWORD` put in when given.
pub(super) fn database_url(s: &Settings) -> Result<SecretString, ConfigError> {
    if let Some((url, source)) = s.get("JIRA_MCP_DATABASE_URL") {
        let url = url.trim();
        check_userinfo(url, source)?;
        return match s.get("JIRA_MCP_DATABASE_PASSWORD") {
            Some((password, _)) => with_password(url, password, source).map(SecretString::from),
            None => Ok(SecretString::from(url.to_string())),
        };
    }
    if s.get("JIRA_MCP_DATABASE_PASSWORD").is_some() {
        return Err(error(
            "JIRA_MCP_DATABASE_PASSWORD",
            None,
            "is set but JIRA_MCP_DATABASE_URL is not: the password is for a Postgres URL \
             such as postgres://jira_mcp@postgres:5432/jira_mcp",
        ));
    }
    let dir = directories::ProjectDirs::from("", "", "jira-mcp")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| {
            error(
                "JIRA_MCP_DATABASE_URL",
                None,
                "no data directory is known for this user: set it, e.g. sqlite:///var/lib/jira-mcp/team.db",
            )
        })?;
    Ok(SecretString::from(format!(
        "sqlite://{}",
        dir.join("team.db").display()
    )))
}

/// [`count`] as the type the setting is held in. Every count fits (it is at
/// most 10⁹); a type that cannot hold one is refused, never truncated.
fn count_as<T: TryFrom<u64>>(s: &Settings, name: &str, default: u64) -> Result<T, ConfigError> {
    let n = count(s, name, default)?;
    T::try_from(n).map_err(|_| {
        error(
            name,
            s.get(name).map(|(_, source)| source),
            format!("{n} is too large on this machine"),
        )
    })
}

fn seconds(s: &Settings, name: &str, default: u64) -> Result<Duration, ConfigError> {
    count(s, name, default).map(Duration::from_secs)
}

/// A whole number from 1 to a billion, or `default` when unset.
fn count(s: &Settings, name: &str, default: u64) -> Result<u64, ConfigError> {
    let Some((text, source)) = s.get(name) else {
        return Ok(default);
    };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=1_000_000_000).contains(n))
        .ok_or_else(|| {
            error(
                name,
                Some(source),
                format!("`{text}` is not a whole number from 1 up; use e.g. {default}"),
            )
        })
}

/// An allow-list of Host or Origin values. Unset: `default()`. An empty list
/// would have meant "allow any" (DNS rebinding wide open) by accident, so it
/// is refused; turning the check off takes an explicit `*`, alone.
fn allow_list(
    s: &Settings,
    name: &str,
    default: impl FnOnce() -> Vec<String>,
) -> Result<Vec<String>, ConfigError> {
    let Some((list, source)) = s.list(name) else {
        return Ok(default());
    };
    if list.is_empty() {
        return Err(error(
            name,
            Some(source),
            "is empty, which would let any Host or Origin through (DNS rebinding): list the \
             accepted values (e.g. jira-mcp.example.com), unset it for the public URL's, or set \
             it to `*` to turn the check off on purpose",
        ));
    }
    if list.len() > 1 && list.iter().any(|entry| entry == ALLOW_ANY) {
        return Err(error(
            name,
            Some(source),
            "mixes `*` with other entries: `*` turns the check off, so give it alone or \
             list the accepted values without it",
        ));
    }
    Ok(list)
}

/// The per-address limits on the authorization endpoints.
fn abuse_limits(s: &Settings) -> Result<AbuseLimits, ConfigError> {
    Ok(AbuseLimits {
        per_minute: count_as(
            s,
            "JIRA_MCP_AUTHZ_RATE_LIMIT",
            u64::from(DEFAULT_PER_MINUTE),
        )?,
        registrations_per_hour: count_as(
            s,
            "JIRA_MCP_REGISTER_RATE_LIMIT",
            u64::from(DEFAULT_REGISTRATIONS_PER_HOUR),
        )?,
        trusted_proxies: trusted_proxies(s)?,
        unused_client_ttl: seconds(
            s,
            "JIRA_MCP_UNUSED_CLIENT_TTL_SECS",
            DEFAULT_UNUSED_CLIENT_TTL.as_secs(),
        )?,
    })
}

/// `JIRA_MCP_TRUSTED_PROXIES`: addresses (`10.0.0.5`) or ranges
/// (`10.0.0.0/8`) of the reverse proxies in front of the server.
fn trusted_proxies(s: &Settings) -> Result<Vec<IpNet>, ConfigError> {
    let Some((entries, source)) = s.list("JIRA_MCP_TRUSTED_PROXIES") else {
        return Ok(Vec::new());
    };
    entries
        .iter()
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    error(
                        "JIRA_MCP_TRUSTED_PROXIES",
                        Some(source),
                        format!(
                            "`{entry}` is not an IP address or CIDR range; list your reverse \
                             proxies' addresses, e.g. 10.0.0.5,192.168.1.0/24"
                        ),
                    )
                })
        })
        .collect()
}

/// The public URL's host (with its port when it has one).
fn default_hosts(public: &Url) -> Vec<String> {
    let host = public.host_str().unwrap_or_default().to_string();
    match public.port() {
        Some(port) => vec![format!("{host}:{port}")],
        None => vec![host],
    }
}

/// The public URL's origin, e.g. `https://jira-mcp.example.com:443`.
fn origin(public: &Url) -> String {
    public.origin().ascii_serialization()
}

/// Team mode signs users in with the authorization-code grant, and Atlassian
/// redirects to this server's public callback.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the `Auth` behind the Option<&mut> is written to"
)]
fn use_public_callback(
    s: &Settings,
    auth: Option<&mut Auth>,
    team: &TeamSettings,
) -> Result<(), ConfigError> {
    let callback = team.atlassian_callback();
    let Some(Auth::OAuth(oauth)) = auth else {
        return Err(error(
            "JIRA_AUTH_TYPE",
            s.get("JIRA_AUTH_TYPE").map(|(_, src)| src),
            "the team server (JIRA_MCP_HTTP_ADDR) signs each user in to Jira with OAuth 2.0: set \
             JIRA_AUTH_TYPE=oauth with JIRA_OAUTH_CLIENT_ID and JIRA_OAUTH_CLIENT_SECRET of an \
             Atlassian OAuth 2.0 (3LO) app",
        ));
    };
    if oauth.grant != Grant::AuthorizationCode {
        return Err(error(
            "JIRA_OAUTH_GRANT",
            s.get("JIRA_OAUTH_GRANT").map(|(_, src)| src),
            "must be authorization_code for the team server: every user signs in as themselves, \
             never as a shared service account",
        ));
    }
    if oauth
        .client_secret
        .as_ref()
        .is_none_or(|c| c.expose_secret().is_empty())
    {
        return Err(error(
            "JIRA_OAUTH_CLIENT_SECRET",
            None,
            "required by the team server: set it to the secret of your Atlassian OAuth app",
        ));
    }
    if let Some((given, source)) = s.get("JIRA_OAUTH_REDIRECT_URI")
        && given.trim().trim_end_matches('/') != callback
    {
        return Err(error(
            "JIRA_OAUTH_REDIRECT_URI",
            Some(source),
            format!(
                "is `{given}`, but the team server receives Atlassian's redirect at {callback}: \
                 unset it, or set it to exactly that (and register that callback URL in the \
                 Atlassian app)"
            ),
        ));
    }
    oauth.redirect_uri =
        Url::parse(&callback).map_err(|e| error("JIRA_MCP_PUBLIC_URL", None, e.to_string()))?;
    Ok(())
}

/// Settings that may be read from a file instead (`NAME_FILE=/run/secrets/…`),
/// so that compose `secrets:` and Kubernetes secrets need no environment
/// variable holding the secret.
const SECRET_FILES: [&str; 4] = [
    "JIRA_MCP_ENCRYPTION_KEY",
    "JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS",
    "JIRA_OAUTH_CLIENT_SECRET",
    "JIRA_MCP_DATABASE_PASSWORD",
];

/// Reads each `NAME_FILE` of [`SECRET_FILES`] into `NAME`. Giving both is
/// an error (which one wins would be a guess); so is a file that cannot be
/// read or is empty. One trailing newline is dropped (`echo` adds it).
pub(super) fn secret_files(
    settings: &mut std::collections::BTreeMap<&'static str, super::Setting>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for name in SECRET_FILES {
        let variable = format!("{name}_FILE");
        let Some(path) = env(&variable).filter(|p| !p.trim().is_empty()) else {
            continue;
        };
        let source = super::Source::SecretFile(variable.clone());
        if let Some((_, given)) = settings.get(name) {
            return Err(error(
                name,
                Some(given),
                format!("is set, and so is {variable}: keep only one of them"),
            ));
        }
        let text = std::fs::read_to_string(path.trim()).map_err(|e| {
            error(
                &variable,
                Some(&super::Source::Env),
                format!(
                    "cannot read {}: {e}. Give the path of a file that the user running \
                     jira-mcp can read (e.g. a compose or Kubernetes secret)",
                    path.trim()
                ),
            )
        })?;
        let text = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        if text.is_empty() {
            return Err(error(
                name,
                Some(&source),
                format!("the file {} is empty", path.trim()),
            ));
        }
        settings.insert(name, (text.to_string(), source));
    }
    Ok(())
}

/// Characters that end a URL's user info: a password holding one of them
/// unencoded cuts the URL short, and the rest is read as host, port or path.
const USERINFO_ENDS: [char; 3] = ['/', '?', '#'];

/// A database URL whose user name or password holds `/`, `?` or `#` (as
/// base64 passwords do) is refused with the fix, instead of being read as
/// another host or an invalid port. The message never shows the URL.
fn check_userinfo(url: &str, source: &super::Source) -> Result<(), ConfigError> {
    let Some((_, rest)) = url.split_once("://") else {
        return Ok(());
    };
    let Some(at) = rest.rfind('@') else {
        return Ok(());
    };
    let userinfo = &rest[..at];
    let bad_escape = userinfo.match_indices('%').any(|(i, _)| {
        let hex = userinfo.get(i + 1..i + 3).unwrap_or("");
        hex.len() != 2 || !hex.chars().all(|c| c.is_ascii_hexdigit())
    });
    if userinfo.contains(USERINFO_ENDS) || bad_escape {
        return Err(error(
            "JIRA_MCP_DATABASE_URL",
            Some(source),
            "its user name or password holds a character that must be percent-encoded in a \
             URL (`/` as %2F, `?` as %3F, `#` as %23, `%` as %25, `@` as %40; the URL is not \
             shown). Encode it, or leave the password out of the URL and give it in \
             JIRA_MCP_DATABASE_PASSWORD (or JIRA_MCP_DATABASE_PASSWORD_FILE), taken as is",
        ));
    }
    Ok(())
}

/// The Postgres URL with `password` in it, percent-encoded.
fn with_password(url: &str, password: &str, source: &super::Source) -> Result<String, ConfigError> {
    let fail = |message: &str| error("JIRA_MCP_DATABASE_URL", Some(source), message.to_string());
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(fail(
            "must be a postgres:// URL when JIRA_MCP_DATABASE_PASSWORD is set (SQLite takes no \
             password)",
        ));
    }
    let mut parsed = Url::parse(url).map_err(|e| {
        fail(&format!(
            "is not a URL ({e}); use e.g. postgres://jira_mcp@postgres:5432/jira_mcp"
        ))
    })?;
    if parsed.password().is_some() {
        return Err(fail(
            "holds a password, and JIRA_MCP_DATABASE_PASSWORD is set too: keep only one of them",
        ));
    }
    if parsed.username().is_empty() {
        return Err(fail(
            "names no user; with JIRA_MCP_DATABASE_PASSWORD give the user in the URL, e.g. \
             postgres://jira_mcp@postgres:5432/jira_mcp",
        ));
    }
    parsed
        .set_password(Some(password))
        .map_err(|()| fail("cannot hold a password (no host)"))?;
    Ok(parsed.into())
}

/// The settings of the abuse limits.
#[derive(Clone, Debug)]
pub struct AbuseLimits {
    /// `JIRA_MCP_AUTHZ_RATE_LIMIT`: requests per minute per address to
    /// `/authorize`, the consent form, the Atlassian callback, `/token` and
    /// `/revoke` (together).
    pub per_minute: u32,
    /// `JIRA_MCP_REGISTER_RATE_LIMIT`: registrations per hour per address.
    pub registrations_per_hour: u32,
    /// `JIRA_MCP_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `JIRA_MCP_UNUSED_CLIENT_TTL_SECS`: a registered client that has not
    /// redeemed a code after this long is deleted.
    pub unused_client_ttl: Duration,
}

impl Default for AbuseLimits {
    fn default() -> AbuseLimits {
        AbuseLimits {
            per_minute: DEFAULT_PER_MINUTE,
            registrations_per_hour: DEFAULT_REGISTRATIONS_PER_HOUR,
            trusted_proxies: Vec::new(),
            unused_client_ttl: DEFAULT_UNUSED_CLIENT_TTL,
        }
    }
}

/// The limits on each connection and on how many are open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client has to send a request's headers, counted from the
    /// end of the previous response on a keep-alive connection.
    pub header_timeout: Duration,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
}
