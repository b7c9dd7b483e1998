//! The MCP tool layer: maps tool arguments onto [`JiraClient`] and the OAuth
//! plumbing, and results onto MCP tool results. No Jira logic lives here.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock, Weak};

use gouqi_oauth::{
    AuthorizationCode, DEFAULT_LOGIN_TIMEOUT, Login, LoopbackListener, PendingAuthorization,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{ErrorData as McpError, ServerHandler, tool_handler};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::auth::{AuthStatus, OAuthSetup};
use crate::catalog;
use crate::config::{Config, Grant};
use crate::jira::JiraClient;
use crate::permissions;
use crate::session::{self, FinishedCall, Outcome, TeamSession, TeamSessions};
use crate::tool_error::{ToolError, explain};

tokio::task_local! {
    /// The team-server caller's session a tool call runs in (set around each
    /// call in team mode, so the tool functions stay the same as over stdio).
    static SESSION: Arc<dyn TeamSession>;
}

/// The tools that sign in through MCP tools; the team server has users sign
/// in through their MCP client's authorization instead.
const LOGIN_TOOLS: [&str; 3] = [
    "init_oauth_flow",
    "complete_oauth_flow",
    "refresh_oauth_token",
];

/// Shared state: the configuration, the Jira connection (opened on first
/// use, never before `initialize`), and a login in progress.
pub struct ServerState {
    config: Config,
    /// Team mode: each caller's own session; `client` is then unused.
    team: Option<Arc<dyn TeamSessions>>,
    client: Mutex<Option<Arc<JiraClient>>>,
    login: Mutex<Option<PendingLogin>>,
    /// `JIRA_MCP_PERMISSION_AWARE`: the write tools the current login lacks
    /// permissions for, and the connection they were checked with.
    hidden: RwLock<BTreeSet<&'static str>>,
    checked: Mutex<Weak<JiraClient>>,
}

struct PendingLogin {
    pending: Arc<PendingAuthorization>,
    capture: Option<tokio::task::JoinHandle<()>>,
}

impl PendingLogin {
    /// Stops the loopback capture and waits until its port is closed.
    async fn stop(mut self) {
        if let Some(capture) = self.capture.take() {
            capture.abort();
            let _ = capture.await;
        }
    }
}

impl Drop for PendingLogin {
    fn drop(&mut self) {
        if let Some(capture) = self.capture.take() {
            capture.abort();
        }
    }
}

impl ServerState {
    /// State for `config`; nothing is opened yet.
    pub fn new(config: Config) -> Arc<ServerState> {
        Self::build(config, None)
    }

    /// State for the team server: every tool call acts with its caller's
    /// connection from `connections`.
    pub fn team(config: Config, sessions: Arc<dyn TeamSessions>) -> Arc<ServerState> {
        Self::build(config, Some(sessions))
    }

    /// The configuration this state serves.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn build(config: Config, team: Option<Arc<dyn TeamSessions>>) -> Arc<ServerState> {
        Arc::new(ServerState {
            config,
            team,
            client: Mutex::new(None),
            login: Mutex::new(None),
            hidden: RwLock::new(BTreeSet::new()),
            checked: Mutex::new(Weak::new()),
        })
    }

    pub(crate) async fn jira(&self) -> Result<Arc<JiraClient>, ToolError> {
        if self.team.is_some() {
            let session = SESSION.try_with(Arc::clone).map_err(|_| {
                ToolError::new("this call carries no signed-in user: authorize the MCP client")
            })?;
            return session.jira().await;
        }
        let mut client = self.client.lock().await;
        if let Some(open) = client.as_ref() {
            return Ok(open.clone());
        }
        let open = Arc::new(JiraClient::open(&self.config)?);
        *client = Some(open.clone());
        Ok(open)
    }

    /// Forgets the connection so the next call opens it with new tokens.
    async fn reconnect(&self) {
        *self.client.lock().await = None;
    }

    /// With `JIRA_MCP_PERMISSION_AWARE`, once per login (per connection
    /// opened): asks Jira which permissions the user holds, hides the write
    /// tools they lack, and tells the client when its tool list changed. A
    /// failed check is logged and hides nothing.
    async fn check_permissions(&self, peer: &rmcp::Peer<rmcp::RoleServer>) {
        if !self.config.controls.permission_aware {
            return;
        }
        let mut checked = self.checked.lock().await;
        let Ok(jira) = self.jira().await else {
            return; // not logged in yet: checked at the first call after login
        };
        let current = Arc::downgrade(&jira);
        if Weak::ptr_eq(&checked, &current) {
            return;
        }
        *checked = current;
        let keys = permissions::keys(|tool| self.config.controls.refusal(tool).is_none());
        let hidden = if keys.is_empty() {
            BTreeSet::new()
        } else {
            let answer = jira.my_permissions(&keys).await.map_err(|e| e.message);
            match answer.and_then(|answer| permissions::hidden(&answer)) {
                Ok(hidden) => hidden,
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "could not check the Jira permissions ({}); hiding no tools",
                        permissions::SETTING
                    );
                    BTreeSet::new()
                }
            }
        };
        let changed = {
            let mut slot = self.hidden.write().unwrap_or_else(PoisonError::into_inner);
            let changed = *slot != hidden;
            *slot = hidden;
            changed
        };
        if changed && let Err(e) = peer.notify_tool_list_changed().await {
            tracing::warn!(error = %e, "could not send notifications/tools/list_changed");
        }
    }

    /// True when the permission check hid `tool`.
    fn is_hidden(&self, tool: &str) -> bool {
        self.hidden
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(tool)
    }

    /// Waits (up to `limit`) for a token refresh in flight to be saved, so
    /// that exiting cannot lose a refresh token that was already rotated.
    pub async fn settle(&self, limit: std::time::Duration) {
        if let Some(team) = &self.team {
            return team.settle(limit).await;
        }
        let Some(client) = self.client.lock().await.clone() else {
            return;
        };
        if let Some(cache) = client.token_cache()
            && tokio::time::timeout(limit, cache.settled()).await.is_err()
        {
            tracing::warn!("a token refresh was still running at exit");
        }
    }

    fn oauth(&self) -> Result<OAuthSetup, ToolError> {
        OAuthSetup::from_config(&self.config).ok_or_else(|| {
            ToolError::new("this server is not configured for OAuth: set JIRA_AUTH_TYPE=oauth with JIRA_OAUTH_CLIENT_ID and JIRA_OAUTH_CLIENT_SECRET")
        })
    }

    pub(crate) async fn status(&self) -> Value {
        if self.team.is_some() {
            return self.caller_status().await;
        }
        let mut status = AuthStatus::offline(&self.config);
        if status.logged_in {
            let account = match self.jira().await {
                Ok(jira) => jira.get_current_user().await,
                Err(e) => Err(e),
            };
            match account {
                Ok(me) => {
                    status.account = me["display_name"].as_str().map(String::from);
                    status.jira_reachable = Some(true);
                }
                Err(e) => status.check_failed(&e),
            }
        }
        serde_json::to_value(status).unwrap_or(Value::Null)
    }

    /// `auth_status` on the team server: who the caller is, through which
    /// MCP client and scopes, and whether their Jira grant works now. The
    /// same shape as stdio's (one output schema), with `mode: team`.
    async fn caller_status(&self) -> Value {
        let mut status = AuthStatus::team(&self.config);
        match SESSION.try_with(Arc::clone) {
            Ok(session) => {
                session.describe(&mut status);
                match self.jira().await {
                    Ok(jira) => match jira.get_current_user().await {
                        Ok(me) => {
                            status.logged_in = true;
                            status.jira_reachable = Some(true);
                            status.account = me["display_name"].as_str().map(String::from);
                            status.message = "signed in to Jira as yourself".into();
                        }
                        Err(e) => {
                            status.logged_in = !e.reauthorize;
                            status.needs_reauthorization = e.reauthorize;
                            status.message = e.message;
                        }
                    },
                    Err(e) => status.message = e.message,
                }
            }
            Err(_) => status.message = "no signed-in user: authorize the MCP client".into(),
        }
        serde_json::to_value(status).unwrap_or(Value::Null)
    }

    /// Why the team server refuses `tool` in `session`, if it does: the
    /// login tools (its users sign in through their MCP client), then the
    /// session's own gate (scopes).
    fn team_refusal(tool: &str, session: &dyn TeamSession) -> Option<String> {
        if LOGIN_TOOLS.contains(&tool) {
            return Some(format!(
                "`{tool}` is not available on the team server: you sign in to Jira through your \
                 MCP client's authorization of this server (reconnect or re-authorize the \
                 connector to sign in again)"
            ));
        }
        session.refusal(tool)
    }

    pub(crate) async fn init_flow(self: &Arc<Self>) -> Result<Value, ToolError> {
        let setup = self.oauth()?;
        if setup.settings().grant == Grant::ClientCredentials {
            return Err(ToolError::new(
                "this server uses a service account (client credentials): no login is needed",
            ));
        }
        let flow = setup.flow()?;
        // Found now, not after the user approved in the browser.
        gouqi_oauth::check_writable(&setup.store()).await?;
        // The previous login's listener must be gone before binding the port again.
        if let Some(previous) = self.login.lock().await.take() {
            previous.stop().await;
        }
        let listener = LoopbackListener::bind(flow.redirect_uri()).await;
        let pending = Arc::new(flow.begin());
        let (capture, how) = match listener {
            Ok(listener) => {
                let task = tokio::spawn(self.clone().capture(listener, pending.clone()));
                (
                    Some(task),
                    format!(
                        "listening on {} for the browser's redirect (for {} minutes)",
                        flow.redirect_uri().as_str(),
                        DEFAULT_LOGIN_TIMEOUT.as_secs() / 60
                    ),
                )
            }
            Err(e) => (
                None,
                format!(
                    "{}; after approving, call complete_oauth_flow with the URL the browser was redirected to",
                    explain(&e)
                ),
            ),
        };
        *self.login.lock().await = Some(PendingLogin {
            pending: pending.clone(),
            capture,
        });
        Ok(json!({
            "authorization_url": pending.url().as_str(),
            "redirect_uri": flow.redirect_uri().as_str(),
            "capture": how,
            "next_step": "Ask the user to open authorization_url and approve access. Then call auth_status; if the browser could not reach the redirect URI, call complete_oauth_flow with the redirected URL.",
        }))
    }

    /// Waits for the browser in the background and completes the login.
    async fn capture(
        self: Arc<Self>,
        listener: LoopbackListener,
        pending: Arc<PendingAuthorization>,
    ) {
        let outcome = match listener
            .wait_for_code(pending.state(), DEFAULT_LOGIN_TIMEOUT)
            .await
        {
            Ok(code) => self.finish(&pending, code).await.map(drop),
            Err(e) => Err(e.into()),
        };
        match outcome {
            Ok(()) => tracing::info!("OAuth login completed through the loopback redirect"),
            Err(e) => {
                tracing::warn!(error = %e, "OAuth login through the loopback redirect did not complete")
            }
        }
    }

    /// Exchanges the code and saves the login, unless it would replace a
    /// working login for another account or site: a prompt must not be able
    /// to switch whose Jira this server acts in.
    async fn finish(
        &self,
        pending: &PendingAuthorization,
        code: AuthorizationCode,
    ) -> Result<Value, ToolError> {
        let setup = self.oauth()?;
        let flow = setup.flow()?;
        let store = setup.store();
        let login = match self.working_login().await {
            // Nothing to protect: complete as the CLI does, which keeps an
            // approved grant even when the site cannot be chosen yet.
            None => flow.complete(pending, code, &store).await,
            Some((jira, current)) => {
                let login = flow.exchange(pending, code).await?;
                self.refuse_switching_account(&jira, &current, &login)
                    .await?;
                flow.save(&login.tokens, &store).await.map(|()| login)
            }
        };
        self.reconnect().await;
        let login = login?;
        let site = login.tokens.site.as_ref();
        Ok(json!({
            "logged_in": true,
            "site": site.and_then(|s| s.url.as_ref()).map(|u| u.as_str()),
            "cloud_id": site.and_then(|s| s.cloud_id.clone()),
            "scopes": login.tokens.scopes,
            "warnings": login.warnings,
        }))
    }

    /// The connection and its user, when the stored login works now.
    async fn working_login(&self) -> Option<(Arc<JiraClient>, Value)> {
        let jira = self.jira().await.ok()?;
        let current = jira.get_current_user().await.ok()?;
        Some((jira, current))
    }

    async fn refuse_switching_account(
        &self,
        jira: &JiraClient,
        current: &Value,
        login: &Login,
    ) -> Result<(), ToolError> {
        let new = JiraClient::account_of(&self.config, &login.api_base, &login.tokens).await?;
        let same_account = account_key(current) == account_key(&new);
        let same_site = jira.site_matches(login.tokens.site.as_ref());
        if same_account && same_site {
            return Ok(());
        }
        Err(ToolError::new(format!(
            "refused: this login is for {} on {}, but the server is logged in and working as {}. \
             Switching accounts or sites is not done through MCP tools; run `jira-mcp auth login` \
             in a terminal to switch",
            new["display_name"].as_str().unwrap_or("another account"),
            login
                .tokens
                .site
                .as_ref()
                .map_or_else(|| "an unknown site".to_string(), ToString::to_string),
            current["display_name"]
                .as_str()
                .unwrap_or("the current account"),
        )))
    }

    /// Completes the login in progress with what the user pasted: the
    /// redirected URL, or its code and state.
    pub(crate) async fn complete_flow(&self, pasted: String) -> Result<Value, ToolError> {
        let mut slot = self.login.lock().await;
        let Some(login) = slot.as_ref() else {
            return Err(ToolError::new(
                "no login is in progress: call init_oauth_flow first",
            ));
        };
        // A wrong or forged redirect leaves the pending login as it was.
        let code = login.pending.code_from_pasted(&pasted)?;
        let login = slot
            .take()
            .ok_or_else(|| ToolError::new("no login is in progress"))?;
        drop(slot);
        let pending = login.pending.clone();
        login.stop().await;
        self.finish(&pending, code).await
    }

    pub(crate) async fn refresh(&self) -> Result<Value, ToolError> {
        self.oauth()?;
        let jira = self.jira().await?;
        let cache = jira
            .token_cache()
            .ok_or_else(|| ToolError::new("no OAuth token to refresh"))?;
        let token = cache.force_refresh().await?;
        let expires_in = token
            .tokens()
            .expires_at
            .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok());
        Ok(json!({"refreshed": true, "expires_in_seconds": expires_in.map(|d| d.as_secs())}))
    }
}

