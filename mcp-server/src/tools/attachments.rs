//! The `attachments` toolset (`catalog::Toolset::Attachments`): listing,
//! downloading and uploading attachments.
//!
//! One place per tool: its arguments, its `#[tool_router]` method, and its
//! Jira requests (methods of [`JiraClient`], on the shared core in `jira.rs`).

use std::future::Future;
use std::sync::Arc;

use reqwest::Method;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use rmcp::{ErrorData as McpError, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::IssueKey;
use crate::config::Deployment;
use crate::jira::{JiraClient, READ, ToolResult, WRITE, encode, strip_nulls, user};
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

/// The largest attachment the tools download or upload: bigger files would
/// flood the model's context (and base64 adds a third).
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;

/// Characters of a text attachment returned inline; the rest is cut with a note.
const MAX_INLINE_TEXT: usize = 200_000;

/// Raster image types MCP clients show as images.
const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A downloaded attachment: what it is, and its content in the form the tool
/// returns it.
#[derive(Debug, Clone)]
pub struct Download {
    /// Concise metadata (id, filename, size, MIME type, author, created).
    pub metadata: Value,
    /// The MIME type the content is returned as.
    pub mime_type: String,
    /// A URI naming the attachment (Jira's content URL).
    pub uri: String,
    /// The content.
    pub content: AttachmentContent,
}

/// An attachment's content, by how an MCP client should show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentContent {
    /// Text (text/*, JSON, XML), inline.
    Text(String),
    /// A raster image, base64.
    Image(String),
    /// Anything else, base64.
    Blob(String),
}

/// The concise form of an attachment.
fn attachment(a: &Value) -> Value {
    strip_nulls(json!({
        "id": id_text(&a["id"]), "filename": a["filename"], "size": a["size"],
        "mime_type": a["mimeType"], "author": user(&a["author"]), "created": a["created"],
    }))
}

/// Attachment ids come as strings (issue fields) or numbers (metadata).
fn id_text(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn attachment_id_of(id: &str) -> Result<&str, ToolError> {
    let id = id.trim();
    if !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(id);
    }
    Err(ToolError::new(format!(
        "`{}` is not an attachment id: give the numeric id from get_attachments",
        id.chars().take(40).collect::<String>()
    )))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn too_large(what: &str, content_url: &str) -> ToolError {
    let open = if content_url.is_empty() {
        String::new()
    } else {
        format!("; open it in Jira instead: {content_url}")
    };
    ToolError::new(format!(
        "{what}, more than this tool handles ({}){open}",
        mib(MAX_ATTACHMENT_BYTES)
    ))
}

/// How the content is returned: raster images as images, text inline (cut
/// at [`MAX_INLINE_TEXT`] characters), anything else as a blob.
fn content_of(mime_type: &str, body: &[u8], mut metadata: Value) -> (AttachmentContent, Value) {
    use base64::Engine as _;
    let base64 = || base64::engine::general_purpose::STANDARD.encode(body);
    if IMAGE_TYPES.contains(&mime_type) {
        metadata["returned_as"] = json!("image");
        return (AttachmentContent::Image(base64()), metadata);
    }
    if is_text(mime_type)
        && let Ok(text) = std::str::from_utf8(body)
    {
        metadata["returned_as"] = json!("text");
        let text = match text.char_indices().nth(MAX_INLINE_TEXT) {
            Some((cut, _)) => {
                metadata["text_cut_at_characters"] = json!(MAX_INLINE_TEXT);
                text[..cut].to_string()
            }
            None => text.to_string(),
        };
        return (AttachmentContent::Text(text), metadata);
    }
    metadata["returned_as"] = json!("resource");
    (AttachmentContent::Blob(base64()), metadata)
}

fn is_text(mime_type: &str) -> bool {
    let essence = mime_type.split(';').next().unwrap_or_default().trim();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || [
            "application/json",
            "application/xml",
            "application/javascript",
            "application/x-yaml",
            "application/yaml",
            "application/x-sh",
        ]
        .contains(&essence)
}

/// A file name for an upload: no path separators or control characters.
fn file_name(name: &str) -> Result<&str, ToolError> {
    let name = name.trim();
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.chars().count() > 255
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(ToolError::new(format!(
            "`{}` is not a file name: give a plain name like `report.pdf` (no folders, at most \
             255 characters)",
            name.chars().take(40).collect::<String>()
        )));
    }
    Ok(name)
}

