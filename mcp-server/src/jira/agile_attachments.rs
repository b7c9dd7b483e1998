//! The Jira logic behind the agile (Jira Software boards, backlogs, sprints)
//! and attachment tools. The agile API is `rest/agile/1.0/…` on Cloud and
//! Data Center alike; attachments use the platform API (`rest/api/{3|2}`).

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{
    JiraClient, READ, SEARCH_FIELDS, ToolResult, WRITE, encode, field_list, insert, strip_nulls,
    user,
};
use crate::bounds::{DEFAULT_TEXT_CHARS, TextLimit};
use crate::config::Deployment;
use crate::tool_error::ToolError;
use crate::{input, jql};

/// The Jira Software REST API, the same on Cloud and Data Center.
const AGILE_API: &str = "rest/agile/1.0";
/// Jira takes at most 50 issues per "move issues to sprint" request.
pub const MAX_SPRINT_ISSUES: usize = 50;
/// Board types the agile API knows (`simple` is Cloud's team-managed board).
const BOARD_TYPES: [&str; 3] = ["scrum", "kanban", "simple"];
/// Sprint states the agile API knows.
const SPRINT_STATES: [&str; 3] = ["future", "active", "closed"];
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

/// Where an agile issue list comes from, for the paging advice.
struct IssuePage<'a> {
    tail: String,
    jql: Option<&'a str>,
    fields: &'a [String],
    start_at: u32,
    max_results: u32,
}

/// What `update_sprint` changes; `None` leaves a value as it is.
#[derive(Debug, Default, Clone)]
pub struct SprintChange {
    /// A new name.
    pub name: Option<String>,
    /// A new start date (ISO 8601).
    pub start_date: Option<String>,
    /// A new end date (ISO 8601).
    pub end_date: Option<String>,
    /// A new goal.
    pub goal: Option<String>,
    /// `active` to start the sprint, `closed` to complete it.
    pub state: Option<String>,
}

/// `rest/agile/1.0/{tail}`: the agile sibling of [`JiraClient::path`].
fn agile_path(tail: &str) -> String {
    format!("{AGILE_API}/{tail}")
}

impl JiraClient {
    async fn agile(
        &self,
        method: Method,
        tail: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        scope: &str,
    ) -> ToolResult {
        let response = self
            .jira
            .send(method, &agile_path(tail), query, body)
            .await?;
        self.outcome(response, scope).await
    }

    /// True when the allowlist (if any) admits a board's project.
    fn board_reachable(&self, board: &Value) -> bool {
        match (&self.projects, board["location"]["projectKey"].as_str()) {
            (None, _) => true,
            (Some(allowed), Some(key)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(key)),
            (Some(_), None) => false,
        }
    }

    /// With an allowlist, refuses a board outside it (one request); without
    /// one, sends nothing.
    async fn check_board(&self, board_id: u64) -> Result<(), ToolError> {
        let Some(allowed) = &self.projects else {
            return Ok(());
        };
        let board = self
            .agile(Method::GET, &format!("board/{board_id}"), &[], None, READ)
            .await?;
        if self.board_reachable(&board) {
            return Ok(());
        }
        Err(ToolError::new(format!(
            "board {board_id} belongs to {}, outside the projects this server may reach: {} \
             (JIRA_MCP_PROJECTS)",
            board["location"]["projectKey"]
                .as_str()
                .map_or_else(|| "no project".to_string(), |k| format!("project `{k}`")),
            allowed.join(", ")
        )))
    }

