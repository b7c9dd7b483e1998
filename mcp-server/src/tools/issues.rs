//! The `issues` toolset (`catalog::Toolset::Issues`): reading, searching,
//! creating, editing, moving and deleting issues; transitions, watchers,
//! parents, changelogs, fields.
//!
//! One place per tool: its arguments, its `#[tool_router]` method, and its
//! Jira requests (methods of [`JiraClient`], on the shared core in `jira.rs`).

use reqwest::Method;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{IssueKey, page};
use crate::bounds::{DEFAULT_TEXT_CHARS, MAX_TEXT_CHARS, TextLimit};
use crate::config::Deployment;
use crate::jira::{
    JiraClient, Page, READ, SEARCH_FIELDS, ToolResult, WRITE, change, comments, encode, field_list,
    insert, required_text, strip_nulls, text_or_null, user,
};
use crate::server::JiraMcp;
use crate::tool_error::ToolError;
use crate::{input, jql};

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

/// The fields `get_issue` returns unless asked for more.
const ISSUE_FIELDS: [&str; 13] = [
    "summary",
    "status",
    "issuetype",
    "priority",
    "assignee",
    "reporter",
    "labels",
    "created",
    "updated",
    "project",
    "parent",
    "description",
    "comment",
];

fn id_or_name(value: &str) -> Value {
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
        json!({"id": value})
    } else {
        json!({"name": value})
    }
}

fn merge(fields: &mut Map<String, Value>, extra: Option<&Map<String, Value>>) {
    for (k, v) in extra.into_iter().flatten() {
        fields.insert(k.clone(), v.clone());
    }
}

/// The most issues one `batch_create_issues` call may create (Jira's bulk
/// endpoint takes 50).
pub const MAX_BATCH: usize = 50;

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

/// Pages of create metadata read while looking for one field.
const CREATEMETA_PAGES: u32 = 5;

/// Fields per page of create metadata.
const CREATEMETA_PAGE: u32 = 200;

fn field_entry(f: &Value) -> Value {
    strip_nulls(json!({
        "id": f["id"], "name": f["name"], "custom": f["custom"],
        "type": f["schema"]["type"], "items": f["schema"]["items"],
        "jql": f["clauseNames"].as_array().and_then(|c| c.first()).cloned(),
    }))
}

/// One allowed value: options have `value`, most others `name`; cascading
/// selects carry their child options.
fn option_entry(v: &Value) -> Value {
    let children: Vec<Value> = v["children"]
        .as_array()
        .into_iter()
        .flatten()
        .map(option_entry)
        .collect();
    let mut out = strip_nulls(json!({
        "id": v["id"].clone(), "value": v.get("value").or_else(|| v.get("name")).cloned(),
        "released": v["released"], "archived": v["archived"],
    }));
    if v["disabled"] == true {
        out["disabled"] = json!(true);
    }
    if !children.is_empty() {
        out["children"] = Value::Array(children);
    }
    out
}

/// What to give a field that lists no allowed values.
fn free_input_note(meta: &Value) -> String {
    let kind = meta["schema"]["type"].as_str().unwrap_or("value");
    let items = meta["schema"]["items"].as_str();
    match (kind, items) {
        ("user", _) | ("array", Some("user")) => {
            "this field takes users, not a fixed list: find them with search_users (give \
             project_key to get only assignable users)"
                .into()
        }
        _ => format!(
            "this field has no fixed list of values on the create screen; it takes {}",
            match items {
                Some(item) => format!("a list of {item}"),
                None => format!("a {kind}"),
            }
        ),
    }
}

/// True when `field` names this create-metadata field (id, key or name).
fn names_field(meta: &Value, field: &str) -> bool {
    ["fieldId", "key", "name"].iter().any(|k| {
        meta[*k]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(field))
    })
}

