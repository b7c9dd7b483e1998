//! The async client: gouqi's `r#async::Jira`, with OAuth 2.0.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::network::{HttpSettings, network_error};
use crate::transport::{Transport, accessors, client_build_error, gouqi_error, is_unauthorized};

type GouqiJira = gouqi::r#async::Jira;
/// The gouqi client and the reqwest client under it, built for one token.
type Clients = (GouqiJira, reqwest::Client);

/// Raw responses larger than this are refused rather than buffered.
const MAX_RAW_BODY: usize = 32 * 1024 * 1024;

/// A Jira response as it came: status, headers (`Retry-After`) and body,
/// which gouqi's typed errors drop.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: bytes::Bytes,
}

impl RawResponse {
    /// Parses the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// True for Atlassian's 401 "scope does not match": the token is valid
    /// but lacks a scope, so refreshing would not help.
    pub fn is_scope_mismatch(&self) -> bool {
        self.status == reqwest::StatusCode::UNAUTHORIZED
            && self
                .text()
                .to_ascii_lowercase()
                .contains("scope does not match")
    }
}

/// An async Jira client whose credential may be OAuth 2.0.
///
/// - [`Jira::call`] and the request methods ([`Jira::get`], [`Jira::post`], …)
///   refresh ahead of expiry and, after a 401, refresh once (shared with every
///   concurrent caller) and retry once.
/// - The typed accessors ([`Jira::issues`], [`Jira::search`], …) return gouqi's
///   own interfaces bound to the current token. The first one starts a
///   background task that refreshes ahead of expiry while the client lives.
///   They cannot wait for a refresh, so a token that expired anyway (after a
///   suspend, say) meets a 401: wrap them in [`Jira::call`] for the retry.
#[derive(Clone)]
pub struct Jira {
    transport: Arc<Transport<Clients>>,
    refresher: Arc<std::sync::Once>,
}

impl std::fmt::Debug for Jira {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.transport.fmt(f)
    }
}

impl Jira {
    /// A client for `host` (a site URL, or `https://api.atlassian.com/ex/jira/{cloudId}/`
    /// for Cloud OAuth) with `credentials`, and the default [`HttpSettings`]
    /// (30 s timeout).
    pub fn new(host: impl Into<String>, credentials: impl Into<Credentials>) -> Result<Jira> {
        Self::with_settings(host, credentials, &HttpSettings::default())
    }

    /// Like [`Jira::new`], with these network settings (timeout, trusted CAs).
    pub fn with_settings(
        host: impl Into<String>,
        credentials: impl Into<Credentials>,
        settings: &HttpSettings,
    ) -> Result<Jira> {
        let settings = settings.clone();
        Self::with_client_builder(host, credentials, move || settings.client_builder())
    }

    /// Like [`Jira::new`], with the HTTP client configured by `builder` (proxies,
    /// timeouts, TLS). It is called again whenever the token changes.
    pub fn with_client_builder(
        host: impl Into<String>,
        credentials: impl Into<Credentials>,
        builder: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static,
    ) -> Result<Jira> {
        let build = move |host: &str, headers| {
            let client = builder()
                .default_headers(headers)
                .build()
                .map_err(client_build_error)?;
            let gouqi =
                GouqiJira::from_client(host, gouqi::Credentials::Anonymous, client.clone())?;
            Ok((gouqi, client))
        };
        let credentials = credentials.into();
        if let Credentials::OAuth(cache) = &credentials {
            cache.preload()?;
        }
        let transport = Transport::new(&host.into(), credentials, Arc::new(build))?;
        Ok(Jira {
            transport: Arc::new(transport),
            refresher: Arc::new(std::sync::Once::new()),
        })
    }

    /// The credential this client uses.
    pub fn credentials(&self) -> &Credentials {
        self.transport.credentials()
    }

    /// Runs one gouqi call with a fresh token. On a 401 the token is refreshed
    /// once for all callers that used it, and `f` runs once more; a second
    /// 401 is returned as [`gouqi::Error::Unauthorized`].
    ///
    /// `f` may run twice, so it must be safe to repeat (POST and PUT included:
    /// a 401 means Jira did not act on the first one).
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: Fn(GouqiJira) -> Fut,
        Fut: Future<Output = gouqi::Result<T>>,
    {
        self.authorized(|(j, _)| f(j), is_unauthorized)
            .await?
            .map_err(|e| gouqi_error(e, self.transport.host()))
    }

