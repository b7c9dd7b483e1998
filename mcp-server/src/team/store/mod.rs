//! The team server's storage: users, their Atlassian grants, the MCP clients
//! that registered, and the tokens jira-mcp issues to them.
//!
//! [`TeamStore`] is the one storage trait. Its backends (SQLite by default,
//! Postgres for several replicas) keep bytes and records; they never see a
//! secret in clear:
//! - Atlassian grants arrive sealed (AES-256-GCM, [`crypto`]);
//! - jira-mcp's own tokens and codes are kept only as [`TokenHash`]es.
//!
//! A user's grant is reached by gouqi-oauth through [`grant::UserGrantStore`],
//! a per-user view implementing `gouqi_oauth::TokenStore`, so that the one
//! refresh machinery (`TokenCache`) protects every user's grant.

pub mod crypto;
pub mod grant;
mod local_lock;
pub mod postgres;
mod sql;
pub mod sqlite;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use gouqi_oauth::StoreLock;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Why a store operation failed. Messages never hold a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation.
    #[error(
        "the team store ({backend}) failed: {message}. Check JIRA_MCP_DATABASE_URL and that the \
         database is running and writable"
    )]
    Unavailable {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What went wrong (no secrets, no row content).
        message: String,
    },
    /// A row holds data this version cannot read.
    #[error(
        "the team store holds a {what} this version cannot read ({detail}). It was left as it \
         is; upgrade jira-mcp, or delete that row"
    )]
    Corrupt {
        /// What kind of record.
        what: &'static str,
        /// What is wrong, without the content.
        detail: String,
    },
    /// Another request (or replica) held a user's grant lock too long.
    #[error(
        "another request has held the lock on this user's Atlassian grant for over {} s; \
         try again",
        waited.as_secs()
    )]
    LockTimeout {
        /// How long this request waited.
        waited: Duration,
    },
    /// A sealed grant could not be opened (wrong or rotated-away key).
    #[error(
        "a stored Atlassian grant cannot be decrypted: JIRA_MCP_ENCRYPTION_KEY is not the key it \
         was sealed with. Set the old key in JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS, or have the user \
         sign in again"
    )]
    Undecryptable,
}

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

/// Now, in Unix seconds.
pub fn now() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(seconds)
        .unwrap_or_default()
}

/// `duration` in whole seconds, as a [`UnixTime`] offset (saturating: no
/// setting or clock makes it wrap negative).
pub fn seconds(duration: Duration) -> UnixTime {
    UnixTime::try_from(duration.as_secs()).unwrap_or(UnixTime::MAX)
}

/// jira-mcp's own id for a user (random, not the Atlassian account id).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub String);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of a secret jira-mcp issued (token, code, `state`), hex
/// encoded: what the store keeps instead of the secret.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of `secret`.
    pub fn of(secret: &str) -> TokenHash {
        let digest = Sha256::digest(secret.as_bytes());
        TokenHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The hex digest, for a database column.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A hash read back from the database.
    pub fn from_stored(hex: String) -> TokenHash {
        TokenHash(hex)
    }
}

impl fmt::Debug for TokenHash {
    // A prefix is enough to tell hashes apart in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `get` rather than slicing: a hash read back from a damaged row
        // may not be ASCII, and Debug must not panic on it.
        write!(f, "TokenHash({}…)", self.0.get(..8).unwrap_or(&self.0))
    }
}

/// A person who signed in through Atlassian.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// jira-mcp's id.
    pub id: UserId,
    /// The Atlassian account id (Cloud) or user key/name (Data Center).
    pub account_id: String,
    /// The Jira site: the cloud id on Cloud, the site URL on Data Center.
    pub site: String,
    /// For audit lines and the consent page.
    pub display_name: Option<String>,
    /// When the user first signed in.
    pub created_at: UnixTime,
}

/// How a registered MCP client authenticates at `/token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// A public client (PKCE only): `token_endpoint_auth_method=none`.
    None,
    /// `client_secret_post` or `client_secret_basic`, with the secret's hash.
    Secret {
        /// The method the client registered.
        method: String,
        /// The hash of the secret issued at registration.
        secret_hash: TokenHash,
    },
}

/// An MCP client registered with Dynamic Client Registration (RFC 7591).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The `client_id` jira-mcp issued.
    pub client_id: String,
    /// `client_name`, shown on the consent page.
    pub client_name: Option<String>,
    /// The exact redirect URIs; `/authorize` accepts no other.
    pub redirect_uris: Vec<String>,
    /// How it authenticates at `/token`.
    pub auth: ClientAuth,
    /// When it registered.
    pub created_at: UnixTime,
}

