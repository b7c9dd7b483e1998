//! Command one of the README: the whole thing against a simulated Atlassian,
//! with nothing to set up.
//!
//! ```sh
//! cargo run -p e2e-tests --bin demo
//! ```

use std::time::Duration;

use e2e_tests::binary::{self, call};
use e2e_tests::sim::{Options, Simulator};
use serde_json::{Value, json};

const TTL: Duration = Duration::from_secs(5);

fn step(n: u32, text: &str) {
    println!("\n[{n}/6] {text}");
}

fn detail(text: impl AsRef<str>) {
    println!("      {}", text.as_ref());
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("jira-mcp demo: OAuth login, MCP tool calls and a transparent token refresh,");
    println!("against a simulated Atlassian on this machine (no account needed).");

    step(1, "Starting the simulated Atlassian");
    let sim = Simulator::start(Options {
        access_ttl: TTL,
        ..Options::default()
    })
    .await;
    detail(format!(
        "listening on {} (loopback only); access tokens live {} s, refresh tokens rotate",
        sim.uri(),
        TTL.as_secs()
    ));

    step(
        2,
        "Building jira-mcp (cargo build -p jira-mcp; the first build takes a few minutes)",
    );
    if !binary::build()? {
        return Err("cargo build -p jira-mcp failed".into());
    }
    detail(format!("{}", binary::path().display()));

    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("tokens.json");
    let env = sim.env(&binary::free_redirect_uri(), &token_file);

    step(
        3,
        "Logging in: `jira-mcp auth login --no-browser`, this demo playing the browser",
    );
    let run = binary::login(&env).await;
    for line in run
        .stderr
        .lines()
        .filter(|l| l.starts_with("Logged in") || l.starts_with("Warning"))
    {
        detail(format!("jira-mcp: {line}"));
    }
    if !run.success {
        return Err(format!("auth login failed:\n{}", run.stderr).into());
    }
    let (_, status, _) = binary::auth(&env, &["status", "--json"]).await;
    let status: Value = serde_json::from_str(&status)?;
    detail(format!(
        "`jira-mcp auth status`: logged in as {}, access token expires in {} s, refresh token present: {}",
        status["account"].as_str().unwrap_or("?"),
        status["access_token_expires_in"],
        status["refresh_token_present"]
    ));

    step(
        4,
        "Starting `jira-mcp serve` and calling tools through an MCP client",
    );
    let (client, _) = binary::serve(&env).await;
    let tools = client.list_all_tools().await?;
    detail(format!("tools/list: {} tools", tools.len()));
    let me = tool(&client, "get_current_user", json!({})).await?;
    detail(format!(
        "get_current_user -> {}",
        me["display_name"].as_str().unwrap_or("?")
    ));
    let found = tool(
        &client,
        "search_issues",
        json!({"jql": "project = ED ORDER BY updated DESC"}),
    )
    .await?;
    for issue in found["issues"].as_array().into_iter().flatten() {
        detail(format!(
            "search_issues -> {} [{}] {}",
            issue["key"].as_str().unwrap_or("?"),
            issue["status"].as_str().unwrap_or("?"),
            issue["summary"].as_str().unwrap_or("")
        ));
    }
    let created = tool(&client, "create_issue", json!({"project_key": "ED", "issue_type": "Task", "summary": "Try jira-mcp", "description": "Created by the **demo**."})).await?;
    let key = created["key"].as_str().unwrap_or("?").to_string();
    detail(format!("create_issue -> {key}"));
    tool(
        &client,
        "add_comment",
        json!({"issue_key": key, "body": "Works *without* an Atlassian account."}),
    )
    .await?;
    detail(format!("add_comment -> commented on {key}"));
    let moved = tool(
        &client,
        "transition_issue",
        json!({"issue_key": key, "transition": "In Progress"}),
    )
    .await?;
    detail(format!(
        "transition_issue -> {key} is now {}",
        moved["status"].as_str().unwrap_or("?")
    ));

    let before = sim.counters();
    step(
        5,
        &format!(
            "Waiting {} s, past the access token's expiry",
            TTL.as_secs() + 1
        ),
    );
    tokio::time::sleep(TTL + Duration::from_secs(1)).await;
    let issue = tool(&client, "get_issue", json!({"issue_key": key})).await?;
    let after = sim.counters();
    detail(format!(
        "get_issue {key} -> [{}] {} (no error: refreshed transparently)",
        issue["status"].as_str().unwrap_or("?"),
        issue["summary"].as_str().unwrap_or("")
    ));
    detail(format!(
        "token endpoint: {} refresh(es) during the wait, {} invalid_grant in all",
        after.refreshes - before.refreshes,
        after.invalid_grants
    ));

    step(6, "Done");
    let stored = gouqi_oauth::TokenStore::load(&gouqi_oauth::FileStore::new(&token_file))?;
    detail(format!(
        "the token file held the rotated refresh token ({}, mode 0600); it lived in a \
         temporary directory, removed as the demo ends",
        if stored.is_some_and(|t| t.refresh_token.is_some()) {
            "present"
        } else {
            "missing!"
        }
    ));
    let _ = client.cancel().await;
    Ok(())
}

async fn tool(
    client: &binary::McpClient,
    name: &str,
    args: Value,
) -> Result<Value, Box<dyn std::error::Error>> {
    let (is_error, text) = call(client, name, args).await;
    if is_error {
        return Err(format!("{name} failed: {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}
