//! The MCP tools, one file per toolset (`catalog::Toolset`): each holds its
//! tools' argument types and `#[tool_router]` block. What they share is here.

mod admin;
mod agile;
mod attachments;
mod auth;
mod comments;
mod issues;
mod links;
mod projects;
mod users;

pub use attachments::MAX_ATTACHMENT_BYTES;
use rmcp::schemars;
use serde::Deserialize;

use crate::jira::Page;
use crate::tool_error::ToolError;

/// No arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NoArgs {}

/// Arguments naming one issue.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct IssueKey {
    /// The issue key, e.g. `ED-1`.
    pub issue_key: String,
}

pub(crate) fn page(start_at: Option<u32>, max_results: Option<u32>, default: u32) -> Page {
    Page {
        start_at: start_at.unwrap_or(0),
        max_results: max_results.unwrap_or(default),
    }
}

/// True for newest first; an unknown order is refused by the caller.
pub(crate) fn newest_first(order_by: Option<&str>) -> Result<bool, ToolError> {
    match order_by.map(str::trim) {
        None | Some("newest") | Some("-created") => Ok(true),
        Some("oldest") | Some("created") => Ok(false),
        Some(other) => Err(ToolError::new(format!(
            "`order_by` must be `newest` or `oldest`, not `{}`",
            other.chars().take(40).collect::<String>()
        ))),
    }
}
