//! `jira-mcp team …`: the team server's admin commands, run beside the
//! server. They act on the store only (`JIRA_MCP_DATABASE_URL`), so they
//! work while the server runs, on any replica's database, and without the
//! server's address, keys or Atlassian settings.

use std::process::ExitCode;

use gouqi_oauth::secrecy::ExposeSecret;

use crate::config::Config;
use crate::exit::Outcome;
use crate::team::authz;
use crate::team::store::{self, TeamStore, UserRecord};

/// `jira-mcp team users`: every user who signed in, one per line.
pub async fn users(config: &Config) -> Outcome {
    let store = open(config).await?;
    let users = store.users().await.map_err(|e| e.to_string())?;
    if users.is_empty() {
        eprintln!("No user has signed in through {} yet.", store.describe());
    }
    println!(
        "{:<34} {:<40} {:<38} name",
        "user", "atlassian account", "site"
    );
    for user in users {
        println!(
            "{:<34} {:<40} {:<38} {}",
            user.id,
            user.account_id,
            user.site,
            user.display_name.as_deref().unwrap_or("-")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `jira-mcp team revoke USER`: revokes every MCP token of one user and
/// deletes their unredeemed authorization codes (their assistants must
/// authorize again); other users are untouched.
pub async fn revoke(config: &Config, who: &str) -> Outcome {
    let store = open(config).await?;
    let user = find(store.as_ref(), who).await?;
    let revoked = authz::revoke_user(store.as_ref(), &user.id)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "Revoked {revoked} MCP token(s) and unredeemed code(s) of {} ({}); their Atlassian \
         grant is kept.",
        user.id, user.account_id
    );
    Ok(ExitCode::SUCCESS)
}

/// `jira-mcp team delete USER`: deletes a user with their Atlassian grant,
/// codes and tokens.
pub async fn delete(config: &Config, who: &str) -> Outcome {
    let store = open(config).await?;
    let user = find(store.as_ref(), who).await?;
    authz::delete_user(store.as_ref(), &user.id)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "Deleted {} ({}) with their Atlassian grant and MCP tokens.",
        user.id, user.account_id
    );
    Ok(ExitCode::SUCCESS)
}

/// The store the server uses: only `JIRA_MCP_DATABASE_URL` (or the default
/// SQLite file) is needed, not the server's address or keys.
async fn open(config: &Config) -> Result<std::sync::Arc<dyn TeamStore>, String> {
    let url = config.team_store.as_ref().ok_or(
        "`team` commands open the team server's store: set JIRA_MCP_DATABASE_URL to the \
         server's (no data directory is known for the default SQLite file)",
    )?;
    store::open(url.expose_secret())
        .await
        .map_err(|e| format!("cannot open the team store (JIRA_MCP_DATABASE_URL): {e}"))
}

/// The user named by jira-mcp's id or by an Atlassian account id.
async fn find(store: &dyn TeamStore, who: &str) -> Result<UserRecord, String> {
    let users = store.users().await.map_err(|e| e.to_string())?;
    let mut matching = users
        .into_iter()
        .filter(|u| u.id.0 == who || u.account_id == who);
    match (matching.next(), matching.next()) {
        (Some(user), None) => Ok(user),
        (Some(_), Some(_)) => Err(format!(
            "`{who}` is the account of several users (one per site): give jira-mcp's user id \
             instead (`jira-mcp team users` lists them)"
        )),
        (None, _) => Err(format!(
            "no user `{who}`: give jira-mcp's user id or the Atlassian account id \
             (`jira-mcp team users` lists them)"
        )),
    }
}
