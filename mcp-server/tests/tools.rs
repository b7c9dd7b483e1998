//! Every Jira tool, on the Cloud shape (OAuth through the API gateway, REST v3,
//! ADF) and on the Data Center shape (PAT, REST v2, wiki markup).

mod common;

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One tool call and the Jira request it must make.
struct Case {
    tool: &'static str,
    args: Value,
    verb: &'static str,
    path: String,
    body: Option<Value>,
    answer: ResponseTemplate,
    expect_in_result: &'static str,
}

fn json_answer(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

async fn run(server: &MockServer, client: &Client, cases: Vec<Case>, auth: &str) {
    for case in &cases {
        let mut mock = Mock::given(method(case.verb))
            .and(path(case.path.as_str()))
            .and(header("authorization", auth));
        if let Some(body) = &case.body {
            mock = mock.and(body_partial_json(body.clone()));
        }
        mock.respond_with(case.answer.clone())
            .expect(1..)
            .named(case.tool)
            .mount(server)
            .await;
    }
    for case in cases {
        let result = ok(client, case.tool, case.args.clone()).await;
        let text = result.to_string();
        assert!(
            text.contains(case.expect_in_result),
            "{}: {text}",
            case.tool
        );
    }
}

fn case(
    tool: &'static str,
    args: Value,
    verb: &'static str,
    path: String,
    body: Option<Value>,
    answer: ResponseTemplate,
    expect_in_result: &'static str,
) -> Case {
    Case {
        tool,
        args,
        verb,
        path,
        body,
        answer,
        expect_in_result,
    }
}

#[tokio::test]
async fn every_jira_tool_on_cloud() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/accessible-resources"))
        .and(header("authorization", "Bearer access-0"))
        .respond_with(json_answer(200, "cloud/accessible-resources.json"))
        .expect(1)
        .mount(&server)
        .await;
    let adf = json!({"type": "doc", "version": 1});
    let cases = vec![
        case(
            "get_issue",
            json!({"issue_key": "ED-1"}),
            "GET",
            cloud("issue/ED-1"),
            None,
            json_answer(200, "jira/issue-full.json"),
            "Refresh tokens before they expire",
        ),
        case(
            "search_issues",
            json!({"jql": "project = ED", "max_results": 2}),
            "POST",
            cloud("search/jql"),
            Some(json!({"jql": "project = ED", "maxResults": 2})),
            json_answer(200, "jira/search-jql.json"),
            "next_page_token",
        ),
        case(
            "create_issue",
            json!({"project_key": "ED", "issue_type": "Task", "summary": "New", "description": "**Bold** text"}),
            "POST",
            cloud("issue"),
            Some(
                json!({"fields": {"project": {"key": "ED"}, "issuetype": {"name": "Task"}, "description": adf}}),
            ),
            json_answer(201, "jira/create-issue.json"),
            "ED-3",
        ),
        case(
            "edit_issue",
            json!({"issue_key": "ED-1", "summary": "Renamed", "description": "plain"}),
            "PUT",
            cloud("issue/ED-1"),
            Some(json!({"fields": {"summary": "Renamed", "description": adf}})),
            ResponseTemplate::new(204),
            "summary",
        ),
        case(
            "get_transitions",
            json!({"issue_key": "ED-1"}),
            "GET",
            cloud("issue/ED-1/transitions"),
            None,
            json_answer(200, "jira/transitions.json"),
            "In Progress",
        ),
        case(
            "transition_issue",
            json!({"issue_key": "ED-1", "transition": "done"}),
            "POST",
            cloud("issue/ED-1/transitions"),
            Some(json!({"transition": {"id": "31"}})),
            ResponseTemplate::new(204),
            "Done",
        ),
        case(
            "add_comment",
            json!({"issue_key": "ED-1", "body": "Looks *good*"}),
            "POST",
            cloud("issue/ED-1/comment"),
            Some(json!({"body": adf})),
            json_answer(201, "jira/comment.json"),
            "created",
        ),
        case(
            "add_worklog",
            json!({"issue_key": "ED-1", "time_spent": "1h 30m", "comment": "pairing"}),
            "POST",
            cloud("issue/ED-1/worklog"),
            Some(json!({"timeSpent": "1h 30m", "comment": adf})),
            json_answer(201, "jira/worklog.json"),
            "5400",
        ),
        case(
            "get_remote_issue_links",
            json!({"issue_key": "ED-1"}),
            "GET",
            cloud("issue/ED-1/remotelink"),
            None,
            json_answer(200, "jira/remote-links.json"),
            "github",
        ),
        case(
            "get_project_issue_types",
            json!({"project_key": "ED"}),
            "GET",
            cloud("issue/createmeta/ED/issuetypes"),
            None,
            json_answer(200, "jira/createmeta-issuetypes.json"),
            "Bug",
        ),
        case(
            "get_create_fields",
            json!({"project_key": "ED", "issue_type": "Task"}),
            "GET",
            cloud("issue/createmeta/ED/issuetypes/10001"),
            None,
            json_answer(200, "jira/createmeta-fields.json"),
            "allowed_values",
        ),
        case(
            "list_projects",
            json!({"query": "ed"}),
            "GET",
            cloud("project/search"),
            None,
            json_answer(200, "jira/project-search.json"),
            "Edison",
        ),
        case(
            "lookup_account_id",
            json!({"query": "mia"}),
            "GET",
            cloud("user/search"),
            None,
            json_answer(200, "jira/user-search.json"),
            "5b10a2844c20165700ede21g",
        ),
        case(
            "get_issue_link_types",
            json!({}),
            "GET",
            cloud("issueLinkType"),
            None,
            json_answer(200, "jira/issue-link-types.json"),
            "is blocked by",
        ),
        case(
            "create_issue_link",
            json!({"link_type": "Blocks", "inward_issue": "ED-2", "outward_issue": "ED-1"}),
            "POST",
            cloud("issueLink"),
            Some(json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "ED-2"}})),
            ResponseTemplate::new(201),
            "linked",
        ),
        case(
            "get_current_user",
            json!({}),
            "GET",
            cloud("myself"),
            None,
            json_answer(200, "jira/myself.json"),
            "Mia Krystof",
        ),
    ];
    run(&server, &client, cases, "Bearer access-0").await;

    let sites = ok(&client, "get_accessible_resources", json!({})).await;
    assert_eq!(sites["sites"][0]["cloud_id"], CLOUD_ID);
}

