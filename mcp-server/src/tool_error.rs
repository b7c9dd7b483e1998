//! The error every tool reports, and jira-mcp's advice on gouqi-oauth's
//! errors. gouqi-oauth states a cause and the fix in its own terms; here the
//! fix becomes a jira-mcp command or setting. Everything that turns a
//! gouqi-oauth error into text for a user goes through [`explain`].

use gouqi_oauth::{Error, NetworkFailure, StoreError};

/// A failure a tool reports to the assistant as `isError: true`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    /// What went wrong and what to do.
    pub message: String,
    /// True when only a new login can fix it (`kind` is then `Reauthorize`).
    pub reauthorize: bool,
    /// What kind of failure it is.
    pub kind: ToolErrorKind,
}

/// The kinds of [`ToolError`], for callers that act on them (exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolErrorKind {
    /// Jira or the token endpoint could not be reached.
    Network,
    /// Only a new login can restore access.
    Reauthorize,
    /// Anything else: Jira answered with an error, bad input, configuration.
    Other,
}

impl ToolError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> ToolError {
        ToolError::of_kind(ToolErrorKind::Other, message)
    }

    /// An error of `kind` with `message`.
    pub fn of_kind(kind: ToolErrorKind, message: impl Into<String>) -> ToolError {
        ToolError {
            message: message.into(),
            reauthorize: kind == ToolErrorKind::Reauthorize,
            kind,
        }
    }
}

impl From<gouqi_oauth::Error> for ToolError {
    fn from(e: gouqi_oauth::Error) -> ToolError {
        let kind = if e.is_unreachable() {
            ToolErrorKind::Network
        } else if e.needs_reauthorization() || matches!(e, gouqi_oauth::Error::FreshTokenRejected) {
            // A token minted moments ago was refused: no refresh can help.
            ToolErrorKind::Reauthorize
        } else {
            ToolErrorKind::Other
        };
        ToolError::of_kind(kind, explain(&e))
    }
}

/// `error`'s message, followed by what a jira-mcp user does about it.
pub fn explain(error: &Error) -> String {
    match advice(error) {
        Some(advice) => format!("{error} ({advice})"),
        None => error.to_string(),
    }
}

/// [`explain`] for a token store's error.
pub fn explain_store(error: &StoreError) -> String {
    match store_advice(error) {
        Some(advice) => format!("{error} ({advice})"),
        None => error.to_string(),
    }
}

const LOG_IN: &str = "log in with `jira-mcp auth login`, or the `init_oauth_flow` tool";

fn advice(error: &Error) -> Option<&'static str> {
    match error {
        Error::ReauthorizationRequired { .. } | Error::NotLoggedIn { .. } => Some(LOG_IN),
        Error::FreshTokenRejected => Some("to log in again: `jira-mcp auth login`"),
        Error::PortInUse { .. } => Some("the redirect URI is JIRA_OAUTH_REDIRECT_URI"),
        Error::SiteSelection(_) => Some("set the site with JIRA_OAUTH_CLOUD_ID or JIRA_URL"),
        Error::StoreHoldsUserLogin { .. } => Some("the token file is JIRA_OAUTH_TOKEN_FILE"),
        Error::Network { failure, .. } => match failure {
            NetworkFailure::Tls => Some(
                "trust a CA with JIRA_CA_BUNDLE=<PEM file>, or the OS certificate store with \
                 JIRA_TLS_NATIVE_ROOTS=true",
            ),
            NetworkFailure::Timeout => Some("allow longer with JIRA_TIMEOUT_SECS"),
            _ => None,
        },
        Error::Store(store) | Error::LoginNotSaved { source: store, .. } => store_advice(store),
        _ => None,
    }
}

fn store_advice(error: &StoreError) -> Option<&'static str> {
    match error {
        StoreError::NotAFile { .. } => Some("the token file is JIRA_OAUTH_TOKEN_FILE"),
        _ => None,
    }
}
