//! Enterprise networks and network failures, end to end: a private CA
//! (JIRA_CA_BUNDLE) for Jira and the token endpoint, an HTTP proxy, and the
//! exit codes of `jira-mcp auth status`.

use std::process::Stdio;
use std::time::{Duration, SystemTime};

use e2e_tests::binary::{self, call};
use e2e_tests::tls::TlsFront;
use gouqi_oauth::r#async::Jira;
use gouqi_oauth::secrecy::SecretString;
use gouqi_oauth::{
    AccessToken, ClientId, ClientSecret, Credentials, Error, FileStore, Grant, HttpSettings,
    NetworkFailure, RefreshToken, Site, TokenSet, TokenSource, TokenStore, TokenUrl,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLOUD_ID: &str = "11223344-a1b2-3b33-c444-def123456789";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Jira Data Center answering `GET /rest/api/2/issue/ED-1` with the fixture.
async fn dc_jira() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/2/issue/ED-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("jira-dc/issue.json"), "application/json"),
        )
        .mount(&server)
        .await;
    server
}

/// A token endpoint at `/oauth/token` answering a service account's mint.
async fn token_endpoint() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("token/client-credentials.json").replace("{{access_token}}", "minted-at"),
            "application/json",
        ))
        .mount(&server)
        .await;
    server
}

fn host_of(uri: &str) -> &str {
    uri.trim_start_matches("https://")
        .trim_start_matches("http://")
}

fn assert_tls_error(error: &Error, host: &str) {
    let message = error.to_string();
    assert!(
        matches!(
            error,
            Error::Network {
                failure: NetworkFailure::Tls,
                ..
            }
        ),
        "expected a TLS error, got {error:?}"
    );
    assert!(
        message.contains(host) && message.contains("certificate"),
        "{message}"
    );
    // gouqi-oauth names the way out in its own terms; jira-mcp adds its
    // settings (checked through the binary below).
    assert!(
        message.contains("trust that CA") && !message.contains("JIRA_"),
        "{message}"
    );
}

fn env(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[tokio::test]
async fn a_jira_behind_a_private_ca_needs_its_bundle() {
    let jira_server = dc_jira().await;
    let front = TlsFront::start(*jira_server.address()).await;
    let host = host_of(&front.uri).to_string();
    let pat = || Credentials::Bearer(SecretString::from("dc-pat"));

    let untrusting = Jira::new(format!("{}/", front.uri), pat()).unwrap();
    let error = untrusting
        .send(reqwest::Method::GET, "rest/api/2/issue/ED-1", &[], None)
        .await
        .unwrap_err();
    assert_tls_error(&error, &host);

    let settings = HttpSettings::default()
        .ca_bundle_pem(front.ca_pem.as_bytes())
        .unwrap();
    let trusting = Jira::with_settings(format!("{}/", front.uri), pat(), &settings).unwrap();
    let response = trusting
        .send(reqwest::Method::GET, "rest/api/2/issue/ED-1", &[], None)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.json::<serde_json::Value>().unwrap()["key"], "ED-1");
}

#[tokio::test]
async fn a_token_endpoint_behind_a_private_ca_needs_its_bundle() {
    let tokens = token_endpoint().await;
    let front = TlsFront::start(*tokens.address()).await;
    let host = host_of(&front.uri).to_string();
    let source = || {
        TokenSource::new(
            ClientId::new("service-account".into()),
            TokenUrl::new(format!("{}/oauth/token", front.uri)).unwrap(),
        )
        .unwrap()
        .client_secret(ClientSecret::new("secret".into()))
        .grant(Grant::ClientCredentials)
    };

    let error = source().renew(None).await.unwrap_err();
    assert_tls_error(&error, &host);
    // A certificate problem is not retried: the one request was the only one.
    assert!(!error.is_transient());

    let settings = HttpSettings::default()
        .ca_bundle_pem(front.ca_pem.as_bytes())
        .unwrap();
    let minted = source()
        .http_settings(settings)
        .unwrap()
        .renew(None)
        .await
        .unwrap();
    assert_eq!(minted.access_token.secret(), "minted-at");
}

#[tokio::test]
async fn jira_mcp_trusts_jira_ca_bundle() {
    let jira_server = dc_jira().await;
    let front = TlsFront::start(*jira_server.address()).await;
    let host = host_of(&front.uri).to_string();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("corp-ca.pem");
    std::fs::write(&ca_file, &front.ca_pem).unwrap();
    let mut vars = vec![
        ("JIRA_URL", format!("{}/", front.uri)),
        ("JIRA_DEPLOYMENT", "datacenter".into()),
        ("JIRA_AUTH_TYPE", "pat".into()),
        ("JIRA_TOKEN", "dc-pat".into()),
    ];

    let (client, _) = binary::serve(&env(&vars)).await;
    let (is_error, text) = call(&client, "get_issue", json!({"issue_key": "ED-1"})).await;
    assert!(is_error, "{text}");
    assert!(
        text.contains(&host) && text.contains("certificate") && text.contains("JIRA_CA_BUNDLE"),
        "{text}"
    );
    drop(client);

    vars.push(("JIRA_CA_BUNDLE", ca_file.display().to_string()));
    let (client, _) = binary::serve(&env(&vars)).await;
    let (is_error, text) = call(&client, "get_issue", json!({"issue_key": "ED-1"})).await;
    assert!(!is_error, "{text}");
    assert!(text.contains("Refresh tokens before they expire"), "{text}");
}