#[tokio::test]
async fn get_issue_is_concise_and_readable() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    Mock::given(method("GET"))
        .and(path(cloud("issue/ED-1")))
        .and(query_param("fields", "summary,status,issuetype,priority,assignee,reporter,labels,created,updated,project,parent,description,comment,duedate"))
        .respond_with(json_answer(200, "jira/issue-full.json"))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    let issue = ok(
        &client,
        "get_issue",
        json!({"issue_key": "ED-1", "fields": ["duedate"]}),
    )
    .await;
    assert_eq!(issue["key"], "ED-1");
    assert_eq!(
        issue["url"],
        "https://your-domain.atlassian.net/browse/ED-1"
    );
    assert_eq!(issue["status"], "In Progress");
    assert!(issue["description"].as_str().unwrap().len() > 10, "{issue}");
    assert!(
        !issue.to_string().contains("\"type\":\"doc\""),
        "ADF must come back as text: {issue}"
    );
    assert!(issue.to_string().len() < fixture("jira/issue-full.json").len());
}

#[tokio::test]
async fn search_pages_with_next_page_token_on_cloud() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let first = fixture_json("jira/search-jql.json");
    let token = first["nextPageToken"].as_str().unwrap().to_string();
    Mock::given(method("POST"))
        .and(path(cloud("search/jql")))
        .and(body_partial_json(json!({"nextPageToken": token})))
        .respond_with(json_answer(200, "jira/search-jql-last.json"))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    let page = ok(
        &client,
        "search_issues",
        json!({"jql": "project = ED", "next_page_token": token}),
    )
    .await;
    assert_eq!(page["is_last"], true);
    assert!(page.get("next_page_token").is_none());
}

