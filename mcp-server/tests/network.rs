//! Network settings and failures through the tools: JIRA_TIMEOUT_SECS bounds a
//! silent Jira, network errors name the host and the cause, and the network
//! variables are validated at start.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{config, connect, err};
use jira_mcp::config::{Config, ConfigError, Flags};
use serde_json::json;

/// A Data Center site at `url` with a personal access token.
fn pat_vars(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("JIRA_URL", url.to_string()),
        ("JIRA_DEPLOYMENT", "datacenter".into()),
        ("JIRA_AUTH_TYPE", "pat".into()),
        ("JIRA_TOKEN", "dc-pat-never-printed".into()),
    ]
}

fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load_from(&Flags::default(), &move |name| env.get(name).cloned(), None)
}

#[tokio::test]
async fn a_silent_jira_times_out_after_jira_timeout_secs() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let _server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut vars = pat_vars(&format!("http://{host}/"));
    vars.push(("JIRA_TIMEOUT_SECS", "1".into()));
    let client = connect(config(&vars)).await;
    let started = Instant::now();
    let message = tokio::time::timeout(
        Duration::from_secs(20),
        err(&client, "get_issue", json!({"issue_key": "ED-1"})),
    )
    .await
    .expect("the tool call must fail on its own, not hang");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        message.contains("timed out") && message.contains(&host),
        "{message}"
    );
    assert!(message.contains("JIRA_TIMEOUT_SECS"), "{message}");
}

#[tokio::test]
async fn connection_refused_names_the_host_and_the_cause() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let client = connect(config(&pat_vars(&format!("http://{host}/")))).await;
    let message = err(&client, "get_issue", json!({"issue_key": "ED-1"})).await;
    assert!(
        message.contains(&host) && message.contains("connection refused"),
        "{message}"
    );
    assert!(!message.contains("invalid configuration"), "{message}");
    assert!(!message.contains("never-printed"), "{message}");
}

#[tokio::test]
async fn dns_failure_names_the_host_and_the_cause() {
    let client = connect(config(&pat_vars("http://jira.example.invalid/"))).await;
    let message = err(
        &client,
        "search_issues",
        json!({"jql": "text ~ \"jql-secret\""}),
    )
    .await;
    assert!(
        message.contains("jira.example.invalid") && message.contains("DNS"),
        "{message}"
    );
    assert!(
        !message.contains("jql-secret") && !message.contains('?'),
        "{message}"
    );
}

#[test]
fn jira_timeout_secs_must_be_a_positive_integer() {
    for bad in ["0", "-5", "1.5", "soon"] {
        let error = load(&[
            ("JIRA_URL", "https://jira.example.com"),
            ("JIRA_TIMEOUT_SECS", bad),
        ])
        .unwrap_err();
        let message = error.to_string();
        assert_eq!(error.variable, "JIRA_TIMEOUT_SECS", "{message}");
        assert!(
            message.contains(bad) && message.contains("seconds"),
            "{message}"
        );
    }
    let config = load(&[("JIRA_TIMEOUT_SECS", "7")]).unwrap();
    assert_eq!(config.http.request_timeout(), Duration::from_secs(7));
    let config = load(&[]).unwrap();
    assert_eq!(config.http.request_timeout(), Duration::from_secs(30));
}

#[test]
fn network_settings_come_from_the_toml_file_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "timeout_secs = 12\ntls_native_roots = true\n").unwrap();
    let flags = Flags {
        config: Some(file),
        ..Flags::default()
    };
    let config = Config::load_from(&flags, &|_| None, None).unwrap();
    assert_eq!(config.http.request_timeout(), Duration::from_secs(12));
    assert!(config.http.uses_native_roots());
}

#[test]
fn jira_tls_native_roots_takes_true_or_false() {
    let error = load(&[("JIRA_TLS_NATIVE_ROOTS", "maybe")]).unwrap_err();
    assert_eq!(error.variable, "JIRA_TLS_NATIVE_ROOTS");
    assert!(
        !load(&[("JIRA_TLS_NATIVE_ROOTS", "false")])
            .unwrap()
            .http
            .uses_native_roots()
    );
}

#[test]
fn jira_ca_bundle_must_be_a_readable_pem_with_a_certificate() {
    let error = load(&[("JIRA_CA_BUNDLE", "/nonexistent/corp-ca.pem")]).unwrap_err();
    let message = error.to_string();
    assert_eq!(error.variable, "JIRA_CA_BUNDLE");
    assert!(
        message.contains("/nonexistent/corp-ca.pem") && message.contains("cannot read"),
        "{message}"
    );
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificates here\n").unwrap();
    let error = load(&[("JIRA_CA_BUNDLE", empty.to_str().unwrap())]).unwrap_err();
    assert_eq!(error.variable, "JIRA_CA_BUNDLE");
    assert!(error.to_string().contains("no certificate"), "{error}");
}

/// The `auth_status` tool says when Jira cannot be reached, instead of only
/// "logged in".
#[tokio::test]
async fn the_auth_status_tool_reports_an_unreachable_jira() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = connect(config(&pat_vars(&format!("http://127.0.0.1:{port}/")))).await;
    let status = common::ok(&client, "auth_status", json!({})).await;
    assert_eq!(status["jira_reachable"], false, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{status}"
    );
}
