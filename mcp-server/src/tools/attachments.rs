//! The `attachments` toolset (`catalog::Toolset::Attachments`): listing, downloading and uploading attachments. Each tool's
//! arguments, and its mapping onto the Jira requests of [`JiraClient`].

use std::future::Future;
use std::sync::Arc;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;

use super::IssueKey;
use crate::jira::{AttachmentContent, Download, JiraClient, MAX_ATTACHMENT_BYTES};
use crate::server::{JiraMcp, result};
use crate::tool_error::ToolError;

/// Arguments of `download_attachment`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DownloadAttachment {
    /// The attachment id, from `get_attachments`.
    pub attachment_id: String,
    /// The issue the attachment is on (required when the server is limited to some projects).
    #[serde(default)]
    pub issue_key: Option<String>,
}

/// Arguments of `upload_attachment`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UploadAttachment {
    /// The issue key, e.g. `ED-1`.
    pub issue_key: String,
    /// The file name to show in Jira, e.g. `screenshot.png` (a name, not a path).
    pub filename: String,
    /// The file's bytes in standard base64, or a `data:<mime>;base64,...` URL (at most 10 MiB decoded).
    pub content_base64: String,
    /// The MIME type, e.g. `image/png` (default: a data URL's type, else guessed from the file name).
    #[serde(default)]
    pub mime_type: Option<String>,
}

/// A downloaded attachment as MCP content: its metadata as JSON text, then
/// the content as an image, as text, or as an embedded blob resource. The
/// metadata (with `returned_as`, saying which) is also the structured result.
fn download_result(download: Download) -> CallToolResult {
    let metadata = ContentBlock::text(download.metadata.to_string());
    let content = match download.content {
        AttachmentContent::Image(data) => ContentBlock::image(data, download.mime_type),
        AttachmentContent::Text(text) => ContentBlock::text(text),
        AttachmentContent::Blob(data) => ContentBlock::resource(
            ResourceContents::blob(data, download.uri).with_mime_type(download.mime_type),
        ),
    };
    let mut result = CallToolResult::success(vec![metadata, content]);
    result.structured_content = Some(download.metadata);
    result
}

impl JiraMcp {
    /// Like `with_jira`, for a tool whose result is more than one JSON value
    /// (content blocks); errors are reported the same way.
    async fn with_jira_result<F, Fut, T>(
        &self,
        f: F,
        success: fn(T) -> CallToolResult,
    ) -> Result<CallToolResult, McpError>
    where
        F: FnOnce(Arc<JiraClient>) -> Fut,
        Fut: Future<Output = Result<T, ToolError>>,
    {
        let outcome = match self.state.jira().await {
            Ok(jira) => f(jira).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(value) => Ok(success(value)),
            Err(e) => Ok(result(Err(e))),
        }
    }
}

// The cap is stated in the descriptions above.
const _: () = assert!(MAX_ATTACHMENT_BYTES == 10 * 1024 * 1024);

#[tool_router(router = attachments_router, vis = "pub(crate)")]
impl JiraMcp {
    /// Lists an issue's attachments: id, file name, size, MIME type, author and date. Cloud and Data Center alike (Cloud names authors by account id, Data Center by user name).
    #[tool(annotations(
        title = "Get attachments",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn get_attachments(
        &self,
        Parameters(a): Parameters<IssueKey>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move { j.get_attachments(&a.issue_key).await })
            .await
    }

    /// Downloads one attachment (at most 10 MiB, checked before downloading): its metadata, then the content as an image (PNG, JPEG, GIF, WebP), as text (text, JSON, XML; long text is cut) or as an embedded binary resource. Cloud reads `attachment/content/{id}`; Data Center the attachment's `secure/attachment/...` URL.
    #[tool(annotations(
        title = "Download attachment",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn download_attachment(
        &self,
        Parameters(a): Parameters<DownloadAttachment>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira_result(
            |j| async move {
                j.download_attachment(&a.attachment_id, a.issue_key.as_deref())
                    .await
            },
            download_result,
        )
        .await
    }

    /// Attaches a file to an issue. The file is given as base64 content with a file name (never a local path), at most 10 MiB. Cloud and Data Center alike.
    #[tool(annotations(
        title = "Upload attachment",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn upload_attachment(
        &self,
        Parameters(a): Parameters<UploadAttachment>,
    ) -> Result<CallToolResult, McpError> {
        self.with_jira(|j| async move {
            j.upload_attachment(
                &a.issue_key,
                &a.filename,
                &a.content_base64,
                a.mime_type.as_deref(),
            )
            .await
        })
        .await
    }
}
