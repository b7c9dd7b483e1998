//! Tools of this group: argument types and the mapping onto [`JiraClient`]
//! methods (the Jira logic lives in `jira/`).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use super::{JiraMcp, ProjectKey};

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

/// Arguments of `list_versions`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListVersions {
    /// The project key, e.g. `ED`.
    pub project_key: String,
    /// Only versions whose name contains this text.
    #[serde(default)]
    pub query: Option<String>,
    /// Only versions with these statuses, comma-separated: `released`, `unreleased`, `archived`.
    #[serde(default)]
    pub status: Option<String>,
    /// Versions per page, newest first (1 to 200, default 50).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// How many versions to skip, for the next page (default 0).
    #[serde(default)]
    pub start_at: Option<u32>,
}

/// Arguments of `list_components`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListComponents {
    /// The project key, e.g. `ED`.
    pub project_key: String,
    /// Only components whose name contains this text.
    #[serde(default)]
    pub query: Option<String>,
    /// The most components to return (1 to 500, default 100).
    #[serde(default)]
    pub max_results: Option<u32>,
}

/// Arguments of `create_version`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateVersion {
    /// The project key, e.g. `ED`.
    pub project_key: String,
    /// The version name, e.g. `2.4.0`.
    pub name: String,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// The start date, `YYYY-MM-DD`.
    #[serde(default)]
    pub start_date: Option<String>,
    /// The planned release date, `YYYY-MM-DD`.
    #[serde(default)]
    pub release_date: Option<String>,
    /// True to create it as already released.
    #[serde(default)]
    pub released: Option<bool>,
}

/// Arguments of `update_version`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateVersion {
    /// The numeric version id, e.g. `10000` (list_versions shows it).
    pub version_id: String,
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
    /// A new start date, `YYYY-MM-DD`.
    #[serde(default)]
    pub start_date: Option<String>,
    /// A new release date, `YYYY-MM-DD`.
    #[serde(default)]
    pub release_date: Option<String>,
    /// True to mark it released, false to mark it unreleased.
    #[serde(default)]
    pub released: Option<bool>,
    /// True to archive it, false to restore it.
    #[serde(default)]
    pub archived: Option<bool>,
}

/// Arguments of `create_component`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateComponent {
    /// The project key, e.g. `ED`.
    pub project_key: String,
    /// The component name, e.g. `Backend`.
    pub name: String,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// The component lead: an account id on Cloud, a username on Data Center (search_users finds them).
    #[serde(default)]
    pub lead: Option<String>,
}

#[tool_router(router = people_fields_router, vis = "pub(super)")]
impl JiraMcp {
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

    /// Gets a project's details: name, lead, type, issue types, and summaries of its components and versions (counts and the newest versions). Cloud also gives the project style (classic or team-managed).
    #[tool(annotations(title = "Get project", read_only_hint = true, open_world_hint = true))]
    async fn get_project(
        &self,
        Parameters(a): Parameters<ProjectKey>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_project(&a.project_key).await })
            .await
    }

    /// Lists a project's versions, newest first, optionally by name text and status, one page at a time. Cloud filters and pages on the server; Data Center returns all versions and this server filters and pages them.
    #[tool(annotations(title = "List versions", read_only_hint = true, open_world_hint = true))]
    async fn list_versions(
        &self,
        Parameters(a): Parameters<ListVersions>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.list_versions(
                &a.project_key,
                a.query.as_deref(),
                a.status.as_deref(),
                a.max_results.unwrap_or(50),
                a.start_at.unwrap_or(0),
            )
            .await
        })
        .await
    }

    /// Lists a project's components with their leads, optionally by name text. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "List components",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn list_components(
        &self,
        Parameters(a): Parameters<ListComponents>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.list_components(
                &a.project_key,
                a.query.as_deref(),
                a.max_results.unwrap_or(100),
            )
            .await
        })
        .await
    }

    /// Creates a version (release) in a project, with optional description, dates and released flag. Needs project admin rights. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Create version",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn create_version(
        &self,
        Parameters(a): Parameters<CreateVersion>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.create_version(
                &a.project_key,
                &a.name,
                a.description.as_deref(),
                (a.start_date.as_deref(), a.release_date.as_deref()),
                a.released,
            )
            .await
        })
        .await
    }

    /// Changes a version: rename it, change its description or dates, mark it released or unreleased, archive or restore it. Needs project admin rights. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Update version",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn update_version(
        &self,
        Parameters(a): Parameters<UpdateVersion>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.update_version(
                &a.version_id,
                a.name.as_deref(),
                a.description.as_deref(),
                (a.start_date.as_deref(), a.release_date.as_deref()),
                (a.released, a.archived),
            )
            .await
        })
        .await
    }

    /// Creates a component in a project, with an optional description and lead (an account id on Cloud, a username on Data Center). Needs project admin rights.
    #[tool(annotations(
        title = "Create component",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn create_component(
        &self,
        Parameters(a): Parameters<CreateComponent>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.create_component(
                &a.project_key,
                &a.name,
                a.description.as_deref(),
                a.lead.as_deref(),
            )
            .await
        })
        .await
    }
}
