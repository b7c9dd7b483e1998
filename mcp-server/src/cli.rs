//! What the `jira-mcp` subcommands do. Messages go to stderr; stdout is
//! reserved for MCP's JSON-RPC (and for `auth status` output).

use std::process::{ExitCode, Stdio};
use std::time::Duration;

use gouqi_oauth::PendingAuthorization;
use gouqi_oauth::{DEFAULT_LOGIN_TIMEOUT, LoopbackListener};
use rmcp::ServiceExt;
use tokio::io::AsyncBufReadExt;

use crate::auth::{AuthStatus, OAuthSetup};
use crate::config::{Config, Grant};
use crate::exit::{Outcome, SHUTDOWN_GRACE, stop_signal};
use crate::jira::JiraClient;
use crate::server::{JiraMcp, ServerState};
use crate::tool_error::{ToolError, ToolErrorKind, explain, explain_store};

/// Logs to stderr, filtered by `RUST_LOG` (default: warnings, and the team
/// server's audit lines).
///
/// rmcp's debug and trace events carry every request's arguments and every
/// result (an authorization code and its state among them, on
/// `complete_oauth_flow`), so rmcp is capped at `info` whatever `RUST_LOG` says.
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,jira_mcp::audit=info"));
    let no_mcp_payloads = tracing_subscriber::filter::filter_fn(|meta| {
        !(meta.target().starts_with("rmcp") && *meta.level() > tracing::Level::INFO)
    });
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::Layer::with_filter(
            stderr,
            no_mcp_payloads,
        ))
        .try_init();
}

/// Serves MCP over stdio until the client closes it. Nothing touches the
/// network before the reply to `initialize`: Jira is opened on first use.
/// On exit, a token refresh in flight is let finish saving first.
///
/// With `JIRA_MCP_HTTP_ADDR` (`serve --http ADDR`), serves the team over
/// HTTP instead (`team::http::serve`).
pub async fn serve(config: Config) -> Outcome {
    #[cfg(feature = "team")]
    if config.team.is_some() {
        return crate::team::http::serve(config).await;
    }
    let state = ServerState::new(config);
    let server = JiraMcp::new(state.clone());
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("the MCP session failed to start: {e}"))?;
    let stop = running.cancellation_token();
    tokio::spawn(async move {
        stop_signal().await;
        stop.cancel();
    });
    let ended = running.waiting().await;
    state.settle(SHUTDOWN_GRACE).await;
    ended.map_err(|e| format!("the MCP session ended with an error: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn oauth(config: &Config) -> Result<OAuthSetup, String> {
    OAuthSetup::from_config(config).ok_or_else(|| {
        "`auth` commands need OAuth: set JIRA_AUTH_TYPE=oauth, JIRA_OAUTH_CLIENT_ID and JIRA_OAUTH_CLIENT_SECRET".to_string()
    })
}

/// Runs the authorization-code flow: loopback capture and stdin paste race.
pub async fn login(config: &Config, no_browser: bool) -> Outcome {
    let setup = oauth(config)?;
    if setup.settings().grant == Grant::ClientCredentials {
        eprintln!(
            "Service account (client credentials): minting a token to check the credentials…"
        );
        return refresh(config).await;
    }
    let flow = setup.flow().map_err(|e| explain(&e))?;
    let store = setup.store();
    // Found now, not after the user approved in the browser.
    gouqi_oauth::check_writable(&store)
        .await
        .map_err(|e| format!("{}. Fix the token file before logging in", explain(&e)))?;
    let listener = match LoopbackListener::bind(flow.redirect_uri()).await {
        Ok(listener) => Some(listener),
        Err(e) => {
            eprintln!("Note: {}", explain(&e));
            None
        }
    };
    let pending = flow.begin();
    eprintln!(
        "Open this URL in a browser to authorize jira-mcp:\n\n  {}\n",
        pending.url()
    );
    if !no_browser {
        open_browser(pending.url().as_str());
    }
    let pasted = wait_for_redirect(listener, &pending).await?;
    let login = match pasted {
        Redirect::Captured(code) => flow.complete(&pending, code, &store).await,
        Redirect::Pasted(text) => flow.complete_pasted(&pending, &text, &store).await,
    }
    .map_err(|e| explain(&e))?;
    for warning in &login.warnings {
        eprintln!("Warning: {warning}");
    }
    report_login(config).await;
    Ok(ExitCode::SUCCESS)
}

enum Redirect {
    Captured(gouqi_oauth::AuthorizationCode),
    Pasted(String),
}

/// Waits for whichever comes first: the browser at the loopback listener, or
/// a line on stdin. Prints progress meanwhile.
async fn wait_for_redirect(
    listener: Option<LoopbackListener>,
    pending: &PendingAuthorization,
) -> Result<Redirect, String> {
    let waiting = match &listener {
        Some(l) => format!(
            "Waiting for the browser to return to {} (up to {} min).",
            l.local_addrs()
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
            DEFAULT_LOGIN_TIMEOUT.as_secs() / 60
        ),
        None => "Waiting for you to paste the redirect.".to_string(),
    };
    eprintln!(
        "{waiting}\nIf the browser runs on another machine, paste the URL it was redirected to (or the code) here and press Enter."
    );
    let captured = async {
        match listener {
            Some(l) => l
                .wait_for_code(pending.state(), DEFAULT_LOGIN_TIMEOUT)
                .await
                .map(Redirect::Captured)
                .map_err(|e| explain(&e)),
            None => std::future::pending().await,
        }
    };
    let pasted = read_pasted(pending.state());
    let mut ticks = tokio::time::interval(Duration::from_secs(30));
    ticks.tick().await;
    tokio::pin!(captured, pasted);
    let started = tokio::time::Instant::now();
    loop {
        tokio::select! {
            outcome = &mut captured => return outcome,
            Some(text) = &mut pasted => return Ok(Redirect::Pasted(text)),
            _ = ticks.tick() => eprintln!("Still waiting… {} s", started.elapsed().as_secs()),
        }
    }
}

/// The first non-empty stdin line, as `parse_pasted` takes it. A bare code
/// gets this login's state appended: PKCE binds the code to this login.
async fn read_pasted(state: &str) -> Option<String> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bare_code = !line.contains(['=', ' ', '/']);
        return Some(if bare_code {
            format!("{line} {state}")
        } else {
            line.to_string()
        });
    }
    std::future::pending().await
}

