//! Helpers shared by the integration tests: fixtures, token sets, mocks.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use gouqi_oauth::{
    AccessToken, ClientId, ClientSecret, RefreshToken, RetryPolicy, TokenSet, TokenSource, TokenUrl,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const CLIENT_SECRET: &str = "client-secret-never-logged";

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A token-endpoint fixture with its placeholders filled in.
pub fn token_json(name: &str, access: &str, refresh: &str) -> serde_json::Value {
    let text = fixture(name)
        .replace("{{access_token}}", access)
        .replace("{{refresh_token}}", refresh);
    serde_json::from_str(&text).unwrap()
}

/// A token set obtained `age` ago that lives `lifetime` in all.
pub fn tokens_aged(
    access: &str,
    refresh: Option<&str>,
    age: Duration,
    lifetime: Duration,
) -> TokenSet {
    let obtained_at = SystemTime::now() - age;
    TokenSet {
        access_token: AccessToken::new(access.into()),
        refresh_token: refresh.map(|r| RefreshToken::new(r.into())),
        expires_at: Some(obtained_at + lifetime),
        obtained_at,
        scopes: vec!["read:jira-work".into()],
        site: None,
    }
}

/// Valid for 50 more minutes, obtained 10 minutes ago (so not "fresh").
pub fn valid_tokens(access: &str, refresh: &str) -> TokenSet {
    tokens_aged(
        access,
        Some(refresh),
        Duration::from_secs(600),
        Duration::from_secs(3600),
    )
}

/// Expires in one minute: inside the default 5-minute skew window.
pub fn expiring_tokens(access: &str, refresh: &str) -> TokenSet {
    tokens_aged(
        access,
        Some(refresh),
        Duration::from_secs(3540),
        Duration::from_secs(3600),
    )
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
    }
}

pub fn source(server: &MockServer) -> TokenSource {
    TokenSource::new(
        ClientId::new("client-id".into()),
        TokenUrl::new(format!("{}/oauth/token", server.uri())).unwrap(),
    )
    .unwrap()
    .client_secret(ClientSecret::new(CLIENT_SECRET.into()))
    .retry(fast_retry())
}

pub fn issue_path() -> &'static str {
    "/rest/api/latest/issue/ED-1"
}

/// Jira answers the issue fixture to `Bearer {token}`.
pub fn issue_ok(token: &str) -> Mock {
    Mock::given(method("GET"))
        .and(path(issue_path()))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("jira/issue.json"), "application/json"),
        )
}

/// Jira answers 401 to `Bearer {token}`.
pub fn issue_unauthorized(token: &str) -> Mock {
    Mock::given(method("GET"))
        .and(path(issue_path()))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(fixture("jira/unauthorized.json"), "application/json"),
        )
}

/// Matches requests to the token endpoint.
pub fn token_post() -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path("/oauth/token"))
}

pub fn token_ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// The secrets the no-leak tests plant and then look for in the logs.
pub const SECRETS: [&str; 6] = [
    "SECRET-ACCESS-0",
    "SECRET-REFRESH-0",
    "SECRET-ACCESS-1",
    "SECRET-REFRESH-1",
    CLIENT_SECRET,
    "SECRET-AUTH-CODE",
];

/// Everything tracing writes, kept in memory.
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a global TRACE subscriber (span events included) writing into
/// the returned buffer. Once per test binary.
pub fn capture_trace() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    captured
}
