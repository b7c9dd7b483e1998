//! The Jira logic behind the links, users, fields, projects and admin tools
//! of this group: removing links, remote links, user search, field search
//! and allowed values, project details, versions and components.

use reqwest::Method;
use serde_json::{Map, Value, json};
use url::Url;

use super::{JiraClient, READ, READ_USER, ToolResult, WRITE, encode, strip_nulls, user};
use crate::config::Deployment;
use crate::input;
use crate::tool_error::ToolError;

/// The classic scope for creating and changing versions and components.
const MANAGE_PROJECT: &str = "manage:jira-project";
/// Characters of a project or version description shown.
const DESCRIPTION_CHARS: usize = 2_000;
/// The newest versions `get_project` shows.
const NEWEST_VERSIONS: usize = 5;
/// Component names `get_project` shows.
const COMPONENT_NAMES: usize = 20;
/// Pages of create metadata read while looking for one field.
const CREATEMETA_PAGES: u32 = 5;
/// Fields per page of create metadata.
const CREATEMETA_PAGE: u32 = 200;
/// The longest description or link summary taken (Jira's text limit).
const MAX_DESCRIPTION: usize = 32_767;
/// The longest link URL taken.
const MAX_URL: usize = 8_000;

impl JiraClient {
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

    /// Users by name or e-mail; only those assignable in a project or to an
    /// issue when one is given.
    pub async fn search_users(
        &self,
        query: Option<&str>,
        project_key: Option<&str>,
        issue_key: Option<&str>,
        max_results: u32,
    ) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=100)?.to_string();
        let query = optional_text("query", query)?;
        let text_param = match self.deployment {
            Deployment::Cloud => "query",
            Deployment::DataCenter => "username",
        };
        let (tail, scope_param) = match (project_key, issue_key) {
            (Some(_), Some(_)) => {
                return Err(ToolError::new(
                    "give `project_key` or `issue_key`, not both",
                ));
            }
            (Some(p), None) => (
                "user/assignable/search",
                Some(("project", self.project(p)?)),
            ),
            (None, Some(i)) => ("user/assignable/search", Some(("issueKey", self.issue(i)?))),
            (None, None) => ("user/search", None),
        };
        let mut q: Vec<(&str, &str)> = vec![("maxResults", max.as_str())];
        q.extend(scope_param);
        match query {
            Some(text) => q.push((text_param, text)),
            None if scope_param.is_none() => {
                return Err(ToolError::new(
                    "give `query` (part of a name or e-mail address), or a `project_key` or \
                     `issue_key` to list the users assignable there",
                ));
            }
            // Data Center's assignable search needs the parameter, even empty.
            None if self.deployment == Deployment::DataCenter => q.push((text_param, "")),
            None => {}
        }
        let users = self.request(Method::GET, tail, &q, None, READ_USER).await?;
        let list: Vec<Value> = users
            .as_array()
            .into_iter()
            .flatten()
            .map(user_entry)
            .collect();
        Ok(json!({"count": list.len(), "users": list}))
    }

    /// One user: by account id on Cloud, by username on Data Center.
    pub async fn get_user(&self, user: &str) -> ToolResult {
        let user = required_text("user", user, 128)?;
        let param = match self.deployment {
            Deployment::Cloud => "accountId",
            Deployment::DataCenter => "username",
        };
        let answer = self
            .request(Method::GET, "user", &[(param, user)], None, READ_USER)
            .await?;
        let mut out = user_entry(&answer);
        out["time_zone"] = answer["timeZone"].clone();
        out["locale"] = answer["locale"].clone();
        out["account_type"] = answer["accountType"].clone();
        Ok(strip_nulls(out))
    }

    /// Fields whose name, id or type match `query`, best matches first.
    pub async fn search_fields(&self, query: &str, max_results: u32) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=100)? as usize;
        let query = required_text("query", query, 255)?;
        let all = self.request(Method::GET, "field", &[], None, READ).await?;
        let fields = all.as_array().cloned().unwrap_or_default();
        let mut ranked: Vec<(u8, &Value)> = fields
            .iter()
            .filter_map(|f| field_rank(query, f).map(|rank| (rank, f)))
            .collect();
        ranked.sort_by_key(|(rank, f)| {
            let name = f["name"].as_str().unwrap_or_default();
            (*rank, name.len(), name.to_lowercase())
        });
        let total = ranked.len();
        let list: Vec<Value> = ranked
            .iter()
            .take(max)
            .map(|(_, f)| field_entry(f))
            .collect();
        Ok(json!({"query": query, "total_matches": total, "fields": list}))
    }

    /// The values a field allows when creating an issue of a type in a project.
    pub async fn get_field_options(
        &self,
        project_key: &str,
        issue_type: &str,
        field: &str,
        max_results: u32,
    ) -> ToolResult {
        let max = input::in_range("max_results", max_results, 1..=1000)? as usize;
        let field = required_text("field", field, 255)?;
        let project = self.project(project_key)?;
        let type_id = self.issue_type_id(project, issue_type).await?;
        let (found, names) = self.createmeta_field(project, &type_id, field).await?;
        let Some(meta) = found else {
            return Err(ToolError::new(format!(
                "the create screen of issue type `{issue_type}` in {project} has no field \
                 `{field}`; it has: {}. search_fields finds a field's id by name",
                names.join(", ")
            )));
        };
        let values = meta["allowedValues"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut out = json!({
            "project_key": project, "issue_type_id": type_id, "field_id": meta["fieldId"],
            "name": meta["name"], "type": meta["schema"]["type"], "required": meta["required"],
            "total": values.len(),
            "allowed_values": values.iter().take(max).map(option_entry).collect::<Vec<_>>(),
        });
        if values.len() > max {
            out["truncated"] = json!(format!(
                "{} more not shown; raise max_results (up to 1000)",
                values.len() - max
            ));
        }
        if values.is_empty() {
            out["note"] = json!(free_input_note(&meta));
        }
        if let Some(default) = meta.get("defaultValue") {
            out["default"] = option_entry(default);
        }
        Ok(out)
    }

    /// Looks for `field` (id, key or name) in the create metadata, page by
    /// page; returns it, or the names seen for the error message.
    async fn createmeta_field(
        &self,
        project: &str,
        type_id: &str,
        field: &str,
    ) -> Result<(Option<Value>, Vec<String>), ToolError> {
        let tail = format!("issue/createmeta/{project}/issuetypes/{}", encode(type_id));
        let mut names = Vec::new();
        let page_size = CREATEMETA_PAGE.to_string();
        for page in 0..CREATEMETA_PAGES {
            let start = (page * CREATEMETA_PAGE).to_string();
            let q = [
                ("startAt", start.as_str()),
                ("maxResults", page_size.as_str()),
            ];
            let answer = self.request(Method::GET, &tail, &q, None, READ).await?;
            let fields = answer
                .get("fields")
                .or_else(|| answer.get("values"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(hit) = fields.iter().find(|f| names_field(f, field)) {
                return Ok((Some(hit.clone()), names));
            }
            names.extend(
                fields
                    .iter()
                    .filter_map(|f| f["name"].as_str().map(String::from)),
            );
            let seen = u64::from(page + 1) * u64::from(CREATEMETA_PAGE);
            let total = answer["total"].as_u64().unwrap_or(0);
            if fields.is_empty() || answer["isLast"] == true || seen >= total {
                break;
            }
        }
        Ok((None, names))
    }

    /// A project's details: lead, type, issue types, and summaries of its
    /// components and versions.
    pub async fn get_project(&self, project_key: &str) -> ToolResult {
        let key = self.project(project_key)?;
        let p = self
            .request(
                Method::GET,
                &format!("project/{key}"),
                &[("expand", "description,lead,issueTypes")],
                None,
                READ,
            )
            .await?;
        let versions = p["versions"].as_array().cloned().unwrap_or_default();
        let components = p["components"].as_array().cloned().unwrap_or_default();
        let newest = versions
            .iter()
            .rev()
            .take(NEWEST_VERSIONS)
            .map(version_entry);
        let unreleased = versions
            .iter()
            .filter(|v| v["released"] != true && v["archived"] != true);
        let project_key = p["key"].as_str().unwrap_or(key);
        let out = json!({
            "key": project_key, "id": p["id"], "name": p["name"],
            "url": self.browse(project_key),
            "description": cut(p["description"].as_str()),
            "lead": user(&p["lead"]), "type": p["projectTypeKey"], "style": p["style"],
            "category": p["projectCategory"]["name"],
            "issue_types": p["issueTypes"].as_array().into_iter().flatten().map(|t| t["name"].clone()).collect::<Vec<_>>(),
            "components": {
                "count": components.len(),
                "names": components.iter().take(COMPONENT_NAMES).map(|c| c["name"].clone()).collect::<Vec<_>>(),
            },
            "versions": {
                "count": versions.len(),
                "unreleased": unreleased.count(),
                "newest": newest.collect::<Vec<_>>(),
            },
        });
        Ok(strip_nulls(out))
    }

    /// A project's versions, newest first, filtered by text and status.
    pub async fn list_versions(
        &self,
        project_key: &str,
        query: Option<&str>,
        status: Option<&str>,
        max_results: u32,
        start_at: u32,
    ) -> ToolResult {
        let key = self.project(project_key)?;
        let max = input::in_range("max_results", max_results, 1..=200)?;
        let query = optional_text("query", query)?;
        let args = VersionQuery { query, start_at };
        let statuses = version_statuses(status)?;
        let (versions, total, is_last) = match self.deployment {
            Deployment::Cloud => self.cloud_versions(key, &args, &statuses, max).await?,
            Deployment::DataCenter => self.dc_versions(key, &args, &statuses, max).await?,
        };
        Ok(json!({
            "project_key": key, "total": total, "start_at": args.start_at, "is_last": is_last,
            "versions": versions.iter().map(version_entry).collect::<Vec<_>>(),
        }))
    }

    /// Cloud pages and filters on the server (`project/{key}/version`).
    async fn cloud_versions(
        &self,
        key: &str,
        args: &VersionQuery<'_>,
        statuses: &[&str],
        max: u32,
    ) -> Result<(Vec<Value>, Value, bool), ToolError> {
        let (start, max) = (args.start_at.to_string(), max.to_string());
        let status = statuses.join(",");
        let mut q = vec![
            ("startAt", start.as_str()),
            ("maxResults", max.as_str()),
            ("orderBy", "-sequence"),
        ];
        if let Some(text) = args.query {
            q.push(("query", text));
        }
        if !status.is_empty() {
            q.push(("status", status.as_str()));
        }
        let page = self
            .request(
                Method::GET,
                &format!("project/{key}/version"),
                &q,
                None,
                READ,
            )
            .await?;
        let values = page["values"].as_array().cloned().unwrap_or_default();
        Ok((values, page["total"].clone(), page["isLast"] != false))
    }

    /// Data Center returns every version at once (`project/{key}/versions`),
    /// oldest first: filtered and paged here, newest first like Cloud.
    async fn dc_versions(
        &self,
        key: &str,
        args: &VersionQuery<'_>,
        statuses: &[&str],
        max: u32,
    ) -> Result<(Vec<Value>, Value, bool), ToolError> {
        let all = self
            .request(
                Method::GET,
                &format!("project/{key}/versions"),
                &[],
                None,
                READ,
            )
            .await?;
        let needle = args.query.unwrap_or_default().to_lowercase();
        let matching: Vec<Value> = all
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .filter(|v| {
                v["name"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase().contains(&needle))
                    && (statuses.is_empty() || statuses.contains(&version_status(v)))
            })
            .cloned()
            .collect();
        let start = args.start_at as usize;
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(max as usize)
            .cloned()
            .collect();
        let is_last = start + page.len() >= matching.len();
        Ok((page, json!(matching.len()), is_last))
    }

    /// A project's components, optionally filtered by text in their name.
    pub async fn list_components(
        &self,
        project_key: &str,
        query: Option<&str>,
        max_results: u32,
    ) -> ToolResult {
        let key = self.project(project_key)?;
        let max = input::in_range("max_results", max_results, 1..=500)? as usize;
        let query = optional_text("query", query)?;
        let all = self
            .request(
                Method::GET,
                &format!("project/{key}/components"),
                &[],
                None,
                READ,
            )
            .await?;
        let needle = query.unwrap_or_default().to_lowercase();
        let matching: Vec<&Value> = all
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase().contains(&needle))
            })
            .collect();
        let list = matching.iter().take(max).map(|c| component_entry(c));
        Ok(json!({
            "project_key": key, "total": matching.len(),
            "components": list.collect::<Vec<_>>(),
        }))
    }

    /// Creates a version in a project (its id is looked up from the key).
    pub async fn create_version(
        &self,
        project_key: &str,
        name: &str,
        description: Option<&str>,
        (start_date, release_date): (Option<&str>, Option<&str>),
        released: Option<bool>,
    ) -> ToolResult {
        let key = self.project(project_key)?;
        let name = required_text("name", name, 255)?;
        let args = VersionChange {
            description,
            start_date,
            release_date,
            released,
            ..VersionChange::default()
        };
        let mut body = version_body(&args)?;
        body["name"] = json!(name);
        body["projectId"] = json!(self.project_id(key).await?);
        let created = self
            .request(Method::POST, "version", &[], Some(&body), MANAGE_PROJECT)
            .await?;
        let mut out = version_entry(&created);
        out["project_key"] = json!(key);
        Ok(out)
    }

    /// Changes a version: name, description, dates, released, archived.
    pub async fn update_version(
        &self,
        version_id: &str,
        name: Option<&str>,
        description: Option<&str>,
        (start_date, release_date): (Option<&str>, Option<&str>),
        (released, archived): (Option<bool>, Option<bool>),
    ) -> ToolResult {
        let args = VersionChange {
            name,
            description,
            start_date,
            release_date,
            released,
            archived,
        };
        let id = numeric_id("version_id", version_id)?;
        let mut body = version_body(&args)?;
        if let Some(name) = args.name {
            body["name"] = json!(required_text("name", name, 255)?);
        }
        if body.as_object().is_some_and(Map::is_empty) {
            return Err(ToolError::new(
                "nothing to change: give at least one of name, description, start_date, \
                 release_date, released, archived",
            ));
        }
        let tail = format!("version/{id}");
        if self.projects.is_some() {
            let current = self.request(Method::GET, &tail, &[], None, READ).await?;
            self.check_project_id(&current["projectId"]).await?;
        }
        let updated = self
            .request(Method::PUT, &tail, &[], Some(&body), MANAGE_PROJECT)
            .await?;
        Ok(version_entry(&updated))
    }

    /// Creates a component; the lead is an account id on Cloud, a username
    /// on Data Center.
    pub async fn create_component(
        &self,
        project_key: &str,
        name: &str,
        description: Option<&str>,
        lead: Option<&str>,
    ) -> ToolResult {
        let key = self.project(project_key)?;
        let name = required_text("name", name, 255)?;
        let mut body = json!({"project": key, "name": name});
        if let Some(text) = description {
            body["description"] = json!(bounded("description", text, MAX_DESCRIPTION)?);
        }
        if let Some(lead) = lead {
            let lead = required_text("lead", lead, 128)?;
            let field = match self.deployment {
                Deployment::Cloud => "leadAccountId",
                Deployment::DataCenter => "leadUserName",
            };
            body[field] = json!(lead);
        }
        let created = self
            .request(Method::POST, "component", &[], Some(&body), MANAGE_PROJECT)
            .await?;
        let mut out = component_entry(&created);
        out["project_key"] = json!(key);
        Ok(out)
    }

    /// The numeric id of a project given by key (or already by id).
    async fn project_id(&self, key: &str) -> Result<u64, ToolError> {
        if let Ok(id) = key.parse::<u64>() {
            return Ok(id);
        }
        let project = self
            .request(Method::GET, &format!("project/{key}"), &[], None, READ)
            .await?;
        number(&project["id"])
            .ok_or_else(|| ToolError::new(format!("Jira gave no id for project {key}")))
    }

    /// Checks a project given by numeric id against the allowlist.
    async fn check_project_id(&self, id: &Value) -> Result<(), ToolError> {
        let id = number(id)
            .ok_or_else(|| ToolError::new("Jira did not say which project this belongs to"))?;
        let project = self
            .request(Method::GET, &format!("project/{id}"), &[], None, READ)
            .await?;
        let key = project["key"].as_str().unwrap_or_default();
        self.project(key).map(drop)
    }
}