/// Models often send a data URL (`data:image/png;base64,…`): its MIME type,
/// and the base64 after the comma.
fn strip_data_url(content: &str) -> (Option<&str>, &str) {
    let Some(rest) = content.trim_start().strip_prefix("data:") else {
        return (None, content);
    };
    match rest.split_once(',') {
        Some((head, data)) if head.len() < 200 => match head.strip_suffix(";base64") {
            Some(kind) => (Some(kind).filter(|k| !k.is_empty()), data),
            None => (None, content),
        },
        _ => (None, content),
    }
}

/// The decoded upload, refused past [`MAX_ATTACHMENT_BYTES`] before decoding.
fn decode_upload(content: &str) -> Result<Vec<u8>, ToolError> {
    use base64::Engine as _;
    let max_encoded = MAX_ATTACHMENT_BYTES.div_ceil(3) * 4;
    let too_big = || {
        ToolError::new(format!(
            "the file is larger than {} (the most this tool uploads); attach it in Jira directly",
            mib(MAX_ATTACHMENT_BYTES)
        ))
    };
    // Line breaks (MIME-style base64) are allowed, but not without bound.
    if content.len() as u64 > max_encoded + max_encoded / 38 + 4 {
        return Err(too_big());
    }
    let compact: String = content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.len() as u64 > max_encoded {
        return Err(too_big());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| {
            ToolError::new(format!(
                "`content_base64` is not standard base64 ({e}); encode the file's bytes with the \
                 standard alphabet and padding"
            ))
        })?;
    if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

fn mime(value: &str) -> Result<&str, ToolError> {
    let value = value.trim();
    let valid = value.split_once('/').is_some_and(|(kind, sub)| {
        !kind.is_empty()
            && !sub.is_empty()
            && value.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    });
    if valid {
        Ok(value)
    } else {
        Err(ToolError::new(format!(
            "`{}` is not a MIME type: give one like `text/plain` or `image/png`",
            value.chars().take(40).collect::<String>()
        )))
    }
}

/// A MIME type from the file extension, for the common kinds.
fn guess_mime(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "yaml" | "yml" => "application/yaml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

impl JiraClient {
    /// An issue's attachments, concisely.
    pub async fn get_attachments(&self, issue_key: &str) -> ToolResult {
        let key = self.issue(issue_key)?;
        let list = self.attachment_list(key).await?;
        let attachments: Vec<Value> = list.iter().map(attachment).collect();
        Ok(json!({"issue_key": key, "attachments": attachments}))
    }

    async fn attachment_list(&self, key: &str) -> Result<Vec<Value>, ToolError> {
        let issue = self
            .request(
                Method::GET,
                &format!("issue/{key}"),
                &[("fields", "attachment")],
                None,
                READ,
            )
            .await?;
        Ok(issue["fields"]["attachment"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Downloads an attachment of at most [`MAX_ATTACHMENT_BYTES`], checked
    /// against its metadata before the content is fetched. With a project
    /// allowlist, `issue_key` is required and must hold the attachment
    /// (attachment metadata does not name its issue).
    pub async fn download_attachment(
        &self,
        attachment_id: &str,
        issue_key: Option<&str>,
    ) -> Result<Download, ToolError> {
        let id = attachment_id_of(attachment_id)?;
        self.check_attachment_issue(id, issue_key).await?;
        let meta = self
            .request(Method::GET, &format!("attachment/{id}"), &[], None, READ)
            .await?;
        let size = meta["size"].as_u64().unwrap_or(0);
        let content_url = meta["content"].as_str().unwrap_or_default().to_string();
        if size > MAX_ATTACHMENT_BYTES {
            return Err(too_large(
                &format!("attachment {id} is {}", mib(size)),
                &content_url,
            ));
        }
        let response = self
            .jira
            .send_request(
                Method::GET,
                &self.content_path(id, &meta),
                self.content_query(),
                &[("Accept", "*/*")],
                None,
            )
            .await?;
        if !response.status.is_success() {
            return Err(match self.outcome(response, READ).await {
                Err(e) => e,
                Ok(_) => ToolError::new("Jira did not send the attachment's content"),
            });
        }
        if response.body.len() as u64 > MAX_ATTACHMENT_BYTES {
            let got = mib(response.body.len() as u64);
            return Err(too_large(
                &format!("attachment {id} came as {got}"),
                &content_url,
            ));
        }
        let mime_type = meta["mimeType"]
            .as_str()
            .unwrap_or("application/octet-stream")
            .to_ascii_lowercase();
        let (content, metadata) = content_of(&mime_type, &response.body, attachment(&meta));
        let uri = if content_url.is_empty() {
            format!("jira-attachment:{id}")
        } else {
            content_url
        };
        Ok(Download {
            metadata,
            mime_type,
            uri,
            content,
        })
    }

    /// With an allowlist, the attachment must be on an allowed issue.
    async fn check_attachment_issue(
        &self,
        id: &str,
        issue_key: Option<&str>,
    ) -> Result<(), ToolError> {
        let key = match (issue_key, &self.projects) {
            (Some(key), _) => self.issue(key)?,
            (None, Some(_)) => {
                return Err(ToolError::new(
                    "give `issue_key` too: this server is limited to some projects \
                     (JIRA_MCP_PROJECTS) and checks that the attachment is on an issue of one",
                ));
            }
            (None, None) => return Ok(()),
        };
        if self.projects.is_none() {
            return Ok(());
        }
        let list = self.attachment_list(key).await?;
        if list.iter().any(|a| id_text(&a["id"]) == id) {
            return Ok(());
        }
        Err(ToolError::new(format!(
            "attachment {id} is not on {key}; get_attachments lists the issue's attachments"
        )))
    }

    /// Where the content is: Cloud's `attachment/content/{id}`; on Data
    /// Center the `content` URL from the metadata (`secure/attachment/…`)
    /// when it lies under this site, else the same path built from the id.
    fn content_path(&self, id: &str, meta: &Value) -> String {
        if self.deployment == Deployment::Cloud {
            return self.path(&format!("attachment/content/{id}"));
        }
        let under_site = self.site_url.as_ref().and_then(|site| {
            let base = site.as_str().trim_end_matches('/');
            let tail = meta["content"].as_str()?.strip_prefix(base)?;
            tail.starts_with('/')
                .then(|| tail.trim_start_matches('/').to_string())
        });
        under_site.unwrap_or_else(|| {
            let name = meta["filename"].as_str().unwrap_or("file");
            format!("secure/attachment/{id}/{}", encode(name))
        })
    }

    /// Cloud serves the content itself with `redirect=false` rather than
    /// sending the client to the media service.
    fn content_query(&self) -> &'static [(&'static str, &'static str)] {
        match self.deployment {
            Deployment::Cloud => &[("redirect", "false")],
            Deployment::DataCenter => &[],
        }
    }

    /// Attaches a file given as base64 (never a local path: a prompt must not
    /// be able to send files from this machine). At most
    /// [`MAX_ATTACHMENT_BYTES`], checked before any request.
    pub async fn upload_attachment(
        &self,
        issue_key: &str,
        filename: &str,
        content_base64: &str,
        mime_type: Option<&str>,
    ) -> ToolResult {
        let key = self.issue(issue_key)?;
        let filename = file_name(filename)?;
        let (data_url_type, content_base64) = strip_data_url(content_base64);
        let content = decode_upload(content_base64)?;
        let mime_type = match mime_type.or(data_url_type) {
            Some(m) => mime(m)?.to_string(),
            None => guess_mime(filename).to_string(),
        };
        let body =
            gouqi_oauth::r#async::RequestBody::Multipart(vec![gouqi_oauth::r#async::FilePart {
                field: "file".into(),
                file_name: filename.to_string(),
                mime_type,
                content: bytes::Bytes::from(content),
            }]);
        let response = self
            .jira
            .send_request(
                Method::POST,
                &self.path(&format!("issue/{key}/attachments")),
                &[],
                // Jira refuses multipart uploads without it (XSRF check).
                &[("X-Atlassian-Token", "no-check")],
                Some(&body),
            )
            .await?;
        let added = self.outcome(response, WRITE).await?;
        let list: Vec<Value> = added
            .as_array()
            .into_iter()
            .flatten()
            .map(attachment)
            .collect();
        Ok(json!({"issue_key": key, "attached": list}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_content_is_returned_by_kind() {
        let meta = json!({});
        let (image, m) = content_of("image/png", b"\x89PNG", meta.clone());
        assert_eq!(image, AttachmentContent::Image("iVBORw==".into()));
        assert_eq!(m["returned_as"], "image");
        let (text, _) = content_of(
            "application/json; charset=utf-8",
            b"{\"a\":1}",
            meta.clone(),
        );
        assert_eq!(text, AttachmentContent::Text("{\"a\":1}".into()));
        let (svg, _) = content_of("image/svg+xml", b"<svg/>", meta.clone());
        assert_eq!(svg, AttachmentContent::Text("<svg/>".into()));
        // Text that is not UTF-8 is sent as a blob rather than mangled.
        let (latin1, _) = content_of("text/plain", b"caf\xe9", meta.clone());
        assert!(matches!(latin1, AttachmentContent::Blob(_)));
        let (pdf, m) = content_of("application/pdf", b"%PDF", meta.clone());
        assert_eq!(pdf, AttachmentContent::Blob("JVBERg==".into()));
        assert_eq!(m["returned_as"], "resource");
        let long = "é".repeat(MAX_INLINE_TEXT + 5);
        let (cut, m) = content_of("text/plain", long.as_bytes(), meta);
        assert_eq!(cut, AttachmentContent::Text("é".repeat(MAX_INLINE_TEXT)));
        assert_eq!(m["text_cut_at_characters"], MAX_INLINE_TEXT);
    }

    #[test]
    fn uploads_are_bounded_before_decoding() {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let limit = usize::try_from(MAX_ATTACHMENT_BYTES).unwrap();
        assert_eq!(
            decode_upload(&engine.encode(vec![7u8; limit]))
                .unwrap()
                .len(),
            limit
        );
        let over = engine.encode(vec![7u8; limit + 1]);
        assert!(
            decode_upload(&over)
                .unwrap_err()
                .message
                .contains("larger than 10.0 MiB")
        );
        let wrapped = "aGVs\nbG8=\n";
        assert_eq!(decode_upload(wrapped).unwrap(), b"hello");
        assert!(decode_upload("not base64!").is_err());
        assert_eq!(
            strip_data_url("data:image/png;base64,iVBORw=="),
            (Some("image/png"), "iVBORw==")
        );
        assert_eq!(strip_data_url("iVBORw=="), (None, "iVBORw=="));
        assert_eq!(strip_data_url("data:,x"), (None, "data:,x"));
        for bad in ["", "..", "a/b.txt", "..\\x", "a\nb"] {
            assert!(file_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(file_name(" notes.txt ").unwrap(), "notes.txt");
        assert_eq!(guess_mime("Shot.PNG"), "image/png");
        assert_eq!(guess_mime("data"), "application/octet-stream");
        assert!(mime("text").is_err() && mime("text/plain").is_ok());
    }
}