/// Opens the system browser without letting it touch our stdio.
fn open_browser(url: &str) {
    let (program, args) = browser_command(std::env::consts::OS, url);
    let opened = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = opened {
        eprintln!("(Could not open a browser: {e}. Open the URL yourself.)");
    }
}

/// The command that opens `url` on `os`. The URL is always one argument
/// that no shell parses: `cmd /C start` would cut it at the first `&`, so
/// Windows uses the URL protocol handler directly.
pub fn browser_command(os: &str, url: &str) -> (&'static str, Vec<String>) {
    match os {
        "macos" => ("open", vec![url.to_string()]),
        "windows" => (
            "rundll32",
            vec!["url.dll,FileProtocolHandler".to_string(), url.to_string()],
        ),
        _ => ("xdg-open", vec![url.to_string()]),
    }
}

async fn report_login(config: &Config) {
    let status = AuthStatus::offline(config);
    let account = match JiraClient::open(config) {
        Ok(jira) => jira
            .get_current_user()
            .await
            .ok()
            .and_then(|me| me["display_name"].as_str().map(String::from)),
        Err(_) => None,
    };
    eprintln!(
        "Logged in{} on {}{}.",
        account.map(|a| format!(" as {a}")).unwrap_or_default(),
        status.site.as_deref().unwrap_or("the Jira site"),
        status
            .cloud_id
            .map(|id| format!(" (cloud id {id})"))
            .unwrap_or_default(),
    );
}

/// `auth status`: Jira (or the token endpoint) could not be reached.
pub const EXIT_UNREACHABLE: u8 = 3;

/// Prints the login state. Exits 0 when logged in and Jira accepts the
/// credentials, 1 when not logged in or a new login is needed (or Jira
/// answered another error), [`EXIT_UNREACHABLE`] when Jira cannot be reached.
pub async fn status(config: &Config, json: bool) -> Outcome {
    let mut status = AuthStatus::offline(config);
    let failure = match status.logged_in {
        true => check_online(config, &mut status).await.err(),
        false => None,
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        );
    } else {
        print_status(&status);
    }
    Ok(match failure {
        Some(ToolErrorKind::Network) => ExitCode::from(EXIT_UNREACHABLE),
        None if status.logged_in && !status.needs_reauthorization => ExitCode::SUCCESS,
        Some(_) | None => ExitCode::FAILURE,
    })
}

/// Refreshes if needed (proving the grant still works) and finds the account.
/// Returns the kind of failure, already recorded in `status`.
async fn check_online(config: &Config, status: &mut AuthStatus) -> Result<(), ToolErrorKind> {
    let fail = |status: &mut AuthStatus, e: ToolError| {
        status.check_failed(&e);
        Err(e.kind)
    };
    let jira = match JiraClient::open(config) {
        Ok(jira) => jira,
        Err(e) => return fail(status, e),
    };
    if let Some(cache) = jira.token_cache() {
        if let Err(e) = cache.token().await {
            return fail(status, e.into());
        }
        *status = refreshed(config, status.account.take());
    }
    match jira.get_current_user().await {
        Ok(me) => {
            status.jira_reachable = Some(true);
            status.account = me["display_name"].as_str().map(String::from);
            Ok(())
        }
        Err(e) => fail(status, e),
    }
}

/// Re-reads the status after a possible refresh.
fn refreshed(config: &Config, account: Option<String>) -> AuthStatus {
    let mut status = AuthStatus::offline(config);
    status.account = account;
    status
}