    /// Sends one request to `path` (relative to the host, e.g.
    /// `rest/api/3/search/jql`) and returns the response whatever its status,
    /// for callers that need the headers or error body. A 401 is handled as
    /// in [`Jira::call`], except Atlassian's "scope does not match", which a
    /// refresh cannot fix.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<RawResponse> {
        let payload = body.map_or(Payload::Empty, Payload::Json);
        self.send_payload(method, path, query, &[], payload).await
    }

    /// Like [`Jira::send`], with extra request headers (an `Accept` here
    /// replaces the default `application/json`) and a body that may be a
    /// multipart form (attachments). The body is built again for the retry
    /// after a 401, so it is sent whole both times.
    pub async fn send_request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<&RequestBody>,
    ) -> Result<RawResponse> {
        let payload = match body {
            None => Payload::Empty,
            Some(RequestBody::Json(json)) => Payload::Json(json),
            Some(RequestBody::Multipart(files)) => Payload::Multipart(files),
        };
        self.send_payload(method, path, query, headers, payload)
            .await
    }

    async fn send_payload(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<RawResponse> {
        let mut url = url::Url::parse(self.transport.host())
            .and_then(|host| host.join(path.trim_start_matches('/')))
            .map_err(|e| Error::Config(format!("cannot build a request URL for {path}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let headers = header_map(headers)?;
        let attempt = |(_, http): Clients| {
            send_raw(http, method.clone(), url.clone(), headers.clone(), payload)
        };
        let rejected = |r: &Result<RawResponse>| matches!(r, Ok(r) if r.status == reqwest::StatusCode::UNAUTHORIZED && !r.is_scope_mismatch());
        self.authorized(attempt, rejected).await?
    }

    /// Runs `attempt` with the current token; when `rejected` says Jira
    /// refused it, refreshes once (shared with concurrent callers) and runs
    /// `attempt` once more.
    async fn authorized<T, F, Fut>(&self, attempt: F, rejected: impl Fn(&T) -> bool) -> Result<T>
    where
        F: Fn(Clients) -> Fut,
        Fut: Future<Output = T>,
    {
        let Credentials::OAuth(cache) = self.transport.credentials() else {
            return Ok(attempt(self.transport.last_client()).await);
        };
        let token = cache.token().await?;
        let first = attempt(self.transport.client_for(Some(&token))?).await;
        if !rejected(&first) {
            return Ok(first);
        }
        tracing::debug!("Jira answered 401; refreshing once and retrying");
        let token = cache.token_after_unauthorized(&token).await?;
        Ok(attempt(self.transport.client_for(Some(&token))?).await)
    }

    /// The gouqi client for the current token. The first call starts a
    /// background task that refreshes the token ahead of expiry for as long as
    /// this client lives; a token found stale also triggers a refresh at once.
    pub fn snapshot(&self) -> GouqiJira {
        self.current_clients().0
    }

    fn current_clients(&self) -> Clients {
        let Credentials::OAuth(cache) = self.transport.credentials() else {
            return self.transport.last_client();
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&self.transport);
            self.refresher
                .call_once(|| drop(runtime.spawn(refresh_ahead(weak))));
            if cache.is_stale() {
                let transport = self.transport.clone();
                runtime.spawn(async move { refresh_once(&transport).await });
            }
        }
        match cache.current() {
            Some(token) => self
                .transport
                .client_for(Some(&token))
                .unwrap_or_else(|_| self.transport.last_client()),
            None => self.transport.last_client(),
        }
    }

    /// `GET rest/{api}/latest{endpoint}`, with refresh and retry.
    pub async fn get<D: DeserializeOwned>(&self, api: &str, endpoint: &str) -> Result<D> {
        self.call(|j| async move { j.get(api, endpoint).await })
            .await
    }

    /// `GET rest/{api}/{version}{endpoint}`, with refresh and retry.
    pub async fn get_versioned<D: DeserializeOwned>(
        &self,
        api: &str,
        version: Option<&str>,
        endpoint: &str,
    ) -> Result<D> {
        self.call(|j| async move { j.get_versioned(api, version, endpoint).await })
            .await
    }

    /// `POST`, with refresh and retry.
    pub async fn post<D: DeserializeOwned, S: Serialize>(
        &self,
        api: &str,
        endpoint: &str,
        body: S,
    ) -> Result<D> {
        let body = &body;
        self.call(|j| async move { j.post(api, endpoint, body).await })
            .await
    }

    /// `POST rest/{api}/{version}{endpoint}`, with refresh and retry.
    pub async fn post_versioned<D: DeserializeOwned, S: Serialize>(
        &self,
        api: &str,
        version: Option<&str>,
        endpoint: &str,
        body: S,
    ) -> Result<D> {
        let body = &body;
        self.call(|j| async move { j.post_versioned(api, version, endpoint, body).await })
            .await
    }

    /// `PUT`, with refresh and retry.
    pub async fn put<D: DeserializeOwned, S: Serialize>(
        &self,
        api: &str,
        endpoint: &str,
        body: S,
    ) -> Result<D> {
        let body = &body;
        self.call(|j| async move { j.put(api, endpoint, body).await })
            .await
    }

    /// `DELETE`, with refresh and retry.
    pub async fn delete<D: DeserializeOwned>(&self, api: &str, endpoint: &str) -> Result<D> {
        self.call(|j| async move { j.delete(api, endpoint).await })
            .await
    }

    /// The current user's session, with refresh and retry.
    pub async fn session(&self) -> Result<gouqi::Session> {
        self.call(|j| async move { j.session().await }).await
    }

    /// gouqi's transitions interface for `issue_key`, bound to the current token.
    pub fn transitions(
        &self,
        issue_key: impl Into<String> + std::fmt::Debug,
    ) -> gouqi::transitions::AsyncTransitions {
        self.snapshot().transitions(issue_key)
    }

    accessors! {
        /// gouqi's search interface, bound to the current token.
        search -> gouqi::AsyncSearch;
        /// gouqi's issues interface, bound to the current token.
        issues -> gouqi::issues::AsyncIssues;
        /// gouqi's issue-links interface, bound to the current token.
        issue_links -> gouqi::issue_links::AsyncIssueLinks;
        /// gouqi's projects interface, bound to the current token.
        projects -> gouqi::projects::AsyncProjects;
        /// gouqi's attachments interface, bound to the current token.
        attachments -> gouqi::attachments::AsyncAttachments;
        /// gouqi's components interface, bound to the current token.
        components -> gouqi::components::AsyncComponents;
        /// gouqi's versions interface, bound to the current token.
        versions -> gouqi::versions::AsyncVersions;
        /// gouqi's sprints interface, bound to the current token.
        sprints -> gouqi::sprints::AsyncSprints;
        /// gouqi's users interface, bound to the current token.
        users -> gouqi::users::AsyncUsers;
        /// gouqi's groups interface, bound to the current token.
        groups -> gouqi::groups::AsyncGroups;
    }
}

/// Refreshes one token if needed and rebuilds the gouqi client for it.
/// Returns false when only the user can fix the failure.
async fn refresh_once(transport: &Transport<Clients>) -> bool {
    let Credentials::OAuth(cache) = transport.credentials() else {
        return false;
    };
    match cache.token().await {
        Ok(token) => transport.client_for(Some(&token)).is_ok(),
        Err(e) => {
            tracing::warn!(error = %e, "background token refresh failed");
            !e.needs_reauthorization()
        }
    }
}

/// Keeps the token fresh ahead of expiry while the client lives, so that
/// the typed accessors, which cannot wait for a refresh, find a valid token.
async fn refresh_ahead(transport: std::sync::Weak<Transport<Clients>>) {
    const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(60);
    loop {
        let due = match transport.upgrade() {
            Some(t) => match &t.credentials() {
                Credentials::OAuth(cache) => cache.refresh_due_in().unwrap_or(IDLE_CHECK),
                _ => return,
            },
            None => return,
        };
        tokio::time::sleep(due.max(std::time::Duration::from_secs(1))).await;
        let Some(transport) = transport.upgrade() else {
            return;
        };
        if !refresh_once(&transport).await {
            return;
        }
    }
}

/// A request body for [`Jira::send_request`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RequestBody {
    /// A JSON document.
    Json(serde_json::Value),
    /// A `multipart/form-data` form of files (Jira's attachment upload).
    Multipart(Vec<FilePart>),
}

/// One file of a multipart form. The content is shared, not copied, when the
/// form is built again for a retry.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The form field name (`file` for Jira attachments).
    pub field: String,
    /// The file name sent in the part's `Content-Disposition`.
    pub file_name: String,
    /// The part's `Content-Type`, e.g. `image/png`.
    pub mime_type: String,
    /// The file's bytes.
    pub content: bytes::Bytes,
}

