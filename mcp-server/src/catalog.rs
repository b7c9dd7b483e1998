//! Every tool by name, with its toolset, whether it changes Jira (what the
//! admin controls, read-only mode, tool allow and deny lists act on) and
//! the JSON Schema of its structured result (`outputSchema`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value};

use crate::conform::{Conformed, conform};

/// A group of tools that `JIRA_MCP_TOOLS` can name at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toolset {
    /// Login and token status.
    Auth,
    /// Issues: read, search, create, edit, transitions, create metadata.
    Issues,
    /// Comments and worklogs.
    Comments,
    /// Issue links and remote links.
    Links,
    /// Projects, and listing their versions and components.
    Projects,
    /// Users and sites.
    Users,
    /// Attachments.
    Attachments,
    /// Jira Software boards, backlogs and sprints (`/rest/agile/1.0`).
    Agile,
    /// Creating and changing versions and components.
    Admin,
}

impl Toolset {
    /// The name used in `JIRA_MCP_TOOLS`.
    pub fn name(self) -> &'static str {
        match self {
            Toolset::Auth => "auth",
            Toolset::Issues => "issues",
            Toolset::Comments => "comments",
            Toolset::Links => "links",
            Toolset::Projects => "projects",
            Toolset::Users => "users",
            Toolset::Attachments => "attachments",
            Toolset::Agile => "agile",
            Toolset::Admin => "admin",
        }
    }

    /// Every toolset.
    pub const ALL: [Toolset; 9] = [
        Toolset::Auth,
        Toolset::Issues,
        Toolset::Comments,
        Toolset::Links,
        Toolset::Projects,
        Toolset::Users,
        Toolset::Attachments,
        Toolset::Agile,
        Toolset::Admin,
    ];
}

/// One tool: its name, its toolset, whether it changes Jira, and the JSON
/// Schema of its result.
#[derive(Clone, Copy, Debug)]
pub struct ToolInfo {
    /// The MCP tool name.
    pub name: &'static str,
    /// Its toolset.
    pub toolset: Toolset,
    /// True when it creates, changes or deletes something in Jira.
    pub writes: bool,
    /// The JSON Schema (text) of its `structuredContent`:
    /// `schemas/output/<name>.json`, the one source of truth for its shape.
    pub output_schema: &'static str,
}

/// A catalog entry; its output schema is `schemas/output/<name>.json`, so a
/// tool without one does not compile.
macro_rules! tool {
    ($name:literal, $toolset:expr, $writes:expr) => {
        ToolInfo {
            name: $name,
            toolset: $toolset,
            writes: $writes,
            output_schema: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/schemas/output/",
                $name,
                ".json"
            )),
        }
    };
}

/// Every tool the server has. (Each toolset module's tools are listed here
/// too; a test checks that this list and the server's tools agree.)
pub const TOOLS: &[ToolInfo] = &[
    tool!("auth_status", Toolset::Auth, false),
    tool!("init_oauth_flow", Toolset::Auth, false),
    tool!("complete_oauth_flow", Toolset::Auth, false),
    tool!("refresh_oauth_token", Toolset::Auth, false),
    tool!("get_issue", Toolset::Issues, false),
    tool!("search_issues", Toolset::Issues, false),
    tool!("create_issue", Toolset::Issues, true),
    tool!("edit_issue", Toolset::Issues, true),
    tool!("get_transitions", Toolset::Issues, false),
    tool!("transition_issue", Toolset::Issues, true),
    tool!("get_create_fields", Toolset::Issues, false),
    tool!("add_comment", Toolset::Comments, true),
    tool!("add_worklog", Toolset::Comments, true),
    tool!("get_remote_issue_links", Toolset::Links, false),
    tool!("get_issue_link_types", Toolset::Links, false),
    tool!("create_issue_link", Toolset::Links, true),
    tool!("get_project_issue_types", Toolset::Projects, false),
    tool!("list_projects", Toolset::Projects, false),
    tool!("lookup_account_id", Toolset::Users, false),
    tool!("get_accessible_resources", Toolset::Users, false),
    tool!("get_current_user", Toolset::Users, false),
    // issues_more
    tool!("delete_issue", Toolset::Issues, true),
    tool!("assign_issue", Toolset::Issues, true),
    tool!("get_issue_changelog", Toolset::Issues, false),
    tool!("batch_create_issues", Toolset::Issues, true),
    tool!("set_issue_parent", Toolset::Issues, true),
    tool!("get_watchers", Toolset::Issues, false),
    tool!("add_watcher", Toolset::Issues, true),
    tool!("remove_watcher", Toolset::Issues, true),
    tool!("get_comments", Toolset::Comments, false),
    tool!("edit_comment", Toolset::Comments, true),
    tool!("get_worklogs", Toolset::Comments, false),
    // people_fields: links, users, fields, projects, versions and components.
    tool!("remove_issue_link", Toolset::Links, true),
    tool!("create_remote_issue_link", Toolset::Links, true),
    tool!("search_users", Toolset::Users, false),
    tool!("get_user", Toolset::Users, false),
    tool!("search_fields", Toolset::Issues, false),
    tool!("get_field_options", Toolset::Issues, false),
    tool!("get_project", Toolset::Projects, false),
    tool!("list_versions", Toolset::Projects, false),
    tool!("list_components", Toolset::Projects, false),
    tool!("create_version", Toolset::Admin, true),
    tool!("update_version", Toolset::Admin, true),
    tool!("create_component", Toolset::Admin, true),
    // agile_attachments
    tool!("list_boards", Toolset::Agile, false),
    tool!("get_board_issues", Toolset::Agile, false),
    tool!("get_backlog_issues", Toolset::Agile, false),
    tool!("list_sprints", Toolset::Agile, false),
    tool!("get_sprint_issues", Toolset::Agile, false),
    tool!("create_sprint", Toolset::Agile, true),
    tool!("update_sprint", Toolset::Agile, true),
    tool!("move_issues_to_sprint", Toolset::Agile, true),
    tool!("get_attachments", Toolset::Attachments, false),
    tool!("download_attachment", Toolset::Attachments, false),
    tool!("upload_attachment", Toolset::Attachments, true),
];

