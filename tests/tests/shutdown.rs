//! Ending `jira-mcp serve` (stdin closed, or SIGTERM) while a token refresh
//! is in flight: the process first saves the rotated refresh token, so the
//! next start does not replay a spent one.
//!
//! rmcp itself waits a few seconds (5 s on EOF, 2 s on cancel) for handlers
//! in flight; the token endpoint here takes longer than that.

use std::process::Stdio;
use std::time::Duration;

use e2e_tests::binary::{self, call};
use e2e_tests::sim::{Options, Simulator};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Longer than rmcp's own drain on EOF, shorter than jira-mcp's grace.
const SLOW_TOKEN_ENDPOINT: Duration = Duration::from_secs(7);

#[derive(Clone, Copy, Debug)]
enum Ending {
    StdinClosed,
    Sigterm,
}

async fn a_refresh_in_flight_is_saved_before_exit(ending: Ending) {
    // Strict replay rules: a spent refresh token sent again revokes the grant.
    let sim = Simulator::start(Options {
        access_ttl: Duration::from_secs(1),
        ..Options::strict()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let env = sim.env(
        &binary::free_redirect_uri(),
        &dir.path().join("tokens.json"),
    );
    assert!(binary::login(&env).await.success);
    tokio::time::sleep(Duration::from_millis(1500)).await; // the access token expired
    sim.set_token_delay(SLOW_TOKEN_ENDPOINT);

    let mut child = binary::command(&env, &["serve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "get_current_user", "arguments": {}}}),
    ] {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    stdin.flush().await.unwrap();
    stdout.next_line().await.unwrap().expect("initialize reply");
    let requests = sim.counters().token_requests;
    for _ in 0..500 {
        if sim.counters().token_requests > requests {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        sim.counters().token_requests > requests,
        "no refresh started"
    );

    match ending {
        Ending::StdinClosed => drop(stdin),
        Ending::Sigterm => {
            let pid = child.id().unwrap().to_string();
            let sent = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap();
            assert!(sent.success());
        }
    }
    tokio::time::timeout(Duration::from_secs(40), child.wait())
        .await
        .expect("jira-mcp did not exit")
        .unwrap();

    sim.set_token_delay(Duration::ZERO);
    let (client, _) = binary::serve(&env).await;
    let (is_error, text) = call(&client, "get_current_user", json!({})).await;
    assert!(!is_error, "{ending:?}: the user was logged out: {text}");
    let counters = sim.counters();
    assert_eq!(counters.invalid_grants, 0, "{ending:?}: {counters:?}");
    assert_eq!(counters.revocations, 0, "{ending:?}: {counters:?}");
}

#[tokio::test]
async fn closing_stdin_mid_refresh_saves_the_rotated_token_first() {
    a_refresh_in_flight_is_saved_before_exit(Ending::StdinClosed).await;
}

#[tokio::test]
async fn sigterm_mid_refresh_saves_the_rotated_token_first() {
    a_refresh_in_flight_is_saved_before_exit(Ending::Sigterm).await;
}
