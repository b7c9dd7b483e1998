//! The Jira logic behind the tools: requests through gouqi-oauth, concise
//! results, and errors that say what to do. Cloud uses REST API v3 (ADF rich
//! text), Data Center REST API v2 (wiki markup).
//!
//! This is the shared core: [`JiraClient`], the one request funnel
//! (`request`, `outcome`), the project allowlist, and the result shapes and
//! checks more than one toolset uses (`pub(crate)` for the toolsets). Each
//! toolset's own requests are with its tools, in `tools/{toolset}.rs`.

mod permissions;

use crate::auth::{NOT_CONFIGURED, NOT_LOGGED_IN, OAuthSetup};
use crate::bounds::TextLimit;
use crate::config::{Auth, Config, Deployment, Grant};
use crate::input;
use crate::text::{markdown_to_adf, markdown_to_wiki, rich_text_to_string};
use crate::tool_error::{ToolError, ToolErrorKind, explain};
use gouqi_oauth::r#async::{Jira, RawResponse};
use gouqi_oauth::secrecy::ExposeSecret;
use gouqi_oauth::{Credentials, Site, TokenCache, TokenSet};
use reqwest::Method;
use serde_json::{Map, Value, json};
use url::Url;

/// Scopes the classic Jira Cloud scopes map onto.
pub(crate) const READ: &str = "read:jira-work";

pub(crate) const WRITE: &str = "write:jira-work";

/// The fields a search returns unless asked for more.
pub(crate) const SEARCH_FIELDS: [&str; 6] = [
    "summary",
    "status",
    "issuetype",
    "priority",
    "assignee",
    "updated",
];

/// How many of the newest comments `get_issue` shows.
const COMMENTS_SHOWN: usize = 10;

pub(crate) type ToolResult = Result<Value, ToolError>;

/// A Jira connection: the client, its deployment, and OAuth details if any.
pub struct JiraClient {
    pub(crate) jira: Jira,
    pub(crate) deployment: Deployment,
    pub(crate) site_url: Option<Url>,
    pub(crate) oauth: Option<(OAuthSetup, TokenCache)>,
    /// `JIRA_MCP_PROJECTS`: the only projects tools may reach, when set.
    pub(crate) projects: Option<Vec<String>>,
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

pub(crate) fn field_list(defaults: &[&str], extra: &[String]) -> String {
    let mut all: Vec<&str> = defaults.to_vec();
    all.extend(
        extra
            .iter()
            .map(String::as_str)
            .filter(|f| !defaults.contains(f)),
    );
    all.join(",")
}

pub(crate) fn user(value: &Value) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    strip_nulls(
        json!({"display_name": value["displayName"], "account_id": value["accountId"], "name": value["name"]}),
    )
}

pub(crate) fn comments(page: &Value, limit: TextLimit) -> Value {
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

pub(crate) fn text_or_null(value: &Value) -> Value {
    let text = rich_text_to_string(value);
    if text.trim().is_empty() {
        Value::Null
    } else {
        Value::String(text)
    }
}

pub(crate) fn insert(map: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        map.insert(key.into(), value);
    }
}

