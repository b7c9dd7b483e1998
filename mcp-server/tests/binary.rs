//! The built `jira-mcp` binary over real stdio: an unconfigured start still
//! answers `initialize` and `tools/list`, stdout carries only JSON-RPC (even
//! with debug logging on), and the tool list is complete and annotated.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

/// Runs the binary with an empty environment (plus `vars`), sends `requests`
/// as JSON-RPC lines, and returns every stdout line and stderr.
fn exchange(vars: &[(&str, &str)], requests: &[Value], wait_for: usize) -> (Vec<String>, String) {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jira-mcp"))
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    // Drained as it comes: trace logs can fill the pipe and stall the server.
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    for request in requests {
        writeln!(stdin, "{request}").unwrap();
        stdin.flush().unwrap();
        if request.get("id").is_some() {
            lines.push(
                rx.recv_timeout(Duration::from_secs(20))
                    .expect("no reply from jira-mcp"),
            );
        }
    }
    while lines.len() < wait_for {
        lines.push(
            rx.recv_timeout(Duration::from_secs(20))
                .expect("no reply from jira-mcp"),
        );
    }
    drop(stdin);
    child.wait().unwrap();
    (lines, logs.join().unwrap())
}

fn initialize() -> Vec<Value> {
    vec![
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ]
}

#[test]
fn an_unconfigured_start_answers_initialize_and_lists_every_tool() {
    let mut requests = initialize();
    requests.push(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_issue", "arguments": {"issue_key": "ED-1"}}}));
    let (lines, _) = exchange(&[("RUST_LOG", "trace")], &requests, 3);

    // Every stdout line is a JSON-RPC message, even with trace logging on.
    let replies: Vec<Value> = lines
        .iter()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON-RPC on stdout ({e}): {l}"))
        })
        .collect();
    assert!(replies.iter().all(|r| r["jsonrpc"] == "2.0"));
    assert_eq!(replies[0]["result"]["serverInfo"]["name"], "jira-mcp");

    let tools = replies[1]["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), jira_mcp::catalog::TOOLS.len(), "{names:?}");
    for wanted in jira_mcp::catalog::TOOLS {
        assert!(
            names.contains(&wanted.name),
            "missing tool {}: {names:?}",
            wanted.name
        );
    }
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        assert!(
            tool["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name} has no description"
        );
        let read_only = tool["annotations"]["readOnlyHint"].as_bool();
        let info = jira_mcp::catalog::find(name).unwrap();
        if info.toolset != jira_mcp::catalog::Toolset::Auth {
            assert_eq!(read_only, Some(!info.writes), "{name}: readOnlyHint");
        }
        for (param, schema) in tool["inputSchema"]["properties"]
            .as_object()
            .into_iter()
            .flatten()
        {
            assert!(
                schema.get("description").is_some(),
                "{name}.{param} has no description"
            );
        }
    }

    // Without configuration a Jira tool explains what to set, as a tool error.
    let call = &replies[2]["result"];
    assert_eq!(call["isError"], true);
    assert!(
        call["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("JIRA_URL"),
        "{call}"
    );
}

#[test]
fn an_invalid_setting_stops_the_start_with_an_error_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_jira-mcp"))
        .env_clear()
        .env("JIRA_AUTH_TYPE", "kerberos")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("JIRA_AUTH_TYPE") && stderr.contains("oauth, api_token"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "stdout must stay clean");
}

#[test]
fn auth_status_exits_non_zero_when_not_logged_in() {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_jira-mcp"))
        .args(["auth", "status", "--json"])
        .env_clear()
        .env("HOME", home.path())
        .env("JIRA_AUTH_TYPE", "oauth")
        .env("JIRA_OAUTH_CLIENT_ID", "id")
        .env("JIRA_OAUTH_CLIENT_SECRET", "secret-value")
        .env("JIRA_OAUTH_TOKEN_FILE", home.path().join("tokens.json"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["logged_in"], false);
    assert_eq!(status["auth_type"], "oauth");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("secret-value"));
}

/// At RUST_LOG=trace, the authorization code and state given to
/// `complete_oauth_flow` never reach the logs.
#[test]
fn codes_and_states_stay_out_of_trace_logs() {
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("tokens.json");
    let token_file = token_file.to_str().unwrap();
    let vars = [
        ("RUST_LOG", "trace"),
        ("JIRA_AUTH_TYPE", "oauth"),
        ("JIRA_OAUTH_CLIENT_ID", "id"),
        ("JIRA_OAUTH_CLIENT_SECRET", "secret-value"),
        ("JIRA_OAUTH_TOKEN_FILE", token_file),
        ("JIRA_OAUTH_REDIRECT_URI", "https://jira-mcp.example.com/cb"),
    ];
    let mut requests = initialize();
    requests.push(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "init_oauth_flow", "arguments": {}}}));
    requests.push(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "complete_oauth_flow", "arguments": {"code": "CODE-SEEN-IN-LOGS", "state": "STATE-SEEN-IN-LOGS"}}}));
    let (lines, stderr) = exchange(&vars, &requests, 4);
    let answer: Value = serde_json::from_str(&lines[3]).unwrap();
    assert_eq!(answer["id"], 4, "{answer}");
    // The arguments were read (and the forged state refused).
    assert!(answer.to_string().contains("does not match"), "{answer}");
    for secret in ["CODE-SEEN-IN-LOGS", "STATE-SEEN-IN-LOGS", "secret-value"] {
        assert!(!stderr.contains(secret), "`{secret}` reached the logs");
    }
}

#[test]
fn the_oauth_tools_are_marked_destructive() {
    let (lines, _) = exchange(&[], &initialize(), 2);
    let list: Value = serde_json::from_str(&lines[1]).unwrap();
    for name in ["init_oauth_flow", "complete_oauth_flow"] {
        let tool = list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap();
        assert_eq!(tool["annotations"]["destructiveHint"], true, "{tool}");
    }
}

#[test]
fn logout_twice_says_the_second_time_that_nothing_was_there() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("tokens.json");
    std::fs::write(
        &file,
        r#"{"version":1,"access_token":"a","refresh_token":"r","obtained_at":1}"#,
    )
    .unwrap();
    let logout = || {
        Command::new(env!("CARGO_BIN_EXE_jira-mcp"))
            .args(["auth", "logout"])
            .env_clear()
            .env("HOME", home.path())
            .env("JIRA_AUTH_TYPE", "oauth")
            .env("JIRA_OAUTH_CLIENT_ID", "id")
            .env("JIRA_OAUTH_CLIENT_SECRET", "secret-value")
            .env("JIRA_OAUTH_TOKEN_FILE", &file)
            .output()
            .unwrap()
    };
    let first = logout();
    assert!(first.status.success());
    assert!(String::from_utf8_lossy(&first.stderr).contains("removed"));
    assert!(!file.exists());
    assert!(!home.path().join("tokens.json.lock").exists());
    let second = logout();
    assert!(second.status.success());
    let text = String::from_utf8_lossy(&second.stderr);
    assert!(
        text.contains("nothing to remove") && !text.contains("removed the tokens"),
        "{text}"
    );
}
