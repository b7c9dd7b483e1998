//! Test harness: a jira-mcp server and an rmcp client over an in-process
//! duplex, with wiremock standing in for Jira and the token endpoint.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use gouqi_oauth::{AccessToken, FileStore, RefreshToken, Site, TokenSet, TokenStore};
use jira_mcp::config::{Config, Flags};
use jira_mcp::server::{JiraMcp, ServerState};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use wiremock::MockServer;

pub const CLOUD_ID: &str = "11223344-a1b2-3b33-c444-def123456789";

pub type Client = RunningService<RoleClient, ()>;

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

pub fn token_json(access: &str, refresh: &str) -> Value {
    serde_json::from_str(
        &fixture("token/refresh.json")
            .replace("{{access_token}}", access)
            .replace("{{refresh_token}}", refresh),
    )
    .unwrap()
}

/// A config from `vars` only (no process environment, no default file).
pub fn config(vars: &[(&str, String)]) -> Config {
    let env: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Config::load_from(&Flags::default(), &move |name| env.get(name).cloned(), None).unwrap()
}

/// Cloud OAuth against `server`, tokens in `token_file`.
pub fn cloud_oauth_vars(server: &MockServer, token_file: &Path) -> Vec<(&'static str, String)> {
    vec![
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
    ]
}

/// Data Center with a personal access token, the site at `{server}/jira`.
pub fn dc_pat_vars(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("JIRA_URL", format!("{}/jira", server.uri())),
        ("JIRA_DEPLOYMENT", "datacenter".into()),
        ("JIRA_AUTH_TYPE", "pat".into()),
        ("JIRA_TOKEN", "dc-pat".into()),
    ]
}

/// Cloud API path prefix behind the gateway.
pub fn cloud(path: &str) -> String {
    format!("/ex/jira/{CLOUD_ID}/rest/api/3/{path}")
}

/// A token set for the Cloud site, obtained `age` ago, living `lifetime`.
pub fn tokens(access: &str, refresh: &str, age: Duration, lifetime: Duration) -> TokenSet {
    let obtained_at = SystemTime::now() - age;
    TokenSet {
        access_token: AccessToken::new(access.into()),
        refresh_token: Some(RefreshToken::new(refresh.into())),
        expires_at: Some(obtained_at + lifetime),
        obtained_at,
        scopes: vec![
            "read:jira-work".into(),
            "write:jira-work".into(),
            "read:jira-user".into(),
            "offline_access".into(),
        ],
        site: Some(Site {
            cloud_id: Some(CLOUD_ID.into()),
            url: Some(url::Url::parse("https://your-domain.atlassian.net").unwrap()),
            name: Some("your-domain".into()),
        }),
    }
}

/// Writes a valid (10 minutes old, 50 minutes left) token set.
pub fn seed(token_file: &Path, access: &str, refresh: &str) {
    let set = tokens(
        access,
        refresh,
        Duration::from_secs(600),
        Duration::from_secs(3600),
    );
    FileStore::new(token_file).save(&set).unwrap();
}

/// Serves jira-mcp with `config` over a duplex and connects a client.
pub async fn connect(config: Config) -> Client {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let server = JiraMcp::new(ServerState::new(config));
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.unwrap()
}

/// Validators for the tools' output schemas, built once per test binary.
static VALIDATORS: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
    LazyLock::new(Mutex::default);
/// The tools whose structured results were validated in this test binary.
static VALIDATED: LazyLock<Mutex<BTreeSet<String>>> = LazyLock::new(Mutex::default);

fn validator(tool: &str, schema: &Value) -> Arc<jsonschema::Validator> {
    let mut validators = VALIDATORS.lock().unwrap_or_else(PoisonError::into_inner);
    let key = format!("{tool}\n{schema}");
    validators
        .entry(key)
        .or_insert_with(|| {
            Arc::new(
                jsonschema::validator_for(schema)
                    .unwrap_or_else(|e| panic!("{tool}: its outputSchema does not compile: {e}")),
            )
        })
        .clone()
}

