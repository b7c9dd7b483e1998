//! The audit trail: one line per tool call at target `jira_mcp::audit`,
//! with the user (jira-mcp's id and, once known, the Atlassian account id), the MCP client, the tool, the issue key when the
//! arguments name one, the outcome and the duration. Never a token, never
//! argument text (a tool name or issue key that is not well formed is not
//! logged as given).

use std::time::Duration;

use crate::catalog;
use crate::session::Outcome;
use crate::team::authz::tokens::Caller;

/// The `tracing` target of audit lines.
pub const TARGET: &str = "jira_mcp::audit";

/// Writes the audit line of one tool call.
pub fn record(
    caller: &Caller,
    account: Option<&str>,
    tool: &str,
    issue_key: Option<&str>,
    outcome: Outcome,
    took: Duration,
) {
    // A name the catalog does not know is client text: not logged as given.
    let tool = catalog::find(tool).map_or("(unknown tool)", |t| t.name);
    tracing::info!(
        target: TARGET,
        user = %caller.user,
        account = account.unwrap_or("-"),
        client = %caller.client_id,
        tool,
        issue_key = issue_key.unwrap_or("-"),
        outcome = outcome.as_str(),
        duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        "tool call"
    );
}
