//! The `users` toolset (`catalog::Toolset::Users`): the signed-in user, other users, and the Cloud sites a login reaches. Each tool's
//! arguments, and its mapping onto the Jira requests of [`JiraClient`].

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use super::NoArgs;
use crate::server::JiraMcp;

/// Arguments of `lookup_account_id`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LookupAccount {
    /// A name or email address (or part of one).
    pub query: String,
}

/// Arguments of `search_users`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchUsers {
    /// Part of a name or e-mail address (Data Center also matches usernames). Optional when `project_key` or `issue_key` is given.
    #[serde(default)]
    pub query: Option<String>,
    /// Only users who can be assigned issues in this project.
    #[serde(default)]
    pub project_key: Option<String>,
    /// Only users who can be assigned this issue (not with `project_key`).
    #[serde(default)]
    pub issue_key: Option<String>,
    /// The most users to return (1 to 100, default 20).
    #[serde(default)]
    pub max_results: Option<u32>,
}

/// Arguments of `get_user`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetUser {
    /// The user's account id on Cloud (e.g. `5b10a2844c20165700ede21g`), or username on Data Center (e.g. `mia`).
    pub user: String,
}

#[tool_router(router = users_router, vis = "pub(crate)")]
impl JiraMcp {
    /// Finds users by name or email, returning account ids (Cloud) or usernames (Data Center) for assignee and mention fields.
    #[tool(annotations(
        title = "Look up account id",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn lookup_account_id(
        &self,
        Parameters(a): Parameters<LookupAccount>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.lookup_account_id(&a.query).await })
            .await
    }

    /// Lists the Jira Cloud sites this OAuth login can reach, with their cloud ids.
    #[tool(annotations(
        title = "Get accessible resources",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_accessible_resources(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_accessible_resources().await })
            .await
    }

    /// Shows the Jira user these credentials belong to.
    #[tool(annotations(
        title = "Get current user",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_current_user(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_current_user().await })
            .await
    }

    /// Finds users by name or e-mail, optionally only those assignable in a project or to an issue. Returns account ids on Cloud; usernames and keys on Data Center (where the query also matches usernames).
    #[tool(annotations(title = "Search users", read_only_hint = true, open_world_hint = true))]
    async fn search_users(
        &self,
        Parameters(a): Parameters<SearchUsers>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.search_users(
                a.query.as_deref(),
                a.project_key.as_deref(),
                a.issue_key.as_deref(),
                a.max_results.unwrap_or(20),
            )
            .await
        })
        .await
    }

    /// Gets one user: by account id on Cloud, by username on Data Center. E-mail shows only where the user's privacy settings allow.
    #[tool(annotations(title = "Get user", read_only_hint = true, open_world_hint = true))]
    async fn get_user(
        &self,
        Parameters(a): Parameters<GetUser>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_user(&a.user).await })
            .await
    }
}
