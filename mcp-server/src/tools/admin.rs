//! The `admin` toolset (`catalog::Toolset::Admin`): creating and changing
//! versions and components (project administration).
//!
//! One place per tool: its arguments, its `#[tool_router]` method, and its
//! Jira requests (methods of [`JiraClient`], on the shared core in `jira.rs`).

use reqwest::Method;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::Deployment;
use crate::jira::{
    JiraClient, MAX_DESCRIPTION, READ, ToolResult, bounded, component_entry, date, number,
    numeric_id, required_text, version_entry,
};
use crate::server::JiraMcp;
use crate::tool_error::ToolError;

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

/// The classic scope for creating and changing versions and components.
const MANAGE_PROJECT: &str = "manage:jira-project";

/// What `create_version` and `update_version` set.
#[derive(Debug, Clone, Copy, Default)]
struct VersionChange<'a> {
    name: Option<&'a str>,
    description: Option<&'a str>,
    /// `YYYY-MM-DD`.
    start_date: Option<&'a str>,
    /// `YYYY-MM-DD`.
    release_date: Option<&'a str>,
    released: Option<bool>,
    archived: Option<bool>,
}

/// The body fields common to creating and updating a version.
fn version_body(args: &VersionChange<'_>) -> ToolResult {
    let mut body = Map::new();
    if let Some(text) = args.description {
        body.insert(
            "description".into(),
            json!(bounded("description", text, MAX_DESCRIPTION)?),
        );
    }
    let start = args.start_date.map(|d| date("start_date", d)).transpose()?;
    let release = args
        .release_date
        .map(|d| date("release_date", d))
        .transpose()?;
    if let (Some(s), Some(r)) = (start, release)
        && s > r
    {
        return Err(ToolError::new(format!(
            "start_date {s} is after release_date {r}"
        )));
    }
    if let Some(s) = start {
        body.insert("startDate".into(), json!(s));
    }
    if let Some(r) = release {
        body.insert("releaseDate".into(), json!(r));
    }
    if let Some(flag) = args.released {
        body.insert("released".into(), json!(flag));
    }
    if let Some(flag) = args.archived {
        body.insert("archived".into(), json!(flag));
    }
    Ok(Value::Object(body))
}

impl JiraClient {
    /// Creates a version in a project (its id is looked up from the key).
    pub async fn create_version(
        &self,
        project_key: &str,
        name: &str,
        description: Option<&str>,
        (start_date, release_date): (Option<&str>, Option<&str>),
        released: Option<bool>,
    ) -> ToolResult {
        let key = self.project(project_key)?;
        let name = required_text("name", name, 255)?;
        let args = VersionChange {
            description,
            start_date,
            release_date,
            released,
            ..VersionChange::default()
        };
        let mut body = version_body(&args)?;
        body["name"] = json!(name);
        body["projectId"] = json!(self.project_id(key).await?);
        let created = self
            .request(Method::POST, "version", &[], Some(&body), MANAGE_PROJECT)
            .await?;
        let mut out = version_entry(&created);
        out["project_key"] = json!(key);
        Ok(out)
    }

    /// Changes a version: name, description, dates, released, archived.
    pub async fn update_version(
        &self,
        version_id: &str,
        name: Option<&str>,
        description: Option<&str>,
        (start_date, release_date): (Option<&str>, Option<&str>),
        (released, archived): (Option<bool>, Option<bool>),
    ) -> ToolResult {
        let args = VersionChange {
            name,
            description,
            start_date,
            release_date,
            released,
            archived,
        };
        let id = numeric_id("version_id", version_id)?;
        let mut body = version_body(&args)?;
        if let Some(name) = args.name {
            body["name"] = json!(required_text("name", name, 255)?);
        }
        if body.as_object().is_some_and(Map::is_empty) {
            return Err(ToolError::new(
                "nothing to change: give at least one of name, description, start_date, \
                 release_date, released, archived",
            ));
        }
        let tail = format!("version/{id}");
        if self.projects.is_some() {
            let current = self.request(Method::GET, &tail, &[], None, READ).await?;
            self.check_project_id(&current["projectId"]).await?;
        }
        let updated = self
            .request(Method::PUT, &tail, &[], Some(&body), MANAGE_PROJECT)
            .await?;
        Ok(version_entry(&updated))
    }

    /// Creates a component; the lead is an account id on Cloud, a username
    /// on Data Center.
    pub async fn create_component(
        &self,
        project_key: &str,
        name: &str,
        description: Option<&str>,
        lead: Option<&str>,
    ) -> ToolResult {
        let key = self.project(project_key)?;
        let name = required_text("name", name, 255)?;
        let mut body = json!({"project": key, "name": name});
        if let Some(text) = description {
            body["description"] = json!(bounded("description", text, MAX_DESCRIPTION)?);
        }
        if let Some(lead) = lead {
            let lead = required_text("lead", lead, 128)?;
            let field = match self.deployment {
                Deployment::Cloud => "leadAccountId",
                Deployment::DataCenter => "leadUserName",
            };
            body[field] = json!(lead);
        }
        let created = self
            .request(Method::POST, "component", &[], Some(&body), MANAGE_PROJECT)
            .await?;
        let mut out = component_entry(&created);
        out["project_key"] = json!(key);
        Ok(out)
    }

    /// The numeric id of a project given by key (or already by id).
    async fn project_id(&self, key: &str) -> Result<u64, ToolError> {
        if let Ok(id) = key.parse::<u64>() {
            return Ok(id);
        }
        let project = self
            .request(Method::GET, &format!("project/{key}"), &[], None, READ)
            .await?;
        number(&project["id"])
            .ok_or_else(|| ToolError::new(format!("Jira gave no id for project {key}")))
    }

    /// Checks a project given by numeric id against the allowlist.
    async fn check_project_id(&self, id: &Value) -> Result<(), ToolError> {
        let id = number(id)
            .ok_or_else(|| ToolError::new("Jira did not say which project this belongs to"))?;
        let project = self
            .request(Method::GET, &format!("project/{id}"), &[], None, READ)
            .await?;
        let key = project["key"].as_str().unwrap_or_default();
        self.project(key).map(drop)
    }
}
