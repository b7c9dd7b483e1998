//! The `projects` toolset (`catalog::Toolset::Projects`): projects, their issue
//! types, versions and components.
//!
//! One place per tool: its arguments, its `#[tool_router]` method, and its
//! Jira requests (methods of [`JiraClient`], on the shared core in `jira.rs`).

use reqwest::Method;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Deployment;
use crate::input;
use crate::jira::{
    JiraClient, READ, ToolResult, component_entry, cut, optional_text, strip_nulls, user,
    version_entry,
};
use crate::server::JiraMcp;
use crate::tool_error::ToolError;

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

/// The newest versions `get_project` shows.
const NEWEST_VERSIONS: usize = 5;

/// Component names `get_project` shows.
const COMPONENT_NAMES: usize = 20;

/// What `list_versions` filters and pages by (besides status and size).
#[derive(Debug, Clone, Copy)]
struct VersionQuery<'a> {
    /// Text in the version name.
    query: Option<&'a str>,
    /// Versions to skip.
    start_at: u32,
}

/// Status filters for versions, checked.
fn version_statuses(status: Option<&str>) -> Result<Vec<&str>, ToolError> {
    let mut out = Vec::new();
    for part in status.unwrap_or_default().split(',').map(str::trim) {
        match part {
            "" => {}
            "released" | "unreleased" | "archived" => out.push(part),
            other => {
                return Err(ToolError::new(format!(
                    "`status` takes released, unreleased or archived (comma-separated), not `{}`",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    Ok(out)
}

/// The status Cloud's `status` filter would put a version under.
fn version_status(v: &Value) -> &'static str {
    if v["archived"] == true {
        "archived"
    } else if v["released"] == true {
        "released"
    } else {
        "unreleased"
    }
}

impl JiraClient {
    /// The issue types one can create in a project.
    pub async fn get_project_issue_types(&self, project_key: &str) -> ToolResult {
        let answer = self
            .request(
                Method::GET,
                &format!("issue/createmeta/{}/issuetypes", self.project(project_key)?),
                &[("maxResults", "100")],
                None,
                READ,
            )
            .await?;
        let types = answer
            .get("issueTypes")
            .or_else(|| answer.get("values"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let list = types.iter().map(|t| json!({"id": t["id"], "name": t["name"], "subtask": t["subtask"], "description": t["description"]}));
        Ok(json!({"project_key": project_key, "issue_types": list.collect::<Vec<_>>()}))
    }

    /// Projects visible to the user, optionally filtered by a text query.
    pub async fn list_projects(&self, query: Option<&str>, max_results: u32) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=100)?;
        let projects: Vec<Value> = match self.deployment {
            Deployment::Cloud => {
                let max_text = max.to_string();
                let mut q = vec![("maxResults", max_text.as_str())];
                if let Some(text) = query {
                    q.push(("query", text));
                }
                let page = self
                    .request(Method::GET, "project/search", &q, None, READ)
                    .await?;
                page["values"].as_array().cloned().unwrap_or_default()
            }
            Deployment::DataCenter => {
                let all = self
                    .request(Method::GET, "project", &[], None, READ)
                    .await?;
                let needle = query.unwrap_or_default().to_lowercase();
                all.as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| {
                        needle.is_empty()
                            || [&p["key"], &p["name"]].iter().any(|v| {
                                v.as_str()
                                    .is_some_and(|s| s.to_lowercase().contains(&needle))
                            })
                    })
                    .take(max as usize)
                    .cloned()
                    .collect()
            }
        };
        let reachable = |p: &&Value| match (&self.projects, p["key"].as_str()) {
            (None, _) => true,
            (Some(allowed), Some(key)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(key)),
            (Some(_), None) => false,
        };
        let list = projects.iter().filter(reachable).map(|p| json!({"key": p["key"], "name": p["name"], "id": p["id"], "type": p["projectTypeKey"]}));
        Ok(json!({"projects": list.collect::<Vec<_>>()}))
    }

    /// A project's details: lead, type, issue types, and summaries of its
    /// components and versions.
    pub async fn get_project(&self, project_key: &str) -> ToolResult {
        let key = self.project(project_key)?;
        let p = self
            .request(
                Method::GET,
                &format!("project/{key}"),
                &[("expand", "description,lead,issueTypes")],
                None,
                READ,
            )
            .await?;
        let versions = p["versions"].as_array().cloned().unwrap_or_default();
        let components = p["components"].as_array().cloned().unwrap_or_default();
        let newest = versions
            .iter()
            .rev()
            .take(NEWEST_VERSIONS)
            .map(version_entry);
        let unreleased = versions
            .iter()
            .filter(|v| v["released"] != true && v["archived"] != true);
        let project_key = p["key"].as_str().unwrap_or(key);
        let out = json!({
            "key": project_key, "id": p["id"], "name": p["name"],
            "url": self.browse(project_key),
            "description": cut(p["description"].as_str()),
            "lead": user(&p["lead"]), "type": p["projectTypeKey"], "style": p["style"],
            "category": p["projectCategory"]["name"],
            "issue_types": p["issueTypes"].as_array().into_iter().flatten().map(|t| t["name"].clone()).collect::<Vec<_>>(),
            "components": {
                "count": components.len(),
                "names": components.iter().take(COMPONENT_NAMES).map(|c| c["name"].clone()).collect::<Vec<_>>(),
            },
            "versions": {
                "count": versions.len(),
                "unreleased": unreleased.count(),
                "newest": newest.collect::<Vec<_>>(),
            },
        });
        Ok(strip_nulls(out))
    }

    /// A project's versions, newest first, filtered by text and status.
    pub async fn list_versions(
        &self,
        project_key: &str,
        query: Option<&str>,
        status: Option<&str>,
        max_results: u32,
        start_at: u32,
    ) -> ToolResult {
        let key = self.project(project_key)?;
        let max = input::in_range("max_results", max_results, 1..=200)?;
        let query = optional_text("query", query)?;
        let args = VersionQuery { query, start_at };
        let statuses = version_statuses(status)?;
        let (versions, total, is_last) = match self.deployment {
            Deployment::Cloud => self.cloud_versions(key, &args, &statuses, max).await?,
            Deployment::DataCenter => self.dc_versions(key, &args, &statuses, max).await?,
        };
        Ok(json!({
            "project_key": key, "total": total, "start_at": args.start_at, "is_last": is_last,
            "versions": versions.iter().map(version_entry).collect::<Vec<_>>(),
        }))
    }

    /// Cloud pages and filters on the server (`project/{key}/version`).
    async fn cloud_versions(
        &self,
        key: &str,
        args: &VersionQuery<'_>,
        statuses: &[&str],
        max: u32,
    ) -> Result<(Vec<Value>, Value, bool), ToolError> {
        let (start, max) = (args.start_at.to_string(), max.to_string());
        let status = statuses.join(",");
        let mut q = vec![
            ("startAt", start.as_str()),
            ("maxResults", max.as_str()),
            ("orderBy", "-sequence"),
        ];
        if let Some(text) = args.query {
            q.push(("query", text));
        }
        if !status.is_empty() {
            q.push(("status", status.as_str()));
        }
        let page = self
            .request(
                Method::GET,
                &format!("project/{key}/version"),
                &q,
                None,
                READ,
            )
            .await?;
        let values = page["values"].as_array().cloned().unwrap_or_default();
        Ok((values, page["total"].clone(), page["isLast"] != false))
    }

    /// Data Center returns every version at once (`project/{key}/versions`),
    /// oldest first: filtered and paged here, newest first like Cloud.
    async fn dc_versions(
        &self,
        key: &str,
        args: &VersionQuery<'_>,
        statuses: &[&str],
        max: u32,
    ) -> Result<(Vec<Value>, Value, bool), ToolError> {
        let all = self
            .request(
                Method::GET,
                &format!("project/{key}/versions"),
                &[],
                None,
                READ,
            )
            .await?;
        let needle = args.query.unwrap_or_default().to_lowercase();
        let matching: Vec<Value> = all
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .filter(|v| {
                v["name"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase().contains(&needle))
                    && (statuses.is_empty() || statuses.contains(&version_status(v)))
            })
            .cloned()
            .collect();
        let start = args.start_at as usize;
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(max as usize)
            .cloned()
            .collect();
        let is_last = start + page.len() >= matching.len();
        Ok((page, json!(matching.len()), is_last))
    }

    /// A project's components, optionally filtered by text in their name.
    pub async fn list_components(
        &self,
        project_key: &str,
        query: Option<&str>,
        max_results: u32,
    ) -> ToolResult {
        let key = self.project(project_key)?;
        let max = input::in_range("max_results", max_results, 1..=500)? as usize;
        let query = optional_text("query", query)?;
        let all = self
            .request(
                Method::GET,
                &format!("project/{key}/components"),
                &[],
                None,
                READ,
            )
            .await?;
        let needle = query.unwrap_or_default().to_lowercase();
        let matching: Vec<&Value> = all
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase().contains(&needle))
            })
            .collect();
        let list = matching.iter().take(max).map(|c| component_entry(c));
        Ok(json!({
            "project_key": key, "total": matching.len(),
            "components": list.collect::<Vec<_>>(),
        }))
    }
}
