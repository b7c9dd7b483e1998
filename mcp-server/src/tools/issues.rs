//! The `issues` toolset (`catalog::Toolset::Issues`): reading, searching, creating, editing, moving and deleting issues; transitions, watchers, parents, changelogs, fields. Each tool's
//! arguments, and its mapping onto the Jira requests of [`JiraClient`].

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{IssueKey, page};
use crate::bounds::DEFAULT_TEXT_CHARS;
use crate::jira::NewIssue;
use crate::server::JiraMcp;

/// Arguments of `get_issue`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetIssue {
    /// The issue key, e.g. `ED-1`.
    pub issue_key: String,
    /// Extra fields to return beyond the defaults (ids such as `customfield_10010`, or `duedate`).
    #[serde(default)]
    pub fields: Vec<String>,
    /// The most characters of each text field (description, comments, extra fields) to return; default 8000, at most 1000000. Longer text ends in a marker saying how much was left out.
    #[serde(default)]
    pub max_text_length: Option<u32>,
}

/// Arguments of `search_issues`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchIssues {
    /// A JQL query, e.g. `project = ED AND status = "In Progress" ORDER BY updated DESC`.
    pub jql: String,
    /// Extra fields to return for each issue beyond summary, status, type, priority, assignee and updated.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Issues per page (1 to 100, default 20).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// The `next_page_token` of the previous page, to get the next one.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// Arguments of `create_issue`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateIssue {
    /// The project key, e.g. `ED`.
    pub project_key: String,
    /// The issue type name (`Task`, `Bug`, `Story`…) or id.
    pub issue_type: String,
    /// The one-line summary.
    pub summary: String,
    /// The description, in Markdown or plain text.
    #[serde(default)]
    pub description: Option<String>,
    /// Other fields as Jira expects them, e.g. `{"labels": ["x"], "priority": {"name": "High"}}`.
    #[serde(default)]
    pub fields: Option<Map<String, Value>>,
}

/// Arguments of `edit_issue`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EditIssue {
    /// The issue key.
    pub issue_key: String,
    /// A new summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// A new description, in Markdown or plain text.
    #[serde(default)]
    pub description: Option<String>,
    /// Other fields to set, as Jira expects them.
    #[serde(default)]
    pub fields: Option<Map<String, Value>>,
}

/// Arguments of `transition_issue`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TransitionIssue {
    /// The issue key.
    pub issue_key: String,
    /// The transition's id or name (or the name of the status it leads to), from `get_transitions`.
    pub transition: String,
    /// A comment to add with the transition (Markdown or plain text).
    #[serde(default)]
    pub comment: Option<String>,
}

/// Arguments naming a project and an issue type.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateFields {
    /// The project key.
    pub project_key: String,
    /// The issue type name or id.
    pub issue_type: String,
}

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

/// Arguments of `batch_create_issues`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BatchCreateIssues {
    /// The issues to create (1 to 50), each with `project_key`, `issue_type`, `summary`, optional Markdown `description` and other `fields`.
    pub issues: Vec<NewIssue>,
}

/// Arguments of `set_issue_parent`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SetIssueParent {
    /// The issue to move under the parent, e.g. `ED-12`.
    pub issue_key: String,
    /// The new parent: an epic, or (Cloud) a standard issue for a sub-task, e.g. `ED-1`.
    pub parent_key: String,
}

/// Arguments naming an issue and a watcher.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Watcher {
    /// The issue key.
    pub issue_key: String,
    /// The user: an account id (Cloud) or a username (Data Center), from `lookup_account_id`; `me` for the current user.
    pub user: String,
}

/// Arguments of `search_fields`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchFields {
    /// Part of a field's name, id or type, e.g. `story points`, `customfield_10016`, `sprint`, `date`. Small typos are tolerated.
    pub query: String,
    /// The most fields to return, best matches first (1 to 100, default 20).
    #[serde(default)]
    pub max_results: Option<u32>,
}

