//! The `auth` toolset (`catalog::Toolset::Auth`): how this server signs in to
//! Jira: its status, the OAuth login flow, a forced refresh (stdio only; the
//! team server signs users in through their MCP client).
//!
//! One place per tool: its arguments and its `#[tool_router]` method.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use super::NoArgs;
use crate::server::{JiraMcp, result};
use crate::tool_error::ToolError;

/// Arguments of `complete_oauth_flow`: the redirect URL, or its code and state.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CompleteOAuthFlow {
    /// The full URL the browser was redirected to after approving.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// Or the `code` parameter of that URL (with `state`).
    #[serde(default)]
    pub code: Option<String>,
    /// The `state` parameter of that URL (required with `code`).
    #[serde(default)]
    pub state: Option<String>,
}

#[tool_router(router = auth_router, vis = "pub(crate)")]
impl JiraMcp {
    /// Shows how this server authenticates to Jira, whether it is logged in, the site, scopes and token expiry.
    #[tool(annotations(title = "Auth status", read_only_hint = true, open_world_hint = false))]
    async fn auth_status(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(result(Ok(self.state.status().await)))
    }

    /// Starts an OAuth 2.0 login: returns the authorization URL for the user to open, and captures the redirect in the background so that approving in the browser completes the login. Replaces a pending login; never switches a working login to another account or site (use `jira-mcp auth login` for that).
    #[tool(annotations(
        title = "Start OAuth login",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn init_oauth_flow(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(result(self.state.init_flow().await))
    }

    /// Completes the OAuth login with the URL the browser was redirected to (or its code and state), for when the redirect could not reach this server. Replaces the stored tokens of the same account.
    #[tool(annotations(
        title = "Complete OAuth login",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn complete_oauth_flow(
        &self,
        Parameters(args): Parameters<CompleteOAuthFlow>,
    ) -> Result<CallToolResult, McpError> {
        let pasted = match (args.redirect_url, args.code, args.state) {
            (Some(url), _, _) => url,
            (None, Some(code), Some(state)) => format!("{code} {state}"),
            _ => {
                return Ok(result(Err(ToolError::new(
                    "give `redirect_url` (the whole URL the browser was redirected to), or both \
                     `code` and `state` from that URL",
                ))));
            }
        };
        Ok(result(self.state.complete_flow(pasted).await))
    }

    /// Refreshes the OAuth access token now (tokens are otherwise refreshed automatically).
    #[tool(annotations(
        title = "Refresh OAuth token",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn refresh_oauth_token(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(result(self.state.refresh().await))
    }
}
