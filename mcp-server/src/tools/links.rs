//! The `links` toolset (`catalog::Toolset::Links`): issue links and remote (web) links. Each tool's
//! arguments, and its mapping onto the Jira requests of [`JiraClient`].

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use super::{IssueKey, NoArgs};
use crate::server::JiraMcp;

/// Arguments of `create_issue_link`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateIssueLink {
    /// The link type name, e.g. `Blocks` (see `get_issue_link_types`).
    pub link_type: String,
    /// The issue on the inward side (for `Blocks`: the one that is blocked).
    pub inward_issue: String,
    /// The issue on the outward side (for `Blocks`: the one that blocks).
    pub outward_issue: String,
    /// A comment to add to the inward issue (Markdown or plain text).
    #[serde(default)]
    pub comment: Option<String>,
}

/// Arguments of `remove_issue_link`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RemoveIssueLink {
    /// The numeric id of the issue link, e.g. `10001` (get_issue with `fields: ["issuelinks"]` shows each link's id).
    pub link_id: String,
}

/// Arguments of `create_remote_issue_link`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateRemoteIssueLink {
    /// The issue key, e.g. `ED-1`.
    pub issue_key: String,
    /// The web address to link, an absolute `http` or `https` URL.
    pub url: String,
    /// The link text shown on the issue.
    pub title: String,
    /// A short description shown with the link.
    #[serde(default)]
    pub summary: Option<String>,
    /// How the page relates to the issue, e.g. `mentioned in`, `pull request` (Jira groups links by it).
    #[serde(default)]
    pub relationship: Option<String>,
}

#[tool_router(router = links_router, vis = "pub(crate)")]
impl JiraMcp {
    /// Lists an issue's remote links (web pages, Confluence pages…).
    #[tool(annotations(
        title = "Get remote issue links",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_remote_issue_links(
        &self,
        Parameters(a): Parameters<IssueKey>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_remote_issue_links(&a.issue_key).await })
            .await
    }

    /// Lists the issue link types (Blocks, Relates, Duplicate…).
    #[tool(annotations(
        title = "Get issue link types",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_issue_link_types(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_issue_link_types().await })
            .await
    }

    /// Links two issues with a link type.
    #[tool(annotations(
        title = "Create issue link",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn create_issue_link(
        &self,
        Parameters(a): Parameters<CreateIssueLink>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.create_issue_link(
                &a.link_type,
                &a.inward_issue,
                &a.outward_issue,
                a.comment.as_deref(),
            )
            .await
        })
        .await
    }

    /// Deletes one issue link (the link only, not the issues) by its id, and says which issues it joined. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Remove issue link",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn remove_issue_link(
        &self,
        Parameters(a): Parameters<RemoveIssueLink>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.remove_issue_link(&a.link_id).await })
            .await
    }

    /// Adds a web link (http or https) to an issue, shown under its links. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Create remote issue link",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn create_remote_issue_link(
        &self,
        Parameters(a): Parameters<CreateRemoteIssueLink>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.create_remote_issue_link(
                &a.issue_key,
                &a.url,
                &a.title,
                a.summary.as_deref(),
                a.relationship.as_deref(),
            )
            .await
        })
        .await
    }
}
