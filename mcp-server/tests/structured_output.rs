//! Structured results (MCP 2025-06-18): every tool declares an
//! `outputSchema` (a JSON Schema of type object) in `tools/list`, and every
//! successful call returns `structuredContent` that fits it, with the same
//! JSON as text. Every tool is called here against recorded Jira Cloud
//! answers and checked against the schema `tools/list` declared.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use jira_mcp::catalog;
use rmcp::model::Tool;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REDIRECT: &str = "https://jira-mcp.example.com/callback";

fn answer(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

fn agile(tail: &str) -> String {
    format!("/ex/jira/{CLOUD_ID}/rest/agile/1.0/{tail}")
}

async fn route(server: &MockServer, verb: &str, at: String, reply: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(at.as_str()))
        .respond_with(reply)
        .named(format!("{verb} {at}"))
        .mount(server)
        .await;
}

/// A Jira Cloud site, its OAuth endpoints included, answering with the
/// recorded fixtures for every request the tools make.
async fn fixture_jira() -> MockServer {
    let server = MockServer::start().await;
    // OAuth: the consent redirect, both grants, the accessible resources.
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("access-1", "refresh-1")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("access-2", "refresh-2")))
        .mount(&server)
        .await;
    route(
        &server,
        "GET",
        "/oauth/token/accessible-resources".into(),
        answer(200, "cloud/accessible-resources.json"),
    )
    .await;
    // Attachments ask for the issue with `fields=attachment`: matched first.
    Mock::given(method("GET"))
        .and(path(cloud("issue/ED-1")))
        .and(query_param("fields", "attachment"))
        .respond_with(answer(200, "jira/issue-attachments.json"))
        .mount(&server)
        .await;
    let routes: Vec<(&str, String, ResponseTemplate)> = vec![
        ("GET", cloud("myself"), answer(200, "jira/myself.json")),
        (
            "GET",
            cloud("issue/ED-1"),
            answer(200, "jira/issue-full.json"),
        ),
        (
            "POST",
            cloud("search/jql"),
            answer(200, "jira/search-jql.json"),
        ),
        (
            "POST",
            cloud("issue"),
            answer(201, "jira/create-issue.json"),
        ),
        ("PUT", cloud("issue/ED-1"), ResponseTemplate::new(204)),
        ("PUT", cloud("issue/ED-2"), ResponseTemplate::new(204)),
        ("DELETE", cloud("issue/ED-2"), ResponseTemplate::new(204)),
        (
            "GET",
            cloud("issue/ED-1/transitions"),
            answer(200, "jira/transitions.json"),
        ),
        (
            "POST",
            cloud("issue/ED-1/transitions"),
            ResponseTemplate::new(204),
        ),
        (
            "GET",
            cloud("issue/createmeta/ED/issuetypes"),
            answer(200, "jira/createmeta-issuetypes.json"),
        ),
        (
            "GET",
            cloud("issue/createmeta/ED/issuetypes/10001"),
            answer(200, "jira/createmeta-field-options.json"),
        ),
        (
            "POST",
            cloud("issue/ED-1/comment"),
            answer(201, "jira/comment.json"),
        ),
        (
            "GET",
            cloud("issue/ED-1/comment"),
            answer(200, "jira/comments-page.json"),
        ),
        (
            "PUT",
            cloud("issue/ED-1/comment/10011"),
            answer(200, "jira/comment-updated.json"),
        ),
        (
            "POST",
            cloud("issue/ED-1/worklog"),
            answer(201, "jira/worklog.json"),
        ),
        (
            "GET",
            cloud("issue/ED-1/worklog"),
            answer(200, "jira/worklogs-page.json"),
        ),
        (
            "GET",
            cloud("issue/ED-1/remotelink"),
            answer(200, "jira/remote-links.json"),
        ),
        (
            "POST",
            cloud("issue/ED-1/remotelink"),
            answer(201, "jira/remote-link-created.json"),
        ),
        (
            "GET",
            cloud("issueLinkType"),
            answer(200, "jira/issue-link-types.json"),
        ),
        ("POST", cloud("issueLink"), ResponseTemplate::new(201)),
        (
            "GET",
            cloud("issueLink/10001"),
            answer(200, "jira/issue-link.json"),
        ),
        (
            "DELETE",
            cloud("issueLink/10001"),
            ResponseTemplate::new(204),
        ),
        (
            "GET",
            cloud("project/search"),
            answer(200, "jira/project-search.json"),
        ),
        ("GET", cloud("project/ED"), answer(200, "jira/project.json")),
        (
            "GET",
            cloud("project/ED/version"),
            answer(200, "jira/project-versions-page.json"),
        ),
        (
            "GET",
            cloud("project/ED/components"),
            answer(200, "jira/project-components.json"),
        ),
        ("POST", cloud("version"), answer(201, "jira/version.json")),
        (
            "PUT",
            cloud("version/10004"),
            answer(200, "jira/version.json"),
        ),
        (
            "POST",
            cloud("component"),
            answer(201, "jira/component.json"),
        ),
        (
            "GET",
            cloud("user/search"),
            answer(200, "jira/user-search.json"),
        ),
        (
            "GET",
            cloud("user/assignable/search"),
            answer(200, "jira/user-search.json"),
        ),
        ("GET", cloud("user"), answer(200, "jira/user.json")),
        ("GET", cloud("field"), answer(200, "jira/fields.json")),
        (
            "PUT",
            cloud("issue/ED-1/assignee"),
            ResponseTemplate::new(204),
        ),
        (
            "GET",
            cloud("issue/ED-1/changelog"),
            answer(200, "jira/changelog.json"),
        ),
        (
            "POST",
            cloud("issue/bulk"),
            answer(201, "jira/bulk-create-partial.json"),
        ),
        (
            "GET",
            cloud("issue/ED-1/watchers"),
            answer(200, "jira/watchers.json"),
        ),
        (
            "POST",
            cloud("issue/ED-1/watchers"),
            ResponseTemplate::new(204),
        ),
        (
            "DELETE",
            cloud("issue/ED-1/watchers"),
            ResponseTemplate::new(204),
        ),
        ("GET", agile("board"), answer(200, "agile/boards.json")),
        (
            "GET",
            agile("board/84/issue"),
            answer(200, "agile/board-issues.json"),
        ),
        (
            "GET",
            agile("board/84/backlog"),
            answer(200, "agile/backlog-issues.json"),
        ),
        (
            "GET",
            agile("board/84/sprint"),
            answer(200, "agile/sprints.json"),
        ),
        (
            "GET",
            agile("sprint/72/issue"),
            answer(200, "agile/sprint-issues.json"),
        ),
        (
            "POST",
            agile("sprint"),
            answer(201, "agile/sprint-created.json"),
        ),
        (
            "GET",
            agile("sprint/73"),
            answer(200, "agile/sprint-future.json"),
        ),
        (
            "POST",
            agile("sprint/73"),
            answer(200, "agile/sprint-started.json"),
        ),
        ("POST", agile("sprint/73/issue"), ResponseTemplate::new(204)),
        (
            "GET",
            cloud("attachment/10001"),
            answer(200, "jira/attachment-text.json"),
        ),
        (
            "GET",
            cloud("attachment/10000"),
            answer(200, "jira/attachment-png.json"),
        ),
        (
            "GET",
            cloud("attachment/10002"),
            answer(200, "jira/attachment-pdf.json"),
        ),
        (
            "GET",
            cloud("attachment/content/10001"),
            ResponseTemplate::new(200).set_body_raw(b"first line\n".to_vec(), "text/plain"),
        ),
        (
            "GET",
            cloud("attachment/content/10000"),
            ResponseTemplate::new(200).set_body_raw(b"\x89PNG\r\n\x1a\n".to_vec(), "image/png"),
        ),
        (
            "GET",
            cloud("attachment/content/10002"),
            ResponseTemplate::new(200).set_body_raw(b"%PDF-1.7\n".to_vec(), "application/pdf"),
        ),
        (
            "POST",
            cloud("issue/ED-1/attachments"),
            answer(200, "jira/attachments-added.json"),
        ),
    ];
    for (verb, at, reply) in routes {
        route(&server, verb, at, reply).await;
    }
    server
}

