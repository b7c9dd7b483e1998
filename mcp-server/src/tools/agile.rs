//! The `agile` toolset (`catalog::Toolset::Agile`): Jira Software boards, backlogs and sprints.
//!
//! One place per tool: its arguments, its `#[tool_router]` method, and its
//! Jira requests (methods of [`JiraClient`], on the shared core in `jira.rs`).

use reqwest::Method;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::bounds::{DEFAULT_TEXT_CHARS, TextLimit};
use crate::jira::{
    IssuePage, JiraClient, READ, SEARCH_FIELDS, ToolResult, WRITE, field_list, insert, paging,
    sprint, strip_nulls,
};
use crate::server::JiraMcp;
use crate::tool_error::ToolError;
use crate::{input, jql};

/// Arguments of `list_boards`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListBoards {
    /// Only boards of this project (key like `ED`, or numeric id).
    #[serde(default)]
    pub project_key: Option<String>,
    /// Only boards of this type: `scrum`, `kanban` or `simple` (Cloud team-managed).
    #[serde(default)]
    pub board_type: Option<String>,
    /// Only boards whose name contains this text.
    #[serde(default)]
    pub name: Option<String>,
    /// Boards per page (1 to 50, default 50).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Where the page starts (the `next_start_at` of the previous page; default 0).
    #[serde(default)]
    pub start_at: Option<u32>,
}

/// Arguments of `get_board_issues` and `get_backlog_issues`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BoardIssues {
    /// The board id, from `list_boards`.
    pub board_id: u64,
    /// JQL to narrow the issues further, e.g. `assignee = currentUser()`.
    #[serde(default)]
    pub jql: Option<String>,
    /// Extra fields to return for each issue beyond summary, status, type, priority, assignee and updated.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Issues per page (1 to 100, default 50).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Where the page starts (the `next_start_at` of the previous page; default 0).
    #[serde(default)]
    pub start_at: Option<u32>,
}

/// Arguments of `list_sprints`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListSprints {
    /// The board id, from `list_boards` (a scrum board: kanban boards have no sprints).
    pub board_id: u64,
    /// Only sprints in these states: `future`, `active`, `closed` (default: all).
    #[serde(default)]
    pub states: Vec<String>,
    /// Sprints per page (1 to 50, default 50).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Where the page starts (the `next_start_at` of the previous page; default 0).
    #[serde(default)]
    pub start_at: Option<u32>,
}

/// Arguments of `get_sprint_issues`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SprintIssues {
    /// The sprint id, from `list_sprints`.
    pub sprint_id: u64,
    /// JQL to narrow the issues further, e.g. `status != Done`.
    #[serde(default)]
    pub jql: Option<String>,
    /// Extra fields to return for each issue beyond summary, status, type, priority, assignee and updated.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Issues per page (1 to 100, default 50).
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Where the page starts (the `next_start_at` of the previous page; default 0).
    #[serde(default)]
    pub start_at: Option<u32>,
}

/// Arguments of `create_sprint`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateSprint {
    /// The sprint name, e.g. `ED Sprint 12`.
    pub name: String,
    /// The board the sprint belongs to, from `list_boards`.
    pub board_id: u64,
    /// When it starts: ISO 8601, e.g. `2026-12-01T09:00:00.000Z`.
    #[serde(default)]
    pub start_date: Option<String>,
    /// When it ends: ISO 8601, e.g. `2026-12-14T17:00:00.000Z`.
    #[serde(default)]
    pub end_date: Option<String>,
    /// The sprint goal (plain text).
    #[serde(default)]
    pub goal: Option<String>,
}

/// Arguments of `update_sprint`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateSprint {
    /// The sprint id, from `list_sprints`.
    pub sprint_id: u64,
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new start date: ISO 8601, e.g. `2026-12-01T09:00:00.000Z`.
    #[serde(default)]
    pub start_date: Option<String>,
    /// A new end date: ISO 8601.
    #[serde(default)]
    pub end_date: Option<String>,
    /// A new goal (plain text).
    #[serde(default)]
    pub goal: Option<String>,
    /// `active` to start a future sprint (it needs start and end dates), `closed` to complete an active one. A closed sprint cannot be reopened.
    #[serde(default)]
    pub state: Option<String>,
}

