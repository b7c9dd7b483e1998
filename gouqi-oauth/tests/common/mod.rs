//! Helpers shared by the integration tests: fixtures, token sets, mocks.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use gouqi_oauth::{
    AccessToken, ClientId, ClientSecret, RefreshToken, RetryPolicy, TokenSet, TokenSource, TokenUrl,
};
use parking_lot::Mutex;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

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

/// A token endpoint that behaves like Atlassian's: every refresh rotates the
/// refresh token (`refresh-N` gives `access-N+1` / `refresh-N+1`), and
/// replaying a used one revokes the whole grant. Its access tokens state
/// `expires_in` and really live `lifetime` (an hour by default); `access-0`
/// counts as minted when the endpoint is made.
#[derive(Clone)]
pub struct RotatingEndpoint {
    pub state: Arc<Mutex<Rotation>>,
}

pub struct Rotation {
    pub current: usize,
    pub revoked: bool,
    pub refreshes: usize,
    pub invalid_grants: usize,
    /// The `expires_in` of each token response.
    pub expires_in: u64,
    /// How long an access token really lives, from when it is minted.
    pub lifetime: Duration,
    /// When the current access token dies.
    pub expires: Instant,
}

impl Default for RotatingEndpoint {
    fn default() -> Self {
        Self::with_lifetime(3600, Duration::from_secs(3600))
    }
}

impl RotatingEndpoint {
    /// Tokens that say `expires_in` and really live `lifetime`.
    pub fn with_lifetime(expires_in: u64, lifetime: Duration) -> RotatingEndpoint {
        RotatingEndpoint {
            state: Arc::new(Mutex::new(Rotation {
                current: 0,
                revoked: false,
                refreshes: 0,
                invalid_grants: 0,
                expires_in,
                lifetime,
                expires: Instant::now() + lifetime,
            })),
        }
    }
}

impl Respond for RotatingEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let sent = form
            .iter()
            .find(|(k, _)| k == "refresh_token")
            .map(|(_, v)| v.clone());
        let mut s = self.state.lock();
        if s.revoked || sent != Some(format!("refresh-{}", s.current)) {
            s.revoked = true;
            s.invalid_grants += 1;
            return ResponseTemplate::new(403)
                .set_body_raw(fixture("token/invalid-grant.json"), "application/json");
        }
        s.current += 1;
        s.refreshes += 1;
        s.expires = Instant::now() + s.lifetime;
        let n = s.current;
        let mut body = token_json(
            "token/refresh.json",
            &format!("access-{n}"),
            &format!("refresh-{n}"),
        );
        body["expires_in"] = s.expires_in.into();
        token_ok(body)
    }
}

/// Jira accepts only the newest access token of a grant that is not
/// revoked, and only while it lives; it counts the requests it served (the
/// second field) and the ones it answered 401 (the third).
pub struct StrictJira(
    pub RotatingEndpoint,
    pub Arc<AtomicUsize>,
    pub Arc<AtomicUsize>,
);

impl StrictJira {
    pub fn new(endpoint: &RotatingEndpoint, served: &Arc<AtomicUsize>) -> StrictJira {
        StrictJira(endpoint.clone(), served.clone(), Arc::default())
    }
}

impl Respond for StrictJira {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let s = self.0.state.lock();
        let wanted = format!("Bearer access-{}", s.current);
        let sent = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if !s.revoked && sent == Some(wanted.as_str()) && Instant::now() < s.expires {
            self.1.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_raw(fixture("jira/issue.json"), "application/json")
        } else {
            self.2.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(401)
        }
    }
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
