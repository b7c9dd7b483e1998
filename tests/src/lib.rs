//! End-to-end support: a simulated Atlassian ([`sim`]) and helpers that run
//! the built `jira-mcp` binary ([`binary`]). Used by the tests in `tests/`,
//! by `cargo run -p e2e-tests --bin demo`, and by the `atlassian-sim` binary.
//! [`tls`] puts HTTPS with a test-made CA in front of any local server, and
//! [`spec`] checks the requests tools send against Atlassian's Jira Cloud spec.
//! [`team`] runs the team server; [`proxy`] balances several of them round
//! robin; [`postgres`] gives each test a fresh database.
pub mod binary;
pub mod postgres;
pub mod proxy;
pub mod sim;
pub mod spec;
pub mod team;
pub mod tls;
