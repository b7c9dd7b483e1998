//! The `projects` toolset (`catalog::Toolset::Projects`): projects, their issue types, versions and components. Each tool's
//! arguments, and its mapping onto the Jira requests of [`JiraClient`].

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use crate::server::JiraMcp;

/// Arguments naming a project.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ProjectKey {
    /// The project key, e.g. `ED`.
    pub project_key: String,
}

/// Arguments of `list_projects`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListProjects {
    /// Only projects whose key or name contains this text.
    #[serde(default)]
    pub query: Option<String>,
    /// At most this many projects (1 to 100, default 50).
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

#[tool_router(router = projects_router, vis = "pub(crate)")]
impl JiraMcp {
    /// Lists the issue types that can be created in a project.
    #[tool(annotations(
        title = "Get project issue types",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_project_issue_types(
        &self,
        Parameters(a): Parameters<ProjectKey>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_project_issue_types(&a.project_key).await })
            .await
    }

    /// Lists projects, optionally filtered by text in their key or name.
    #[tool(annotations(title = "List projects", read_only_hint = true, open_world_hint = true))]
    async fn list_projects(
        &self,
        Parameters(a): Parameters<ListProjects>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.list_projects(a.query.as_deref(), a.max_results.unwrap_or(50))
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
}
