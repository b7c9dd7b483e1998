//! A simulated Atlassian on loopback: authorization endpoint with a consent
//! page (optionally auto-approved), a token endpoint that follows Atlassian's
//! rules, accessible-resources, and a small Jira REST v3 (and agile) subset
//! backed by the recorded fixtures. jira-mcp reaches it through its endpoint overrides.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Digest;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const CLIENT_ID: &str = "sim-client-id";
pub const CLIENT_SECRET: &str = "sim-client-secret";
pub const CLOUD_ID: &str = "11223344-a1b2-3b33-c444-def123456789";

/// The service account that client-credentials tokens act for.
pub const SERVICE_ACCOUNT_ID: &str = "712020:sim-service-account";
pub const SERVICE_ACCOUNT_NAME: &str = "Sim Service Account";

/// The user an authorization acts as when the browser names none (no
/// `X-Sim-User` header): the recorded account of `fixtures/jira/myself.json`.
pub const RECORDED_USER: &str = "mia";

/// The header that picks the simulated user on `GET /authorize`.
pub const USER_HEADER: &str = "x-sim-user";

/// Atlassian's reuse ("leeway") interval for rotated refresh tokens: a used
/// refresh token may be presented again for 10 minutes after it was rotated.
pub const ATLASSIAN_REUSE_INTERVAL: Duration = Duration::from_secs(600);

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Redirect from the authorization endpoint without showing the consent page.
    pub auto_approve: bool,
    /// How many Jira sites the account reaches (1 or 2).
    pub sites: usize,
    /// A used refresh token may be replayed within this window after it was
    /// rotated, and the replay is a normal rotation (a new, valid token
    /// pair), as at Atlassian (10 minutes, [`ATLASSIAN_REUSE_INTERVAL`]); a
    /// later replay revokes the whole grant. Zero is strict mode
    /// ([`Options::strict`]): every replay revokes.
    pub reuse_interval: Duration,
    /// Delay before the token endpoint answers (to catch a client mid-refresh).
    pub token_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            access_ttl: Duration::from_secs(3600),
            auto_approve: true,
            sites: 1,
            reuse_interval: ATLASSIAN_REUSE_INTERVAL,
            token_delay: Duration::ZERO,
        }
    }
}

impl Options {
    /// Strict mode: any replay of a used refresh token revokes the grant at
    /// once (no reuse interval). Stricter than Atlassian, for tests that must
    /// prove a client never presents a refresh token twice.
    pub fn strict() -> Options {
        Options {
            reuse_interval: Duration::ZERO,
            ..Options::default()
        }
    }
}

/// What the token endpoint has done, for tests and the demo.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Token requests received (any grant).
    pub token_requests: usize,
    /// Successful authorization-code exchanges.
    pub logins: usize,
    /// Successful refreshes (rotations).
    pub refreshes: usize,
    /// Refreshes refused with `invalid_grant`.
    pub invalid_grants: usize,
    /// Grants revoked because a refresh token was replayed.
    pub revocations: usize,
    /// Service-account tokens minted with the client-credentials grant.
    pub service_tokens: usize,
}

/// Who a simulated user is at Jira (`GET myself`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimUser {
    /// The name the test uses (`X-Sim-User`).
    pub name: String,
    /// The Atlassian account id: the recorded one for [`RECORDED_USER`],
    /// `712020:sim-user-<name>` for the others.
    pub account_id: String,
    pub display_name: String,
    pub email: String,
}

impl SimUser {
    /// The stable identity of the user called `name`.
    pub fn named(name: &str) -> SimUser {
        if name == RECORDED_USER {
            let me = fixture("jira/myself.json");
            let field = |k: &str| me[k].as_str().unwrap_or_default().to_string();
            return SimUser {
                name: name.to_string(),
                account_id: field("accountId"),
                display_name: field("displayName"),
                email: field("emailAddress"),
            };
        }
        SimUser {
            name: name.to_string(),
            account_id: format!("712020:sim-user-{name}"),
            display_name: format!("Sim User {name}"),
            email: format!("{name}@example.com"),
        }
    }

    /// The `GET myself` / `GET user?accountId=` record: the recorded one with
    /// this user's id, name, e-mail address and `self` link.
    fn record(&self) -> Value {
        let mut me = fixture("jira/myself.json");
        me["accountId"] = json!(self.account_id);
        me["displayName"] = json!(self.display_name);
        me["emailAddress"] = json!(self.email);
        me["self"] = json!(format!(
            "https://api.atlassian.com/ex/jira/{CLOUD_ID}/rest/api/3/user?accountId={}",
            self.account_id
        ));
        me
    }
}

/// A user name from `X-Sim-User`: letters, digits, `-`, `_` and `.`, at
/// most 64 (it becomes part of an account id).
fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

struct PendingCode {
    redirect_uri: String,
    challenge: String,
    user: String,
}

struct Grant {
    /// The user's name (see [`SimUser`]).
    user: String,
    current: String,
    /// Refresh tokens already used, with when they were replaced.
    used: HashMap<String, Instant>,
    revoked: bool,
}

