//! End-to-end support: a simulated Atlassian ([`sim`]) and helpers that run
//! the built `jira-mcp` binary ([`binary`]). Used by the tests in `tests/`,
//! by `cargo run -p e2e-tests --bin demo`, and by the `atlassian-sim` binary.
pub mod binary;
pub mod sim;