/// The problems of `instance` against `tool`'s `schema`, one a line.
pub fn schema_errors(tool: &str, schema: &Value, instance: &Value) -> Vec<String> {
    validator(tool, schema)
        .iter_errors(instance)
        .map(|e| format!("{tool}: {} at {}", e, e.instance_path()))
        .collect()
}

/// The structured-result contract, checked on every call the tests make: a
/// success carries `structuredContent`, a JSON object that fits the tool's
/// `outputSchema` (the catalog's, which `tools/list` declares), and its
/// compact JSON as the first text block; an error carries none.
pub fn check_structured(tool: &str, result: &CallToolResult) {
    if result.is_error.unwrap_or(false) {
        assert!(
            result.structured_content.is_none(),
            "{tool}: an error has no structuredContent"
        );
        return;
    }
    let structured = result
        .structured_content
        .as_ref()
        .unwrap_or_else(|| panic!("{tool}: a success without structuredContent"));
    assert!(
        structured.is_object(),
        "{tool}: structuredContent is not an object: {structured}"
    );
    let schema = jira_mcp::catalog::output_schema(tool)
        .unwrap_or_else(|| panic!("{tool}: no output schema in the catalog"));
    let errors = schema_errors(tool, &Value::Object((*schema).clone()), structured);
    assert!(errors.is_empty(), "{}\n{structured}", errors.join("\n"));
    let text = result.content.first().and_then(|c| c.as_text());
    let text = text
        .unwrap_or_else(|| panic!("{tool}: no text block for clients without structured content"));
    assert_eq!(
        serde_json::from_str::<Value>(&text.text).ok().as_ref(),
        Some(structured),
        "{tool}: the text block is not the structured result"
    );
    VALIDATED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(tool.to_string());
}

/// The tools whose results [`check_structured`] validated so far.
pub fn validated_tools() -> BTreeSet<String> {
    VALIDATED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Calls a tool and checks its structured result; returns the whole result.
pub async fn call_result(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result = client.call_tool(params).await.unwrap();
    check_structured(tool, &result);
    result
}

/// Calls a tool; returns (is_error, text).
pub async fn call(client: &Client, tool: &str, args: Value) -> (bool, String) {
    let result = call_result(client, tool, args).await;
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (result.is_error.unwrap_or(false), text)
}

/// Calls a tool that must succeed; returns its JSON.
pub async fn ok(client: &Client, tool: &str, args: Value) -> Value {
    let (is_error, text) = call(client, tool, args).await;
    assert!(!is_error, "{tool} failed: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{tool} returned non-JSON ({e}): {text}"))
}

/// Calls a tool that must fail; returns its message.
pub async fn err(client: &Client, tool: &str, args: Value) -> String {
    let (is_error, text) = call(client, tool, args).await;
    assert!(is_error, "{tool} should have failed: {text}");
    text
}

/// Checks every Jira Cloud REST request `server` received (under
/// `/ex/jira/{CLOUD_ID}/rest/api/3/`) against Atlassian's OpenAPI spec, and
/// returns how many were checked. Agile (`/rest/agile/1.0`) requests are not
/// in that spec and are skipped here.
pub async fn assert_requests_fit_the_cloud_spec(server: &MockServer) -> usize {
    let spec = e2e_tests::spec::JiraSpec::load().unwrap();
    let prefix = format!("/ex/jira/{CLOUD_ID}");
    let requests = server.received_requests().await.unwrap_or_default();
    let mut failures = Vec::new();
    let mut checked = 0;
    for request in &requests {
        let Some(path) = request.url.path().strip_prefix(&prefix) else {
            continue;
        };
        if !path.starts_with("/rest/api/3/") {
            continue;
        }
        checked += 1;
        let query: Vec<String> = request
            .url
            .query_pairs()
            .map(|(k, _)| k.into_owned())
            .collect();
        let body: Option<Value> = serde_json::from_slice(&request.body).ok();
        if let Err(e) = spec.check(request.method.as_str(), path, &query, body.as_ref()) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    checked
}
