//! Test support: the behaviour every [`TeamStore`] backend must have,
//! written once and run against each backend by the integration tests
//! (`tests/store_sqlite.rs`, `tests/store_postgres.rs`) through
//! [`store_conformance_tests!`](crate::store_conformance_tests).
//!
//! Each function takes a fresh, empty store and panics (like an `assert!`)
//! when the store misbehaves. Nothing here runs in the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    ClientAuth, ClientRecord, CodeRecord, PendingRecord, RefreshUse, StoreError, TeamStore,
    TokenHash, TokenRecord, UserId, UserRecord, now,
};

/// Defines one `#[tokio::test]` per conformance check. `$make` is an
/// expression (it may `.await`) giving `Option<Arc<dyn TeamStore>>`, a
/// fresh empty store, or `None` to skip (a backend that is not available
/// outside CI).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@each $make;
            describe_and_ping,
            upsert_user_is_idempotent,
            delete_user_cascades_to_that_user_only,
            grants_are_saved_replaced_and_cleared,
            clients_are_registered,
            pending_is_taken_exactly_once,
            pending_is_read_without_taking,
            a_consent_is_spent_exactly_once,
            code_is_taken_exactly_once,
            access_tokens_are_checked_and_revoked,
            refresh_replay_is_detected,
            concurrent_refreshes_have_one_winner,
            revoke_family_leaves_other_families,
            revoke_user_tokens_leaves_other_users,
            expired_records_are_refused,
            purge_removes_only_expired_records,
            lock_grant_excludes_the_same_user_only,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store: Option<std::sync::Arc<dyn $crate::store::TeamStore>> = $make;
                let Some(store) = store else { return };
                $crate::store::conformance::$name(store).await;
            }
        )*
    };
}

/// A user for the tests (`name` is the account id).
pub async fn user(store: &Arc<dyn TeamStore>, name: &str) -> UserRecord {
    store
        .upsert_user(name, "https://site.example", Some(name))
        .await
        .unwrap()
}

/// A token record for `user`, in `family`, expiring at `expires_at`.
pub fn token(user: &UserId, family: &str, expires_at: i64) -> TokenRecord {
    TokenRecord {
        client_id: "client-1".into(),
        user: user.clone(),
        scopes: vec!["jira:read".into()],
        audience: "https://mcp.example/mcp".into(),
        family: family.into(),
        expires_at,
    }
}

fn code(user: &UserId, expires_at: i64) -> CodeRecord {
    CodeRecord {
        client_id: "client-1".into(),
        user: user.clone(),
        redirect_uri: "http://127.0.0.1:9/cb".into(),
        code_challenge: "challenge".into(),
        scopes: vec!["jira:read".into(), "jira:write".into()],
        resource: "https://mcp.example/mcp".into(),
        expires_at,
    }
}

fn pending(expires_at: i64) -> PendingRecord {
    PendingRecord {
        client_id: "client-1".into(),
        redirect_uri: "http://127.0.0.1:9/cb".into(),
        code_challenge: "challenge".into(),
        scopes: vec!["jira:read".into()],
        client_state: Some("client-state".into()),
        resource: Some("https://mcp.example/mcp".into()),
        sealed_verifier: vec![1, 2, 3, 0, 255],
        atlassian_url: "https://auth.example/authorize?state=x".into(),
        browser_hash: Some(TokenHash::of("browser")),
        expires_at,
    }
}

fn hash(name: &str) -> TokenHash {
    TokenHash::of(name)
}

fn later() -> i64 {
    now() + 3600
}

fn earlier() -> i64 {
    now() - 10
}

/// `describe` names the backend; `ping` answers.
pub async fn describe_and_ping(store: Arc<dyn TeamStore>) {
    assert!(!store.describe().is_empty());
    store.ping().await.unwrap();
}

