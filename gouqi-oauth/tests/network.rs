//! Network failures: each names the host and the cause (never a path, query
//! or token), requests time out, and the settings reject unusable CA bundles.

mod common;

use std::time::{Duration, Instant};

use gouqi_oauth::r#async::Jira;
use gouqi_oauth::{Credentials, Error, HttpSettings, NetworkFailure, secrecy::SecretString};

/// A loopback port with nothing listening on it.
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Accepts connections and never answers; keeps them open until dropped.
async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

fn bearer() -> Credentials {
    Credentials::Bearer(SecretString::from("pat-never-printed"))
}

fn assert_network(error: &Error, host: &str, failure: NetworkFailure, words: &[&str]) {
    let message = error.to_string();
    assert!(
        matches!(error, Error::Network { host: h, failure: f, .. } if h == host && *f == failure),
        "expected a {failure:?} network error for {host}, got {error:?}"
    );
    assert!(message.contains(host), "{message}");
    for word in words {
        assert!(message.contains(word), "`{word}` missing from: {message}");
    }
    for secret in ["pat-never-printed", "jql-secret", "?", "/rest/"] {
        assert!(!message.contains(secret), "`{secret}` leaked: {message}");
    }
}

#[tokio::test]
async fn connection_refused_names_the_host_and_the_cause() {
    let port = refused_port();
    let host = format!("127.0.0.1:{port}");
    let jira = Jira::new(format!("http://{host}/"), bearer()).unwrap();
    let error = jira
        .send(
            reqwest::Method::GET,
            "rest/api/2/search",
            &[("jql", "jql-secret")],
            None,
        )
        .await
        .unwrap_err();
    assert_network(
        &error,
        &host,
        NetworkFailure::ConnectionRefused,
        &["connection refused", "Check the URL"],
    );
    assert!(
        !error.to_string().contains("invalid configuration"),
        "{error}"
    );
}

#[tokio::test]
async fn dns_failure_names_the_host_and_the_cause() {
    let jira = Jira::new("http://jira.example.invalid/", bearer()).unwrap();
    let error = jira
        .send(
            reqwest::Method::GET,
            "rest/api/2/search",
            &[("jql", "jql-secret")],
            None,
        )
        .await
        .unwrap_err();
    assert_network(
        &error,
        "jira.example.invalid",
        NetworkFailure::Dns,
        &["DNS", "does not resolve"],
    );
}

#[tokio::test]
async fn gouqi_calls_report_network_errors_too() {
    let port = refused_port();
    let host = format!("127.0.0.1:{port}");
    let jira = Jira::new(format!("http://{host}/"), bearer()).unwrap();
    let error = jira
        .get::<serde_json::Value>("api", "/myself")
        .await
        .unwrap_err();
    assert_network(
        &error,
        &host,
        NetworkFailure::ConnectionRefused,
        &["connection refused"],
    );
}

#[test]
fn the_blocking_client_reports_network_errors() {
    let port = refused_port();
    let host = format!("127.0.0.1:{port}");
    let jira = gouqi_oauth::Jira::new(format!("http://{host}/"), bearer()).unwrap();
    let error = jira.get::<serde_json::Value>("api", "/myself").unwrap_err();
    assert_network(
        &error,
        &host,
        NetworkFailure::ConnectionRefused,
        &["connection refused"],
    );
}

#[tokio::test]
async fn a_silent_jira_times_out() {
    let (port, _server) = silent_server().await;
    let host = format!("127.0.0.1:{port}");
    let settings = HttpSettings::default().timeout(Duration::from_secs(1));
    let jira = Jira::with_settings(format!("http://{host}/"), bearer(), &settings).unwrap();
    let started = Instant::now();
    let error = tokio::time::timeout(
        Duration::from_secs(20),
        jira.send(reqwest::Method::GET, "rest/api/2/myself", &[], None),
    )
    .await
    .expect("the request must time out on its own")
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_network(
        &error,
        &host,
        NetworkFailure::Timeout,
        &["timed out", "allow a longer timeout"],
    );
    assert!(error.is_transient());
}

#[tokio::test]
async fn an_unreachable_token_endpoint_names_the_host_and_the_cause() {
    let port = refused_port();
    let source = gouqi_oauth::TokenSource::new(
        gouqi_oauth::ClientId::new("client-id".into()),
        gouqi_oauth::TokenUrl::new(format!("http://127.0.0.1:{port}/oauth/token")).unwrap(),
    )
    .unwrap()
    .retry(common::fast_retry());
    let current = common::expiring_tokens("at-never-printed", "rt-never-printed");
    let error = source.renew(Some(&current)).await.unwrap_err();
    let message = error.to_string();
    assert!(error.is_unreachable(), "{error:?}");
    assert!(
        message.contains(&format!("127.0.0.1:{port}")) && message.contains("connection refused"),
        "{message}"
    );
    assert!(!message.contains("never-printed"), "{message}");
}

#[tokio::test]
async fn a_silent_token_endpoint_times_out() {
    let (port, _server) = silent_server().await;
    let source = gouqi_oauth::TokenSource::new(
        gouqi_oauth::ClientId::new("client-id".into()),
        gouqi_oauth::TokenUrl::new(format!("http://127.0.0.1:{port}/oauth/token")).unwrap(),
    )
    .unwrap()
    .retry(gouqi_oauth::RetryPolicy {
        max_attempts: 1,
        ..common::fast_retry()
    })
    .http_settings(HttpSettings::default().timeout(Duration::from_secs(1)))
    .unwrap();
    let started = Instant::now();
    let current = common::expiring_tokens("at", "rt");
    let error = source.renew(Some(&current)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(error.to_string().contains("timed out"), "{error}");
}

#[test]
fn ca_bundles_without_a_certificate_are_rejected() {
    let error = HttpSettings::default()
        .ca_bundle_pem(b"not a certificate")
        .unwrap_err();
    assert!(error.to_string().contains("no certificate"), "{error}");
    let missing = std::path::Path::new("/nonexistent/corp-ca.pem");
    let error = HttpSettings::default().ca_bundle_file(missing).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("/nonexistent/corp-ca.pem") && message.contains("cannot read"),
        "{message}"
    );
}

#[test]
fn settings_debug_shows_no_certificate_bytes() {
    let settings = HttpSettings::default()
        .timeout(Duration::from_secs(5))
        .native_roots(true);
    let debug = format!("{settings:?}");
    assert!(
        debug.contains("5s") && debug.contains("native_roots: true"),
        "{debug}"
    );
    assert_eq!(settings.request_timeout(), Duration::from_secs(5));
}
