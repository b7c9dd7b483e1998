//! What the store tests share across backends: token sets, a sealer, a
//! wiremock Atlassian token endpoint, and the TokenCache scenarios.
#![allow(dead_code)]

pub mod conformance;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gouqi_oauth::{
    AccessToken, ClientId, ClientSecret, RefreshToken, RetryPolicy, TokenCache, TokenSet,
    TokenSource, TokenStore, TokenUrl,
};
use jira_mcp::team::store::crypto::Sealer;
use jira_mcp::team::store::grant::UserGrantStore;
use jira_mcp::team::store::{TeamStore, UserId};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A token set that expires in one minute: inside the refresh-ahead window.
pub fn expiring_tokens(access: &str, refresh: &str) -> TokenSet {
    let obtained_at = SystemTime::now() - Duration::from_secs(3540);
    TokenSet {
        access_token: AccessToken::new(access.into()),
        refresh_token: Some(RefreshToken::new(refresh.into())),
        expires_at: Some(obtained_at + Duration::from_secs(3600)),
        obtained_at,
        scopes: vec!["read:jira-work".into(), "offline_access".into()],
        site: None,
    }
}

pub fn sealer() -> Arc<Sealer> {
    Arc::new(Sealer::from_base64(&Sealer::generate_key(), &[]).unwrap())
}

/// The grant view of `user`, as a request would build it.
pub fn grant(store: &Arc<dyn TeamStore>, sealer: &Arc<Sealer>, user: &UserId) -> UserGrantStore {
    UserGrantStore::new(
        store.clone(),
        sealer.clone(),
        user.clone(),
        tokio::runtime::Handle::current(),
    )
}

/// The Atlassian token client, against the mock.
pub fn source(server: &MockServer) -> TokenSource {
    TokenSource::new(
        ClientId::new("client-id".into()),
        TokenUrl::new(format!("{}/oauth/token", server.uri())).unwrap(),
    )
    .unwrap()
    .client_secret(ClientSecret::new("client-secret".into()))
    .retry(RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
    })
}

/// The token endpoint rotates `old` into (`access`, `new`), exactly once.
/// The answer is slowed down so that concurrent refreshes would overlap.
pub async fn rotates_once(server: &MockServer, old: &str, access: &str, new: &str) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(
            format!("refresh_token={old}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({
                    "access_token": access,
                    "refresh_token": new,
                    "expires_in": 3600,
                    "scope": "read:jira-work offline_access",
                    "token_type": "Bearer",
                }))
                .set_delay(Duration::from_millis(300)),
        )
        .expect(1)
        .named(format!("refresh of {old}"))
        .mount(server)
        .await;
}

/// Two TokenCaches over the same user's grant, each on its own store handle
/// (two requests, processes or replicas), 10 concurrent `token()` calls
/// after expiry: exactly one refresh (the mock's `expect(1)`), everyone gets
/// the new token, and the rotated refresh token is what is stored.
pub async fn one_refresh_for_two_caches(first: Arc<dyn TeamStore>, second: Arc<dyn TeamStore>) {
    let server = MockServer::start().await;
    let sealer = sealer();
    let ann = first.upsert_user("ann", "site", None).await.unwrap().id;
    let seed = grant(&first, &sealer, &ann);
    tokio::task::spawn_blocking(move || seed.save(&expiring_tokens("access-0", "refresh-0")))
        .await
        .unwrap()
        .unwrap();
    rotates_once(&server, "refresh-0", "access-1", "refresh-1").await;

    let caches = [
        TokenCache::new(source(&server), grant(&first, &sealer, &ann)),
        TokenCache::new(source(&server), grant(&second, &sealer, &ann)),
    ];
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let cache = caches[i % 2].clone();
            tokio::spawn(async move { cache.token().await })
        })
        .collect();
    for task in tasks {
        let token = task.await.unwrap().unwrap();
        assert_eq!(token.tokens().access_token.secret(), "access-1");
    }
    let stored = grant(&second, &sealer, &ann);
    let stored = tokio::task::spawn_blocking(move || stored.load())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "refresh-1");
    server.verify().await;
}

