//! The issues_more tools (delete, assign, changelog, bulk create, parent,
//! watchers, comments, worklogs) on Cloud (OAuth, REST v3, ADF) and Data
//! Center (PAT, REST v2, wiki markup): the request each sends, its concise
//! result, and the checks made before any request.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use common::*;
use jsonschema::Validator;
use serde_json::{Value, json};
use wiremock::matchers::{any, body_json, body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ADF_SCHEMA: &str = "shared/adf-schema/full.json";
const MIA: &str = "5b10a2844c20165700ede21g";
const EMMA: &str = "5b10ac8d82e05b22cc7d4ef5";

fn shared(relative: &str) -> Value {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let file = manifest
        .ancestors()
        .map(|dir| dir.join(relative))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{relative} not found above {}", manifest.display()));
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// Atlassian's ADF schema (JSON Schema draft 4), compiled once.
static ADF: LazyLock<Validator> = LazyLock::new(|| {
    jsonschema::draft4::new(&shared(ADF_SCHEMA)).expect("the ADF schema compiles")
});

fn assert_valid_adf(adf: &Value) {
    let errors: Vec<String> = ADF
        .iter_errors(adf)
        .take(5)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "invalid ADF {adf}: {}",
        errors.join("; ")
    );
    assert_eq!(adf["type"], "doc", "{adf}");
}

fn json_answer(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

async fn cloud_client(
    server: &MockServer,
    extra: &[(&'static str, String)],
) -> (Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let mut vars = cloud_oauth_vars(server, &file);
    vars.extend_from_slice(extra);
    (connect(config(&vars)).await, dir)
}

/// Mounts a mock that must be hit exactly `times`.
async fn expect(
    server: &MockServer,
    mock: wiremock::MockBuilder,
    answer: ResponseTemplate,
    times: u64,
    name: &str,
) {
    mock.respond_with(answer)
        .expect(times)
        .named(name)
        .mount(server)
        .await;
}

/// The JSON bodies of the requests `server` received at `at`.
async fn bodies(server: &MockServer, verb: &str, at: &str) -> Vec<Value> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == at)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn issue_tools_on_cloud() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    let auth = || header("authorization", "Bearer access-0");
    let get = |p: &str| Mock::given(method("GET")).and(path(cloud(p))).and(auth());
    expect(
        &server,
        Mock::given(method("DELETE"))
            .and(path(cloud("issue/ED-2")))
            .and(query_param("deleteSubtasks", "true"))
            .and(auth()),
        ResponseTemplate::new(204),
        1,
        "delete",
    )
    .await;
    expect(
        &server,
        get("myself"),
        json_answer(200, "jira/myself.json"),
        1,
        "myself",
    )
    .await;
    expect(
        &server,
        Mock::given(method("PUT"))
            .and(path(cloud("issue/ED-1/assignee")))
            .and(body_json(json!({"accountId": MIA}))),
        ResponseTemplate::new(204),
        1,
        "assign me",
    )
    .await;
    expect(
        &server,
        get("issue/ED-1/changelog")
            .and(query_param("startAt", "0"))
            .and(query_param("maxResults", "2")),
        json_answer(200, "jira/changelog.json"),
        1,
        "changelog",
    )
    .await;
    expect(
        &server,
        Mock::given(method("PUT"))
            .and(path(cloud("issue/ED-2")))
            .and(body_json(json!({"fields": {"parent": {"key": "ED-1"}}}))),
        ResponseTemplate::new(204),
        1,
        "parent",
    )
    .await;

    let deleted = ok(
        &client,
        "delete_issue",
        json!({"issue_key": "ED-2", "delete_subtasks": true}),
    )
    .await;
    assert_eq!(
        deleted,
        json!({"key": "ED-2", "deleted": true, "subtasks_deleted": true})
    );
    let assigned = ok(
        &client,
        "assign_issue",
        json!({"issue_key": "ED-1", "assignee": "me"}),
    )
    .await;
    assert_eq!(assigned["assignee"], MIA);

    let log = ok(
        &client,
        "get_issue_changelog",
        json!({"issue_key": "ED-1", "max_results": 2}),
    )
    .await;
    assert_eq!(
        (log["total"].clone(), log["next_start_at"].clone()),
        (json!(3), json!(2)),
        "{log}"
    );
    let first = &log["changes"][0];
    assert_eq!(first["author"]["display_name"], "Mia Krystof");
    assert_eq!(
        first["items"][0],
        json!({"field": "status", "from": "To Do", "to": "In Progress"})
    );
    let long_from = log["changes"][1]["items"][1]["from"].as_str().unwrap();
    assert!(
        long_from.ends_with('…') && long_from.chars().count() == 201,
        "{long_from}"
    );
    assert!(!log.to_string().contains("avatarUrls"), "{log}");

    let parent = ok(
        &client,
        "set_issue_parent",
        json!({"issue_key": "ED-2", "parent_key": "ED-1"}),
    )
    .await;
    assert_eq!(parent["parent"], "ED-1");

    let checked = assert_requests_fit_the_cloud_spec(&server).await;
    assert_eq!(checked, 5);
}

#[tokio::test]
async fn watcher_comment_and_worklog_tools_on_cloud() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    let get = |p: &str| Mock::given(method("GET")).and(path(cloud(p)));
    expect(
        &server,
        get("issue/ED-1/watchers"),
        json_answer(200, "jira/watchers.json"),
        1,
        "watchers",
    )
    .await;
    expect(
        &server,
        Mock::given(method("POST"))
            .and(path(cloud("issue/ED-1/watchers")))
            .and(body_json(json!(EMMA))),
        ResponseTemplate::new(204),
        1,
        "add watcher",
    )
    .await;
    expect(
        &server,
        Mock::given(method("DELETE"))
            .and(path(cloud("issue/ED-1/watchers")))
            .and(query_param("accountId", EMMA)),
        ResponseTemplate::new(204),
        1,
        "remove watcher",
    )
    .await;
    expect(
        &server,
        get("issue/ED-1/comment")
            .and(query_param("orderBy", "-created"))
            .and(query_param("startAt", "0"))
            .and(query_param("maxResults", "2")),
        json_answer(200, "jira/comments-page.json"),
        2,
        "comments",
    )
    .await;
    expect(
        &server,
        Mock::given(method("PUT"))
            .and(path(cloud("issue/ED-1/comment/10011")))
            .and(body_partial_json(
                json!({"body": {"type": "doc", "version": 1}}),
            )),
        json_answer(200, "jira/comment-updated.json"),
        1,
        "edit comment",
    )
    .await;
    expect(
        &server,
        get("issue/ED-1/worklog")
            .and(query_param("startAt", "0"))
            .and(query_param("maxResults", "50")),
        json_answer(200, "jira/worklogs-page.json"),
        1,
        "worklogs",
    )
    .await;

    let watchers = ok(&client, "get_watchers", json!({"issue_key": "ED-1"})).await;
    assert_eq!(watchers["watch_count"], 2);
    assert_eq!(
        watchers["watchers"][1],
        json!({"display_name": "Emma Richards", "account_id": EMMA})
    );
    let added = ok(
        &client,
        "add_watcher",
        json!({"issue_key": "ED-1", "user": EMMA}),
    )
    .await;
    assert_eq!(added["watching"], true);
    let removed = ok(
        &client,
        "remove_watcher",
        json!({"issue_key": "ED-1", "user": EMMA}),
    )
    .await;
    assert_eq!(removed["watching"], false);

    let page = ok(
        &client,
        "get_comments",
        json!({"issue_key": "ED-1", "max_results": 2}),
    )
    .await;
    assert_eq!(
        (page["total"].clone(), page["next_start_at"].clone()),
        (json!(3), json!(2)),
        "{page}"
    );
    let newest = &page["comments"][0];
    assert_eq!(newest["id"], "10012");
    assert_eq!(newest["updated"], "2026-11-22T11:30:00.000+0000");
    assert!(
        newest["body"]
            .as_str()
            .unwrap()
            .contains("Deployed to staging"),
        "{page}"
    );
    assert!(
        page["comments"][1].get("updated").is_none(),
        "unedited: {page}"
    );
    assert!(!page.to_string().contains("\"type\":\"doc\""), "{page}");
    let cut = ok(
        &client,
        "get_comments",
        json!({"issue_key": "ED-1", "max_results": 2, "max_text_length": 10}),
    )
    .await;
    let body = cut["comments"][0]["body"].as_str().unwrap();
    assert!(
        body.starts_with("Deployed t") && body.contains("Call get_comments with issue_key `ED-1`"),
        "{body}"
    );

    let markdown = "**Edited** with a [link](https://example.com)\n\n- one\n- two";
    let edited = ok(
        &client,
        "edit_comment",
        json!({"issue_key": "ED-1", "comment_id": "10011", "body": markdown}),
    )
    .await;
    assert_eq!(edited["update_author"]["display_name"], "Emma Richards");
    assert_eq!(edited["updated"], "2026-11-27T07:40:00.000+0000");
    let sent = bodies(&server, "PUT", &cloud("issue/ED-1/comment/10011")).await;
    assert_valid_adf(&sent[0]["body"]);
    assert!(
        sent[0]["body"].to_string().contains("bulletList"),
        "{}",
        sent[0]
    );

    let logs = ok(&client, "get_worklogs", json!({"issue_key": "ED-1"})).await;
    assert_eq!(logs["total"], 2);
    assert!(logs.get("next_start_at").is_none(), "{logs}");
    assert_eq!(logs["worklogs"][0]["time_spent"], "3h 20m");
    assert_eq!(logs["worklogs"][0]["comment"], "Wrote the refresh lock.");
    assert!(logs["worklogs"][1].get("comment").is_none(), "{logs}");

    let checked = assert_requests_fit_the_cloud_spec(&server).await;
    assert_eq!(checked, 7);
}

/// One failed element of a bulk create does not hide the others: each
/// result is mapped back to its index in the input.
#[tokio::test]
async fn batch_create_maps_each_result_to_its_input_on_cloud() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    expect(
        &server,
        Mock::given(method("POST")).and(path(cloud("issue/bulk"))),
        json_answer(201, "jira/bulk-create-partial.json"),
        1,
        "bulk",
    )
    .await;
    let issues = json!([
        {"project_key": "ED", "issue_type": "Task", "summary": "First", "description": "Some *emphasis* and `code`"},
        {"project_key": "ED", "issue_type": "Nope", "summary": "Second"},
        {"project_key": "ED", "issue_type": "10001", "summary": "Third", "fields": {"labels": ["bulk"], "parent": {"key": "ED-1"}}},
    ]);
    let result = ok(&client, "batch_create_issues", json!({"issues": issues})).await;
    assert_eq!(
        (result["created"].clone(), result["failed"].clone()),
        (json!(2), json!(1)),
        "{result}"
    );
    assert_eq!(result["results"][0]["key"], "ED-24");
    assert_eq!(
        result["results"][0]["url"],
        "https://your-domain.atlassian.net/browse/ED-24"
    );
    assert_eq!(
        result["results"][1],
        json!({"index": 1, "error": "issuetype: The issue type selected is invalid."})
    );
    assert_eq!(result["results"][2]["key"], "ED-25");

    let sent = bodies(&server, "POST", &cloud("issue/bulk")).await;
    let updates = sent[0]["issueUpdates"].as_array().unwrap();
    assert_eq!(updates.len(), 3);
    assert_valid_adf(&updates[0]["fields"]["description"]);
    assert_eq!(updates[1]["fields"]["issuetype"], json!({"name": "Nope"}));
    assert_eq!(updates[2]["fields"]["issuetype"], json!({"id": "10001"}));
    assert_eq!(updates[2]["fields"]["parent"], json!({"key": "ED-1"}));
    assert_eq!(assert_requests_fit_the_cloud_spec(&server).await, 1);
}

