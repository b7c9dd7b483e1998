//! Every request the Cloud tools send fits Atlassian's Jira Cloud platform
//! spec: the operation exists, its required query parameters are present,
//! and the JSON body validates against the operation's request schema.

use e2e_tests::binary::{self, call};
use e2e_tests::sim::{Options, Simulator};
use e2e_tests::spec::JiraSpec;
use serde_json::{Value, json};

/// Each Cloud Jira tool with arguments that exercise its request shape.
fn tool_calls() -> Vec<(&'static str, Value)> {
    let rich = "# Plan\n\nSome **bold** and _italic_ text, `code`, a [link](https://example.com).\n\n- one\n- two\n\n```rust\nfn main() {}\n```";
    vec![
        ("get_current_user", json!({})),
        (
            "get_issue",
            json!({"issue_key": "ED-1", "fields": ["duedate"]}),
        ),
        (
            "search_issues",
            json!({"jql": "project = ED ORDER BY created DESC", "max_results": 5}),
        ),
        ("list_projects", json!({"query": "ED", "max_results": 10})),
        ("lookup_account_id", json!({"query": "mia"})),
        ("get_issue_link_types", json!({})),
        ("get_project_issue_types", json!({"project_key": "ED"})),
        (
            "get_create_fields",
            json!({"project_key": "ED", "issue_type": "Task"}),
        ),
        ("get_remote_issue_links", json!({"issue_key": "ED-1"})),
        ("get_transitions", json!({"issue_key": "ED-1"})),
        (
            "create_issue",
            json!({"project_key": "ED", "issue_type": "Task", "summary": "Spec check", "description": rich, "fields": {"labels": ["spec"]}}),
        ),
        (
            "edit_issue",
            json!({"issue_key": "ED-1", "summary": "Renamed", "description": rich}),
        ),
        ("add_comment", json!({"issue_key": "ED-1", "body": rich})),
        (
            "add_worklog",
            json!({"issue_key": "ED-1", "time_spent": "1h 30m", "comment": rich, "started": "2026-11-27T09:00:00.000+0000"}),
        ),
        (
            "create_issue_link",
            json!({"link_type": "Blocks", "inward_issue": "ED-1", "outward_issue": "ED-2", "comment": rich}),
        ),
        (
            "transition_issue",
            json!({"issue_key": "ED-1", "transition": "Done", "comment": rich}),
        ),
    ]
}

#[tokio::test]
async fn every_cloud_tool_request_fits_the_jira_cloud_spec() {
    let spec = JiraSpec::load().unwrap();
    let sim = Simulator::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let env = sim.env(
        &binary::free_redirect_uri(),
        &dir.path().join("tokens.json"),
    );
    assert!(binary::login(&env).await.success);
    let (client, _) = binary::serve(&env).await;
    for (tool, args) in tool_calls() {
        let (is_error, text) = call(&client, tool, args).await;
        assert!(!is_error, "{tool}: {text}");
    }

    let requests = sim.jira_requests().await;
    assert!(requests.len() >= tool_calls().len(), "{requests:?}");
    let failures: Vec<String> = requests
        .iter()
        .filter_map(|(method, path, query, body)| {
            spec.check(method, path, query, body.as_ref()).err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The checker itself: each kind of mistake is caught.
#[test]
fn the_spec_check_rejects_what_jira_would() {
    let spec = JiraSpec::load().unwrap();
    let ok = spec.check("GET", "/rest/api/3/issue/ED-1", &[], None);
    assert!(ok.is_ok(), "{ok:?}");
    let unknown = spec.check("GET", "/rest/api/3/no-such-thing", &[], None);
    assert!(unknown.unwrap_err().contains("no such operation"));
    let wrong_method = spec.check("PATCH", "/rest/api/3/issue/ED-1", &[], None);
    assert!(wrong_method.is_err());
    let missing_query = spec.check("GET", "/rest/api/3/groupuserpicker", &[], None);
    assert!(missing_query.unwrap_err().contains("query"));
    let with_query = spec.check(
        "GET",
        "/rest/api/3/groupuserpicker",
        &["query".into()],
        None,
    );
    assert!(with_query.is_ok(), "{with_query:?}");
    let bad_body = spec.check(
        "POST",
        "/rest/api/3/search/jql",
        &[],
        Some(&json!({"jql": "project = ED", "maxResults": "twenty"})),
    );
    assert!(bad_body.unwrap_err().contains("maxResults"));
    let good_body = spec.check(
        "POST",
        "/rest/api/3/search/jql",
        &[],
        Some(&json!({"jql": "project = ED", "maxResults": 20, "fields": ["summary"]})),
    );
    assert!(good_body.is_ok(), "{good_body:?}");
}

/// Unassigning sends `{"accountId": null}`, which the operation's description
/// documents though its schema says `string`: accepted there, and only there.
#[test]
fn a_documented_null_is_accepted_only_where_it_is_documented() {
    let spec = JiraSpec::load().unwrap();
    let assignee = "/rest/api/3/issue/ED-1/assignee";
    assert!(
        spec.check("PUT", assignee, &[], Some(&json!({"accountId": null})))
            .is_ok()
    );
    assert!(
        spec.check("PUT", assignee, &[], Some(&json!({"accountId": 5})))
            .is_err()
    );
    let watcher_delete = spec.check(
        "POST",
        "/rest/api/3/issue/ED-1/watchers",
        &[],
        Some(&json!({"accountId": null})),
    );
    assert!(watcher_delete.is_err(), "{watcher_delete:?}");
}