/// What `list_versions` filters and pages by (besides status and size).
#[derive(Debug, Clone, Copy)]
struct VersionQuery<'a> {
    /// Text in the version name.
    query: Option<&'a str>,
    /// Versions to skip.
    start_at: u32,
}

/// What `create_version` and `update_version` set.
#[derive(Debug, Clone, Copy, Default)]
struct VersionChange<'a> {
    name: Option<&'a str>,
    description: Option<&'a str>,
    /// `YYYY-MM-DD`.
    start_date: Option<&'a str>,
    /// `YYYY-MM-DD`.
    release_date: Option<&'a str>,
    released: Option<bool>,
    archived: Option<bool>,
}

/// The body fields common to creating and updating a version.
fn version_body(args: &VersionChange<'_>) -> ToolResult {
    let mut body = Map::new();
    if let Some(text) = args.description {
        body.insert(
            "description".into(),
            json!(bounded("description", text, MAX_DESCRIPTION)?),
        );
    }
    let start = args.start_date.map(|d| date("start_date", d)).transpose()?;
    let release = args
        .release_date
        .map(|d| date("release_date", d))
        .transpose()?;
    if let (Some(s), Some(r)) = (start, release)
        && s > r
    {
        return Err(ToolError::new(format!(
            "start_date {s} is after release_date {r}"
        )));
    }
    if let Some(s) = start {
        body.insert("startDate".into(), json!(s));
    }
    if let Some(r) = release {
        body.insert("releaseDate".into(), json!(r));
    }
    if let Some(flag) = args.released {
        body.insert("released".into(), json!(flag));
    }
    if let Some(flag) = args.archived {
        body.insert("archived".into(), json!(flag));
    }
    Ok(Value::Object(body))
}

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