#[tokio::test]
async fn a_batch_where_every_issue_fails_still_names_each_failure() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    expect(
        &server,
        Mock::given(method("POST")).and(path("/jira/rest/api/2/issue/bulk")),
        json_answer(400, "jira/bulk-create-all-failed.json"),
        1,
        "bulk",
    )
    .await;
    let issues = json!([
        {"project_key": "ED", "issue_type": "Task", "summary": ""},
        {"project_key": "ED", "issue_type": "Sub-task", "summary": "x"},
    ]);
    let result = ok(&client, "batch_create_issues", json!({"issues": issues})).await;
    assert_eq!(
        (result["created"].clone(), result["failed"].clone()),
        (json!(0), json!(2)),
        "{result}"
    );
    assert!(
        result["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("summary"),
        "{result}"
    );
    assert!(
        result["results"][1]["error"]
            .as_str()
            .unwrap()
            .contains("same project as the parent"),
        "{result}"
    );
}

#[tokio::test]
async fn issue_tools_on_data_center() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let dc = |p: &str| format!("/jira/rest/api/2/{p}");
    let auth = || header("authorization", "Bearer dc-pat");
    expect(
        &server,
        Mock::given(method("DELETE"))
            .and(path(dc("issue/ED-2")))
            .and(query_param("deleteSubtasks", "false"))
            .and(auth()),
        ResponseTemplate::new(204),
        1,
        "delete",
    )
    .await;
    expect(
        &server,
        Mock::given(method("PUT"))
            .and(path(dc("issue/ED-1/assignee")))
            .and(body_json(json!({"name": "emma"}))),
        ResponseTemplate::new(204),
        1,
        "assign",
    )
    .await;
    expect(
        &server,
        Mock::given(method("GET"))
            .and(path(dc("issue/ED-1")))
            .and(query_param("expand", "changelog")),
        json_answer(200, "jira-dc/issue-changelog.json"),
        1,
        "changelog",
    )
    .await;
    expect(
        &server,
        Mock::given(method("GET")).and(path(dc("field"))),
        json_answer(200, "jira-dc/fields.json"),
        1,
        "fields",
    )
    .await;
    expect(
        &server,
        Mock::given(method("PUT"))
            .and(path(dc("issue/ED-2")))
            .and(body_json(json!({"fields": {"customfield_10100": "ED-1"}}))),
        ResponseTemplate::new(204),
        1,
        "epic link",
    )
    .await;
    expect(
        &server,
        Mock::given(method("POST"))
            .and(path(dc("issue/bulk")))
            .and(body_partial_json(
                json!({"issueUpdates": [{"fields": {"description": "*Bold*"}}]}),
            )),
        json_answer(201, "jira-dc/bulk-create.json"),
        1,
        "bulk",
    )
    .await;

    let deleted = ok(&client, "delete_issue", json!({"issue_key": "ED-2"})).await;
    assert_eq!(deleted["subtasks_deleted"], false);
    let assigned = ok(
        &client,
        "assign_issue",
        json!({"issue_key": "ED-1", "assignee": "emma"}),
    )
    .await;
    assert_eq!(assigned["assignee"], "emma");
    let log = ok(
        &client,
        "get_issue_changelog",
        json!({"issue_key": "ED-1", "start_at": 1, "max_results": 1}),
    )
    .await;
    assert_eq!(log["changes"].as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log["changes"][0]["id"], "20002");
    assert_eq!(
        log["changes"][0]["author"],
        json!({"display_name": "Emma Richards", "name": "emma"})
    );
    assert_eq!(
        log["changes"][0]["items"][0],
        json!({"field": "assignee", "to": "Mia Krystof"})
    );
    assert_eq!(
        (log["total"].clone(), log["next_start_at"].clone()),
        (json!(3), json!(2))
    );
    let parent = ok(
        &client,
        "set_issue_parent",
        json!({"issue_key": "ED-2", "parent_key": "ED-1"}),
    )
    .await;
    assert_eq!(parent["field"], "customfield_10100");
    let batch = ok(&client, "batch_create_issues", json!({"issues": [{"project_key": "ED", "issue_type": "Task", "summary": "s", "description": "**Bold**"}]})).await;
    assert_eq!(batch["results"][0]["key"], "ED-30");
}