/// The same account and site make one user; another site another user.
pub async fn upsert_user_is_idempotent(store: Arc<dyn TeamStore>) {
    let first = store
        .upsert_user("acct-1", "site-a", Some("Ann"))
        .await
        .unwrap();
    assert_eq!(first.account_id, "acct-1");
    assert_eq!(first.site, "site-a");
    assert!(first.created_at > 0);
    let again = store
        .upsert_user("acct-1", "site-a", Some("Ann B."))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.created_at, first.created_at);
    assert_eq!(again.display_name.as_deref(), Some("Ann B."));
    // No name given: the known one stays.
    let unnamed = store.upsert_user("acct-1", "site-a", None).await.unwrap();
    assert_eq!(unnamed.display_name.as_deref(), Some("Ann B."));
    let other_site = store.upsert_user("acct-1", "site-b", None).await.unwrap();
    assert_ne!(other_site.id, first.id);
    assert_eq!(store.user(&first.id).await.unwrap(), Some(unnamed));
    assert_eq!(store.user(&UserId("nobody".into())).await.unwrap(), None);

    // Concurrent first sign-ins of one account make one user.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.upsert_user("acct-2", "site-a", None).await })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
}

/// Deleting a user removes their grant, codes and tokens, and nobody else's.
pub async fn delete_user_cascades_to_that_user_only(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let bob = user(&store, "bob").await.id;
    for (who, name) in [(&ann, "ann"), (&bob, "bob")] {
        store.save_grant(who, name.as_bytes()).await.unwrap();
        store
            .put_code(&hash(&format!("code-{name}")), &code(who, later()))
            .await
            .unwrap();
        store
            .put_access(&hash(&format!("access-{name}")), &token(who, name, later()))
            .await
            .unwrap();
        store
            .put_refresh(
                &hash(&format!("refresh-{name}")),
                &token(who, name, later()),
            )
            .await
            .unwrap();
    }

    let mut listed: Vec<UserId> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    listed.sort();
    let mut both = [ann.clone(), bob.clone()];
    both.sort();
    assert_eq!(listed, both, "users() lists both");
    assert!(store.delete_user(&ann).await.unwrap());
    assert!(!store.delete_user(&ann).await.unwrap());
    let listed: Vec<UserId> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(
        listed,
        std::slice::from_ref(&bob),
        "a deleted user is no longer listed"
    );
    assert_eq!(store.user(&ann).await.unwrap(), None);
    assert_eq!(store.load_grant(&ann).await.unwrap(), None);
    assert_eq!(store.take_code(&hash("code-ann")).await.unwrap(), None);
    assert_eq!(store.access(&hash("access-ann")).await.unwrap(), None);
    assert_eq!(
        store.take_refresh(&hash("refresh-ann")).await.unwrap(),
        RefreshUse::Unknown
    );
    assert!(!store.revoke_token(&hash("access-ann")).await.unwrap());

    assert!(store.user(&bob).await.unwrap().is_some());
    assert_eq!(
        store.load_grant(&bob).await.unwrap().as_deref(),
        Some(&b"bob"[..])
    );
    assert!(store.take_code(&hash("code-bob")).await.unwrap().is_some());
    assert!(store.access(&hash("access-bob")).await.unwrap().is_some());
    assert!(matches!(
        store.take_refresh(&hash("refresh-bob")).await.unwrap(),
        RefreshUse::Fresh(_)
    ));
}

/// A grant is saved, replaced, read back byte for byte, and cleared.
pub async fn grants_are_saved_replaced_and_cleared(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    assert_eq!(store.load_grant(&ann).await.unwrap(), None);
    assert!(!store.clear_grant(&ann).await.unwrap());
    let bytes: Vec<u8> = (0..=255).collect();
    store.save_grant(&ann, &bytes).await.unwrap();
    assert_eq!(store.load_grant(&ann).await.unwrap(), Some(bytes));
    store.save_grant(&ann, b"second").await.unwrap();
    assert_eq!(
        store.load_grant(&ann).await.unwrap().as_deref(),
        Some(&b"second"[..])
    );
    assert!(store.clear_grant(&ann).await.unwrap());
    assert_eq!(store.load_grant(&ann).await.unwrap(), None);
    assert!(!store.clear_grant(&ann).await.unwrap());
    // The user stays.
    assert!(store.user(&ann).await.unwrap().is_some());
}

