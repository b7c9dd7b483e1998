//! jira-mcp: a Jira MCP server on gouqi-oauth.
//!
//! The binary is thin: [`config`] reads settings, [`jira`] holds the Jira
//! logic, [`auth`] the OAuth plumbing, and [`server`] maps MCP tools onto them.
//! The team server (`serve --http`) is all in [`team`], behind the default
//! `team` feature; the tool layer meets it only through [`session`].
pub mod auth;
pub mod bounds;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod conform;
pub mod exit;
pub mod input;
pub mod jira;
pub mod jql;
pub mod permissions;
pub mod server;
pub mod session;
#[cfg(feature = "team")]
pub mod team;
pub mod text;
pub mod tool_error;
pub mod tools;
