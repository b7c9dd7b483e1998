//! The team server: `jira-mcp serve --http` run against the simulator
//! ([`TeamServer`]), an MCP client's OAuth dance with it driven headlessly
//! (discovery, registration, PKCE, the consent page, the simulated
//! Atlassian's consent as a chosen user, the token), and MCP over streamable
//! HTTP with the bearer it got ([`McpSession`]).
//!
//! Every step is also available on its own ([`TeamServer::discover`],
//! [`TeamServer::register`], [`Dance`]) so that tests can stop or tamper at
//! any point.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use url::Url;

use crate::binary;
use crate::sim::{Simulator, USER_HEADER};

/// The encryption key the tests give the server (32 bytes, base64): a fixed
/// one, so that a test may restart a server on the same database.
pub const ENCRYPTION_KEY: &str = "dGVhbS1zZXJ2ZXItdGVzdC1rZXktMzItYnl0ZXMhISE=";

/// The scopes an MCP client asks for by default.
pub const SCOPES: &[&str] = &["jira:read", "jira:write"];

/// The name of the consent page's CSRF cookie.
pub const CSRF_COOKIE: &str = "jira_mcp_csrf";

/// The MCP protocol revision the test client speaks.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// How to run the server.
#[derive(Clone, Debug, Default)]
pub struct TeamOptions {
    /// `JIRA_MCP_DATABASE_URL`; default: SQLite in the server's temporary
    /// directory.
    pub database_url: Option<String>,
    /// `JIRA_MCP_ACCESS_TOKEN_TTL_SECS` (the server's default when unset).
    pub access_ttl_secs: Option<u64>,
    /// `JIRA_MCP_REFRESH_TOKEN_TTL_SECS`.
    pub refresh_ttl_secs: Option<u64>,
    /// `JIRA_MCP_RATE_LIMIT` (calls per minute per client).
    pub rate_limit: Option<u32>,
    /// `RUST_LOG` (default `info`).
    pub log: Option<String>,
    /// More environment variables, set last (they override the above).
    pub env: Vec<(String, String)>,
    /// `JIRA_MCP_PUBLIC_URL` when the server is reached through something
    /// else (a proxy in front of several replicas); default: the server's
    /// own address. The harness's requests go to the public URL; the
    /// accepted hosts are then the public one and the server's own.
    pub public_url: Option<String>,
    /// The loopback port to listen on (default: a free one).
    pub port: Option<u16>,
}

/// A running `jira-mcp serve --http`. Killed when dropped.
pub struct TeamServer {
    /// None for a server run elsewhere ([`TeamServer::attach`]).
    child: Option<tokio::process::Child>,
    public_url: String,
    /// The server's own address (the public URL unless a proxy is in front).
    direct_url: String,
    sim_uri: String,
    log: Arc<Mutex<String>>,
    http: reqwest::Client,
    /// The server's environment, for admin commands run beside it.
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TeamServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamServer")
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// A free loopback port (bound, then released: the server binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// An HTTP client that does not follow redirects: the tests read each one.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build()
        .expect("an HTTP client")
}

/// Appends every line of `stream` to `log`, and sends the first line that
/// says where the server listens.
fn drain(
    stream: impl AsyncRead + Unpin + Send + 'static,
    log: Arc<Mutex<String>>,
    listening: Option<tokio::sync::oneshot::Sender<String>>,
) {
    tokio::spawn(async move {
        let mut listening = listening;
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line
                .split("jira-mcp listening on http://")
                .nth(1)
                .map(|rest| rest.split_whitespace().next().unwrap_or_default())
                && let Some(tx) = listening.take()
            {
                let _ = tx.send(addr.to_string());
            }
            let mut log = log.lock();
            log.push_str(&line);
            log.push('\n');
        }
    });
}