/// Arguments of `move_issues_to_sprint`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct MoveIssuesToSprint {
    /// The sprint id, from `list_sprints`.
    pub sprint_id: u64,
    /// The issue keys to move (1 to 50), e.g. `["ED-1", "ED-2"]`.
    pub issue_keys: Vec<String>,
}

/// Issues per page of an agile issue list unless asked otherwise.
const DEFAULT_AGILE_PAGE: u32 = 50;

#[tool_router(router = agile_router, vis = "pub(crate)")]
impl JiraMcp {
    /// Lists Jira Software boards (scrum, kanban), optionally of one project or type, with their ids for the other agile tools. Same on Cloud and Data Center (`/rest/agile/1.0`); `simple` boards exist only on Cloud. With a project allowlist, boards of other projects are hidden.
    #[tool(annotations(title = "List boards", read_only_hint = true, open_world_hint = true))]
    async fn list_boards(
        &self,
        Parameters(a): Parameters<ListBoards>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.list_boards(
                a.project_key.as_deref(),
                a.board_type.as_deref(),
                a.name.as_deref(),
                a.start_at.unwrap_or(0),
                a.max_results.unwrap_or(50),
            )
            .await
        })
        .await
    }

    /// Lists the issues on a board (every column), optionally narrowed by JQL, concise like search results; page with `start_at`. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Get board issues",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_board_issues(
        &self,
        Parameters(a): Parameters<BoardIssues>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.get_board_issues(
                a.board_id,
                a.jql.as_deref(),
                &a.fields,
                a.start_at.unwrap_or(0),
                a.max_results.unwrap_or(DEFAULT_AGILE_PAGE),
            )
            .await
        })
        .await
    }

    /// Lists the issues in a board's backlog (in no active or future sprint), in rank order, optionally narrowed by JQL; page with `start_at`. Same on Cloud and Data Center; kanban boards have a backlog only when it is enabled.
    #[tool(annotations(
        title = "Get backlog issues",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_backlog_issues(
        &self,
        Parameters(a): Parameters<BoardIssues>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.get_backlog_issues(
                a.board_id,
                a.jql.as_deref(),
                &a.fields,
                a.start_at.unwrap_or(0),
                a.max_results.unwrap_or(DEFAULT_AGILE_PAGE),
            )
            .await
        })
        .await
    }

    /// Lists a scrum board's sprints (id, name, state, dates, goal), optionally only future, active or closed ones. Same on Cloud and Data Center.
    #[tool(annotations(title = "List sprints", read_only_hint = true, open_world_hint = true))]
    async fn list_sprints(
        &self,
        Parameters(a): Parameters<ListSprints>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.list_sprints(
                a.board_id,
                &a.states,
                a.start_at.unwrap_or(0),
                a.max_results.unwrap_or(50),
            )
            .await
        })
        .await
    }

    /// Lists the issues in a sprint, optionally narrowed by JQL, concise like search results; page with `start_at`. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Get sprint issues",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_sprint_issues(
        &self,
        Parameters(a): Parameters<SprintIssues>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.get_sprint_issues(
                a.sprint_id,
                a.jql.as_deref(),
                &a.fields,
                a.start_at.unwrap_or(0),
                a.max_results.unwrap_or(DEFAULT_AGILE_PAGE),
            )
            .await
        })
        .await
    }

    /// Creates a future sprint on a scrum board, with optional dates (ISO 8601) and goal. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Create sprint",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn create_sprint(
        &self,
        Parameters(a): Parameters<CreateSprint>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.create_sprint(
                &a.name,
                a.board_id,
                a.start_date.as_deref(),
                a.end_date.as_deref(),
                a.goal.as_deref(),
            )
            .await
        })
        .await
    }

    /// Changes a sprint: rename, new dates or goal, start it (`state: active`, needs dates) or complete it (`state: closed`). A closed sprint cannot be reopened; only its name and goal can change. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Update sprint",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn update_sprint(
        &self,
        Parameters(a): Parameters<UpdateSprint>,
    ) -> Result<CallToolResult, McpError> {
        let change = SprintChange {
            name: a.name,
            start_date: a.start_date,
            end_date: a.end_date,
            goal: a.goal,
            state: a.state,
        };
        self.with_jira(|j| async move { j.update_sprint(a.sprint_id, change).await })
            .await
    }

    /// Moves up to 50 issues into a sprint (taking them out of any other sprint). Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Move issues to sprint",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn move_issues_to_sprint(
        &self,
        Parameters(a): Parameters<MoveIssuesToSprint>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.move_issues_to_sprint(a.sprint_id, &a.issue_keys).await })
            .await
    }
}