#[tokio::test]
async fn watcher_comment_and_worklog_tools_on_data_center() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let dc = |p: &str| format!("/jira/rest/api/2/{p}");
    expect(
        &server,
        Mock::given(method("GET")).and(path(dc("issue/ED-1/watchers"))),
        json_answer(200, "jira-dc/watchers.json"),
        1,
        "watchers",
    )
    .await;
    expect(
        &server,
        Mock::given(method("GET")).and(path(dc("myself"))),
        json_answer(200, "jira-dc/myself.json"),
        1,
        "myself",
    )
    .await;
    expect(
        &server,
        Mock::given(method("POST"))
            .and(path(dc("issue/ED-1/watchers")))
            .and(body_json(json!("mia"))),
        ResponseTemplate::new(204),
        1,
        "add watcher",
    )
    .await;
    expect(
        &server,
        Mock::given(method("DELETE"))
            .and(path(dc("issue/ED-1/watchers")))
            .and(query_param("username", "emma")),
        ResponseTemplate::new(204),
        1,
        "remove watcher",
    )
    .await;
    expect(
        &server,
        Mock::given(method("GET"))
            .and(path(dc("issue/ED-1/comment")))
            .and(query_param("orderBy", "created")),
        json_answer(200, "jira-dc/comments.json"),
        1,
        "comments",
    )
    .await;
    expect(
        &server,
        Mock::given(method("PUT"))
            .and(path(dc("issue/ED-1/comment/10111")))
            .and(body_json(json!({"body": "h1. Edited"}))),
        json_answer(200, "jira-dc/comment-updated.json"),
        1,
        "edit",
    )
    .await;
    expect(
        &server,
        Mock::given(method("GET")).and(path(dc("issue/ED-1/worklog"))),
        json_answer(200, "jira-dc/worklogs.json"),
        1,
        "worklogs",
    )
    .await;

    let watchers = ok(&client, "get_watchers", json!({"issue_key": "ED-1"})).await;
    assert_eq!(watchers["watchers"][0]["name"], "mia");
    assert_eq!(
        ok(
            &client,
            "add_watcher",
            json!({"issue_key": "ED-1", "user": "me"})
        )
        .await["watcher"],
        "mia"
    );
    ok(
        &client,
        "remove_watcher",
        json!({"issue_key": "ED-1", "user": "emma"}),
    )
    .await;
    let comments = ok(
        &client,
        "get_comments",
        json!({"issue_key": "ED-1", "order_by": "oldest"}),
    )
    .await;
    assert_eq!(comments["comments"][0]["body"], "Deployed to *staging*.");
    assert!(comments.get("next_start_at").is_none(), "{comments}");
    let edited = ok(
        &client,
        "edit_comment",
        json!({"issue_key": "ED-1", "comment_id": "10111", "body": "# Edited"}),
    )
    .await;
    assert_eq!(edited["id"], "10111");
    let logs = ok(
        &client,
        "get_worklogs",
        json!({"issue_key": "ED-1", "start_at": 2, "max_results": 5}),
    )
    .await;
    assert_eq!(logs["worklogs"].as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(logs["worklogs"][0]["time_spent_seconds"], 1800);
    assert_eq!(logs["total"], 3);
    assert!(logs.get("next_start_at").is_none(), "{logs}");
}