impl TeamServer {
    /// Starts the server on a free loopback port against `sim`, and waits
    /// until it says where it listens and `/healthz` answers 200.
    pub async fn start(sim: &Simulator, options: TeamOptions) -> TeamServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = options.port.unwrap_or_else(free_port);
        let direct_url = format!("http://127.0.0.1:{port}");
        let public_url = options
            .public_url
            .clone()
            .unwrap_or_else(|| direct_url.clone());
        let mut env = Self::env(sim, &options, &public_url, dir.path());
        if public_url != direct_url {
            let public_host = Url::parse(&public_url)
                .ok()
                .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
                .unwrap_or_default();
            // Before the caller's own variables, which may override it.
            let at = env.len() - options.env.len();
            env.insert(
                at,
                (
                    "JIRA_MCP_ALLOWED_HOSTS".into(),
                    format!("{public_host},127.0.0.1:{port}"),
                ),
            );
        }
        let addr = format!("127.0.0.1:{port}");
        env.push(("JIRA_MCP_HTTP_ADDR".into(), addr.clone()));
        let mut child = binary::command(&env, &["serve", "--http", &addr])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn jira-mcp serve --http");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        drain(child.stderr.take().expect("stderr"), log.clone(), Some(tx));
        drain(child.stdout.take().expect("stdout"), log.clone(), None);
        let server = TeamServer {
            child: Some(child),
            public_url,
            direct_url,
            env,
            sim_uri: sim.uri(),
            log,
            http: http_client(),
            _dir: dir,
        };
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(bound)) => assert_eq!(
                bound,
                addr,
                "the server listens elsewhere than asked:\n{}",
                server.log()
            ),
            Ok(Err(_)) => {
                // Give the drain a moment to collect the last words.
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "jira-mcp serve --http exited without printing `jira-mcp listening on http://{addr}` (a jira-mcp built without the team server?). Its output:\n{}",
                    server.log()
                )
            }
            Err(_) => panic!(
                "jira-mcp serve --http did not print `jira-mcp listening on http://{addr}` within 30 s. Its output:\n{}",
                server.log()
            ),
        }
        server.wait_healthy().await;
        server
    }

    /// A team server run elsewhere (the compose stack behind nginx) at
    /// `public_url`, signing users in at `sim`: the same OAuth dance and MCP
    /// calls as against a server this harness started. Its log is empty.
    pub fn attach(public_url: &str, sim: &Simulator) -> TeamServer {
        TeamServer {
            child: None,
            public_url: public_url.to_string(),
            direct_url: public_url.to_string(),
            env: Vec::new(),
            sim_uri: sim.uri(),
            log: Arc::new(Mutex::new(String::new())),
            http: http_client(),
            _dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// Runs `serve --http` with `options` when it is expected to stop by
    /// itself (a setting or the database refused): its exit status (None if
    /// it still ran after `within`, then killed) and everything it printed.
    pub async fn run_to_exit(
        sim: &Simulator,
        options: TeamOptions,
        within: Duration,
    ) -> (Option<std::process::ExitStatus>, String) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = options.port.unwrap_or_else(free_port);
        let public_url = format!("http://127.0.0.1:{port}");
        let env = Self::env(sim, &options, &public_url, dir.path());
        let addr = format!("127.0.0.1:{port}");
        let output = binary::command(&env, &["serve", "--http", &addr])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(within, output).await {
            Ok(Ok(output)) => (
                Some(output.status),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stderr),
                    String::from_utf8_lossy(&output.stdout)
                ),
            ),
            Ok(Err(e)) => panic!("spawn jira-mcp serve --http: {e}"),
            Err(_) => (None, String::from("(still running: killed)")),
        }
    }

    /// The environment for the server: the simulator's, plus the team
    /// server's settings.
    fn env(
        sim: &Simulator,
        options: &TeamOptions,
        public_url: &str,
        dir: &std::path::Path,
    ) -> Vec<(String, String)> {
        let callback = format!("{public_url}/oauth/atlassian/callback");
        let mut env = sim.env(&callback, &dir.join("tokens.json"));
        let database = options
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("team.db").display()));
        let mut set = |k: &str, v: String| env.push((k.to_string(), v));
        set("JIRA_MCP_PUBLIC_URL", public_url.to_string());
        set("JIRA_MCP_ENCRYPTION_KEY", ENCRYPTION_KEY.to_string());
        set("JIRA_MCP_DATABASE_URL", database);
        set("XDG_DATA_HOME", dir.join("data").display().to_string());
        set("XDG_CONFIG_HOME", dir.join("config").display().to_string());
        set(
            "RUST_LOG",
            options.log.clone().unwrap_or_else(|| "info".into()),
        );
        if let Some(ttl) = options.access_ttl_secs {
            set("JIRA_MCP_ACCESS_TOKEN_TTL_SECS", ttl.to_string());
        }
        if let Some(ttl) = options.refresh_ttl_secs {
            set("JIRA_MCP_REFRESH_TOKEN_TTL_SECS", ttl.to_string());
        }
        if let Some(limit) = options.rate_limit {
            set("JIRA_MCP_RATE_LIMIT", limit.to_string());
        }
        // Every request of a test comes from 127.0.0.1, many users' dances
        // included: the per-address limits would stop them (a test of the
        // limits sets its own in `env`).
        set("JIRA_MCP_AUTHZ_RATE_LIMIT", "1000000".into());
        set("JIRA_MCP_REGISTER_RATE_LIMIT", "1000000".into());
        env.extend(options.env.iter().cloned());
        env
    }

    async fn wait_healthy(&self) {
        for _ in 0..100 {
            if let Ok(r) = self.http.get(self.direct("/healthz")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "/healthz did not answer 200 within 10 s. The server's output:\n{}",
            self.log()
        );
    }

    /// Runs `jira-mcp ARGS` (e.g. `team users`) with the server's settings,
    /// as an admin would beside it.
    pub async fn admin(&self, args: &[&str]) -> std::process::Output {
        binary::command(&self.env, args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run jira-mcp")
    }

    /// Runs `jira-mcp ARGS` with the store's setting alone
    /// (`JIRA_MCP_DATABASE_URL`): what the `team` admin commands need.
    pub async fn admin_store_only(&self, args: &[&str]) -> std::process::Output {
        let env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(k, _)| k == "JIRA_MCP_DATABASE_URL")
            .cloned()
            .collect();
        binary::command(&env, args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run jira-mcp")
    }

    /// Everything the server printed so far (stderr and stdout).
    pub fn log(&self) -> String {
        self.log.lock().clone()
    }

    /// The server's process id (for its RSS).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// `JIRA_MCP_PUBLIC_URL`, e.g. `http://127.0.0.1:40123`.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The server's own address, e.g. `http://127.0.0.1:40123` (the public
    /// URL unless [`TeamOptions::public_url`] put something in front).
    pub fn direct_url(&self) -> &str {
        &self.direct_url
    }

    /// An absolute URL on the server's own address.
    pub fn direct(&self, path: &str) -> String {
        format!("{}{path}", self.direct_url)
    }

    /// `GET /readyz` on the server's own address: the status (0 when it
    /// could not be reached).
    pub async fn readyz(&self) -> u16 {
        match self.http.get(self.direct("/readyz")).send().await {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        }
    }

    /// Kills the server with SIGKILL (tokio's `start_kill` on Unix), as a
    /// machine going away, and reaps it.
    pub async fn kill(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// An absolute URL on the server (at its public URL).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// The MCP endpoint, which is also the resource (token audience).
    pub fn mcp_url(&self) -> String {
        self.url("/mcp")
    }

    /// The HTTP client the harness uses (no redirects followed).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Discovery as a client does it: an unauthenticated MCP request gets a
    /// 401 whose `WWW-Authenticate` names the protected-resource metadata,
    /// which names the authorization server, whose RFC 8414 metadata lists
    /// the endpoints.
    pub async fn discover(&self) -> Discovery {
        let first = self
            .http
            .post(self.mcp_url())
            .header("accept", "application/json, text/event-stream")
            .json(&initialize_request(1))
            .send()
            .await
            .expect("POST /mcp");
        assert_eq!(
            first.status(),
            401,
            "an MCP request without a token must get 401.\n{}",
            self.log()
        );
        let challenge = header(&first, "www-authenticate")
            .expect("a 401 from /mcp must carry WWW-Authenticate");
        let prm_url = auth_param(&challenge, "resource_metadata")
            .unwrap_or_else(|| panic!("no resource_metadata in `{challenge}`"));
        let resource_metadata = self.get_json(&prm_url).await;
        let issuer = resource_metadata["authorization_servers"][0]
            .as_str()
            .unwrap_or_else(|| panic!("no authorization_servers in {resource_metadata}"))
            .to_string();
        let metadata = self.get_json(&as_metadata_url(&issuer)).await;
        assert_eq!(
            metadata["issuer"].as_str(),
            Some(issuer.as_str()),
            "RFC 8414: the metadata's issuer is the one it was found by"
        );
        Discovery {
            www_authenticate: challenge,
            resource_metadata_url: prm_url,
            resource_metadata,
            metadata,
        }
    }

    async fn get_json(&self, url: &str) -> Value {
        let response = self.http.get(url).send().await.expect("GET metadata");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "GET {url}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: {e}: {text}"))
    }

    /// Dynamic client registration (RFC 7591) of a public client with
    /// these redirect URIs: the client id, or the status and body.
    pub async fn register(
        &self,
        discovery: &Discovery,
        redirect_uris: &[&str],
    ) -> Result<RegisteredClient, (u16, Value)> {
        let response = self
            .http
            .post(discovery.endpoint("registration_endpoint"))
            .json(&json!({
                "client_name": "e2e test client",
                "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }))
            .send()
            .await
            .expect("POST /register");
        let (status, body) = status_json(response).await;
        match (status, body["client_id"].as_str()) {
            (200 | 201, Some(id)) => Ok(RegisteredClient {
                client_id: id.to_string(),
                redirect_uri: redirect_uris.first().unwrap_or(&"").to_string(),
            }),
            _ => Err((status, body)),
        }
    }

    /// The whole dance for `user` (the simulated Atlassian user): discovery,
    /// registration, authorization with PKCE, consent, Atlassian's consent,
    /// the callback, the token. Panics, with the server's log, at the step
    /// that failed.
    pub async fn authorize(&self, user: &str, scopes: &[&str]) -> McpTokens {
        let discovery = self.discover().await;
        let redirect = loopback_redirect_uri();
        let client = self
            .register(&discovery, &[&redirect])
            .await
            .unwrap_or_else(|e| panic!("registration refused: {e:?}\n{}", self.log()));
        let dance = Dance::new(self, &discovery, &client, scopes);
        dance
            .run(user)
            .await
            .unwrap_or_else(|e| panic!("authorization for {user} failed: {e:?}\n{}", self.log()))
    }

    /// A token request (form-encoded) to the token endpoint: status, body.
    pub async fn token_request(
        &self,
        discovery: &Discovery,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let response = self
            .http
            .post(discovery.endpoint("token_endpoint"))
            .form(form)
            .send()
            .await
            .expect("POST /token");
        status_json(response).await
    }

    /// Refreshes MCP tokens (a rotating refresh-token grant): the new
    /// tokens, or the status and error body.
    pub async fn refresh(&self, tokens: &McpTokens) -> Result<McpTokens, (u16, Value)> {
        let discovery = self.discover().await;
        let refresh = tokens.refresh_token.clone().unwrap_or_default();
        let resource = self.mcp_url();
        let (status, body) = self
            .token_request(
                &discovery,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh),
                    ("client_id", &tokens.client_id),
                    ("resource", &resource),
                ],
            )
            .await;
        match status {
            200 => Ok(McpTokens::from_response(&body, &tokens.client_id)),
            _ => Err((status, body)),
        }
    }

    /// `POST /revoke` (RFC 7009) of one token, by its client: the status.
    pub async fn revoke(&self, token: &str, hint: &str, client_id: &str) -> u16 {
        let discovery = self.discover().await;
        let url = discovery
            .metadata
            .get("revocation_endpoint")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| self.url("/revoke"));
        self.http
            .post(url)
            .form(&[
                ("token", token),
                ("token_type_hint", hint),
                ("client_id", client_id),
            ])
            .send()
            .await
            .expect("POST /revoke")
            .status()
            .as_u16()
    }

    /// An MCP session (initialized) with `tokens`' access token.
    pub async fn session(&self, tokens: &McpTokens) -> McpSession {
        McpSession::connect(self, &tokens.access_token)
            .await
            .unwrap_or_else(|e| panic!("MCP initialize failed: {e:?}\n{}", self.log()))
    }

    /// The simulator's base URL.
    pub fn sim_uri(&self) -> &str {
        &self.sim_uri
    }
}

