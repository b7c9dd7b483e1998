//! The Jira requests of the `links` tools: issue links and remote (web) links.

use crate::tool_error::ToolError;
use reqwest::Method;
use serde_json::json;
use url::Url;

use super::{
    JiraClient, MAX_DESCRIPTION, READ, ToolResult, WRITE, bounded, numeric_id, required_text,
};

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

    /// Links two issues: `outward_issue` <outward verb> `inward_issue`.
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