/// A registered client reads back as registered.
pub async fn clients_are_registered(store: Arc<dyn TeamStore>) {
    let public = ClientRecord {
        client_id: "public-1".into(),
        client_name: Some("Claude".into()),
        redirect_uris: vec!["http://127.0.0.1:1234/cb".into(), "https://x/cb".into()],
        auth: ClientAuth::None,
        created_at: now(),
    };
    let confidential = ClientRecord {
        client_id: "secret-1".into(),
        client_name: None,
        redirect_uris: vec!["https://y/cb".into()],
        auth: ClientAuth::Secret {
            method: "client_secret_basic".into(),
            secret_hash: hash("client-secret"),
        },
        created_at: now(),
    };
    store.put_client(&public).await.unwrap();
    store.put_client(&confidential).await.unwrap();
    assert_eq!(store.client("public-1").await.unwrap(), Some(public));
    assert_eq!(store.client("secret-1").await.unwrap(), Some(confidential));
    assert_eq!(store.client("unknown").await.unwrap(), None);
}

/// Counts the takers of `take` that got something, of 20 at once.
async fn concurrent_takes<F, Fut, T>(take: F) -> usize
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..20).map(|_| tokio::spawn(take())).collect();
    let mut got = 0;
    for task in tasks {
        got += usize::from(task.await.unwrap().is_some());
    }
    got
}

/// Of 20 concurrent takers of a pending authorization, exactly one gets it.
pub async fn pending_is_taken_exactly_once(store: Arc<dyn TeamStore>) {
    let key = hash("state-1");
    store.put_pending(&key, &pending(later())).await.unwrap();
    let got = concurrent_takes(|| {
        let store = store.clone();
        let key = key.clone();
        async move { store.take_pending(&key).await.unwrap() }
    })
    .await;
    assert_eq!(got, 1);
    assert_eq!(store.take_pending(&key).await.unwrap(), None);
    assert_eq!(store.take_pending(&hash("unknown")).await.unwrap(), None);

    // What was put is what is taken.
    store.put_pending(&key, &pending(later())).await.unwrap();
    let taken = store.take_pending(&key).await.unwrap().unwrap();
    assert_eq!(taken.sealed_verifier, pending(0).sealed_verifier);
    assert_eq!(taken.client_state.as_deref(), Some("client-state"));
}

/// Reading a pending authorization leaves it for the one taker; expired
/// and unknown ones are not found.
pub async fn pending_is_read_without_taking(store: Arc<dyn TeamStore>) {
    let key = hash("state-1");
    store.put_pending(&key, &pending(later())).await.unwrap();
    for _ in 0..3 {
        let read = store.pending(&key).await.unwrap().unwrap();
        assert_eq!(read, pending(read.expires_at));
        assert_eq!(read.browser_hash, Some(TokenHash::of("browser")));
    }
    assert!(store.take_pending(&key).await.unwrap().is_some());
    assert_eq!(store.pending(&key).await.unwrap(), None);
    assert_eq!(store.pending(&hash("unknown")).await.unwrap(), None);
    store
        .put_pending(&hash("state-old"), &pending(earlier()))
        .await
        .unwrap();
    assert_eq!(store.pending(&hash("state-old")).await.unwrap(), None);
}

/// Of 20 concurrent answers to one consent request, exactly one is
/// accepted; so is no later one; another request is independent.
pub async fn a_consent_is_spent_exactly_once(store: Arc<dyn TeamStore>) {
    let key = hash("consent-1");
    let got = concurrent_takes(|| {
        let store = store.clone();
        let key = key.clone();
        async move {
            store
                .spend_consent(&key, later())
                .await
                .unwrap()
                .then_some(())
        }
    })
    .await;
    assert_eq!(got, 1);
    for _ in 0..5 {
        assert!(!store.spend_consent(&key, later()).await.unwrap());
    }
    assert!(
        store
            .spend_consent(&hash("consent-2"), later())
            .await
            .unwrap()
    );
}

/// Of 20 concurrent takers of an authorization code, exactly one gets it.
pub async fn code_is_taken_exactly_once(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let key = hash("code-1");
    let record = code(&ann, later());
    store.put_code(&key, &record).await.unwrap();
    let got = concurrent_takes(|| {
        let store = store.clone();
        let key = key.clone();
        async move { store.take_code(&key).await.unwrap() }
    })
    .await;
    assert_eq!(got, 1);
    assert_eq!(store.take_code(&key).await.unwrap(), None);

    store.put_code(&key, &record).await.unwrap();
    assert_eq!(store.take_code(&key).await.unwrap(), Some(record));
}

