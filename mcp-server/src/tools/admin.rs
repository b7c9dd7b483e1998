//! The `admin` toolset (`catalog::Toolset::Admin`): creating and changing versions and components (project administration). Each tool's
//! arguments, and its mapping onto the Jira requests of [`JiraClient`].

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use crate::server::JiraMcp;

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

#[tool_router(router = admin_router, vis = "pub(crate)")]
impl JiraMcp {
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