#[tokio::test]
async fn every_jira_tool_on_data_center() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let dc = |p: &str| format!("/jira/rest/api/2/{p}");
    let cases = vec![
        case(
            "get_issue",
            json!({"issue_key": "ED-1"}),
            "GET",
            dc("issue/ED-1"),
            None,
            json_answer(200, "jira-dc/issue.json"),
            "Refresh tokens",
        ),
        case(
            "search_issues",
            json!({"jql": "project = ED"}),
            "POST",
            dc("search"),
            Some(json!({"jql": "project = ED", "startAt": 0})),
            json_answer(200, "jira-dc/search.json"),
            "ED-2",
        ),
        case(
            "create_issue",
            json!({"project_key": "ED", "issue_type": "10001", "summary": "New", "description": "**Bold** and a [link](https://example.com)"}),
            "POST",
            dc("issue"),
            Some(
                json!({"fields": {"issuetype": {"id": "10001"}, "description": "*Bold* and a [link|https://example.com]"}}),
            ),
            json_answer(201, "jira-dc/create-issue.json"),
            "ED-3",
        ),
        case(
            "edit_issue",
            json!({"issue_key": "ED-1", "description": "# Title"}),
            "PUT",
            dc("issue/ED-1"),
            Some(json!({"fields": {"description": "h1. Title"}})),
            ResponseTemplate::new(204),
            "description",
        ),
        case(
            "get_transitions",
            json!({"issue_key": "ED-1"}),
            "GET",
            dc("issue/ED-1/transitions"),
            None,
            json_answer(200, "jira-dc/transitions.json"),
            "Done",
        ),
        case(
            "transition_issue",
            json!({"issue_key": "ED-1", "transition": "21"}),
            "POST",
            dc("issue/ED-1/transitions"),
            Some(json!({"transition": {"id": "21"}})),
            ResponseTemplate::new(204),
            "In Progress",
        ),
        case(
            "add_comment",
            json!({"issue_key": "ED-1", "body": "_note_"}),
            "POST",
            dc("issue/ED-1/comment"),
            Some(json!({"body": "_note_"})),
            json_answer(201, "jira-dc/comment.json"),
            "created",
        ),
        case(
            "add_worklog",
            json!({"issue_key": "ED-1", "time_spent": "2h"}),
            "POST",
            dc("issue/ED-1/worklog"),
            Some(json!({"timeSpent": "2h"})),
            json_answer(201, "jira-dc/worklog.json"),
            "time_spent",
        ),
        case(
            "get_remote_issue_links",
            json!({"issue_key": "ED-1"}),
            "GET",
            dc("issue/ED-1/remotelink"),
            None,
            json_answer(200, "jira-dc/remote-links.json"),
            "links",
        ),
        case(
            "get_project_issue_types",
            json!({"project_key": "ED"}),
            "GET",
            dc("issue/createmeta/ED/issuetypes"),
            None,
            json_answer(200, "jira-dc/createmeta-issuetypes.json"),
            "Story",
        ),
        case(
            "get_create_fields",
            json!({"project_key": "ED", "issue_type": "Bug"}),
            "GET",
            dc("issue/createmeta/ED/issuetypes/10002"),
            None,
            json_answer(200, "jira-dc/createmeta-fields.json"),
            "summary",
        ),
        case(
            "list_projects",
            json!({"query": "monkey"}),
            "GET",
            dc("project"),
            None,
            json_answer(200, "jira-dc/projects.json"),
            "MKY",
        ),
        case(
            "lookup_account_id",
            json!({"query": "mia"}),
            "GET",
            dc("user/search"),
            None,
            json_answer(200, "jira-dc/user-search.json"),
            "JIRAUSER10100",
        ),
        case(
            "get_issue_link_types",
            json!({}),
            "GET",
            dc("issueLinkType"),
            None,
            json_answer(200, "jira-dc/issue-link-types.json"),
            "Blocks",
        ),
        case(
            "create_issue_link",
            json!({"link_type": "Relates", "inward_issue": "ED-1", "outward_issue": "ED-2", "comment": "see"}),
            "POST",
            dc("issueLink"),
            Some(json!({"comment": {"body": "see"}})),
            ResponseTemplate::new(201),
            "Relates",
        ),
        case(
            "get_current_user",
            json!({}),
            "GET",
            dc("myself"),
            None,
            json_answer(200, "jira-dc/myself.json"),
            "mia",
        ),
    ];
    run(&server, &client, cases, "Bearer dc-pat").await;

    let message = err(&client, "get_accessible_resources", json!({})).await;
    assert!(message.contains("only for Jira Cloud"), "{message}");
}