/// An MCP client's authorization request, waiting for the user's Atlassian
/// consent. Keyed by the hash of the `state` sent to Atlassian.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRecord {
    /// The MCP client.
    pub client_id: String,
    /// Its redirect URI (already checked against the registration).
    pub redirect_uri: String,
    /// Its PKCE S256 challenge.
    pub code_challenge: String,
    /// The scopes it asked for (and the user approved).
    pub scopes: Vec<String>,
    /// Its `state`, returned to it unchanged.
    pub client_state: Option<String>,
    /// The RFC 8707 resource it asked for (kept here, never sent to Atlassian).
    pub resource: Option<String>,
    /// The Atlassian PKCE verifier, sealed like a grant.
    pub sealed_verifier: Vec<u8>,
    /// The authorization URL sent to Atlassian.
    pub atlassian_url: String,
    /// The hash of the secret in the cookie set on the browser that
    /// approved the consent page: the callback completes only in that
    /// browser (login CSRF). `None` only in records written before it
    /// existed, which the callback refuses.
    #[serde(default)]
    pub browser_hash: Option<TokenHash>,
    /// After this, the callback is refused.
    pub expires_at: UnixTime,
}

/// An authorization code jira-mcp issued to an MCP client. Keyed by the
/// code's hash; usable once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The MCP client it was issued to.
    pub client_id: String,
    /// The user who approved.
    pub user: UserId,
    /// The redirect URI it was sent to (must match at `/token`).
    pub redirect_uri: String,
    /// The PKCE S256 challenge (checked against the verifier at `/token`).
    pub code_challenge: String,
    /// The approved scopes.
    pub scopes: Vec<String>,
    /// The resource (audience) the tokens will be bound to.
    pub resource: String,
    /// After this, `/token` refuses it.
    pub expires_at: UnixTime,
}

/// What an access or refresh token grants. Keyed by the token's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The MCP client it was issued to.
    pub client_id: String,
    /// The user it acts for.
    pub user: UserId,
    /// The approved scopes.
    pub scopes: Vec<String>,
    /// The audience (RFC 8707): this server's `/mcp` URL.
    pub audience: String,
    /// The grant it descends from: one authorization and all its refreshes.
    /// Revoking the family revokes every token in it.
    pub family: String,
    /// After this, the token is refused.
    pub expires_at: UnixTime,
}

/// The family a redeemed authorization code starts: every token issued for
/// it and its refreshes belongs to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyStart {
    /// The family's key (derived from the code, see `authz::token`).
    pub family: String,
    /// The absolute end of the family (`JIRA_MCP_REFRESH_TOKEN_MAX_LIFETIME`
    /// after the code's redemption): no token of it works after this,
    /// however often it is refreshed.
    pub expires_at: UnixTime,
}

/// What taking a refresh token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshUse {
    /// Unused until now: it is now marked used.
    Fresh(TokenRecord),
    /// Used before: a replay. The caller revokes the family.
    Replayed(TokenRecord),
    /// Not known, expired or revoked.
    Unknown,
}