/// Unassigning sends `accountId: null`, as the operation's description says
/// ("`null`, the issue is set to unassigned"); the spec's body schema (`User`)
/// types `accountId` as a plain string, so this request is not spec-checked.
#[tokio::test]
async fn unassigning_sends_a_null_account_id() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    expect(
        &server,
        Mock::given(method("PUT"))
            .and(path(cloud("issue/ED-3/assignee")))
            .and(body_json(json!({"accountId": null}))),
        ResponseTemplate::new(204),
        2,
        "unassign",
    )
    .await;
    let unassigned = ok(
        &client,
        "assign_issue",
        json!({"issue_key": "ED-3", "assignee": "none"}),
    )
    .await;
    assert_eq!(unassigned, json!({"key": "ED-3", "assignee": null}));
    ok(&client, "assign_issue", json!({"issue_key": "ED-3"})).await;
}

#[tokio::test]
async fn deleting_an_issue_with_subtasks_says_to_pass_delete_subtasks() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    let refusal = json!({"errorMessages": ["The issue has subtasks. To delete the issue, delete the subtasks first."], "errors": {}});
    expect(
        &server,
        Mock::given(method("DELETE"))
            .and(path(cloud("issue/ED-1")))
            .and(query_param("deleteSubtasks", "false")),
        ResponseTemplate::new(400).set_body_json(refusal),
        1,
        "delete",
    )
    .await;
    let message = err(&client, "delete_issue", json!({"issue_key": "ED-1"})).await;
    assert!(
        message.contains("The issue has subtasks") && message.contains("delete_subtasks: true"),
        "{message}"
    );
}