/// Whom an access token acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holder {
    /// The user behind a grant (index into `State::grants`).
    User(usize),
    /// The app's service account (client-credentials grant): no refresh
    /// token, untouched by a user's revocation.
    Service,
}

struct State {
    options: Options,
    codes: HashMap<String, PendingCode>,
    grants: Vec<Grant>,
    /// Access token -> (holder, expiry).
    access: HashMap<String, (Holder, Instant)>,
    issues: BTreeMap<String, Value>,
    next_issue: u32,
    /// Issue links created with `POST issueLink`.
    links: Vec<Value>,
    serial: u64,
    counters: Counters,
    /// The same counters per user (those a request can be attributed to:
    /// a known code or refresh token).
    per_user: HashMap<String, Counters>,
}

/// The running simulator. Dropping it stops the server.
pub struct Simulator {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

fn fixture(name: &str) -> Value {
    let text =
        std::fs::read_to_string(format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

impl Simulator {
    /// Starts on 127.0.0.1 (a free port).
    pub async fn start(options: Options) -> Simulator {
        Self::start_on(
            options,
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"),
        )
        .await
    }

    /// Starts on the given loopback listener.
    pub async fn start_on(options: Options, listener: std::net::TcpListener) -> Simulator {
        let mut issues = BTreeMap::new();
        issues.insert("ED-1".to_string(), fixture("jira/issue-full.json"));
        for issue in fixture("jira/search-jql.json")["issues"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let key = issue["key"].as_str().unwrap_or_default().to_string();
            issues.entry(key).or_insert_with(|| issue.clone());
        }
        let state = Arc::new(Mutex::new(State {
            options,
            codes: HashMap::new(),
            grants: Vec::new(),
            access: HashMap::new(),
            issues,
            next_issue: 100,
            links: Vec::new(),
            serial: 0,
            counters: Counters::default(),
            per_user: HashMap::new(),
        }));
        let server = MockServer::builder().listener(listener).start().await;
        Mock::given(any())
            .respond_with(Router(state.clone()))
            .mount(&server)
            .await;
        Simulator { server, state }
    }

    /// Every Jira REST request received so far (those under `/ex/jira/`), in
    /// order: method, path after the cloud-id prefix, query parameter names,
    /// and the JSON body if any.
    pub async fn jira_requests(&self) -> Vec<(String, String, Vec<String>, Option<Value>)> {
        let prefix = format!("/ex/jira/{CLOUD_ID}");
        let requests = self.server.received_requests().await.unwrap_or_default();
        requests
            .into_iter()
            .filter_map(|r| {
                let path = r.url.path().strip_prefix(&prefix)?.to_string();
                let query = r.url.query_pairs().map(|(k, _)| k.into_owned()).collect();
                let body = serde_json::from_slice(&r.body).ok();
                Some((r.method.to_string(), path, query, body))
            })
            .collect()
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The environment that points jira-mcp at this simulator.
    pub fn env(&self, redirect_uri: &str, token_file: &std::path::Path) -> Vec<(String, String)> {
        let uri = self.uri();
        [
            ("JIRA_URL", "https://your-domain.atlassian.net".to_string()),
            ("JIRA_DEPLOYMENT", "cloud".into()),
            ("JIRA_AUTH_TYPE", "oauth".into()),
            ("JIRA_OAUTH_CLIENT_ID", CLIENT_ID.into()),
            ("JIRA_OAUTH_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("JIRA_OAUTH_REDIRECT_URI", redirect_uri.into()),
            ("JIRA_OAUTH_AUTHORIZE_URL", format!("{uri}/authorize")),
            ("JIRA_OAUTH_TOKEN_URL", format!("{uri}/oauth/token")),
            ("JIRA_OAUTH_API_URL", uri.clone()),
            ("JIRA_OAUTH_TOKEN_FILE", token_file.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The environment for a service account: jira-mcp with the
    /// client-credentials grant, bound to the simulated site by cloud id
    /// (there is no login to discover it).
    pub fn service_env(&self, token_file: &std::path::Path) -> Vec<(String, String)> {
        let mut env = self.env("http://127.0.0.1:9/unused", token_file);
        env.retain(|(k, _)| k != "JIRA_OAUTH_REDIRECT_URI" && k != "JIRA_OAUTH_AUTHORIZE_URL");
        env.push(("JIRA_OAUTH_GRANT".into(), "client_credentials".into()));
        env.push(("JIRA_OAUTH_CLOUD_ID".into(), CLOUD_ID.into()));
        env
    }

    /// The issue links created so far: id, link type (as recorded), and the
    /// inward and outward issue keys.
    pub fn issue_links(&self) -> Vec<Value> {
        self.state.lock().links.clone()
    }

    /// The token endpoint's counters.
    pub fn counters(&self) -> Counters {
        self.state.lock().counters.clone()
    }

    /// The token endpoint's counters for one user's grants (all zero for a
    /// user never seen).
    pub fn counters_of(&self, user: &str) -> Counters {
        self.state
            .lock()
            .per_user
            .get(user)
            .cloned()
            .unwrap_or_default()
    }

    /// Successful refreshes of `user`'s grants.
    pub fn refreshes_of(&self, user: &str) -> usize {
        self.counters_of(user).refreshes
    }

    /// Refreshes of `user`'s grants refused with `invalid_grant`.
    pub fn invalid_grants_of(&self, user: &str) -> usize {
        self.counters_of(user).invalid_grants
    }

    /// Token-endpoint requests attributed to `user` (by code or refresh token).
    pub fn token_requests_of(&self, user: &str) -> usize {
        self.counters_of(user).token_requests
    }

    /// Makes every live access token of `user` expire now: Jira answers 401
    /// to them, as Atlassian does to an expired token. Returns how many.
    pub fn expire_access_tokens_of(&self, user: &str) -> usize {
        self.state.lock().expire(Some(user))
    }

    /// Makes every user's (and the service account's) access tokens expire
    /// now. Returns how many.
    pub fn expire_all_access_tokens(&self) -> usize {
        self.state.lock().expire(None)
    }

    /// Changes the lifetime of access tokens minted from now on.
    pub fn set_access_ttl(&self, ttl: Duration) {
        self.state.lock().options.access_ttl = ttl;
    }

    /// Revokes every grant (as when a user removes the app's access).
    pub fn revoke_all(&self) {
        let mut state = self.state.lock();
        for grant in &mut state.grants {
            grant.revoked = true;
        }
    }

    /// Changes the token endpoint's delay.
    pub fn set_token_delay(&self, delay: Duration) {
        self.state.lock().options.token_delay = delay;
    }
}

struct Router(Arc<Mutex<State>>);

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock();
        let path = request.url.path().to_string();
        let method = request.method.as_str();
        match (method, path.as_str()) {
            ("GET", "/authorize") => state.authorize(request, false),
            ("GET", "/authorize/approve") => state.authorize(request, true),
            // A test hook (not Atlassian's): expire access tokens now, of
            // `?user=NAME` or of everyone, for clients in another process.
            ("POST", "/_sim/expire-access-tokens") => {
                let count = state.expire(query(request).get("user").map(String::as_str));
                ResponseTemplate::new(200).set_body_json(json!({"expired": count}))
            }
            ("POST", "/oauth/token") => {
                let delay = state.options.token_delay;
                state.token(request).set_delay(delay)
            }
            ("GET", "/oauth/token/accessible-resources") => match state.holder_of(request) {
                Some(_) => ResponseTemplate::new(200).set_body_json(state.sites()),
                None => unauthorized(),
            },
            _ => match path.strip_prefix(&format!("/ex/jira/{CLOUD_ID}/rest/api/3/")) {
                Some(tail) => match state.holder_of(request) {
                    Some(holder) => state.jira(method, tail, request, holder),
                    None => unauthorized(),
                },
                None => match path.strip_prefix(&format!("/ex/jira/{CLOUD_ID}/rest/agile/1.0/")) {
                    Some(tail) => match state.holder_of(request) {
                        Some(_) => agile(method, tail),
                        None => unauthorized(),
                    },
                    None => ResponseTemplate::new(404).set_body_json(json!({"errorMessages": [format!("no such endpoint: {method} {path}")], "errors": {}})),
                },
            },
        }
    }
}

fn unauthorized() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!({"code": 401, "message": "Unauthorized"}))
}

fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": error, "error_description": description}))
}

fn jira_error(status: u16, field: Option<(&str, &str)>, message: Option<&str>) -> ResponseTemplate {
    let errors: serde_json::Map<String, Value> = field
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    ResponseTemplate::new(status).set_body_json(
        json!({"errorMessages": message.into_iter().collect::<Vec<_>>(), "errors": errors}),
    )
}

fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

impl State {
    fn secret(&mut self, kind: &str) -> String {
        self.serial += 1;
        let noise = std::collections::hash_map::RandomState::new();
        let noise = std::hash::BuildHasher::hash_one(&noise, self.serial);
        format!("sim-{kind}-{}-{noise:016x}", self.serial)
    }

    /// `/authorize`: validates the request, then redirects (auto-approve or
    /// approved) or shows the consent page.
    fn authorize(&mut self, request: &Request, approved: bool) -> ResponseTemplate {
        let q = query(request);
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        if get("client_id") != CLIENT_ID
            || get("response_type") != "code"
            || get("redirect_uri").is_empty()
        {
            return ResponseTemplate::new(400).set_body_string("invalid authorization request: client_id, response_type=code and redirect_uri are required");
        }
        if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
            return ResponseTemplate::new(400).set_body_string("PKCE S256 is required");
        }
        // Atlassian refuses RFC 8707's `resource` (a client must not forward
        // the one an MCP client sent it).
        if q.contains_key("resource") {
            let location = format!(
                "{}?error=invalid_target&error_description=The+resource+parameter+is+not+supported&state={}",
                get("redirect_uri"),
                get("state")
            );
            return ResponseTemplate::new(302).insert_header("location", location.as_str());
        }
        let user = match request.headers.get(USER_HEADER) {
            None => RECORDED_USER.to_string(),
            Some(v) => match v.to_str() {
                Ok(name) if valid_user_name(name) => name.to_string(),
                _ => {
                    return ResponseTemplate::new(400).set_body_string(
                        "X-Sim-User must be 1 to 64 letters, digits, '-', '_' or '.'",
                    );
                }
            },
        };
        if get("deny") == "1" {
            let location = format!(
                "{}?error=access_denied&error_description=The+user+denied+access&state={}",
                get("redirect_uri"),
                get("state")
            );
            return ResponseTemplate::new(302).insert_header("location", location.as_str());
        }
        if !(approved || self.options.auto_approve) {
            return consent_page(request);
        }
        let code = self.secret("code");
        self.codes.insert(
            code.clone(),
            PendingCode {
                redirect_uri: get("redirect_uri"),
                challenge: get("code_challenge"),
                user,
            },
        );
        let location = format!("{}?code={code}&state={}", get("redirect_uri"), get("state"));
        ResponseTemplate::new(302).insert_header("location", location.as_str())
    }

    /// `/oauth/token`: a confidential client, PKCE, rotating refresh tokens.
    fn token(&mut self, request: &Request) -> ResponseTemplate {
        self.counters.token_requests += 1;
        let f = form(request);
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
            return oauth_error(401, "access_denied", "Unauthorized");
        }
        if f.contains_key("resource") {
            return oauth_error(
                400,
                "invalid_target",
                "The resource parameter is not supported",
            );
        }
        let user = match get("grant_type").as_str() {
            "authorization_code" => self.codes.get(&get("code")).map(|c| c.user.clone()),
            "refresh_token" => self
                .grant_of_refresh(&get("refresh_token"))
                .map(|i| self.grants[i].user.clone()),
            _ => None,
        };
        if let Some(user) = user {
            self.count(&user, |c| c.token_requests += 1);
        }
        match get("grant_type").as_str() {
            "authorization_code" => {
                self.exchange(&get("code"), &get("redirect_uri"), &get("code_verifier"))
            }
            "refresh_token" => self.refresh(&get("refresh_token")),
            "client_credentials" => self.client_credentials(),
            other => oauth_error(
                400,
                "unsupported_grant_type",
                &format!("grant_type {other} is not supported"),
            ),
        }
    }

    fn exchange(&mut self, code: &str, redirect_uri: &str, verifier: &str) -> ResponseTemplate {
        let Some(pending) = self.codes.remove(code) else {
            return oauth_error(403, "invalid_grant", "Invalid authorization code");
        };
        if pending.redirect_uri != redirect_uri || s256(verifier) != pending.challenge {
            return oauth_error(
                403,
                "invalid_grant",
                "redirect_uri or code_verifier does not match",
            );
        }
        let refresh = self.secret("rt");
        self.count(&pending.user, |c| c.logins += 1);
        self.grants.push(Grant {
            user: pending.user,
            current: refresh.clone(),
            used: HashMap::new(),
            revoked: false,
        });
        self.counters.logins += 1;
        self.issue(self.grants.len() - 1, &refresh)
    }

    /// A service account's token: the client id and secret (checked by the
    /// caller) are the whole credential, and no refresh token is issued.
    fn client_credentials(&mut self) -> ResponseTemplate {
        let access = self.secret("sat");
        let ttl = self.options.access_ttl;
        self.access
            .insert(access.clone(), (Holder::Service, Instant::now() + ttl));
        self.counters.service_tokens += 1;
        let mut body = fixture("token/client-credentials.json");
        body["access_token"] = json!(access);
        body["expires_in"] = json!(ttl.as_secs().max(1));
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// Rotates `presented`. A used token replayed within the reuse interval
    /// (counted from its rotation) rotates like the current one: Atlassian
    /// documents the 10-minute leeway for exactly the client that lost a
    /// token response. Outside it, the replay revokes the whole grant.
    fn refresh(&mut self, presented: &str) -> ResponseTemplate {
        let reuse = self.options.reuse_interval;
        let Some(index) = self.grant_of_refresh(presented) else {
            return self.invalid_grant(None);
        };
        let grant = &mut self.grants[index];
        let replay_too_late = grant
            .used
            .get(presented)
            .is_some_and(|rotated| reuse.is_zero() || rotated.elapsed() > reuse);
        let user = grant.user.clone();
        if replay_too_late && !grant.revoked {
            grant.revoked = true;
            self.counters.revocations += 1;
            self.count(&user, |c| c.revocations += 1);
        }
        if self.grants[index].revoked {
            return self.invalid_grant(Some(&user));
        }
        let next = self.secret("rt");
        let grant = &mut self.grants[index];
        let old = std::mem::replace(&mut grant.current, next.clone());
        grant.used.insert(old, Instant::now());
        self.counters.refreshes += 1;
        self.count(&user, |c| c.refreshes += 1);
        self.issue(index, &next)
    }

    /// The grant whose current or used refresh token is `presented`.
    fn grant_of_refresh(&self, presented: &str) -> Option<usize> {
        self.grants
            .iter()
            .position(|g| g.current == presented || g.used.contains_key(presented))
    }

    /// Bumps one of `user`'s counters.
    fn count(&mut self, user: &str, bump: impl FnOnce(&mut Counters)) {
        bump(self.per_user.entry(user.to_string()).or_default());
    }

    /// Expires the live access tokens of `user` (all when `None`); returns
    /// how many.
    fn expire(&mut self, user: Option<&str>) -> usize {
        let now = Instant::now();
        let grants = &self.grants;
        let mut count = 0;
        for (holder, expires) in self.access.values_mut() {
            let owner = match holder {
                Holder::User(i) => grants.get(*i).map(|g| g.user.as_str()),
                Holder::Service => None,
            };
            if *expires > now && (user.is_none() || owner == user) {
                *expires = now;
                count += 1;
            }
        }
        count
    }

    fn invalid_grant(&mut self, user: Option<&str>) -> ResponseTemplate {
        if let Some(user) = user {
            self.count(user, |c| c.invalid_grants += 1);
        }
        self.counters.invalid_grants += 1;
        oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.")
    }

    fn issue(&mut self, grant: usize, refresh: &str) -> ResponseTemplate {
        let access = self.secret("at");
        let ttl = self.options.access_ttl;
        self.access
            .insert(access.clone(), (Holder::User(grant), Instant::now() + ttl));
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ttl.as_secs().max(1),
            "scope": "read:jira-work write:jira-work read:jira-user offline_access",
            "token_type": "Bearer",
        }))
    }

    /// Whom a live, unexpired bearer token acts for (a user's only while
    /// their grant is not revoked).
    fn holder_of(&self, request: &Request) -> Option<Holder> {
        let header = request.headers.get("authorization")?.to_str().ok()?;
        let token = header.strip_prefix("Bearer ")?;
        let (holder, expires) = self.access.get(token)?;
        let revoked = match holder {
            Holder::User(grant) => self.grants.get(*grant).is_none_or(|g| g.revoked),
            Holder::Service => false,
        };
        (Instant::now() < *expires && !revoked).then_some(*holder)
    }

    /// The user behind a token (`None` for the service account).
    fn user_of(&self, holder: Holder) -> Option<SimUser> {
        match holder {
            Holder::User(i) => Some(SimUser::named(
                self.grants
                    .get(i)
                    .map_or(RECORDED_USER, |g| g.user.as_str()),
            )),
            Holder::Service => None,
        }
    }

    /// `GET user?accountId=`: a user who has logged in (or the recorded
    /// one); 404 otherwise, 400 without `accountId`.
    fn user_by_id(&self, q: &HashMap<String, String>) -> ResponseTemplate {
        let Some(id) = q.get("accountId") else {
            return jira_error(
                400,
                None,
                Some("The 'accountId' query parameter needs to be provided."),
            );
        };
        let known = std::iter::once(RECORDED_USER)
            .chain(self.grants.iter().map(|g| g.user.as_str()))
            .map(SimUser::named)
            .find(|u| &u.account_id == id);
        match known {
            Some(user) => ResponseTemplate::new(200).set_body_json(user.record()),
            None => jira_error(
                404,
                None,
                Some(&format!("The user with account ID '{id}' does not exist")),
            ),
        }
    }

    fn sites(&self) -> Value {
        let mut sites = fixture("cloud/accessible-resources-two-sites.json");
        if let Some(list) = sites.as_array_mut() {
            list.truncate(self.options.sites.clamp(1, 2));
        }
        sites
    }

    /// The Jira REST v3 subset.
    fn jira(
        &mut self,
        method: &str,
        tail: &str,
        request: &Request,
        holder: Holder,
    ) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let q = query(request);
        let parts: Vec<&str> = tail.split('/').collect();
        match (method, parts.as_slice()) {
            ("GET", ["myself"]) => {
                ResponseTemplate::new(200).set_body_json(myself(self.user_of(holder)))
            }
            ("GET", ["user"]) => self.user_by_id(&q),
            ("GET", ["project", "search"]) => {
                ResponseTemplate::new(200).set_body_json(fixture("jira/project-search.json"))
            }
            ("GET", ["user", "search"]) => user_search(&q),
            ("GET", ["issueLinkType"]) => {
                ResponseTemplate::new(200).set_body_json(fixture("jira/issue-link-types.json"))
            }
            ("POST", ["issueLink"]) => self.link(&body),
            ("GET", ["issue", "createmeta", project, "issuetypes"]) => {
                createmeta_issue_types(project, &q)
            }
            ("GET", ["issue", "createmeta", project, "issuetypes", type_id]) => {
                createmeta_fields(project, type_id, &q)
            }
            ("GET", ["issue", key, "remotelink"]) if self.issues.contains_key(*key) => {
                remote_links(key, &q)
            }
            ("POST", ["search", "jql"]) => self.search(&body),
            ("POST", ["issue"]) => self.create(&body),
            ("GET", ["issue", key]) => match self.issues.get(*key) {
                Some(issue) => ResponseTemplate::new(200).set_body_json(issue),
                None => jira_error(
                    404,
                    None,
                    Some("Issue does not exist or you do not have permission to see it."),
                ),
            },
            ("PUT", ["issue", key]) => self.edit(key, &body),
            ("GET", ["issue", key, "transitions"]) if self.issues.contains_key(*key) => {
                ResponseTemplate::new(200).set_body_json(fixture("jira/transitions.json"))
            }
            ("POST", ["issue", key, "transitions"]) => self.transition(key, &body),
            ("POST", ["issue", key, "comment"]) if self.issues.contains_key(*key) => {
                let mut comment = fixture("jira/comment.json");
                comment["body"] = body["body"].clone();
                ResponseTemplate::new(201).set_body_json(comment)
            }
            ("POST", ["issue", key, "worklog"]) if self.issues.contains_key(*key) => {
                let mut log = fixture("jira/worklog.json");
                log["timeSpent"] = body["timeSpent"].clone();
                ResponseTemplate::new(201).set_body_json(log)
            }
            (_, ["issue", _, ..]) => jira_error(
                404,
                None,
                Some("Issue does not exist or you do not have permission to see it."),
            ),
            ("GET", ["project", "ED", "components"]) => {
                ResponseTemplate::new(200).set_body_json(fixture("jira/project-components.json"))
            }
            ("POST", ["component"]) if body["project"] == "ED" && body["name"].is_string() => {
                let mut component = fixture("jira/component.json");
                component["name"] = body["name"].clone();
                component["description"] = body["description"].clone();
                ResponseTemplate::new(201).set_body_json(component)
            }
            _ => jira_error(
                404,
                None,
                Some("This endpoint is not part of the simulator."),
            ),
        }
    }

    /// `POST issueLink`: both issues must exist and the type must be one of
    /// the recorded link types (by name or id); a comment must be ADF.
    /// Jira answers 201 with an empty body.
    fn link(&mut self, body: &Value) -> ResponseTemplate {
        let (Some(inward), Some(outward)) = (
            body["inwardIssue"]["key"].as_str(),
            body["outwardIssue"]["key"].as_str(),
        ) else {
            return jira_error(
                400,
                Some((
                    "issueLink",
                    "inwardIssue.key and outwardIssue.key are required.",
                )),
                None,
            );
        };
        let Some(link_type) = find_link_type(&body["type"]) else {
            return jira_error(404, None, Some("No issue link type with name or id given."));
        };
        if !body["comment"].is_null() && body["comment"]["body"]["type"] != "doc" {
            return jira_error(
                400,
                Some((
                    "comment",
                    "Comment body must be an Atlassian Document Format document.",
                )),
                None,
            );
        }
        if !(self.issues.contains_key(inward) && self.issues.contains_key(outward)) {
            return jira_error(
                404,
                None,
                Some("Issue does not exist or you do not have permission to see it."),
            );
        }
        self.record_link(&link_type, inward, outward);
        ResponseTemplate::new(201)
    }

    /// Stores the link, and shows it in both issues' `issuelinks` field the
    /// way `GET issue` reports links.
    fn record_link(&mut self, link_type: &Value, inward: &str, outward: &str) {
        self.serial += 1;
        let id = (20000 + self.serial).to_string();
        let brief = |key: &str| json!({"key": key});
        let link = json!({"id": id, "type": link_type, "inwardIssue": brief(inward), "outwardIssue": brief(outward)});
        for (key, other, side) in [
            (outward, inward, "inwardIssue"),
            (inward, outward, "outwardIssue"),
        ] {
            if let Some(issue) = self.issues.get_mut(key) {
                let entry = json!({"id": id, "type": link_type, side: brief(other)});
                match issue["fields"]["issuelinks"].as_array_mut() {
                    Some(list) => list.push(entry),
                    None => issue["fields"]["issuelinks"] = json!([entry]),
                }
            }
        }
        self.links.push(link);
    }

    fn search(&self, body: &Value) -> ResponseTemplate {
        let jql = body["jql"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let project = jql
            .split("PROJECT")
            .nth(1)
            .and_then(|rest| {
                rest.trim_start_matches([' ', '='])
                    .split_whitespace()
                    .next()
            })
            .map(|p| p.trim_matches('"').to_string());
        let matching: Vec<&Value> = self
            .issues
            .values()
            .filter(|i| {
                project.as_ref().is_none_or(|p| {
                    i["key"]
                        .as_str()
                        .is_some_and(|k| k.starts_with(&format!("{p}-")))
                })
            })
            .collect();
        let start: usize = body["nextPageToken"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let max = usize::try_from(body["maxResults"].as_u64().unwrap_or(50)).unwrap_or(usize::MAX);
        let page: Vec<&Value> = matching.iter().skip(start).take(max).copied().collect();
        let next = start + page.len();
        let mut answer = json!({"issues": page, "isLast": next >= matching.len()});
        if next < matching.len() {
            answer["nextPageToken"] = json!(next.to_string());
        }
        ResponseTemplate::new(200).set_body_json(answer)
    }

    fn create(&mut self, body: &Value) -> ResponseTemplate {
        let fields = &body["fields"];
        let summary = fields["summary"].as_str().unwrap_or_default();
        if summary.trim().is_empty() {
            return jira_error(
                400,
                Some(("summary", "You must specify a summary of the issue.")),
                None,
            );
        }
        let Some(project) = fields["project"]["key"].as_str() else {
            return jira_error(
                400,
                Some(("project", "Specify a valid project ID or key")),
                None,
            );
        };
        self.next_issue += 1;
        let key = format!("{project}-{}", self.next_issue);
        let id = (10000 + self.next_issue).to_string();
        let mut issue = fixture("jira/issue.json");
        issue["key"] = json!(key);
        issue["id"] = json!(id);
        issue["fields"]["summary"] = json!(summary);
        issue["fields"]["description"] = fields["description"].clone();
        self.issues.insert(key.clone(), issue);
        ResponseTemplate::new(201).set_body_json(json!({"id": id, "key": key, "self": format!("https://api.atlassian.com/ex/jira/{CLOUD_ID}/rest/api/3/issue/{id}")}))
    }

    fn edit(&mut self, key: &str, body: &Value) -> ResponseTemplate {
        let Some(issue) = self.issues.get_mut(key) else {
            return jira_error(
                404,
                None,
                Some("Issue does not exist or you do not have permission to see it."),
            );
        };
        for (name, value) in body["fields"].as_object().into_iter().flatten() {
            issue["fields"][name] = value.clone();
        }
        ResponseTemplate::new(204)
    }

    fn transition(&mut self, key: &str, body: &Value) -> ResponseTemplate {
        let transitions = fixture("jira/transitions.json");
        let wanted = body["transition"]["id"].as_str().unwrap_or_default();
        let Some(chosen) = transitions["transitions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["id"] == wanted)
        else {
            return jira_error(
                400,
                Some(("transition", "Transition id is not valid for this issue.")),
                None,
            );
        };
        match self.issues.get_mut(key) {
            Some(issue) => {
                issue["fields"]["status"] = chosen["to"].clone();
                ResponseTemplate::new(204)
            }
            None => jira_error(
                404,
                None,
                Some("Issue does not exist or you do not have permission to see it."),
            ),
        }
    }
}

/// The Jira Software (agile) subset: the boards and a board's sprints.
fn agile(method: &str, tail: &str) -> ResponseTemplate {
    let parts: Vec<&str> = tail.split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["board"]) => {
            ResponseTemplate::new(200).set_body_json(fixture("agile/boards.json"))
        }
        ("GET", ["board", "84", "sprint"]) => {
            ResponseTemplate::new(200).set_body_json(fixture("agile/sprints.json"))
        }
        _ => jira_error(
            404,
            None,
            Some("This endpoint is not part of the simulator."),
        ),
    }
}

