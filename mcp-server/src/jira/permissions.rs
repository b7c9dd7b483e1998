//! The Jira request behind permission-aware listing
//! (`JIRA_MCP_PERMISSION_AWARE`; the logic is in [`crate::permissions`]).

use reqwest::Method;

use super::{JiraClient, READ, ToolResult};

impl JiraClient {
    /// `GET mypermissions?permissions=KEY1,KEY2,…`: whether the user holds
    /// each of `keys` (in at least one project), as Jira answers it:
    /// `{"permissions": {"CREATE_ISSUES": {"havePermission": true, …}}}`.
    /// Cloud requires the `permissions` parameter.
    pub async fn my_permissions(&self, keys: &[&str]) -> ToolResult {
        let keys = keys.join(",");
        self.request(
            Method::GET,
            "mypermissions",
            &[("permissions", &keys)],
            None,
            READ,
        )
        .await
    }
}
