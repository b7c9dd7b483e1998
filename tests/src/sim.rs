//! A simulated Atlassian on loopback: authorization endpoint with a consent
//! page (optionally auto-approved), a token endpoint that follows Atlassian's
//! rules, accessible-resources, and a small Jira REST v3 subset backed by the
//! recorded fixtures. jira-mcp reaches it through its endpoint overrides.

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

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Redirect from the authorization endpoint without showing the consent page.
    pub auto_approve: bool,
    /// How many Jira sites the account reaches (1 or 2).
    pub sites: usize,
    /// A used refresh token may be replayed within this window (Atlassian:
    /// 10 minutes); later replays revoke the whole grant.
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
            reuse_interval: Duration::ZERO,
            token_delay: Duration::ZERO,
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
}

struct PendingCode {
    redirect_uri: String,
    challenge: String,
}

struct Grant {
    current: String,
    /// Refresh tokens already used, with when they were replaced.
    used: HashMap<String, Instant>,
    revoked: bool,
}

struct State {
    options: Options,
    codes: HashMap<String, PendingCode>,
    grants: Vec<Grant>,
    /// Access token -> (grant index, expiry).
    access: HashMap<String, (usize, Instant)>,
    issues: BTreeMap<String, Value>,
    next_issue: u32,
    serial: u64,
    counters: Counters,
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
            serial: 0,
            counters: Counters::default(),
        }));
        let server = MockServer::builder().listener(listener).start().await;
        Mock::given(any())
            .respond_with(Router(state.clone()))
            .mount(&server)
            .await;
        Simulator { server, state }
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

    /// The token endpoint's counters.
    pub fn counters(&self) -> Counters {
        self.state.lock().counters.clone()
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
            ("POST", "/oauth/token") => {
                let delay = state.options.token_delay;
                state.token(request).set_delay(delay)
            }
            ("GET", "/oauth/token/accessible-resources") => match state.grant_of(request) {
                Some(_) => ResponseTemplate::new(200).set_body_json(state.sites()),
                None => unauthorized(),
            },
            _ => match path.strip_prefix(&format!("/ex/jira/{CLOUD_ID}/rest/api/3/")) {
                Some(tail) if state.grant_of(request).is_some() => state.jira(method, tail, request),
                Some(_) => unauthorized(),
                None => ResponseTemplate::new(404).set_body_json(json!({"errorMessages": [format!("no such endpoint: {method} {path}")], "errors": {}})),
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
        match get("grant_type").as_str() {
            "authorization_code" => {
                self.exchange(&get("code"), &get("redirect_uri"), &get("code_verifier"))
            }
            "refresh_token" => self.refresh(&get("refresh_token")),
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
        self.grants.push(Grant {
            current: refresh.clone(),
            used: HashMap::new(),
            revoked: false,
        });
        self.counters.logins += 1;
        self.issue(self.grants.len() - 1, refresh)
    }

    fn refresh(&mut self, presented: &str) -> ResponseTemplate {
        let reuse = self.options.reuse_interval;
        let found = self
            .grants
            .iter()
            .position(|g| g.current == presented || g.used.contains_key(presented));
        let Some(index) = found else {
            self.counters.invalid_grants += 1;
            return oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.");
        };
        let grant = &mut self.grants[index];
        let replay_too_late = grant
            .used
            .get(presented)
            .is_some_and(|when| when.elapsed() > reuse);
        if grant.revoked || replay_too_late {
            if !grant.revoked {
                grant.revoked = true;
                self.counters.revocations += 1;
            }
            self.counters.invalid_grants += 1;
            return oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.");
        }
        let next = self.secret("rt");
        let grant = &mut self.grants[index];
        let old = std::mem::replace(&mut grant.current, next.clone());
        grant.used.insert(old, Instant::now());
        self.counters.refreshes += 1;
        self.issue(index, next)
    }

    fn issue(&mut self, grant: usize, refresh: String) -> ResponseTemplate {
        let access = self.secret("at");
        let ttl = self.options.access_ttl;
        self.access
            .insert(access.clone(), (grant, Instant::now() + ttl));
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ttl.as_secs().max(1),
            "scope": "read:jira-work write:jira-work read:jira-user offline_access",
            "token_type": "Bearer",
        }))
    }

    /// The grant behind a live, unexpired access token of a grant not revoked.
    fn grant_of(&self, request: &Request) -> Option<usize> {
        let header = request.headers.get("authorization")?.to_str().ok()?;
        let token = header.strip_prefix("Bearer ")?;
        let (grant, expires) = self.access.get(token)?;
        (Instant::now() < *expires && !self.grants[*grant].revoked).then_some(*grant)
    }

    fn sites(&self) -> Value {
        let mut sites = fixture("cloud/accessible-resources-two-sites.json");
        if let Some(list) = sites.as_array_mut() {
            list.truncate(self.options.sites.clamp(1, 2));
        }
        sites
    }

    /// The Jira REST v3 subset.
    fn jira(&mut self, method: &str, tail: &str, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let parts: Vec<&str> = tail.split('/').collect();
        match (method, parts.as_slice()) {
            ("GET", ["myself"]) => {
                ResponseTemplate::new(200).set_body_json(fixture("jira/myself.json"))
            }
            ("GET", ["project", "search"]) => {
                ResponseTemplate::new(200).set_body_json(fixture("jira/project-search.json"))
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
            _ => jira_error(
                404,
                None,
                Some("This endpoint is not part of the simulator."),
            ),
        }
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
        let max = body["maxResults"].as_u64().unwrap_or(50) as usize;
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