impl Drop for TeamServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
    }
}

/// What discovery found.
#[derive(Clone, Debug)]
pub struct Discovery {
    /// The 401's `WWW-Authenticate` header.
    pub www_authenticate: String,
    /// The protected-resource metadata's URL and document (RFC 9728).
    pub resource_metadata_url: String,
    pub resource_metadata: Value,
    /// The authorization server's metadata (RFC 8414).
    pub metadata: Value,
}

impl Discovery {
    /// An endpoint from the authorization server's metadata.
    pub fn endpoint(&self, name: &str) -> String {
        self.metadata[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in the metadata {}", self.metadata))
            .to_string()
    }

    /// The issuer (for RFC 9207's `iss`).
    pub fn issuer(&self) -> String {
        self.endpoint("issuer")
    }
}

/// A registered MCP client.
#[derive(Clone, Debug)]
pub struct RegisteredClient {
    pub client_id: String,
    /// The first registered redirect URI.
    pub redirect_uri: String,
}

/// The MCP tokens the server issued.
#[derive(Clone, Debug)]
pub struct McpTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    pub token_type: String,
    /// The client they were issued to.
    pub client_id: String,
}

impl McpTokens {
    fn from_response(body: &Value, client_id: &str) -> McpTokens {
        let text = |k: &str| body[k].as_str().map(String::from);
        McpTokens {
            access_token: text("access_token").unwrap_or_default(),
            refresh_token: text("refresh_token"),
            expires_in: body["expires_in"].as_u64(),
            scope: text("scope"),
            token_type: text("token_type").unwrap_or_default(),
            client_id: client_id.to_string(),
        }
    }
}

