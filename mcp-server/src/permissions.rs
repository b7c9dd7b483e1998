//! Permission-aware listing (`JIRA_MCP_PERMISSION_AWARE`): which Jira
//! permission each write tool needs, and which tools to hide given Jira's
//! `mypermissions` answer.
//!
//! The check asks without a project or issue, so Jira answers whether the
//! user holds each permission in at least one project: a tool is hidden only
//! when it could not work anywhere. Per-project refusals still come from Jira
//! (403) when the tool is called.

use std::collections::BTreeSet;

use serde_json::Value;

/// The setting that turns the check on, for messages.
pub const SETTING: &str = "JIRA_MCP_PERMISSION_AWARE";

/// Every write tool and the Jira permission keys it needs: holding any one of
/// its keys is enough. Key names are those of Jira Cloud's "Get my
/// permissions" (`rest/api/3/mypermissions`), which Data Center shares.
///
/// `add_watcher` and `remove_watcher` need `MANAGE_WATCHERS` here, although
/// Jira lets anyone who can see an issue watch it themselves: with the check
/// on, a user without `MANAGE_WATCHERS` loses self-watching through these
/// tools too (kept simple on purpose).
pub const NEEDS: &[(&str, &[&str])] = &[
    ("create_issue", &["CREATE_ISSUES"]),
    ("batch_create_issues", &["CREATE_ISSUES"]),
    ("edit_issue", &["EDIT_ISSUES"]),
    ("set_issue_parent", &["EDIT_ISSUES"]),
    ("delete_issue", &["DELETE_ISSUES"]),
    ("assign_issue", &["ASSIGN_ISSUES"]),
    ("transition_issue", &["TRANSITION_ISSUES"]),
    ("add_comment", &["ADD_COMMENTS"]),
    ("edit_comment", &["EDIT_OWN_COMMENTS", "EDIT_ALL_COMMENTS"]),
    ("add_worklog", &["WORK_ON_ISSUES"]),
    ("create_issue_link", &["LINK_ISSUES"]),
    ("remove_issue_link", &["LINK_ISSUES"]),
    ("create_remote_issue_link", &["LINK_ISSUES"]),
    ("upload_attachment", &["CREATE_ATTACHMENTS"]),
    ("add_watcher", &["MANAGE_WATCHERS"]),
    ("remove_watcher", &["MANAGE_WATCHERS"]),
    ("create_sprint", &["MANAGE_SPRINTS_PERMISSION"]),
    ("update_sprint", &["MANAGE_SPRINTS_PERMISSION"]),
    ("move_issues_to_sprint", &["MANAGE_SPRINTS_PERMISSION"]),
    ("create_version", &["ADMINISTER_PROJECTS"]),
    ("update_version", &["ADMINISTER_PROJECTS"]),
    ("create_component", &["ADMINISTER_PROJECTS"]),
];

/// The permission keys `tool` needs (any one of them), or `None` for a tool
/// that needs no permission check (it does not change Jira).
pub fn needed(tool: &str) -> Option<&'static [&'static str]> {
    NEEDS
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, keys)| *keys)
}

/// The keys to ask Jira about for the tools `offered` accepts (the admin
/// controls may have removed some), without repeats, in a stable order.
/// Empty when no offered tool needs a check.
pub fn keys(offered: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let keys: BTreeSet<&'static str> = NEEDS
        .iter()
        .filter(|(tool, _)| offered(tool))
        .flat_map(|(_, keys)| keys.iter().copied())
        .collect();
    keys.into_iter().collect()
}

/// The tools to hide, given Jira's `mypermissions` answer
/// (`{"permissions": {"CREATE_ISSUES": {"havePermission": false, …}}}`): those
/// for which Jira says `havePermission: false` to every key they need. A key
/// missing from the answer, or without a boolean `havePermission`, counts as
/// held: only an explicit "no" hides a tool.
///
/// An answer without a `permissions` object is an error (the caller then
/// hides nothing).
pub fn hidden(answer: &Value) -> Result<BTreeSet<&'static str>, String> {
    let Some(permissions) = answer.get("permissions").and_then(Value::as_object) else {
        return Err("Jira's mypermissions answer has no `permissions` object".to_string());
    };
    let denied = |key: &str| {
        permissions
            .get(key)
            .and_then(|p| p.get("havePermission"))
            .and_then(Value::as_bool)
            == Some(false)
    };
    Ok(NEEDS
        .iter()
        .filter(|(_, keys)| keys.iter().all(|key| denied(key)))
        .map(|(tool, _)| *tool)
        .collect())
}

/// The error a hidden tool gets when it is called by name anyway.
pub fn refusal(tool: &str) -> String {
    let keys = needed(tool).unwrap_or_default();
    let missing = match keys {
        [one] => format!("the `{one}` permission"),
        many => format!(
            "any of the permissions {}",
            many.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "`{tool}` is not available: your Jira account lacks {missing} in every project \
         (this server hides tools the account cannot use because {SETTING}=true). \
         Ask a Jira administrator for the permission, then log in again"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_an_explicit_no_to_every_key_hides_a_tool() {
        let answer = json!({"permissions": {
            "CREATE_ISSUES": {"havePermission": false},
            "EDIT_OWN_COMMENTS": {"havePermission": false},
            "EDIT_ALL_COMMENTS": {"havePermission": true},
            "DELETE_ISSUES": {"havePermission": "false"},
            "LINK_ISSUES": {"havePermission": false},
        }});
        let hidden = hidden(&answer).unwrap();
        let expected: BTreeSet<&str> = [
            "create_issue",
            "batch_create_issues",
            "create_issue_link",
            "remove_issue_link",
            "create_remote_issue_link",
        ]
        .into();
        assert_eq!(hidden, expected);
    }

    #[test]
    fn an_answer_without_permissions_is_an_error() {
        assert!(hidden(&json!([])).is_err());
        assert!(hidden(&json!({"permissions": []})).is_err());
        assert_eq!(hidden(&json!({"permissions": {}})), Ok(BTreeSet::new()));
    }

    #[test]
    fn keys_are_asked_once_and_only_for_offered_tools() {
        let all = keys(|_| true);
        assert!(all.contains(&"CREATE_ISSUES") && all.contains(&"MANAGE_WATCHERS"));
        assert_eq!(all.iter().filter(|k| **k == "LINK_ISSUES").count(), 1);
        assert_eq!(
            keys(|t| t == "edit_comment"),
            ["EDIT_ALL_COMMENTS", "EDIT_OWN_COMMENTS"]
        );
        assert!(keys(|_| false).is_empty());
    }

    #[test]
    fn the_refusal_names_the_permission_and_the_setting() {
        let one = refusal("create_issue");
        assert!(
            one.contains("`CREATE_ISSUES`") && one.contains(SETTING),
            "{one}"
        );
        let either = refusal("edit_comment");
        assert!(
            either.contains("`EDIT_OWN_COMMENTS`, `EDIT_ALL_COMMENTS`"),
            "{either}"
        );
    }
}
