//! The Jira logic behind this group of tools: deleting and assigning issues,
//! their history, watchers, parents and bulk creation; reading and editing
//! comments and worklogs.

use reqwest::Method;
use rmcp::schemars;
use serde_json::{Map, Value, json};

use super::{
    JiraClient, READ, ToolResult, WRITE, id_or_name, insert, merge, strip_nulls, text_or_null, user,
};
use crate::bounds::{MAX_TEXT_CHARS, TextLimit};
use crate::config::Deployment;
use crate::input;
use crate::text::rich_text_to_string;
use crate::tool_error::ToolError;

/// The most issues one `batch_create_issues` call may create (Jira's bulk
/// endpoint takes 50).
pub const MAX_BATCH: usize = 50;
/// The most characters of each changelog value (`from`/`to`) shown.
const CHANGE_VALUE_CHARS: usize = 200;

/// One issue of a `batch_create_issues` call.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
pub struct NewIssue {
    /// The project key, e.g. `ED`.
    pub project_key: String,
    /// The issue type name (`Task`, `Bug`, `Story`…) or id.
    pub issue_type: String,
    /// The one-line summary.
    pub summary: String,
    /// The description, in Markdown or plain text.
    #[serde(default)]
    pub description: Option<String>,
    /// Other fields as Jira expects them, e.g. `{"labels": ["x"], "parent": {"key": "ED-1"}}`.
    #[serde(default)]
    pub fields: Option<Map<String, Value>>,
}

/// A page request: where to start and how many.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// The index of the first item (0-based).
    pub start_at: u32,
    /// How many items at most.
    pub max_results: u32,
}

impl Page {
    fn checked(self, max: u32) -> Result<Page, ToolError> {
        input::in_range("start_at", self.start_at, 0..=1_000_000)?;
        input::in_range("max_results", self.max_results, 1..=max)?;
        Ok(self)
    }

    fn query(&self) -> [(&'static str, String); 2] {
        [
            ("startAt", self.start_at.to_string()),
            ("maxResults", self.max_results.to_string()),
        ]
    }

    /// This page of `all` (for Data Center answers that hold every item).
    fn slice<'a>(&self, all: &'a [Value]) -> &'a [Value] {
        let start = (self.start_at as usize).min(all.len());
        let end = start
            .saturating_add(self.max_results as usize)
            .min(all.len());
        &all[start..end]
    }

    /// The paging fields of a result: `next_start_at` only when more remain.
    fn info(&self, shown: usize, total: Option<u64>) -> Map<String, Value> {
        let next = u64::from(self.start_at) + shown as u64;
        let more = match total {
            Some(total) => next < total,
            None => shown == self.max_results as usize,
        };
        let mut out = Map::new();
        out.insert("start_at".into(), json!(self.start_at));
        insert(&mut out, "total", total.map_or(Value::Null, |t| json!(t)));
        insert(
            &mut out,
            "next_start_at",
            if more && shown > 0 {
                json!(next)
            } else {
                Value::Null
            },
        );
        out
    }
}