/// A PKCE verifier and its S256 challenge.
#[derive(Clone, Debug)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random_text();
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// 256 random bits, base64url.
pub fn random_text() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("random bytes");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh loopback redirect URI (nothing listens there: the harness reads
/// the redirect instead of following it).
pub fn loopback_redirect_uri() -> String {
    format!("http://127.0.0.1:{}/callback", free_port())
}

/// Where the dance stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// GET /authorize (before the consent page).
    Authorize,
    /// POST /authorize/consent.
    Consent,
    /// The simulated Atlassian's /authorize.
    Atlassian,
    /// GET /oauth/atlassian/callback.
    Callback,
    /// POST /token.
    Token,
}

/// A refusal: the step, the status, the body, and the redirect if any
/// (an error redirect to the client carries `error=` in it).
#[derive(Clone, Debug)]
pub struct Refused {
    pub step: Step,
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

impl Refused {
    /// The OAuth `error` code, from the JSON body or the error redirect.
    pub fn error(&self) -> Option<String> {
        let from_body = serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(String::from));
        from_body.or_else(|| {
            let url = Url::parse(self.location.as_deref()?).ok()?;
            let found = url.query_pairs().find(|(k, _)| k == "error");
            found.map(|(_, v)| v.into_owned())
        })
    }
}

