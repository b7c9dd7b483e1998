//! The links, users, fields, projects and admin tools of the people_fields
//! group, on Cloud (OAuth through the gateway, REST v3) and on Data Center
//! (PAT, REST v2): the request each makes and the concise result.

mod common;

use common::*;
use serde_json::json;
use wiremock::matchers::{any, body_json, body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn answer(status: u16, fixture_name: &str) -> ResponseTemplate {
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

/// Mounts `verb path` answering `reply`, expected `times` times.
async fn expect(
    server: &MockServer,
    verb: &str,
    at: String,
    reply: ResponseTemplate,
    times: impl Into<wiremock::Times>,
) {
    Mock::given(method(verb))
        .and(path(at.as_str()))
        .respond_with(reply)
        .expect(times)
        .named(format!("{verb} {at}"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn links_and_users_on_cloud() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    expect(
        &server,
        "GET",
        cloud("issueLink/10001"),
        answer(200, "jira/issue-link.json"),
        1,
    )
    .await;
    expect(
        &server,
        "DELETE",
        cloud("issueLink/10001"),
        ResponseTemplate::new(204),
        1,
    )
    .await;
    Mock::given(method("POST"))
        .and(path(cloud("issue/ED-1/remotelink")))
        .and(body_json(json!({
            "object": {"url": "https://github.com/acme/edison/pull/42", "title": "PR #42", "summary": "Token refresh"},
            "relationship": "pull request",
        })))
        .respond_with(answer(201, "jira/remote-link-created.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(cloud("user/search")))
        .and(query_param("query", "mia"))
        .and(query_param("maxResults", "20"))
        .respond_with(answer(200, "jira/user-search.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(cloud("user/assignable/search")))
        .and(query_param("project", "ED"))
        .and(query_param("maxResults", "5"))
        .respond_with(answer(200, "jira/user-search.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(cloud("user")))
        .and(query_param("accountId", "5b10a2844c20165700ede21g"))
        .respond_with(answer(200, "jira/user.json"))
        .expect(1)
        .mount(&server)
        .await;

    let removed = ok(&client, "remove_issue_link", json!({"link_id": "10001"})).await;
    assert_eq!(removed["removed"], true);
    assert_eq!(removed["was"], "ED-1 blocks ED-2");
    let link = ok(
        &client,
        "create_remote_issue_link",
        json!({"issue_key": "ED-1", "url": "https://github.com/acme/edison/pull/42", "title": "PR #42", "summary": "Token refresh", "relationship": "pull request"}),
    )
    .await;
    assert_eq!(
        link,
        json!({"issue_key": "ED-1", "id": 10002, "url": "https://github.com/acme/edison/pull/42", "title": "PR #42"})
    );
    let users = ok(&client, "search_users", json!({"query": "mia"})).await;
    assert_eq!(users["users"][0]["account_id"], "5b10a2844c20165700ede21g");
    assert_eq!(users["users"][0]["display_name"], "Mia Krystof");
    assert!(!users.to_string().contains("avatar"), "{users}");
    let assignable = ok(
        &client,
        "search_users",
        json!({"project_key": "ED", "max_results": 5}),
    )
    .await;
    assert_eq!(assignable["count"], 1);
    let user = ok(
        &client,
        "get_user",
        json!({"user": "5b10a2844c20165700ede21g"}),
    )
    .await;
    assert_eq!(
        user,
        json!({"account_id": "5b10a2844c20165700ede21g", "display_name": "Mia Krystof", "email": "mia@example.com", "active": true, "time_zone": "Australia/Sydney", "locale": "en_US", "account_type": "atlassian"})
    );
    assert_eq!(assert_requests_fit_the_cloud_spec(&server).await, 6);
}

#[tokio::test]
async fn fields_on_cloud() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    expect(
        &server,
        "GET",
        cloud("field"),
        answer(200, "jira/fields.json"),
        3,
    )
    .await;
    expect(
        &server,
        "GET",
        cloud("issue/createmeta/ED/issuetypes"),
        answer(200, "jira/createmeta-issuetypes.json"),
        1,
    )
    .await;
    expect(
        &server,
        "GET",
        cloud("issue/createmeta/ED/issuetypes/10001"),
        answer(200, "jira/createmeta-field-options.json"),
        3,
    )
    .await;

    let found = ok(&client, "search_fields", json!({"query": "story points"})).await;
    let ids: Vec<&str> = found["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["customfield_10016", "customfield_10026"], "{found}");
    assert_eq!(
        found["fields"][0],
        json!({"id": "customfield_10016", "name": "Story Points", "custom": true, "type": "number", "jql": "cf[10016]"})
    );
    let typo = ok(&client, "search_fields", json!({"query": "sprnt"})).await;
    assert_eq!(typo["fields"][0]["id"], "customfield_10020", "{typo}");
    let dates = ok(
        &client,
        "search_fields",
        json!({"query": "date", "max_results": 2}),
    )
    .await;
    assert_eq!(dates["total_matches"], 2, "{dates}");
    assert_eq!(dates["fields"][0]["name"], "Due date", "{dates}");

    let options = ok(
        &client,
        "get_field_options",
        json!({"project_key": "ED", "issue_type": "task", "field": "Environment type", "max_results": 2}),
    )
    .await;
    assert_eq!(options["field_id"], "customfield_10030");
    assert_eq!(options["total"], 3);
    assert_eq!(
        options["allowed_values"],
        json!([{"id": "10100", "value": "Production"}, {"id": "10101", "value": "Staging"}])
    );
    assert!(
        options["truncated"].as_str().unwrap().starts_with("1 more"),
        "{options}"
    );
    assert_eq!(options["default"]["value"], "Staging");
    let cascading = ok(
        &client,
        "get_field_options",
        json!({"project_key": "ED", "issue_type": "10001", "field": "customfield_10031"}),
    )
    .await;
    assert_eq!(
        cascading["allowed_values"][0]["children"][1]["value"], "Lisbon",
        "{cascading}"
    );
    let users = ok(
        &client,
        "get_field_options",
        json!({"project_key": "ED", "issue_type": "10001", "field": "assignee"}),
    )
    .await;
    assert!(
        users["note"].as_str().unwrap().contains("search_users"),
        "{users}"
    );
    assert_eq!(assert_requests_fit_the_cloud_spec(&server).await, 7);
}

#[tokio::test]
async fn projects_versions_and_components_on_cloud() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    expect(
        &server,
        "GET",
        cloud("project/ED"),
        answer(200, "jira/project.json"),
        2,
    )
    .await;
    Mock::given(method("GET"))
        .and(path(cloud("project/ED/version")))
        .and(query_param("orderBy", "-sequence"))
        .and(query_param("status", "unreleased"))
        .and(query_param("maxResults", "2"))
        .and(query_param("query", "2."))
        .respond_with(answer(200, "jira/project-versions-page.json"))
        .expect(1)
        .mount(&server)
        .await;
    expect(
        &server,
        "GET",
        cloud("project/ED/components"),
        answer(200, "jira/project-components.json"),
        1,
    )
    .await;
    Mock::given(method("POST"))
        .and(path(cloud("version")))
        .and(body_json(json!({"name": "2.2", "projectId": 10000, "description": "Calendar sync", "startDate": "2027-01-04", "releaseDate": "2027-03-31"})))
        .respond_with(answer(201, "jira/version.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut released = fixture_json("jira/version.json");
    released["released"] = json!(true);
    released["releaseDate"] = json!("2027-03-30");
    Mock::given(method("PUT"))
        .and(path(cloud("version/10004")))
        .and(body_json(
            json!({"released": true, "releaseDate": "2027-03-30"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(&released))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(cloud("component")))
        .and(body_json(json!({"project": "ED", "name": "Web", "description": "The browser client", "leadAccountId": "5b10a2844c20165700ede21g"})))
        .respond_with(answer(201, "jira/component.json"))
        .expect(1)
        .mount(&server)
        .await;

    let project = ok(&client, "get_project", json!({"project_key": "ED"})).await;
    assert_eq!(project["lead"]["display_name"], "Mia Krystof");
    assert_eq!(
        project["url"],
        "https://your-domain.atlassian.net/browse/ED"
    );
    assert_eq!(
        project["components"],
        json!({"count": 2, "names": ["Backend", "Mobile"]})
    );
    assert_eq!(project["versions"]["count"], 4);
    assert_eq!(project["versions"]["unreleased"], 2);
    assert_eq!(project["versions"]["newest"][0]["name"], "2.1");
    assert_eq!(project["issue_types"], json!(["Task", "Bug"]));
    assert!(project.to_string().len() < fixture("jira/project.json").len() / 3);

    let versions = ok(
        &client,
        "list_versions",
        json!({"project_key": "ED", "status": "unreleased", "max_results": 2, "query": "2."}),
    )
    .await;
    assert_eq!(versions["total"], 2);
    assert_eq!(versions["is_last"], true);
    assert_eq!(
        versions["versions"][1],
        json!({"id": "10002", "name": "2.0", "description": "Sync and offline mode", "released": false, "archived": false, "start_date": "2026-10-01", "release_date": "2026-12-15", "overdue": false})
    );
    let components = ok(
        &client,
        "list_components",
        json!({"project_key": "ED", "query": "back"}),
    )
    .await;
    assert_eq!(components["total"], 1);
    assert_eq!(
        components["components"][0]["lead"]["account_id"],
        "5b10a2844c20165700ede21g"
    );

    let created = ok(
        &client,
        "create_version",
        json!({"project_key": "ED", "name": "2.2", "description": "Calendar sync", "start_date": "2027-01-04", "release_date": "2027-03-31"}),
    )
    .await;
    assert_eq!(created["id"], "10004");
    assert_eq!(created["project_key"], "ED");
    let updated = ok(
        &client,
        "update_version",
        json!({"version_id": "10004", "released": true, "release_date": "2027-03-30"}),
    )
    .await;
    assert_eq!(updated["released"], true);
    let component = ok(
        &client,
        "create_component",
        json!({"project_key": "ED", "name": "Web", "description": "The browser client", "lead": "5b10a2844c20165700ede21g"}),
    )
    .await;
    assert_eq!(component["id"], "10002");
    assert_eq!(component["name"], "Web");
    assert_eq!(assert_requests_fit_the_cloud_spec(&server).await, 7);
}

#[tokio::test]
async fn where_data_center_differs() {
    let server = MockServer::start().await;
    let client = connect(config(&dc_pat_vars(&server))).await;
    let dc = |p: &str| format!("/jira/rest/api/2/{p}");
    Mock::given(method("GET"))
        .and(path(dc("user/search")))
        .and(query_param("username", "mia"))
        .respond_with(answer(200, "jira-dc/user-search.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(dc("user/assignable/search")))
        .and(query_param("issueKey", "ED-1"))
        .and(query_param("username", ""))
        .respond_with(answer(200, "jira-dc/user-search.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(dc("user")))
        .and(query_param("username", "mia"))
        .respond_with(answer(200, "jira-dc/user.json"))
        .expect(1)
        .mount(&server)
        .await;
    expect(
        &server,
        "GET",
        dc("project/ED/versions"),
        answer(200, "jira-dc/project-versions.json"),
        2,
    )
    .await;
    expect(
        &server,
        "GET",
        dc("project/ED"),
        answer(200, "jira-dc/project.json"),
        2,
    )
    .await;
    Mock::given(method("POST"))
        .and(path(dc("version")))
        .and(body_partial_json(
            json!({"name": "2.2", "projectId": 10000}),
        ))
        .respond_with(answer(201, "jira/version.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(dc("component")))
        .and(body_json(
            json!({"project": "ED", "name": "Web", "leadUserName": "mia"}),
        ))
        .respond_with(answer(201, "jira-dc/component.json"))
        .expect(1)
        .mount(&server)
        .await;

    let users = ok(&client, "search_users", json!({"query": "mia"})).await;
    assert_eq!(users["users"][0]["key"], "JIRAUSER10100");
    ok(&client, "search_users", json!({"issue_key": "ED-1"})).await;
    let user = ok(&client, "get_user", json!({"user": "mia"})).await;
    assert_eq!(user["name"], "mia");
    assert_eq!(user["time_zone"], "Europe/Berlin");

    // All versions come at once, oldest first: filtered and paged here, newest first.
    let first = ok(
        &client,
        "list_versions",
        json!({"project_key": "ED", "status": "unreleased", "max_results": 1}),
    )
    .await;
    assert_eq!(first["total"], 2);
    assert_eq!(first["is_last"], false);
    assert_eq!(first["versions"][0]["name"], "2.1");
    let second = ok(
        &client,
        "list_versions",
        json!({"project_key": "ED", "status": "unreleased", "max_results": 1, "start_at": 1}),
    )
    .await;
    assert_eq!(second["is_last"], true);
    assert_eq!(second["versions"][0]["name"], "2.0");

    let project = ok(&client, "get_project", json!({"project_key": "ED"})).await;
    assert_eq!(project["lead"]["name"], "mia");
    assert_eq!(project["url"], format!("{}/jira/browse/ED", server.uri()));
    ok(
        &client,
        "create_version",
        json!({"project_key": "ED", "name": "2.2"}),
    )
    .await;
    let component = ok(
        &client,
        "create_component",
        json!({"project_key": "ED", "name": "Web", "lead": "mia"}),
    )
    .await;
    assert_eq!(component["lead"]["name"], "mia");
}

/// Malformed ids, keys, URLs, dates and numbers are refused before any request.
#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named("any request")
        .mount(&server)
        .await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    let huge = "a".repeat(1024 * 1024);
    let huge_url = format!("https://example.com/{huge}");
    let huge_scheme = format!("{huge}:x");
    let cases = [
        (
            "search_users",
            json!({"query": huge}),
            "`query` must be at most 255",
        ),
        (
            "list_versions",
            json!({"project_key": "ED", "query": huge}),
            "`query` must be at most 255",
        ),
        (
            "list_components",
            json!({"project_key": "ED", "query": huge}),
            "`query` must be at most 255",
        ),
        (
            "search_fields",
            json!({"query": huge}),
            "`query` must be at most 255",
        ),
        (
            "get_user",
            json!({"user": huge}),
            "`user` must be at most 128",
        ),
        (
            "create_remote_issue_link",
            json!({"issue_key": "ED-1", "url": huge_url, "title": "x"}),
            "longer than 8000",
        ),
        (
            "create_remote_issue_link",
            json!({"issue_key": "ED-1", "url": huge_scheme, "title": "x"}),
            "http or https",
        ),
        (
            "create_component",
            json!({"project_key": "ED", "name": "Web", "description": huge}),
            "`description` must be at most 32767",
        ),
        (
            "update_version",
            json!({"version_id": "10004", "description": huge}),
            "`description` must be at most 32767",
        ),
        (
            "remove_issue_link",
            json!({"link_id": "../10001"}),
            "numeric id",
        ),
        ("remove_issue_link", json!({"link_id": ""}), "numeric id"),
        (
            "create_remote_issue_link",
            json!({"issue_key": "ED-1", "url": "javascript:alert(1)", "title": "x"}),
            "http or https",
        ),
        (
            "create_remote_issue_link",
            json!({"issue_key": "ED-1", "url": "file:///etc/passwd", "title": "x"}),
            "`file:` is not allowed",
        ),
        (
            "create_remote_issue_link",
            json!({"issue_key": "ED-1", "url": "example.com", "title": "x"}),
            "absolute http or https",
        ),
        (
            "create_remote_issue_link",
            json!({"issue_key": "ED-1", "url": "https://example.com", "title": " "}),
            "`title` must not be empty",
        ),
        (
            "create_remote_issue_link",
            json!({"issue_key": "..", "url": "https://example.com", "title": "x"}),
            "not an issue key",
        ),
        ("search_users", json!({}), "give `query`"),
        (
            "search_users",
            json!({"project_key": "ED", "issue_key": "ED-1"}),
            "not both",
        ),
        (
            "search_users",
            json!({"query": "mia", "max_results": 500}),
            "between 1 and 100",
        ),
        (
            "search_users",
            json!({"project_key": "E D"}),
            "not a project key",
        ),
        ("get_user", json!({"user": ""}), "`user` must not be empty"),
        (
            "search_fields",
            json!({"query": "x", "max_results": 0}),
            "between 1 and 100",
        ),
        ("search_fields", json!({"query": "  "}), "must not be empty"),
        (
            "get_field_options",
            json!({"project_key": "..", "issue_type": "Task", "field": "x"}),
            "not a project key",
        ),
        (
            "get_field_options",
            json!({"project_key": "ED", "issue_type": "Task", "field": "x", "max_results": 5000}),
            "between 1 and 1000",
        ),
        (
            "get_project",
            json!({"project_key": "../x"}),
            "not a project key",
        ),
        (
            "list_versions",
            json!({"project_key": "ED", "status": "shipped"}),
            "`status` takes",
        ),
        (
            "list_versions",
            json!({"project_key": "ED", "max_results": 201}),
            "between 1 and 200",
        ),
        (
            "list_components",
            json!({"project_key": "ED", "max_results": 0}),
            "between 1 and 500",
        ),
        (
            "create_version",
            json!({"project_key": "ED", "name": "2.2", "start_date": "2027-02-30"}),
            "`start_date` must be a date",
        ),
        (
            "create_version",
            json!({"project_key": "ED", "name": "2.2", "release_date": "31/03/2027"}),
            "YYYY-MM-DD",
        ),
        (
            "create_version",
            json!({"project_key": "ED", "name": "2.2", "start_date": "2027-04-01", "release_date": "2027-03-31"}),
            "is after",
        ),
        (
            "create_version",
            json!({"project_key": "ED", "name": ""}),
            "`name` must not be empty",
        ),
        (
            "update_version",
            json!({"version_id": "v1", "released": true}),
            "numeric id",
        ),
        (
            "update_version",
            json!({"version_id": "10004"}),
            "nothing to change",
        ),
        (
            "create_component",
            json!({"project_key": "1ED", "name": "Web"}),
            "not a project key",
        ),
        (
            "create_component",
            json!({"project_key": "ED", "name": "Web", "lead": ""}),
            "`lead` must not be empty",
        ),
    ];
    for (tool, args, expected) in cases {
        let (is_error, message) = call(&client, tool, args.clone()).await;
        let shown: String = args.to_string().chars().take(200).collect();
        assert!(
            is_error && message.contains(expected),
            "{tool} {shown}: {message}"
        );
        assert!(message.len() < 1000, "{tool} echoed its input");
    }
}

/// Link and version ids do not name a project: the server looks the
/// project up first, and refuses outside `JIRA_MCP_PROJECTS`.
#[tokio::test]
async fn the_project_allowlist_covers_links_and_versions_given_by_id() {
    let server = MockServer::start().await;
    let only = [("JIRA_MCP_PROJECTS", "MKY".to_string())];
    let (client, _dir) = cloud_client(&server, &only).await;
    expect(
        &server,
        "GET",
        cloud("issueLink/10001"),
        answer(200, "jira/issue-link.json"),
        1,
    )
    .await;
    expect(
        &server,
        "DELETE",
        cloud("issueLink/10001"),
        ResponseTemplate::new(204),
        0,
    )
    .await;
    expect(
        &server,
        "GET",
        cloud("version/10004"),
        answer(200, "jira/version.json"),
        1,
    )
    .await;
    expect(
        &server,
        "GET",
        cloud("project/10000"),
        answer(200, "jira/project.json"),
        1,
    )
    .await;
    expect(
        &server,
        "PUT",
        cloud("version/10004"),
        ResponseTemplate::new(200),
        0,
    )
    .await;
    expect(
        &server,
        "GET",
        cloud("project/ED"),
        ResponseTemplate::new(200),
        0,
    )
    .await;

    let message = err(&client, "remove_issue_link", json!({"link_id": "10001"})).await;
    assert!(message.contains("JIRA_MCP_PROJECTS"), "{message}");
    let message = err(
        &client,
        "update_version",
        json!({"version_id": "10004", "archived": true}),
    )
    .await;
    assert!(message.contains("project `ED` is outside"), "{message}");
    for (tool, args) in [
        ("get_project", json!({"project_key": "ED"})),
        ("search_users", json!({"project_key": "ED"})),
        ("create_version", json!({"project_key": "ED", "name": "x"})),
        (
            "create_remote_issue_link",
            json!({"issue_key": "ED-1", "url": "https://example.com", "title": "x"}),
        ),
    ] {
        let message = err(&client, tool, args).await;
        assert!(message.contains("JIRA_MCP_PROJECTS"), "{tool}: {message}");
    }
    assert_eq!(assert_requests_fit_the_cloud_spec(&server).await, 3);
}

/// A field not on the first page of create metadata is looked for on the
/// next; one that is nowhere gets an error listing the fields there are.
#[tokio::test]
async fn get_field_options_pages_and_names_the_fields_when_not_found() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    let mut first = fixture_json("jira/createmeta-field-options.json");
    let mut second = first.clone();
    first["total"] = json!(201);
    first["fields"] = json!([first["fields"][0].clone()]);
    second["startAt"] = json!(200);
    second["total"] = json!(201);
    second["fields"] = json!([second["fields"][1].clone()]);
    let at = cloud("issue/createmeta/ED/issuetypes/10001");
    for (start, page) in [("0", first), ("200", second)] {
        Mock::given(method("GET"))
            .and(path(at.as_str()))
            .and(query_param("startAt", start))
            .respond_with(ResponseTemplate::new(200).set_body_json(page))
            .expect(2)
            .mount(&server)
            .await;
    }
    let args = json!({"project_key": "ED", "issue_type": "10001", "field": "Environment type"});
    let found = ok(&client, "get_field_options", args).await;
    assert_eq!(found["total"], 3, "{found}");
    let args = json!({"project_key": "ED", "issue_type": "10001", "field": "Severity"});
    let message = err(&client, "get_field_options", args).await;
    assert!(
        message.contains("no field `Severity`") && message.contains("Summary, Environment type"),
        "{message}"
    );
    assert_eq!(assert_requests_fit_the_cloud_spec(&server).await, 4);
}

/// The Cloud fixtures added for these tools fit the spec's response schemas.
#[test]
fn cloud_fixtures_fit_the_spec_response_schemas() {
    use e2e_tests::spec::{JiraSpec, component};
    let spec = JiraSpec::load().unwrap();
    let array = |name: &str| json!({"type": "array", "items": component(name)});
    let cases = [
        ("jira/fields.json", array("FieldDetails")),
        ("jira/user.json", component("User")),
        ("jira/project.json", component("Project")),
        (
            "jira/project-versions-page.json",
            component("PageBeanVersion"),
        ),
        ("jira/project-components.json", array("ProjectComponent")),
        ("jira/version.json", component("Version")),
        ("jira/component.json", component("ProjectComponent")),
        ("jira/issue-link.json", component("IssueLink")),
        (
            "jira/remote-link-created.json",
            component("RemoteIssueLinkIdentifies"),
        ),
        (
            "jira/createmeta-field-options.json",
            component("PageOfCreateMetaIssueTypeWithField"),
        ),
    ];
    for (file, schema) in cases {
        let checked = spec.check_value(&schema, &fixture_json(file));
        assert!(checked.is_ok(), "{file}: {checked:?}");
    }
    // The check can fail: a field of the wrong type is caught.
    assert!(
        spec.check_value(&component("Version"), &json!({"released": "yes"}))
            .is_err()
    );
}

/// The admin tools need a scope the default Cloud login lacks; the error
/// names it.
#[tokio::test]
async fn a_missing_manage_scope_is_named() {
    let server = MockServer::start().await;
    let (client, _dir) = cloud_client(&server, &[]).await;
    expect(
        &server,
        "POST",
        cloud("component"),
        answer(401, "jira/unauthorized.json"),
        1..,
    )
    .await;
    let message = err(
        &client,
        "create_component",
        json!({"project_key": "ED", "name": "Web"}),
    )
    .await;
    assert!(
        message.contains("scope does not match") && message.contains("`manage:jira-project`"),
        "{message}"
    );
}
