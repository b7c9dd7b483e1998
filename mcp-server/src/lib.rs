//! jira-mcp: a Jira MCP server on gouqi-oauth.
//!
//! The binary is thin: [`config`] reads settings, [`jira`] holds the Jira
//! logic, [`auth`] the OAuth plumbing, and [`server`] maps MCP tools onto them.
pub mod auth;
pub mod authz;
pub mod bounds;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod conform;
pub mod exit;
pub mod http;
pub mod input;
pub mod jira;
pub mod jql;
pub mod permissions;
pub mod server;
pub mod session;
pub mod store;
pub mod team_admin;
pub mod text;
pub mod tool_error;
