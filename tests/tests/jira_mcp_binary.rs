//! End-to-end tests of the built `jira-mcp` binary, over its real stdio,
//! against the simulated Atlassian.

use std::time::Duration;

use e2e_tests::binary::{self, call};
use e2e_tests::sim::{CLOUD_ID, Options, SERVICE_ACCOUNT_ID, SERVICE_ACCOUNT_NAME, Simulator};
use gouqi_oauth::{FileStore, TokenStore};
use serde_json::{Value, json};

struct LoggedIn {
    sim: Simulator,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
    token_file: std::path::PathBuf,
}

async fn logged_in(options: Options) -> LoggedIn {
    let sim = Simulator::start(options).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("tokens.json");
    let env = sim.env(&binary::free_redirect_uri(), &token_file);
    let run = binary::login(&env).await;
    assert!(run.success, "auth login failed:\n{}", run.stderr);
    LoggedIn {
        sim,
        env,
        _dir: dir,
        token_file,
    }
}

async fn ok(client: &binary::McpClient, tool: &str, args: Value) -> Value {
    let (is_error, text) = call(client, tool, args).await;
    assert!(!is_error, "{tool}: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn auth_login_then_auth_status() {
    let setup = logged_in(Options::default()).await;
    let (success, stdout, stderr) = binary::auth(&setup.env, &["status", "--json"]).await;
    assert!(success, "{stderr}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["logged_in"], true);
    assert_eq!(status["account"], "Mia Krystof");
    assert_eq!(status["cloud_id"], CLOUD_ID);
    assert_eq!(status["refresh_token_present"], true);
    assert_eq!(setup.sim.counters().logins, 1);
    let (success, human, _) = binary::auth(&setup.env, &["status"]).await;
    assert!(
        success && human.contains("Mia Krystof") && human.contains("tokens.json"),
        "{human}"
    );
    assert!(
        !stdout.contains("sim-at-") && !human.contains("sim-rt-"),
        "tokens must not be printed"
    );
}

#[tokio::test]
async fn tool_calls_through_the_binary() {
    let setup = logged_in(Options::default()).await;
    let (client, _) = binary::serve(&setup.env).await;
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.len() >= 21, "{} tools", tools.len());
    let found = ok(
        &client,
        "search_issues",
        json!({"jql": "project = ED", "max_results": 1}),
    )
    .await;
    assert_eq!(found["issues"][0]["key"], "ED-1");
    assert!(found["next_page_token"].is_string());
    let created = ok(
        &client,
        "create_issue",
        json!({"project_key": "ED", "issue_type": "Task", "summary": "From e2e"}),
    )
    .await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(
        ok(&client, "get_issue", json!({"issue_key": key})).await["summary"],
        "From e2e"
    );
    let (is_error, message) = call(
        &client,
        "create_issue",
        json!({"project_key": "ED", "issue_type": "Task", "summary": " "}),
    )
    .await;
    assert!(
        is_error && message.contains("summary: You must specify a summary"),
        "{message}"
    );
}

#[tokio::test]
async fn the_lookup_metadata_and_link_tools_through_the_binary() {
    let setup = logged_in(Options::default()).await;
    let (client, _) = binary::serve(&setup.env).await;
    let users = ok(&client, "lookup_account_id", json!({"query": "mia"})).await;
    assert_eq!(users["users"][0]["account_id"], "5b10a2844c20165700ede21g");
    let types = ok(&client, "get_issue_link_types", json!({})).await;
    assert_eq!(types["link_types"][0]["outward"], "blocks");
    let issue_types = ok(
        &client,
        "get_project_issue_types",
        json!({"project_key": "ED"}),
    )
    .await;
    assert_eq!(issue_types["issue_types"].as_array().map(Vec::len), Some(3));
    // By name: the tool looks the id up among the project's issue types first.
    let fields = ok(
        &client,
        "get_create_fields",
        json!({"project_key": "ED", "issue_type": "Bug"}),
    )
    .await;
    assert_eq!(fields["issue_type_id"], "10002");
    assert_eq!(
        fields["fields"][2]["allowed_values"],
        json!(["High", "Medium", "Low"])
    );
    let linked = ok(
        &client,
        "create_issue_link",
        json!({"link_type": "Blocks", "inward_issue": "ED-2", "outward_issue": "ED-1", "comment": "ED-1 *first*"}),
    )
    .await;
    assert_eq!(linked["linked"], true);
    let links = setup.sim.issue_links();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["inwardIssue"]["key"], "ED-2");
    let remote = ok(
        &client,
        "get_remote_issue_links",
        json!({"issue_key": "ED-1"}),
    )
    .await;
    assert_eq!(remote["links"][0]["application"], "GitHub");
    assert_eq!(remote["links"].as_array().map(Vec::len), Some(2));
    // Bad input reaches the tool as Jira's 400/404, not as a hang or a crash.
    let (is_error, message) = call(
        &client,
        "get_create_fields",
        json!({"project_key": "NOPE", "issue_type": "10001"}),
    )
    .await;
    assert!(is_error && message.contains("400"), "{message}");
}

#[tokio::test]
async fn a_client_credentials_server_acts_as_the_service_account() {
    let sim = Simulator::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let env = sim.service_env(&dir.path().join("tokens.json"));
    let (client, _) = binary::serve(&env).await;
    let me = ok(&client, "get_current_user", json!({})).await;
    assert_eq!(
        (me["display_name"].as_str(), me["account_id"].as_str()),
        (Some(SERVICE_ACCOUNT_NAME), Some(SERVICE_ACCOUNT_ID))
    );
    let counters = sim.counters();
    assert_eq!(
        (counters.service_tokens, counters.logins, counters.refreshes),
        (1, 0, 0),
        "{counters:?}"
    );
}

