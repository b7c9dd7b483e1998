//! The `comments` toolset (`catalog::Toolset::Comments`): comments and worklogs.
//!
//! One place per tool: its arguments, its `#[tool_router]` method, and its
//! Jira requests (methods of [`JiraClient`], on the shared core in `jira.rs`).

use reqwest::Method;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{newest_first, page};
use crate::bounds::{DEFAULT_TEXT_CHARS, MAX_TEXT_CHARS, TextLimit};
use crate::config::Deployment;
use crate::input;
use crate::jira::{JiraClient, Page, READ, ToolResult, WRITE, strip_nulls, text_or_null, user};
use crate::server::JiraMcp;
use crate::text::rich_text_to_string;
use crate::tool_error::ToolError;

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

/// A comment or worklog id: digits only, so it cannot leave its path segment.
fn numeric_id<'a>(name: &str, id: &'a str) -> Result<&'a str, ToolError> {
    if !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(ToolError::new(format!(
            "`{name}` must be a numeric id like `10000` (get_comments shows them)"
        )))
    }
}

impl JiraClient {
    /// Adds a comment (Markdown or plain text).
    pub async fn add_comment(&self, key: &str, body: &str) -> ToolResult {
        let request = json!({"body": self.rich_text(body)});
        let comment = self
            .request(
                Method::POST,
                &format!("issue/{}/comment", self.issue(key)?),
                &[],
                Some(&request),
                WRITE,
            )
            .await?;
        Ok(
            json!({"key": key, "id": comment["id"], "created": comment["created"], "author": user(&comment["author"])}),
        )
    }

    /// Logs time on the issue.
    pub async fn add_worklog(
        &self,
        key: &str,
        time_spent: &str,
        comment: Option<&str>,
        started: Option<&str>,
    ) -> ToolResult {
        let mut request = json!({"timeSpent": time_spent});
        if let Some(text) = comment {
            request["comment"] = self.rich_text(text);
        }
        if let Some(started) = started {
            request["started"] = json!(started);
        }
        let log = self
            .request(
                Method::POST,
                &format!("issue/{}/worklog", self.issue(key)?),
                &[],
                Some(&request),
                WRITE,
            )
            .await?;
        Ok(
            json!({"key": key, "id": log["id"], "time_spent": log["timeSpent"], "time_spent_seconds": log["timeSpentSeconds"], "started": log["started"]}),
        )
    }

    /// One page of the issue's comments, bodies as text.
    pub async fn get_comments(
        &self,
        key: &str,
        page: Page,
        newest_first: bool,
        max_text: u32,
    ) -> ToolResult {
        let page = page.checked(100)?;
        let limit = TextLimit {
            chars: input::in_range("max_text_length", max_text, 1..=MAX_TEXT_CHARS)?,
            tool: "get_comments",
            issue_key: key,
        };
        let order = if newest_first { "-created" } else { "created" };
        let q = page.query();
        let mut query: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        query.push(("orderBy", order));
        let path = format!("issue/{}/comment", self.issue(key)?);
        let answer = self.request(Method::GET, &path, &query, None, READ).await?;
        let list: Vec<Value> = answer["comments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let body = limit.text(rich_text_to_string(&c["body"]));
                strip_nulls(json!({
                    "id": c["id"], "author": user(&c["author"]), "created": c["created"],
                    "updated": if c["updated"] == c["created"] { Value::Null } else { c["updated"].clone() },
                    "body": body,
                }))
            })
            .collect();
        let mut out = page.info(list.len(), answer["total"].as_u64());
        out.insert("key".into(), json!(key));
        out.insert("comments".into(), Value::Array(list));
        Ok(Value::Object(out))
    }

    /// Replaces a comment's body (Markdown or plain text).
    pub async fn edit_comment(&self, key: &str, comment_id: &str, body: &str) -> ToolResult {
        let path = format!(
            "issue/{}/comment/{}",
            self.issue(key)?,
            numeric_id("comment_id", comment_id)?
        );
        let request = json!({"body": self.rich_text(body)});
        let comment = self
            .request(Method::PUT, &path, &[], Some(&request), WRITE)
            .await?;
        Ok(strip_nulls(json!({
            "key": key, "id": comment["id"], "updated": comment["updated"],
            "update_author": user(&comment["updateAuthor"]),
        })))
    }

    /// One page of the issue's worklogs, comments as text.
    pub async fn get_worklogs(&self, key: &str, page: Page, max_text: u32) -> ToolResult {
        let page = page.checked(100)?;
        let limit = TextLimit {
            chars: input::in_range("max_text_length", max_text, 1..=MAX_TEXT_CHARS)?,
            tool: "get_worklogs",
            issue_key: key,
        };
        let path = format!("issue/{}/worklog", self.issue(key)?);
        let (logs, total) = match self.deployment {
            Deployment::Cloud => {
                let q = page.query();
                let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let answer = self.request(Method::GET, &path, &q, None, READ).await?;
                let logs = answer["worklogs"].as_array().cloned().unwrap_or_default();
                (logs, answer["total"].as_u64())
            }
            // Data Center answers with every worklog and ignores paging.
            Deployment::DataCenter => {
                let answer = self.request(Method::GET, &path, &[], None, READ).await?;
                let all = answer["worklogs"].as_array().cloned().unwrap_or_default();
                (page.slice(&all).to_vec(), Some(all.len() as u64))
            }
        };
        let list: Vec<Value> = logs
            .iter()
            .map(|w| {
                let comment = text_or_null(&w["comment"]);
                let comment = comment
                    .as_str()
                    .map_or(Value::Null, |t| json!(limit.text(t.to_string())));
                strip_nulls(json!({
                    "id": w["id"], "author": user(&w["author"]), "started": w["started"],
                    "time_spent": w["timeSpent"], "time_spent_seconds": w["timeSpentSeconds"],
                    "comment": comment,
                }))
            })
            .collect();
        let mut out = page.info(list.len(), total);
        out.insert("key".into(), json!(key));
        out.insert("worklogs".into(), Value::Array(list));
        Ok(Value::Object(out))
    }
}