/// How well `query` matches a field, best first: 0 exact name or id, 1
/// prefix, 2 substring (name, id, JQL name or schema type), 3 subsequence of
/// the name or a small edit distance. `None` when it does not match.
pub(crate) fn field_rank(query: &str, field: &Value) -> Option<u8> {
    let q = query.trim().to_lowercase();
    let lower = |v: &Value| v.as_str().map(str::to_lowercase);
    let name = lower(&field["name"]).unwrap_or_default();
    let id = lower(&field["id"]).unwrap_or_default();
    let mut names = vec![name.clone(), id.clone()];
    names.extend(
        field["clauseNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(lower),
    );
    if names.contains(&q) {
        return Some(0);
    }
    if names.iter().any(|n| n.starts_with(&q)) {
        return Some(1);
    }
    let types = [
        &field["schema"]["type"],
        &field["schema"]["items"],
        &field["schema"]["custom"],
    ];
    if names.iter().any(|n| n.contains(&q))
        || types
            .iter()
            .filter_map(|t| lower(t))
            .any(|t| t.contains(&q))
    {
        return Some(2);
    }
    if is_subsequence(&q, &name) || close(&q, &name) {
        return Some(3);
    }
    None
}

fn is_subsequence(needle: &str, hay: &str) -> bool {
    let mut hay = hay.chars();
    needle
        .chars()
        .filter(|c| !c.is_whitespace())
        .all(|c| hay.any(|h| h == c))
}

/// A typo away: an edit distance of at most a quarter of the query (at
/// least 1) from the name or from one of its words.
fn close(query: &str, name: &str) -> bool {
    let allowed = (query.chars().count() / 4).max(1);
    std::iter::once(name)
        .chain(name.split_whitespace())
        .any(|candidate| edit_distance(query, candidate) <= allowed)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

impl JiraClient {
    /// One issue, concisely, with its description and newest comments; each
    /// text field cut at `max_text` characters (with a marker).
    pub async fn get_issue(&self, key: &str, fields: &[String], max_text: u32) -> ToolResult {
        let limit = TextLimit {
            chars: input::in_range("max_text_length", max_text, 1..=MAX_TEXT_CHARS)?,
            tool: "get_issue",
            issue_key: key,
        };
        let wanted = field_list(&ISSUE_FIELDS, fields);
        let issue = self
            .request(
                Method::GET,
                &format!("issue/{}", self.issue(key)?),
                &[("fields", &wanted)],
                None,
                READ,
            )
            .await?;
        let mut out = self.summarize(&issue, fields, limit);
        let f = &issue["fields"];
        insert(
            &mut out,
            "description",
            limit.value(text_or_null(&f["description"])),
        );
        insert(&mut out, "reporter", user(&f["reporter"]));
        insert(&mut out, "labels", f["labels"].clone());
        insert(&mut out, "created", f["created"].clone());
        insert(&mut out, "parent", f["parent"]["key"].clone());
        insert(&mut out, "comments", comments(&f["comment"], limit));
        Ok(Value::Object(out))
    }

    /// Searches with JQL: Cloud pages with `nextPageToken`, Data Center with `startAt`.
    pub async fn search_issues(
        &self,
        jql: &str,
        fields: &[String],
        max_results: u32,
        next_page_token: Option<&str>,
    ) -> ToolResult {
        let wanted: Vec<String> = field_list(&SEARCH_FIELDS, fields)
            .split(',')
            .map(String::from)
            .collect();
        let max = input::in_range("max_results", max_results, 1..=100)?;
        let scoped;
        let jql = match &self.projects {
            Some(allowed) => {
                scoped = jql::scoped(jql, allowed)?;
                scoped.as_str()
            }
            None => jql,
        };
        let (page, next) = match self.deployment {
            Deployment::Cloud => {
                let mut body = json!({"jql": jql, "fields": wanted, "maxResults": max});
                if let Some(token) = next_page_token {
                    body["nextPageToken"] = json!(token);
                }
                let page = self
                    .request(Method::POST, "search/jql", &[], Some(&body), READ)
                    .await?;
                let next = page["nextPageToken"].as_str().map(String::from);
                (page, next)
            }
            Deployment::DataCenter => {
                let start: u64 = match next_page_token {
                    Some(t) => t.parse().map_err(|_| ToolError::new(format!("next_page_token `{t}` is not one this server returned; start without it")))?,
                    None => 0,
                };
                let body =
                    json!({"jql": jql, "fields": wanted, "maxResults": max, "startAt": start});
                let page = self
                    .request(Method::POST, "search", &[], Some(&body), READ)
                    .await?;
                let count = page["issues"].as_array().map_or(0, Vec::len) as u64;
                let total = page["total"].as_u64().unwrap_or(0);
                let next =
                    (start + count < total && count > 0).then(|| (start + count).to_string());
                (page, next)
            }
        };
        let issues: Vec<Value> = page["issues"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let limit = TextLimit {
                    chars: DEFAULT_TEXT_CHARS,
                    tool: "get_issue",
                    issue_key: i["key"].as_str().unwrap_or_default(),
                };
                Value::Object(self.summarize(i, fields, limit))
            })
            .collect();
        let mut out = Map::new();
        insert(&mut out, "issues", Value::Array(issues));
        insert(&mut out, "is_last", json!(next.is_none()));
        insert(
            &mut out,
            "next_page_token",
            next.map_or(Value::Null, Value::String),
        );
        if let Some(total) = page["total"].as_u64() {
            insert(&mut out, "total", json!(total));
        }
        Ok(Value::Object(out))
    }

    /// Creates an issue; `description` is Markdown or plain text.
    pub async fn create_issue(
        &self,
        project_key: &str,
        issue_type: &str,
        summary: &str,
        description: Option<&str>,
        extra: Option<&Map<String, Value>>,
    ) -> ToolResult {
        self.check_fields(extra)?;
        let mut fields = Map::new();
        fields.insert("project".into(), json!({"key": self.project(project_key)?}));
        fields.insert("issuetype".into(), id_or_name(issue_type));
        fields.insert("summary".into(), json!(summary));
        if let Some(text) = description {
            fields.insert("description".into(), self.rich_text(text));
        }
        merge(&mut fields, extra);
        let created = self
            .request(
                Method::POST,
                "issue",
                &[],
                Some(&json!({"fields": fields})),
                WRITE,
            )
            .await?;
        let key = created["key"].as_str().unwrap_or_default().to_string();
        Ok(json!({"key": key, "id": created["id"], "url": self.browse(&key)}))
    }

    /// Updates an issue's summary, description or other fields.
    pub async fn edit_issue(
        &self,
        key: &str,
        summary: Option<&str>,
        description: Option<&str>,
        extra: Option<&Map<String, Value>>,
    ) -> ToolResult {
        self.check_fields(extra)?;
        let mut fields = Map::new();
        if let Some(summary) = summary {
            fields.insert("summary".into(), json!(summary));
        }
        if let Some(text) = description {
            fields.insert("description".into(), self.rich_text(text));
        }
        merge(&mut fields, extra);
        if fields.is_empty() {
            return Err(ToolError::new(
                "nothing to change: give summary, description or fields",
            ));
        }
        self.request(
            Method::PUT,
            &format!("issue/{}", self.issue(key)?),
            &[],
            Some(&json!({"fields": fields})),
            WRITE,
        )
        .await?;
        Ok(json!({"key": key, "updated": fields.keys().collect::<Vec<_>>()}))
    }

    /// The transitions available from the issue's current status.
    pub async fn get_transitions(&self, key: &str) -> ToolResult {
        let answer = self
            .request(
                Method::GET,
                &format!("issue/{}/transitions", self.issue(key)?),
                &[],
                None,
                READ,
            )
            .await?;
        let list = answer["transitions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| json!({"id": t["id"], "name": t["name"], "to_status": t["to"]["name"]}));
        Ok(json!({"key": key, "transitions": list.collect::<Vec<_>>()}))
    }

    /// Moves the issue through a transition given by id or name.
    pub async fn transition_issue(
        &self,
        key: &str,
        transition: &str,
        comment: Option<&str>,
    ) -> ToolResult {
        let available = self.get_transitions(key).await?;
        let list = available["transitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let matches = |t: &&Value| {
            t["id"].as_str() == Some(transition)
                || t["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(transition))
                || t["to_status"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(transition))
        };
        let Some(chosen) = list.iter().find(matches) else {
            let names: Vec<String> = list
                .iter()
                .map(|t| {
                    format!(
                        "{} (id {})",
                        t["name"].as_str().unwrap_or("?"),
                        t["id"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            return Err(ToolError::new(format!(
                "`{transition}` is not a transition available for {key}; choose one of: {}",
                names.join(", ")
            )));
        };
        let mut body = json!({"transition": {"id": chosen["id"]}});
        if let Some(text) = comment {
            body["update"] = json!({"comment": [{"add": {"body": self.rich_text(text)}}]});
        }
        self.request(
            Method::POST,
            &format!("issue/{}/transitions", self.issue(key)?),
            &[],
            Some(&body),
            WRITE,
        )
        .await?;
        Ok(json!({"key": key, "transition": chosen["name"], "status": chosen["to_status"]}))
    }

    /// The fields of the create screen for an issue type (by id or name).
    pub async fn get_create_fields(&self, project_key: &str, issue_type: &str) -> ToolResult {
        let type_id = self.issue_type_id(project_key, issue_type).await?;
        let path = format!(
            "issue/createmeta/{}/issuetypes/{}",
            self.project(project_key)?,
            encode(&type_id)
        );
        let answer = self
            .request(Method::GET, &path, &[("maxResults", "200")], None, READ)
            .await?;
        let fields = answer
            .get("fields")
            .or_else(|| answer.get("values"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let list = fields.iter().map(|f| {
            let allowed: Vec<Value> = f["allowedValues"].as_array().into_iter().flatten().take(50).map(|v| v.get("name").or_else(|| v.get("value")).cloned().unwrap_or(Value::Null)).collect();
            let mut out = json!({"field_id": f["fieldId"], "name": f["name"], "required": f["required"], "type": f["schema"]["type"]});
            if !allowed.is_empty() {
                out["allowed_values"] = Value::Array(allowed);
            }
            out
        });
        Ok(
            json!({"project_key": project_key, "issue_type_id": type_id, "fields": list.collect::<Vec<_>>()}),
        )
    }

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

    /// Fields whose name, id or type match `query`, best matches first.
    pub async fn search_fields(&self, query: &str, max_results: u32) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=100)? as usize;
        let query = required_text("query", query, 255)?;
        let all = self.request(Method::GET, "field", &[], None, READ).await?;
        let fields = all.as_array().cloned().unwrap_or_default();
        let mut ranked: Vec<(u8, &Value)> = fields
            .iter()
            .filter_map(|f| field_rank(query, f).map(|rank| (rank, f)))
            .collect();
        ranked.sort_by_key(|(rank, f)| {
            let name = f["name"].as_str().unwrap_or_default();
            (*rank, name.len(), name.to_lowercase())
        });
        let total = ranked.len();
        let list: Vec<Value> = ranked
            .iter()
            .take(max)
            .map(|(_, f)| field_entry(f))
            .collect();
        Ok(json!({"query": query, "total_matches": total, "fields": list}))
    }

    /// The values a field allows when creating an issue of a type in a project.
    pub async fn get_field_options(
        &self,
        project_key: &str,
        issue_type: &str,
        field: &str,
        max_results: u32,
    ) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=1000)? as usize;
        let field = required_text("field", field, 255)?;
        let project = self.project(project_key)?;
        let type_id = self.issue_type_id(project, issue_type).await?;
        let (found, names) = self.createmeta_field(project, &type_id, field).await?;
        let Some(meta) = found else {
            return Err(ToolError::new(format!(
                "the create screen of issue type `{issue_type}` in {project} has no field \
                 `{field}`; it has: {}. search_fields finds a field's id by name",
                names.join(", ")
            )));
        };
        let values = meta["allowedValues"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut out = json!({
            "project_key": project, "issue_type_id": type_id, "field_id": meta["fieldId"],
            "name": meta["name"], "type": meta["schema"]["type"], "required": meta["required"],
            "total": values.len(),
            "allowed_values": values.iter().take(max).map(option_entry).collect::<Vec<_>>(),
        });
        if values.len() > max {
            out["truncated"] = json!(format!(
                "{} more not shown; raise max_results (up to 1000)",
                values.len() - max
            ));
        }
        if values.is_empty() {
            out["note"] = json!(free_input_note(&meta));
        }
        if let Some(default) = meta.get("defaultValue") {
            out["default"] = option_entry(default);
        }
        Ok(out)
    }

    /// Looks for `field` (id, key or name) in the create metadata, page by
    /// page; returns it, or the names seen for the error message.
    async fn createmeta_field(
        &self,
        project: &str,
        type_id: &str,
        field: &str,
    ) -> Result<(Option<Value>, Vec<String>), ToolError> {
        let tail = format!("issue/createmeta/{project}/issuetypes/{}", encode(type_id));
        let mut names = Vec::new();
        let page_size = CREATEMETA_PAGE.to_string();
        for page in 0..CREATEMETA_PAGES {
            let start = (page * CREATEMETA_PAGE).to_string();
            let q = [
                ("startAt", start.as_str()),
                ("maxResults", page_size.as_str()),
            ];
            let answer = self.request(Method::GET, &tail, &q, None, READ).await?;
            let fields = answer
                .get("fields")
                .or_else(|| answer.get("values"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(hit) = fields.iter().find(|f| names_field(f, field)) {
                return Ok((Some(hit.clone()), names));
            }
            names.extend(
                fields
                    .iter()
                    .filter_map(|f| f["name"].as_str().map(String::from)),
            );
            let seen = u64::from(page + 1) * u64::from(CREATEMETA_PAGE);
            let total = answer["total"].as_u64().unwrap_or(0);
            if fields.is_empty() || answer["isLast"] == true || seen >= total {
                break;
            }
        }
        Ok((None, names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(id: &str, name: &str, kind: &str) -> Value {
        json!({"id": id, "name": name, "schema": {"type": kind}, "clauseNames": [name.to_lowercase()]})
    }

    #[test]
    fn exact_beats_prefix_beats_substring_beats_fuzzy() {
        let points = field("customfield_10016", "Story Points", "number");
        assert_eq!(field_rank("story points", &points), Some(0));
        assert_eq!(field_rank("customfield_10016", &points), Some(0));
        assert_eq!(field_rank("story", &points), Some(1));
        assert_eq!(field_rank("points", &points), Some(2));
        assert_eq!(field_rank("number", &points), Some(2));
        assert_eq!(field_rank("stry pnts", &points), Some(3));
        assert_eq!(field_rank("storry", &points), Some(3));
        assert_eq!(field_rank("sprint", &points), None);
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("epic", "epic"), 0);
    }
}
