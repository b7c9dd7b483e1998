//! The Jira logic behind the tools: requests through gouqi-oauth, concise
//! results, and errors that say what to do. Cloud uses REST API v3 (ADF rich
//! text), Data Center REST API v2 (wiki markup).

mod agile_attachments;
mod issues_more;
mod people_fields;
mod permissions;

pub use agile_attachments::{AttachmentContent, Download, MAX_ATTACHMENT_BYTES, SprintChange};

use gouqi_oauth::r#async::{Jira, RawResponse};
use gouqi_oauth::secrecy::ExposeSecret;
use gouqi_oauth::{Credentials, Site, TokenCache, TokenSet};
use reqwest::Method;
use serde_json::{Map, Value, json};
use url::Url;

use crate::auth::{NOT_CONFIGURED, NOT_LOGGED_IN, OAuthSetup};
use crate::bounds::{DEFAULT_TEXT_CHARS, MAX_TEXT_CHARS, TextLimit};
use crate::config::{Auth, Config, Deployment, Grant};
use crate::text::{markdown_to_adf, markdown_to_wiki, rich_text_to_string};
use crate::tool_error::{ToolError, ToolErrorKind, explain};
use crate::{input, jql};

pub use issues_more::{MAX_BATCH, NewIssue, Page};

/// Scopes the classic Jira Cloud scopes map onto.
const READ: &str = "read:jira-work";
const WRITE: &str = "write:jira-work";
const READ_USER: &str = "read:jira-user";

/// The fields a search returns unless asked for more.
const SEARCH_FIELDS: [&str; 6] = [
    "summary",
    "status",
    "issuetype",
    "priority",
    "assignee",
    "updated",
];
/// The fields `get_issue` returns unless asked for more.
const ISSUE_FIELDS: [&str; 13] = [
    "summary",
    "status",
    "issuetype",
    "priority",
    "assignee",
    "reporter",
    "labels",
    "created",
    "updated",
    "project",
    "parent",
    "description",
    "comment",
];
/// How many of the newest comments `get_issue` shows.
const COMMENTS_SHOWN: usize = 10;

type ToolResult = Result<Value, ToolError>;

/// A Jira connection: the client, its deployment, and OAuth details if any.
pub struct JiraClient {
    jira: Jira,
    deployment: Deployment,
    site_url: Option<Url>,
    oauth: Option<(OAuthSetup, TokenCache)>,
    /// `JIRA_MCP_PROJECTS`: the only projects tools may reach, when set.
    projects: Option<Vec<String>>,
}

impl JiraClient {
    /// Connects as configured. Reads the token store but sends nothing.
    pub fn open(config: &Config) -> Result<JiraClient, ToolError> {
        let auth = config
            .auth
            .as_ref()
            .ok_or_else(|| ToolError::new(NOT_CONFIGURED))?;
        let Some(setup) = OAuthSetup::from_config(config) else {
            let url = config
                .url
                .as_ref()
                .ok_or_else(|| ToolError::new(NOT_CONFIGURED))?;
            let jira = Jira::with_settings(url.as_str(), static_credentials(auth), &config.http)?;
            return Ok(JiraClient {
                jira,
                deployment: config.deployment,
                site_url: Some(url.clone()),
                oauth: None,
                projects: config.controls.projects.clone(),
            });
        };
        let stored = setup.store().load().map_err(gouqi_oauth::Error::from)?;
        if stored.is_none() && setup.settings().grant == Grant::AuthorizationCode {
            return Err(ToolError::of_kind(
                ToolErrorKind::Reauthorize,
                NOT_LOGGED_IN,
            ));
        }
        let site = stored.as_ref().and_then(|t| t.site.clone());
        let base = setup.api_base(site.as_ref())?;
        let cache = setup.cache()?;
        let jira = Jira::with_settings(base.as_str(), cache.clone(), &config.http)?;
        let site_url = site.and_then(|s| s.url).or_else(|| config.url.clone());
        Ok(JiraClient {
            jira,
            deployment: config.deployment,
            site_url,
            oauth: Some((setup, cache)),
            projects: config.controls.projects.clone(),
        })
    }