    /// Boards, optionally of one project or type, hiding boards outside the
    /// project allowlist.
    pub async fn list_boards(
        &self,
        project_key: Option<&str>,
        board_type: Option<&str>,
        name: Option<&str>,
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=50)?.to_string();
        let start = start_at.to_string();
        let mut query = vec![("startAt", start.as_str()), ("maxResults", max.as_str())];
        if let Some(key) = project_key {
            query.push(("projectKeyOrId", self.project(key)?));
        }
        if let Some(kind) = board_type {
            query.push(("type", one_of("board_type", kind, &BOARD_TYPES)?));
        }
        if let Some(text) = name {
            query.push(("name", text));
        }
        let page = self.agile(Method::GET, "board", &query, None, READ).await?;
        let all = page["values"].as_array().cloned().unwrap_or_default();
        let boards: Vec<Value> = all
            .iter()
            .filter(|b| self.board_reachable(b))
            .map(board)
            .collect();
        let hidden = all.len() - boards.len();
        let mut out = paging(&page, start_at, all.len());
        insert(&mut out, "boards", Value::Array(boards));
        if hidden > 0 {
            out.insert("hidden_outside_allowed_projects".into(), json!(hidden));
        }
        Ok(Value::Object(out))
    }

    /// The issues on a board (all its columns), optionally filtered by JQL.
    pub async fn get_board_issues(
        &self,
        board_id: u64,
        jql: Option<&str>,
        fields: &[String],
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let board_id = positive("board_id", board_id)?;
        self.issue_page(IssuePage {
            tail: format!("board/{board_id}/issue"),
            jql,
            fields,
            start_at,
            max_results,
        })
        .await
    }

    /// The issues in a board's backlog (not in an active or future sprint).
    pub async fn get_backlog_issues(
        &self,
        board_id: u64,
        jql: Option<&str>,
        fields: &[String],
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let board_id = positive("board_id", board_id)?;
        self.issue_page(IssuePage {
            tail: format!("board/{board_id}/backlog"),
            jql,
            fields,
            start_at,
            max_results,
        })
        .await
    }

    /// The issues in a sprint.
    pub async fn get_sprint_issues(
        &self,
        sprint_id: u64,
        jql: Option<&str>,
        fields: &[String],
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let sprint_id = positive("sprint_id", sprint_id)?;
        self.issue_page(IssuePage {
            tail: format!("sprint/{sprint_id}/issue"),
            jql,
            fields,
            start_at,
            max_results,
        })
        .await
    }

    /// One page of an agile issue list, concise like search results. With an
    /// allowlist the JQL is scoped to it, so issues elsewhere never come back.
    async fn issue_page(&self, page: IssuePage<'_>) -> ToolResult {
        let max = input::in_range("max_results", page.max_results, 1..=100)?.to_string();
        let wanted = field_list(&SEARCH_FIELDS, page.fields);
        let jql = match (&self.projects, page.jql) {
            (Some(allowed), jql) => Some(jql::scoped(jql.unwrap_or_default(), allowed)?),
            (None, jql) => jql.filter(|q| !q.trim().is_empty()).map(String::from),
        };
        let start = page.start_at.to_string();
        let mut query = vec![
            ("startAt", start.as_str()),
            ("maxResults", max.as_str()),
            ("fields", wanted.as_str()),
        ];
        if let Some(jql) = &jql {
            query.push(("jql", jql.as_str()));
        }
        let answer = self
            .agile(Method::GET, &page.tail, &query, None, READ)
            .await?;
        let issues: Vec<Value> = answer["issues"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let limit = TextLimit {
                    chars: DEFAULT_TEXT_CHARS,
                    tool: "get_issue",
                    issue_key: i["key"].as_str().unwrap_or_default(),
                };
                Value::Object(self.summarize(i, page.fields, limit))
            })
            .collect();
        let count = issues.len();
        let mut out = paging(&answer, page.start_at, count);
        insert(&mut out, "issues", Value::Array(issues));
        Ok(Value::Object(out))
    }

    /// A board's sprints, optionally only those in some states.
    pub async fn list_sprints(
        &self,
        board_id: u64,
        states: &[String],
        start_at: u32,
        max_results: u32,
    ) -> ToolResult {
        let board_id = positive("board_id", board_id)?;
        let max = input::in_range("max_results", max_results, 1..=50)?.to_string();
        let states = states
            .iter()
            .map(|s| one_of("state", s, &SPRINT_STATES))
            .collect::<Result<Vec<_>, _>>()?
            .join(",");
        self.check_board(board_id).await?;
        let start = start_at.to_string();
        let mut query = vec![("startAt", start.as_str()), ("maxResults", max.as_str())];
        if !states.is_empty() {
            query.push(("state", states.as_str()));
        }
        let page = self
            .agile(
                Method::GET,
                &format!("board/{board_id}/sprint"),
                &query,
                None,
                READ,
            )
            .await?;
        let all = page["values"].as_array().cloned().unwrap_or_default();
        let mut out = paging(&page, start_at, all.len());
        insert(
            &mut out,
            "sprints",
            Value::Array(all.iter().map(sprint).collect()),
        );
        Ok(Value::Object(out))
    }

    /// Creates a future sprint on a board.
    pub async fn create_sprint(
        &self,
        name: &str,
        board_id: u64,
        start_date: Option<&str>,
        end_date: Option<&str>,
        goal: Option<&str>,
    ) -> ToolResult {
        let board_id = positive("board_id", board_id)?;
        let name = sprint_name(name)?;
        let mut body = json!({"name": name, "originBoardId": board_id});
        if let Some(date) = start_date {
            body["startDate"] = json!(iso_date("start_date", date)?);
        }
        if let Some(date) = end_date {
            body["endDate"] = json!(iso_date("end_date", date)?);
        }
        if let Some(goal) = goal {
            body["goal"] = json!(goal);
        }
        self.check_board(board_id).await?;
        let created = self
            .agile(Method::POST, "sprint", &[], Some(&body), WRITE)
            .await?;
        Ok(sprint(&created))
    }

    /// Renames, re-dates, starts or closes a sprint. Jira's rules are checked
    /// first: only a future sprint starts (with both dates), only an active
    /// one closes, and a closed sprint stays closed.
    pub async fn update_sprint(&self, sprint_id: u64, change: SprintChange) -> ToolResult {
        let sprint_id = positive("sprint_id", sprint_id)?;
        let body = change_body(&change)?;
        let current = self
            .agile(Method::GET, &format!("sprint/{sprint_id}"), &[], None, READ)
            .await?;
        if let Some(board_id) = current["originBoardId"].as_u64() {
            self.check_board(board_id).await?;
        } else if self.projects.is_some() {
            return Err(ToolError::new(format!(
                "sprint {sprint_id} has no board this server can check against JIRA_MCP_PROJECTS"
            )));
        }
        check_transition(sprint_id, &current, &change)?;
        let updated = self
            .agile(
                Method::POST,
                &format!("sprint/{sprint_id}"),
                &[],
                Some(&body),
                WRITE,
            )
            .await?;
        Ok(sprint(&updated))
    }

    /// Moves up to 50 issues into a sprint (out of any other sprint).
    pub async fn move_issues_to_sprint(&self, sprint_id: u64, issue_keys: &[String]) -> ToolResult {
        let sprint_id = positive("sprint_id", sprint_id)?;
        if issue_keys.is_empty() || issue_keys.len() > MAX_SPRINT_ISSUES {
            return Err(ToolError::new(format!(
                "give between 1 and {MAX_SPRINT_ISSUES} issue keys (Jira moves at most \
                 {MAX_SPRINT_ISSUES} per request), not {}",
                issue_keys.len()
            )));
        }
        let keys = issue_keys
            .iter()
            .map(|k| self.issue(k))
            .collect::<Result<Vec<_>, _>>()?;
        if self.projects.is_some() {
            let current = self
                .agile(Method::GET, &format!("sprint/{sprint_id}"), &[], None, READ)
                .await?;
            match current["originBoardId"].as_u64() {
                Some(board_id) => self.check_board(board_id).await?,
                None => {
                    return Err(ToolError::new(format!(
                        "sprint {sprint_id} has no board this server can check against \
                         JIRA_MCP_PROJECTS"
                    )));
                }
            }
        }
        self.agile(
            Method::POST,
            &format!("sprint/{sprint_id}/issue"),
            &[],
            Some(&json!({"issues": keys})),
            WRITE,
        )
        .await?;
        Ok(json!({"moved": keys.len(), "sprint_id": sprint_id, "issues": keys}))
    }

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