/// `GET myself`: the token's user (the recorded record with that user's
/// identity), or for a service account the same record as an `app` account
/// (service accounts have no e-mail address).
fn myself(user: Option<SimUser>) -> Value {
    if let Some(user) = user {
        return user.record();
    }
    let mut me = fixture("jira/myself.json");
    {
        me["accountId"] = json!(SERVICE_ACCOUNT_ID);
        me["accountType"] = json!("app");
        me["displayName"] = json!(SERVICE_ACCOUNT_NAME);
        me["self"] = json!(format!(
            "https://api.atlassian.com/ex/jira/{CLOUD_ID}/rest/api/3/user?accountId={SERVICE_ACCOUNT_ID}"
        ));
        if let Some(fields) = me.as_object_mut() {
            fields.remove("emailAddress");
        }
    }
    me
}

/// `GET user/search`: Cloud wants exactly one of `query` and `accountId`
/// (400 otherwise); a query matches display names and e-mail addresses.
fn user_search(q: &HashMap<String, String>) -> ResponseTemplate {
    let (text, account) = (q.get("query"), q.get("accountId"));
    if text.is_some() == account.is_some() {
        return jira_error(
            400,
            None,
            Some("One of 'query' or 'accountId' query parameters must be provided."),
        );
    }
    let (start, max) = match paging(q) {
        Ok(p) => p,
        Err(bad) => return *bad,
    };
    let needle = text.map(|t| t.to_lowercase());
    let users: Vec<Value> = fixture("jira/user-search.json")
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| match (&needle, account) {
            (Some(needle), _) => ["displayName", "emailAddress"].iter().any(|f| {
                u[*f]
                    .as_str()
                    .is_some_and(|v| v.to_lowercase().contains(needle.as_str()))
            }),
            (None, Some(id)) => u["accountId"] == id.as_str(),
            (None, None) => false,
        })
        .skip(start)
        .take(max)
        .cloned()
        .collect();
    ResponseTemplate::new(200).set_body_json(users)
}