/// At least one call of every tool, in an order that works: log in through
/// the tools first, then every Jira tool.
fn calls(redirect_url: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("complete_oauth_flow", json!({"redirect_url": redirect_url})),
        ("auth_status", json!({})),
        ("refresh_oauth_token", json!({})),
        ("get_accessible_resources", json!({})),
        ("get_current_user", json!({})),
        (
            "get_issue",
            json!({"issue_key": "ED-1", "fields": ["duedate"]}),
        ),
        (
            "search_issues",
            json!({"jql": "project = ED", "max_results": 2}),
        ),
        (
            "create_issue",
            json!({"project_key": "ED", "issue_type": "Task", "summary": "New"}),
        ),
        (
            "edit_issue",
            json!({"issue_key": "ED-1", "summary": "Renamed"}),
        ),
        ("get_transitions", json!({"issue_key": "ED-1"})),
        (
            "transition_issue",
            json!({"issue_key": "ED-1", "transition": "done"}),
        ),
        (
            "get_create_fields",
            json!({"project_key": "ED", "issue_type": "Task"}),
        ),
        (
            "add_comment",
            json!({"issue_key": "ED-1", "body": "Looks *good*"}),
        ),
        (
            "add_worklog",
            json!({"issue_key": "ED-1", "time_spent": "1h", "comment": "pairing"}),
        ),
        ("get_remote_issue_links", json!({"issue_key": "ED-1"})),
        ("get_issue_link_types", json!({})),
        (
            "create_issue_link",
            json!({"link_type": "Blocks", "inward_issue": "ED-2", "outward_issue": "ED-1"}),
        ),
        ("get_project_issue_types", json!({"project_key": "ED"})),
        ("list_projects", json!({"query": "ed"})),
        ("lookup_account_id", json!({"query": "mia"})),
        (
            "delete_issue",
            json!({"issue_key": "ED-2", "delete_subtasks": true}),
        ),
        (
            "assign_issue",
            json!({"issue_key": "ED-1", "assignee": "me"}),
        ),
        (
            "assign_issue",
            json!({"issue_key": "ED-1", "assignee": "none"}),
        ),
        (
            "get_issue_changelog",
            json!({"issue_key": "ED-1", "max_results": 2}),
        ),
        (
            "batch_create_issues",
            json!({"issues": [
                {"project_key": "ED", "issue_type": "Task", "summary": "First"},
                {"project_key": "ED", "issue_type": "Nope", "summary": "Second"},
                {"project_key": "ED", "issue_type": "10001", "summary": "Third"},
            ]}),
        ),
        (
            "set_issue_parent",
            json!({"issue_key": "ED-2", "parent_key": "ED-1"}),
        ),
        ("get_watchers", json!({"issue_key": "ED-1"})),
        ("add_watcher", json!({"issue_key": "ED-1", "user": "me"})),
        ("remove_watcher", json!({"issue_key": "ED-1", "user": "me"})),
        (
            "get_comments",
            json!({"issue_key": "ED-1", "max_results": 2}),
        ),
        (
            "edit_comment",
            json!({"issue_key": "ED-1", "comment_id": "10011", "body": "Edited"}),
        ),
        ("get_worklogs", json!({"issue_key": "ED-1"})),
        ("remove_issue_link", json!({"link_id": "10001"})),
        (
            "create_remote_issue_link",
            json!({"issue_key": "ED-1", "url": "https://github.com/acme/edison/pull/42", "title": "PR #42"}),
        ),
        ("search_users", json!({"query": "mia"})),
        (
            "search_users",
            json!({"project_key": "ED", "max_results": 5}),
        ),
        ("get_user", json!({"user": "5b10a2844c20165700ede21g"})),
        ("search_fields", json!({"query": "story points"})),
        (
            "get_field_options",
            json!({"project_key": "ED", "issue_type": "Task", "field": "customfield_10030"}),
        ),
        (
            "get_field_options",
            json!({"project_key": "ED", "issue_type": "Task", "field": "summary"}),
        ),
        ("get_project", json!({"project_key": "ED"})),
        ("list_versions", json!({"project_key": "ED"})),
        ("list_components", json!({"project_key": "ED"})),
        (
            "create_version",
            json!({"project_key": "ED", "name": "2.2", "release_date": "2027-03-31"}),
        ),
        (
            "update_version",
            json!({"version_id": "10004", "released": true}),
        ),
        (
            "create_component",
            json!({"project_key": "ED", "name": "Web"}),
        ),
        ("list_boards", json!({})),
        ("get_board_issues", json!({"board_id": 84})),
        ("get_backlog_issues", json!({"board_id": 84})),
        ("list_sprints", json!({"board_id": 84})),
        ("get_sprint_issues", json!({"sprint_id": 72})),
        (
            "create_sprint",
            json!({"name": "ED Sprint 3", "board_id": 84, "goal": "Agile tools"}),
        ),
        (
            "update_sprint",
            json!({"sprint_id": 73, "state": "active", "start_date": "2026-12-01T09:00:00.000Z", "end_date": "2026-12-14T17:00:00.000Z"}),
        ),
        (
            "move_issues_to_sprint",
            json!({"sprint_id": 73, "issue_keys": ["ED-1", "ED-4"]}),
        ),
        ("get_attachments", json!({"issue_key": "ED-1"})),
        ("download_attachment", json!({"attachment_id": "10001"})),
        ("download_attachment", json!({"attachment_id": "10000"})),
        ("download_attachment", json!({"attachment_id": "10002"})),
        (
            "upload_attachment",
            json!({"issue_key": "ED-1", "filename": "notes.txt", "content_base64": "aGVsbG8="}),
        ),
    ]
}

