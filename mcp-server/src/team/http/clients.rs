//! Each team-server user's Jira connection: a `TokenCache` over that user's
//! grant in the team store, bound to their site, kept in a bounded LRU so
//! that one user's concurrent calls share one cache (one refresh at a time)
//! while users never wait on each other.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gouqi_oauth::Site;
use lru::LruCache;
use url::Url;

use crate::auth::OAuthSetup;
use crate::config::{Config, Deployment};
use crate::jira::JiraClient;
use crate::team::store::crypto::Sealer;
use crate::team::store::grant::UserGrantStore;
use crate::team::store::{TeamStore, UserId, UserRecord};
use crate::tool_error::{ToolError, ToolErrorKind};

/// The live connections, by user.
pub struct UserClients {
    config: Config,
    setup: OAuthSetup,
    store: Arc<dyn TeamStore>,
    sealer: Arc<Sealer>,
    runtime: tokio::runtime::Handle,
    live: Mutex<LruCache<UserId, Live>>,
}

/// A user's open connection, and their Atlassian account (for audit lines).
#[derive(Clone)]
struct Live {
    client: Arc<JiraClient>,
    account_id: String,
}

impl UserClients {
    /// Connections for `config` (OAuth), at most `capacity` live at once.
    /// Must be called inside the Tokio runtime that serves the calls.
    pub fn new(
        config: &Config,
        store: Arc<dyn TeamStore>,
        sealer: Arc<Sealer>,
        capacity: usize,
    ) -> Result<UserClients, String> {
        let setup = OAuthSetup::from_config(config)
            .ok_or("the team server needs OAuth: set JIRA_AUTH_TYPE=oauth")?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "the team server must start inside the Tokio runtime".to_string())?;
        Ok(UserClients {
            config: config.clone(),
            setup,
            store,
            sealer,
            runtime,
            live: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        })
    }

    /// How many connections are live.
    pub fn live(&self) -> usize {
        self.lock().len()
    }

    /// Drops `user`'s connection (after their grant changed or was deleted).
    pub fn forget(&self, user: &UserId) {
        self.lock().pop(user);
    }

    /// The Atlassian account of `user`, when their connection is live.
    pub fn account(&self, user: &UserId) -> Option<String> {
        self.lock().peek(user).map(|live| live.account_id.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<UserId, Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new connection for `user`, reading only their user record.
    async fn open(&self, user: &UserId) -> Result<Live, ToolError> {
        let record = self
            .store
            .user(user)
            .await
            .map_err(|e| ToolError::new(e.to_string()))?
            .ok_or_else(|| {
                ToolError::of_kind(
                    ToolErrorKind::Reauthorize,
                    "this user is no longer known to the server: authorize the MCP client again",
                )
            })?;
        let site = site_of(self.setup.deployment(), &record);
        let grant = UserGrantStore::new(
            self.store.clone(),
            self.sealer.clone(),
            user.clone(),
            self.runtime.clone(),
        );
        let (config, setup) = (self.config.clone(), self.setup.clone());
        // Opening preloads the grant: blocking store I/O, kept off the
        // async workers (the grant view drives the store with block_on).
        let opened = tokio::task::spawn_blocking(move || {
            let cache = setup.user_cache(Arc::new(grant), site.clone())?;
            JiraClient::for_user(&config, &setup, cache, &site)
        })
        .await
        .map_err(|e| ToolError::new(format!("opening the Jira connection failed: {e}")))?;
        Ok(Live {
            client: Arc::new(opened?),
            account_id: record.account_id,
        })
    }
}

impl UserClients {
    /// The Jira connection of `user`: the live one, or a new one kept for
    /// their next calls.
    pub async fn client(&self, user: &UserId) -> Result<Arc<JiraClient>, ToolError> {
        if let Some(live) = self.lock().get(user) {
            return Ok(live.client.clone());
        }
        let opened = self.open(user).await?;
        let mut live = self.lock();
        // Two first calls raced: keep the one already shared, so that the
        // user keeps a single token cache.
        if let Some(first) = live.get(user) {
            return Ok(first.client.clone());
        }
        let client = opened.client.clone();
        live.put(user.clone(), opened);
        Ok(client)
    }

    /// Waits (up to `limit`) for the token refreshes in flight to be saved.
    pub async fn settle(&self, limit: Duration) {
        let live: Vec<Arc<JiraClient>> =
            self.lock().iter().map(|(_, l)| l.client.clone()).collect();
        let all = async {
            for client in live {
                if let Some(cache) = client.token_cache() {
                    cache.settled().await;
                }
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!("token refreshes were still running at exit");
        }
    }
}

/// The site a user's grant is for: the cloud id on Cloud, the site URL on
/// Data Center (as the store keeps it).
fn site_of(deployment: Deployment, record: &UserRecord) -> Site {
    match deployment {
        Deployment::Cloud => Site {
            cloud_id: Some(record.site.clone()),
            url: None,
            name: None,
        },
        Deployment::DataCenter => Site {
            cloud_id: None,
            url: Url::parse(&record.site).ok(),
            name: None,
        },
    }
}
