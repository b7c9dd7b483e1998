//! The `agile` toolset (`catalog::Toolset::Agile`): Jira Software boards, backlogs and sprints. Each tool's
//! arguments, and its mapping onto the Jira requests of [`JiraClient`].

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use crate::jira::SprintChange;
use crate::server::JiraMcp;

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