#[tokio::test]
async fn a_data_center_parent_without_an_epic_link_field_is_explained() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let only_summary = json!([{"id": "summary", "name": "Summary", "custom": false, "schema": {"type": "string", "system": "summary"}}]);
    expect(
        &server,
        Mock::given(method("GET")).and(path("/jira/rest/api/2/field")),
        ResponseTemplate::new(200).set_body_json(only_summary),
        1,
        "fields",
    )
    .await;
    expect(
        &server,
        Mock::given(method("PUT")),
        ResponseTemplate::new(204),
        0,
        "no edit",
    )
    .await;
    let message = err(
        &client,
        "set_issue_parent",
        json!({"issue_key": "ED-2", "parent_key": "ED-1"}),
    )
    .await;
    assert!(
        message.contains("no Epic Link field") && message.contains("sub-task"),
        "{message}"
    );
}

/// Malformed keys and ids, numbers out of range, oversized batches and keys
/// outside the project allowlist are refused before any request.
#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let server = MockServer::start().await;
    expect(
        &server,
        Mock::given(any()),
        ResponseTemplate::new(500),
        0,
        "any request",
    )
    .await;
    let (client, _dir) = cloud_client(&server, &[("JIRA_MCP_PROJECTS", "ED".into())]).await;
    let item = json!({"project_key": "ED", "issue_type": "Task", "summary": "s"});
    let cases = [
        (
            "delete_issue",
            json!({"issue_key": "ED-1/../2"}),
            "not an issue key",
        ),
        (
            "delete_issue",
            json!({"issue_key": "OPS-1"}),
            "outside the projects",
        ),
        (
            "assign_issue",
            json!({"issue_key": "..", "assignee": "me"}),
            "not an issue key",
        ),
        (
            "assign_issue",
            json!({"issue_key": "ED-1", "assignee": " "}),
            "give a user",
        ),
        (
            "get_issue_changelog",
            json!({"issue_key": "ED-1", "max_results": 0}),
            "`max_results` must be between 1 and 100, not 0",
        ),
        (
            "get_issue_changelog",
            json!({"issue_key": "ED-1", "start_at": 2_000_000}),
            "`start_at` must be between",
        ),
        (
            "set_issue_parent",
            json!({"issue_key": "ED-2", "parent_key": "OPS-1"}),
            "outside the projects",
        ),
        (
            "set_issue_parent",
            json!({"issue_key": "ED-2", "parent_key": "x y"}),
            "not an issue key",
        ),
        (
            "set_issue_parent",
            json!({"issue_key": "ED-2", "parent_key": "ed-2"}),
            "its own parent",
        ),
        ("get_watchers", json!({"issue_key": ""}), "not an issue key"),
        (
            "add_watcher",
            json!({"issue_key": "ED-1", "user": ""}),
            "give a user",
        ),
        (
            "remove_watcher",
            json!({"issue_key": "OPS-1", "user": "me"}),
            "outside the projects",
        ),
        (
            "get_comments",
            json!({"issue_key": "ED-1", "max_results": 500}),
            "between 1 and 100, not 500",
        ),
        (
            "get_comments",
            json!({"issue_key": "ED-1", "order_by": "sideways"}),
            "`order_by` must be `newest` or `oldest`",
        ),
        (
            "get_comments",
            json!({"issue_key": "ED-1", "max_text_length": 0}),
            "max_text_length",
        ),
        (
            "edit_comment",
            json!({"issue_key": "ED-1", "comment_id": "../10000", "body": "x"}),
            "`comment_id` must be a numeric id",
        ),
        (
            "edit_comment",
            json!({"issue_key": "OPS-1", "comment_id": "1", "body": "x"}),
            "outside the projects",
        ),
        (
            "get_worklogs",
            json!({"issue_key": "ED-1", "max_results": 101}),
            "between 1 and 100",
        ),
        (
            "batch_create_issues",
            json!({"issues": []}),
            "1 to 50 issues, not 0",
        ),
        (
            "batch_create_issues",
            json!({"issues": vec![item.clone(); 51]}),
            "1 to 50 issues, not 51",
        ),
        (
            "batch_create_issues",
            json!({"issues": [item, {"project_key": "OPS", "issue_type": "Task", "summary": "s"}, {"project_key": "ED", "issue_type": "Task", "summary": "s", "fields": {"parent": {"key": "OPS-9"}}}]}),
            "issue 1: project `OPS` is outside",
        ),
    ];
    for (tool, args, expected) in cases {
        let (is_error, message) = call(&client, tool, args).await;
        assert!(is_error && message.contains(expected), "{tool}: {message}");
    }
    // Every bad item is named, not just the first.
    let mixed = json!({"issues": [{"project_key": "E D", "issue_type": "Task", "summary": "s"}, {"project_key": "ED", "issue_type": "Task", "summary": "s", "fields": {"parent": {"key": "OPS-9"}}}]});
    let message = err(&client, "batch_create_issues", mixed).await;
    assert!(
        message.contains("issue 0: `E D` is not a project key")
            && message.contains("issue 1: project `OPS`")
            && message.contains("nothing was created"),
        "{message}"
    );
}

