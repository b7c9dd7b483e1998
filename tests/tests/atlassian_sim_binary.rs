//! The `atlassian-sim` binary: its usage text, and instructions that name the
//! `jira-mcp` built in this checkout rather than assuming one on `PATH`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

const SIM: &str = env!("CARGO_BIN_EXE_atlassian-sim");

/// Runs `atlassian-sim` with `args` and collects what it prints until it says
/// how to stop it; then stops it.
async fn instructions(args: &[&str]) -> String {
    let mut child = tokio::process::Command::new(SIM)
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await
    {
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("Ctrl-C") {
            break;
        }
    }
    child.start_kill().unwrap();
    printed
}

#[tokio::test]
async fn help_documents_strict_mode() {
    let output = tokio::process::Command::new(SIM)
        .arg("--help")
        .output()
        .await
        .unwrap();
    let usage = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success());
    assert!(
        usage.contains("--strict") && usage.contains("10 minutes"),
        "{usage}"
    );
    assert!(
        usage.contains("X-Sim-User") && usage.contains("/_sim/expire-access-tokens"),
        "{usage}"
    );
}

#[tokio::test]
async fn the_instructions_name_the_built_jira_mcp_and_the_replay_rule() {
    let jira_mcp = e2e_tests::binary::path().display().to_string();
    let default = instructions(&[]).await;
    assert!(
        default.contains(&format!("'{jira_mcp}' auth login")),
        "{default}"
    );
    assert!(
        default.contains(&format!("'{jira_mcp}' serve")),
        "{default}"
    );
    assert!(default.contains("replayed for 600 s"), "{default}");
    assert!(
        default.contains("JIRA_OAUTH_GRANT=client_credentials"),
        "{default}"
    );
    let strict = instructions(&["--strict"]).await;
    assert!(strict.contains("strict: any replay"), "{strict}");
}

#[tokio::test]
async fn an_unknown_argument_is_refused() {
    let output = tokio::process::Command::new(SIM)
        .arg("--bogus")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--bogus"));
}
