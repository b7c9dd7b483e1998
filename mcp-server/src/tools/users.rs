//! The `users` toolset (`catalog::Toolset::Users`): the signed-in user, other
//! users, and the Cloud sites a login reaches.
//!
//! One place per tool: its arguments, its `#[tool_router]` method, and its
//! Jira requests (methods of [`JiraClient`], on the shared core in `jira.rs`).

use reqwest::Method;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::NoArgs;
use crate::config::Deployment;
use crate::input;
use crate::jira::{JiraClient, ToolResult, optional_text, required_text, strip_nulls};
use crate::server::JiraMcp;
use crate::tool_error::ToolError;

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

const READ_USER: &str = "read:jira-user";

fn user_entry(u: &Value) -> Value {
    strip_nulls(json!({
        "account_id": u["accountId"], "name": u["name"], "key": u["key"],
        "display_name": u["displayName"], "email": u["emailAddress"], "active": u["active"],
    }))
}

impl JiraClient {
    /// Finds users by name or email: account ids on Cloud, usernames on Data Center.
    pub async fn lookup_account_id(&self, query: &str) -> ToolResult {
        let (param, scope) = match self.deployment {
            Deployment::Cloud => ("query", READ_USER),
            Deployment::DataCenter => ("username", READ_USER),
        };
        let users = self
            .request(
                Method::GET,
                "user/search",
                &[(param, query), ("maxResults", "20")],
                None,
                scope,
            )
            .await?;
        let list = users.as_array().into_iter().flatten().map(|u| {
            json!({"account_id": u["accountId"], "name": u["name"], "key": u["key"], "display_name": u["displayName"], "email": u["emailAddress"], "active": u["active"]})
        }).map(strip_nulls);
        Ok(json!({"users": list.collect::<Vec<_>>()}))
    }

    /// The user the credentials belong to.
    pub async fn get_current_user(&self) -> ToolResult {
        let me = self
            .request(Method::GET, "myself", &[], None, READ_USER)
            .await?;
        Ok(strip_nulls(json!({
            "account_id": me["accountId"], "name": me["name"], "display_name": me["displayName"],
            "email": me["emailAddress"], "time_zone": me["timeZone"], "active": me["active"],
        })))
    }

    /// The Cloud sites this OAuth authorization reaches.
    pub async fn get_accessible_resources(&self) -> ToolResult {
        let Some((setup, cache)) = &self.oauth else {
            return Err(ToolError::new(
                "accessible resources exist only for Jira Cloud OAuth; this server uses other credentials",
            ));
        };
        if self.deployment != Deployment::Cloud {
            return Err(ToolError::new(
                "accessible resources exist only for Jira Cloud; this is Data Center",
            ));
        }
        let token = cache.token().await?;
        let sites = gouqi_oauth::accessible_resources_with(
            &setup.api_url()?,
            &token.tokens().access_token,
            setup.http(),
        )
        .await?;
        let list = sites
            .iter()
            .map(|s| json!({"cloud_id": s.id, "url": s.url, "name": s.name, "scopes": s.scopes}));
        Ok(json!({"sites": list.collect::<Vec<_>>()}))
    }

    /// Users by name or e-mail; only those assignable in a project or to an
    /// issue when one is given.
    pub async fn search_users(
        &self,
        query: Option<&str>,
        project_key: Option<&str>,
        issue_key: Option<&str>,
        max_results: u32,
    ) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=100)?.to_string();
        let query = optional_text("query", query)?;
        let text_param = match self.deployment {
            Deployment::Cloud => "query",
            Deployment::DataCenter => "username",
        };
        let (tail, scope_param) = match (project_key, issue_key) {
            (Some(_), Some(_)) => {
                return Err(ToolError::new(
                    "give `project_key` or `issue_key`, not both",
                ));
            }
            (Some(p), None) => (
                "user/assignable/search",
                Some(("project", self.project(p)?)),
            ),
            (None, Some(i)) => ("user/assignable/search", Some(("issueKey", self.issue(i)?))),
            (None, None) => ("user/search", None),
        };
        let mut q: Vec<(&str, &str)> = vec![("maxResults", max.as_str())];
        q.extend(scope_param);
        match query {
            Some(text) => q.push((text_param, text)),
            None if scope_param.is_none() => {
                return Err(ToolError::new(
                    "give `query` (part of a name or e-mail address), or a `project_key` or \
                     `issue_key` to list the users assignable there",
                ));
            }
            // Data Center's assignable search needs the parameter, even empty.
            None if self.deployment == Deployment::DataCenter => q.push((text_param, "")),
            None => {}
        }
        let users = self.request(Method::GET, tail, &q, None, READ_USER).await?;
        let list: Vec<Value> = users
            .as_array()
            .into_iter()
            .flatten()
            .map(user_entry)
            .collect();
        Ok(json!({"count": list.len(), "users": list}))
    }

    /// One user: by account id on Cloud, by username on Data Center.
    pub async fn get_user(&self, user: &str) -> ToolResult {
        let user = required_text("user", user, 128)?;
        let param = match self.deployment {
            Deployment::Cloud => "accountId",
            Deployment::DataCenter => "username",
        };
        let answer = self
            .request(Method::GET, "user", &[(param, user)], None, READ_USER)
            .await?;
        let mut out = user_entry(&answer);
        out["time_zone"] = answer["timeZone"].clone();
        out["locale"] = answer["locale"].clone();
        out["account_type"] = answer["accountType"].clone();
        Ok(strip_nulls(out))
    }
}
