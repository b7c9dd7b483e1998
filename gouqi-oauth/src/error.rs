//! The one error type of this crate. Every message names the cause and the fix,
//! and none of them ever carries a token or the client secret. The fix is
//! stated in this library's terms; an application adds its own (a command to
//! run, a setting to change) where it reports the error.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while obtaining, storing or using a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The grant is gone: the user (or the app's admin) must authorize again.
    #[error(
        "re-authorization needed: the token endpoint answered `{code}`{description}. \
         The stored grant can no longer be used; run the authorization flow again"
    )]
    ReauthorizationRequired {
        /// The OAuth error code (`invalid_grant`, `unauthorized_client`, or `http_403`).
        code: String,
        /// The server's `error_description`, already formatted as `: …` or empty.
        description: String,
    },

    /// No tokens are stored yet, and the grant cannot mint one without the user.
    #[error("not logged in: {store} holds no OAuth tokens. Run the authorization flow first")]
    NotLoggedIn {
        /// Where the tokens were looked for.
        store: String,
    },

    /// The token endpoint rejected the request for a reason the user can fix in configuration.
    #[error("the token endpoint rejected the request with `{code}`{description}. {hint}")]
    TokenRequestRejected {
        /// The OAuth error code.
        code: String,
        /// The server's `error_description`, already formatted as `: …` or empty.
        description: String,
        /// What to change.
        hint: &'static str,
    },

    /// The token endpoint could not be reached or kept failing, even after retries.
    /// The stored refresh token is untouched; trying again later is safe.
    #[error(
        "the token endpoint is unavailable after {attempts} attempt(s): {cause}. \
         The stored tokens were left untouched; try again later{retry_hint}"
    )]
    TokenEndpointUnavailable {
        /// How many requests were sent.
        attempts: u32,
        /// The last failure.
        cause: String,
        /// `"(the server asked to wait N s)"` or empty.
        retry_hint: String,
        /// The server's Retry-After, when it sent one.
        retry_after: Option<Duration>,
    },

    /// The token endpoint answered something that is not a token response.
    #[error(
        "the token endpoint sent a malformed response ({detail}). The stored tokens were left \
         untouched; check that the token URL points at an OAuth 2.0 token endpoint"
    )]
    MalformedTokenResponse {
        /// What was wrong, without the body (which may hold a token).
        detail: String,
    },

    /// Jira rejected a token that was minted moments ago, so refreshing again would not help.
    #[error(
        "Jira answered 401 Unauthorized to a freshly minted access token. This is not an \
         expiry problem: check that the token's scopes cover the request and that the API \
         base URL belongs to the site the token was issued for; if access to the app was \
         revoked, run the authorization flow again"
    )]
    FreshTokenRejected,

    /// The stored tokens belong to another Jira site than the one configured.
    #[error(
        "the stored tokens belong to site {stored}, not to {configured}. Log in again for \
         {configured}, or point the client at {stored}"
    )]
    SiteMismatch {
        /// The stored site.
        stored: String,
        /// The configured site.
        configured: String,
    },

    /// The user (or the site's admin policy) declined the authorization.
    #[error(
        "authorization was not granted: `{error}`{description}. Run the login again and \
         choose Accept on the consent page"
    )]
    AuthorizationDenied {
        /// The `error` parameter of the redirect (e.g. `access_denied`).
        error: String,
        /// The `error_description`, already formatted as `: …` or empty.
        description: String,
    },

    /// No browser came back to the loopback redirect URI in time.
    #[error(
        "no authorization arrived at {redirect_uri} within {} s. Open the authorization URL \
         again, or paste the redirected URL (or the code and state) to complete by hand",
        waited.as_secs()
    )]
    CallbackTimedOut {
        /// The redirect URI listened on.
        redirect_uri: String,
        /// How long the listener waited.
        waited: Duration,
    },

    /// The redirect URI's port is taken by another program.
    #[error(
        "cannot listen on {redirect_uri}: port {port} is already in use. Stop the program \
         that holds it, or choose a free port in the redirect URI and register the same URI \
         as the app's callback URL"
    )]
    PortInUse {
        /// The redirect URI.
        redirect_uri: String,
        /// The port.
        port: u16,
    },

    /// Loopback capture was asked for a redirect URI that is not on this machine.
    #[error(
        "cannot capture the authorization on {redirect_uri}: only loopback redirect URIs \
         (http://localhost, http://127.0.0.1, http://[::1]) are captured. Complete the login \
         by hand: paste the URL the browser was redirected to"
    )]
    NotLoopback {
        /// The redirect URI.
        redirect_uri: String,
    },

    /// A pasted or received callback could not be used.
    #[error("{0}")]
    InvalidCallback(String),

    /// The Jira Cloud site could not be chosen from the accessible resources.
    #[error("{0}")]
    SiteSelection(String),

    /// A token store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The user approved access, but the tokens could not be saved.
    #[error(
        "access was approved, but the tokens could not be saved to {store}: {source}. \
         The approval cannot be reused: fix that, then log in again"
    )]
    LoginNotSaved {
        /// Where the tokens should have gone.
        store: String,
        /// Why saving failed.
        source: StoreError,
    },

    /// A server could not be reached, or the connection failed (refused, DNS,
    /// TLS certificate, timeout). Names the host only: never a path, query or token.
    #[error("cannot reach {host}: {failure} ({cause}). {}", failure.hint())]
    Network {
        /// `host[:port]` of the server.
        host: String,
        /// What kind of failure it was.
        failure: NetworkFailure,
        /// The underlying error messages, without URLs.
        cause: String,
    },

    /// A client using the client-credentials grant (a service account) found a
    /// user's login in its store: minting its tokens there would act as that user.
    #[error(
        "{store} holds a user's login (it has a refresh token), but this client uses the \
         client-credentials grant of a service account. Give the service account a token \
         store of its own"
    )]
    StoreHoldsUserLogin {
        /// The store's location.
        store: String,
    },

    /// The client was configured with a value that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The error of the underlying gouqi request.
    #[error(transparent)]
    Jira(#[from] gouqi::Error),
}