/// The concise form of a board.
fn board(b: &Value) -> Value {
    strip_nulls(json!({
        "id": b["id"], "name": b["name"], "type": b["type"],
        "project": b["location"]["projectKey"],
    }))
}

/// The concise form of a sprint.
fn sprint(s: &Value) -> Value {
    strip_nulls(json!({
        "id": s["id"], "name": s["name"], "state": s["state"],
        "start_date": s["startDate"], "end_date": s["endDate"],
        "complete_date": s["completeDate"], "goal": s["goal"].as_str().filter(|g| !g.is_empty()),
        "board_id": s["originBoardId"],
    }))
}

/// `startAt` paging: where this page started, whether it is the last, and
/// where the next one starts. Boards and sprints say `isLast`; issue lists
/// give a `total`.
fn paging(page: &Value, start_at: u32, count: usize) -> Map<String, Value> {
    let next = u64::from(start_at) + count as u64;
    let is_last = match (page["isLast"].as_bool(), page["total"].as_u64()) {
        (Some(last), _) => last,
        (None, Some(total)) => next >= total,
        (None, None) => true,
    } || count == 0;
    let mut out = Map::new();
    out.insert("start_at".into(), json!(start_at));
    out.insert("is_last".into(), json!(is_last));
    if !is_last {
        out.insert("next_start_at".into(), json!(next));
    }
    if let Some(total) = page["total"].as_u64() {
        out.insert("total".into(), json!(total));
    }
    out
}