/// Status filters for versions, checked.
fn version_statuses(status: Option<&str>) -> Result<Vec<&str>, ToolError> {
    let mut out = Vec::new();
    for part in status.unwrap_or_default().split(',').map(str::trim) {
        match part {
            "" => {}
            "released" | "unreleased" | "archived" => out.push(part),
            other => {
                return Err(ToolError::new(format!(
                    "`status` takes released, unreleased or archived (comma-separated), not `{}`",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    Ok(out)
}

/// The status Cloud's `status` filter would put a version under.
fn version_status(v: &Value) -> &'static str {
    if v["archived"] == true {
        "archived"
    } else if v["released"] == true {
        "released"
    } else {
        "unreleased"
    }
}

/// A numeric id (links, versions), checked before it goes into a path.
fn numeric_id<'t>(name: &str, text: &'t str) -> Result<&'t str, ToolError> {
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
fn optional_text<'t>(name: &str, text: Option<&'t str>) -> Result<Option<&'t str>, ToolError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => required_text(name, t, 255).map(Some),
        None => Ok(None),
    }
}

/// Free text (descriptions) of at most `max` characters.
fn bounded<'t>(name: &str, text: &'t str, max: usize) -> Result<&'t str, ToolError> {
    if text.chars().count() > max {
        return Err(ToolError::new(format!(
            "`{name}` must be at most {max} characters"
        )));
    }
    Ok(text)
}