/// Arguments of `get_field_options`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetFieldOptions {
    /// The project key, e.g. `ED`.
    pub project_key: String,
    /// The issue type name (`Task`, `Bug`…) or id.
    pub issue_type: String,
    /// The field's id (`priority`, `customfield_10020`) or its name (`Priority`).
    pub field: String,
    /// The most values to return (1 to 1000, default 100).
    #[serde(default)]
    pub max_results: Option<u32>,
}

#[tool_router(router = issues_router, vis = "pub(crate)")]
impl JiraMcp {
    /// Gets one Jira issue: summary, status, type, priority, people, dates, description as text and the newest comments.
    #[tool(annotations(title = "Get issue", read_only_hint = true, open_world_hint = true))]
    async fn get_issue(
        &self,
        Parameters(a): Parameters<GetIssue>,
    ) -> Result<CallToolResult, McpError> {
        let max_text = a.max_text_length.unwrap_or(DEFAULT_TEXT_CHARS);
        self.with_jira(|j| async move { j.get_issue(&a.issue_key, &a.fields, max_text).await })
            .await
    }

    /// Searches issues with JQL. Returns one page; pass `next_page_token` to get the next.
    #[tool(annotations(
        title = "Search issues (JQL)",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn search_issues(
        &self,
        Parameters(a): Parameters<SearchIssues>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.search_issues(
                &a.jql,
                &a.fields,
                a.max_results.unwrap_or(20),
                a.next_page_token.as_deref(),
            )
            .await
        })
        .await
    }

    /// Creates an issue. The description may be Markdown.
    #[tool(annotations(
        title = "Create issue",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn create_issue(
        &self,
        Parameters(a): Parameters<CreateIssue>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.create_issue(
                &a.project_key,
                &a.issue_type,
                &a.summary,
                a.description.as_deref(),
                a.fields.as_ref(),
            )
            .await
        })
        .await
    }

    /// Edits an issue's summary, description (Markdown) or other fields.
    #[tool(annotations(
        title = "Edit issue",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn edit_issue(
        &self,
        Parameters(a): Parameters<EditIssue>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.edit_issue(
                &a.issue_key,
                a.summary.as_deref(),
                a.description.as_deref(),
                a.fields.as_ref(),
            )
            .await
        })
        .await
    }

    /// Lists the transitions (workflow steps) available for an issue now.
    #[tool(annotations(
        title = "Get transitions",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_transitions(
        &self,
        Parameters(a): Parameters<IssueKey>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_transitions(&a.issue_key).await })
            .await
    }

    /// Moves an issue through a transition, given by id or name.
    #[tool(annotations(
        title = "Transition issue",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn transition_issue(
        &self,
        Parameters(a): Parameters<TransitionIssue>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.transition_issue(&a.issue_key, &a.transition, a.comment.as_deref())
                .await
        })
        .await
    }

    /// Lists the fields of the create screen for an issue type in a project, with required flags and allowed values.
    #[tool(annotations(
        title = "Get create fields",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_create_fields(
        &self,
        Parameters(a): Parameters<CreateFields>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_create_fields(&a.project_key, &a.issue_type).await })
            .await
    }

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

    /// Finds fields by name, id or type, best matches first (exact, prefix, substring, then near misses), e.g. `story points` → `customfield_10016`. Returns each field's id, name, whether it is custom, its type and JQL name. Same on Cloud and Data Center (custom field ids differ per site).
    #[tool(annotations(title = "Search fields", read_only_hint = true, open_world_hint = true))]
    async fn search_fields(
        &self,
        Parameters(a): Parameters<SearchFields>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(
            |j| async move { j.search_fields(&a.query, a.max_results.unwrap_or(20)).await },
        )
        .await
    }

    /// Lists the values a field allows when creating an issue of a type in a project (select options, priorities, versions, components…), from the create screen. Same on Cloud and Data Center (8.4 or later).
    #[tool(annotations(
        title = "Get field options",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_field_options(
        &self,
        Parameters(a): Parameters<GetFieldOptions>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.get_field_options(
                &a.project_key,
                &a.issue_type,
                &a.field,
                a.max_results.unwrap_or(100),
            )
            .await
        })
        .await
    }
}