/// The consent page's form, and the cookies the server set with it.
#[derive(Clone, Debug)]
pub struct ConsentForm {
    /// The form's action, absolute.
    pub action: String,
    /// Hidden inputs by name (`request`, `csrf_token`, …).
    pub fields: BTreeMap<String, String>,
    /// The page itself.
    pub html: String,
}

/// The browser's cookie jar for the team server (name → value).
#[derive(Clone, Debug, Default)]
pub struct Cookies(pub BTreeMap<String, String>);

impl Cookies {
    /// Keeps the cookies a response sets.
    pub fn take_from(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.0
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
    }

    /// The `Cookie` header's value.
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// One authorization, step by step; its fields may be changed before a
/// step to tamper with it.
#[derive(Clone, Debug)]
pub struct Dance {
    pub http: reqwest::Client,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// RFC 8707 resource (default: the server's /mcp URL).
    pub resource: String,
    pub state: String,
    pub pkce: Pkce,
    pub cookies: Cookies,
    public_url: String,
}

impl Dance {
    pub fn new(
        server: &TeamServer,
        discovery: &Discovery,
        client: &RegisteredClient,
        scopes: &[&str],
    ) -> Dance {
        Dance {
            http: server.http.clone(),
            authorization_endpoint: discovery.endpoint("authorization_endpoint"),
            token_endpoint: discovery.endpoint("token_endpoint"),
            issuer: discovery.issuer(),
            client_id: client.client_id.clone(),
            redirect_uri: client.redirect_uri.clone(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            resource: server.mcp_url(),
            state: random_text(),
            pkce: Pkce::new(),
            cookies: Cookies::default(),
            public_url: server.public_url.clone(),
        }
    }

    /// Every step: the tokens, or where it was refused.
    pub async fn run(&self, user: &str) -> Result<McpTokens, Refused> {
        let mut dance = self.clone();
        let consent = dance.open_consent().await?;
        let atlassian = dance.approve(&consent).await?;
        let callback = dance.atlassian(&atlassian, user).await?;
        let code = dance.callback(&callback).await?;
        dance.exchange(&code).await
    }

    /// GET /authorize: the consent page's form (200), or the refusal.
    pub async fn open_consent(&mut self) -> Result<ConsentForm, Refused> {
        let mut query = vec![
            ("response_type", "code".to_string()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("state", self.state.clone()),
            ("code_challenge", self.pkce.challenge.clone()),
            ("code_challenge_method", "S256".to_string()),
            ("resource", self.resource.clone()),
        ];
        if !self.scopes.is_empty() {
            query.push(("scope", self.scopes.join(" ")));
        }
        let response = self
            .http
            .get(&self.authorization_endpoint)
            .query(&query)
            .send()
            .await
            .expect("GET /authorize");
        self.cookies.take_from(&response);
        let (status, location, html) = parts(response).await;
        if status != 200 {
            return Err(Refused {
                step: Step::Authorize,
                status,
                body: html,
                location,
            });
        }
        let fields = hidden_inputs(&html);
        let action = form_action(&html).unwrap_or_else(|| "/authorize/consent".into());
        let action = Url::parse(&self.public_url)
            .and_then(|base| base.join(&action))
            .map(String::from)
            .unwrap_or(action);
        Ok(ConsentForm {
            action,
            fields,
            html,
        })
    }

    /// POSTs the consent form with `decision` and these fields (the form's
    /// own, possibly edited by the test): the raw response.
    pub async fn post_consent(
        &mut self,
        consent: &ConsentForm,
        fields: &BTreeMap<String, String>,
        send_cookies: bool,
    ) -> reqwest::Response {
        let mut request = self.http.post(&consent.action).form(fields);
        if send_cookies && !self.cookies.0.is_empty() {
            request = request.header("cookie", self.cookies.header());
        }
        let response = request.send().await.expect("POST the consent form");
        self.cookies.take_from(&response);
        response
    }

    /// Approves: the redirect to Atlassian's authorize URL.
    pub async fn approve(&mut self, consent: &ConsentForm) -> Result<String, Refused> {
        let mut fields = consent.fields.clone();
        fields.insert("decision".into(), "approve".into());
        let response = self.post_consent(consent, &fields, true).await;
        redirect(Step::Consent, response).await
    }

    /// The simulated Atlassian's consent as `user`: the redirect to the
    /// server's callback.
    pub async fn atlassian(&mut self, location: &str, user: &str) -> Result<String, Refused> {
        let response = self
            .http
            .get(location)
            .header(USER_HEADER, user)
            .send()
            .await
            .expect("GET the simulated Atlassian's /authorize");
        redirect(Step::Atlassian, response).await
    }

    /// The server's Atlassian callback: the authorization code from its
    /// redirect to the client (checking `state` and `iss`).
    pub async fn callback(&mut self, location: &str) -> Result<String, Refused> {
        let mut request = self.http.get(location);
        if !self.cookies.0.is_empty() {
            request = request.header("cookie", self.cookies.header());
        }
        let response = request.send().await.expect("GET the callback");
        self.cookies.take_from(&response);
        let to_client = redirect(Step::Callback, response).await?;
        let url = Url::parse(&to_client).expect("the redirect to the client is a URL");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let refused = |why: &str| Refused {
            step: Step::Callback,
            status: 302,
            body: why.to_string(),
            location: Some(to_client.clone()),
        };
        if !to_client.starts_with(&self.redirect_uri) {
            return Err(refused("redirected somewhere other than the client"));
        }
        if q.get("state") != Some(&self.state) {
            return Err(refused("state does not match"));
        }
        if q.get("iss") != Some(&self.issuer) {
            return Err(refused("iss (RFC 9207) missing or not the issuer"));
        }
        q.get("code").cloned().ok_or_else(|| refused("no code"))
    }

    /// The authorization-code grant.
    pub async fn exchange(&self, code: &str) -> Result<McpTokens, Refused> {
        let response = self
            .http
            .post(&self.token_endpoint)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("client_id", &self.client_id),
                ("code_verifier", &self.pkce.verifier),
                ("resource", &self.resource),
            ])
            .send()
            .await
            .expect("POST /token");
        let (status, _, text) = parts(response).await;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == 200 && body["access_token"].is_string() {
            Ok(McpTokens::from_response(&body, &self.client_id))
        } else {
            Err(Refused {
                step: Step::Token,
                status,
                body: text,
                location: None,
            })
        }
    }

