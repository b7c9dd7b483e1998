//! The Jira requests of the `comments` tools: comments and worklogs.

use crate::bounds::{MAX_TEXT_CHARS, TextLimit};
use crate::config::Deployment;
use crate::input;
use crate::text::rich_text_to_string;
use crate::tool_error::ToolError;
use reqwest::Method;
use serde_json::{Value, json};

use super::{JiraClient, Page, READ, ToolResult, WRITE, strip_nulls, text_or_null, user};

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
