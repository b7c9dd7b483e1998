//! The authorization server for MCP clients (MCP authorization, 2025-11-25):
//! metadata, client registration, the consent page, the hop through
//! Atlassian's consent, `/token` and `/revoke`. Its tokens are jira-mcp's
//! own ([`tokens`]); Atlassian's never leave the server.

pub mod tokens;

/// Lets a client call the read tools.
pub const SCOPE_READ: &str = "jira:read";
/// Lets a client call the tools that change Jira (with [`SCOPE_READ`]).
pub const SCOPE_WRITE: &str = "jira:write";
/// Every scope this server knows, for metadata and the default grant.
pub const SCOPES: [&str; 2] = [SCOPE_READ, SCOPE_WRITE];