/// While one user's grant lock is held (on `holder`), another user's
/// refresh (on `other`) goes through, and the first user's waits for it.
pub async fn other_users_are_not_blocked(holder: Arc<dyn TeamStore>, other: Arc<dyn TeamStore>) {
    let server = MockServer::start().await;
    let sealer = sealer();
    let ann = holder.upsert_user("ann", "site", None).await.unwrap().id;
    let bob = holder.upsert_user("bob", "site", None).await.unwrap().id;
    for (user, refresh) in [(&ann, "ann-refresh-0"), (&bob, "bob-refresh-0")] {
        let seed = grant(&holder, &sealer, user);
        tokio::task::spawn_blocking(move || seed.save(&expiring_tokens("stale", refresh)))
            .await
            .unwrap()
            .unwrap();
    }
    rotates_once(&server, "ann-refresh-0", "ann-access-1", "ann-refresh-1").await;
    rotates_once(&server, "bob-refresh-0", "bob-access-1", "bob-refresh-1").await;

    let held = holder
        .lock_grant(&ann, Duration::from_secs(5))
        .await
        .unwrap();
    let bobs = TokenCache::new(source(&server), grant(&other, &sealer, &bob));
    let token = tokio::time::timeout(Duration::from_secs(5), bobs.token())
        .await
        .expect("bob's refresh waited for ann's lock")
        .unwrap();
    assert_eq!(token.tokens().access_token.secret(), "bob-access-1");

    let anns = TokenCache::new(source(&server), grant(&other, &sealer, &ann));
    let waiting = tokio::spawn(async move { anns.token().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "ann's refresh ignored the held lock"
    );
    drop(held);
    let token = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("ann's refresh did not resume after the lock was released")
        .unwrap()
        .unwrap();
    assert_eq!(token.tokens().access_token.secret(), "ann-access-1");
    server.verify().await;
}

/// A database at schema version 1 (before token families) holding a live
/// access and refresh token for one user through one client: what an
/// upgrade must keep working. `backend` is `sqlite` or `postgres`; `conn`
/// a connection to the empty database. Returns the tokens' secrets and the
/// client id.
pub async fn version_one_with_tokens<DB>(
    backend: &str,
    conn: &mut <DB as sqlx::Database>::Connection,
) -> (String, String, String)
where
    DB: sqlx::Database,
    <DB as sqlx::Database>::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
{
    use jira_mcp::team::store::{ClientAuth, ClientRecord, TokenHash, TokenRecord, now};
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!(
            "{}/migrations/{backend}/0001_team_store.sql",
            env!("CARGO_MANIFEST_DIR")
        ),
        dir.path().join("0001_team_store.sql"),
    )
    .unwrap();
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run_direct(&mut *conn)
        .await
        .unwrap();
    let user = "user-1";
    let client = ClientRecord {
        client_id: "client-1".into(),
        client_name: None,
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
        auth: ClientAuth::None,
        created_at: now() - 7 * 86_400,
    };
    let token = TokenRecord {
        client_id: "client-1".into(),
        user: UserId(user.into()),
        scopes: vec!["jira:read".into()],
        audience: "https://mcp.example/mcp".into(),
        family: "family-1".into(),
        expires_at: now() + 3600,
    };
    let json = |v: String| v.replace('\'', "''");
    let mut statements = vec![
        format!(
            "INSERT INTO users (id, account_id, site, display_name, created_at) \
             VALUES ('{user}', 'acct', 'site', NULL, 1)"
        ),
        format!(
            "INSERT INTO clients (client_id, record, created_at) VALUES ('client-1', '{}', {})",
            json(serde_json::to_string(&client).unwrap()),
            client.created_at
        ),
    ];
    for (kind, secret) in [("access", "old-access"), ("refresh", "old-refresh")] {
        statements.push(format!(
            "INSERT INTO tokens (hash, kind, user_id, client_id, family, expires_at, record) \
             VALUES ('{}', '{kind}', '{user}', 'client-1', 'family-1', {}, '{}')",
            TokenHash::of(secret).as_str(),
            token.expires_at,
            json(serde_json::to_string(&token).unwrap())
        ));
    }
    for statement in statements {
        sqlx::Executor::execute(&mut *conn, statement.as_str())
            .await
            .unwrap();
    }
    ("old-access".into(), "old-refresh".into(), "client-1".into())
}

/// After the upgrade from [`version_one_with_tokens`]: the old tokens still
/// work, their client counts as authorized (it is not purged), and revoking
/// their family revokes them.
pub async fn tokens_survive_the_upgrade(store: &Arc<dyn TeamStore>, access: &str, refresh: &str) {
    use jira_mcp::team::store::{RefreshUse, TokenHash, now};
    assert!(
        store
            .access(&TokenHash::of(access))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.purge_unused_clients(now()).await.unwrap(), 0);
    assert!(store.client("client-1").await.unwrap().is_some());
    assert!(matches!(
        store.take_refresh(&TokenHash::of(refresh)).await.unwrap(),
        RefreshUse::Fresh(_)
    ));
    assert_eq!(store.revoke_family("family-1").await.unwrap(), 2);
    assert_eq!(store.access(&TokenHash::of(access)).await.unwrap(), None);
}