    /// Every step up to the code (not exchanged), as `user`.
    pub async fn code(&mut self, user: &str) -> Result<String, Refused> {
        let consent = self.open_consent().await?;
        let atlassian = self.approve(&consent).await?;
        let callback = self.atlassian(&atlassian, user).await?;
        self.callback(&callback).await
    }
}

async fn parts(response: reqwest::Response) -> (u16, Option<String>, String) {
    let status = response.status().as_u16();
    let location = header(&response, "location");
    (status, location, response.text().await.unwrap_or_default())
}

/// A 302/303 (or 301/307) redirect's location, or the refusal.
async fn redirect(step: Step, response: reqwest::Response) -> Result<String, Refused> {
    let (status, location, body) = parts(response).await;
    match (status, location) {
        (301..=303 | 307, Some(location)) if !location.contains("error=") => Ok(location),
        (status, location) => Err(Refused {
            step,
            status,
            body,
            location,
        }),
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

async fn status_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A parameter of a `WWW-Authenticate` challenge (`name="value"` or
/// `name=value`).
pub fn auth_param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[start..];
    Some(match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?.to_string(),
        None => rest.split([',', ' ']).next()?.to_string(),
    })
}

/// RFC 8414's well-known URL for `issuer` (the path, if any, goes after
/// the well-known part).
pub fn as_metadata_url(issuer: &str) -> String {
    match Url::parse(issuer) {
        Ok(url) => {
            let path = url.path().trim_end_matches('/');
            let origin = url.origin().ascii_serialization();
            format!("{origin}/.well-known/oauth-authorization-server{path}")
        }
        Err(_) => format!("{issuer}/.well-known/oauth-authorization-server"),
    }
}

/// The attributes of every `<tag …>` in `html`.
fn tags(html: &str, tag: &str) -> Vec<HashMap<String, String>> {
    let open = format!("<{tag}");
    html.match_indices(&open)
        .filter_map(|(at, _)| {
            let rest = &html[at + open.len()..];
            let end = rest.find('>')?;
            Some(attributes(&rest[..end]))
        })
        .collect()
}

/// `name="value"` / `name='value'` / bare attributes of one tag.
fn attributes(tag: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq]
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let after = rest[eq + 1..].trim_start();
        let (value, remaining) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &after[1..];
                let end = body.find(q).unwrap_or(body.len());
                (&body[..end], &body[(end + 1).min(body.len())..])
            }
            _ => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        found.insert(name, unescape(value));
        rest = remaining;
    }
    found
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

