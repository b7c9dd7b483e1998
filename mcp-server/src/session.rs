//! The seam between the tool layer and the team server. The tool layer says
//! here what it needs from a team-server caller's session; the team server
//! (`team::http::session`) implements it. So the tool layer imports nothing from
//! the team server, and the caller's identity stays inside one object from
//! the HTTP request to the audit line.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::auth::AuthStatus;
use crate::jira::JiraClient;
use crate::tool_error::ToolError;

/// Where the team server's sessions come from.
#[async_trait::async_trait]
pub trait TeamSessions: Send + Sync {
    /// The session of the MCP request with these HTTP parts, when the team
    /// server authenticated a caller for it (never over stdio).
    fn session(&self, request: &http::request::Parts) -> Option<Arc<dyn TeamSession>>;
    /// Waits (up to `limit`) for the token refreshes in flight to be saved.
    async fn settle(&self, limit: Duration);
}

/// One caller of the team server, for the calls of one MCP request.
#[async_trait::async_trait]
pub trait TeamSession: Send + Sync {
    /// Why this caller may not call `tool`, if they may not: the one answer
    /// that `tools/list`, `tools/call` and the HTTP guard share.
    fn refusal(&self, tool: &str) -> Option<String>;
    /// The caller's own Jira connection.
    async fn jira(&self) -> Result<Arc<JiraClient>, ToolError>;
    /// Fills in who the caller is, for `auth_status`.
    fn describe(&self, status: &mut AuthStatus);
    /// Called once per tool call, when it ended (the audit line).
    fn finished(&self, call: &FinishedCall<'_>);
}

/// A tool call that ended, as [`TeamSession::finished`] sees it.
#[derive(Debug)]
pub struct FinishedCall<'a> {
    /// The tool's name as the client sent it.
    pub tool: &'a str,
    /// The issue key of the arguments, when they name a well-formed one.
    pub issue_key: Option<&'a str>,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took.
    pub took: Duration,
}

/// How a tool call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The tool answered.
    Ok,
    /// The tool (or Jira) answered with an error.
    Error,
    /// The server refused the call (scope, controls, login tool).
    Refused,
}

impl Outcome {
    /// `ok`, `error` or `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
        }
    }
}

/// The issue key in a call's arguments, when there is a well-formed one
/// (anything else is client text, never logged as given).
pub fn issue_key(arguments: Option<&Map<String, Value>>) -> Option<String> {
    let key = arguments?.get("issue_key")?.as_str()?;
    crate::input::issue_key(key).ok().map(str::to_string)
}
