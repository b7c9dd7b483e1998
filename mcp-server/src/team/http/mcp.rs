//! `/mcp`: rmcp's streamable HTTP service over the same tool layer as stdio.
//! Stateless (no sessions), so any replica can serve any request; JSON
//! answers for plain request/response calls.

use std::sync::Arc;

use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::{TeamState, hosts};
use crate::server::JiraMcp;

/// The service; the Caller comes from the request (see `guard`).
pub fn service(team: &TeamState) -> StreamableHttpService<JiraMcp, NeverSessionManager> {
    // rmcp reads an empty list as "check off"; ours says that with `*`.
    let rmcp_list = |list: &[String]| match hosts::allows_any(list) {
        true => Vec::new(),
        false => list.to_vec(),
    };
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts(rmcp_list(&team.settings.allowed_hosts))
        .with_allowed_origins(rmcp_list(&team.settings.allowed_origins))
        .with_max_request_body_bytes(super::guard::MAX_BODY);
    config.cancellation_token = team.shutdown.child_token();
    // Stateless: every request gets a service. The tool router (55 routes
    // with their schemas) is built once here and cloned per request.
    let template = JiraMcp::new(team.server.clone());
    StreamableHttpService::new(
        move || Ok(template.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}