/// The hidden inputs of the page's form, by name.
pub fn hidden_inputs(html: &str) -> BTreeMap<String, String> {
    tags(html, "input")
        .into_iter()
        .filter(|a| {
            a.get("type")
                .is_some_and(|t| t.eq_ignore_ascii_case("hidden"))
        })
        .filter_map(|a| {
            Some((
                a.get("name")?.clone(),
                a.get("value").cloned().unwrap_or_default(),
            ))
        })
        .collect()
}

/// The `action` of the page's POST form.
pub fn form_action(html: &str) -> Option<String> {
    tags(html, "form")
        .into_iter()
        .find_map(|a| a.get("action").cloned())
}

/// The `value`s of the page's buttons named `decision`.
pub fn decision_buttons(html: &str) -> Vec<String> {
    tags(html, "button")
        .into_iter()
        .filter(|a| a.get("name").map(String::as_str) == Some("decision"))
        .filter_map(|a| a.get("value").cloned())
        .collect()
}

fn initialize_request(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "e2e-tests", "version": "0.0.0"},
        }
    })
}

/// Why an MCP request failed.
#[derive(Clone, Debug)]
pub enum McpError {
    /// The HTTP status was not a success (401, 403, 429, …).
    Http {
        status: u16,
        www_authenticate: Option<String>,
        body: String,
    },
    /// A JSON-RPC error object.
    Rpc(Value),
    /// The connection failed, or the answer was not MCP.
    Transport(String),
}

impl McpError {
    /// The HTTP status, if the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            McpError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A tool call's result.
#[derive(Clone, Debug)]
pub struct ToolOutcome {
    pub is_error: bool,
    /// The text contents, joined by newlines.
    pub text: String,
    /// The whole `result` object.
    pub raw: Value,
}

impl ToolOutcome {
    /// The result as JSON: `structuredContent` if present, else the text
    /// parsed as JSON (Null if it is not JSON).
    pub fn json(&self) -> Value {
        match &self.raw["structuredContent"] {
            Value::Null => serde_json::from_str(&self.text).unwrap_or(Value::Null),
            structured => structured.clone(),
        }
    }
}

/// MCP over streamable HTTP with a bearer token: JSON-RPC POSTs to /mcp,
/// answered as `application/json` or as an SSE stream. Shareable between
/// tasks (`&self` methods).
#[derive(Debug)]
pub struct McpSession {
    http: reqwest::Client,
    url: String,
    bearer: Mutex<String>,
    session_id: Option<String>,
    protocol: String,
    next_id: AtomicU64,
}

impl McpSession {
    /// `initialize` and `notifications/initialized`, keeping the
    /// `Mcp-Session-Id` if the server gives one.
    pub async fn connect(server: &TeamServer, bearer: &str) -> Result<McpSession, McpError> {
        Self::connect_to(server.http.clone(), &server.mcp_url(), bearer).await
    }

    /// Like [`McpSession::connect`], to any MCP URL with any client.
    pub async fn connect_to(
        http: reqwest::Client,
        url: &str,
        bearer: &str,
    ) -> Result<McpSession, McpError> {
        let mut session = McpSession {
            http,
            url: url.to_string(),
            bearer: Mutex::new(bearer.to_string()),
            session_id: None,
            protocol: PROTOCOL_VERSION.to_string(),
            next_id: AtomicU64::new(2),
        };
        let (result, session_id) = session.exchange(initialize_request(1), true).await?;
        let result = result.ok_or_else(|| McpError::Transport("no initialize result".into()))?;
        session.session_id = session_id;
        if let Some(version) = result["protocolVersion"].as_str() {
            session.protocol = version.to_string();
        }
        session
            .notify("notifications/initialized", json!({}))
            .await?;
        Ok(session)
    }

    /// Uses another access token from now on (after a refresh).
    pub fn set_bearer(&self, bearer: &str) {
        *self.bearer.lock() = bearer.to_string();
    }