pub(crate) fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// Percent-encodes one path segment (issue keys and ids are safe already,
/// but a user-typed value must not escape its segment).
pub(crate) fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
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
    pub(crate) fn issue<'k>(&self, key: &'k str) -> Result<&'k str, ToolError> {
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
    pub(crate) fn project<'k>(&self, key: &'k str) -> Result<&'k str, ToolError> {
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
    pub(crate) fn check_fields(
        &self,
        fields: Option<&Map<String, Value>>,
    ) -> Result<(), ToolError> {
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

    pub(crate) fn path(&self, tail: &str) -> String {
        format!("rest/api/{}/{tail}", self.version())
    }

    /// Rich text in the form this deployment's API takes.
    pub(crate) fn rich_text(&self, markdown: &str) -> Value {
        match self.deployment {
            Deployment::Cloud => markdown_to_adf(markdown),
            Deployment::DataCenter => Value::String(markdown_to_wiki(markdown)),
        }
    }

    pub(crate) async fn request(
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
    pub(crate) async fn outcome(&self, response: RawResponse, scope: &str) -> ToolResult {
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

    pub(crate) fn browse(&self, key: &str) -> Option<String> {
        let mut site = self.site_url.clone()?;
        // A Data Center context path (`https://host/jira`) must survive the join.
        if !site.path().ends_with('/') {
            site.set_path(&format!("{}/", site.path()));
        }
        site.join(&format!("browse/{key}")).ok().map(String::from)
    }

    pub(crate) async fn issue_type_id(
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

    /// The concise form of an issue used by every tool.
    pub(crate) fn summarize(
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

/// Where an agile issue list comes from, for the paging advice.
pub(crate) struct IssuePage<'a> {
    pub(crate) tail: String,
    pub(crate) jql: Option<&'a str>,
    pub(crate) fields: &'a [String],
    pub(crate) start_at: u32,
    pub(crate) max_results: u32,
}

/// The concise form of a sprint.
pub(crate) fn sprint(s: &Value) -> Value {
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
pub(crate) fn paging(page: &Value, start_at: u32, count: usize) -> Map<String, Value> {
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

/// The most characters of each changelog value (`from`/`to`) shown.
const CHANGE_VALUE_CHARS: usize = 200;

/// A page request: where to start and how many.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// The index of the first item (0-based).
    pub start_at: u32,
    /// How many items at most.
    pub max_results: u32,
}

impl Page {
    pub(crate) fn checked(self, max: u32) -> Result<Page, ToolError> {
        input::in_range("start_at", self.start_at, 0..=1_000_000)?;
        input::in_range("max_results", self.max_results, 1..=max)?;
        Ok(self)
    }

    pub(crate) fn query(&self) -> [(&'static str, String); 2] {
        [
            ("startAt", self.start_at.to_string()),
            ("maxResults", self.max_results.to_string()),
        ]
    }

    /// This page of `all` (for Data Center answers that hold every item).
    pub(crate) fn slice<'a>(&self, all: &'a [Value]) -> &'a [Value] {
        let start = (self.start_at as usize).min(all.len());
        let end = start
            .saturating_add(self.max_results as usize)
            .min(all.len());
        &all[start..end]
    }

    /// The paging fields of a result: `next_start_at` only when more remain.
    pub(crate) fn info(&self, shown: usize, total: Option<u64>) -> Map<String, Value> {
        let next = u64::from(self.start_at) + shown as u64;
        let more = match total {
            Some(total) => next < total,
            None => shown == self.max_results as usize,
        };
        let mut out = Map::new();
        out.insert("start_at".into(), json!(self.start_at));
        insert(&mut out, "total", total.map_or(Value::Null, |t| json!(t)));
        insert(
            &mut out,
            "next_start_at",
            if more && shown > 0 {
                json!(next)
            } else {
                Value::Null
            },
        );
        out
    }
}

fn short(value: &Value) -> Value {
    match value.as_str() {
        Some(text) if text.chars().count() > CHANGE_VALUE_CHARS => {
            let kept: String = text.chars().take(CHANGE_VALUE_CHARS).collect();
            json!(format!("{kept}…"))
        }
        _ => value.clone(),
    }
}

/// One changelog entry: who, when, and each field's change as text.
pub(crate) fn change(entry: &Value) -> Value {
    let items = entry["items"].as_array().into_iter().flatten().map(|i| {
        strip_nulls(json!({
            "field": i["field"],
            "from": short(&i["fromString"]),
            "to": short(&i["toString"]),
        }))
    });
    strip_nulls(json!({
        "id": entry["id"], "author": user(&entry["author"]), "created": entry["created"],
        "items": items.collect::<Vec<_>>(),
    }))
}

/// Characters of a project or version description shown.
const DESCRIPTION_CHARS: usize = 2_000;

/// The longest description or link summary taken (Jira's text limit).
pub(crate) const MAX_DESCRIPTION: usize = 32_767;

/// A calendar date `YYYY-MM-DD` (ISO order, so strings compare as dates).
pub(crate) fn date<'d>(name: &str, text: &'d str) -> Result<&'d str, ToolError> {
    let bad = || {
        ToolError::new(format!(
            "`{name}` must be a date like 2026-12-31 (YYYY-MM-DD), not `{}`",
            text.chars().take(40).collect::<String>()
        ))
    };
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return Err(bad());
    }
    let (year, month, day): (u32, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if (1..=days).contains(&day) && year >= 1900 {
        Ok(text)
    } else {
        Err(bad())
    }
}

/// A numeric id (links, versions), checked before it goes into a path.
pub(crate) fn numeric_id<'t>(name: &str, text: &'t str) -> Result<&'t str, ToolError> {
    let text = text.trim();
    if !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text)
    } else {
        Err(ToolError::new(format!(
            "`{name}` must be a numeric id like 10001, not `{}`",
            text.chars().take(40).collect::<String>()
        )))
    }
}