/// Non-blank text of at most `max` characters.
fn required_text<'t>(name: &str, text: &'t str, max: usize) -> Result<&'t str, ToolError> {
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

fn number(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

fn cut(text: Option<&str>) -> Value {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Value::Null;
    };
    match text.char_indices().nth(DESCRIPTION_CHARS) {
        Some((at, _)) => json!(format!("{}…", &text[..at])),
        None => json!(text),
    }
}

fn user_entry(u: &Value) -> Value {
    strip_nulls(json!({
        "account_id": u["accountId"], "name": u["name"], "key": u["key"],
        "display_name": u["displayName"], "email": u["emailAddress"], "active": u["active"],
    }))
}

fn version_entry(v: &Value) -> Value {
    strip_nulls(json!({
        "id": v["id"], "name": v["name"], "description": cut(v["description"].as_str()),
        "released": v["released"], "archived": v["archived"], "start_date": v["startDate"],
        "release_date": v["releaseDate"], "overdue": v["overdue"],
    }))
}

fn component_entry(c: &Value) -> Value {
    strip_nulls(json!({
        "id": c["id"], "name": c["name"], "description": cut(c["description"].as_str()),
        "lead": user(&c["lead"]), "assignee_type": c["assigneeType"],
    }))
}

fn field_entry(f: &Value) -> Value {
    strip_nulls(json!({
        "id": f["id"], "name": f["name"], "custom": f["custom"],
        "type": f["schema"]["type"], "items": f["schema"]["items"],
        "jql": f["clauseNames"].as_array().and_then(|c| c.first()).cloned(),
    }))
}