/// Who a `get_current_user` answer names: the Cloud account id, or the Data
/// Center user name.
fn account_key(user: &Value) -> Option<&str> {
    user["account_id"].as_str().or(user["name"].as_str())
}

/// The jira-mcp MCP server.
#[derive(Clone)]
pub struct JiraMcp {
    pub(crate) state: Arc<ServerState>,
    tool_router: ToolRouter<JiraMcp>,
}

/// A tool's result: on success the JSON object as `structuredContent` (it
/// fits the tool's `outputSchema`, `schemas/output/<tool>.json`) and as
/// compact JSON text for clients that ignore structured content; on failure
/// `isError` with the message as text.
pub(crate) fn result(outcome: Result<Value, ToolError>) -> CallToolResult {
    match outcome {
        Ok(value @ Value::Object(_)) => CallToolResult::structured(value),
        // Every tool answers with an object; anything else would not be
        // valid structured content, so it is wrapped (and the schema tests fail).
        Ok(other) => CallToolResult::structured(json!({ "value": other })),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(e.message)]),
    }
}

impl JiraMcp {
    /// A server over `state`.
    /// Only the tools the admin controls allow are listed (and routed).
    pub fn new(state: Arc<ServerState>) -> JiraMcp {
        let mut tool_router = Self::auth_router()
            + Self::issues_router()
            + Self::comments_router()
            + Self::links_router()
            + Self::projects_router()
            + Self::users_router()
            + Self::attachments_router()
            + Self::agile_router()
            + Self::admin_router();
        for tool in catalog::TOOLS {
            if state.config.controls.refusal(tool.name).is_some() {
                tool_router.remove_route(tool.name);
            }
        }
        // Each tool's `outputSchema` comes from the catalog; listing,
        // filtering and `get_tool` all see the routes' attributes.
        for (name, route) in &mut tool_router.map {
            route.attr.output_schema = catalog::output_schema(name);
        }
        JiraMcp { state, tool_router }
    }