    /// The server's session id, if it keeps sessions.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// A request: its `result`.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, McpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let (result, _) = self.exchange(message, false).await?;
        result.ok_or_else(|| McpError::Transport(format!("no answer to {method}")))
    }

    /// A notification (the server answers 202).
    pub async fn notify(&self, method: &str, params: Value) -> Result<(), McpError> {
        let message = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.exchange(message, false).await.map(|_| ())
    }

    /// `tools/list` (every page).
    pub async fn list_tools(&self) -> Result<Vec<Value>, McpError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let page = self.request("tools/list", params).await?;
            tools.extend(page["tools"].as_array().cloned().unwrap_or_default());
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(tools),
            }
        }
    }

    /// `tools/call`.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<ToolOutcome, McpError> {
        let raw = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await?;
        let text = raw["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        Ok(ToolOutcome {
            is_error: raw["isError"].as_bool().unwrap_or(false),
            text,
            raw,
        })
    }

    /// POSTs one message: the `result` of the answer to its id (None for a
    /// notification), and the session id the server gave.
    async fn exchange(
        &self,
        message: Value,
        initializing: bool,
    ) -> Result<(Option<Value>, Option<String>), McpError> {
        let bearer = self.bearer.lock().clone();
        let mut request = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .bearer_auth(bearer)
            .json(&message);
        if !initializing {
            request = request.header("mcp-protocol-version", &self.protocol);
        }
        if let Some(id) = &self.session_id {
            request = request.header("mcp-session-id", id);
        }
        let response = request
            .send()
            .await
            .map_err(|e| McpError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let session_id = header(&response, "mcp-session-id");
        if !(200..300).contains(&status) {
            return Err(McpError::Http {
                status,
                www_authenticate: header(&response, "www-authenticate"),
                body: response.text().await.unwrap_or_default(),
            });
        }
        let Some(id) = message.get("id").cloned() else {
            return Ok((None, session_id));
        };
        let answer = read_answer(response, &id).await?;
        if let Some(error) = answer.get("error") {
            return Err(McpError::Rpc(error.clone()));
        }
        Ok((Some(answer["result"].clone()), session_id))
    }
}

/// The JSON-RPC answer to `id`: the JSON body, or the first SSE event
/// carrying it (the stream may stay open after it).
async fn read_answer(mut response: reqwest::Response, id: &Value) -> Result<Value, McpError> {
    let is_sse =
        header(&response, "content-type").is_some_and(|t| t.starts_with("text/event-stream"));
    if !is_sse {
        let text = response.text().await.unwrap_or_default();
        return serde_json::from_str(&text)
            .map_err(|e| McpError::Transport(format!("not JSON ({e}): {text}")));
    }
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .map_err(|_| McpError::Transport("no answer on the SSE stream within 60 s".into()))?
            .map_err(|e| McpError::Transport(e.to_string()))?;
        let Some(chunk) = chunk else {
            return Err(McpError::Transport(format!(
                "the SSE stream ended without the answer: {buffer}"
            )));
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if let Ok(message) = serde_json::from_str::<Value>(&data.join("\n"))
                && message.get("id") == Some(id)
            {
                return Ok(message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consent_form_is_read_from_the_page() {
        let html = r#"<form method="post" action="/authorize/consent">
            <input type="hidden" name="request" value="abc&amp;def">
            <input type='hidden' name='csrf_token' value='t0k3n'/>
            <input type="text" name="visible" value="x">
            <button name="decision" value="approve">Allow</button>
            <button name="decision" value="deny">Deny</button></form>"#;
        let fields = hidden_inputs(html);
        assert_eq!(fields.len(), 2);
        assert_eq!(fields["request"], "abc&def");
        assert_eq!(fields["csrf_token"], "t0k3n");
        assert_eq!(form_action(html).as_deref(), Some("/authorize/consent"));
        assert_eq!(decision_buttons(html), ["approve", "deny"]);
    }

    #[test]
    fn challenges_and_metadata_urls_are_read_as_the_rfcs_say() {
        let challenge = r#"Bearer resource_metadata="http://h:1/.well-known/oauth-protected-resource/mcp", scope="jira:read jira:write", error=invalid_token"#;
        assert_eq!(
            auth_param(challenge, "resource_metadata").as_deref(),
            Some("http://h:1/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            auth_param(challenge, "scope").as_deref(),
            Some("jira:read jira:write")
        );
        assert_eq!(
            auth_param(challenge, "error").as_deref(),
            Some("invalid_token")
        );
        assert_eq!(
            as_metadata_url("http://h:1"),
            "http://h:1/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            as_metadata_url("https://h/tenant/"),
            "https://h/.well-known/oauth-authorization-server/tenant"
        );
    }
}