#[tokio::test]
async fn jira_mcp_goes_through_http_proxy() {
    // The proxy: plain-HTTP requests arrive in absolute form and match by path.
    let proxy = dc_jira().await;
    let vars = [
        ("JIRA_URL", "http://jira.example.invalid/".to_string()),
        ("JIRA_DEPLOYMENT", "datacenter".into()),
        ("JIRA_AUTH_TYPE", "pat".into()),
        ("JIRA_TOKEN", "dc-pat".into()),
        ("HTTP_PROXY", proxy.uri()),
    ];
    let (client, _) = binary::serve(&env(&vars)).await;
    let (is_error, text) = call(&client, "get_issue", json!({"issue_key": "ED-1"})).await;
    assert!(!is_error, "{text}");
    assert!(text.contains("Refresh tokens before they expire"), "{text}");
    let received = proxy.received_requests().await.unwrap();
    assert!(
        received
            .iter()
            .any(|r| r.url.host_str() == Some("jira.example.invalid")),
        "the request did not go through the proxy for jira.example.invalid: {:?}",
        received
            .iter()
            .map(|r| r.url.to_string())
            .collect::<Vec<_>>()
    );
}

/// Runs `jira-mcp auth status` and returns (exit code, stdout).
async fn auth_status(vars: &[(String, String)]) -> (Option<i32>, String) {
    let output = binary::command(vars, &["auth", "status"])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run jira-mcp auth status");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code(), stdout)
}

#[tokio::test]
async fn auth_status_exits_3_when_jira_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let vars = env(&[
        ("JIRA_URL", format!("http://127.0.0.1:{port}/")),
        ("JIRA_DEPLOYMENT", "datacenter".into()),
        ("JIRA_AUTH_TYPE", "pat".into()),
        ("JIRA_TOKEN", "dc-pat".into()),
    ]);
    let (code, stdout) = auth_status(&vars).await;
    assert_eq!(code, Some(3), "{stdout}");
    assert!(
        stdout.contains(&format!("127.0.0.1:{port}")) && stdout.contains("connection refused"),
        "{stdout}"
    );
    assert!(stdout.contains("jira reachable        false"), "{stdout}");
}

#[tokio::test]
async fn auth_status_exits_1_when_jira_answers_401_even_after_a_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                fixture("token/refresh.json")
                    .replace("{{access_token}}", "at-2")
                    .replace("{{refresh_token}}", "rt-2"),
                "application/json",
            ),
        )
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::path_regex("^/ex/jira/"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(fixture("jira/unauthorized-token.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("tokens.json");
    seed(&token_file);
    let vars = env(&[
        ("JIRA_AUTH_TYPE", "oauth".into()),
        ("JIRA_DEPLOYMENT", "cloud".into()),
        ("JIRA_OAUTH_CLIENT_ID", "client-id".into()),
        ("JIRA_OAUTH_CLIENT_SECRET", "client-secret".into()),
        ("JIRA_OAUTH_TOKEN_FILE", token_file.display().to_string()),
        (
            "JIRA_OAUTH_AUTHORIZE_URL",
            format!("{}/authorize", server.uri()),
        ),
        (
            "JIRA_OAUTH_TOKEN_URL",
            format!("{}/oauth/token", server.uri()),
        ),
        ("JIRA_OAUTH_API_URL", server.uri()),
    ]);
    let (code, stdout) = auth_status(&vars).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("logged in             false"), "{stdout}");
    assert!(stdout.contains("401"), "{stdout}");
    let refreshes = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/oauth/token")
        .count();
    assert_eq!(refreshes, 1, "one refresh before the retry");
}

/// A valid Cloud token set (10 minutes old, 50 minutes left).
fn seed(token_file: &std::path::Path) {
    let obtained_at = SystemTime::now() - Duration::from_secs(600);
    let tokens = TokenSet {
        access_token: AccessToken::new("at-1".into()),
        refresh_token: Some(RefreshToken::new("rt-1".into())),
        expires_at: Some(obtained_at + Duration::from_secs(3600)),
        obtained_at,
        scopes: vec!["read:jira-work".into(), "read:jira-user".into()],
        site: Some(Site {
            cloud_id: Some(CLOUD_ID.into()),
            url: Some(url::Url::parse("https://your-domain.atlassian.net").unwrap()),
            name: Some("your-domain".into()),
        }),
    };
    FileStore::new(token_file).save(&tokens).unwrap();
}