/// Every tool's output schema, parsed once.
static OUTPUT_SCHEMAS: LazyLock<HashMap<&'static str, Arc<Map<String, Value>>>> =
    LazyLock::new(|| {
        TOOLS
            .iter()
            .map(|tool| {
                let schema: Map<String, Value> = serde_json::from_str(tool.output_schema)
                    .unwrap_or_else(|e| {
                        panic!(
                            "schemas/output/{}.json is not a JSON object: {e}",
                            tool.name
                        )
                    });
                (tool.name, Arc::new(schema))
            })
            .collect()
    });

/// The JSON Schema of the `structuredContent` the tool named `name` returns
/// (its `outputSchema` in `tools/list`).
pub fn output_schema(name: &str) -> Option<Arc<Map<String, Value>>> {
    OUTPUT_SCHEMAS.get(name).cloned()
}

/// Every tool's output schema as a JSON value and compiled, once, for the
/// last step of each result before it leaves the server.
static CHECKS: LazyLock<HashMap<&'static str, (Value, jsonschema::Validator)>> =
    LazyLock::new(|| {
        OUTPUT_SCHEMAS
            .iter()
            .map(|(name, schema)| {
                let schema = Value::Object((**schema).clone());
                let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| {
                    panic!("schemas/output/{name}.json is not a valid JSON Schema: {e}")
                });
                (*name, (schema, validator))
            })
            .collect()
    });

/// How many results had values converted or left out to fit their schema.
static ADJUSTED_RESULTS: AtomicU64 = AtomicU64::new(0);

/// The structured result of the tool named `tool`, made to fit its output
/// schema ([`conform`]) and then validated against it: what the client's
/// SDK will accept. `Err` is the tool error to return instead, naming the
/// tool and the offending value's path, when the result cannot fit.
pub fn conforming_result(tool: &str, value: Value) -> Result<Conformed, String> {
    let Some((schema, validator)) = CHECKS.get(tool) else {
        return Err(format!("`{tool}` has no output schema (a jira-mcp bug)"));
    };
    let unfit = |path: &str, problem: &str| {
        format!(
            "`{tool}` could not build a result that fits its declared output schema: the value \
             at `{}` {problem}. Jira answered in a shape this server cannot read into that result \
             (Jira did get the request: a change it asked for was made); please report it to \
             the jira-mcp maintainers with your Jira version",
            if path.is_empty() { "/" } else { path }
        )
    };
    let conformed =
        conform(schema, value).map_err(|m| unfit(&m.path, &format!("should be {}", m.wanted)))?;
    if let Some(e) = validator.iter_errors(&conformed.value).next() {
        // The kind of error only: the value itself may be long or private.
        let problem = match e.kind() {
            jsonschema::error::ValidationErrorKind::Required { .. } => "misses a required value",
            jsonschema::error::ValidationErrorKind::Type { .. } => "has the wrong type",
            jsonschema::error::ValidationErrorKind::Enum { .. } => {
                "is not one of the allowed values"
            }
            _ => "does not fit",
        };
        return Err(unfit(&e.instance_path().to_string(), problem));
    }
    if !conformed.adjusted.is_empty() {
        ADJUSTED_RESULTS.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(tool, adjusted = ?conformed.adjusted, "values of an unexpected shape were converted or left out");
    }
    Ok(conformed)
}

/// How many results so far had values converted or left out to fit their
/// schema (zero for answers of the shapes the tools expect).
pub fn adjusted_results() -> u64 {
    ADJUSTED_RESULTS.load(Ordering::Relaxed)
}

/// The tool named `name`.
pub fn find(name: &str) -> Option<&'static ToolInfo> {
    TOOLS.iter().find(|t| t.name == name)
}

/// The tools a name in `JIRA_MCP_TOOLS` or `JIRA_MCP_DISABLED_TOOLS` stands
/// for: one tool, or every tool of a toolset. `None` for an unknown name.
pub fn expand(name: &str) -> Option<Vec<&'static str>> {
    if let Some(tool) = find(name) {
        return Some(vec![tool.name]);
    }
    let toolset = Toolset::ALL.into_iter().find(|t| t.name() == name)?;
    Some(
        TOOLS
            .iter()
            .filter(|t| t.toolset == toolset)
            .map(|t| t.name)
            .collect(),
    )
}

/// Every valid name, for error messages: toolsets, then tools.
pub fn valid_names() -> String {
    let toolsets = Toolset::ALL.map(Toolset::name).join(", ");
    let tools: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    format!("toolsets: {toolsets}; tools: {}", tools.join(", "))
}