/// The kinds of [`Error::Network`], each with its own advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkFailure {
    /// Nothing accepts connections at that address and port.
    ConnectionRefused,
    /// The host name does not resolve.
    Dns,
    /// The TLS handshake failed, usually an untrusted certificate.
    Tls,
    /// No answer within the timeout.
    Timeout,
    /// Any other connection or transfer failure.
    Other,
}

impl NetworkFailure {
    /// What to check, in a sentence.
    pub fn hint(self) -> &'static str {
        match self {
            NetworkFailure::ConnectionRefused => {
                "Check the URL and port, and that the server is running; behind a proxy, set \
                 HTTPS_PROXY (and NO_PROXY for hosts to reach directly)"
            }
            NetworkFailure::Dns => {
                "Check the host name in the URL, your network and DNS; if the host is only \
                 reachable through a proxy, set HTTPS_PROXY"
            }
            NetworkFailure::Tls => {
                "The server's certificate was not accepted: if it comes from a private or \
                 company CA, trust that CA (a CA bundle in the HTTP settings, or the OS \
                 certificate store); check the URL's host name and the system clock"
            }
            NetworkFailure::Timeout => {
                "The server did not answer in time: check the network and proxy settings \
                 (HTTPS_PROXY, NO_PROXY), or allow a longer timeout"
            }
            NetworkFailure::Other => {
                "Check the URL, your network, and the proxy settings (HTTPS_PROXY, NO_PROXY)"
            }
        }
    }
}

impl std::fmt::Display for NetworkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NetworkFailure::ConnectionRefused => "connection refused",
            NetworkFailure::Dns => "DNS lookup failed (the host name does not resolve)",
            NetworkFailure::Tls => "TLS/certificate problem",
            NetworkFailure::Timeout => "timed out",
            NetworkFailure::Other => "the connection failed",
        })
    }
}

/// Why a token store failed. Each variant names the path, and none of them
/// overwrites or deletes anything.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file exists but cannot be read (permissions, I/O error).
    #[error(
        "cannot read the token file {path}: {source}. Check its permissions \
         (it should be owned by you with mode 0600)"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The file exists but does not hold a token set this version understands.
    #[error(
        "the token file {path} is corrupt ({detail}). It was left as it is; move it away or \
         delete it, then log in again"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, without its content.
        detail: String,
    },

    /// The file was written by a newer version of this crate.
    #[error(
        "the token file {path} has format version {found}, but this program reads version \
         {supported}. Upgrade the program, or log in again with a different token file"
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this crate writes.
        supported: u32,
    },

    /// A directory (or another non-file) stands where the token file should be.
    #[error(
        "{path} is a directory, not a token file. Remove it, or point the token store at \
         a file path"
    )]
    NotAFile {
        /// The path.
        path: PathBuf,
    },

    /// The token file belongs to another user, so it may not be ours to use.
    #[error(
        "the token file {path} is owned by user id {owner}, not by you (user id {you}). \
         It was not used: run as its owner, or log in again with a token file of your own"
    )]
    NotOwned {
        /// The file.
        path: PathBuf,
        /// The file's owner.
        owner: u32,
        /// The current (effective) user id.
        you: u32,
    },

    /// Another process held the store's lock for longer than the wait allows.
    #[error(
        "another process{} has held the token lock {path} for over {} s, so no token refresh \
         could start. If that process is stopped (Ctrl-Z) or hung, resume or end it{}; then try again",
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        waited.as_secs(),
        holder.map(|pid| format!(" (`kill {pid}`)")).unwrap_or_default()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
        /// The holder's process id, when it recorded one.
        holder: Option<u32>,
    },

    /// Writing, locking or removing failed.
    #[error("cannot {action} {path}: {source}. Check that the directory exists and is writable")]
    Write {
        /// What was attempted.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A backend other than the file failed (e.g. an OS keyring).
    #[error("token store {backend} failed: {message}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// True when only a new authorization by the user can fix this error.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(
            self,
            Error::ReauthorizationRequired { .. } | Error::NotLoggedIn { .. }
        )
    }

    /// True when the same call may succeed later without any change.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::TokenEndpointUnavailable { .. } => true,
            // A rejected certificate stays rejected until the configuration changes.
            Error::Network { failure, .. } => *failure != NetworkFailure::Tls,
            _ => false,
        }
    }

    /// True when a server could not be reached at all (or kept failing), as
    /// opposed to answering with an error.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Error::Network { .. } | Error::TokenEndpointUnavailable { .. }
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Formats an optional server description as `: text`, cut short so a hostile
/// server cannot flood logs.
pub(crate) fn describe(description: Option<&str>) -> String {
    match description {
        Some(text) if !text.trim().is_empty() => {
            // The messages that embed it add their own full stop.
            let text: String = text
                .trim()
                .trim_end_matches('.')
                .chars()
                .take(200)
                .collect();
            format!(": {text}")
        }
        _ => String::new(),
    }
}