fn short(value: &Value) -> Value {
    match value.as_str() {
        Some(text) if text.chars().count() > CHANGE_VALUE_CHARS => {
            let kept: String = text.chars().take(CHANGE_VALUE_CHARS).collect();
            json!(format!("{kept}…"))
        }
        _ => value.clone(),
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
    /// Deletes an issue; its subtasks only when `delete_subtasks` is true.
    pub async fn delete_issue(&self, key: &str, delete_subtasks: bool) -> ToolResult {
        let path = format!("issue/{}", self.issue(key)?);
        let flag = if delete_subtasks { "true" } else { "false" };
        let response = self
            .jira
            .send(
                Method::DELETE,
                &self.path(&path),
                &[("deleteSubtasks", flag)],
                None,
            )
            .await?;
        let refused_for_subtasks = response.status.as_u16() == 400 && !delete_subtasks;
        match self.outcome(response, WRITE).await {
            Ok(_) => Ok(json!({"key": key, "deleted": true, "subtasks_deleted": delete_subtasks})),
            Err(mut e) if refused_for_subtasks => {
                e.message = format!(
                    "{}. If {key} has subtasks, Jira deletes it only together with them: call \
                     delete_issue again with delete_subtasks: true to delete the subtasks too",
                    e.message
                );
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Who `user` is in this deployment's terms: an account id (Cloud) or a
    /// username (Data Center); `me` is the user of these credentials.
    async fn user_id(&self, user: &str) -> Result<String, ToolError> {
        let user = user.trim();
        if user.is_empty() {
            return Err(ToolError::new(
                "give a user: an account id (Cloud), a username (Data Center) or `me`; \
                 lookup_account_id finds them",
            ));
        }
        if !user.eq_ignore_ascii_case("me") {
            return Ok(user.to_string());
        }
        let me = self.get_current_user().await?;
        me["account_id"]
            .as_str()
            .or(me["name"].as_str())
            .map(String::from)
            .ok_or_else(|| ToolError::new("Jira did not say who the current user is"))
    }

    /// The JSON key that names a user: `accountId` on Cloud, `name` on DC.
    fn user_param(&self) -> &'static str {
        match self.deployment {
            Deployment::Cloud => "accountId",
            Deployment::DataCenter => "name",
        }
    }

    /// Assigns the issue to `assignee` (`me`, an account id or username),
    /// or unassigns it when `assignee` is `None` or `none`.
    pub async fn assign_issue(&self, key: &str, assignee: Option<&str>) -> ToolResult {
        let path = format!("issue/{}/assignee", self.issue(key)?);
        let who = match assignee {
            None => None,
            Some(a) if a.trim().eq_ignore_ascii_case("none") => None,
            Some(a) => Some(self.user_id(a).await?),
        };
        let body = json!({ self.user_param(): who });
        self.request(Method::PUT, &path, &[], Some(&body), WRITE)
            .await?;
        Ok(json!({"key": key, "assignee": who}))
    }

    /// The issue's change history, oldest first, one page at a time.
    pub async fn get_issue_changelog(&self, key: &str, page: Page) -> ToolResult {
        let page = page.checked(100)?;
        let key = self.issue(key)?;
        let (entries, total) = match self.deployment {
            Deployment::Cloud => {
                let q = page.query();
                let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let answer = self
                    .request(
                        Method::GET,
                        &format!("issue/{key}/changelog"),
                        &q,
                        None,
                        READ,
                    )
                    .await?;
                let values = answer["values"].as_array().cloned().unwrap_or_default();
                (values, answer["total"].as_u64())
            }
            // Data Center has no changelog endpoint: the issue expands it whole.
            Deployment::DataCenter => {
                let answer = self
                    .request(
                        Method::GET,
                        &format!("issue/{key}"),
                        &[("expand", "changelog"), ("fields", "summary")],
                        None,
                        READ,
                    )
                    .await?;
                let all = answer["changelog"]["histories"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                (page.slice(&all).to_vec(), Some(all.len() as u64))
            }
        };
        let list: Vec<Value> = entries.iter().map(change).collect();
        let mut out = page.info(list.len(), total);
        out.insert("key".into(), json!(key));
        out.insert("changes".into(), Value::Array(list));
        Ok(Value::Object(out))
    }

    /// Creates up to 50 issues in one request; a result for each, in order.
    pub async fn batch_create_issues(&self, issues: &[NewIssue]) -> ToolResult {
        if issues.is_empty() || issues.len() > MAX_BATCH {
            return Err(ToolError::new(format!(
                "`issues` must hold 1 to {MAX_BATCH} issues, not {}; split larger batches",
                issues.len()
            )));
        }
        let updates = self.bulk_updates(issues)?;
        let body = json!({"issueUpdates": updates});
        let response = self
            .jira
            .send(Method::POST, &self.path("issue/bulk"), &[], Some(&body))
            .await?;
        let status = response.status.as_u16();
        // Jira answers 201 when some were created and 400 when none were,
        // both with `issues` and per-element `errors` (a 201 may leave out
        // an empty `errors`); any other 400 is an ordinary error.
        let answer: Option<Value> = match status {
            200 | 201 => response
                .json()
                .ok()
                .filter(|v: &Value| v["issues"].is_array()),
            400 => response
                .json()
                .ok()
                .filter(|v: &Value| v["errors"].is_array()),
            _ => None,
        };
        let Some(answer) = answer else {
            return self.outcome(response, WRITE).await;
        };
        Ok(self.bulk_results(issues.len(), &answer))
    }

    /// The `issueUpdates` of a bulk create; every item is checked first, and
    /// all problems are named at once.
    fn bulk_updates(&self, issues: &[NewIssue]) -> Result<Vec<Value>, ToolError> {
        let mut problems = Vec::new();
        let mut updates = Vec::new();
        for (index, issue) in issues.iter().enumerate() {
            match self.new_issue_fields(issue) {
                Ok(fields) => updates.push(json!({"fields": fields})),
                Err(e) => problems.push(format!("issue {index}: {}", e.message)),
            }
        }
        if problems.is_empty() {
            Ok(updates)
        } else {
            Err(ToolError::new(format!(
                "nothing was created; fix these and send the batch again: {}",
                problems.join("; ")
            )))
        }
    }

    fn new_issue_fields(&self, issue: &NewIssue) -> Result<Map<String, Value>, ToolError> {
        self.check_fields(issue.fields.as_ref())?;
        let mut fields = Map::new();
        fields.insert(
            "project".into(),
            json!({"key": self.project(&issue.project_key)?}),
        );
        fields.insert("issuetype".into(), id_or_name(&issue.issue_type));
        fields.insert("summary".into(), json!(issue.summary));
        if let Some(text) = &issue.description {
            fields.insert("description".into(), self.rich_text(text));
        }
        merge(&mut fields, issue.fields.as_ref());
        Ok(fields)
    }

    /// Maps Jira's bulk answer back onto the input: created issues come in
    /// input order, skipping the `failedElementNumber`s.
    fn bulk_results(&self, count: usize, answer: &Value) -> Value {
        let mut failures: Vec<Option<String>> = vec![None; count];
        for error in answer["errors"].as_array().into_iter().flatten() {
            let index = error["failedElementNumber"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok());
            if let Some(slot) = index.and_then(|i| failures.get_mut(i)) {
                *slot = Some(element_errors(&error["elementErrors"]));
            }
        }
        let mut created = answer["issues"].as_array().into_iter().flatten();
        let results: Vec<Value> = failures
            .into_iter()
            .enumerate()
            .map(|(index, failure)| match failure {
                Some(error) => json!({"index": index, "error": error}),
                None => match created.next() {
                    Some(issue) => {
                        let key = issue["key"].as_str().unwrap_or_default();
                        strip_nulls(
                            json!({"index": index, "key": key, "id": issue["id"], "url": self.browse(key)}),
                        )
                    }
                    None => json!({"index": index, "error": "Jira reported neither an issue nor an error for this one; search before retrying"}),
                },
            })
            .collect();
        let ok = results.iter().filter(|r| r.get("key").is_some()).count();
        json!({"created": ok, "failed": count - ok, "results": results})
    }

    /// Makes `parent_key` the parent of the issue (Cloud: `parent` field).
    /// Data Center has no `parent` field to set: an issue joins an epic
    /// through the Epic Link field, found by its type.
    pub async fn set_issue_parent(&self, key: &str, parent_key: &str) -> ToolResult {
        let key = self.issue(key)?;
        let parent = self.issue(parent_key)?;
        if key.eq_ignore_ascii_case(parent) {
            return Err(ToolError::new("an issue cannot be its own parent"));
        }
        let (field, value) = match self.deployment {
            Deployment::Cloud => ("parent".to_string(), json!({"key": parent})),
            Deployment::DataCenter => (self.epic_link_field().await?, json!(parent)),
        };
        let body = json!({"fields": {field.as_str(): value}});
        self.request(
            Method::PUT,
            &format!("issue/{key}"),
            &[],
            Some(&body),
            WRITE,
        )
        .await
        .map_err(|mut e| {
            if self.deployment == Deployment::DataCenter {
                e.message = format!(
                    "{}. On Data Center this sets the Epic Link, so the parent must be an \
                         epic; a sub-task's parent cannot be changed through the REST API (use \
                         Move in Jira)",
                    e.message
                );
            }
            e
        })?;
        Ok(json!({"key": key, "parent": parent, "field": field}))
    }

    /// The id of Data Center's Epic Link custom field (Jira Software).
    async fn epic_link_field(&self) -> Result<String, ToolError> {
        let fields = self.request(Method::GET, "field", &[], None, READ).await?;
        fields
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["schema"]["custom"] == "com.pyxis.greenhopper.jira:gh-epic-link")
            .and_then(|f| f["id"].as_str().map(String::from))
            .ok_or_else(|| {
                ToolError::new(
                    "this Data Center instance has no Epic Link field (Jira Software is not \
                     installed), so an issue's parent cannot be set here; a sub-task's parent \
                     cannot be changed through the REST API either (use Move in Jira)",
                )
            })
    }

    /// Who watches the issue.
    pub async fn get_watchers(&self, key: &str) -> ToolResult {
        let answer = self
            .request(
                Method::GET,
                &format!("issue/{}/watchers", self.issue(key)?),
                &[],
                None,
                READ,
            )
            .await?;
        let list = answer["watchers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(user);
        Ok(json!({
            "key": key, "watch_count": answer["watchCount"], "is_watching": answer["isWatching"],
            "watchers": list.collect::<Vec<_>>(),
        }))
    }

    /// Adds `watcher` (`me`, an account id or a username) to the watchers.
    pub async fn add_watcher(&self, key: &str, watcher: &str) -> ToolResult {
        let path = format!("issue/{}/watchers", self.issue(key)?);
        let who = self.user_id(watcher).await?;
        // The body is the bare JSON string.
        let body = Value::String(who.clone());
        self.request(Method::POST, &path, &[], Some(&body), WRITE)
            .await?;
        Ok(json!({"key": key, "watcher": who, "watching": true}))
    }

    /// Removes `watcher` (`me`, an account id or a username) from the watchers.
    pub async fn remove_watcher(&self, key: &str, watcher: &str) -> ToolResult {
        let path = format!("issue/{}/watchers", self.issue(key)?);
        let who = self.user_id(watcher).await?;
        let param = match self.deployment {
            Deployment::Cloud => "accountId",
            Deployment::DataCenter => "username",
        };
        self.request(Method::DELETE, &path, &[(param, &who)], None, WRITE)
            .await?;
        Ok(json!({"key": key, "watcher": who, "watching": false}))
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

/// One changelog entry: who, when, and each field's change as text.
fn change(entry: &Value) -> Value {
    let items = entry["items"].as_array().into_iter().flatten().map(|i| {
        strip_nulls(json!({
            "field": i["field"],
            "from": short(&i["fromString"]),
            "to": short(&i["toString"]),
        }))
    });
    strip_nulls(json!({
        "id": entry["id"], "author": user(&entry["author"]), "created": entry["created"],
        "items": items.collect::<Vec<_>>(),
    }))
}

/// A bulk element's `errorMessages` and field `errors`, as one line.
fn element_errors(errors: &Value) -> String {
    let mut parts: Vec<String> = errors["errorMessages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(String::from))
        .collect();
    if let Some(fields) = errors["errors"].as_object() {
        parts.extend(
            fields
                .iter()
                .map(|(field, msg)| format!("{field}: {}", msg.as_str().unwrap_or_default())),
        );
    }
    if parts.is_empty() {
        "Jira gave no details".into()
    } else {
        parts.join("; ")
    }
}