fn print_status(s: &AuthStatus) {
    let line = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            println!("{name:<22}{value}");
        }
    };
    line("auth type", Some(s.auth_type.clone()));
    line(
        "deployment",
        Some(format!("{:?}", s.deployment).to_lowercase()),
    );
    line(
        "grant",
        s.grant.map(|g| match g {
            Grant::AuthorizationCode => "authorization_code (user login)".to_string(),
            Grant::ClientCredentials => "client_credentials (service account)".to_string(),
        }),
    );
    line("logged in", Some(s.logged_in.to_string()));
    line("jira reachable", s.jira_reachable.map(|r| r.to_string()));
    line("account", s.account.clone());
    line("site", s.site.clone());
    line("cloud id", s.cloud_id.clone());
    line("scopes", (!s.scopes.is_empty()).then(|| s.scopes.join(" ")));
    line(
        "access token expires",
        s.access_token_expires_in.map(|secs| {
            if secs > 0 {
                format!("in {} min", secs / 60)
            } else {
                format!("{} min ago", -secs / 60)
            }
        }),
    );
    line(
        "refresh token",
        s.grant.map(|_| {
            if s.refresh_token_present == Some(true) {
                format!("present, {} min old", s.refresh_token_age.unwrap_or(0) / 60)
            } else {
                "none".into()
            }
        }),
    );
    line("store", s.store.clone());
    println!("{:<22}{}", "status", s.message);
}

/// Forces a refresh (or a new mint for a service account).
pub async fn refresh(config: &Config) -> Outcome {
    oauth(config)?;
    let jira = JiraClient::open(config).map_err(|e| e.message)?;
    let cache = jira.token_cache().ok_or("no OAuth token cache")?;
    let token = cache.force_refresh().await.map_err(|e| explain(&e))?;
    let minutes = token
        .tokens()
        .expires_at
        .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok())
        .map_or(0, |d| d.as_secs() / 60);
    eprintln!("Refreshed: the new access token expires in {minutes} min.");
    Ok(ExitCode::SUCCESS)
}

/// Removes the stored tokens, under the store's lock so that a refresh in
/// another process cannot write them back.
pub fn logout(config: &Config) -> Outcome {
    let setup = oauth(config)?;
    let store = setup.store();
    if store.remove().map_err(|e| explain_store(&e))? {
        eprintln!("Logged out: removed the tokens in {}.", store.location());
    } else {
        eprintln!(
            "Not logged in: {} holds no tokens; nothing to remove.",
            store.location()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `jira-mcp health`: asks this machine's team server for `/readyz`, with a
/// Host header it accepts, and exits 0 when it answers 200 (1 otherwise).
/// For container healthchecks: the image has no curl, and `/readyz` refuses
/// a Host that is not allowed.
pub async fn health(config: &Config) -> Outcome {
    let team = config.team.as_ref().ok_or(
        "`health` checks the team server: set JIRA_MCP_HTTP_ADDR (and the rest of its settings) \
         as for `serve`",
    )?;
    let ip = match team.addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let url = format!(
        "http://{}/readyz",
        std::net::SocketAddr::new(ip, team.addr.port())
    );
    let host = health_host(team);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    let response = client
        .get(&url)
        .header(reqwest::header::HOST, &host)
        .send()
        .await
        .map_err(|e| format!("{url} (Host {host}) did not answer: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status == reqwest::StatusCode::OK {
        eprintln!("{}", body.trim());
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!(
            "{url} (Host {host}) answered {status}: {}",
            body.trim()
        ))
    }
}

/// The Host header the server accepts: the first allowed host, or the public
/// URL's host (with its port) when any host is allowed.
fn health_host(team: &crate::config::TeamSettings) -> String {
    match team.allowed_hosts.first() {
        Some(host) if host != crate::config::ALLOW_ANY => host.clone(),
        _ => {
            let public = &team.public_url;
            let host = public.host_str().unwrap_or("localhost");
            match public.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::browser_command;

    /// Authorization URLs carry several `&`-joined parameters; no platform's
    /// command may cut them (`cmd /C start` did, at the first `&`).
    #[test]
    fn the_browser_gets_the_whole_url_as_one_unparsed_argument() {
        let url = "https://auth.atlassian.com/authorize?audience=api.atlassian.com&client_id=x&scope=read%3Ajira-work&state=s&code_challenge=c";
        for os in ["windows", "macos", "linux"] {
            let (program, args) = browser_command(os, url);
            assert_eq!(args.last().map(String::as_str), Some(url), "{os}");
            assert!(
                !["cmd", "cmd.exe", "powershell", "sh"].contains(&program),
                "{os}: {program} would parse the URL"
            );
        }
        let (program, args) = browser_command("windows", url);
        assert_eq!(
            (program, args[0].as_str()),
            ("rundll32", "url.dll,FileProtocolHandler")
        );
    }
}