/// The `outputSchema` of each listed tool, by name.
fn declared(tools: &[Tool]) -> BTreeMap<String, Value> {
    tools
        .iter()
        .filter_map(|t| {
            let schema = t.output_schema.as_deref()?;
            Some((t.name.to_string(), Value::Object(schema.clone())))
        })
        .collect()
}

fn catalog_names() -> BTreeSet<String> {
    catalog::TOOLS.iter().map(|t| t.name.to_string()).collect()
}

/// Every object in `schema` (at `at`) lists only properties it has as
/// required, and every property says what it is.
fn check_schema_shape(tool: &str, at: &str, schema: &Value, problems: &mut Vec<String>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            if property
                .get("description")
                .and_then(Value::as_str)
                .is_none()
            {
                problems.push(format!("{tool}: {at}/{name} has no description"));
            }
            check_schema_shape(tool, &format!("{at}/{name}"), property, problems);
        }
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !properties.contains_key(name) {
                problems.push(format!("{tool}: {at} requires `{name}`, not a property"));
            }
        }
    }
    if let Some(items) = schema.get("items") {
        check_schema_shape(tool, &format!("{at}[]"), items, problems);
    }
}

#[tokio::test]
async fn every_listed_tool_declares_an_object_output_schema() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), catalog::TOOLS.len());
    let schemas = declared(&tools);
    let listed: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();
    let with_schema: BTreeSet<String> = schemas.keys().cloned().collect();
    assert_eq!(
        listed.difference(&with_schema).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "tools without an outputSchema"
    );
    assert_eq!(listed, catalog_names());
    let mut problems = Vec::new();
    for (tool, schema) in &schemas {
        assert_eq!(schema["type"], "object", "{tool}: {schema}");
        assert!(schema["properties"].is_object(), "{tool}: no properties");
        if let Err(e) = jsonschema::meta::validate(schema) {
            problems.push(format!("{tool}: not a valid JSON Schema: {e}"));
        }
        let from_catalog = catalog::output_schema(tool).unwrap();
        assert_eq!(schema, &Value::Object((*from_catalog).clone()), "{tool}");
        check_schema_shape(tool, "", schema, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Read-only mode and a toolset allowlist remove tools, never their schemas.
#[tokio::test]
async fn output_schemas_survive_the_admin_controls() {
    let server = MockServer::start().await;
    for extra in [
        ("JIRA_MCP_READ_ONLY", "true"),
        ("JIRA_MCP_TOOLS", "agile,attachments,get_issue"),
        ("JIRA_MCP_DISABLED_TOOLS", "issues"),
    ] {
        let mut vars = dc_pat_vars(&server);
        vars.push((extra.0, extra.1.to_string()));
        let client = connect(config(&vars)).await;
        let tools = client.list_all_tools().await.unwrap();
        assert!(
            !tools.is_empty() && tools.len() < catalog::TOOLS.len(),
            "{extra:?}"
        );
        for tool in &tools {
            let schema = tool.output_schema.as_deref();
            assert_eq!(
                schema.and_then(|s| s.get("type")),
                Some(&json!("object")),
                "{extra:?}: {}",
                tool.name
            );
        }
    }
}

#[tokio::test]
async fn every_tool_returns_structured_content_that_fits_its_declared_schema() {
    let server = fixture_jira().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let mut vars = cloud_oauth_vars(&server, &file);
    vars.push(("JIRA_OAUTH_REDIRECT_URI", REDIRECT.into()));
    let client = connect(config(&vars)).await;
    let schemas = declared(&client.list_all_tools().await.unwrap());

    // Not logged in yet: auth_status still answers, and a Jira tool fails
    // with text and no structured content.
    let status = call_result(&client, "auth_status", json!({})).await;
    assert_eq!(
        status.structured_content.as_ref().unwrap()["logged_in"],
        false
    );
    let refused = call_result(&client, "get_issue", json!({"issue_key": "ED-1"})).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(refused.structured_content.is_none());

    let started = call_result(&client, "init_oauth_flow", json!({})).await;
    let started = started.structured_content.unwrap();
    let url = url::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
    let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1;
    let redirected = format!("{REDIRECT}?code=CODE-1&state={state}");

    let mut problems = Vec::new();
    let mut called = BTreeSet::from(["auth_status".to_string(), "init_oauth_flow".to_string()]);
    let mut returned_as = BTreeSet::new();
    for (tool, args) in calls(&redirected) {
        let result = call_result(&client, tool, args.clone()).await;
        assert_ne!(result.is_error, Some(true), "{tool} {args}: {result:?}");
        let structured = result.structured_content.as_ref().unwrap();
        let schema = schemas
            .get(tool)
            .unwrap_or_else(|| panic!("{tool}: not listed with an outputSchema"));
        problems.extend(schema_errors(tool, schema, structured));
        if tool == "download_attachment" {
            returned_as.insert(structured["returned_as"].as_str().unwrap().to_string());
            assert_eq!(result.content.len(), 2, "{tool}: metadata, then content");
        }
        called.insert(tool.to_string());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(called, catalog_names(), "every tool is called");
    assert_eq!(
        returned_as,
        BTreeSet::from(["image".into(), "text".into(), "resource".into()])
    );
    // The harness checked each call too, against the catalog's schema.
    assert!(validated_tools().is_superset(&catalog_names()));
    // The schemas say exactly what the tools emit for the answers they
    // expect: nothing had to be converted or left out to fit.
    assert_eq!(
        catalog::adjusted_results(),
        0,
        "results were adjusted to fit"
    );
    // And every request the tools sent to Jira Cloud's platform API fits
    // Atlassian's spec (path, method, required query, JSON body).
    let checked = assert_requests_fit_the_cloud_spec(&server).await;
    assert!(
        checked >= 40,
        "only {checked} platform requests were checked"
    );
}

/// A result that does not fit its schema is caught: the check is not vacuous.
#[test]
fn a_result_that_does_not_fit_is_reported() {
    let schema = Value::Object((*catalog::output_schema("get_issue").unwrap()).clone());
    assert!(schema_errors("get_issue", &schema, &json!({"key": "ED-1"})).is_empty());
    assert!(!schema_errors("get_issue", &schema, &json!({"summary": "no key"})).is_empty());
    assert!(!schema_errors("get_issue", &schema, &json!({"key": 1})).is_empty());
    let schema = Value::Object((*catalog::output_schema("search_issues").unwrap()).clone());
    let wrong_item =
        json!({"issues": [{"key": "ED-1", "assignee": "not an object"}], "is_last": true});
    assert!(!schema_errors("search_issues", &schema, &wrong_item).is_empty());
}
