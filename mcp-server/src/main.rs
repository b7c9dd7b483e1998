//! The `jira-mcp` binary: command-line parsing and process setup only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use jira_mcp::cli;
use jira_mcp::config::{Config, Flags};
#[cfg(feature = "team")]
use jira_mcp::team::admin as team_admin;

/// A Jira MCP server with OAuth 2.0 that never goes stale.
///
/// Settings come from flags, then the environment (JIRA_URL, JIRA_AUTH_TYPE,
/// JIRA_OAUTH_CLIENT_ID, …), then the TOML file, then defaults. See the README
/// for every variable. Network: JIRA_TIMEOUT_SECS (default 30), JIRA_CA_BUNDLE
/// (a PEM file of extra CAs), JIRA_TLS_NATIVE_ROOTS=true (trust the OS store);
/// HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured.
#[derive(Parser, Debug)]
#[command(name = "jira-mcp", version)]
struct Cli {
    #[command(flatten)]
    settings: SettingFlags,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug)]
struct SettingFlags {
    /// TOML config file (default: the user's config dir, jira-mcp/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The Jira site (JIRA_URL).
    #[arg(long, global = true)]
    url: Option<String>,
    /// cloud or datacenter (JIRA_DEPLOYMENT).
    #[arg(long, global = true)]
    deployment: Option<String>,
    /// oauth, api_token, pat, basic, bearer or anonymous (JIRA_AUTH_TYPE).
    #[arg(long, global = true)]
    auth_type: Option<String>,
    /// Where OAuth tokens are kept (JIRA_OAUTH_TOKEN_FILE).
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<String>,
    /// The OAuth redirect URI (JIRA_OAUTH_REDIRECT_URI).
    #[arg(long, global = true, value_name = "URI")]
    redirect_uri: Option<String>,
    /// The Jira Cloud site's cloud id (JIRA_OAUTH_CLOUD_ID).
    #[arg(long, global = true)]
    cloud_id: Option<String>,
    /// Offer no tool that changes Jira (JIRA_MCP_READ_ONLY).
    #[arg(long, global = true)]
    read_only: bool,
    /// Only these tools or toolsets, comma-separated (JIRA_MCP_TOOLS).
    #[arg(long, global = true, value_name = "NAMES")]
    tools: Option<String>,
    /// Never these tools or toolsets (JIRA_MCP_DISABLED_TOOLS).
    #[arg(long, global = true, value_name = "NAMES")]
    disabled_tools: Option<String>,
    /// Only these project keys (JIRA_MCP_PROJECTS).
    #[arg(long, global = true, value_name = "KEYS")]
    projects: Option<String>,
    /// Hide the write tools the Jira account lacks permissions for
    /// (JIRA_MCP_PERMISSION_AWARE).
    #[arg(long, global = true)]
    permission_aware: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve MCP over stdio (the default), or over HTTP to a team with `--http`.
    Serve {
        /// Serve MCP's streamable HTTP at ADDR (e.g. 127.0.0.1:8080) for a
        /// team, each user signed in to Jira as themselves
        /// (JIRA_MCP_HTTP_ADDR; see the README's "Remote server for a team").
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
    },
    /// Log in, inspect, refresh or remove OAuth tokens.
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Check that the team server on this machine is ready (its `/readyz`, with
    /// a Host header it accepts): exit 0 when it is, 1 when not. For container
    /// healthchecks; takes the same settings as `serve --http`.
    Health,
    /// Team server administration: list users, revoke their tokens, delete them.
    #[cfg(feature = "team")]
    Team {
        #[command(subcommand)]
        command: TeamCommand,
    },
}

/// The team server's admin commands (same settings as `serve --http`).
#[cfg(feature = "team")]
#[derive(Subcommand, Debug)]
enum TeamCommand {
    /// List the users who signed in (jira-mcp id, Atlassian account, site).
    Users,
    /// Revoke every MCP token of one user (by jira-mcp id or Atlassian account id).
    Revoke {
        /// jira-mcp's user id or the Atlassian account id.
        user: String,
    },
    /// Delete a user with their Atlassian grant and MCP tokens.
    Delete {
        /// jira-mcp's user id or the Atlassian account id.
        user: String,
    },
}

#[derive(Subcommand, Debug)]
enum AuthCommand {
    /// Log in with OAuth 2.0 in a browser (a pasted redirect URL or code also works).
    Login {
        /// Do not open a browser; print the URL only (SSH, headless).
        #[arg(long)]
        no_browser: bool,
    },
    /// Show the login: auth type, account, site, scopes, token expiry, store.
    ///
    /// Exit codes: 0 logged in and Jira accepts the credentials; 1 not logged
    /// in, re-login needed, or Jira answered another error; 3 Jira (or the
    /// token endpoint) cannot be reached (network, DNS, TLS, proxy, timeout).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Refresh the OAuth access token now.
    Refresh,
    /// Remove the stored OAuth tokens.
    Logout,
}

impl SettingFlags {
    fn into_flags(self) -> Flags {
        let pairs = [
            ("JIRA_URL", self.url),
            ("JIRA_DEPLOYMENT", self.deployment),
            ("JIRA_AUTH_TYPE", self.auth_type),
            ("JIRA_OAUTH_TOKEN_FILE", self.token_file),
            ("JIRA_OAUTH_REDIRECT_URI", self.redirect_uri),
            ("JIRA_OAUTH_CLOUD_ID", self.cloud_id),
            ("JIRA_MCP_READ_ONLY", self.read_only.then(|| "true".into())),
            ("JIRA_MCP_TOOLS", self.tools),
            ("JIRA_MCP_DISABLED_TOOLS", self.disabled_tools),
            ("JIRA_MCP_PROJECTS", self.projects),
            (
                "JIRA_MCP_PERMISSION_AWARE",
                self.permission_aware.then(|| "true".into()),
            ),
        ];
        Flags {
            config: self.config,
            values: pairs
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_logging();
    let mut flags = cli.settings.into_flags();
    if let Some(Command::Serve { http: Some(addr) }) = &cli.command {
        flags.values.insert("JIRA_MCP_HTTP_ADDR", addr.clone());
    }
    let config = match Config::load(&flags) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("jira-mcp: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // The team server serves many users at once: all cores. stdio: one thread.
    let runtime = match config.team {
        Some(_) => tokio::runtime::Builder::new_multi_thread(),
        None => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("jira-mcp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            None | Some(Command::Serve { .. }) => cli::serve(config).await,
            Some(Command::Auth { command }) => match command {
                AuthCommand::Login { no_browser } => cli::login(&config, no_browser).await,
                AuthCommand::Status { json } => cli::status(&config, json).await,
                AuthCommand::Refresh => cli::refresh(&config).await,
                AuthCommand::Logout => cli::logout(&config),
            },
            Some(Command::Health) => cli::health(&config).await,
            #[cfg(feature = "team")]
            Some(Command::Team { command }) => match command {
                TeamCommand::Users => team_admin::users(&config).await,
                TeamCommand::Revoke { user } => team_admin::revoke(&config, &user).await,
                TeamCommand::Delete { user } => team_admin::delete(&config, &user).await,
            },
        }
    });
    // A pending stdin read (the paste prompt of `auth login`) cannot be
    // cancelled; do not let it hold the process open after the work is done.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("jira-mcp: {message}");
            ExitCode::FAILURE
        }
    }
}