/// A body borrowed for one attempt.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Empty,
    Json(&'a serde_json::Value),
    Multipart(&'a [FilePart]),
}

/// The request headers: `Accept: application/json` unless `extra` names
/// another `Accept`, then `extra`.
fn header_map(extra: &[(&str, &str)]) -> Result<reqwest::header::HeaderMap> {
    use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    for (name, value) in extra {
        let invalid = || Error::Config(format!("invalid request header `{name}`"));
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// A fresh multipart form for one attempt.
fn form(files: &[FilePart]) -> Result<reqwest::multipart::Form> {
    files
        .iter()
        .try_fold(reqwest::multipart::Form::new(), |form, file| {
            let body = reqwest::Body::from(file.content.clone());
            let part =
                reqwest::multipart::Part::stream_with_length(body, file.content.len() as u64)
                    .file_name(file.file_name.clone())
                    .mime_str(&file.mime_type)
                    .map_err(|_| {
                        Error::Config(format!("`{}` is not a valid MIME type", file.mime_type))
                    })?;
            Ok(form.part(file.field.clone(), part))
        })
}

async fn send_raw(
    http: reqwest::Client,
    method: reqwest::Method,
    url: url::Url,
    headers: reqwest::header::HeaderMap,
    payload: Payload<'_>,
) -> Result<RawResponse> {
    let mut request = http.request(method, url.clone()).headers(headers);
    request = match payload {
        Payload::Empty => request,
        Payload::Json(body) => request.json(body),
        Payload::Multipart(files) => request.multipart(form(files)?),
    };
    let failed = |e: reqwest::Error| network_error(&e, &url);
    let mut response = request.send().await.map_err(failed)?;
    let (status, headers) = (response.status(), response.headers().clone());
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_RAW_BODY {
            return Err(Error::Config(format!(
                "the Jira response is larger than {} MiB; ask for fewer fields or results",
                MAX_RAW_BODY / (1024 * 1024)
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(RawResponse {
        status,
        headers,
        body: body.freeze(),
    })
}
