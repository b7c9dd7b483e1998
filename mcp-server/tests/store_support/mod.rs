//! What the store tests share across backends: token sets, a sealer, a
//! wiremock Atlassian token endpoint, and the TokenCache scenarios.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gouqi_oauth::{
    AccessToken, ClientId, ClientSecret, RefreshToken, RetryPolicy, TokenCache, TokenSet,
    TokenSource, TokenStore, TokenUrl,
};
use jira_mcp::store::crypto::Sealer;
use jira_mcp::store::grant::UserGrantStore;
use jira_mcp::store::{TeamStore, UserId};
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