/// The Jira Software REST API, the same on Cloud and Data Center.
const AGILE_API: &str = "rest/agile/1.0";

/// Jira takes at most 50 issues per "move issues to sprint" request.
pub const MAX_SPRINT_ISSUES: usize = 50;

/// Board types the agile API knows (`simple` is Cloud's team-managed board).
const BOARD_TYPES: [&str; 3] = ["scrum", "kanban", "simple"];

/// Sprint states the agile API knows.
const SPRINT_STATES: [&str; 3] = ["future", "active", "closed"];

/// What `update_sprint` changes; `None` leaves a value as it is.
#[derive(Debug, Default, Clone)]
pub struct SprintChange {
    /// A new name.
    pub name: Option<String>,
    /// A new start date (ISO 8601).
    pub start_date: Option<String>,
    /// A new end date (ISO 8601).
    pub end_date: Option<String>,
    /// A new goal.
    pub goal: Option<String>,
    /// `active` to start the sprint, `closed` to complete it.
    pub state: Option<String>,
}

/// `rest/agile/1.0/{tail}`: the agile sibling of [`JiraClient::path`].
fn agile_path(tail: &str) -> String {
    format!("{AGILE_API}/{tail}")
}

/// The concise form of a board.
fn board(b: &Value) -> Value {
    strip_nulls(json!({
        "id": b["id"], "name": b["name"], "type": b["type"],
        "project": b["location"]["projectKey"],
    }))
}

fn positive(name: &str, id: u64) -> Result<u64, ToolError> {
    if id == 0 {
        return Err(ToolError::new(format!(
            "`{name}` must be a positive number (list_boards and list_sprints show ids)"
        )));
    }
    Ok(id)
}

/// `value` (any case) if it is one of `allowed`, in Jira's lower case.
fn one_of(name: &str, value: &str, allowed: &[&'static str]) -> Result<&'static str, ToolError> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value.trim()))
        .copied()
        .ok_or_else(|| {
            ToolError::new(format!(
                "`{name}` must be one of {}, not `{}`",
                allowed.join(", "),
                value.chars().take(40).collect::<String>()
            ))
        })
}

fn sprint_name(name: &str) -> Result<&str, ToolError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ToolError::new("the sprint `name` must not be empty"));
    }
    Ok(name)
}

/// An ISO 8601 date or date-time (`2026-12-01`, `2026-12-01T09:00:00.000+01:00`);
/// Jira's own parse errors are vague, so the form is checked here.
fn iso_date<'d>(name: &str, value: &'d str) -> Result<&'d str, ToolError> {
    let bytes = value.as_bytes();
    let date_ok = bytes.len() >= 10
        && bytes[..10].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let time_ok = bytes.len() == 10
        || (bytes.get(10) == Some(&b'T')
            && value[11..]
                .chars()
                .all(|c| c.is_ascii_digit() || ":.+-Z".contains(c)));
    if date_ok && time_ok {
        Ok(value)
    } else {
        Err(ToolError::new(format!(
            "`{name}` must be an ISO 8601 date or date-time like `2026-12-01T09:00:00.000Z`, not `{}`",
            value.chars().take(40).collect::<String>()
        )))
    }
}

/// The partial-update body of `update_sprint`; refuses an empty change.
fn change_body(change: &SprintChange) -> Result<Value, ToolError> {
    let mut body = Map::new();
    if let Some(name) = &change.name {
        body.insert("name".into(), json!(sprint_name(name)?));
    }
    if let Some(date) = &change.start_date {
        body.insert("startDate".into(), json!(iso_date("start_date", date)?));
    }
    if let Some(date) = &change.end_date {
        body.insert("endDate".into(), json!(iso_date("end_date", date)?));
    }
    if let Some(goal) = &change.goal {
        body.insert("goal".into(), json!(goal));
    }
    if let Some(state) = &change.state {
        let state = one_of("state", state, &["active", "closed"]).map_err(|_| {
            ToolError::new(format!(
                "`state` must be `active` (start the sprint) or `closed` (complete it), not `{}`",
                state.chars().take(40).collect::<String>()
            ))
        })?;
        body.insert("state".into(), json!(state));
    }
    if body.is_empty() {
        return Err(ToolError::new(
            "nothing to change: give name, start_date, end_date, goal or state",
        ));
    }
    Ok(Value::Object(body))
}

