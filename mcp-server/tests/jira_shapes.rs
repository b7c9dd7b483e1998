//! Answers of shapes the tools did not foresee (a date as a number, an id
//! as an object, `null` where a name was expected) still give structured
//! results that fit the declared `outputSchema`: the official MCP SDKs
//! refuse a result that does not, and the Python SDK ends the session.

mod common;

use common::*;
use jira_mcp::catalog;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Atlassian's own example answer of `method template` (200).
fn spec_example(method: &str, template: &str) -> Value {
    let spec = e2e_tests::spec::JiraSpec::load().unwrap();
    spec.response_example(method, template, "200")
        .unwrap_or_else(|| panic!("the spec has no example for {method} {template}"))
}

/// A logged-in Cloud connection to `server`.
async fn cloud_client(server: &MockServer, dir: &tempfile::TempDir) -> Client {
    let file = dir.path().join("tokens.json");
    seed(&file, "access-1", "refresh-1");
    connect(config(&cloud_oauth_vars(server, &file))).await
}

/// The issue from Atlassian's examples of `GET /issue/{key}` and
/// `POST /search/jql` has `"updated": 1` (a number where the output schema,
/// like Jira itself, says a date string); both tools still succeed, and the
/// harness (`call_result`) checks each result against its schema.
#[tokio::test]
async fn atlassians_own_examples_give_results_that_fit() {
    let server = MockServer::start().await;
    let issue = spec_example("get", "/rest/api/3/issue/{issueIdOrKey}");
    let page = spec_example("post", "/rest/api/3/search/jql");
    assert_eq!(
        issue["fields"]["updated"], 1,
        "the example this test is about"
    );
    assert_eq!(page["issues"][0]["fields"]["updated"], 1);
    Mock::given(method("GET"))
        .and(path(cloud("issue/ED-1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(&issue))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(cloud("search/jql")))
        .respond_with(ResponseTemplate::new(200).set_body_json(&page))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let client = cloud_client(&server, &dir).await;

    let got = call_result(&client, "get_issue", json!({"issue_key": "ED-1"})).await;
    assert_ne!(got.is_error, Some(true), "get_issue failed: {got:?}");
    let got = got.structured_content.unwrap();
    assert_eq!(got["key"], issue["key"]);
    assert_eq!(got["updated"], "1", "the number is read as text");
    let found = call_result(&client, "search_issues", json!({"jql": "project = EX"})).await;
    assert_ne!(
        found.is_error,
        Some(true),
        "search_issues failed: {found:?}"
    );
    let found = found.structured_content.unwrap();
    assert_eq!(found["issues"][0]["updated"], "1");
    assert_eq!(found["issues"][0]["key"], page["issues"][0]["key"]);
}

/// A value that cannot be made to fit (a required one of an impossible
/// shape) is a tool error naming the tool and the path, never a result
/// that breaks the client.
#[test]
fn a_result_that_cannot_fit_is_a_tool_error_naming_the_tool_and_path() {
    let unfit = json!({"key": {"not": "a key"}, "summary": "kept"});
    let message = catalog::conforming_result("get_issue", unfit.clone()).unwrap_err();
    assert!(message.contains("`get_issue`"), "{message}");
    assert!(message.contains("`/key`"), "{message}");
    assert!(
        !message.contains("a key"),
        "the value itself is not echoed: {message}"
    );

    let response: CallToolResponse = CallToolResult::structured(unfit).into();
    let CallToolResponse::Complete(result) = jira_mcp::server::conforming("get_issue", response)
    else {
        panic!("a complete result stays complete");
    };
    assert_eq!(result.is_error, Some(true));
    assert!(result.structured_content.is_none());
    let text = result.content[0].as_text().unwrap();
    assert!(text.text.contains("`get_issue`") && text.text.contains("`/key`"));
}

/// A result that can be made to fit is sent fitted, and its text block
/// (for clients without structured content) says the same.
#[test]
fn a_fitted_result_and_its_text_agree() {
    let odd = json!({"key": "ED-1", "id": 10001, "updated": 1, "assignee": "not an object"});
    let response: CallToolResponse = CallToolResult::structured(odd).into();
    let CallToolResponse::Complete(result) = jira_mcp::server::conforming("get_issue", response)
    else {
        panic!("a complete result stays complete");
    };
    assert_ne!(result.is_error, Some(true));
    let fitted = json!({"key": "ED-1", "id": "10001", "updated": "1"});
    assert_eq!(result.structured_content.as_ref(), Some(&fitted));
    let ContentBlock::Text(text) = &result.content[0] else {
        panic!("a text block first");
    };
    assert_eq!(serde_json::from_str::<Value>(&text.text).unwrap(), fitted);
    check_structured("get_issue", &result);
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "[a-zA-Z0-9 :+.-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Values shaped like `schema` (its property names, arrays where it has
/// them), where any part may instead be any JSON at all: what a Jira of
/// unforeseen shapes gives the tools to pass through.
fn shaped(schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    let fitting = match schema["type"].as_str() {
        Some("object") if depth < 4 => {
            let properties: Vec<(String, BoxedStrategy<Value>)> = schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, s)| (name.clone(), shaped(s, depth + 1)))
                .collect();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            // The tools always set their required values themselves.
            let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = properties
                .into_iter()
                .map(|(name, s)| {
                    if required.contains(&name.as_str()) {
                        s.prop_map(move |v| Some((name.clone(), v))).boxed()
                    } else {
                        proptest::option::weighted(0.7, s.prop_map(move |v| (name.clone(), v)))
                            .boxed()
                    }
                })
                .collect();
            parts
                .prop_map(|kv| Value::Object(kv.into_iter().flatten().collect()))
                .boxed()
        }
        Some("array") if depth < 4 => {
            prop::collection::vec(shaped(&schema["items"], depth + 1), 0..3)
                .prop_map(Value::Array)
                .boxed()
        }
        Some("string") => "[a-zA-Z0-9 -]{0,10}".prop_map(Value::from).boxed(),
        Some("integer") => any::<u32>().prop_map(Value::from).boxed(),
        Some("boolean") => any::<bool>().prop_map(Value::from).boxed(),
        _ => any_json().boxed(),
    };
    if depth == 0 {
        return fitting;
    }
    prop_oneof![3 => fitting, 1 => any_json()].boxed()
}

/// Every tool's result, whatever values it passed through from Jira, comes
/// out of the conforming step fitting its declared schema, or as a tool
/// error naming the tool: 55 tools × 200 shaped-but-wrong results each,
/// fixed seed.
#[test]
fn any_result_is_made_to_fit_or_refused_with_a_message() {
    let mut fitted = 0;
    let mut adjusted = 0;
    let mut refused = 0;
    for tool in catalog::TOOLS {
        let schema = Value::Object((*catalog::output_schema(tool.name).unwrap()).clone());
        let config = ProptestConfig {
            cases: 200,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(17),
            ..ProptestConfig::default()
        };
        let mut runner = proptest::test_runner::TestRunner::new(config);
        let strategy = shaped(&schema, 0);
        for _ in 0..200 {
            let value = strategy.new_tree(&mut runner).unwrap().current();
            match catalog::conforming_result(tool.name, value.clone()) {
                Ok(out) => {
                    let errors = schema_errors(tool.name, &schema, &out.value);
                    assert!(errors.is_empty(), "{}\nfrom {value}", errors.join("\n"));
                    fitted += 1;
                    adjusted += usize::from(!out.adjusted.is_empty());
                }
                Err(message) => {
                    assert!(message.contains(&format!("`{}`", tool.name)), "{message}");
                    refused += 1;
                }
            }
        }
    }
    eprintln!("{fitted} fitted ({adjusted} adjusted), {refused} refused with a message");
    assert_eq!(fitted + refused, catalog::TOOLS.len() * 200);
    // Not vacuous: most results are made to fit, many after adjusting; the
    // rest have a required value of an impossible shape.
    assert!(
        fitted > refused && adjusted > 1000,
        "{fitted} {adjusted} {refused}"
    );
}
