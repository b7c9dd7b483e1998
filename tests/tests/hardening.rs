//! The binary's side of issue-8 fixes: a revoked grant is seen at once, a
//! broken token file stops a login before the browser, and `auth status`
//! speaks in words.

use std::process::Stdio;
use std::time::Duration;

use e2e_tests::binary;
use e2e_tests::sim::{Options, Simulator};
use serde_json::Value;

/// Revoked while the access token still has most of its hour: `auth status`
/// must not say "logged in" until it expires.
#[tokio::test]
async fn auth_status_right_after_a_revocation_says_log_in_again() {
    let sim = Simulator::start(Options::default()).await; // 1-hour access tokens
    let dir = tempfile::tempdir().unwrap();
    let env = sim.env(
        &binary::free_redirect_uri(),
        &dir.path().join("tokens.json"),
    );
    assert!(binary::login(&env).await.success);
    sim.revoke_all();

    let (success, stdout, stderr) = binary::auth(&env, &["status", "--json"]).await;
    assert!(!success, "exit 0 after a revocation: {stdout} {stderr}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["logged_in"], false, "{status}");
    assert_eq!(status["needs_reauthorization"], true, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("jira-mcp auth login"),
        "{status}"
    );
}

/// A corrupt token file is found before the user approves anything.
#[tokio::test]
async fn auth_login_with_a_corrupt_token_file_fails_before_showing_a_url() {
    let sim = Simulator::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    std::fs::write(&file, "{\"version\": 1, \"access_tok").unwrap();
    let env = sim.env(&binary::free_redirect_uri(), &file);
    let output = binary::command(&env, &["auth", "login", "--no-browser"])
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), output)
        .await
        .expect("auth login waited for a browser")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        !stderr.contains("/authorize?"),
        "the URL was shown: {stderr}"
    );
    assert!(
        stderr.contains("corrupt") && stderr.contains("tokens.json"),
        "{stderr}"
    );
    assert_eq!(sim.counters().logins, 0);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\"version\": 1, \"access_tok"
    );
}

#[tokio::test]
async fn auth_status_names_the_grant_in_words() {
    let sim = Simulator::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let env = sim.env(
        &binary::free_redirect_uri(),
        &dir.path().join("tokens.json"),
    );
    assert!(binary::login(&env).await.success);
    let (success, human, _) = binary::auth(&env, &["status"]).await;
    assert!(success, "{human}");
    assert!(human.contains("authorization_code (user login)"), "{human}");
    assert!(!human.contains("AuthorizationCode"), "{human}");
}
