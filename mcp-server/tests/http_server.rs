//! The team server over real HTTP (127.0.0.1:0, in process): the bearer
//! guard and its 401/403 answers, Protected Resource Metadata, MCP over
//! `/mcp` (JSON responses), per-user Jira connections with single-flight
//! refresh, Host/Origin checks, the rate limit, health and the audit line.
//!
//! Jira and Atlassian's token endpoint are wiremock; users, grants and
//! jira-mcp's access tokens are put straight into the store (the
//! authorization server that issues them is tested elsewhere).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{CLOUD_ID, cloud, cloud_oauth_vars, token_json, tokens};
use gouqi_oauth::StoreLock;
use gouqi_oauth::TokenStore;
use jira_mcp::team::authz::tokens::random_secret;
use jira_mcp::team::http::TeamState;
use jira_mcp::team::store::crypto::Sealer;
use jira_mcp::team::store::grant::UserGrantStore;
use jira_mcp::team::store::{
    ClientRecord, CodeRecord, FamilyStart, PendingRecord, RefreshUse, StoreError, StoreResult,
    TeamStore, TokenHash, TokenRecord, UnixTime, UserId, UserRecord, now,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const READ_WRITE: [&str; 2] = ["jira:read", "jira:write"];
const LOGIN_TOOLS: [&str; 3] = [
    "init_oauth_flow",
    "complete_oauth_flow",
    "refresh_oauth_token",
];

/// A team server on a free port, its store and a wiremock Jira.
struct Team {
    base: String,
    store: Arc<dyn TeamStore>,
    flaky: Arc<Flaky>,
    sealer: Arc<Sealer>,
    jira: MockServer,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Team {
    async fn start(extra: &[(&'static str, String)]) -> Team {
        capture_logs();
        let jira = MockServer::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let database_url = format!("sqlite://{}", dir.path().join("team.db").display());
        let key = Sealer::generate_key();
        let mut vars = cloud_oauth_vars(&jira, &dir.path().join("unused-token-file.json"));
        vars.push(("JIRA_MCP_HTTP_ADDR", addr.to_string()));
        vars.push(("JIRA_MCP_ENCRYPTION_KEY", key.clone()));
        vars.push(("JIRA_MCP_DATABASE_URL", database_url.clone()));
        vars.extend(extra.iter().cloned());
        let config = common::config(&vars);
        let store = jira_mcp::team::store::open(&database_url).await.unwrap();
        let flaky = Arc::new(Flaky {
            inner: store.clone(),
            down: Default::default(),
        });
        let sealer = Arc::new(Sealer::from_base64(&key, &[]).unwrap());
        let team = TeamState::new(config, flaky.clone(), sealer.clone()).unwrap();
        let limits = team.settings.connections;
        let app = jira_mcp::team::http::app(team, axum::Router::new());
        tokio::spawn(jira_mcp::team::http::connections::serve(
            listener,
            app,
            limits,
            std::future::pending(),
            Duration::from_secs(1),
        ));
        Team {
            base: format!("http://{addr}"),
            store,
            flaky,
            sealer,
            jira,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    fn resource(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// A user with an Atlassian grant (`access`/`refresh`, obtained `age`
    /// ago, living an hour).
    async fn user(&self, account: &str, access: &str, refresh: &str, age: Duration) -> UserId {
        let user = self
            .store
            .upsert_user(account, CLOUD_ID, Some(account))
            .await
            .unwrap();
        let grant = UserGrantStore::new(
            self.store.clone(),
            self.sealer.clone(),
            user.id.clone(),
            tokio::runtime::Handle::current(),
        );
        let set = tokens(access, refresh, age, Duration::from_secs(3600));
        tokio::task::spawn_blocking(move || grant.save(&set).unwrap())
            .await
            .unwrap();
        user.id
    }

    /// A jira-mcp access token for `user` through `client`.
    async fn token(&self, user: &UserId, client: &str, scopes: &[&str]) -> String {
        self.token_with(user, client, scopes, &self.resource(), now() + 3600)
            .await
    }

    async fn token_with(
        &self,
        user: &UserId,
        client: &str,
        scopes: &[&str],
        audience: &str,
        expires_at: i64,
    ) -> String {
        let token = random_secret();
        let record = TokenRecord {
            client_id: client.into(),
            user: user.clone(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            audience: audience.into(),
            family: random_secret(),
            expires_at,
        };
        self.store
            .put_access(&TokenHash::of(&token), &record)
            .await
            .unwrap();
        token
    }

    /// POSTs one JSON-RPC message to /mcp.
    async fn rpc(
        &self,
        token: Option<&str>,
        method: &str,
        params: Value,
    ) -> (StatusCode, HeaderMap, Value) {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut request = self
            .http
            .post(self.resource())
            .header("Accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (status, headers, parse_body(&text))
    }

    async fn initialize(&self, token: &str) -> Value {
        let (status, _, body) = self
            .rpc(
                Some(token),
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "test", "version": "1"}
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn tool_names(&self, token: &str) -> Vec<String> {
        let (status, _, body) = self.rpc(Some(token), "tools/list", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("no tools in {body}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Calls a tool; returns (is_error, text).
    async fn call(&self, token: &str, tool: &str, args: Value) -> (bool, String) {
        let (status, _, body) = self
            .rpc(
                Some(token),
                "tools/call",
                json!({"name": tool, "arguments": args}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let result = &body["result"];
        let text = result["content"]
            .as_array()
            .unwrap_or_else(|| panic!("no content in {body}"))
            .iter()
            .filter_map(|c| c["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        (result["isError"].as_bool().unwrap_or(false), text)
    }

    async fn me(&self, token: &str) -> Value {
        let (is_error, text) = self.call(token, "get_current_user", json!({})).await;
        assert!(!is_error, "get_current_user failed: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// Jira answers `/myself` as `name` to `Bearer {access}` only.
    async fn myself(&self, access: &str, name: &str) {
        Mock::given(method("GET"))
            .and(path(cloud("myself")))
            .and(header("authorization", format!("Bearer {access}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "accountId": format!("acc-{name}"),
                "displayName": name,
                "active": true
            })))
            .mount(&self.jira)
            .await;
    }
}

/// A JSON body, or the `data:` of an SSE body.
fn parse_body(text: &str) -> Value {
    if let Ok(value) = serde_json::from_str(text) {
        return value;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or(Value::String(text.to_string()))
}

fn www_authenticate(headers: &HeaderMap) -> String {
    headers
        .get("www-authenticate")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A store that can be made to fail its readiness check (the database went
/// away), delegating everything else.
#[derive(Debug)]
struct Flaky {
    inner: Arc<dyn TeamStore>,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl TeamStore for Flaky {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn ping(&self) -> StoreResult<()> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable {
                backend: "sqlite",
                message: "the database file is gone".into(),
            });
        }
        self.inner.ping().await
    }
    async fn upsert_user(&self, a: &str, s: &str, d: Option<&str>) -> StoreResult<UserRecord> {
        self.inner.upsert_user(a, s, d).await
    }
    async fn user(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.inner.user(id).await
    }
    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        self.inner.users().await
    }
    async fn delete_user(&self, id: &UserId) -> StoreResult<bool> {
        self.inner.delete_user(id).await
    }
    async fn load_grant(&self, u: &UserId) -> StoreResult<Option<Vec<u8>>> {
        self.inner.load_grant(u).await
    }
    async fn save_grant(&self, u: &UserId, sealed: &[u8]) -> StoreResult<()> {
        self.inner.save_grant(u, sealed).await
    }
    async fn clear_grant(&self, u: &UserId) -> StoreResult<bool> {
        self.inner.clear_grant(u).await
    }
    async fn lock_grant(&self, u: &UserId, wait: Duration) -> StoreResult<StoreLock> {
        self.inner.lock_grant(u, wait).await
    }
    async fn put_client(&self, c: &ClientRecord) -> StoreResult<()> {
        self.inner.put_client(c).await
    }
    async fn client(&self, id: &str) -> StoreResult<Option<ClientRecord>> {
        self.inner.client(id).await
    }
    async fn put_pending(&self, k: &TokenHash, r: &PendingRecord) -> StoreResult<()> {
        self.inner.put_pending(k, r).await
    }
    async fn take_pending(&self, k: &TokenHash) -> StoreResult<Option<PendingRecord>> {
        self.inner.take_pending(k).await
    }
    async fn pending(&self, k: &TokenHash) -> StoreResult<Option<PendingRecord>> {
        self.inner.pending(k).await
    }
    async fn spend_consent(&self, k: &TokenHash, expires_at: UnixTime) -> StoreResult<bool> {
        self.inner.spend_consent(k, expires_at).await
    }
    async fn put_code(&self, k: &TokenHash, r: &CodeRecord) -> StoreResult<()> {
        self.inner.put_code(k, r).await
    }
    async fn take_code(&self, k: &TokenHash, f: &FamilyStart) -> StoreResult<Option<CodeRecord>> {
        self.inner.take_code(k, f).await
    }
    async fn put_access(&self, k: &TokenHash, r: &TokenRecord) -> StoreResult<bool> {
        self.inner.put_access(k, r).await
    }
    async fn access(&self, k: &TokenHash) -> StoreResult<Option<TokenRecord>> {
        self.inner.access(k).await
    }
    async fn put_refresh(&self, k: &TokenHash, r: &TokenRecord) -> StoreResult<bool> {
        self.inner.put_refresh(k, r).await
    }
    async fn take_refresh(&self, k: &TokenHash) -> StoreResult<RefreshUse> {
        self.inner.take_refresh(k).await
    }
    async fn revoke_token(&self, k: &TokenHash) -> StoreResult<bool> {
        self.inner.revoke_token(k).await
    }
    async fn revoke_family(&self, family: &str) -> StoreResult<u64> {
        self.inner.revoke_family(family).await
    }
    async fn revoke_user_tokens(&self, u: &UserId) -> StoreResult<u64> {
        self.inner.revoke_user_tokens(u).await
    }
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.inner.purge_expired(now).await
    }
    async fn purge_unused_clients(&self, before: UnixTime) -> StoreResult<u64> {
        self.inner.purge_unused_clients(before).await
    }
}

// --- captured logs (one subscriber per test binary) ---

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("HTTP_TEST_LOGS").is_some() {
            let _ = std::io::stderr().write_all(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every log line at TRACE, except rmcp's payload events (capped
/// at info in production, see `cli::init_logging`).
fn capture_logs() {
    LOGS.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(buffer.clone());
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || sink.clone());
        let no_mcp_payloads = tracing_subscriber::filter::filter_fn(|meta| {
            !(meta.target().starts_with("rmcp") && *meta.level() > tracing::Level::INFO)
        });
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::TRACE)
            .with(tracing_subscriber::Layer::with_filter(
                layer,
                no_mcp_payloads,
            ))
            .try_init();
        buffer
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.get().unwrap().lock().unwrap()).into_owned()
}

// --- the bearer guard and metadata ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_without_a_token_gets_401_naming_the_metadata_and_scopes() {
    let team = Team::start(&[]).await;
    let (status, headers, _) = team.rpc(None, "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&headers),
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"jira:read jira:write\"",
            team.base
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_expired_foreign_and_revoked_tokens_get_401_invalid_token() {
    let team = Team::start(&[]).await;
    let user = team
        .user("alice", "atl-a", "ref-a", Duration::from_secs(60))
        .await;
    let expired = team
        .token_with(&user, "c", &READ_WRITE, &team.resource(), now() - 1)
        .await;
    let foreign = team
        .token_with(
            &user,
            "c",
            &READ_WRITE,
            "https://other.example.com/mcp",
            now() + 3600,
        )
        .await;
    let revoked = team.token(&user, "c", &READ_WRITE).await;
    assert!(
        team.store
            .revoke_token(&TokenHash::of(&revoked))
            .await
            .unwrap()
    );
    // An Atlassian token (or anything else this server did not issue).
    for token in ["atl-a", "forged-token", &expired, &foreign, &revoked] {
        let (status, headers, body) = team.rpc(Some(token), "tools/list", json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}: {body}");
        let challenge = www_authenticate(&headers);
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\", resource_metadata=\""),
            "{challenge}"
        );
        assert!(
            challenge.contains("scope=\"jira:read jira:write\""),
            "{challenge}"
        );
        assert_eq!(body["error"], "invalid_token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn protected_resource_metadata_names_this_resource_at_both_paths() {
    let team = Team::start(&[]).await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = team.get(path, &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let document: Value = response.json().await.unwrap();
        assert_eq!(document["resource"], format!("{}/mcp", team.base));
        // The issuer exactly as the authorization server writes it (a root
        // URL ends with `/`): clients compare the two strings.
        assert_eq!(
            document["authorization_servers"],
            json!([format!("{}/", team.base)])
        );
        assert_eq!(document["scopes_supported"], json!(READ_WRITE));
        assert_eq!(document["bearer_methods_supported"], json!(["header"]));
    }
}

// --- MCP over /mcp ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn initialize_list_and_call_a_tool_over_http_as_the_signed_in_user() {
    let team = Team::start(&[]).await;
    let alice = team
        .user("alice", "atl-alice", "ref-alice", Duration::from_secs(60))
        .await;
    team.myself("atl-alice", "Alice").await;
    let token = team.token(&alice, "claude", &READ_WRITE).await;

    let init = team.initialize(&token).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "jira-mcp");
    let tools = team.tool_names(&token).await;
    assert!(tools.contains(&"create_issue".to_string()));
    for login in LOGIN_TOOLS {
        assert!(!tools.contains(&login.to_string()), "{login} is listed");
    }
    assert_eq!(team.me(&token).await["display_name"], "Alice");

    let status = team.call(&token, "auth_status", json!({})).await;
    let status: Value = serde_json::from_str(&status.1).unwrap();
    // One output schema describes both modes; the SDKs reject anything else.
    let schema: Value =
        serde_json::from_str(include_str!("../schemas/output/auth_status.json")).unwrap();
    let errors: Vec<String> = jsonschema::validator_for(&schema)
        .unwrap()
        .iter_errors(&status)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "auth_status in team mode: {errors:?}\n{status}"
    );
    assert_eq!(status["mode"], "team");
    assert_eq!(status["auth_type"], "oauth");
    assert_eq!(status["logged_in"], true);
    assert_eq!(status["scopes"], json!(READ_WRITE));
    assert_eq!(status["user_id"], alice.0);
    assert_eq!(status["client_id"], "claude");
    assert_eq!(status["account"], "Alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_login_tools_refuse_on_the_team_server() {
    let team = Team::start(&[]).await;
    let alice = team
        .user("alice", "atl-alice", "ref-alice", Duration::from_secs(60))
        .await;
    let token = team.token(&alice, "claude", &READ_WRITE).await;
    for tool in LOGIN_TOOLS {
        let (is_error, text) = team.call(&token, tool, json!({})).await;
        assert!(is_error, "{tool}: {text}");
        assert!(
            text.contains("MCP client's authorization"),
            "{tool}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_token_sees_no_write_tools_and_calling_one_is_403() {
    let team = Team::start(&[]).await;
    let alice = team
        .user("alice", "atl-alice", "ref-alice", Duration::from_secs(60))
        .await;
    let token = team.token(&alice, "claude", &["jira:read"]).await;
    let tools = team.tool_names(&token).await;
    assert!(tools.contains(&"get_issue".to_string()));
    for write in [
        "create_issue",
        "edit_issue",
        "add_comment",
        "transition_issue",
    ] {
        assert!(!tools.contains(&write.to_string()), "{write} is listed");
    }
    let (status, headers, body) = team
        .rpc(
            Some(&token),
            "tools/call",
            json!({"name": "add_comment", "arguments": {"issue_key": "ED-1", "body": "hi"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let challenge = www_authenticate(&headers);
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\", resource_metadata=\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"jira:read jira:write\""),
        "{challenge}"
    );
    assert_eq!(body["error"], "insufficient_scope");
    assert!(team.jira.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_without_jira_read_is_403_insufficient_scope() {
    let team = Team::start(&[]).await;
    let alice = team
        .user("alice", "atl-alice", "ref-alice", Duration::from_secs(60))
        .await;
    let token = team.token(&alice, "claude", &["profile"]).await;
    let (status, headers, _) = team.rpc(Some(&token), "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(www_authenticate(&headers).contains("error=\"insufficient_scope\""));
}

// --- per-user Atlassian grants ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_user_acts_with_their_own_atlassian_token() {
    let team = Team::start(&[]).await;
    let alice = team
        .user("alice", "atl-alice", "ref-alice", Duration::from_secs(60))
        .await;
    let bob = team
        .user("bob", "atl-bob", "ref-bob", Duration::from_secs(60))
        .await;
    team.myself("atl-alice", "Alice").await;
    team.myself("atl-bob", "Bob").await;
    let alice_token = team.token(&alice, "claude", &READ_WRITE).await;
    let bob_token = team.token(&bob, "claude", &READ_WRITE).await;
    for _ in 0..2 {
        assert_eq!(team.me(&alice_token).await["display_name"], "Alice");
        assert_eq!(team.me(&bob_token).await["display_name"], "Bob");
    }
    // Every Jira request carried one of the two users' Atlassian tokens,
    // never a jira-mcp token.
    for request in team.jira.received_requests().await.unwrap() {
        let bearer = request.headers.get("authorization").unwrap();
        assert!(
            ["Bearer atl-alice", "Bearer atl-bob"].contains(&bearer.to_str().unwrap()),
            "{bearer:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_calls_after_expiry_refresh_once_and_other_users_do_not_wait() {
    let team = Team::start(&[]).await;
    // Alice's access token expired a minute ago; Bob's is fresh.
    let alice = team
        .user(
            "alice",
            "atl-alice-old",
            "ref-alice",
            Duration::from_secs(3660),
        )
        .await;
    let bob = team
        .user("bob", "atl-bob", "ref-bob", Duration::from_secs(60))
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("refresh_token=ref-alice"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_json("atl-alice-new", "ref-alice-2"))
                .set_delay(Duration::from_millis(1500)),
        )
        .expect(1)
        .mount(&team.jira)
        .await;
    team.myself("atl-alice-new", "Alice").await;
    team.myself("atl-bob", "Bob").await;
    let alice_token = team.token(&alice, "claude", &READ_WRITE).await;
    let bob_token = team.token(&bob, "claude", &READ_WRITE).await;

    let team = Arc::new(team);
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let (team, token) = (team.clone(), alice_token.clone());
            tokio::spawn(async move { team.me(&token).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert_eq!(team.me(&bob_token).await["display_name"], "Bob");
    let bob_took = started.elapsed();
    assert!(
        bob_took < Duration::from_millis(1000),
        "Bob waited {bob_took:?} for Alice's refresh"
    );
    for call in calls {
        assert_eq!(call.await.unwrap()["display_name"], "Alice");
    }
    team.jira.verify().await;
}

// --- Host and Origin ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreign_host_and_origin_are_refused_on_every_route() {
    let team = Team::start(&[]).await;
    let host = team.base.trim_start_matches("http://").to_string();
    for path in ["/healthz", "/.well-known/oauth-protected-resource", "/mcp"] {
        let foreign_host = team.get(path, &[("host", "evil.example.com")]).await;
        assert_eq!(foreign_host.status(), StatusCode::FORBIDDEN, "{path}");
        let foreign_origin = team
            .get(path, &[("origin", "https://evil.example.com")])
            .await;
        assert_eq!(foreign_origin.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let allowed = team
        .get(
            "/healthz",
            &[("host", host.as_str()), ("origin", team.base.as_str())],
        )
        .await;
    assert_eq!(allowed.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn configured_hosts_and_origins_pass_through_to_mcp() {
    let team = Team::start(&[
        (
            "JIRA_MCP_ALLOWED_HOSTS",
            "127.0.0.1 jira-mcp.example.com".into(),
        ),
        (
            "JIRA_MCP_ALLOWED_ORIGINS",
            "https://claude.example.com".into(),
        ),
    ])
    .await;
    let alice = team
        .user("alice", "atl-alice", "ref-alice", Duration::from_secs(60))
        .await;
    let token = team.token(&alice, "claude", &READ_WRITE).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let send = |host: &'static str, origin: &'static str| {
        team.http
            .post(team.resource())
            .bearer_auth(&token)
            .header("Accept", "application/json, text/event-stream")
            .header("host", host)
            .header("origin", origin)
            .json(&list)
            .send()
    };
    let ok = send("jira-mcp.example.com", "https://claude.example.com")
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = send("jira-mcp.example.com", "https://evil.example.com")
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

/// An allow-list never fails open: an empty one is refused at start (above)
/// and matches nothing if it gets through; only an explicit `*` lets any
/// Host through, on /mcp (rmcp's check) as on every other route.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_an_explicit_star_turns_the_host_check_off() {
    use jira_mcp::team::http::hosts::{host_allowed, origin_allowed};
    assert!(!host_allowed(Some("rebound.evil.example"), &[]));
    let mut origin = HeaderMap::new();
    origin.insert("origin", "https://evil.example".parse().unwrap());
    assert!(!origin_allowed(&origin, &[]));

    let team = Team::start(&[("JIRA_MCP_ALLOWED_HOSTS", "*".into())]).await;
    let alice = team
        .user("alice", "atl-alice", "ref-alice", Duration::from_secs(60))
        .await;
    let token = team.token(&alice, "claude", &READ_WRITE).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let listed = team
        .http
        .post(team.resource())
        .bearer_auth(&token)
        .header("Accept", "application/json, text/event-stream")
        .header("host", "rebound.evil.example")
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK, "`*` lets any Host through");
    let health = team
        .get("/healthz", &[("host", "rebound.evil.example")])
        .await;
    assert_eq!(health.status(), StatusCode::OK);
}

// --- connections: slowloris, stalled bodies, early refusals ---

/// A raw HTTP/1.1 connection, to send exactly what a slow or careless
/// client would.
struct Raw(tokio::net::TcpStream);

impl Raw {
    async fn connect(team: &Team) -> Raw {
        let addr = team.base.trim_start_matches("http://");
        Raw(tokio::net::TcpStream::connect(addr).await.unwrap())
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.0.write_all(bytes).await
    }

    /// One response: (status, lower-case head, body); `None` when the
    /// server closed the connection first.
    async fn response(&mut self) -> Option<(u16, String, String)> {
        use tokio::io::AsyncReadExt;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match self.0.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match self.0.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
        Some((status, head, body))
    }

    /// True once the server has closed the connection (EOF or reset).
    async fn closed_within(&mut self, limit: Duration) -> bool {
        use tokio::io::AsyncReadExt;
        let mut sink = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.0.read(&mut sink)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}

/// Slowloris: headers trickled a byte at a time are cut off at the header
/// timeout, however long the client keeps trickling; and with every slot
/// taken (`JIRA_MCP_MAX_CONNECTIONS`), a new client is served as soon as
/// one frees up instead of the server running out of file descriptors.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_headers_are_cut_off_and_the_connection_cap_queues_new_clients() {
    let team = Team::start(&[
        ("JIRA_MCP_HEADER_TIMEOUT_SECS", "1".into()),
        ("JIRA_MCP_MAX_CONNECTIONS", "3".into()),
    ])
    .await;
    let host = team.base.trim_start_matches("http://").to_string();
    let mut trickling = Vec::new();
    for _ in 0..3 {
        let mut raw = Raw::connect(&team).await;
        raw.send(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n").as_bytes())
            .await
            .unwrap();
        trickling.push(raw);
    }
    // Keep all three trickling a header byte every 100 ms, as an attacker would.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cut_off = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut open = trickling;
            let mut closed_after = Vec::new();
            while !open.is_empty() && started.elapsed() < Duration::from_secs(20) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut still = Vec::new();
                for mut raw in open {
                    if raw.send(b"X").await.is_err() || raw.closed_within(Duration::ZERO).await {
                        closed_after.push(started.elapsed());
                    } else {
                        still.push(raw);
                    }
                }
                open = still;
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
            }
            (closed_after, open.len())
        })
    };
    // All three slots are taken: a fourth client waits in the backlog...
    let queued = tokio::spawn({
        let http = reqwest::Client::new();
        let url = format!("{}/healthz", team.base);
        async move {
            let asked = Instant::now();
            let status = http.get(url).send().await.map(|r| r.status());
            (status, asked.elapsed())
        }
    });
    // ...and is answered once the slow clients are cut off at 1 s.
    let (status, waited) = tokio::time::timeout(Duration::from_secs(15), queued)
        .await
        .expect("/healthz never answered while slow clients held the slots")
        .unwrap();
    assert_eq!(status.unwrap(), StatusCode::OK);
    let (closed_after, still_open) = cut_off.await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        still_open, 0,
        "trickling clients still connected after 20 s: {closed_after:?}"
    );
    assert!(
        closed_after.iter().all(|t| *t < Duration::from_secs(10)),
        "cut off at {closed_after:?} with a 1 s header timeout"
    );
    assert!(
        waited >= Duration::from_millis(500),
        "the fourth client was served in {waited:?}, while the cap of 3 was taken"
    );
}

/// A body that stops arriving is answered with an error (408) or the
/// connection is closed at the body timeout; it never holds a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_request_body_is_cut_off_at_the_body_timeout() {
    let team = Team::start(&[("JIRA_MCP_BODY_TIMEOUT_SECS", "1".into())]).await;
    let alice = team
        .user("alice", "atl-alice", "ref-alice", Duration::from_secs(60))
        .await;
    let token = team.token(&alice, "claude", &READ_WRITE).await;
    let host = team.base.trim_start_matches("http://").to_string();
    let mut raw = Raw::connect(&team).await;
    raw.send(
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n\
             Content-Length: 1000\r\n\r\n{{\"jsonrpc\": \"2.0\","
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(10), raw.response()).await;
    match answered {
        Ok(Some((status, _, body))) => assert!(status >= 400, "{status} {body}"),
        Ok(None) => {} // closed: also fine
        Err(_) => panic!("a stalled body held the connection for 10 s (body timeout 1 s)"),
    }
}

/// A request refused before its body is read (401, 403, 429) leaves the
/// keep-alive connection usable for the next request, or says
/// `Connection: close`; it is never dropped silently under a client that
/// reuses it (the MCP SDK lost its metadata GET that way).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_early_refusal_keeps_the_connection_usable_or_says_close() {
    let team = Team::start(&[]).await;
    let host = team.base.trim_start_matches("http://").to_string();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}).to_string();
    for (what, extra) in [
        ("no token", String::new()),
        (
            "unknown token",
            "Authorization: Bearer not-a-token\r\n".to_string(),
        ),
        (
            "foreign origin",
            "Origin: https://evil.example\r\n".to_string(),
        ),
    ] {
        for size in [body.len(), 200 * 1024] {
            let payload = if size == body.len() {
                body.clone()
            } else {
                format!("{body}{}", " ".repeat(size - body.len()))
            };
            let mut raw = Raw::connect(&team).await;
            raw.send(
                format!(
                    "POST /mcp HTTP/1.1\r\nHost: {host}\r\n{extra}\
                     Accept: application/json, text/event-stream\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    payload.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
            // The client writes its body, as keep-alive clients do, in full.
            let writer = raw.send(payload.as_bytes());
            let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
            let (status, head, _) = raw
                .response()
                .await
                .unwrap_or_else(|| panic!("{what}, {size} B: no response"));
            assert!(matches!(status, 401 | 403), "{what}: {status}");
            if head.contains("connection: close") {
                assert!(raw.closed_within(Duration::from_secs(5)).await);
                continue;
            }
            // No `close` said: the connection must serve the next request.
            raw.send(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
                .await
                .unwrap_or_else(|e| panic!("{what}, {size} B: the next request failed: {e}"));
            let next = tokio::time::timeout(Duration::from_secs(5), raw.response())
                .await
                .unwrap_or_else(|_| panic!("{what}, {size} B: no answer to the next request"));
            assert_eq!(
                next.map(|(status, _, _)| status),
                Some(200),
                "{what}, {size} B: the connection was dropped after the refusal without \
                 `Connection: close`"
            );
        }
    }
}

// --- rate limit ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_call_over_the_rate_limit_gets_429_and_other_clients_are_unaffected() {
    let team = Team::start(&[("JIRA_MCP_RATE_LIMIT", "3".into())]).await;
    let alice = team
        .user("alice", "atl-alice", "ref-alice", Duration::from_secs(60))
        .await;
    let busy = team.token(&alice, "busy-client", &READ_WRITE).await;
    let other = team.token(&alice, "other-client", &READ_WRITE).await;
    for _ in 0..3 {
        let (status, _, _) = team.rpc(Some(&busy), "tools/list", json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, _) = team.rpc(Some(&busy), "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    let (status, _, _) = team.rpc(Some(&other), "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

// --- health ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn healthz_is_live_and_readyz_follows_the_store() {
    let team = Team::start(&[]).await;
    assert_eq!(team.get("/healthz", &[]).await.status(), StatusCode::OK);
    assert_eq!(team.get("/readyz", &[]).await.status(), StatusCode::OK);
    // The database goes away.
    team.flaky
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let ready = team.get("/readyz", &[]).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let cause = ready.text().await.unwrap();
    assert!(cause.contains("the database file is gone"), "{cause}");
    assert_eq!(team.get("/healthz", &[]).await.status(), StatusCode::OK);
}

// --- audit ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_tool_call_leaves_one_audit_line_without_secrets() {
    let team = Team::start(&[]).await;
    let account = format!("audited-{}", &random_secret()[..8]);
    let atlassian = format!("atl-{}", random_secret());
    let user = team
        .user(&account, &atlassian, "ref-audit", Duration::from_secs(60))
        .await;
    team.myself(&atlassian, "Audrey").await;
    Mock::given(method("GET"))
        .and(path(cloud("issue/ED-7")))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."]}),
        ))
        .mount(&team.jira)
        .await;
    let token = team.token(&user, "audit-client", &READ_WRITE).await;
    let reader = team.token(&user, "audit-reader", &["jira:read"]).await;

    team.me(&token).await;
    let (is_error, _) = team
        .call(&token, "get_issue", json!({"issue_key": "ED-7"}))
        .await;
    assert!(is_error);
    team.call(&token, "init_oauth_flow", json!({})).await;
    let (status, _, _) = team
        .rpc(
            Some(&reader),
            "tools/call",
            json!({"name": "add_comment", "arguments": {"issue_key": "ED-7", "body": "secret text"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let logs = logs();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("jira_mcp::audit") && l.contains(&user.0))
        .collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let expect = [
        ("get_current_user", "-", "ok", "audit-client"),
        ("get_issue", "ED-7", "error", "audit-client"),
        ("init_oauth_flow", "-", "refused", "audit-client"),
        ("add_comment", "ED-7", "refused", "audit-reader"),
    ];
    for (line, (tool, key, outcome, client)) in lines.iter().zip(expect) {
        assert!(
            line.contains(&format!("tool=\"{tool}\"")) || line.contains(&format!("tool={tool}")),
            "{line}"
        );
        assert!(
            line.contains(&format!("issue_key={key}"))
                || line.contains(&format!("issue_key=\"{key}\"")),
            "{line}"
        );
        assert!(
            line.contains(&format!("outcome=\"{outcome}\""))
                || line.contains(&format!("outcome={outcome}")),
            "{line}"
        );
        assert!(line.contains(&format!("client={client}")), "{line}");
        assert!(line.contains("duration_ms="), "{line}");
    }
    let secrets = [
        token.as_str(),
        reader.as_str(),
        atlassian.as_str(),
        "ref-audit",
        "secret text",
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

// --- settings checked at start ---

/// The team settings of `vars` on top of a valid Cloud OAuth setup, or the
/// configuration error's text.
fn team_config(vars: &[(&'static str, &str)]) -> Result<jira_mcp::config::Config, String> {
    let mut env: std::collections::BTreeMap<String, String> = [
        ("JIRA_AUTH_TYPE", "oauth"),
        ("JIRA_OAUTH_CLIENT_ID", "client-id"),
        ("JIRA_OAUTH_CLIENT_SECRET", "client-secret"),
        ("JIRA_OAUTH_TOKEN_FILE", "/nonexistent/tokens.json"),
        ("JIRA_MCP_HTTP_ADDR", "127.0.0.1:8080"),
        (
            "JIRA_MCP_ENCRYPTION_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in vars {
        if v.is_empty() {
            env.remove(*k);
        } else {
            env.insert(k.to_string(), v.to_string());
        }
    }
    jira_mcp::config::Config::load_from(
        &jira_mcp::config::Flags::default(),
        &move |name| env.get(name).cloned(),
        None,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn team_settings_default_from_a_loopback_address_and_use_the_public_callback() {
    let config = team_config(&[]).unwrap();
    let team = config.team.as_ref().unwrap();
    assert_eq!(team.public(), "http://127.0.0.1:8080");
    assert_eq!(team.resource(), "http://127.0.0.1:8080/mcp");
    assert_eq!(team.allowed_hosts, ["127.0.0.1:8080"]);
    assert_eq!(team.allowed_origins, ["http://127.0.0.1:8080"]);
    assert_eq!(team.rate_limit, jira_mcp::config::DEFAULT_RATE_LIMIT);
    assert_eq!(team.access_ttl, Duration::from_secs(3600));
    assert_eq!(team.refresh_ttl, Duration::from_secs(30 * 86_400));
    let Some(jira_mcp::config::Auth::OAuth(oauth)) = &config.auth else {
        panic!("not OAuth");
    };
    assert_eq!(
        oauth.redirect_uri.as_str(),
        "http://127.0.0.1:8080/oauth/atlassian/callback"
    );
    // Neither the key nor the database URL (it may hold a password) shows.
    let debug = format!("{config:?}");
    assert!(!debug.contains("AAAAAAAA"), "{debug}");
    assert!(
        team_config(&[])
            .map(|c| c.team.is_some())
            .unwrap_or_default()
    );
    assert!(
        team_config(&[("JIRA_MCP_HTTP_ADDR", "")])
            .unwrap()
            .team
            .is_none(),
        "stdio stays the default"
    );
}

#[test]
fn team_settings_that_cannot_work_are_refused_at_start_with_the_fix() {
    let refused = |vars: &[(&'static str, &str)], needle: &str| {
        let message = team_config(vars).expect_err(needle);
        assert!(message.contains(needle), "{message}");
        message
    };
    refused(
        &[("JIRA_MCP_HTTP_ADDR", "0.0.0.0:8080")],
        "JIRA_MCP_PUBLIC_URL: required when listening on 0.0.0.0:8080",
    );
    refused(&[("JIRA_MCP_HTTP_ADDR", "localhost")], "IP:PORT");
    refused(
        &[("JIRA_MCP_ENCRYPTION_KEY", "")],
        "openssl rand -base64 32",
    );
    let short = refused(
        &[("JIRA_MCP_ENCRYPTION_KEY", "c2hvcnQta2V5")],
        "openssl rand -base64 32",
    );
    assert!(
        !short.contains("c2hvcnQta2V5"),
        "the key was echoed: {short}"
    );
    refused(
        &[("JIRA_MCP_ENCRYPTION_KEY", "not base64!")],
        "is not standard base64",
    );
    refused(
        &[("JIRA_MCP_PUBLIC_URL", "http://jira-mcp.example.com")],
        "must start with https://",
    );
    refused(
        &[("JIRA_MCP_PUBLIC_URL", "https://jira-mcp.example.com/base")],
        "without path",
    );
    refused(
        &[("JIRA_OAUTH_REDIRECT_URI", "http://localhost:8080/callback")],
        "http://127.0.0.1:8080/oauth/atlassian/callback",
    );
    refused(
        &[("JIRA_OAUTH_GRANT", "client_credentials")],
        "must be authorization_code",
    );
    refused(
        &[
            ("JIRA_AUTH_TYPE", "pat"),
            ("JIRA_URL", "https://jira.example.com"),
            ("JIRA_TOKEN", "pat"),
        ],
        "JIRA_AUTH_TYPE=oauth",
    );
    refused(
        &[("JIRA_MCP_PERMISSION_AWARE", "true")],
        "not supported by the team server",
    );
    refused(&[("JIRA_MCP_RATE_LIMIT", "0")], "JIRA_MCP_RATE_LIMIT");
    // An empty allow-list once meant "any Host" (DNS rebinding wide open).
    for empty in [",", " , ", "\t"] {
        for name in ["JIRA_MCP_ALLOWED_HOSTS", "JIRA_MCP_ALLOWED_ORIGINS"] {
            let message = refused(&[(name, empty)], name);
            assert!(
                message.contains("is empty") && message.contains("`*`"),
                "{message}"
            );
        }
    }
    refused(
        &[("JIRA_MCP_ALLOWED_HOSTS", "*,jira-mcp.example.com")],
        "mixes `*`",
    );
    // The exact public callback is accepted.
    assert!(
        team_config(&[(
            "JIRA_OAUTH_REDIRECT_URI",
            "http://127.0.0.1:8080/oauth/atlassian/callback"
        )])
        .is_ok()
    );
    // A public address with its public URL.
    let config = team_config(&[
        ("JIRA_MCP_HTTP_ADDR", "0.0.0.0:8080"),
        ("JIRA_MCP_PUBLIC_URL", "https://jira-mcp.example.com"),
    ])
    .unwrap();
    let team = config.team.unwrap();
    assert_eq!(team.allowed_hosts, ["jira-mcp.example.com"]);
    assert_eq!(team.allowed_origins, ["https://jira-mcp.example.com"]);

    // Issue 16: the absolute refresh lifetime and the abuse limits.
    assert_eq!(team.refresh_max_lifetime, Duration::from_secs(90 * 86_400));
    assert_eq!(team.abuse.per_minute, 60);
    assert_eq!(team.abuse.registrations_per_hour, 20);
    assert!(team.abuse.trusted_proxies.is_empty());
    assert_eq!(team.abuse.unused_client_ttl, Duration::from_secs(86_400));
    let team = team_config(&[
        ("JIRA_MCP_REFRESH_TOKEN_MAX_LIFETIME", "3600"),
        ("JIRA_MCP_AUTHZ_RATE_LIMIT", "10"),
        ("JIRA_MCP_REGISTER_RATE_LIMIT", "2"),
        ("JIRA_MCP_TRUSTED_PROXIES", "10.0.0.5, 192.168.0.0/16,::1"),
        ("JIRA_MCP_UNUSED_CLIENT_TTL_SECS", "600"),
    ])
    .unwrap()
    .team
    .unwrap();
    assert_eq!(team.refresh_max_lifetime, Duration::from_secs(3600));
    assert_eq!(
        (team.abuse.per_minute, team.abuse.registrations_per_hour),
        (10, 2)
    );
    let proxies: Vec<String> = team
        .abuse
        .trusted_proxies
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(proxies, ["10.0.0.5/32", "192.168.0.0/16", "::1/128"]);
    assert_eq!(team.abuse.unused_client_ttl, Duration::from_secs(600));
    refused(
        &[("JIRA_MCP_TRUSTED_PROXIES", "10.0.0.5,proxy.internal")],
        "`proxy.internal` is not an IP address or CIDR range",
    );
    refused(
        &[("JIRA_MCP_REFRESH_TOKEN_MAX_LIFETIME", "90d")],
        "JIRA_MCP_REFRESH_TOKEN_MAX_LIFETIME",
    );
    refused(
        &[("JIRA_MCP_REGISTER_RATE_LIMIT", "0")],
        "JIRA_MCP_REGISTER_RATE_LIMIT",
    );
}

/// The binary: `serve --http` opens the SQLite store in place, prints the
/// bound address, answers /healthz, and exits cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_http_and_prints_where() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_jira-mcp"))
        .args(["serve", "--http", "127.0.0.1:0"])
        .env_clear()
        .env("JIRA_AUTH_TYPE", "oauth")
        .env("JIRA_OAUTH_CLIENT_ID", "client-id")
        .env("JIRA_OAUTH_CLIENT_SECRET", "client-secret")
        .env("JIRA_OAUTH_TOKEN_FILE", dir.path().join("t.json"))
        .env("JIRA_MCP_ENCRYPTION_KEY", Sealer::generate_key())
        .env(
            "JIRA_MCP_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("data/team.db").display()),
        )
        .env("JIRA_MCP_ALLOWED_HOSTS", "127.0.0.1")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("no line within 30 s")
        .unwrap()
        .unwrap();
    let base = line
        .strip_prefix("jira-mcp listening on ")
        .unwrap_or_else(|| panic!("{line}"));
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("no exit within 30 s after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