/// An access token is found until revoked; unknown ones are not.
pub async fn access_tokens_are_checked_and_revoked(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let key = hash("access-1");
    let record = token(&ann, "family-1", later());
    store.put_access(&key, &record).await.unwrap();
    assert_eq!(store.access(&key).await.unwrap(), Some(record));
    assert_eq!(store.access(&hash("access-2")).await.unwrap(), None);
    assert!(store.revoke_token(&key).await.unwrap());
    assert_eq!(store.access(&key).await.unwrap(), None);
    assert!(!store.revoke_token(&hash("access-2")).await.unwrap());
    // A refresh token is not an access token, nor the other way round.
    store
        .put_refresh(&hash("refresh-1"), &token(&ann, "family-1", later()))
        .await
        .unwrap();
    assert_eq!(store.access(&hash("refresh-1")).await.unwrap(), None);
    store
        .put_access(&hash("access-3"), &token(&ann, "family-1", later()))
        .await
        .unwrap();
    assert_eq!(
        store.take_refresh(&hash("access-3")).await.unwrap(),
        RefreshUse::Unknown
    );
}

/// A refresh token's second use is a replay; after the family is revoked
/// it is unknown.
pub async fn refresh_replay_is_detected(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let key = hash("refresh-1");
    let record = token(&ann, "family-1", later());
    store.put_refresh(&key, &record).await.unwrap();
    assert_eq!(
        store.take_refresh(&key).await.unwrap(),
        RefreshUse::Fresh(record.clone())
    );
    assert_eq!(
        store.take_refresh(&key).await.unwrap(),
        RefreshUse::Replayed(record.clone())
    );
    assert_eq!(
        store.take_refresh(&key).await.unwrap(),
        RefreshUse::Replayed(record)
    );
    assert_eq!(store.revoke_family("family-1").await.unwrap(), 1);
    assert_eq!(store.take_refresh(&key).await.unwrap(), RefreshUse::Unknown);
    assert_eq!(
        store.take_refresh(&hash("unknown")).await.unwrap(),
        RefreshUse::Unknown
    );
}

/// Of 20 concurrent uses of one refresh token, one is fresh, the rest replays.
pub async fn concurrent_refreshes_have_one_winner(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let key = hash("refresh-1");
    store
        .put_refresh(&key, &token(&ann, "family-1", later()))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move { store.take_refresh(&key).await.unwrap() })
        })
        .collect();
    let (mut fresh, mut replayed) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            RefreshUse::Fresh(_) => fresh += 1,
            RefreshUse::Replayed(_) => replayed += 1,
            RefreshUse::Unknown => panic!("a known refresh token was reported unknown"),
        }
    }
    assert_eq!((fresh, replayed), (1, 19));
}