fn positive(name: &str, id: u64) -> Result<u64, ToolError> {
    if id == 0 {
        return Err(ToolError::new(format!(
            "`{name}` must be a positive number (list_boards and list_sprints show ids)"
        )));
    }
    Ok(id)
}

/// `value` (any case) if it is one of `allowed`, in Jira's lower case.
fn one_of(name: &str, value: &str, allowed: &[&'static str]) -> Result<&'static str, ToolError> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value.trim()))
        .copied()
        .ok_or_else(|| {
            ToolError::new(format!(
                "`{name}` must be one of {}, not `{}`",
                allowed.join(", "),
                value.chars().take(40).collect::<String>()
            ))
        })
}

fn sprint_name(name: &str) -> Result<&str, ToolError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ToolError::new("the sprint `name` must not be empty"));
    }
    Ok(name)
}

/// An ISO 8601 date or date-time (`2026-12-01`, `2026-12-01T09:00:00.000+01:00`);
/// Jira's own parse errors are vague, so the form is checked here.
fn iso_date<'d>(name: &str, value: &'d str) -> Result<&'d str, ToolError> {
    let bytes = value.as_bytes();
    let date_ok = bytes.len() >= 10
        && bytes[..10].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let time_ok = bytes.len() == 10
        || (bytes.get(10) == Some(&b'T')
            && value[11..]
                .chars()
                .all(|c| c.is_ascii_digit() || ":.+-Z".contains(c)));
    if date_ok && time_ok {
        Ok(value)
    } else {
        Err(ToolError::new(format!(
            "`{name}` must be an ISO 8601 date or date-time like `2026-12-01T09:00:00.000Z`, not `{}`",
            value.chars().take(40).collect::<String>()
        )))
    }
}

/// The partial-update body of `update_sprint`; refuses an empty change.
fn change_body(change: &SprintChange) -> Result<Value, ToolError> {
    let mut body = Map::new();
    if let Some(name) = &change.name {
        body.insert("name".into(), json!(sprint_name(name)?));
    }
    if let Some(date) = &change.start_date {
        body.insert("startDate".into(), json!(iso_date("start_date", date)?));
    }
    if let Some(date) = &change.end_date {
        body.insert("endDate".into(), json!(iso_date("end_date", date)?));
    }
    if let Some(goal) = &change.goal {
        body.insert("goal".into(), json!(goal));
    }
    if let Some(state) = &change.state {
        let state = one_of("state", state, &["active", "closed"]).map_err(|_| {
            ToolError::new(format!(
                "`state` must be `active` (start the sprint) or `closed` (complete it), not `{}`",
                state.chars().take(40).collect::<String>()
            ))
        })?;
        body.insert("state".into(), json!(state));
    }
    if body.is_empty() {
        return Err(ToolError::new(
            "nothing to change: give name, start_date, end_date, goal or state",
        ));
    }
    Ok(Value::Object(body))
}