/// One allowed value: options have `value`, most others `name`; cascading
/// selects carry their child options.
fn option_entry(v: &Value) -> Value {
    let children: Vec<Value> = v["children"]
        .as_array()
        .into_iter()
        .flatten()
        .map(option_entry)
        .collect();
    let mut out = strip_nulls(json!({
        "id": v["id"].clone(), "value": v.get("value").or_else(|| v.get("name")).cloned(),
        "released": v["released"], "archived": v["archived"],
    }));
    if v["disabled"] == true {
        out["disabled"] = json!(true);
    }
    if !children.is_empty() {
        out["children"] = Value::Array(children);
    }
    out
}

/// What to give a field that lists no allowed values.
fn free_input_note(meta: &Value) -> String {
    let kind = meta["schema"]["type"].as_str().unwrap_or("value");
    let items = meta["schema"]["items"].as_str();
    match (kind, items) {
        ("user", _) | ("array", Some("user")) => {
            "this field takes users, not a fixed list: find them with search_users (give \
             project_key to get only assignable users)"
                .into()
        }
        _ => format!(
            "this field has no fixed list of values on the create screen; it takes {}",
            match items {
                Some(item) => format!("a list of {item}"),
                None => format!("a {kind}"),
            }
        ),
    }
}

/// True when `field` names this create-metadata field (id, key or name).
fn names_field(meta: &Value, field: &str) -> bool {
    ["fieldId", "key", "name"].iter().any(|k| {
        meta[*k]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(field))
    })
}

