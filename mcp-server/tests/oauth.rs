//! OAuth through the MCP tools: login, refresh across expiry, 401 then
//! refresh then retry, a revoked grant, and Jira's error answers.

mod common;

use std::time::Duration;

use common::*;
use gouqi_oauth::{FileStore, TokenStore};
use jira_mcp::config::Config;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn token_endpoint() -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path("/oauth/token"))
}

fn myself(token: &str) -> Mock {
    Mock::given(method("GET"))
        .and(path(cloud("myself")))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("jira/myself.json"), "application/json"),
        )
}

#[tokio::test]
async fn an_access_token_that_expires_mid_session_is_refreshed_transparently() {
    let server = MockServer::start().await;
    token_endpoint()
        .and(body_string_contains("refresh_token=refresh-0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("access-1", "refresh-1")))
        .expect(1)
        .mount(&server)
        .await;
    myself("access-0").expect(1).mount(&server).await;
    myself("access-1").expect(1).mount(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    // Lives 60 s in all and is 52 s old; 5 s before its expiry (the skew,
    // capped at a twelfth of the lifetime) it is renewed, 2 to 3 s from now
    // (the token file keeps whole seconds).
    let short = tokens(
        "access-0",
        "refresh-0",
        Duration::from_secs(52),
        Duration::from_secs(60),
    );
    FileStore::new(&file).save(&short).unwrap();
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;

    ok(&client, "get_current_user", json!({})).await;
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let me = ok(&client, "get_current_user", json!({})).await;
    assert_eq!(me["display_name"], "Mia Krystof");
    let stored = FileStore::new(&file).load().unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "refresh-1");
}

#[tokio::test]
async fn a_401_is_followed_by_one_refresh_and_a_retry() {
    let server = MockServer::start().await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("access-1", "refresh-1")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(cloud("myself")))
        .and(header("authorization", "Bearer access-0"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    myself("access-1").expect(1).mount(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    assert_eq!(
        ok(&client, "get_current_user", json!({})).await["display_name"],
        "Mia Krystof"
    );
}

#[tokio::test]
async fn a_revoked_grant_gives_an_actionable_error() {
    let server = MockServer::start().await;
    token_endpoint()
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(fixture("token/invalid-grant.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let expired = tokens(
        "access-0",
        "refresh-0",
        Duration::from_secs(7200),
        Duration::from_secs(3600),
    );
    FileStore::new(&file).save(&expired).unwrap();
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    let message = err(&client, "get_issue", json!({"issue_key": "ED-1"})).await;
    assert!(message.contains("invalid_grant"), "{message}");
    assert!(
        message.contains("init_oauth_flow") && message.contains("jira-mcp auth login"),
        "{message}"
    );
    // The refresh token is kept for inspection, not deleted.
    assert!(FileStore::new(&file).load().unwrap().is_some());
}

#[tokio::test]
async fn not_logged_in_tools_say_how_to_log_in() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = connect(config(&cloud_oauth_vars(
        &server,
        &dir.path().join("none.json"),
    )))
    .await;
    let message = err(&client, "search_issues", json!({"jql": "order by created"})).await;
    assert!(
        message.contains("init_oauth_flow") && message.contains("jira-mcp auth login"),
        "{message}"
    );
    let status = ok(&client, "auth_status", json!({})).await;
    assert_eq!(status["logged_in"], false);
}

/// Atlassian's consent page, auto-approved: redirects with a code.
fn consent(request: &Request) -> ResponseTemplate {
    let query: std::collections::HashMap<String, String> =
        request.url.query_pairs().into_owned().collect();
    let location = format!(
        "{}?code=CODE-1&state={}",
        query["redirect_uri"], query["state"]
    );
    ResponseTemplate::new(302).insert_header("location", location.as_str())
}

async fn mount_login(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/authorize"))
        .respond_with(consent)
        .mount(server)
        .await;
    token_endpoint()
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=CODE-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("access-1", "refresh-1")))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/accessible-resources"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("cloud/accessible-resources.json"),
            "application/json",
        ))
        .mount(server)
        .await;
    myself("access-1").mount(server).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn login_through_the_tools_with_loopback_capture() {
    let server = MockServer::start().await;
    mount_login(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let mut vars = cloud_oauth_vars(&server, &file);
    vars.push((
        "JIRA_OAUTH_REDIRECT_URI",
        format!("http://127.0.0.1:{}/callback", free_port()),
    ));
    let client = connect(config(&vars)).await;

    let started = ok(&client, "init_oauth_flow", json!({})).await;
    let url = started["authorization_url"].as_str().unwrap();
    assert!(
        started["capture"].as_str().unwrap().contains("listening"),
        "{started}"
    );
    // The user's browser: consent, then the redirect to the loopback listener.
    let page = reqwest::get(url).await.unwrap();
    assert_eq!(page.status(), 200);

    let mut status = json!({});
    for _ in 0..50 {
        status = ok(&client, "auth_status", json!({})).await;
        if status["logged_in"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["logged_in"], true, "{status}");
    assert_eq!(status["account"], "Mia Krystof", "{status}");
    assert_eq!(status["cloud_id"], CLOUD_ID);
    assert_eq!(
        ok(&client, "get_current_user", json!({})).await["display_name"],
        "Mia Krystof"
    );
}

#[tokio::test]
async fn login_through_the_tools_with_a_pasted_redirect() {
    let server = MockServer::start().await;
    mount_login(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let mut vars = cloud_oauth_vars(&server, &file);
    // Not a loopback address: no capture, manual completion only.
    vars.push((
        "JIRA_OAUTH_REDIRECT_URI",
        "https://jira-mcp.example.com/callback".into(),
    ));
    let client = connect(config(&vars)).await;

    let started = ok(&client, "init_oauth_flow", json!({})).await;
    assert!(
        started["capture"]
            .as_str()
            .unwrap()
            .contains("complete_oauth_flow"),
        "{started}"
    );
    let url = url::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let redirected = format!("https://jira-mcp.example.com/callback?code=CODE-1&state={state}");

    let done = ok(
        &client,
        "complete_oauth_flow",
        json!({"redirect_url": redirected}),
    )
    .await;
    assert_eq!(done["logged_in"], true);
    assert_eq!(
        ok(&client, "get_current_user", json!({})).await["display_name"],
        "Mia Krystof"
    );
}

/// Jira answers `status` (with `body` and `headers`) to `get_issue`.
async fn jira_error(status: u16, body: &str, retry_after: Option<&str>) -> String {
    let server = MockServer::start().await;
    let mut answer =
        ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json");
    if let Some(after) = retry_after {
        answer = answer.insert_header("retry-after", after);
    }
    Mock::given(method("GET"))
        .and(path(cloud("issue/ED-9")))
        .respond_with(answer)
        .mount(&server)
        .await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    err(&client, "get_issue", json!({"issue_key": "ED-9"})).await
}

#[tokio::test]
async fn jira_errors_come_back_as_plain_tool_errors() {
    let bad = jira_error(400, &fixture("jira/errors-400.json"), None).await;
    assert!(
        bad.contains("400") && bad.contains("summary: You must specify a summary"),
        "{bad}"
    );
    let forbidden = jira_error(403, &fixture("jira/errors-403.json"), None).await;
    assert!(forbidden.contains("permission"), "{forbidden}");
    let missing = jira_error(404, &fixture("jira/errors-404.json"), None).await;
    assert!(missing.contains("Issue does not exist"), "{missing}");
    let limited = jira_error(429, &fixture("jira/errors-429.json"), Some("17")).await;
    assert!(limited.contains("retry after 17 seconds"), "{limited}");
    let scope = jira_error(401, &fixture("jira/unauthorized.json"), None).await;
    assert!(
        scope.contains("scope does not match") && scope.contains("`read:jira-work`"),
        "{scope}"
    );
}

#[tokio::test]
async fn nothing_touches_the_network_before_a_tool_is_called() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let expiring = tokens(
        "access-0",
        "refresh-0",
        Duration::from_secs(3590),
        Duration::from_secs(3600),
    );
    FileStore::new(&file).save(&expiring).unwrap();
    let client = connect(config(&cloud_oauth_vars(&server, &file))).await;
    client.list_all_tools().await.unwrap();
    let seen = server.received_requests().await.unwrap();
    assert!(seen.is_empty(), "requests before any tool call: {seen:?}");
}

/// The state in an authorization URL that init_oauth_flow returned.
fn state_of(started: &Value) -> String {
    let url = url::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string()
}

fn loopback_vars(server: &MockServer, file: &std::path::Path, port: u16) -> Config {
    let mut vars = cloud_oauth_vars(server, file);
    vars.push((
        "JIRA_OAUTH_REDIRECT_URI",
        format!("http://127.0.0.1:{port}/callback"),
    ));
    config(&vars)
}

#[tokio::test]
async fn init_oauth_flow_twice_then_the_browser_redirect_is_captured() {
    let server = MockServer::start().await;
    mount_login(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let client = connect(loopback_vars(
        &server,
        &dir.path().join("t.json"),
        free_port(),
    ))
    .await;

    ok(&client, "init_oauth_flow", json!({})).await;
    let second = ok(&client, "init_oauth_flow", json!({})).await;
    assert!(
        second["capture"].as_str().unwrap().contains("listening"),
        "the second login could not listen: {second}"
    );
    let page = reqwest::get(second["authorization_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let mut status = json!({});
    for _ in 0..50 {
        status = ok(&client, "auth_status", json!({})).await;
        if status["logged_in"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["logged_in"], true, "{status}");
}

#[tokio::test]
async fn complete_oauth_flow_releases_the_loopback_port() {
    let server = MockServer::start().await;
    mount_login(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let client = connect(loopback_vars(&server, &dir.path().join("t.json"), port)).await;
    let started = ok(&client, "init_oauth_flow", json!({})).await;
    let redirected = format!(
        "http://127.0.0.1:{port}/callback?code=CODE-1&state={}",
        state_of(&started)
    );
    ok(
        &client,
        "complete_oauth_flow",
        json!({"redirect_url": redirected}),
    )
    .await;
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("jira-mcp still holds the port");
}

#[tokio::test]
async fn a_wrong_state_leaves_the_login_pending() {
    let server = MockServer::start().await;
    mount_login(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let mut vars = cloud_oauth_vars(&server, &dir.path().join("t.json"));
    vars.push((
        "JIRA_OAUTH_REDIRECT_URI",
        "https://jira-mcp.example.com/callback".into(),
    ));
    let client = connect(config(&vars)).await;
    let started = ok(&client, "init_oauth_flow", json!({})).await;

    let (is_error, message) = call(
        &client,
        "complete_oauth_flow",
        json!({"code": "CODE-1", "state": "forged"}),
    )
    .await;
    assert!(is_error && message.contains("does not match"), "{message}");
    let done = ok(
        &client,
        "complete_oauth_flow",
        json!({"code": "CODE-1", "state": state_of(&started)}),
    )
    .await;
    assert_eq!(done["logged_in"], true);
}

#[tokio::test]
async fn a_bare_code_without_its_state_is_refused() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut vars = cloud_oauth_vars(&server, &dir.path().join("t.json"));
    vars.push((
        "JIRA_OAUTH_REDIRECT_URI",
        "https://jira-mcp.example.com/callback".into(),
    ));
    let client = connect(config(&vars)).await;
    ok(&client, "init_oauth_flow", json!({})).await;
    let (is_error, message) = call(&client, "complete_oauth_flow", json!({"code": "CODE-1"})).await;
    assert!(is_error && message.contains("state"), "{message}");
    assert!(!dir.path().join("t.json").exists());
}

/// A prompt that makes the assistant log in with an attacker's account must
/// not replace the user's working login.
#[tokio::test]
async fn a_login_for_another_account_never_replaces_a_working_one() {
    let server = MockServer::start().await;
    mount_login(&server).await; // the new login's token is access-1
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    seed(&file, "access-0", "refresh-0");
    let mut other = fixture_json("jira/myself.json");
    other["accountId"] = json!("attacker-account");
    other["displayName"] = json!("Mallory");
    Mock::given(method("GET"))
        .and(path(cloud("myself")))
        .and(header("authorization", "Bearer access-0"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("jira/myself.json"), "application/json"),
        )
        .mount(&server)
        .await;
    // Wins over mount_login's answer for access-1.
    Mock::given(method("GET"))
        .and(path(cloud("myself")))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(other))
        .with_priority(1)
        .mount(&server)
        .await;
    let mut vars = cloud_oauth_vars(&server, &file);
    vars.push((
        "JIRA_OAUTH_REDIRECT_URI",
        "https://jira-mcp.example.com/callback".into(),
    ));
    let client = connect(config(&vars)).await;
    let started = ok(&client, "init_oauth_flow", json!({})).await;
    let (is_error, message) = call(
        &client,
        "complete_oauth_flow",
        json!({"code": "CODE-1", "state": state_of(&started)}),
    )
    .await;
    assert!(
        is_error && message.contains("refused") && message.contains("jira-mcp auth login"),
        "{message}"
    );
    let stored = FileStore::new(&file).load().unwrap().unwrap();
    assert_eq!(stored.access_token.secret(), "access-0");
}

/// With no working login to protect, a login through the tools keeps the
/// approved grant when the account reaches several sites, as the CLI does.
#[tokio::test]
async fn an_ambiguous_site_through_the_tools_keeps_the_approved_grant() {
    let server = MockServer::start().await;
    token_endpoint()
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("access-1", "refresh-1")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/accessible-resources"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("cloud/accessible-resources-two-sites.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    let mut vars = cloud_oauth_vars(&server, &file);
    vars.push((
        "JIRA_OAUTH_REDIRECT_URI",
        "https://jira-mcp.example.com/callback".into(),
    ));
    let client = connect(config(&vars)).await;
    let started = ok(&client, "init_oauth_flow", json!({})).await;
    let (is_error, message) = call(
        &client,
        "complete_oauth_flow",
        json!({"code": "CODE-1", "state": state_of(&started)}),
    )
    .await;
    assert!(
        is_error && message.contains("JIRA_OAUTH_CLOUD_ID") && message.contains("no new login"),
        "{message}"
    );
    let saved = FileStore::new(&file)
        .load()
        .unwrap()
        .expect("the grant was thrown away");
    assert_eq!(saved.refresh_token.unwrap().secret(), "refresh-1");
}
