//! Running the real `jira-mcp` binary: `auth` commands, and `serve` behind an
//! MCP client over its stdio.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// An MCP client connected to a `jira-mcp serve` child process.
pub type McpClient = RunningService<RoleClient, ()>;

/// The `jira-mcp` binary next to this executable in the target directory,
/// or `$JIRA_MCP_BINARY`. `cargo test --workspace` builds it; the demo
/// builds it when missing (see [`build`]).
pub fn path() -> PathBuf {
    let binary = expected_path();
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p jira-mcp` first (`cargo test --workspace` builds it)",
        binary.display()
    );
    binary
}

/// The built `jira-mcp`, if it exists (for printing instructions).
pub fn locate() -> Option<PathBuf> {
    Some(expected_path()).filter(|p| p.exists())
}

/// Where `jira-mcp` is in the target directory this executable runs from.
fn expected_path() -> PathBuf {
    // A binary built elsewhere (a release build, another target dir).
    if let Some(path) = std::env::var_os("JIRA_MCP_BINARY").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .ancestors()
        .skip(1)
        .find(|d| d.join(binary_name()).exists() || d.ends_with("debug") || d.ends_with("release"))
        .map(PathBuf::from)
        .unwrap_or_else(|| exe.parent().unwrap_or(&exe).to_path_buf());
    dir.join(binary_name())
}

/// Builds `jira-mcp` with the cargo that runs this program (`cargo run` sets
/// `CARGO`); cargo skips the work when it is up to date. Cargo's progress
/// shows: a first build takes minutes.
pub fn build() -> std::io::Result<bool> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "-p", "jira-mcp", "--bin", "jira-mcp"])
        .status()?;
    Ok(status.success())
}

fn binary_name() -> &'static str {
    if cfg!(windows) {
        "jira-mcp.exe"
    } else {
        "jira-mcp"
    }
}

/// A `jira-mcp` command with a clean environment plus `env`.
pub fn command(env: &[(String, String)], args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(path());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .kill_on_drop(true);
    command
}

/// What `jira-mcp auth login --no-browser` printed, and how it exited.
pub struct LoginRun {
    /// The exit status.
    pub success: bool,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Runs `jira-mcp auth login --no-browser` and plays the browser: opens the
/// printed authorization URL, follows the consent redirect to the loopback
/// listener, and waits for the command to finish.
pub async fn login(env: &[(String, String)]) -> LoginRun {
    let mut child = command(env, &["auth", "login", "--no-browser"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jira-mcp auth login");
    // Held open on purpose: a finished login must exit even while nobody
    // closes its stdin (where it also accepts a pasted URL).
    let _stdin = child.stdin.take();
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut stderr = String::new();
    let mut browsed = false;
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await
    {
        stderr.push_str(&line);
        stderr.push('\n');
        let url = line.trim();
        if !browsed && url.starts_with("http") && url.contains("/authorize?") {
            browsed = true;
            let page = reqwest::get(url)
                .await
                .expect("the simulated browser could not open the URL");
            assert!(
                page.status().is_success(),
                "the browser landed on {}",
                page.status()
            );
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("auth login did not exit after logging in")
        .expect("wait");
    LoginRun {
        success: status.success(),
        stderr,
    }
}

/// Runs a `jira-mcp auth …` command to completion: (success, stdout, stderr).
pub async fn auth(env: &[(String, String)], args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["auth"];
    all.extend_from_slice(args);
    let output = command(env, &all)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run jira-mcp auth");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts `jira-mcp serve` and connects an MCP client to its stdio.
pub async fn serve(env: &[(String, String)]) -> (McpClient, Option<u32>) {
    serve_logging_to(env, Stdio::null()).await
}

/// Like [`serve`], with `RUST_LOG=trace` logs going to `stderr`.
pub async fn serve_logging_to(
    env: &[(String, String)],
    stderr: impl Into<Stdio>,
) -> (McpClient, Option<u32>) {
    let mut cmd = command(env, &["serve"]);
    cmd.env("RUST_LOG", "trace");
    let (process, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(stderr)
        .spawn()
        .expect("spawn jira-mcp serve");
    let pid = process.id();
    let client = ().serve(process).await.expect("MCP initialize with jira-mcp");
    (client, pid)
}

/// Like [`serve`], keeping the child process so that a test can kill it at
/// a moment of its choosing (`start_kill` is SIGKILL on Unix) and reap it.
pub async fn serve_child(env: &[(String, String)]) -> (McpClient, tokio::process::Child) {
    let mut child = command(env, &["serve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn jira-mcp serve");
    let stdout = child.stdout.take().expect("stdout");
    let stdin = child.stdin.take().expect("stdin");
    let client = ().serve((stdout, stdin)).await.expect("MCP initialize with jira-mcp");
    (client, child)
}

/// Calls a tool: (is_error, text).
pub async fn call(client: &McpClient, tool: &str, args: Value) -> (bool, String) {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result = client.call_tool(params).await.expect("tools/call");
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (result.is_error.unwrap_or(false), text)
}

/// A free loopback redirect URI for a login.
pub fn free_redirect_uri() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    format!("http://127.0.0.1:{port}/callback")
}