#[tokio::test]
async fn an_unknown_transition_lists_the_available_ones() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/issue/ED-1/transitions"))
        .respond_with(json_answer(200, "jira-dc/transitions.json"))
        .mount(&server)
        .await;
    let message = err(
        &client,
        "transition_issue",
        json!({"issue_key": "ED-1", "transition": "Launch"}),
    )
    .await;
    assert!(
        message.contains("To Do (id 11)") && message.contains("Done"),
        "{message}"
    );
}

/// Malformed keys and out-of-range numbers are refused before any request.
#[tokio::test]
async fn bad_keys_and_limits_are_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("any request")
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    let huge = "A".repeat(10 * 1024 * 1024);
    let cases = [
        ("get_issue", json!({"issue_key": ".."}), "not an issue key"),
        ("get_issue", json!({"issue_key": ""}), "not an issue key"),
        ("get_issue", json!({"issue_key": huge}), "not an issue key"),
        (
            "add_comment",
            json!({"issue_key": "../../myself", "body": "x"}),
            "not an issue key",
        ),
        (
            "get_transitions",
            json!({"issue_key": "ED-1/../2"}),
            "not an issue key",
        ),
        (
            "create_issue_link",
            json!({"link_type": "Blocks", "inward_issue": "ED-1", "outward_issue": "x y"}),
            "not an issue key",
        ),
        (
            "create_issue",
            json!({"project_key": "E D", "issue_type": "Task", "summary": "s"}),
            "not a project key",
        ),
        (
            "get_project_issue_types",
            json!({"project_key": ".."}),
            "not a project key",
        ),
        (
            "search_issues",
            json!({"jql": "project = ED", "max_results": 500}),
            "`max_results` must be between 1 and 100, not 500",
        ),
        (
            "search_issues",
            json!({"jql": "project = ED", "max_results": 0}),
            "between 1 and 100",
        ),
        (
            "list_projects",
            json!({"max_results": 1000}),
            "between 1 and 100",
        ),
        (
            "get_issue",
            json!({"issue_key": "ED-1", "max_text_length": 0}),
            "max_text_length",
        ),
    ];
    for (tool, args, expected) in cases {
        let (is_error, message) = call(&client, tool, args).await;
        assert!(is_error && message.contains(expected), "{tool}: {message}");
        assert!(message.len() < 1000, "{tool} echoed its input");
    }
}

/// Long text fields are cut with a marker saying how to read the rest, and
/// results are compact JSON.
#[tokio::test]
async fn long_text_fields_are_cut_with_a_marker_that_says_how_to_get_the_rest() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let long = "word ".repeat(40_000); // 200,000 characters
    let mut issue = fixture_json("jira/issue-full.json");
    issue["fields"]["description"] = json!(long);
    issue["fields"]["customfield_10010"] = json!(long);
    issue["fields"]["comment"]["comments"][0]["body"] = json!(long);
    Mock::given(method("GET"))
        .and(path(cloud("issue/ED-1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(&issue))
        .mount(&server)
        .await;
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    let args = json!({"issue_key": "ED-1", "fields": ["customfield_10010"]});
    let (is_error, text) = call(&client, "get_issue", args).await;
    assert!(!is_error, "{text}");
    assert!(text.len() < 40_000, "{} bytes", text.len());
    assert!(!text.contains("\n  \""), "pretty-printed JSON");
    let cut: Value = serde_json::from_str(&text).unwrap();
    for field in [
        &cut["description"],
        &cut["fields"]["customfield_10010"],
        &cut["comments"][0]["body"],
    ] {
        let field = field.as_str().unwrap();
        assert!(
            field.contains("more characters not shown") && field.contains("max_text_length 200000"),
            "{}",
            &field[field.len() - 200..]
        );
    }
    // Asking for more gets all of it.
    let args = json!({"issue_key": "ED-1", "max_text_length": 300_000});
    let full = ok(&client, "get_issue", args).await;
    assert_eq!(
        full["description"].as_str().unwrap().trim_end(),
        long.trim_end()
    );
}
