//! The `links` toolset (`catalog::Toolset::Links`): issue links and remote (web) links.
//!
//! One place per tool: its arguments, its `#[tool_router]` method, and its
//! Jira requests (methods of [`JiraClient`], on the shared core in `jira.rs`).

use reqwest::Method;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::{IssueKey, NoArgs};
use crate::jira::{
    JiraClient, MAX_DESCRIPTION, READ, ToolResult, WRITE, bounded, numeric_id, required_text,
};
use crate::server::JiraMcp;
use crate::tool_error::ToolError;

/// Arguments of `create_issue_link`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateIssueLink {
    /// The link type name, e.g. `Blocks` (see `get_issue_link_types`).
    pub link_type: String,
    /// The issue on the inward side (for `Blocks`: the one that is blocked).
    pub inward_issue: String,
    /// The issue on the outward side (for `Blocks`: the one that blocks).
    pub outward_issue: String,
    /// A comment to add to the inward issue (Markdown or plain text).
    #[serde(default)]
    pub comment: Option<String>,
}

/// Arguments of `remove_issue_link`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RemoveIssueLink {
    /// The numeric id of the issue link, e.g. `10001` (get_issue with `fields: ["issuelinks"]` shows each link's id).
    pub link_id: String,
}

/// Arguments of `create_remote_issue_link`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateRemoteIssueLink {
    /// The issue key, e.g. `ED-1`.
    pub issue_key: String,
    /// The web address to link, an absolute `http` or `https` URL.
    pub url: String,
    /// The link text shown on the issue.
    pub title: String,
    /// A short description shown with the link.
    #[serde(default)]
    pub summary: Option<String>,
    /// How the page relates to the issue, e.g. `mentioned in`, `pull request` (Jira groups links by it).
    #[serde(default)]
    pub relationship: Option<String>,
}

#[tool_router(router = links_router, vis = "pub(crate)")]
impl JiraMcp {
    /// Lists an issue's remote links (web pages, Confluence pages…).
    #[tool(annotations(
        title = "Get remote issue links",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_remote_issue_links(
        &self,
        Parameters(a): Parameters<IssueKey>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_remote_issue_links(&a.issue_key).await })
            .await
    }

    /// Lists the issue link types (Blocks, Relates, Duplicate…).
    #[tool(annotations(
        title = "Get issue link types",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_issue_link_types(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_issue_link_types().await })
            .await
    }

    /// Links two issues with a link type.
    #[tool(annotations(
        title = "Create issue link",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn create_issue_link(
        &self,
        Parameters(a): Parameters<CreateIssueLink>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.create_issue_link(
                &a.link_type,
                &a.inward_issue,
                &a.outward_issue,
                a.comment.as_deref(),
            )
            .await
        })
        .await
    }

    /// Deletes one issue link (the link only, not the issues) by its id, and says which issues it joined. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Remove issue link",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn remove_issue_link(
        &self,
        Parameters(a): Parameters<RemoveIssueLink>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.remove_issue_link(&a.link_id).await })
            .await
    }

    /// Adds a web link (http or https) to an issue, shown under its links. Same on Cloud and Data Center.
    #[tool(annotations(
        title = "Create remote issue link",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn create_remote_issue_link(
        &self,
        Parameters(a): Parameters<CreateRemoteIssueLink>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.create_remote_issue_link(
                &a.issue_key,
                &a.url,
                &a.title,
                a.summary.as_deref(),
                a.relationship.as_deref(),
            )
            .await
        })
        .await
    }
}

/// The longest link URL taken.
const MAX_URL: usize = 8_000;

