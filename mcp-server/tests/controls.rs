//! The admin controls: read-only mode, tool allow and deny lists, and the
//! project allowlist, each tried against the ways around it.

mod common;

use std::collections::BTreeSet;

use common::*;
use jira_mcp::catalog;
use serde_json::{Value, json};
use wiremock::matchers::{any, body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A logged-in Cloud server with extra `controls` variables.
async fn server_with(
    server: &MockServer,
    controls: &[(&'static str, &str)],
) -> (Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let mut vars = cloud_oauth_vars(server, &file);
    vars.extend(controls.iter().map(|(k, v)| (*k, v.to_string())));
    (connect(config(&vars)).await, dir)
}

/// Jira must not be asked at all.
async fn no_requests(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("any request")
        .mount(server)
        .await;
}

async fn tool_names(client: &Client) -> BTreeSet<String> {
    let tools = client.list_all_tools().await.unwrap();
    tools.into_iter().map(|t| t.name.to_string()).collect()
}

#[tokio::test]
async fn the_catalog_lists_every_tool_with_its_read_only_hint() {
    let server = MockServer::start().await;
    let (client, _dir) = server_with(&server, &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let listed: BTreeSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let known: BTreeSet<&str> = catalog::TOOLS.iter().map(|t| t.name).collect();
    assert_eq!(listed, known);
    for tool in &tools {
        let info = catalog::find(&tool.name).unwrap();
        let read_only = tool.annotations.as_ref().and_then(|a| a.read_only_hint);
        if info.writes {
            assert_eq!(read_only, Some(false), "{}", tool.name);
        }
    }
}

#[tokio::test]
async fn read_only_mode_hides_and_refuses_every_write_tool() {
    let server = MockServer::start().await;
    no_requests(&server).await;
    let (client, _dir) = server_with(&server, &[("JIRA_MCP_READ_ONLY", "true")]).await;
    let names = tool_names(&client).await;
    let writes: Vec<&str> = catalog::TOOLS
        .iter()
        .filter(|t| t.writes)
        .map(|t| t.name)
        .collect();
    assert!(!writes.is_empty());
    for tool in &writes {
        assert!(!names.contains(*tool), "{tool} is listed in read-only mode");
    }
    assert!(names.contains("get_issue") && names.contains("search_issues"));
    let attempts = [
        (
            "create_issue",
            json!({"project_key": "ED", "issue_type": "Task", "summary": "x"}),
        ),
        ("add_comment", json!({"issue_key": "ED-1", "body": "x"})),
        (
            "transition_issue",
            json!({"issue_key": "ED-1", "transition": "Done"}),
        ),
        (
            "create_issue_link",
            json!({"link_type": "Blocks", "inward_issue": "ED-1", "outward_issue": "ED-2"}),
        ),
    ];
    for (tool, args) in attempts {
        let (is_error, message) = call(&client, tool, args).await;
        assert!(
            is_error && message.contains("JIRA_MCP_READ_ONLY"),
            "{tool}: {message}"
        );
    }
}

#[tokio::test]
async fn an_allowlist_of_toolsets_and_a_disabled_tool() {
    let server = MockServer::start().await;
    no_requests(&server).await;
    let (client, _dir) = server_with(
        &server,
        &[
            ("JIRA_MCP_TOOLS", "issues, get_current_user"),
            ("JIRA_MCP_DISABLED_TOOLS", "edit_issue"),
        ],
    )
    .await;
    let names = tool_names(&client).await;
    assert!(names.contains("search_issues") && names.contains("get_current_user"));
    assert!(!names.contains("edit_issue"), "a disabled tool is listed");
    assert!(
        !names.contains("add_comment"),
        "a tool outside the allowlist is listed"
    );
    // Called by name anyway:
    let (is_error, message) = call(
        &client,
        "edit_issue",
        json!({"issue_key": "ED-1", "summary": "x"}),
    )
    .await;
    assert!(
        is_error && message.contains("JIRA_MCP_DISABLED_TOOLS"),
        "{message}"
    );
    let (is_error, message) = call(
        &client,
        "add_comment",
        json!({"issue_key": "ED-1", "body": "x"}),
    )
    .await;
    assert!(is_error && message.contains("JIRA_MCP_TOOLS"), "{message}");
}

#[test]
fn an_unknown_tool_name_is_a_startup_error_listing_the_valid_ones() {
    let env = |name: &str| (name == "JIRA_MCP_DISABLED_TOOLS").then(|| "get_isue".to_string());
    let err = jira_mcp::config::Config::load_from(&Default::default(), &env, None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("JIRA_MCP_DISABLED_TOOLS")
            && text.contains("get_isue")
            && text.contains("get_issue")
            && text.contains("comments"),
        "{text}"
    );
}

const PROJECTS: (&str, &str) = ("JIRA_MCP_PROJECTS", "ED OPS");

#[tokio::test]
async fn search_jql_is_scoped_so_that_or_and_order_by_cannot_escape() {
    let server = MockServer::start().await;
    for (user, sent) in [
        (
            "project = SECRET OR assignee = currentUser()",
            "project in (\"ED\", \"OPS\") AND (project = SECRET OR assignee = currentUser())",
        ),
        (
            "status = Done OR project = SECRET ORDER BY created DESC",
            "project in (\"ED\", \"OPS\") AND (status = Done OR project = SECRET) ORDER BY created DESC",
        ),
        (
            "status = Done /* OR project = SECRET */",
            "project in (\"ED\", \"OPS\") AND (status = Done /* OR project = SECRET */)",
        ),
    ] {
        Mock::given(method("POST"))
            .and(path(cloud("search/jql")))
            .and(body_partial_json(json!({"jql": sent})))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(fixture("jira/search-jql-last.json"), "application/json"),
            )
            .expect(1)
            .named(user)
            .mount(&server)
            .await;
    }
    let (client, _dir) = server_with(&server, &[PROJECTS]).await;
    for user in [
        "project = SECRET OR assignee = currentUser()",
        "status = Done OR project = SECRET ORDER BY created DESC",
        "status = Done /* OR project = SECRET */",
    ] {
        ok(&client, "search_issues", json!({"jql": user})).await;
    }
    let (is_error, message) = call(
        &client,
        "search_issues",
        json!({"jql": "status = Done) OR (project = SECRET"}),
    )
    .await;
    assert!(is_error && message.contains("do not balance"), "{message}");
}

#[tokio::test]
async fn keys_outside_the_allowlist_are_refused_directly_and_through_links_and_parents() {
    let server = MockServer::start().await;
    no_requests(&server).await;
    let (client, _dir) = server_with(&server, &[PROJECTS]).await;
    let attempts = [
        ("get_issue", json!({"issue_key": "SECRET-1"})),
        ("get_issue", json!({"issue_key": "10001"})),
        ("add_comment", json!({"issue_key": "secret-1", "body": "x"})),
        (
            "create_issue",
            json!({"project_key": "SECRET", "issue_type": "Task", "summary": "x"}),
        ),
        (
            "create_issue",
            json!({"project_key": "ED", "issue_type": "Task", "summary": "x", "fields": {"parent": {"key": "SECRET-1"}}}),
        ),
        (
            "edit_issue",
            json!({"issue_key": "ED-1", "fields": {"parent": {"id": "10001"}}}),
        ),
        (
            "create_issue_link",
            json!({"link_type": "Blocks", "inward_issue": "ED-1", "outward_issue": "SECRET-1"}),
        ),
        ("get_project_issue_types", json!({"project_key": "SECRET"})),
        (
            "get_create_fields",
            json!({"project_key": "SECRET", "issue_type": "Task"}),
        ),
    ];
    for (tool, args) in attempts {
        let (is_error, message) = call(&client, tool, args.clone()).await;
        assert!(
            is_error && message.contains("JIRA_MCP_PROJECTS"),
            "{tool} {args}: {message}"
        );
    }
}

#[tokio::test]
async fn list_projects_shows_only_allowed_projects() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(cloud("project/search")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("jira/project-search.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let (client, _dir) = server_with(&server, &[PROJECTS]).await;
    let listed = ok(&client, "list_projects", json!({})).await;
    let keys: Vec<&Value> = listed["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["key"])
        .collect();
    assert_eq!(keys, [&json!("ED")], "{listed}");
}

/// The README's toolset table lists exactly the catalog's tools, each under
/// its toolset and on the right side (read or write).
#[test]
fn the_readme_toolset_table_matches_the_catalog() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut documented = BTreeSet::new();
    for toolset in catalog::Toolset::ALL {
        let prefix = format!("| `{}` |", toolset.name());
        let row = readme
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no README row for toolset {}", toolset.name()));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        for (cell, writes) in [(cells[2], false), (cells[3], true)] {
            for name in cell.split(", ").filter(|n| n.starts_with('`')) {
                documented.insert((toolset.name(), name.trim_matches('`').to_string(), writes));
            }
        }
    }
    let known: BTreeSet<(&str, String, bool)> = catalog::TOOLS
        .iter()
        .map(|t| (t.toolset.name(), t.name.to_string(), t.writes))
        .collect();
    assert_eq!(documented, known);
}