/// The Cloud fixtures these tests serve fit the spec's response schemas.
#[test]
fn cloud_fixtures_fit_the_spec_response_schemas() {
    let spec = e2e_tests::spec::JiraSpec::load().unwrap();
    for (file, schema) in [
        ("jira/changelog.json", "PageBeanChangelog"),
        ("jira/bulk-create-partial.json", "CreatedIssues"),
        ("jira/bulk-create-all-failed.json", "CreatedIssues"),
        ("jira/watchers.json", "Watchers"),
        ("jira/comments-page.json", "PageOfComments"),
        ("jira/comment-updated.json", "Comment"),
        ("jira/worklogs-page.json", "PageOfWorklogs"),
    ] {
        let checked = spec.check_value(&e2e_tests::spec::component(schema), &fixture_json(file));
        assert!(checked.is_ok(), "{file} ({schema}): {checked:?}");
    }
}

/// A 400 that is not a per-element bulk answer is an ordinary tool error.
#[tokio::test]
async fn a_bulk_request_jira_rejects_as_a_whole_is_an_error() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let whole = json!({"errorMessages": ["Request body is too large"], "errors": {}});
    expect(
        &server,
        Mock::given(method("POST")).and(path("/jira/rest/api/2/issue/bulk")),
        ResponseTemplate::new(400).set_body_json(whole),
        1,
        "bulk",
    )
    .await;
    let issues = json!([{"project_key": "ED", "issue_type": "Task", "summary": "s"}]);
    let message = err(&client, "batch_create_issues", json!({"issues": issues})).await;
    assert!(
        message.contains("Jira rejected the request (400): Request body is too large"),
        "{message}"
    );
}

/// Readers say so; deletes and overwrites are marked destructive.
#[tokio::test]
async fn annotations_say_which_tools_read_and_which_destroy() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let tools = client.list_all_tools().await.unwrap();
    let hints = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).expect(name);
        let a = tool.annotations.clone().unwrap_or_default();
        (a.read_only_hint, a.destructive_hint)
    };
    for reader in [
        "get_issue_changelog",
        "get_watchers",
        "get_comments",
        "get_worklogs",
    ] {
        assert_eq!(hints(reader).0, Some(true), "{reader}");
    }
    for destroyer in [
        "delete_issue",
        "edit_comment",
        "remove_watcher",
        "assign_issue",
        "set_issue_parent",
    ] {
        assert_eq!(hints(destroyer), (Some(false), Some(true)), "{destroyer}");
    }
    for adder in ["batch_create_issues", "add_watcher"] {
        assert_eq!(hints(adder), (Some(false), Some(false)), "{adder}");
    }
    let schema = serde_json::to_string(
        &tools
            .iter()
            .find(|t| t.name == "delete_issue")
            .unwrap()
            .input_schema,
    )
    .unwrap();
    assert!(
        schema.contains("delete_subtasks") && schema.contains("Jira refuses to delete"),
        "{schema}"
    );
}
