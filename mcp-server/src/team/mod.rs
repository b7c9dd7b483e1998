//! The team server, `jira-mcp serve --http ADDR`: everything one jira-mcp
//! for a whole team adds to the stdio server. Each user signs in through
//! their MCP client and acts in Jira as themselves.
//!
//! - [`authz`]: the MCP authorization server (OAuth 2.1 for MCP clients,
//!   with Atlassian sign-in behind it), one file per endpoint;
//! - [`http`]: the HTTP side of `/mcp` (the bearer check, Host and Origin
//!   checks, rate limits, connections, the audit trail) and each caller's
//!   session for the tool layer ([`http::session`]);
//! - [`store`]: users, clients, codes, tokens and sealed Atlassian grants, on
//!   SQLite or Postgres;
//! - [`admin`]: the `jira-mcp team` commands.
//!
//! Its settings are read with the others, in `config` (`TeamSettings`).

pub mod admin;
pub mod authz;
pub mod http;
pub mod store;
