//! The `comments` toolset (`catalog::Toolset::Comments`): comments and worklogs. Each tool's
//! arguments, and its mapping onto the Jira requests of [`JiraClient`].

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use super::{newest_first, page};
use crate::bounds::DEFAULT_TEXT_CHARS;
use crate::server::JiraMcp;

/// Arguments of `add_comment`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddComment {
    /// The issue key.
    pub issue_key: String,
    /// The comment, in Markdown or plain text.
    pub body: String,
}

/// Arguments of `add_worklog`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddWorklog {
    /// The issue key.
    pub issue_key: String,
    /// Time spent in Jira's format, e.g. `1h 30m`, `2d`.
    pub time_spent: String,
    /// What was done (Markdown or plain text).
    #[serde(default)]
    pub comment: Option<String>,
    /// When the work started, e.g. `2026-11-27T09:00:00.000+0000` (default: now).
    #[serde(default)]
    pub started: Option<String>,
}

/// Arguments of `get_comments`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetComments {
    /// The issue key.
    pub issue_key: String,
    /// The index of the first comment to return (0-based, default 0); use `next_start_at` of the previous page.
    #[serde(default)]
    pub start_at: Option<u32>,
    /// Comments per page (1 to 100, default 20).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// `newest` (default) for newest first, `oldest` for oldest first.
    #[serde(default)]
    pub order_by: Option<String>,
    /// The most characters of each comment body to return; default 8000, at most 1000000.
    #[serde(default)]
    pub max_text_length: Option<u32>,
}

/// Arguments of `edit_comment`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EditComment {
    /// The issue key.
    pub issue_key: String,
    /// The comment's id, from `get_comments`.
    pub comment_id: String,
    /// The new body, in Markdown or plain text; it replaces the whole comment.
    pub body: String,
}

/// Arguments of `get_worklogs`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetWorklogs {
    /// The issue key.
    pub issue_key: String,
    /// The index of the first worklog to return (0-based, default 0); use `next_start_at` of the previous page.
    #[serde(default)]
    pub start_at: Option<u32>,
    /// Worklogs per page (1 to 100, default 50).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// The most characters of each worklog comment to return; default 8000, at most 1000000.
    #[serde(default)]
    pub max_text_length: Option<u32>,
}

#[tool_router(router = comments_router, vis = "pub(crate)")]
impl JiraMcp {
    /// Adds a comment (Markdown or plain text) to an issue.
    #[tool(annotations(
        title = "Add comment",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn add_comment(
        &self,
        Parameters(a): Parameters<AddComment>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.add_comment(&a.issue_key, &a.body).await })
            .await
    }

    /// Logs work time on an issue.
    #[tool(annotations(
        title = "Add worklog",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn add_worklog(
        &self,
        Parameters(a): Parameters<AddWorklog>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.add_worklog(
                &a.issue_key,
                &a.time_spent,
                a.comment.as_deref(),
                a.started.as_deref(),
            )
            .await
        })
        .await
    }

    /// Lists an issue's comments one page at a time, newest first unless `order_by` is `oldest`, bodies as text. Same on Cloud (ADF bodies) and Data Center (wiki markup bodies).
    #[tool(annotations(title = "Get comments", read_only_hint = true, open_world_hint = true))]
    async fn get_comments(
        &self,
        Parameters(a): Parameters<GetComments>,
    ) -> Result<CallToolResult, McpError> {
        let page = page(a.start_at, a.max_results, 20);
        let max_text = a.max_text_length.unwrap_or(DEFAULT_TEXT_CHARS);
        self.with_jira(|j| async move {
            let newest = newest_first(a.order_by.as_deref())?;
            j.get_comments(&a.issue_key, page, newest, max_text).await
        })
        .await
    }

    /// Replaces the body of a comment (Markdown or plain text; sent as ADF on Cloud, wiki markup on Data Center). The old text is lost.
    #[tool(annotations(
        title = "Edit comment",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn edit_comment(
        &self,
        Parameters(a): Parameters<EditComment>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(
            |j| async move { j.edit_comment(&a.issue_key, &a.comment_id, &a.body).await },
        )
        .await
    }

    /// Lists an issue's worklogs one page at a time: author, start, time spent, comment as text. Cloud pages on Jira's side; Data Center returns every worklog and this server pages them.
    #[tool(annotations(title = "Get worklogs", read_only_hint = true, open_world_hint = true))]
    async fn get_worklogs(
        &self,
        Parameters(a): Parameters<GetWorklogs>,
    ) -> Result<CallToolResult, McpError> {
        let page = page(a.start_at, a.max_results, 50);
        let max_text = a.max_text_length.unwrap_or(DEFAULT_TEXT_CHARS);
        self.with_jira(|j| async move { j.get_worklogs(&a.issue_key, page, max_text).await })
            .await
    }
}