/// An absolute http(s) URL: other schemes (javascript:, file:) would be
/// shown to every user of the issue as a clickable link.
fn web_url(text: &str) -> Result<String, ToolError> {
    let refuse = |why: &str| {
        ToolError::new(format!(
            "`url` must be an absolute http or https URL like https://example.com/page: {why}"
        ))
    };
    if text.len() > MAX_URL {
        return Err(refuse(&format!("it is longer than {MAX_URL} bytes")));
    }
    let url = Url::parse(text.trim()).map_err(|e| refuse(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        let scheme: String = url.scheme().chars().take(20).collect();
        return Err(refuse(&format!("`{scheme}:` is not allowed")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("it has no host"));
    }
    Ok(url.to_string())
}

impl JiraClient {
    /// The issue's links to other systems (Confluence pages, web links…).
    pub async fn get_remote_issue_links(&self, key: &str) -> ToolResult {
        let links = self
            .request(
                Method::GET,
                &format!("issue/{}/remotelink", self.issue(key)?),
                &[],
                None,
                READ,
            )
            .await?;
        let list = links.as_array().into_iter().flatten().map(|l| {
            json!({"id": l["id"], "title": l["object"]["title"], "url": l["object"]["url"], "relationship": l["relationship"], "application": l["application"]["name"]})
        });
        Ok(json!({"key": key, "links": list.collect::<Vec<_>>()}))
    }

    /// The link types (Blocks, Relates…).
    pub async fn get_issue_link_types(&self) -> ToolResult {
        let answer = self
            .request(Method::GET, "issueLinkType", &[], None, READ)
            .await?;
        let list = answer["issueLinkTypes"].as_array().into_iter().flatten().map(|t| json!({"id": t["id"], "name": t["name"], "inward": t["inward"], "outward": t["outward"]}));
        Ok(json!({"link_types": list.collect::<Vec<_>>()}))
    }

    /// Links two issues: `outward_issue` `<outward verb>` `inward_issue`.
    pub async fn create_issue_link(
        &self,
        link_type: &str,
        inward_issue: &str,
        outward_issue: &str,
        comment: Option<&str>,
    ) -> ToolResult {
        let (inward, outward) = (self.issue(inward_issue)?, self.issue(outward_issue)?);
        let mut body = json!({"type": {"name": link_type}, "inwardIssue": {"key": inward}, "outwardIssue": {"key": outward}});
        if let Some(text) = comment {
            body["comment"] = json!({"body": self.rich_text(text)});
        }
        self.request(Method::POST, "issueLink", &[], Some(&body), WRITE)
            .await?;
        Ok(
            json!({"linked": true, "type": link_type, "inward_issue": inward_issue, "outward_issue": outward_issue}),
        )
    }

    /// Deletes an issue link by id, after reading it to name what was
    /// unlinked and to check both issues against the project allowlist.
    pub async fn remove_issue_link(&self, link_id: &str) -> ToolResult {
        let id = numeric_id("link_id", link_id)?;
        let tail = format!("issueLink/{id}");
        let link = self.request(Method::GET, &tail, &[], None, READ).await?;
        let inward = link["inwardIssue"]["key"].as_str().unwrap_or_default();
        let outward = link["outwardIssue"]["key"].as_str().unwrap_or_default();
        if self.projects.is_some() {
            self.issue(inward)?;
            self.issue(outward)?;
        }
        self.request(Method::DELETE, &tail, &[], None, WRITE)
            .await?;
        Ok(json!({
            "removed": true, "link_id": id, "type": link["type"]["name"],
            "outward_issue": outward, "inward_issue": inward,
            "was": format!("{outward} {} {inward}", link["type"]["outward"].as_str().unwrap_or("links to")),
        }))
    }

    /// Adds a web link (http or https only) to an issue.
    pub async fn create_remote_issue_link(
        &self,
        issue_key: &str,
        url: &str,
        title: &str,
        summary: Option<&str>,
        relationship: Option<&str>,
    ) -> ToolResult {
        let key = self.issue(issue_key)?;
        let url = web_url(url)?;
        let title = required_text("title", title, 255)?;
        let mut object = json!({"url": url, "title": title});
        if let Some(text) = summary {
            object["summary"] = json!(bounded("summary", text, MAX_DESCRIPTION)?);
        }
        let mut body = json!({"object": object});
        if let Some(text) = relationship {
            body["relationship"] = json!(required_text("relationship", text, 255)?);
        }
        let tail = format!("issue/{key}/remotelink");
        let answer = self
            .request(Method::POST, &tail, &[], Some(&body), WRITE)
            .await?;
        Ok(json!({"issue_key": key, "id": answer["id"], "url": url, "title": title}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_urls_are_taken() {
        assert!(web_url("https://example.com/x?y=1").is_ok());
        assert!(web_url("http://example.com").is_ok());
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "example.com",
            "ftp://x.org",
            "https://",
        ] {
            assert!(web_url(bad).is_err(), "{bad}");
        }
    }
}