    /// The connection of one team-server user: Jira calls go to `site` with
    /// the tokens of `cache` (that user's grant, refreshed single-flight).
    /// Reads nothing and sends nothing until the first call.
    pub fn for_user(
        config: &Config,
        setup: &OAuthSetup,
        cache: TokenCache,
        site: &Site,
    ) -> Result<JiraClient, ToolError> {
        let base = setup.api_base(Some(site))?;
        let jira = Jira::with_settings(base.as_str(), cache.clone(), &config.http)?;
        Ok(JiraClient {
            jira,
            deployment: config.deployment,
            site_url: site.url.clone().or_else(|| config.url.clone()),
            oauth: Some((setup.clone(), cache)),
            projects: config.controls.projects.clone(),
        })
    }

    /// A well-formed issue key whose project this server may reach.
    fn issue<'k>(&self, key: &'k str) -> Result<&'k str, ToolError> {
        let key = input::issue_key(key)?;
        let Some(allowed) = &self.projects else {
            return Ok(key);
        };
        match key.rsplit_once('-') {
            Some((project, _)) => Self::allowed(project, allowed).map(|_| key),
            None => Err(ToolError::new(format!(
                "`{key}` is an issue id; this server is limited to projects {} \
                 (JIRA_MCP_PROJECTS), so give the issue key (like `{}-12`) instead",
                allowed.join(", "),
                allowed[0]
            ))),
        }
    }

    /// A well-formed project key this server may reach.
    fn project<'k>(&self, key: &'k str) -> Result<&'k str, ToolError> {
        let key = input::project_key(key)?;
        match &self.projects {
            Some(allowed) => Self::allowed(key, allowed).map(|_| key),
            None => Ok(key),
        }
    }

    fn allowed(project: &str, allowed: &[String]) -> Result<(), ToolError> {
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(project)) {
            return Ok(());
        }
        Err(ToolError::new(format!(
            "project `{project}` is outside the projects this server may reach: {} \
             (JIRA_MCP_PROJECTS)",
            allowed.join(", ")
        )))
    }

    /// Checks the issue keys inside `fields` that point elsewhere (a parent).
    fn check_fields(&self, fields: Option<&Map<String, Value>>) -> Result<(), ToolError> {
        let Some(parent) = fields.and_then(|f| f.get("parent")) else {
            return Ok(());
        };
        match (parent["key"].as_str(), parent["id"].as_str()) {
            (Some(key), _) => self.issue(key).map(drop),
            (None, Some(id)) => self.issue(id).map(drop),
            (None, None) if self.projects.is_some() => Err(ToolError::new(
                "give the parent as {\"key\": \"ED-12\"}: this server checks parents against \
                 JIRA_MCP_PROJECTS",
            )),
            (None, None) => Ok(()),
        }
    }

    /// The token cache, for OAuth connections.
    pub fn token_cache(&self) -> Option<&TokenCache> {
        self.oauth.as_ref().map(|(_, cache)| cache)
    }

    /// The user a freshly obtained token belongs to, before it is saved.
    pub async fn account_of(config: &Config, api_base: &Url, tokens: &TokenSet) -> ToolResult {
        let bearer = Credentials::Bearer(tokens.access_token.secret().clone().into());
        let client = JiraClient {
            jira: Jira::new(api_base.as_str(), bearer)?,
            deployment: config.deployment,
            site_url: None,
            oauth: None,
            projects: None,
        };
        client.get_current_user().await
    }

    /// True when `site` is the site this connection's tokens belong to.
    pub fn site_matches(&self, site: Option<&Site>) -> bool {
        let Some(site) = site else {
            return false;
        };
        match (self.stored_site(), &site.cloud_id) {
            (Some(held), Some(id)) if held.cloud_id.is_some() => held.cloud_id.as_ref() == Some(id),
            _ => {
                let host = |u: &Url| u.host_str().map(str::to_ascii_lowercase);
                let held = self.site_url.as_ref().and_then(host);
                held.is_some() && held == site.url.as_ref().and_then(host)
            }
        }
    }

    fn stored_site(&self) -> Option<Site> {
        let cache = self.token_cache()?;
        cache.store().load().ok()??.site
    }

    fn version(&self) -> &'static str {
        match self.deployment {
            Deployment::Cloud => "3",
            Deployment::DataCenter => "2",
        }
    }

    fn path(&self, tail: &str) -> String {
        format!("rest/api/{}/{tail}", self.version())
    }

    /// Rich text in the form this deployment's API takes.
    fn rich_text(&self, markdown: &str) -> Value {
        match self.deployment {
            Deployment::Cloud => markdown_to_adf(markdown),
            Deployment::DataCenter => Value::String(markdown_to_wiki(markdown)),
        }
    }

    async fn request(
        &self,
        method: Method,
        tail: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        scope: &str,
    ) -> ToolResult {
        let response = self
            .jira
            .send(method, &self.path(tail), query, body)
            .await?;
        self.outcome(response, scope).await
    }

    /// Turns a response into its JSON, or into an error that says what to do.
    async fn outcome(&self, response: RawResponse, scope: &str) -> ToolResult {
        let status = response.status.as_u16();
        if response.status.is_success() {
            return Ok(if response.body.is_empty() {
                Value::Null
            } else {
                response.json().map_err(|e| {
                    ToolError::new(format!(
                        "Jira answered {status} with a body that is not JSON: {e}"
                    ))
                })?
            });
        }
        let detail = jira_messages(&response);
        if status == 401 {
            return Err(self.unauthorized(&response, scope).await);
        }
        Err(ToolError::new(match status {
            400 => format!("Jira rejected the request (400): {detail}"),
            403 => format!(
                "Jira denied permission (403): {detail}. Check that your account may do this in the project"
            ),
            404 => format!(
                "not found (404): {detail}. Check the key or id, and that your account can see it"
            ),
            429 => format!(
                "Jira is rate limiting requests (429); retry after {} seconds",
                retry_after(&response)
            ),
            _ => format!("Jira answered HTTP {status}: {detail}"),
        }))
    }

    /// A 401 that the refresh-and-retry did not cure (or a missing scope):
    /// only a new login (or new credentials) helps.
    async fn unauthorized(&self, response: &RawResponse, scope: &str) -> ToolError {
        let message = if response.is_scope_mismatch() {
            self.scope_message(scope).await
        } else if self.oauth.is_some() {
            // Not an expiry problem: the token was just refreshed.
            explain(&gouqi_oauth::Error::FreshTokenRejected)
        } else {
            return ToolError::new(
                "Jira rejected the credentials (401): check the username and API token, or the \
                 personal access token, in the configuration",
            );
        };
        ToolError::of_kind(ToolErrorKind::Reauthorize, message)
    }

    async fn scope_message(&self, scope: &str) -> String {
        let granted = match self.token_cache() {
            Some(cache) => cache
                .peek()
                .await
                .map(|t| t.tokens().scopes.join(" "))
                .unwrap_or_default(),
            None => String::new(),
        };
        format!(
            "scope does not match: this tool needs the `{scope}` scope, and the token has [{granted}]. \
             Add `{scope}` to the app's Jira API scopes in the developer console, include it in \
             JIRA_OAUTH_SCOPES, and log in again (jira-mcp auth login, or init_oauth_flow)"
        )
    }

    fn browse(&self, key: &str) -> Option<String> {
        let mut site = self.site_url.clone()?;
        // A Data Center context path (`https://host/jira`) must survive the join.
        if !site.path().ends_with('/') {
            site.set_path(&format!("{}/", site.path()));
        }
        site.join(&format!("browse/{key}")).ok().map(String::from)
    }

    /// One issue, concisely, with its description and newest comments; each
    /// text field cut at `max_text` characters (with a marker).
    pub async fn get_issue(&self, key: &str, fields: &[String], max_text: u32) -> ToolResult {
        let limit = TextLimit {
            chars: input::in_range("max_text_length", max_text, 1..=MAX_TEXT_CHARS)?,
            tool: "get_issue",
            issue_key: key,
        };
        let wanted = field_list(&ISSUE_FIELDS, fields);
        let issue = self
            .request(
                Method::GET,
                &format!("issue/{}", self.issue(key)?),
                &[("fields", &wanted)],
                None,
                READ,
            )
            .await?;
        let mut out = self.summarize(&issue, fields, limit);
        let f = &issue["fields"];
        insert(
            &mut out,
            "description",
            limit.value(text_or_null(&f["description"])),
        );
        insert(&mut out, "reporter", user(&f["reporter"]));
        insert(&mut out, "labels", f["labels"].clone());
        insert(&mut out, "created", f["created"].clone());
        insert(&mut out, "parent", f["parent"]["key"].clone());
        insert(&mut out, "comments", comments(&f["comment"], limit));
        Ok(Value::Object(out))
    }

    /// Searches with JQL: Cloud pages with `nextPageToken`, Data Center with `startAt`.
    pub async fn search_issues(
        &self,
        jql: &str,
        fields: &[String],
        max_results: u32,
        next_page_token: Option<&str>,
    ) -> ToolResult {
        let wanted: Vec<String> = field_list(&SEARCH_FIELDS, fields)
            .split(',')
            .map(String::from)
            .collect();
        let max = input::in_range("max_results", max_results, 1..=100)?;
        let scoped;
        let jql = match &self.projects {
            Some(allowed) => {
                scoped = jql::scoped(jql, allowed)?;
                scoped.as_str()
            }
            None => jql,
        };
        let (page, next) = match self.deployment {
            Deployment::Cloud => {
                let mut body = json!({"jql": jql, "fields": wanted, "maxResults": max});
                if let Some(token) = next_page_token {
                    body["nextPageToken"] = json!(token);
                }
                let page = self
                    .request(Method::POST, "search/jql", &[], Some(&body), READ)
                    .await?;
                let next = page["nextPageToken"].as_str().map(String::from);
                (page, next)
            }
            Deployment::DataCenter => {
                let start: u64 = match next_page_token {
                    Some(t) => t.parse().map_err(|_| ToolError::new(format!("next_page_token `{t}` is not one this server returned; start without it")))?,
                    None => 0,
                };
                let body =
                    json!({"jql": jql, "fields": wanted, "maxResults": max, "startAt": start});
                let page = self
                    .request(Method::POST, "search", &[], Some(&body), READ)
                    .await?;
                let count = page["issues"].as_array().map_or(0, Vec::len) as u64;
                let total = page["total"].as_u64().unwrap_or(0);
                let next =
                    (start + count < total && count > 0).then(|| (start + count).to_string());
                (page, next)
            }
        };
        let issues: Vec<Value> = page["issues"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let limit = TextLimit {
                    chars: DEFAULT_TEXT_CHARS,
                    tool: "get_issue",
                    issue_key: i["key"].as_str().unwrap_or_default(),
                };
                Value::Object(self.summarize(i, fields, limit))
            })
            .collect();
        let mut out = Map::new();
        insert(&mut out, "issues", Value::Array(issues));
        insert(&mut out, "is_last", json!(next.is_none()));
        insert(
            &mut out,
            "next_page_token",
            next.map_or(Value::Null, Value::String),
        );
        if let Some(total) = page["total"].as_u64() {
            insert(&mut out, "total", json!(total));
        }
        Ok(Value::Object(out))
    }

    /// Creates an issue; `description` is Markdown or plain text.
    pub async fn create_issue(
        &self,
        project_key: &str,
        issue_type: &str,
        summary: &str,
        description: Option<&str>,
        extra: Option<&Map<String, Value>>,
    ) -> ToolResult {
        self.check_fields(extra)?;
        let mut fields = Map::new();
        fields.insert("project".into(), json!({"key": self.project(project_key)?}));
        fields.insert("issuetype".into(), id_or_name(issue_type));
        fields.insert("summary".into(), json!(summary));
        if let Some(text) = description {
            fields.insert("description".into(), self.rich_text(text));
        }
        merge(&mut fields, extra);
        let created = self
            .request(
                Method::POST,
                "issue",
                &[],
                Some(&json!({"fields": fields})),
                WRITE,
            )
            .await?;
        let key = created["key"].as_str().unwrap_or_default().to_string();
        Ok(json!({"key": key, "id": created["id"], "url": self.browse(&key)}))
    }

    /// Updates an issue's summary, description or other fields.
    pub async fn edit_issue(
        &self,
        key: &str,
        summary: Option<&str>,
        description: Option<&str>,
        extra: Option<&Map<String, Value>>,
    ) -> ToolResult {
        self.check_fields(extra)?;
        let mut fields = Map::new();
        if let Some(summary) = summary {
            fields.insert("summary".into(), json!(summary));
        }
        if let Some(text) = description {
            fields.insert("description".into(), self.rich_text(text));
        }
        merge(&mut fields, extra);
        if fields.is_empty() {
            return Err(ToolError::new(
                "nothing to change: give summary, description or fields",
            ));
        }
        self.request(
            Method::PUT,
            &format!("issue/{}", self.issue(key)?),
            &[],
            Some(&json!({"fields": fields})),
            WRITE,
        )
        .await?;
        Ok(json!({"key": key, "updated": fields.keys().collect::<Vec<_>>()}))
    }

    /// The transitions available from the issue's current status.
    pub async fn get_transitions(&self, key: &str) -> ToolResult {
        let answer = self
            .request(
                Method::GET,
                &format!("issue/{}/transitions", self.issue(key)?),
                &[],
                None,
                READ,
            )
            .await?;
        let list = answer["transitions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| json!({"id": t["id"], "name": t["name"], "to_status": t["to"]["name"]}));
        Ok(json!({"key": key, "transitions": list.collect::<Vec<_>>()}))
    }

    /// Moves the issue through a transition given by id or name.
    pub async fn transition_issue(
        &self,
        key: &str,
        transition: &str,
        comment: Option<&str>,
    ) -> ToolResult {
        let available = self.get_transitions(key).await?;
        let list = available["transitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let matches = |t: &&Value| {
            t["id"].as_str() == Some(transition)
                || t["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(transition))
                || t["to_status"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(transition))
        };
        let Some(chosen) = list.iter().find(matches) else {
            let names: Vec<String> = list
                .iter()
                .map(|t| {
                    format!(
                        "{} (id {})",
                        t["name"].as_str().unwrap_or("?"),
                        t["id"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            return Err(ToolError::new(format!(
                "`{transition}` is not a transition available for {key}; choose one of: {}",
                names.join(", ")
            )));
        };
        let mut body = json!({"transition": {"id": chosen["id"]}});
        if let Some(text) = comment {
            body["update"] = json!({"comment": [{"add": {"body": self.rich_text(text)}}]});
        }
        self.request(
            Method::POST,
            &format!("issue/{}/transitions", self.issue(key)?),
            &[],
            Some(&body),
            WRITE,
        )
        .await?;
        Ok(json!({"key": key, "transition": chosen["name"], "status": chosen["to_status"]}))
    }

    /// Adds a comment (Markdown or plain text).
    pub async fn add_comment(&self, key: &str, body: &str) -> ToolResult {
        let request = json!({"body": self.rich_text(body)});
        let comment = self
            .request(
                Method::POST,
                &format!("issue/{}/comment", self.issue(key)?),
                &[],
                Some(&request),
                WRITE,
            )
            .await?;
        Ok(
            json!({"key": key, "id": comment["id"], "created": comment["created"], "author": user(&comment["author"])}),
        )
    }

    /// Logs time on the issue.
    pub async fn add_worklog(
        &self,
        key: &str,
        time_spent: &str,
        comment: Option<&str>,
        started: Option<&str>,
    ) -> ToolResult {
        let mut request = json!({"timeSpent": time_spent});
        if let Some(text) = comment {
            request["comment"] = self.rich_text(text);
        }
        if let Some(started) = started {
            request["started"] = json!(started);
        }
        let log = self
            .request(
                Method::POST,
                &format!("issue/{}/worklog", self.issue(key)?),
                &[],
                Some(&request),
                WRITE,
            )
            .await?;
        Ok(
            json!({"key": key, "id": log["id"], "time_spent": log["timeSpent"], "time_spent_seconds": log["timeSpentSeconds"], "started": log["started"]}),
        )
    }

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

    /// The issue types one can create in a project.
    pub async fn get_project_issue_types(&self, project_key: &str) -> ToolResult {
        let answer = self
            .request(
                Method::GET,
                &format!("issue/createmeta/{}/issuetypes", self.project(project_key)?),
                &[("maxResults", "100")],
                None,
                READ,
            )
            .await?;
        let types = answer
            .get("issueTypes")
            .or_else(|| answer.get("values"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let list = types.iter().map(|t| json!({"id": t["id"], "name": t["name"], "subtask": t["subtask"], "description": t["description"]}));
        Ok(json!({"project_key": project_key, "issue_types": list.collect::<Vec<_>>()}))
    }

    /// The fields of the create screen for an issue type (by id or name).
    pub async fn get_create_fields(&self, project_key: &str, issue_type: &str) -> ToolResult {
        let type_id = self.issue_type_id(project_key, issue_type).await?;
        let path = format!(
            "issue/createmeta/{}/issuetypes/{}",
            self.project(project_key)?,
            encode(&type_id)
        );
        let answer = self
            .request(Method::GET, &path, &[("maxResults", "200")], None, READ)
            .await?;
        let fields = answer
            .get("fields")
            .or_else(|| answer.get("values"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let list = fields.iter().map(|f| {
            let allowed: Vec<Value> = f["allowedValues"].as_array().into_iter().flatten().take(50).map(|v| v.get("name").or_else(|| v.get("value")).cloned().unwrap_or(Value::Null)).collect();
            let mut out = json!({"field_id": f["fieldId"], "name": f["name"], "required": f["required"], "type": f["schema"]["type"]});
            if !allowed.is_empty() {
                out["allowed_values"] = Value::Array(allowed);
            }
            out
        });
        Ok(
            json!({"project_key": project_key, "issue_type_id": type_id, "fields": list.collect::<Vec<_>>()}),
        )
    }

    async fn issue_type_id(
        &self,
        project_key: &str,
        issue_type: &str,
    ) -> Result<String, ToolError> {
        if issue_type.chars().all(|c| c.is_ascii_digit()) {
            return Ok(issue_type.to_string());
        }
        let types = self.get_project_issue_types(project_key).await?;
        let list = types["issue_types"].as_array().cloned().unwrap_or_default();
        list.iter()
            .find(|t| {
                t["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(issue_type))
            })
            .and_then(|t| t["id"].as_str().map(String::from))
            .ok_or_else(|| {
                let names: Vec<&str> = list.iter().filter_map(|t| t["name"].as_str()).collect();
                ToolError::new(format!(
                    "project {project_key} has no issue type `{issue_type}`; it has: {}",
                    names.join(", ")
                ))
            })
    }

    /// Projects visible to the user, optionally filtered by a text query.
    pub async fn list_projects(&self, query: Option<&str>, max_results: u32) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=100)?;
        let projects: Vec<Value> = match self.deployment {
            Deployment::Cloud => {
                let max_text = max.to_string();
                let mut q = vec![("maxResults", max_text.as_str())];
                if let Some(text) = query {
                    q.push(("query", text));
                }
                let page = self
                    .request(Method::GET, "project/search", &q, None, READ)
                    .await?;
                page["values"].as_array().cloned().unwrap_or_default()
            }
            Deployment::DataCenter => {
                let all = self
                    .request(Method::GET, "project", &[], None, READ)
                    .await?;
                let needle = query.unwrap_or_default().to_lowercase();
                all.as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| {
                        needle.is_empty()
                            || [&p["key"], &p["name"]].iter().any(|v| {
                                v.as_str()
                                    .is_some_and(|s| s.to_lowercase().contains(&needle))
                            })
                    })
                    .take(max as usize)
                    .cloned()
                    .collect()
            }
        };
        let reachable = |p: &&Value| match (&self.projects, p["key"].as_str()) {
            (None, _) => true,
            (Some(allowed), Some(key)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(key)),
            (Some(_), None) => false,
        };
        let list = projects.iter().filter(reachable).map(|p| json!({"key": p["key"], "name": p["name"], "id": p["id"], "type": p["projectTypeKey"]}));
        Ok(json!({"projects": list.collect::<Vec<_>>()}))
    }

    /// Finds users by name or email: account ids on Cloud, usernames on Data Center.
    pub async fn lookup_account_id(&self, query: &str) -> ToolResult {
        let (param, scope) = match self.deployment {
            Deployment::Cloud => ("query", READ_USER),
            Deployment::DataCenter => ("username", READ_USER),
        };
        let users = self
            .request(
                Method::GET,
                "user/search",
                &[(param, query), ("maxResults", "20")],
                None,
                scope,
            )
            .await?;
        let list = users.as_array().into_iter().flatten().map(|u| {
            json!({"account_id": u["accountId"], "name": u["name"], "key": u["key"], "display_name": u["displayName"], "email": u["emailAddress"], "active": u["active"]})
        }).map(strip_nulls);
        Ok(json!({"users": list.collect::<Vec<_>>()}))
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

    /// The user the credentials belong to.
    pub async fn get_current_user(&self) -> ToolResult {
        let me = self
            .request(Method::GET, "myself", &[], None, READ_USER)
            .await?;
        Ok(strip_nulls(json!({
            "account_id": me["accountId"], "name": me["name"], "display_name": me["displayName"],
            "email": me["emailAddress"], "time_zone": me["timeZone"], "active": me["active"],
        })))
    }

    /// The Cloud sites this OAuth authorization reaches.
    pub async fn get_accessible_resources(&self) -> ToolResult {
        let Some((setup, cache)) = &self.oauth else {
            return Err(ToolError::new(
                "accessible resources exist only for Jira Cloud OAuth; this server uses other credentials",
            ));
        };
        if self.deployment != Deployment::Cloud {
            return Err(ToolError::new(
                "accessible resources exist only for Jira Cloud; this is Data Center",
            ));
        }
        let token = cache.token().await?;
        let sites = gouqi_oauth::accessible_resources_with(
            &setup.api_url()?,
            &token.tokens().access_token,
            setup.http(),
        )
        .await?;
        let list = sites
            .iter()
            .map(|s| json!({"cloud_id": s.id, "url": s.url, "name": s.name, "scopes": s.scopes}));
        Ok(json!({"sites": list.collect::<Vec<_>>()}))
    }

    /// The concise form of an issue used by every tool.
    fn summarize(
        &self,
        issue: &Value,
        extra_fields: &[String],
        limit: TextLimit,
    ) -> Map<String, Value> {
        let f = &issue["fields"];
        let key = issue["key"].as_str().unwrap_or_default();
        let mut out = Map::new();
        insert(&mut out, "key", json!(key));
        insert(&mut out, "id", issue["id"].clone());
        insert(
            &mut out,
            "url",
            self.browse(key).map_or(Value::Null, Value::String),
        );
        insert(&mut out, "summary", f["summary"].clone());
        insert(&mut out, "status", f["status"]["name"].clone());
        insert(&mut out, "issue_type", f["issuetype"]["name"].clone());
        insert(&mut out, "priority", f["priority"]["name"].clone());
        insert(&mut out, "assignee", user(&f["assignee"]));
        insert(&mut out, "project", f["project"]["key"].clone());
        insert(&mut out, "updated", f["updated"].clone());
        let extra: Map<String, Value> = extra_fields
            .iter()
            .filter(|name| f.get(name.as_str()).is_some())
            .map(|name| (name.clone(), limit.value(readable(&f[name.as_str()]))))
            .collect();
        if !extra.is_empty() {
            out.insert("fields".into(), Value::Object(extra));
        }
        out
    }
}

fn static_credentials(auth: &Auth) -> Credentials {
    let secret = |s: &gouqi_oauth::secrecy::SecretString| s.expose_secret().into();
    match auth {
        Auth::ApiToken { username, token } => Credentials::Basic(username.clone(), secret(token)),
        Auth::Basic { username, password } => {
            Credentials::Basic(username.clone(), secret(password))
        }
        Auth::Pat { token } | Auth::Bearer { token } => Credentials::Bearer(secret(token)),
        Auth::Anonymous | Auth::OAuth(_) => Credentials::Anonymous,
    }
}

/// Jira's `errorMessages` and `errors`, as one line.
fn jira_messages(response: &RawResponse) -> String {
    let Ok(body) = response.json::<Value>() else {
        let text = response.text();
        let text = text.trim();
        return if text.is_empty() || text.starts_with('<') {
            "no details given".into()
        } else {
            text.chars().take(300).collect()
        };
    };
    let mut parts: Vec<String> = body["errorMessages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(String::from))
        .collect();
    if let Some(errors) = body["errors"].as_object() {
        parts.extend(
            errors
                .iter()
                .map(|(field, msg)| format!("{field}: {}", msg.as_str().unwrap_or_default())),
        );
    }
    if let Some(message) = body["message"].as_str() {
        parts.push(message.to_string());
    }
    if parts.is_empty() {
        "no details given".into()
    } else {
        parts.join("; ")
    }
}

fn retry_after(response: &RawResponse) -> String {
    response
        .headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "a few".into())
}

fn field_list(defaults: &[&str], extra: &[String]) -> String {
    let mut all: Vec<&str> = defaults.to_vec();
    all.extend(
        extra
            .iter()
            .map(String::as_str)
            .filter(|f| !defaults.contains(f)),
    );
    all.join(",")
}

fn id_or_name(value: &str) -> Value {
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
        json!({"id": value})
    } else {
        json!({"name": value})
    }
}

fn merge(fields: &mut Map<String, Value>, extra: Option<&Map<String, Value>>) {
    for (k, v) in extra.into_iter().flatten() {
        fields.insert(k.clone(), v.clone());
    }
}

fn user(value: &Value) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    strip_nulls(
        json!({"display_name": value["displayName"], "account_id": value["accountId"], "name": value["name"]}),
    )
}

fn comments(page: &Value, limit: TextLimit) -> Value {
    let all = page["comments"].as_array().cloned().unwrap_or_default();
    let newest = all.iter().rev().take(COMMENTS_SHOWN).rev().map(|c| {
        let body = limit.text(rich_text_to_string(&c["body"]));
        json!({"id": c["id"], "author": user(&c["author"]), "created": c["created"], "body": body})
    });
    let shown: Vec<Value> = newest.collect();
    if shown.is_empty() {
        Value::Null
    } else {
        Value::Array(shown)
    }
}

/// Rich text (ADF) as text; other values as they are.
fn readable(value: &Value) -> Value {
    match value {
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("doc") => {
            json!(rich_text_to_string(value))
        }
        other => other.clone(),
    }
}

fn text_or_null(value: &Value) -> Value {
    let text = rich_text_to_string(value);
    if text.trim().is_empty() {
        Value::Null
    } else {
        Value::String(text)
    }
}

fn insert(map: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        map.insert(key.into(), value);
    }
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// Percent-encodes one path segment (issue keys and ids are safe already,
/// but a user-typed value must not escape its segment).
fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