/// Optional search text: blank counts as none; at most 255 characters.
pub(crate) fn optional_text<'t>(
    name: &str,
    text: Option<&'t str>,
) -> Result<Option<&'t str>, ToolError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => required_text(name, t, 255).map(Some),
        None => Ok(None),
    }
}

/// Free text (descriptions) of at most `max` characters.
pub(crate) fn bounded<'t>(name: &str, text: &'t str, max: usize) -> Result<&'t str, ToolError> {
    if text.chars().count() > max {
        return Err(ToolError::new(format!(
            "`{name}` must be at most {max} characters"
        )));
    }
    Ok(text)
}

/// Non-blank text of at most `max` characters.
pub(crate) fn required_text<'t>(
    name: &str,
    text: &'t str,
    max: usize,
) -> Result<&'t str, ToolError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ToolError::new(format!("`{name}` must not be empty")));
    }
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(ToolError::new(format!(
            "`{name}` must be at most {max} characters on one line"
        )));
    }
    Ok(text)
}

pub(crate) fn number(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

pub(crate) fn cut(text: Option<&str>) -> Value {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Value::Null;
    };
    match text.char_indices().nth(DESCRIPTION_CHARS) {
        Some((at, _)) => json!(format!("{}…", &text[..at])),
        None => json!(text),
    }
}

pub(crate) fn version_entry(v: &Value) -> Value {
    strip_nulls(json!({
        "id": v["id"], "name": v["name"], "description": cut(v["description"].as_str()),
        "released": v["released"], "archived": v["archived"], "start_date": v["startDate"],
        "release_date": v["releaseDate"], "overdue": v["overdue"],
    }))
}

pub(crate) fn component_entry(c: &Value) -> Value {
    strip_nulls(json!({
        "id": c["id"], "name": c["name"], "description": cut(c["description"].as_str()),
        "lead": user(&c["lead"]), "assignee_type": c["assigneeType"],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_follows_is_last_or_total() {
        let out = paging(&json!({"isLast": false}), 0, 2);
        assert_eq!(out["next_start_at"], 2);
        let out = paging(&json!({"total": 5}), 3, 2);
        assert_eq!(out["is_last"], true);
        let out = paging(&json!({"total": 5}), 0, 2);
        assert_eq!(out["next_start_at"], 2);
    }

    #[test]
    fn dates_must_be_real_calendar_days() {
        for good in ["2026-12-31", "2024-02-29", "2000-02-29"] {
            assert!(date("d", good).is_ok(), "{good}");
        }
        for bad in [
            "2026-13-01",
            "2026-02-29",
            "1900-02-29",
            "26-1-1",
            "2026/01/01",
            "",
            "2026-01-1a",
        ] {
            assert!(date("d", bad).is_err(), "{bad}");
        }
    }
}
