//! The team server: MCP's streamable HTTP at `/mcp` for many users, each
//! acting in Jira as themselves (`jira-mcp serve --http ADDR`).
//!
//! - [`app`](mod@app): the axum router (the authorization server's routes merged in);
//! - [`guard`]: the bearer check on `/mcp`, scopes, rate limit;
//! - [`hosts`]: Host and Origin checks against DNS rebinding, on every route;
//! - [`metadata`]: Protected Resource Metadata (RFC 9728);
//! - [`health`]: `/healthz` and `/readyz`;
//! - [`rate`]: the per-client token bucket;
//! - [`audit`]: one log line per tool call;
//! - [`mcp`]: rmcp's streamable HTTP service over the stdio tool layer;
//! - [`clients`]: each user's Jira connection and token cache;
//! - [`connections`]: the accept loop, with timeouts and a connection cap.

pub mod app;
pub mod audit;
pub mod clients;
pub mod connections;
pub mod guard;
pub mod health;
pub mod hosts;
pub mod mcp;
pub mod metadata;
pub mod rate;
pub mod session;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gouqi_oauth::secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

pub use app::app;

use crate::config::{Config, TeamSettings};
use crate::server::ServerState;
use crate::team::store::TeamStore;
use crate::team::store::crypto::Sealer;

/// How often expired codes, pending authorizations and tokens are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Everything the team server's routes share.
pub struct TeamState {
    /// The team settings (from `Config::team`).
    pub settings: TeamSettings,
    /// `{public}/mcp`: this resource, the audience of its tokens.
    pub resource: String,
    /// Users, grants, clients and tokens.
    pub store: Arc<dyn TeamStore>,
    /// Seals and opens Atlassian grants.
    pub sealer: Arc<Sealer>,
    /// The tool layer, with each caller's Jira connection.
    pub server: Arc<ServerState>,
    /// The per-user connections behind `server`.
    pub clients: Arc<clients::UserClients>,
    /// The per-client rate limit.
    pub limiter: rate::RateLimiter,
    /// Cancelled at shutdown: ends rmcp's request handling.
    pub shutdown: CancellationToken,
}

impl TeamState {
    /// The state for `config` (which must have team settings), on `store`.
    /// Must run inside the Tokio runtime that will serve it.
    pub fn new(
        config: Config,
        store: Arc<dyn TeamStore>,
        sealer: Arc<Sealer>,
    ) -> Result<Arc<TeamState>, String> {
        let settings = config
            .team
            .clone()
            .ok_or("the team server needs JIRA_MCP_HTTP_ADDR (or `serve --http ADDR`)")?;
        let clients = Arc::new(clients::UserClients::new(
            &config,
            store.clone(),
            sealer.clone(),
            settings.user_cache_size,
        )?);
        let server = ServerState::team(
            config,
            Arc::new(session::CallerSessions::new(clients.clone())),
        );
        Ok(Arc::new(TeamState {
            resource: settings.resource(),
            limiter: rate::RateLimiter::new(settings.rate_limit),
            settings,
            store,
            sealer,
            server,
            clients,
            shutdown: CancellationToken::new(),
        }))
    }

    /// `{public}/.well-known/oauth-protected-resource/mcp`, named in every 401.
    pub fn metadata_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            self.settings.public()
        )
    }
}

/// `jira-mcp serve --http ADDR`: opens the store, binds, serves until
/// SIGTERM or Ctrl-C, then lets token refreshes in flight be saved.
pub async fn serve(config: Config) -> crate::exit::Outcome {
    let settings = config.team.clone().ok_or("no HTTP address is configured")?;
    let previous: Vec<String> = settings
        .previous_keys
        .iter()
        .map(|k| k.expose_secret().to_string())
        .collect();
    let sealer = Sealer::from_base64(settings.encryption_key.expose_secret(), &previous)
        .map_err(|e| format!("JIRA_MCP_ENCRYPTION_KEY: {e}"))?;
    let database = settings.database_url.expose_secret();
    prepare_sqlite_dir(database)?;
    let store = crate::team::store::open(database)
        .await
        .map_err(|e| format!("cannot open the team store: {e}"))?;
    let team = TeamState::new(config, store, Arc::new(sealer))?;
    let router = app(team.clone(), app::authz_router(&team)?);
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {} (JIRA_MCP_HTTP_ADDR): {e}",
                settings.addr
            )
        })?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("jira-mcp listening on http://{bound}");
    let purge = tokio::spawn(purge_expired(
        team.store.clone(),
        settings.abuse.unused_client_ttl,
    ));
    let stopping = team.shutdown.clone();
    let stop = async move {
        crate::exit::stop_signal().await;
        // Ends rmcp's streams, so that open connections can close.
        stopping.cancel();
    };
    // `connections::serve` gives handlers the peer's address (ConnectInfo),
    // for the authorization endpoints' per-address limits.
    connections::serve(
        listener,
        router,
        settings.connections,
        stop,
        crate::exit::SHUTDOWN_GRACE,
    )
    .await;
    team.shutdown.cancel();
    purge.abort();
    team.server.settle(crate::exit::SHUTDOWN_GRACE).await;
    Ok(ExitCode::SUCCESS)
}

/// The default SQLite file lives in the data directory, which may not exist
/// yet on a fresh machine. What is created is private to the user (0700):
/// it holds the store, its WAL and lock files.
pub fn prepare_sqlite_dir(database: &str) -> Result<(), String> {
    let Some(path) = database.strip_prefix("sqlite://") else {
        return Ok(());
    };
    let path = std::path::Path::new(path.split('?').next().unwrap_or(path));
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(dir)
                .map_err(|e| format!("cannot create {} for the team store: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Deletes expired records, and clients that never completed an
/// authorization within `unused_client_ttl`, now and then; a failure is
/// logged and retried.
async fn purge_expired(store: Arc<dyn TeamStore>, unused_client_ttl: Duration) {
    let mut ticks = tokio::time::interval(PURGE_EVERY);
    loop {
        ticks.tick().await;
        let now = crate::team::store::now();
        match store.purge_expired(now).await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "purged expired records"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not purge expired records"),
        }
        let cutoff = now.saturating_sub(crate::team::store::seconds(unused_client_ttl));
        match store.purge_unused_clients(cutoff).await {
            Ok(n) if n > 0 => {
                tracing::info!(
                    purged = n,
                    "deleted clients that never completed an authorization"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not delete unused clients"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn the_data_directory_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("share").join("jira-mcp");
        let url = format!("sqlite://{}?mode=rwc", data.join("team.db").display());
        super::prepare_sqlite_dir(&url).unwrap();
        for created in [&data, data.parent().unwrap()] {
            let mode = std::fs::metadata(created).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", created.display());
        }
        // Idempotent on an existing directory.
        super::prepare_sqlite_dir(&url).unwrap();
    }
}
