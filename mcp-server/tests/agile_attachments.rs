//! The agile tools (Jira Software `/rest/agile/1.0`) and the attachment
//! tools, on Cloud (OAuth through the API gateway) and Data Center (PAT).

mod common;

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{any, body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A Cloud agile path behind the gateway.
fn agile(tail: &str) -> String {
    format!("/ex/jira/{CLOUD_ID}/rest/agile/1.0/{tail}")
}

/// A Data Center agile path under the site's context path.
fn dc_agile(tail: &str) -> String {
    format!("/jira/rest/agile/1.0/{tail}")
}

fn answer(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

async fn cloud_client(
    server: &MockServer,
    extra: &[(&'static str, &str)],
) -> (Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let mut vars = cloud_oauth_vars(server, &file);
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    (connect(config(&vars)).await, dir)
}

#[tokio::test]
async fn agile_read_tools_on_cloud() {
    let server = MockServer::start().await;
    let bearer = || header("authorization", "Bearer access-0");
    Mock::given(method("GET"))
        .and(path(agile("board")))
        .and(bearer())
        .and(query_param("projectKeyOrId", "ED"))
        .and(query_param("type", "scrum"))
        .and(query_param("maxResults", "50"))
        .respond_with(answer(200, "agile/boards.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("board/84/issue")))
        .and(bearer())
        .and(query_param("jql", "assignee = currentUser()"))
        .and(query_param(
            "fields",
            "summary,status,issuetype,priority,assignee,updated,sprint",
        ))
        .and(query_param("startAt", "0"))
        .respond_with(answer(200, "agile/board-issues.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("board/84/backlog")))
        .and(query_param("maxResults", "1"))
        .respond_with(answer(200, "agile/backlog-issues.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("board/84/sprint")))
        .and(query_param("state", "active,closed"))
        .and(query_param("maxResults", "2"))
        .respond_with(answer(200, "agile/sprints.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("sprint/72/issue")))
        .respond_with(answer(200, "agile/sprint-issues.json"))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = cloud_client(&server, &[]).await;

    let boards = ok(
        &client,
        "list_boards",
        json!({"project_key": "ED", "board_type": "Scrum"}),
    )
    .await;
    assert_eq!(
        boards["boards"][0],
        json!({"id": 84, "name": "ED board", "type": "scrum", "project": "ED"})
    );
    assert_eq!(boards["boards"].as_array().unwrap().len(), 3);
    assert_eq!(boards["is_last"], true);
    assert!(boards.get("hidden_outside_allowed_projects").is_none());

    let issues = ok(
        &client,
        "get_board_issues",
        json!({"board_id": 84, "jql": "assignee = currentUser()", "fields": ["sprint"]}),
    )
    .await;
    assert_eq!(issues["total"], 2);
    assert_eq!(issues["is_last"], true);
    let first = &issues["issues"][0];
    assert_eq!(first["key"], "ED-1");
    assert_eq!(first["status"], "In Progress");
    assert_eq!(first["assignee"]["display_name"], "Mia Krystof");
    assert_eq!(
        first["url"],
        "https://your-domain.atlassian.net/browse/ED-1"
    );
    assert_eq!(first["fields"]["sprint"]["name"], "ED Sprint 2");
    assert!(issues.to_string().len() < fixture("agile/board-issues.json").len() / 2);

    let backlog = ok(
        &client,
        "get_backlog_issues",
        json!({"board_id": 84, "max_results": 1}),
    )
    .await;
    assert_eq!(backlog["issues"][0]["key"], "ED-4");
    assert_eq!(backlog["is_last"], false);
    assert_eq!(backlog["next_start_at"], 1);

    let sprints = ok(
        &client,
        "list_sprints",
        json!({"board_id": 84, "states": ["active", "CLOSED"], "max_results": 2}),
    )
    .await;
    assert_eq!(
        sprints["sprints"][1],
        json!({"id": 72, "name": "ED Sprint 2", "state": "active", "start_date": "2026-11-16T09:00:00.000Z", "end_date": "2026-11-30T17:00:00.000Z", "board_id": 84})
    );
    assert_eq!(sprints["sprints"][0]["goal"], "Ship token refresh");
    assert_eq!(sprints["next_start_at"], 2);

    let in_sprint = ok(&client, "get_sprint_issues", json!({"sprint_id": 72})).await;
    assert_eq!(in_sprint["issues"][0]["key"], "ED-1");
    assert_eq!(in_sprint["is_last"], true);

    // Agile requests are outside the platform spec: none is checked there.
    assert_eq!(assert_requests_fit_the_cloud_spec(&server).await, 0);
}

#[tokio::test]
async fn sprint_writes_on_cloud() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(agile("sprint")))
        .and(body_json(json!({
            "name": "ED Sprint 3", "originBoardId": 84,
            "startDate": "2026-12-01T09:00:00.000Z", "endDate": "2026-12-14T17:00:00.000Z",
            "goal": "Agile tools"
        })))
        .respond_with(answer(201, "agile/sprint-created.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("sprint/73")))
        .respond_with(answer(200, "agile/sprint-future.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(agile("sprint/73")))
        .and(body_json(json!({
            "state": "active",
            "startDate": "2026-12-01T09:00:00.000Z", "endDate": "2026-12-14T17:00:00.000Z"
        })))
        .respond_with(answer(200, "agile/sprint-started.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(agile("sprint/73/issue")))
        .and(body_json(json!({"issues": ["ED-1", "ED-4"]})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = cloud_client(&server, &[]).await;

    let created = ok(
        &client,
        "create_sprint",
        json!({"name": " ED Sprint 3 ", "board_id": 84, "start_date": "2026-12-01T09:00:00.000Z",
               "end_date": "2026-12-14T17:00:00.000Z", "goal": "Agile tools"}),
    )
    .await;
    assert_eq!(created["id"], 73);
    assert_eq!(created["state"], "future");

    let started = ok(
        &client,
        "update_sprint",
        json!({"sprint_id": 73, "state": "active", "start_date": "2026-12-01T09:00:00.000Z",
               "end_date": "2026-12-14T17:00:00.000Z"}),
    )
    .await;
    assert_eq!(started["state"], "active");

    let moved = ok(
        &client,
        "move_issues_to_sprint",
        json!({"sprint_id": 73, "issue_keys": ["ED-1", "ED-4"]}),
    )
    .await;
    assert_eq!(
        moved,
        json!({"moved": 2, "sprint_id": 73, "issues": ["ED-1", "ED-4"]})
    );
    assert_eq!(assert_requests_fit_the_cloud_spec(&server).await, 0);
}

#[tokio::test]
async fn a_closed_sprint_is_not_reopened_and_a_future_one_needs_dates_to_start() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(agile("sprint/37")))
        .respond_with(answer(200, "agile/sprint-closed.json"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("sprint/73")))
        .respond_with(answer(200, "agile/sprint-future.json"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("no update is sent")
        .mount(&server)
        .await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    let message = err(
        &client,
        "update_sprint",
        json!({"sprint_id": 37, "state": "active"}),
    )
    .await;
    assert!(message.contains("cannot be reopened"), "{message}");
    let message = err(
        &client,
        "update_sprint",
        json!({"sprint_id": 37, "end_date": "2026-12-01"}),
    )
    .await;
    assert!(message.contains("only its name and goal"), "{message}");
    let message = err(
        &client,
        "update_sprint",
        json!({"sprint_id": 73, "state": "active"}),
    )
    .await;
    assert!(
        message.contains("needs a start_date and an end_date"),
        "{message}"
    );
    let message = err(
        &client,
        "update_sprint",
        json!({"sprint_id": 73, "state": "closed"}),
    )
    .await;
    assert!(message.contains("has not started"), "{message}");
}

#[tokio::test]
async fn agile_tools_on_data_center() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let bearer = || header("authorization", "Bearer dc-pat");
    Mock::given(method("GET"))
        .and(path(dc_agile("board")))
        .and(bearer())
        .respond_with(answer(200, "agile/boards.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(dc_agile("board/84/sprint")))
        .and(bearer())
        .respond_with(answer(200, "agile/sprints.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(dc_agile("sprint/72/issue")))
        .and(bearer())
        .and(query_param("jql", "status != Done"))
        .respond_with(answer(200, "agile/sprint-issues.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(dc_agile("sprint/72")))
        .and(bearer())
        .and(body_json(json!({"name": "Renamed", "goal": "Finish"})))
        .respond_with(answer(200, "agile/sprint-started.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(dc_agile("sprint/72")))
        .respond_with(answer(200, "agile/sprint-started.json"))
        .expect(1)
        .mount(&server)
        .await;
    let boards = ok(&client, "list_boards", json!({})).await;
    assert_eq!(boards["boards"][1]["type"], "kanban");
    let sprints = ok(&client, "list_sprints", json!({"board_id": 84})).await;
    assert_eq!(sprints["sprints"][0]["state"], "closed");
    let issues = ok(
        &client,
        "get_sprint_issues",
        json!({"sprint_id": 72, "jql": "status != Done"}),
    )
    .await;
    assert_eq!(issues["issues"][0]["key"], "ED-1");
    assert_eq!(issues["issues"][0]["status"], "In Progress");
    let renamed = ok(
        &client,
        "update_sprint",
        json!({"sprint_id": 72, "name": "Renamed", "goal": "Finish"}),
    )
    .await;
    assert_eq!(renamed["id"], 73);
}

const PROJECTS: (&str, &str) = ("JIRA_MCP_PROJECTS", "ED OPS");

#[tokio::test]
async fn the_project_allowlist_reaches_boards_sprints_and_board_jql() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(agile("board")))
        .respond_with(answer(200, "agile/boards.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("board/84/issue")))
        .and(query_param(
            "jql",
            "project in (\"ED\", \"OPS\") AND (project = SECRET OR assignee = currentUser())",
        ))
        .respond_with(answer(200, "agile/board-issues.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("board/84/backlog")))
        .and(query_param("jql", "project in (\"ED\", \"OPS\")"))
        .respond_with(answer(200, "agile/backlog-issues.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("board/92")))
        .respond_with(answer(200, "agile/board-other-project.json"))
        .expect(4)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("sprint/80")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": 80, "state": "active", "name": "MKY 1", "originBoardId": 92}),
        ))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(agile("board/92/sprint")))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("no write outside the allowlist")
        .mount(&server)
        .await;
    let (client, _dir) = cloud_client(&server, &[PROJECTS]).await;

    let boards = ok(&client, "list_boards", json!({})).await;
    let ids: Vec<&Value> = boards["boards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["id"])
        .collect();
    assert_eq!(ids, [&json!(84)], "{boards}");
    assert_eq!(boards["hidden_outside_allowed_projects"], 2);

    ok(
        &client,
        "get_board_issues",
        json!({"board_id": 84, "jql": "project = SECRET OR assignee = currentUser()"}),
    )
    .await;
    ok(&client, "get_backlog_issues", json!({"board_id": 84})).await;

    for (tool, args) in [
        ("list_sprints", json!({"board_id": 92})),
        ("create_sprint", json!({"board_id": 92, "name": "x"})),
        ("update_sprint", json!({"sprint_id": 80, "name": "x"})),
        (
            "move_issues_to_sprint",
            json!({"sprint_id": 80, "issue_keys": ["ED-1"]}),
        ),
        ("list_boards", json!({"project_key": "MKY"})),
        (
            "move_issues_to_sprint",
            json!({"sprint_id": 72, "issue_keys": ["ED-1", "MKY-1"]}),
        ),
    ] {
        let message = err(&client, tool, args.clone()).await;
        assert!(
            message.contains("JIRA_MCP_PROJECTS"),
            "{tool} {args}: {message}"
        );
    }
}

/// Malformed ids, keys, dates and out-of-range numbers are refused before
/// any request.
#[tokio::test]
async fn agile_input_is_checked_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("any request")
        .mount(&server)
        .await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    let keys: Vec<String> = (1..=51).map(|n| format!("ED-{n}")).collect();
    let cases = [
        ("list_boards", json!({"max_results": 0}), "between 1 and 50"),
        (
            "list_boards",
            json!({"max_results": 51}),
            "between 1 and 50",
        ),
        (
            "list_boards",
            json!({"board_type": "sprinty"}),
            "`board_type` must be one of scrum, kanban, simple",
        ),
        (
            "list_boards",
            json!({"project_key": "E D"}),
            "not a project key",
        ),
        (
            "get_board_issues",
            json!({"board_id": 0}),
            "`board_id` must be a positive number",
        ),
        (
            "get_board_issues",
            json!({"board_id": 84, "max_results": 101}),
            "between 1 and 100",
        ),
        (
            "get_backlog_issues",
            json!({"board_id": 84, "max_results": 0}),
            "between 1 and 100",
        ),
        (
            "get_sprint_issues",
            json!({"sprint_id": 0}),
            "`sprint_id` must be a positive number",
        ),
        (
            "list_sprints",
            json!({"board_id": 84, "states": ["open"]}),
            "`state` must be one of future, active, closed",
        ),
        (
            "list_sprints",
            json!({"board_id": 84, "max_results": 500}),
            "between 1 and 50",
        ),
        (
            "create_sprint",
            json!({"board_id": 84, "name": "  "}),
            "must not be empty",
        ),
        (
            "create_sprint",
            json!({"board_id": 84, "name": "S", "start_date": "next monday"}),
            "`start_date` must be an ISO 8601",
        ),
        (
            "create_sprint",
            json!({"board_id": 0, "name": "S"}),
            "positive number",
        ),
        (
            "update_sprint",
            json!({"sprint_id": 73}),
            "nothing to change",
        ),
        (
            "update_sprint",
            json!({"sprint_id": 73, "state": "future"}),
            "`state` must be `active`",
        ),
        (
            "update_sprint",
            json!({"sprint_id": 73, "end_date": "14/12/2026"}),
            "`end_date` must be an ISO 8601",
        ),
        (
            "move_issues_to_sprint",
            json!({"sprint_id": 73, "issue_keys": []}),
            "between 1 and 50 issue keys",
        ),
        (
            "move_issues_to_sprint",
            json!({"sprint_id": 73, "issue_keys": keys}),
            "not 51",
        ),
        (
            "move_issues_to_sprint",
            json!({"sprint_id": 73, "issue_keys": ["ED-1", "../x"]}),
            "not an issue key",
        ),
    ];
    for (tool, args, expected) in cases {
        let (is_error, message) = call(&client, tool, args.clone()).await;
        assert!(
            is_error && message.contains(expected),
            "{tool} {args}: {message}"
        );
        assert!(message.len() < 1000, "{tool} echoed its input");
    }
}

/// A tool's whole result, content blocks and all.
async fn call_raw(client: &Client, tool: &str, args: Value) -> rmcp::model::CallToolResult {
    call_result(client, tool, args).await
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Matches a request whose body holds these bytes (not necessarily UTF-8).
struct BodyHas(&'static [u8]);

impl wiremock::Match for BodyHas {
    fn matches(&self, request: &wiremock::Request) -> bool {
        request.body.windows(self.0.len()).any(|w| w == self.0)
    }
}

/// The bytes of a 1×1 PNG (its signature and header are what matter here).
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

#[tokio::test]
async fn attachment_tools_on_cloud() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(cloud("issue/ED-1")))
        .and(query_param("fields", "attachment"))
        .respond_with(answer(200, "jira/issue-attachments.json"))
        .expect(1)
        .mount(&server)
        .await;
    let content = |id: &str, body: &[u8], kind: &str| {
        Mock::given(method("GET"))
            .and(path(cloud(&format!("attachment/content/{id}"))))
            .and(query_param("redirect", "false"))
            .and(header("accept", "*/*"))
            .and(header("authorization", "Bearer access-0"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_vec(), kind))
            .expect(1)
    };
    for (id, fixture_name) in [
        ("10000", "jira/attachment-png.json"),
        ("10001", "jira/attachment-text.json"),
        ("10002", "jira/attachment-pdf.json"),
        ("10003", "jira/attachment-large.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(cloud(&format!("attachment/{id}"))))
            .respond_with(answer(200, fixture_name))
            .expect(1)
            .mount(&server)
            .await;
    }
    content("10000", PNG, "image/png").mount(&server).await;
    content("10001", b"first line\nsecond line\n", "text/plain")
        .mount(&server)
        .await;
    content("10002", b"%PDF-1.7\n%\xe2\xe3", "application/pdf")
        .mount(&server)
        .await;
    Mock::given(path(cloud("attachment/content/10003")))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("an attachment over the cap is not downloaded")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(cloud("issue/ED-1/attachments")))
        .and(header("x-atlassian-token", "no-check"))
        .and(BodyHas(
            b"Content-Disposition: form-data; name=\"file\"; filename=\"diagram.png\"",
        ))
        .and(BodyHas(b"Content-Type: image/png"))
        .and(BodyHas(PNG))
        .respond_with(answer(200, "jira/attachments-added.json"))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = cloud_client(&server, &[]).await;

    let listed = ok(&client, "get_attachments", json!({"issue_key": "ED-1"})).await;
    assert_eq!(listed["attachments"].as_array().unwrap().len(), 4);
    assert_eq!(
        listed["attachments"][0],
        json!({"id": "10000", "filename": "screenshot.png", "size": 23123, "mime_type": "image/png",
               "author": {"display_name": "Mia Krystof", "account_id": "5b10a2844c20165700ede21g"},
               "created": "2026-11-20T10:15:03.000+0000"})
    );

    let image = call_raw(
        &client,
        "download_attachment",
        json!({"attachment_id": "10000"}),
    )
    .await;
    assert_eq!(image.is_error, Some(false));
    let meta: Value = serde_json::from_str(&image.content[0].as_text().unwrap().text).unwrap();
    assert_eq!(meta["filename"], "screenshot.png");
    assert_eq!(meta["returned_as"], "image");
    let shown = image.content[1].as_image().expect("an image block");
    assert_eq!(
        (shown.data.as_str(), shown.mime_type.as_str()),
        (base64(PNG).as_str(), "image/png")
    );

    let text = call_raw(
        &client,
        "download_attachment",
        json!({"attachment_id": "10001"}),
    )
    .await;
    assert_eq!(
        text.content[1].as_text().unwrap().text,
        "first line\nsecond line\n"
    );

    let pdf = call_raw(
        &client,
        "download_attachment",
        json!({"attachment_id": "10002"}),
    )
    .await;
    let resource =
        serde_json::to_value(pdf.content[1].as_resource().expect("a resource block")).unwrap();
    assert_eq!(resource["resource"]["blob"], base64(b"%PDF-1.7\n%\xe2\xe3"));
    assert_eq!(resource["resource"]["mimeType"], "application/pdf");
    assert_eq!(
        resource["resource"]["uri"],
        "https://your-domain.atlassian.net/rest/api/3/attachment/content/10002"
    );

    let message = err(
        &client,
        "download_attachment",
        json!({"attachment_id": "10003"}),
    )
    .await;
    assert!(
        message.contains("attachment 10003 is 20.0 MiB, more than this tool handles (10.0 MiB)")
            && message.contains("open it in Jira instead"),
        "{message}"
    );

    let uploaded = ok(
        &client,
        "upload_attachment",
        json!({"issue_key": "ED-1", "filename": "diagram.png", "content_base64": base64(PNG)}),
    )
    .await;
    assert_eq!(uploaded["attached"][0]["id"], "10004");
    assert_eq!(uploaded["attached"][0]["mime_type"], "image/png");
    let received = server.received_requests().await.unwrap();
    let upload = received
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    assert!(
        upload.body.windows(PNG.len()).any(|w| w == PNG),
        "the file's bytes are sent as they are"
    );

    // Every platform request fits the spec: 1 issue, 4 metadata, 3 content, 1 upload.
    assert_eq!(assert_requests_fit_the_cloud_spec(&server).await, 9);
}

#[tokio::test]
async fn attachment_tools_on_data_center() {
    let server = MockServer::start().await;
    let site = format!("{}/jira", server.uri());
    let dc_fixture = |name: &str| fixture(name).replace("{{site}}", &site);
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/issue/ED-1"))
        .and(query_param("fields", "attachment"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            dc_fixture("jira-dc/issue-attachments.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/attachment/10001"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            dc_fixture("jira-dc/attachment-text.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/secure/attachment/10001/notes.txt"))
        .and(header("authorization", "Bearer dc-pat"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("hello from DC", "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/jira/rest/api/2/issue/ED-1/attachments"))
        .and(header("x-atlassian-token", "no-check"))
        .and(wiremock::matchers::body_string_contains(
            "filename=\"notes\"",
        ))
        .and(wiremock::matchers::body_string_contains(
            "Content-Type: text/markdown",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            dc_fixture("jira-dc/attachments-added.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let listed = ok(&client, "get_attachments", json!({"issue_key": "ED-1"})).await;
    assert_eq!(listed["attachments"][0]["author"]["name"], "mia");
    let text = call_raw(
        &client,
        "download_attachment",
        json!({"attachment_id": "10001"}),
    )
    .await;
    assert_eq!(text.content[1].as_text().unwrap().text, "hello from DC");
    let uploaded = ok(
        &client,
        "upload_attachment",
        json!({"issue_key": "ED-1", "filename": "notes", "content_base64": format!("data:text/markdown;base64,{}", base64(b"# Notes"))}),
    )
    .await;
    assert_eq!(uploaded["attached"][0]["filename"], "diagram.png");
}

#[tokio::test]
async fn with_an_allowlist_a_download_names_an_allowed_issue_that_holds_the_attachment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(cloud("issue/ED-1")))
        .respond_with(answer(200, "jira/issue-attachments.json"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(cloud("attachment/10001")))
        .respond_with(answer(200, "jira/attachment-text.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(cloud("attachment/content/10001")))
        .respond_with(ResponseTemplate::new(200).set_body_raw("notes", "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _dir) = cloud_client(&server, &[PROJECTS]).await;
    for (args, expected) in [
        (json!({"attachment_id": "10001"}), "give `issue_key` too"),
        (
            json!({"attachment_id": "10001", "issue_key": "MKY-1"}),
            "JIRA_MCP_PROJECTS",
        ),
        (
            json!({"attachment_id": "99999", "issue_key": "ED-1"}),
            "attachment 99999 is not on ED-1",
        ),
    ] {
        let message = err(&client, "download_attachment", args).await;
        assert!(message.contains(expected), "{message}");
    }
    let text = call_raw(
        &client,
        "download_attachment",
        json!({"attachment_id": "10001", "issue_key": "ED-1"}),
    )
    .await;
    assert_eq!(text.content[1].as_text().unwrap().text, "notes");
}

/// Bad ids, names and content are refused before any request; an upload
/// over the cap is refused before it is decoded or sent.
#[tokio::test]
async fn attachment_input_is_checked_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("any request")
        .mount(&server)
        .await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    let over_cap = base64(&vec![0u8; 10 * 1024 * 1024 + 1]);
    let cases = [
        (
            "get_attachments",
            json!({"issue_key": "ED-1/../x"}),
            "not an issue key",
        ),
        (
            "download_attachment",
            json!({"attachment_id": "../10000"}),
            "not an attachment id",
        ),
        (
            "download_attachment",
            json!({"attachment_id": ""}),
            "not an attachment id",
        ),
        (
            "upload_attachment",
            json!({"issue_key": "ED 1", "filename": "a.txt", "content_base64": "YQ=="}),
            "not an issue key",
        ),
        (
            "upload_attachment",
            json!({"issue_key": "ED-1", "filename": "/etc/passwd", "content_base64": "YQ=="}),
            "not a file name",
        ),
        (
            "upload_attachment",
            json!({"issue_key": "ED-1", "filename": "a.txt", "content_base64": "not base64!"}),
            "not standard base64",
        ),
        (
            "upload_attachment",
            json!({"issue_key": "ED-1", "filename": "a.bin", "content_base64": over_cap}),
            "larger than 10.0 MiB",
        ),
        (
            "upload_attachment",
            json!({"issue_key": "ED-1", "filename": "a.txt", "content_base64": "YQ==", "mime_type": "text"}),
            "not a MIME type",
        ),
    ];
    for (tool, args, expected) in cases {
        let (is_error, message) = call(&client, tool, args).await;
        assert!(is_error && message.contains(expected), "{tool}: {message}");
        assert!(message.len() < 1000, "{tool} echoed its input");
    }
}

/// Jira may answer the content request with a redirect (to Atlassian's media
/// service): it is followed, and the credentials stay behind.
#[tokio::test]
async fn a_redirected_download_is_followed_without_the_credentials() {
    let server = MockServer::start().await;
    let media = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(cloud("attachment/10001")))
        .respond_with(answer(200, "jira/attachment-text.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(cloud("attachment/content/10001")))
        .respond_with(ResponseTemplate::new(303).insert_header(
            "location",
            format!("{}/file/abc/binary?token=t", media.uri()),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/file/abc/binary"))
        .and(|r: &wiremock::Request| !r.headers.contains_key("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("via media", "text/plain"))
        .expect(1)
        .mount(&media)
        .await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    let text = call_raw(
        &client,
        "download_attachment",
        json!({"attachment_id": "10001"}),
    )
    .await;
    assert_eq!(text.content[1].as_text().unwrap().text, "via media");
}