/// Jira's sprint life cycle: future → active → closed, never back.
fn check_transition(
    sprint_id: u64,
    current: &Value,
    change: &SprintChange,
) -> Result<(), ToolError> {
    let now = current["state"].as_str().unwrap_or_default();
    let wanted = change.state.as_deref().map(str::to_ascii_lowercase);
    match (now, wanted.as_deref()) {
        // Jira ignores other changes to a closed sprint, so they are refused
        // rather than reported as done.
        ("closed", Some(_)) => Err(ToolError::new(format!(
            "sprint {sprint_id} is closed; a closed sprint cannot be reopened. Create a new \
             sprint instead"
        ))),
        ("closed", None) if change.start_date.is_some() || change.end_date.is_some() => {
            Err(ToolError::new(format!(
                "sprint {sprint_id} is closed; only its name and goal can change"
            )))
        }
        ("future", Some("closed")) => Err(ToolError::new(format!(
            "sprint {sprint_id} has not started; start it (state `active`) before closing it"
        ))),
        ("active", Some("active")) => Err(ToolError::new(format!(
            "sprint {sprint_id} is already active"
        ))),
        ("future", Some("active")) => {
            let has = |new: &Option<String>, old: &str| new.is_some() || current[old].is_string();
            if has(&change.start_date, "startDate") && has(&change.end_date, "endDate") {
                Ok(())
            } else {
                Err(ToolError::new(format!(
                    "sprint {sprint_id} needs a start_date and an end_date to start; give them \
                     with state `active`"
                )))
            }
        }
        _ => Ok(()),
    }
}

impl JiraClient {
    async fn agile(
        &self,
        method: Method,
        tail: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        scope: &str,
    ) -> ToolResult {
        let response = self
            .jira
            .send(method, &agile_path(tail), query, body)
            .await?;
        self.outcome(response, scope).await
    }

    /// True when the allowlist (if any) admits a board's project.
    fn board_reachable(&self, board: &Value) -> bool {
        match (&self.projects, board["location"]["projectKey"].as_str()) {
            (None, _) => true,
            (Some(allowed), Some(key)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(key)),
            (Some(_), None) => false,
        }
    }

    /// With an allowlist, refuses a board outside it (one request); without
    /// one, sends nothing.
    async fn check_board(&self, board_id: u64) -> Result<(), ToolError> {
        let Some(allowed) = &self.projects else {
            return Ok(());
        };
        let board = self
            .agile(Method::GET, &format!("board/{board_id}"), &[], None, READ)
            .await?;
        if self.board_reachable(&board) {
            return Ok(());
        }
        Err(ToolError::new(format!(
            "board {board_id} belongs to {}, outside the projects this server may reach: {} \
             (JIRA_MCP_PROJECTS)",
            board["location"]["projectKey"]
                .as_str()
                .map_or_else(|| "no project".to_string(), |k| format!("project `{k}`")),
            allowed.join(", ")
        )))
    }