    pub(crate) async fn with_jira<F, Fut>(&self, f: F) -> Result<CallToolResult, McpError>
    where
        F: FnOnce(Arc<JiraClient>) -> Fut,
        Fut: Future<Output = Result<Value, ToolError>>,
    {
        Ok(result(match self.state.jira().await {
            Ok(jira) => f(jira).await,
            Err(e) => Err(e),
        }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for JiraMcp {
    /// Tools, and (with `JIRA_MCP_PERMISSION_AWARE`) `tools.listChanged`: the
    /// list shrinks after the permission check.
    fn get_info(&self) -> rmcp::model::ServerConfig {
        let mut capabilities = rmcp::model::ServerCapabilities::builder()
            .enable_tools()
            .build();
        if self.state.config.controls.permission_aware
            && let Some(tools) = capabilities.tools.as_mut()
        {
            tools.list_changed = Some(true);
        }
        rmcp::model::ServerConfig::new(capabilities)
            .with_server_info(rmcp::model::Implementation::new(
                "jira-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(if self.state.team.is_some() {
                "Jira tools, acting in Jira as the signed-in user. If a tool says the user must sign in again, ask them to re-authorize this connector in their MCP client.".to_string()
            } else {
                "Jira tools. If a tool says the server is not logged in, call init_oauth_flow and ask the user to open the URL it returns.".to_string()
            })
    }

    /// The routed tools, less those the permission check hid.
    async fn list_tools(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, McpError> {
        let supports_cache_hints = context
            .protocol_version()
            .is_some_and(|version| version >= rmcp::model::ProtocolVersion::V_2026_07_28);
        let mut tools = self.tool_router.list_all();
        let session = self.state.session_of(&context);
        tools.retain(|tool| {
            let refused = session
                .as_ref()
                .is_some_and(|s| ServerState::team_refusal(&tool.name, s.as_ref()).is_some());
            !self.state.is_hidden(&tool.name) && !refused
        });
        // On the team server the list depends on the caller's scopes.
        let scope = match session {
            Some(_) => rmcp::model::CacheScope::Private,
            None => rmcp::model::CacheScope::Public,
        };
        Ok(rmcp::model::ListToolsResult {
            result_type: Some(rmcp::model::ResultType::COMPLETE),
            tools,
            meta: None,
            next_cursor: None,
            ttl_ms: supports_cache_hints.then_some(0),
            cache_scope: supports_cache_hints.then_some(scope),
        })
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        let team_login = self.state.team.is_some() && LOGIN_TOOLS.contains(&name);
        if self.state.is_hidden(name) || team_login {
            return None;
        }
        self.tool_router.get(name).cloned()
    }

    /// A tool the controls took away gets an error that says which control,
    /// rather than "tool not found", and no request is made; so does a tool
    /// the permission check hid (after the check, at the first call of a login).
    ///
    /// On the team server the call runs as its caller (from the HTTP
    /// request), and leaves one audit line.
    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, McpError> {
        let Some(session) = self.state.session_of(&context) else {
            return self.dispatch(request, context).await.0;
        };
        let started = std::time::Instant::now();
        let tool = request.name.to_string();
        let issue_key = session::issue_key(request.arguments.as_ref());
        let (response, outcome) = match ServerState::team_refusal(&tool, session.as_ref()) {
            Some(refusal) => (Ok(refusal_response(refusal)), Outcome::Refused),
            None => {
                SESSION
                    .scope(session.clone(), self.dispatch(request, context))
                    .await
            }
        };
        session.finished(&FinishedCall {
            tool: &tool,
            issue_key: issue_key.as_deref(),
            outcome,
            took: started.elapsed(),
        });
        response
    }
}

type ToolResponse = Result<rmcp::model::CallToolResponse, McpError>;

fn refusal_response(message: String) -> rmcp::model::CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(message)]).into()
}

impl JiraMcp {
    /// The controls, the permission check, then the tool; with the outcome
    /// for the audit line.
    async fn dispatch(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> (ToolResponse, Outcome) {
        if let Some(refusal) = self.state.config.controls.refusal(&request.name) {
            return (Ok(refusal_response(refusal)), Outcome::Refused);
        }
        self.state.check_permissions(&context.peer).await;
        if self.state.is_hidden(&request.name) {
            let refusal = permissions::refusal(&request.name);
            return (Ok(refusal_response(refusal)), Outcome::Refused);
        }
        let tool = request.name.to_string();
        let call = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
        let response = self
            .tool_router
            .call(call)
            .await
            .map(|r| conforming(&tool, r));
        let outcome = match &response {
            Ok(rmcp::model::CallToolResponse::Complete(result))
                if result.is_error == Some(true) =>
            {
                Outcome::Error
            }
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Error,
        };
        (response, outcome)
    }
}

/// The one place structured results leave the server: each is read against
/// its tool's output schema and validated ([`catalog::conforming_result`]),
/// so that no answer from Jira can make a client refuse the result (the
/// official SDKs end the session on a mismatch). A result that cannot fit
/// becomes a tool error saying so.
pub fn conforming(
    tool: &str,
    response: rmcp::model::CallToolResponse,
) -> rmcp::model::CallToolResponse {
    let rmcp::model::CallToolResponse::Complete(mut result) = response else {
        return response;
    };
    if result.is_error == Some(true) {
        return result.into();
    }
    let Some(structured) = result.structured_content.take() else {
        return result.into();
    };
    match catalog::conforming_result(tool, structured.clone()) {
        Ok(conformed) => {
            if !conformed.adjusted.is_empty() {
                // The text block that mirrors the structured result follows it.
                if let Some(ContentBlock::Text(text)) = result.content.first_mut()
                    && serde_json::from_str::<Value>(&text.text).ok().as_ref() == Some(&structured)
                {
                    text.text = conformed.value.to_string();
                }
            }
            result.structured_content = Some(conformed.value);
            result.into()
        }
        Err(message) => {
            tracing::warn!(tool, "{message}");
            CallToolResult::error(vec![ContentBlock::text(message)]).into()
        }
    }
}

/// The session of the team-server caller the HTTP layer authenticated for
/// this request, if any (never over stdio).
impl ServerState {
    fn session_of(
        &self,
        context: &rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Option<Arc<dyn TeamSession>> {
        let parts = context.extensions.get::<http::request::Parts>()?;
        self.team.as_ref()?.session(parts)
    }
}