/// `startAt` and `maxResults` (Jira's defaults 0 and 50), or Jira's 400.
fn paging(q: &HashMap<String, String>) -> Result<(usize, usize), Box<ResponseTemplate>> {
    let number = |name: &str, default: usize| match q.get(name) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map_err(|_| {
            let message = format!("The '{name}' parameter must be a non-negative number.");
            Box::new(jira_error(400, None, Some(&message)))
        }),
    };
    Ok((number("startAt", 0)?, number("maxResults", 50)?))
}

/// One page of the array under `list` in a paged fixture, with its
/// `startAt`, `maxResults` and `total` rewritten to match.
fn page_of(mut recorded: Value, list: &str, q: &HashMap<String, String>) -> ResponseTemplate {
    let (start, max) = match paging(q) {
        Ok(p) => p,
        Err(bad) => return *bad,
    };
    let all = recorded[list].as_array().cloned().unwrap_or_default();
    recorded[list] = json!(all.iter().skip(start).take(max).collect::<Vec<_>>());
    recorded["startAt"] = json!(start);
    recorded["maxResults"] = json!(max);
    recorded["total"] = json!(all.len());
    ResponseTemplate::new(200).set_body_json(recorded)
}

/// Whether the project is one of the recorded ones (by key or id).
fn project_exists(project: &str) -> bool {
    fixture("jira/project-search.json")["values"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["key"] == project || p["id"] == project)
}