    /// Boards, optionally of one project or type, hiding boards outside the
    /// project allowlist.
    pub async fn list_boards(
        &self,
        project_key: Option<&str>,
        board_type: Option<&str>,
        name: Option<&str>,
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=50)?.to_string();
        let start = start_at.to_string();
        let mut query = vec![("startAt", start.as_str()), ("maxResults", max.as_str())];
        if let Some(key) = project_key {
            query.push(("projectKeyOrId", self.project(key)?));
        }
        if let Some(kind) = board_type {
            query.push(("type", one_of("board_type", kind, &BOARD_TYPES)?));
        }
        if let Some(text) = name {
            query.push(("name", text));
        }
        let page = self.agile(Method::GET, "board", &query, None, READ).await?;
        let all = page["values"].as_array().cloned().unwrap_or_default();
        let boards: Vec<Value> = all
            .iter()
            .filter(|b| self.board_reachable(b))
            .map(board)
            .collect();
        let hidden = all.len() - boards.len();
        let mut out = paging(&page, start_at, all.len());
        insert(&mut out, "boards", Value::Array(boards));
        if hidden > 0 {
            out.insert("hidden_outside_allowed_projects".into(), json!(hidden));
        }
        Ok(Value::Object(out))
    }

    /// The issues on a board (all its columns), optionally filtered by JQL.
    pub async fn get_board_issues(
        &self,
        board_id: u64,
        jql: Option<&str>,
        fields: &[String],
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let board_id = positive("board_id", board_id)?;
        self.issue_page(IssuePage {
            tail: format!("board/{board_id}/issue"),
            jql,
            fields,
            start_at,
            max_results,
        })
        .await
    }

    /// The issues in a board's backlog (not in an active or future sprint).
    pub async fn get_backlog_issues(
        &self,
        board_id: u64,
        jql: Option<&str>,
        fields: &[String],
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let board_id = positive("board_id", board_id)?;
        self.issue_page(IssuePage {
            tail: format!("board/{board_id}/backlog"),
            jql,
            fields,
            start_at,
            max_results,
        })
        .await
    }

    /// The issues in a sprint.
    pub async fn get_sprint_issues(
        &self,
        sprint_id: u64,
        jql: Option<&str>,
        fields: &[String],
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let sprint_id = positive("sprint_id", sprint_id)?;
        self.issue_page(IssuePage {
            tail: format!("sprint/{sprint_id}/issue"),
            jql,
            fields,
            start_at,
            max_results,
        })
        .await
    }

    /// One page of an agile issue list, concise like search results. With an
    /// allowlist the JQL is scoped to it, so issues elsewhere never come back.
    async fn issue_page(&self, page: IssuePage<'_>) -> ToolResult {
        let max = input::in_range("max_results", page.max_results, 1..=100)?.to_string();
        let wanted = field_list(&SEARCH_FIELDS, page.fields);
        let jql = match (&self.projects, page.jql) {
            (Some(allowed), jql) => Some(jql::scoped(jql.unwrap_or_default(), allowed)?),
            (None, jql) => jql.filter(|q| !q.trim().is_empty()).map(String::from),
        };
        let start = page.start_at.to_string();
        let mut query = vec![
            ("startAt", start.as_str()),
            ("maxResults", max.as_str()),
            ("fields", wanted.as_str()),
        ];
        if let Some(jql) = &jql {
            query.push(("jql", jql.as_str()));
        }
        let answer = self
            .agile(Method::GET, &page.tail, &query, None, READ)
            .await?;
        let issues: Vec<Value> = answer["issues"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let limit = TextLimit {
                    chars: DEFAULT_TEXT_CHARS,
                    tool: "get_issue",
                    issue_key: i["key"].as_str().unwrap_or_default(),
                };
                Value::Object(self.summarize(i, page.fields, limit))
            })
            .collect();
        let count = issues.len();
        let mut out = paging(&answer, page.start_at, count);
        insert(&mut out, "issues", Value::Array(issues));
        Ok(Value::Object(out))
    }

    /// A board's sprints, optionally only those in some states.
    pub async fn list_sprints(
        &self,
        board_id: u64,
        states: &[String],
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let board_id = positive("board_id", board_id)?;
        let max = input::in_range("max_results", max_results, 1..=50)?.to_string();
        let states = states
            .iter()
            .map(|s| one_of("state", s, &SPRINT_STATES))
            .collect::<Result<Vec<_>, _>>()?
            .join(",");
        self.check_board(board_id).await?;
        let start = start_at.to_string();
        let mut query = vec![("startAt", start.as_str()), ("maxResults", max.as_str())];
        if !states.is_empty() {
            query.push(("state", states.as_str()));
        }
        let page = self
            .agile(
                Method::GET,
                &format!("board/{board_id}/sprint"),
                &query,
                None,
                READ,
            )
            .await?;
        let all = page["values"].as_array().cloned().unwrap_or_default();
        let mut out = paging(&page, start_at, all.len());
        insert(
            &mut out,
            "sprints",
            Value::Array(all.iter().map(sprint).collect()),
        );
        Ok(Value::Object(out))
    }

    /// Creates a future sprint on a board.
    pub async fn create_sprint(
        &self,
        name: &str,
        board_id: u64,
        start_date: Option<&str>,
        end_date: Option<&str>,
        goal: Option<&str>,
    ) -> ToolResult {
        let board_id = positive("board_id", board_id)?;
        let name = sprint_name(name)?;
        let mut body = json!({"name": name, "originBoardId": board_id});
        if let Some(date) = start_date {
            body["startDate"] = json!(iso_date("start_date", date)?);
        }
        if let Some(date) = end_date {
            body["endDate"] = json!(iso_date("end_date", date)?);
        }
        if let Some(goal) = goal {
            body["goal"] = json!(goal);
        }
        self.check_board(board_id).await?;
        let created = self
            .agile(Method::POST, "sprint", &[], Some(&body), WRITE)
            .await?;
        Ok(sprint(&created))
    }

    /// Renames, re-dates, starts or closes a sprint. Jira's rules are checked
    /// first: only a future sprint starts (with both dates), only an active
    /// one closes, and a closed sprint stays closed.
    pub async fn update_sprint(&self, sprint_id: u64, change: SprintChange) -> ToolResult {
        let sprint_id = positive("sprint_id", sprint_id)?;
        let body = change_body(&change)?;
        let current = self
            .agile(Method::GET, &format!("sprint/{sprint_id}"), &[], None, READ)
            .await?;
        if let Some(board_id) = current["originBoardId"].as_u64() {
            self.check_board(board_id).await?;
        } else if self.projects.is_some() {
            return Err(ToolError::new(format!(
                "sprint {sprint_id} has no board this server can check against JIRA_MCP_PROJECTS"
            )));
        }
        check_transition(sprint_id, &current, &change)?;
        let updated = self
            .agile(
                Method::POST,
                &format!("sprint/{sprint_id}"),
                &[],
                Some(&body),
                WRITE,
            )
            .await?;
        Ok(sprint(&updated))
    }

    /// Moves up to 50 issues into a sprint (out of any other sprint).
    pub async fn move_issues_to_sprint(&self, sprint_id: u64, issue_keys: &[String]) -> ToolResult {
        let sprint_id = positive("sprint_id", sprint_id)?;
        if issue_keys.is_empty() || issue_keys.len() > MAX_SPRINT_ISSUES {
            return Err(ToolError::new(format!(
                "give between 1 and {MAX_SPRINT_ISSUES} issue keys (Jira moves at most \
                 {MAX_SPRINT_ISSUES} per request), not {}",
                issue_keys.len()
            )));
        }
        let keys = issue_keys
            .iter()
            .map(|k| self.issue(k))
            .collect::<Result<Vec<_>, _>>()?;
        if self.projects.is_some() {
            let current = self
                .agile(Method::GET, &format!("sprint/{sprint_id}"), &[], None, READ)
                .await?;
            match current["originBoardId"].as_u64() {
                Some(board_id) => self.check_board(board_id).await?,
                None => {
                    return Err(ToolError::new(format!(
                        "sprint {sprint_id} has no board this server can check against \
                         JIRA_MCP_PROJECTS"
                    )));
                }
            }
        }
        self.agile(
            Method::POST,
            &format!("sprint/{sprint_id}/issue"),
            &[],
            Some(&json!({"issues": keys})),
            WRITE,
        )
        .await?;
        Ok(json!({"moved": keys.len(), "sprint_id": sprint_id, "issues": keys}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_are_checked() {
        for ok in [
            "2026-12-01",
            "2026-12-01T09:00:00.000Z",
            "2026-12-01T09:00:00.000+01:00",
            "2026-12-01T09:00:00.000+0000",
        ] {
            assert!(iso_date("d", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "tomorrow",
            "01/12/2026",
            "2026-12-1",
            "2026-12-01 09:00",
            "2026-12-01Tx",
        ] {
            assert!(iso_date("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_sprint_life_cycle_only_goes_forward() {
        let change = |state: &str| SprintChange {
            state: Some(state.into()),
            ..SprintChange::default()
        };
        let dated = json!({"state": "future", "startDate": "2026-12-01T09:00:00.000Z", "endDate": "2026-12-14T17:00:00.000Z"});
        assert!(check_transition(1, &dated, &change("active")).is_ok());
        assert!(check_transition(1, &json!({"state": "future"}), &change("active")).is_err());
        assert!(check_transition(1, &dated, &change("closed")).is_err());
        assert!(check_transition(1, &json!({"state": "active"}), &change("closed")).is_ok());
        assert!(check_transition(1, &json!({"state": "closed"}), &change("active")).is_err());
        let rename = SprintChange {
            name: Some("x".into()),
            ..SprintChange::default()
        };
        assert!(check_transition(1, &json!({"state": "closed"}), &rename).is_ok());
        let redate = SprintChange {
            end_date: Some("2026-12-01".into()),
            ..SprintChange::default()
        };
        assert!(check_transition(1, &json!({"state": "closed"}), &redate).is_err());
        assert!(check_transition(1, &json!({"state": "active"}), &rename).is_ok());
    }
}