#[tokio::test]
async fn the_access_token_is_refreshed_across_expiry() {
    // Strict, so that a refresh token presented twice would show up below.
    let setup = logged_in(Options {
        access_ttl: Duration::from_secs(3),
        ..Options::strict()
    })
    .await;
    let (client, _) = binary::serve(&setup.env).await;
    ok(&client, "get_current_user", json!({})).await;
    let before = setup.sim.counters();
    tokio::time::sleep(Duration::from_secs(4)).await;
    ok(&client, "get_current_user", json!({})).await;
    let after = setup.sim.counters();
    assert_eq!(after.refreshes, before.refreshes + 1);
    assert_eq!(after.invalid_grants, 0);
}

#[tokio::test]
async fn two_server_processes_share_one_token_file_across_rotations() {
    // Strict: any replayed refresh token revokes the grant at once, so the
    // two processes must never present the same refresh token twice.
    let setup = logged_in(Options::strict()).await;
    let (a, _) = binary::serve(&setup.env).await;
    let (b, _) = binary::serve(&setup.env).await;
    let rotate = |client: binary::McpClient| async move {
        for _ in 0..6 {
            ok(&client, "refresh_oauth_token", json!({})).await;
            ok(&client, "get_current_user", json!({})).await;
        }
        client
    };
    let (a, b) = tokio::join!(tokio::spawn(rotate(a)), tokio::spawn(rotate(b)));
    let (_a, _b) = (a.unwrap(), b.unwrap());
    let counters = setup.sim.counters();
    assert_eq!(counters.invalid_grants, 0, "{counters:?}");
    assert_eq!(counters.revocations, 0);
    assert!(counters.refreshes >= 12, "{counters:?}");
    let stored = FileStore::new(&setup.token_file).load().unwrap().unwrap();
    assert!(stored.refresh_token.is_some());
}

#[tokio::test]
async fn a_revoked_grant_gives_an_actionable_error() {
    let setup = logged_in(Options {
        access_ttl: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let (client, _) = binary::serve(&setup.env).await;
    ok(&client, "get_current_user", json!({})).await;
    // The user removes the app's access; the next refresh meets invalid_grant.
    setup.sim.revoke_all();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (is_error, message) = call(&client, "get_issue", json!({"issue_key": "ED-1"})).await;
    assert!(is_error, "{message}");
    assert!(
        message.contains("invalid_grant") && message.contains("jira-mcp auth login"),
        "{message}"
    );
    let (success, stdout, _) = binary::auth(&setup.env, &["status", "--json"]).await;
    assert!(
        !success,
        "auth status must exit non-zero when re-consent is needed"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["needs_reauthorization"],
        true
    );
}

#[tokio::test]
async fn a_process_killed_mid_refresh_leaves_a_token_file_the_next_start_loads() {
    // The default simulator, like Atlassian, lets a used refresh token be
    // replayed for 10 minutes: the next start replays the one in the file.
    let options = Options {
        access_ttl: Duration::from_secs(2),
        ..Options::default()
    };
    let setup = logged_in(options).await;
    let before = std::fs::read(&setup.token_file).unwrap();
    setup.sim.set_token_delay(Duration::from_secs(5));
    tokio::time::sleep(Duration::from_secs(3)).await; // the access token has expired
    let (client, pid) = binary::serve(&setup.env).await;
    let requests = setup.sim.counters().token_requests;
    let pending = tokio::spawn(async move { call(&client, "get_current_user", json!({})).await });
    for _ in 0..100 {
        if setup.sim.counters().token_requests > requests {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        setup.sim.counters().token_requests > requests,
        "the refresh never started"
    );
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.unwrap().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    pending.abort();

    // The file is the complete old set, and a new process starts from it.
    assert_eq!(std::fs::read(&setup.token_file).unwrap(), before);
    assert!(FileStore::new(&setup.token_file).load().unwrap().is_some());
    setup.sim.set_token_delay(Duration::ZERO);
    let (client, _) = binary::serve(&setup.env).await;
    assert_eq!(
        ok(&client, "get_current_user", json!({})).await["display_name"],
        "Mia Krystof"
    );
    assert_eq!(setup.sim.counters().invalid_grants, 0);
}

#[tokio::test]
async fn an_unconfigured_start_answers_initialize_and_tools_list() {
    let (client, _) = binary::serve(&[]).await;
    assert_eq!(
        client
            .peer_info()
            .and_then(|i| i.server_info.clone())
            .map(|s| s.name)
            .as_deref(),
        Some("jira-mcp")
    );
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.len() >= 21, "{} tools", tools.len());
    let (is_error, message) = call(&client, "get_issue", json!({"issue_key": "ED-1"})).await;
    assert!(is_error && message.contains("JIRA_URL"), "{message}");
}

#[tokio::test]
async fn trace_logs_of_a_session_with_a_refresh_hold_no_secret() {
    let setup = logged_in(Options {
        access_ttl: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let log = setup._dir.path().join("stderr.log");
    let (client, _) =
        binary::serve_logging_to(&setup.env, std::fs::File::create(&log).unwrap()).await;
    ok(&client, "get_current_user", json!({})).await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    ok(&client, "get_current_user", json!({})).await; // refreshed across expiry
    ok(&client, "refresh_oauth_token", json!({})).await; // forced
    ok(&client, "search_issues", json!({"jql": "project = ED"})).await;
    client.cancel().await.unwrap();

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "the server logged nothing: {logs}"
    );
    assert!(
        setup.sim.counters().refreshes >= 2,
        "{:?}",
        setup.sim.counters()
    );
    for secret in ["sim-at-", "sim-rt-", e2e_tests::sim::CLIENT_SECRET] {
        assert!(
            !logs.contains(secret),
            "`{secret}` leaked into the server's logs"
        );
    }
}
