//! A real MCP client does the whole dance: the official MCP Python SDK
//! (installed from PyPI by `.ci/python-env`) uses its own OAuth client
//! support against `jira-mcp serve --http` and the simulated Atlassian
//! (tests/python/team_dance.py): discovery from the 401, registration, PKCE,
//! the consent page driven headlessly, Atlassian's consent, the token, tool
//! calls, a refresh of the MCP token, and a refresh of the Atlassian token
//! after its expiry.
//!
//! With `CI` set, a missing Python or a failed venv fails the test; without
//! it the test is skipped with the reason printed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e_tests::sim::{Options, SimUser, Simulator};
use e2e_tests::team::{SCOPES, TeamOptions, TeamServer, loopback_redirect_uri};
use serde_json::Value;

/// The MCP access-token lifetime the server is given, so that the script
/// sees its token expire and refresh within the test.
const MCP_TTL_SECS: u64 = 5;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// The venv's python from `.ci/python-env`, or why there is none.
async fn python() -> Result<PathBuf, String> {
    let output = tokio::process::Command::new("bash")
        .arg(workspace().join(".ci/python-env"))
        .output()
        .await
        .map_err(|e| format!("could not run .ci/python-env: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout.lines().last().unwrap_or_default().trim();
    if output.status.success() && Path::new(path).exists() {
        Ok(PathBuf::from(path))
    } else {
        Err(format!(
            ".ci/python-env failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_authorizes_calls_tools_and_survives_both_refreshes() {
    let python = match python().await {
        Ok(python) => python,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: the MCP Python SDK is not available: {why}");
            return;
        }
        Err(why) => panic!("CI must run the MCP Python SDK test: {why}"),
    };
    let user = "pat";
    let sim = Simulator::start(Options::strict()).await;
    let server = TeamServer::start(
        &sim,
        TeamOptions {
            access_ttl_secs: Some(MCP_TTL_SECS),
            ..TeamOptions::default()
        },
    )
    .await;

    let run = tokio::process::Command::new(&python)
        .arg(workspace().join("tests/python/team_dance.py"))
        .args(["--server", server.public_url()])
        .args(["--sim", &sim.uri()])
        .args(["--user", user])
        .args(["--issue", "ED-1"])
        .args(["--mcp-ttl", &MCP_TTL_SECS.to_string()])
        .args(["--redirect-uri", &loopback_redirect_uri()])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the Python SDK script did not finish within 120 s")
        .expect("run the Python SDK script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    assert!(
        output.status.success() && summary.get("error").is_none(),
        "the Python SDK script failed: {summary}\n--- its stderr:\n{stderr}\n--- the server's log:\n{}",
        server.log()
    );

    // The same tools as a Rust client sees.
    let reference = server.authorize("reference", SCOPES).await;
    let tools = server.session(&reference).await.list_tools().await.unwrap();
    let account = SimUser::named(user).account_id;
    assert_eq!(summary["registered"], true, "{summary}");
    assert_eq!(summary["consent_names_client"], true, "{summary}");
    assert_eq!(summary["tools"], tools.len(), "{summary}");
    assert_eq!(summary["account_id"], account.as_str(), "{summary}");
    assert_eq!(summary["issue_key"], "ED-1", "{summary}");
    // The MCP token was refreshed: a second, different access token.
    assert!(
        summary["token_saves"].as_u64() > summary["token_saves_before_refresh"].as_u64()
            && summary["distinct_access_tokens"] == summary["token_saves"],
        "the SDK refreshed its MCP token to a new one: {summary}"
    );
    assert_eq!(summary["account_id_after_mcp_refresh"], account.as_str());
    // The Atlassian token expired and was refreshed once, at the simulator.
    assert!(
        summary["atlassian_tokens_expired"].as_u64() >= Some(1),
        "{summary}"
    );
    assert_eq!(
        summary["account_id_after_atlassian_expiry"],
        account.as_str()
    );
    assert_eq!(summary["issue_key_after_atlassian_expiry"], "ED-1");
    assert_eq!(sim.refreshes_of(user), 1, "{:?}", sim.counters_of(user));
    assert_eq!(sim.counters().invalid_grants, 0);
}