/// Revoking a family revokes its access and refresh tokens only.
pub async fn revoke_family_leaves_other_families(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    for (name, family) in [("a1", "f1"), ("a2", "f2")] {
        store
            .put_access(
                &hash(&format!("access-{name}")),
                &token(&ann, family, later()),
            )
            .await
            .unwrap();
        store
            .put_refresh(
                &hash(&format!("refresh-{name}")),
                &token(&ann, family, later()),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.revoke_family("f1").await.unwrap(), 2);
    assert_eq!(store.revoke_family("f1").await.unwrap(), 0);
    assert_eq!(store.revoke_family("unknown").await.unwrap(), 0);
    assert_eq!(store.access(&hash("access-a1")).await.unwrap(), None);
    assert_eq!(
        store.take_refresh(&hash("refresh-a1")).await.unwrap(),
        RefreshUse::Unknown
    );
    assert!(store.access(&hash("access-a2")).await.unwrap().is_some());
    assert!(matches!(
        store.take_refresh(&hash("refresh-a2")).await.unwrap(),
        RefreshUse::Fresh(_)
    ));
}

/// Revoking a user's tokens leaves other users' tokens working.
pub async fn revoke_user_tokens_leaves_other_users(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let bob = user(&store, "bob").await.id;
    store
        .put_access(&hash("access-ann"), &token(&ann, "fa", later()))
        .await
        .unwrap();
    store
        .put_refresh(&hash("refresh-ann"), &token(&ann, "fa", later()))
        .await
        .unwrap();
    store
        .put_access(&hash("access-bob"), &token(&bob, "fb", later()))
        .await
        .unwrap();
    store
        .put_refresh(&hash("refresh-bob"), &token(&bob, "fb", later()))
        .await
        .unwrap();
    assert_eq!(store.revoke_user_tokens(&ann).await.unwrap(), 2);
    assert_eq!(store.access(&hash("access-ann")).await.unwrap(), None);
    assert_eq!(
        store.take_refresh(&hash("refresh-ann")).await.unwrap(),
        RefreshUse::Unknown
    );
    assert!(store.access(&hash("access-bob")).await.unwrap().is_some());
    assert!(matches!(
        store.take_refresh(&hash("refresh-bob")).await.unwrap(),
        RefreshUse::Fresh(_)
    ));
    // The user and grant stay: only tokens are revoked.
    assert!(store.user(&ann).await.unwrap().is_some());
}

/// Expired pending authorizations, codes and tokens are refused.
pub async fn expired_records_are_refused(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    store
        .put_pending(&hash("state"), &pending(earlier()))
        .await
        .unwrap();
    store
        .put_code(&hash("code"), &code(&ann, earlier()))
        .await
        .unwrap();
    store
        .put_access(&hash("access"), &token(&ann, "f", earlier()))
        .await
        .unwrap();
    store
        .put_refresh(&hash("refresh"), &token(&ann, "f", earlier()))
        .await
        .unwrap();
    assert_eq!(store.take_pending(&hash("state")).await.unwrap(), None);
    assert_eq!(store.take_code(&hash("code")).await.unwrap(), None);
    assert_eq!(store.access(&hash("access")).await.unwrap(), None);
    assert_eq!(
        store.take_refresh(&hash("refresh")).await.unwrap(),
        RefreshUse::Unknown
    );
}

/// Purging removes expired records and keeps live ones.
pub async fn purge_removes_only_expired_records(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    for (name, expires_at) in [("old", earlier()), ("new", later())] {
        store
            .put_pending(&hash(&format!("state-{name}")), &pending(expires_at))
            .await
            .unwrap();
        assert!(
            store
                .spend_consent(&hash(&format!("consent-{name}")), expires_at)
                .await
                .unwrap()
        );
        store
            .put_code(&hash(&format!("code-{name}")), &code(&ann, expires_at))
            .await
            .unwrap();
        store
            .put_access(
                &hash(&format!("access-{name}")),
                &token(&ann, name, expires_at),
            )
            .await
            .unwrap();
        store
            .put_refresh(
                &hash(&format!("refresh-{name}")),
                &token(&ann, name, expires_at),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.purge_expired(now()).await.unwrap(), 5);
    // A purged consent could be spent again, but it has expired by then.
    assert!(
        !store
            .spend_consent(&hash("consent-new"), later())
            .await
            .unwrap()
    );
    assert_eq!(store.purge_expired(now()).await.unwrap(), 0);
    assert!(
        store
            .take_pending(&hash("state-new"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.take_code(&hash("code-new")).await.unwrap().is_some());
    assert!(store.access(&hash("access-new")).await.unwrap().is_some());
    assert!(matches!(
        store.take_refresh(&hash("refresh-new")).await.unwrap(),
        RefreshUse::Fresh(_)
    ));
    // Everything is gone once it all expired.
    assert_eq!(store.purge_expired(later() + 1).await.unwrap(), 3);
}

/// A user's grant lock excludes a second holder of the same user (who waits,
/// then times out), but not of another user.
pub async fn lock_grant_excludes_the_same_user_only(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let bob = user(&store, "bob").await.id;
    let short = Duration::from_millis(300);

    let held = store.lock_grant(&ann, short).await.unwrap();
    let started = Instant::now();
    match store.lock_grant(&ann, short).await {
        Err(StoreError::LockTimeout { waited }) => assert_eq!(waited, short),
        other => panic!("a second holder of the same user's lock got {other:?}"),
    }
    assert!(started.elapsed() >= short, "it gave up before the wait");
    let message = StoreError::LockTimeout { waited: short }.to_string();
    assert!(message.contains("try again"), "{message}");

    // Another user is not blocked.
    let started = Instant::now();
    let bobs = store.lock_grant(&bob, short).await.unwrap();
    assert!(started.elapsed() < short);
    drop(bobs);

    // A waiter gets the lock as soon as the holder lets go.
    let waiter = {
        let store = store.clone();
        let ann = ann.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let lock = store.lock_grant(&ann, Duration::from_secs(10)).await;
            (lock, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(held);
    let (lock, waited) = waiter.await.unwrap();
    drop(lock.unwrap());
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}
