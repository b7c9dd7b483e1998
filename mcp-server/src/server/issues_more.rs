//! Tools of this group: argument types and the mapping onto [`JiraClient`]
//! methods (the Jira logic lives in `jira/`).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use super::{IssueKey, JiraMcp};
use crate::bounds::DEFAULT_TEXT_CHARS;
use crate::jira::{NewIssue, Page};
use crate::tool_error::ToolError;

/// Arguments of `delete_issue`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DeleteIssue {
    /// The issue key, e.g. `ED-1`.
    pub issue_key: String,
    /// True to delete the issue's subtasks with it. Jira refuses to delete an issue that has subtasks unless this is true.
    #[serde(default)]
    pub delete_subtasks: bool,
}

/// Arguments of `assign_issue`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AssignIssue {
    /// The issue key.
    pub issue_key: String,
    /// Who to assign: an account id (Cloud) or a username (Data Center), from `lookup_account_id`; `me` for the current user; `none` or null to unassign.
    #[serde(default)]
    pub assignee: Option<String>,
}

/// Arguments of a paged list of one issue's items.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct IssuePage {
    /// The issue key.
    pub issue_key: String,
    /// The index of the first entry to return (0-based, default 0); use `next_start_at` of the previous page.
    #[serde(default)]
    pub start_at: Option<u32>,
    /// Entries per page (1 to 100, default 50).
    #[serde(default)]
    pub max_results: Option<u32>,
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

/// Arguments naming an issue and a watcher.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Watcher {
    /// The issue key.
    pub issue_key: String,
    /// The user: an account id (Cloud) or a username (Data Center), from `lookup_account_id`; `me` for the current user.
    pub user: String,
}

/// Arguments of `set_issue_parent`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SetIssueParent {
    /// The issue to move under the parent, e.g. `ED-12`.
    pub issue_key: String,
    /// The new parent: an epic, or (Cloud) a standard issue for a sub-task, e.g. `ED-1`.
    pub parent_key: String,
}

/// Arguments of `batch_create_issues`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BatchCreateIssues {
    /// The issues to create (1 to 50), each with `project_key`, `issue_type`, `summary`, optional Markdown `description` and other `fields`.
    pub issues: Vec<NewIssue>,
}

fn page(start_at: Option<u32>, max_results: Option<u32>, default: u32) -> Page {
    Page {
        start_at: start_at.unwrap_or(0),
        max_results: max_results.unwrap_or(default),
    }
}

/// True for newest first; an unknown order is refused by the caller.
fn newest_first(order_by: Option<&str>) -> Result<bool, ToolError> {
    match order_by.map(str::trim) {
        None | Some("newest") | Some("-created") => Ok(true),
        Some("oldest") | Some("created") => Ok(false),
        Some(other) => Err(ToolError::new(format!(
            "`order_by` must be `newest` or `oldest`, not `{}`",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

#[tool_router(router = issues_more_router, vis = "pub(super)")]
impl JiraMcp {
    /// Deletes an issue permanently. An issue with subtasks is deleted only with `delete_subtasks: true`, which deletes them too. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Delete issue",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn delete_issue(
        &self,
        Parameters(a): Parameters<DeleteIssue>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.delete_issue(&a.issue_key, a.delete_subtasks).await })
            .await
    }

    /// Assigns an issue to a user (`me`, an account id on Cloud, a username on Data Center) or unassigns it (`none`), replacing the current assignee.
    #[tool(annotations(
        title = "Assign issue",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn assign_issue(
        &self,
        Parameters(a): Parameters<AssignIssue>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.assign_issue(&a.issue_key, a.assignee.as_deref()).await })
            .await
    }

    /// Lists an issue's change history, oldest first, one page at a time: who changed which field from what to what, and when. Cloud pages on Jira's changelog endpoint; Data Center reads the whole history with the issue and pages it here.
    #[tool(annotations(
        title = "Get issue changelog",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_issue_changelog(
        &self,
        Parameters(a): Parameters<IssuePage>,
    ) -> Result<CallToolResult, McpError> {
        let page = page(a.start_at, a.max_results, 50);
        self.with_jira(|j| async move { j.get_issue_changelog(&a.issue_key, page).await })
            .await
    }

    /// Creates up to 50 issues in one request and returns a result for each, by its index in `issues`: the new key, or why that one failed (the others are still created). Same on Cloud and Data Center (descriptions become ADF on Cloud, wiki markup on Data Center).
    #[tool(annotations(
        title = "Create issues in bulk",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn batch_create_issues(
        &self,
        Parameters(a): Parameters<BatchCreateIssues>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.batch_create_issues(&a.issues).await })
            .await
    }

    /// Sets an issue's parent, replacing its current one. Cloud: the `parent` field (an epic, or the parent of a sub-task). Data Center: the Epic Link field, so the parent must be an epic; a sub-task's parent cannot be changed through Data Center's REST API.
    #[tool(annotations(
        title = "Set issue parent",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn set_issue_parent(
        &self,
        Parameters(a): Parameters<SetIssueParent>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.set_issue_parent(&a.issue_key, &a.parent_key).await })
            .await
    }

    /// Lists who watches an issue, with the watch count. Cloud names users by account id, Data Center by username.
    #[tool(annotations(title = "Get watchers", read_only_hint = true, open_world_hint = true))]
    async fn get_watchers(
        &self,
        Parameters(a): Parameters<IssueKey>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_watchers(&a.issue_key).await })
            .await
    }

    /// Adds a watcher to an issue: `me`, an account id (Cloud) or a username (Data Center).
    #[tool(annotations(
        title = "Add watcher",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn add_watcher(
        &self,
        Parameters(a): Parameters<Watcher>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.add_watcher(&a.issue_key, &a.user).await })
            .await
    }

    /// Removes a watcher from an issue: `me`, an account id (Cloud) or a username (Data Center).
    #[tool(annotations(
        title = "Remove watcher",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn remove_watcher(
        &self,
        Parameters(a): Parameters<Watcher>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.remove_watcher(&a.issue_key, &a.user).await })
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