/// How well `query` matches a field, best first: 0 exact name or id, 1
/// prefix, 2 substring (name, id, JQL name or schema type), 3 subsequence of
/// the name or a small edit distance. `None` when it does not match.
pub(crate) fn field_rank(query: &str, field: &Value) -> Option<u8> {
    let q = query.trim().to_lowercase();
    let lower = |v: &Value| v.as_str().map(str::to_lowercase);
    let name = lower(&field["name"]).unwrap_or_default();
    let id = lower(&field["id"]).unwrap_or_default();
    let mut names = vec![name.clone(), id.clone()];
    names.extend(
        field["clauseNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(lower),
    );
    if names.contains(&q) {
        return Some(0);
    }
    if names.iter().any(|n| n.starts_with(&q)) {
        return Some(1);
    }
    let types = [
        &field["schema"]["type"],
        &field["schema"]["items"],
        &field["schema"]["custom"],
    ];
    if names.iter().any(|n| n.contains(&q))
        || types
            .iter()
            .filter_map(|t| lower(t))
            .any(|t| t.contains(&q))
    {
        return Some(2);
    }
    if is_subsequence(&q, &name) || close(&q, &name) {
        return Some(3);
    }
    None
}

fn is_subsequence(needle: &str, hay: &str) -> bool {
    let mut hay = hay.chars();
    needle
        .chars()
        .filter(|c| !c.is_whitespace())
        .all(|c| hay.any(|h| h == c))
}

/// A typo away: an edit distance of at most a quarter of the query (at
/// least 1) from the name or from one of its words.
fn close(query: &str, name: &str) -> bool {
    let allowed = (query.chars().count() / 4).max(1);
    std::iter::once(name)
        .chain(name.split_whitespace())
        .any(|candidate| edit_distance(query, candidate) <= allowed)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(id: &str, name: &str, kind: &str) -> Value {
        json!({"id": id, "name": name, "schema": {"type": kind}, "clauseNames": [name.to_lowercase()]})
    }

    #[test]
    fn exact_beats_prefix_beats_substring_beats_fuzzy() {
        let points = field("customfield_10016", "Story Points", "number");
        assert_eq!(field_rank("story points", &points), Some(0));
        assert_eq!(field_rank("customfield_10016", &points), Some(0));
        assert_eq!(field_rank("story", &points), Some(1));
        assert_eq!(field_rank("points", &points), Some(2));
        assert_eq!(field_rank("number", &points), Some(2));
        assert_eq!(field_rank("stry pnts", &points), Some(3));
        assert_eq!(field_rank("storry", &points), Some(3));
        assert_eq!(field_rank("sprint", &points), None);
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("epic", "epic"), 0);
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
