//! The team server's side of the tool layer's session seam
//! ([`crate::session`]): the caller the bearer check attached to an MCP
//! request, their Jira connection, the scope gate and the audit line.

use std::sync::Arc;
use std::time::Duration;

use super::audit;
use super::clients::UserClients;
use crate::auth::AuthStatus;
use crate::jira::JiraClient;
use crate::session::{FinishedCall, TeamSession, TeamSessions};
use crate::team::authz::tokens::Caller;
use crate::tool_error::ToolError;

/// The sessions of the team server's callers, over their connections.
pub struct CallerSessions {
    clients: Arc<UserClients>,
}

impl CallerSessions {
    /// Sessions whose Jira connections come from `clients`.
    pub fn new(clients: Arc<UserClients>) -> CallerSessions {
        CallerSessions { clients }
    }
}

#[async_trait::async_trait]
impl TeamSessions for CallerSessions {
    fn session(&self, request: &http::request::Parts) -> Option<Arc<dyn TeamSession>> {
        let caller = request.extensions.get::<Caller>()?.clone();
        Some(Arc::new(CallerSession {
            caller,
            clients: self.clients.clone(),
        }))
    }

    async fn settle(&self, limit: Duration) {
        self.clients.settle(limit).await;
    }
}

/// One caller, as the bearer check in front of `/mcp` found them.
struct CallerSession {
    caller: Caller,
    clients: Arc<UserClients>,
}

#[async_trait::async_trait]
impl TeamSession for CallerSession {
    fn refusal(&self, tool: &str) -> Option<String> {
        self.caller.refusal(tool)
    }

    async fn jira(&self) -> Result<Arc<JiraClient>, ToolError> {
        self.clients.client(&self.caller.user).await
    }

    fn describe(&self, status: &mut AuthStatus) {
        status.user_id = Some(self.caller.user.0.clone());
        status.client_id = Some(self.caller.client_id.clone());
        status.scopes = self.caller.scopes.clone();
    }

    fn finished(&self, call: &FinishedCall<'_>) {
        let account = self.clients.account(&self.caller.user);
        audit::record(
            &self.caller,
            account.as_deref(),
            call.tool,
            call.issue_key,
            call.outcome,
            call.took,
        );
    }
}
