//! Permission-aware listing (`JIRA_MCP_PERMISSION_AWARE`): at the first tool
//! call of a login the server asks Jira's `mypermissions`, hides the write
//! tools the account lacks, and tells the client its tool list changed.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use jira_mcp::catalog;
use jira_mcp::config::{Config, Flags};
use jira_mcp::permissions;
use jira_mcp::server::{JiraMcp, ServerState};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SPEC: &str = "shared/jira-openapi/jira-cloud-platform-v3.json";

/// The tools `jira/mypermissions.json` takes away: CREATE_ISSUES,
/// DELETE_ISSUES and ADMINISTER_PROJECTS are `false` there. (EDIT_ALL_COMMENTS
/// is `false` too, but EDIT_OWN_COMMENTS is enough for `edit_comment`.)
const HIDDEN: [&str; 6] = [
    "create_issue",
    "batch_create_issues",
    "delete_issue",
    "create_version",
    "update_version",
    "create_component",
];

/// A client that counts `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct Counting {
    list_changed: Arc<AtomicUsize>,
}

impl ClientHandler for Counting {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counting {
    fn count(&self) -> usize {
        self.list_changed.load(Ordering::SeqCst)
    }

    /// Waits (up to 5 s) for `n` notifications; returns how many arrived.
    async fn wait_for(&self, n: usize) -> usize {
        for _ in 0..100 {
            if self.count() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.count()
    }
}

type CountingClient = RunningService<RoleClient, Counting>;

/// Serves jira-mcp with `config` and connects a counting client.
async fn connect_counting(config: Config) -> (CountingClient, Counting) {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let server = JiraMcp::new(ServerState::new(config));
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let handler = Counting::default();
    let client = handler.clone().serve(client_io).await.unwrap();
    (client, handler)
}

/// A logged-in Cloud server with `extra` variables.
async fn cloud_server(
    server: &MockServer,
    extra: &[(&'static str, &str)],
) -> (CountingClient, Counting, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    seed(&file, "access-0", "refresh-0");
    let mut vars = cloud_oauth_vars(server, &file);
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let (client, counting) = connect_counting(config(&vars)).await;
    (client, counting, dir)
}

/// The listed tools' names; each listed tool keeps its output schema,
/// whatever the permission check hid.
async fn tool_names(client: &CountingClient) -> BTreeSet<String> {
    let tools = client.list_all_tools().await.unwrap();
    for tool in &tools {
        let schema = tool.output_schema.as_deref();
        assert_eq!(
            schema.and_then(|s| s.get("type")),
            Some(&json!("object")),
            "{} lost its outputSchema",
            tool.name
        );
    }
    tools.into_iter().map(|t| t.name.to_string()).collect()
}

async fn call_tool(client: &CountingClient, tool: &str, args: Value) -> (bool, String) {
    let params = rmcp::model::CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result = client.call_tool(params).await.unwrap();
    check_structured(tool, &result);
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (result.is_error.unwrap_or(false), text)
}

fn json_answer(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

/// `GET myself`, answered as often as asked.
async fn myself(server: &MockServer, api: &str) {
    Mock::given(method("GET"))
        .and(path(api))
        .respond_with(json_answer(200, "jira/myself.json"))
        .mount(server)
        .await;
}

/// `mypermissions`, asked with every key of the table, `times` times.
async fn mypermissions(server: &MockServer, api: &str, answer: ResponseTemplate, times: u64) {
    let keys = permissions::keys(|_| true).join(",");
    Mock::given(method("GET"))
        .and(path(api))
        .and(query_param("permissions", keys.as_str()))
        .respond_with(answer)
        .expect(times)
        .named("mypermissions")
        .mount(server)
        .await;
}

fn create_issue_args() -> Value {
    json!({"project_key": "ED", "issue_type": "Task", "summary": "x"})
}

fn list_changed_advertised(client: &CountingClient) -> Option<bool> {
    client.peer_info().and_then(|info| {
        info.capabilities
            .tools
            .as_ref()
            .and_then(|t| t.list_changed)
    })
}

fn shared(relative: &str) -> Value {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let file = manifest
        .ancestors()
        .map(|dir| dir.join(relative))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{relative} not found above {}", manifest.display()));
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// A new write tool cannot be forgotten: the table and the catalog's write
/// tools are the same set.
#[test]
fn every_write_tool_has_a_permission_entry_and_only_write_tools_do() {
    let writes: BTreeSet<&str> = catalog::TOOLS
        .iter()
        .filter(|t| t.writes)
        .map(|t| t.name)
        .collect();
    let table: BTreeSet<&str> = permissions::NEEDS.iter().map(|(tool, _)| *tool).collect();
    assert_eq!(table, writes);
    assert_eq!(
        table.len(),
        permissions::NEEDS.len(),
        "a tool appears twice"
    );
    for (tool, keys) in permissions::NEEDS {
        assert!(!keys.is_empty(), "{tool} needs no key");
    }
}

/// Every key in the table is one Jira Cloud documents for `mypermissions`.
#[test]
fn every_permission_key_is_in_the_spec() {
    let spec = serde_json::to_string(&shared(SPEC)).unwrap();
    for key in permissions::keys(|_| true) {
        assert!(
            spec.contains(&format!("`{key}`")),
            "{key} is not in the spec"
        );
    }
}

/// The fixture fits the spec's `Permissions` schema (the 200 answer of
/// `GET /rest/api/3/mypermissions`).
#[test]
fn the_fixture_fits_the_spec_permissions_schema() {
    let spec = shared(SPEC);
    let answer = &spec["paths"]["/rest/api/3/mypermissions"]["get"]["responses"]["200"];
    assert_eq!(
        answer["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Permissions"
    );
    let check = e2e_tests::spec::JiraSpec::load().unwrap();
    let permissions = e2e_tests::spec::component("Permissions");
    let checked = check.check_value(&permissions, &fixture_json("jira/mypermissions.json"));
    assert!(checked.is_ok(), "{checked:?}");
    assert!(
        check
            .check_value(
                &permissions,
                &json!({"permissions": {"X": {"havePermission": "yes"}}})
            )
            .is_err(),
        "the schema check accepts anything"
    );
}

#[tokio::test]
async fn the_first_call_hides_the_write_tools_the_account_lacks() {
    let server = MockServer::start().await;
    myself(&server, &cloud("myself")).await;
    mypermissions(
        &server,
        &cloud("mypermissions"),
        json_answer(200, "jira/mypermissions.json"),
        1,
    )
    .await;
    for api in [cloud("issue"), cloud("issue/bulk")] {
        Mock::given(method("POST"))
            .and(path(api))
            .respond_with(json_answer(201, "jira/create-issue.json"))
            .expect(0)
            .mount(&server)
            .await;
    }
    let (client, counting, _dir) =
        cloud_server(&server, &[("JIRA_MCP_PERMISSION_AWARE", "true")]).await;
    assert_eq!(list_changed_advertised(&client), Some(true));

    // Nothing is asked before the first call.
    let before = tool_names(&client).await;
    assert!(before.contains("create_issue"));

    ok(&client, "get_current_user", json!({})).await;
    assert_eq!(counting.wait_for(1).await, 1, "no tools/list_changed");
    let after = tool_names(&client).await;
    for tool in HIDDEN {
        assert!(!after.contains(tool), "{tool} is still listed");
    }
    let expected: BTreeSet<String> = before
        .iter()
        .filter(|t| !HIDDEN.contains(&t.as_str()))
        .cloned()
        .collect();
    assert_eq!(after, expected);
    assert!(after.contains("edit_comment") && after.contains("add_comment"));

    // Called by name anyway: refused, naming the permission and the setting.
    let (is_error, message) = call_tool(&client, "create_issue", create_issue_args()).await;
    assert!(
        is_error
            && message.contains("CREATE_ISSUES")
            && message.contains("JIRA_MCP_PERMISSION_AWARE"),
        "{message}"
    );
    let (is_error, message) = call_tool(
        &client,
        "batch_create_issues",
        json!({"issues": [{"project_key": "ED", "issue_type": "Task", "summary": "x"}]}),
    )
    .await;
    assert!(is_error && message.contains("CREATE_ISSUES"), "{message}");

    // Later calls do not ask again, nor notify again.
    ok(&client, "get_current_user", json!({})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(counting.count(), 1);
    assert!(assert_requests_fit_the_cloud_spec(&server).await >= 3);
}

#[tokio::test]
async fn off_by_default_nothing_is_asked_and_every_tool_is_listed() {
    let server = MockServer::start().await;
    myself(&server, &cloud("myself")).await;
    mypermissions(
        &server,
        &cloud("mypermissions"),
        json_answer(200, "jira/mypermissions.json"),
        0,
    )
    .await;
    Mock::given(method("POST"))
        .and(path(cloud("issue")))
        .respond_with(json_answer(201, "jira/create-issue.json"))
        .expect(1)
        .mount(&server)
        .await;
    let (client, counting, _dir) = cloud_server(&server, &[]).await;
    assert_ne!(list_changed_advertised(&client), Some(true));
    ok(&client, "get_current_user", json!({})).await;
    ok(&client, "create_issue", create_issue_args()).await;
    let names = tool_names(&client).await;
    let known: BTreeSet<String> = catalog::TOOLS.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, known);
    assert_eq!(counting.count(), 0);
}

#[tokio::test]
async fn a_failing_check_hides_nothing_and_tools_keep_working() {
    let server = MockServer::start().await;
    myself(&server, &cloud("myself")).await;
    mypermissions(
        &server,
        &cloud("mypermissions"),
        json_answer(500, "jira/errors-400.json"),
        1,
    )
    .await;
    Mock::given(method("POST"))
        .and(path(cloud("issue")))
        .respond_with(json_answer(201, "jira/create-issue.json"))
        .expect(1)
        .mount(&server)
        .await;
    let (client, counting, _dir) =
        cloud_server(&server, &[("JIRA_MCP_PERMISSION_AWARE", "true")]).await;
    ok(&client, "get_current_user", json!({})).await;
    let created = ok(&client, "create_issue", create_issue_args()).await;
    assert_eq!(created["key"], "ED-3", "{created}");
    let names = tool_names(&client).await;
    assert_eq!(names.len(), catalog::TOOLS.len());
    assert_eq!(counting.count(), 0);
    assert_requests_fit_the_cloud_spec(&server).await;
}

/// An answer that is not the documented shape is a failed check too.
#[tokio::test]
async fn an_answer_of_another_shape_hides_nothing() {
    let server = MockServer::start().await;
    myself(&server, &cloud("myself")).await;
    mypermissions(
        &server,
        &cloud("mypermissions"),
        ResponseTemplate::new(200).set_body_json(json!({"permissions": ["CREATE_ISSUES"]})),
        1,
    )
    .await;
    let (client, counting, _dir) =
        cloud_server(&server, &[("JIRA_MCP_PERMISSION_AWARE", "true")]).await;
    ok(&client, "get_current_user", json!({})).await;
    assert_eq!(tool_names(&client).await.len(), catalog::TOOLS.len());
    assert_eq!(counting.count(), 0);
}

/// Read-only mode leaves no write tool to check: nothing is asked.
#[tokio::test]
async fn with_no_write_tool_offered_nothing_is_asked() {
    let server = MockServer::start().await;
    myself(&server, &cloud("myself")).await;
    Mock::given(method("GET"))
        .and(path(cloud("mypermissions")))
        .respond_with(json_answer(200, "jira/mypermissions.json"))
        .expect(0)
        .mount(&server)
        .await;
    let (client, _counting, _dir) = cloud_server(
        &server,
        &[
            ("JIRA_MCP_PERMISSION_AWARE", "true"),
            ("JIRA_MCP_READ_ONLY", "true"),
        ],
    )
    .await;
    ok(&client, "get_current_user", json!({})).await;
}

/// Data Center asks `rest/api/2/mypermissions` with the same keys.
#[tokio::test]
async fn data_center_asks_the_v2_api() {
    let server = MockServer::start().await;
    myself(&server, "/jira/rest/api/2/myself").await;
    mypermissions(
        &server,
        "/jira/rest/api/2/mypermissions",
        json_answer(200, "jira/mypermissions.json"),
        1,
    )
    .await;
    let mut vars = dc_pat_vars(&server);
    vars.push(("JIRA_MCP_PERMISSION_AWARE", "true".into()));
    let (client, counting) = connect_counting(config(&vars)).await;
    ok_counting(&client, "get_current_user").await;
    assert_eq!(counting.wait_for(1).await, 1);
    assert!(!tool_names(&client).await.contains("delete_issue"));
}

async fn ok_counting(client: &CountingClient, tool: &str) {
    let (is_error, text) = call_tool(client, tool, json!({})).await;
    assert!(!is_error, "{tool} failed: {text}");
}

async fn ok(client: &CountingClient, tool: &str, args: Value) -> Value {
    let (is_error, text) = call_tool(client, tool, args).await;
    assert!(!is_error, "{tool} failed: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{tool} returned non-JSON ({e}): {text}"))
}

/// The setting from the environment, a flag, or the TOML file (as a bool or
/// a string); anything else is a startup error naming it.
#[test]
fn the_setting_is_read_from_env_flags_and_toml() {
    let load = |env_value: Option<&str>, flags: &Flags, file: Option<PathBuf>| {
        let value = env_value.map(String::from);
        let env = move |name: &str| {
            (name == "JIRA_MCP_PERMISSION_AWARE")
                .then(|| value.clone())
                .flatten()
        };
        Config::load_from(flags, &env, file)
    };
    let none = Flags::default();
    assert!(!load(None, &none, None).unwrap().controls.permission_aware);
    assert!(
        load(Some("true"), &none, None)
            .unwrap()
            .controls
            .permission_aware
    );
    assert!(
        !load(Some("no"), &none, None)
            .unwrap()
            .controls
            .permission_aware
    );
    let mut flag = Flags::default();
    flag.values
        .insert("JIRA_MCP_PERMISSION_AWARE", "true".to_string());
    assert!(load(None, &flag, None).unwrap().controls.permission_aware);

    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("mcp_permission_aware = true\n", true),
        ("mcp_permission_aware = \"yes\"\n", true),
        ("mcp_permission_aware = false\n", false),
    ] {
        let file = dir.path().join("config.toml");
        std::fs::write(&file, text).unwrap();
        let config = load(None, &none, Some(file)).unwrap();
        assert_eq!(config.controls.permission_aware, expected, "{text}");
    }

    let err = load(Some("maybe"), &none, None).unwrap_err().to_string();
    assert!(
        err.contains("JIRA_MCP_PERMISSION_AWARE") && err.contains("maybe"),
        "{err}"
    );
}

/// A new login (here through `complete_oauth_flow`) is checked again at its
/// first call: the tools come back when the new login holds the permission.
#[tokio::test]
async fn a_new_login_is_checked_again() {
    use wiremock::matchers::{body_string_contains, header};
    let server = MockServer::start().await;
    myself(&server, &cloud("myself")).await;
    let keys = permissions::keys(|_| true).join(",");
    let mut granted = fixture_json("jira/mypermissions.json");
    for permission in granted["permissions"].as_object_mut().unwrap().values_mut() {
        permission["havePermission"] = json!(true);
    }
    for (token, answer) in [
        ("access-0", json_answer(200, "jira/mypermissions.json")),
        (
            "access-1",
            ResponseTemplate::new(200).set_body_json(granted),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(cloud("mypermissions")))
            .and(query_param("permissions", keys.as_str()))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(answer)
            .expect(1)
            .named(format!("mypermissions with {token}"))
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("access-1", "refresh-1")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/accessible-resources"))
        .respond_with(json_answer(200, "cloud/accessible-resources.json"))
        .mount(&server)
        .await;
    let (client, counting, _dir) = cloud_server(
        &server,
        &[
            ("JIRA_MCP_PERMISSION_AWARE", "true"),
            (
                "JIRA_OAUTH_REDIRECT_URI",
                "https://jira-mcp.example.com/callback",
            ),
        ],
    )
    .await;

    ok(&client, "get_current_user", json!({})).await;
    assert_eq!(counting.wait_for(1).await, 1);
    assert!(!tool_names(&client).await.contains("create_issue"));

    let started = ok(&client, "init_oauth_flow", json!({})).await;
    let url = url::Url::parse(started["authorization_url"].as_str().unwrap()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let redirected = format!("https://jira-mcp.example.com/callback?code=CODE-1&state={state}");
    let done = ok(
        &client,
        "complete_oauth_flow",
        json!({"redirect_url": redirected}),
    )
    .await;
    assert_eq!(done["logged_in"], true, "{done}");

    ok(&client, "get_current_user", json!({})).await;
    assert_eq!(counting.wait_for(2).await, 2);
    let names = tool_names(&client).await;
    assert_eq!(names.len(), catalog::TOOLS.len());
    assert!(names.contains("create_issue"));
}