fn no_project(project: &str) -> ResponseTemplate {
    jira_error(
        400,
        None,
        Some(&format!(
            "No project could be found with key or id '{project}'."
        )),
    )
}

/// `GET issue/createmeta/{project}/issuetypes`: the recorded Task, Bug and
/// Story for any recorded project; 400 for another project.
fn createmeta_issue_types(project: &str, q: &HashMap<String, String>) -> ResponseTemplate {
    if !project_exists(project) {
        return no_project(project);
    }
    page_of(fixture("jira/createmeta-issuetypes.json"), "issueTypes", q)
}

/// `GET issue/createmeta/{project}/issuetypes/{id}`: the recorded create
/// screen (recorded for Task; served for each recorded type); 400 for an
/// unknown project or issue type id.
fn createmeta_fields(
    project: &str,
    type_id: &str,
    q: &HashMap<String, String>,
) -> ResponseTemplate {
    if !project_exists(project) {
        return no_project(project);
    }
    let known = fixture("jira/createmeta-issuetypes.json")["issueTypes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| t["id"] == type_id);
    if !known {
        return jira_error(
            400,
            None,
            Some(&format!(
                "The issue type with id '{type_id}' does not exist or is not valid for project '{project}'."
            )),
        );
    }
    page_of(fixture("jira/createmeta-fields.json"), "fields", q)
}

/// `GET issue/{key}/remotelink`: ED-1's recorded links (other issues have
/// none); with `globalId`, the one link as an object, or 404.
fn remote_links(key: &str, q: &HashMap<String, String>) -> ResponseTemplate {
    let links = match key {
        "ED-1" => fixture("jira/remote-links.json"),
        _ => json!([]),
    };
    let Some(global_id) = q.get("globalId") else {
        return ResponseTemplate::new(200).set_body_json(links);
    };
    match links
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["globalId"] == global_id.as_str())
    {
        Some(link) => ResponseTemplate::new(200).set_body_json(link),
        None => jira_error(404, None, Some("Remote issue link does not exist.")),
    }
}

/// The recorded link type named or numbered by a request's `type`.
fn find_link_type(wanted: &Value) -> Option<Value> {
    let (name, id) = (wanted["name"].as_str(), wanted["id"].as_str());
    fixture("jira/issue-link-types.json")["issueLinkTypes"]
        .as_array()?
        .iter()
        .find(|t| {
            name.is_some_and(|n| {
                t["name"]
                    .as_str()
                    .is_some_and(|m| m.eq_ignore_ascii_case(n))
            }) || id.is_some_and(|i| t["id"] == i)
        })
        .cloned()
}

fn consent_page(request: &Request) -> ResponseTemplate {
    let approve = format!(
        "/authorize/approve?{}",
        request.url.query().unwrap_or_default()
    );
    let deny = format!(
        "/authorize/approve?{}&deny=1",
        request.url.query().unwrap_or_default()
    );
    let html = format!(
        "<!doctype html><title>Simulated Atlassian consent</title><h1>jira-mcp wants to access your Jira</h1>\
         <p><a href=\"{approve}\">Accept</a> <a href=\"{deny}\">Deny</a></p>"
    );
    ResponseTemplate::new(200).set_body_raw(html, "text/html")
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("uri", &self.uri())
            .finish()
    }
}