/// The team server's storage. Every backend implements all of it; the rest
/// of the server knows only this trait.
///
/// Single-use operations (`take_*`) are atomic: of two concurrent takes of
/// the same key, exactly one gets the record, on every replica.
#[async_trait]
pub trait TeamStore: Send + Sync + fmt::Debug + 'static {
    /// Names the backend and where it is, without credentials.
    fn describe(&self) -> String;

    /// Readiness: the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates or updates the user for this Atlassian account and site.
    async fn upsert_user(
        &self,
        account_id: &str,
        site: &str,
        display_name: Option<&str>,
    ) -> StoreResult<UserRecord>;

    /// The user, if they exist.
    async fn user(&self, id: &UserId) -> StoreResult<Option<UserRecord>>;

    /// Every user, oldest first (for the admin commands).
    async fn users(&self) -> StoreResult<Vec<UserRecord>>;

    /// Deletes the user with their grant, codes and tokens. False when no
    /// such user existed.
    async fn delete_user(&self, id: &UserId) -> StoreResult<bool>;

    /// The user's sealed Atlassian grant.
    async fn load_grant(&self, user: &UserId) -> StoreResult<Option<Vec<u8>>>;

    /// Stores the user's sealed Atlassian grant, replacing any before.
    async fn save_grant(&self, user: &UserId, sealed: &[u8]) -> StoreResult<()>;

    /// Removes the user's grant. False when there was none.
    async fn clear_grant(&self, user: &UserId) -> StoreResult<bool>;

    /// Takes the user's grant lock (waiting at most `wait`), held until the
    /// returned lock is dropped: one refresh per user at a time, across
    /// every request (and, on Postgres, every replica). Other users' locks
    /// are independent.
    async fn lock_grant(&self, user: &UserId, wait: Duration) -> StoreResult<StoreLock>;

    /// Registers an MCP client.
    async fn put_client(&self, client: &ClientRecord) -> StoreResult<()>;

    /// A registered MCP client.
    async fn client(&self, client_id: &str) -> StoreResult<Option<ClientRecord>>;

    /// Keeps an authorization waiting for Atlassian consent.
    async fn put_pending(&self, key: &TokenHash, record: &PendingRecord) -> StoreResult<()>;

    /// Takes (removes) a waiting authorization; `None` if unknown, already
    /// taken or expired.
    async fn take_pending(&self, key: &TokenHash) -> StoreResult<Option<PendingRecord>>;

    /// A waiting authorization, left in place; `None` if unknown, taken
    /// or expired. (The callback checks the browser before it takes one.)
    async fn pending(&self, key: &TokenHash) -> StoreResult<Option<PendingRecord>>;

    /// Marks a consent request answered; true for the first answer only
    /// (atomic across requests and replicas), false for every replay. Kept
    /// until `expires_at`, when the request itself expires.
    async fn spend_consent(&self, key: &TokenHash, expires_at: UnixTime) -> StoreResult<bool>;

    /// Keeps an issued authorization code.
    async fn put_code(&self, key: &TokenHash, record: &CodeRecord) -> StoreResult<()>;

    /// Takes (removes) a code; `None` if unknown, already taken or expired.
    /// In the same transaction, a code taken starts `family` (for the
    /// code's user and client) and marks its client as having completed an
    /// authorization: whoever fails to take the code afterwards (a replay)
    /// finds the family and can revoke it.
    async fn take_code(
        &self,
        key: &TokenHash,
        family: &FamilyStart,
    ) -> StoreResult<Option<CodeRecord>>;

    /// Keeps an issued access token. False (and nothing kept) when its
    /// family is revoked. A family not started yet is started, ending when
    /// this token does.
    async fn put_access(&self, key: &TokenHash, record: &TokenRecord) -> StoreResult<bool>;

    /// The record of an access token that is neither expired nor revoked,
    /// in a family that is neither expired nor revoked.
    async fn access(&self, key: &TokenHash) -> StoreResult<Option<TokenRecord>>;

    /// Keeps an issued refresh token; like [`TeamStore::put_access`].
    async fn put_refresh(&self, key: &TokenHash, record: &TokenRecord) -> StoreResult<bool>;

    /// Marks a refresh token used and says whether it was fresh or a replay.
    /// A token whose family is revoked or expired is `Unknown`.
    async fn take_refresh(&self, key: &TokenHash) -> StoreResult<RefreshUse>;

    /// Revokes one access or refresh token. False when it was not known.
    async fn revoke_token(&self, key: &TokenHash) -> StoreResult<bool>;

    /// Revokes a family (a replayed code or refresh token): every token of
    /// it, including any a concurrent request inserts later, is refused
    /// from now on, on every replica. Returns how many live tokens it had.
    async fn revoke_family(&self, family: &str) -> StoreResult<u64>;

    /// Revokes every token and family of a user and deletes their
    /// unredeemed codes, in one transaction; other users are untouched.
    /// Returns how many tokens and codes that was.
    async fn revoke_user_tokens(&self, user: &UserId) -> StoreResult<u64>;

    /// Deletes expired pending authorizations, spent consents, codes,
    /// tokens and families.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;

    /// Deletes the clients registered at or before `registered_before` that
    /// never redeemed a code (abandoned or abusive registrations).
    async fn purge_unused_clients(&self, registered_before: UnixTime) -> StoreResult<u64>;
}

/// Opens the store `database_url` names, creating and migrating it as
/// needed: `sqlite://path/to/team.db`, `sqlite:///absolute/path`,
/// `sqlite::memory:`, or `postgres://user:password@host:port/database`
/// (also `postgresql://`) for several replicas.
pub async fn open(database_url: &str) -> StoreResult<Arc<dyn TeamStore>> {
    if database_url.starts_with("sqlite:") {
        return Ok(Arc::new(sqlite::SqliteStore::open(database_url).await?));
    }
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PostgresStore::open(database_url).await?));
    }
    // Only the scheme is quoted: the rest may hold a password.
    let scheme = database_url.split(':').next().unwrap_or_default();
    Err(StoreError::Unavailable {
        backend: "none",
        message: format!(
            "JIRA_MCP_DATABASE_URL has the scheme `{scheme}`, which is not supported; use \
             sqlite://path/to/team.db, or postgres://user:password@host:5432/database"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::TokenHash;

    #[test]
    fn a_hash_debug_shows_a_prefix_and_never_panics_on_a_damaged_row() {
        let hash = TokenHash::of("secret");
        assert_eq!(format!("{hash:?}"), "TokenHash(2bb80d53…)");
        // Multi-byte characters across byte 8 (a damaged row): no panic.
        let damaged = TokenHash::from_stored("abcdefgé€xyz".into());
        assert_eq!(format!("{damaged:?}"), "TokenHash(abcdefgé€xyz…)");
    }
}