/// Jira's sprint life cycle: future → active → closed, never back.
fn check_transition(
    sprint_id: u64,
    current: &Value,
    change: &SprintChange,
) -> Result<(), ToolError> {
    let now = current["state"].as_str().unwrap_or_default();
    let wanted = change.state.as_deref().map(str::to_ascii_lowercase);
    match (now, wanted.as_deref()) {
        // Jira ignores other changes to a closed sprint, so they are refused
        // rather than reported as done.
        ("closed", Some(_)) => Err(ToolError::new(format!(
            "sprint {sprint_id} is closed; a closed sprint cannot be reopened. Create a new \
             sprint instead"
        ))),
        ("closed", None) if change.start_date.is_some() || change.end_date.is_some() => {
            Err(ToolError::new(format!(
                "sprint {sprint_id} is closed; only its name and goal can change"
            )))
        }
        ("future", Some("closed")) => Err(ToolError::new(format!(
            "sprint {sprint_id} has not started; start it (state `active`) before closing it"
        ))),
        ("active", Some("active")) => Err(ToolError::new(format!(
            "sprint {sprint_id} is already active"
        ))),
        ("future", Some("active")) => {
            let has = |new: &Option<String>, old: &str| new.is_some() || current[old].is_string();
            if has(&change.start_date, "startDate") && has(&change.end_date, "endDate") {
                Ok(())
            } else {
                Err(ToolError::new(format!(
                    "sprint {sprint_id} needs a start_date and an end_date to start; give them \
                     with state `active`"
                )))
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_are_checked() {
        for ok in [
            "2026-12-01",
            "2026-12-01T09:00:00.000Z",
            "2026-12-01T09:00:00.000+01:00",
            "2026-12-01T09:00:00.000+0000",
        ] {
            assert!(iso_date("d", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "tomorrow",
            "01/12/2026",
            "2026-12-1",
            "2026-12-01 09:00",
            "2026-12-01Tx",
        ] {
            assert!(iso_date("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_sprint_life_cycle_only_goes_forward() {
        let change = |state: &str| SprintChange {
            state: Some(state.into()),
            ..SprintChange::default()
        };
        let dated = json!({"state": "future", "startDate": "2026-12-01T09:00:00.000Z", "endDate": "2026-12-14T17:00:00.000Z"});
        assert!(check_transition(1, &dated, &change("active")).is_ok());
        assert!(check_transition(1, &json!({"state": "future"}), &change("active")).is_err());
        assert!(check_transition(1, &dated, &change("closed")).is_err());
        assert!(check_transition(1, &json!({"state": "active"}), &change("closed")).is_ok());
        assert!(check_transition(1, &json!({"state": "closed"}), &change("active")).is_err());
        let rename = SprintChange {
            name: Some("x".into()),
            ..SprintChange::default()
        };
        assert!(check_transition(1, &json!({"state": "closed"}), &rename).is_ok());
        let redate = SprintChange {
            end_date: Some("2026-12-01".into()),
            ..SprintChange::default()
        };
        assert!(check_transition(1, &json!({"state": "closed"}), &redate).is_err());
        assert!(check_transition(1, &json!({"state": "active"}), &rename).is_ok());
    }

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

    #[test]
    fn paging_follows_is_last_or_total() {
        let out = paging(&json!({"isLast": false}), 0, 2);
        assert_eq!(out["next_start_at"], 2);
        let out = paging(&json!({"total": 5}), 3, 2);
        assert_eq!(out["is_last"], true);
        let out = paging(&json!({"total": 5}), 0, 2);
        assert_eq!(out["next_start_at"], 2);
    }
}
