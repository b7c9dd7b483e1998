//! The behaviour every [`TeamStore`] backend must have, written once and run
//! against each backend by `store_sqlite.rs` and `store_postgres.rs` through
//! `store_conformance_tests!`.
//!
//! Each function takes a fresh, empty store and panics (like an `assert!`)
//! when the store misbehaves. Test support only: not compiled into jira-mcp.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_mcp::team::store::{
    ClientAuth, ClientRecord, CodeRecord, FamilyStart, PendingRecord, RefreshUse, StoreError,
    TeamStore, TokenHash, TokenRecord, UserId, UserRecord, now,
};

/// Defines one `#[tokio::test]` per conformance check. `$make` is an
/// expression (it may `.await`) giving `Option<Arc<dyn TeamStore>>`, a
/// fresh empty store, or `None` to skip (a backend that is not available
/// outside CI).
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_support::conformance::store_conformance_tests!(@each $make;
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
            a_revoked_family_takes_no_new_tokens,
            racing_refresh_replays_leave_no_live_token,
            racing_code_replays_leave_no_live_token,
            revoking_a_user_deletes_their_codes,
            revoking_a_user_races_a_code_redemption,
            a_family_ends_at_its_absolute_expiry,
            unused_clients_are_purged,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store: Option<std::sync::Arc<dyn jira_mcp::team::store::TeamStore>> = $make;
                let Some(store) = store else { return };
                $crate::store_support::conformance::$name(store).await;
            }
        )*
    };
}

pub(crate) use store_conformance_tests;

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

/// The family a code redemption starts, ending in an hour.
fn start(family: &str) -> FamilyStart {
    FamilyStart {
        family: family.into(),
        expires_at: later(),
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
    assert_eq!(
        store
            .take_code(&hash("code-ann"), &start("code-family"))
            .await
            .unwrap(),
        None
    );
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
    assert!(
        store
            .take_code(&hash("code-bob"), &start("code-family"))
            .await
            .unwrap()
            .is_some()
    );
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
        async move { store.take_code(&key, &start("code-family")).await.unwrap() }
    })
    .await;
    assert_eq!(got, 1);
    assert_eq!(
        store.take_code(&key, &start("code-family")).await.unwrap(),
        None
    );

    store.put_code(&key, &record).await.unwrap();
    assert_eq!(
        store.take_code(&key, &start("code-family")).await.unwrap(),
        Some(record)
    );
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
    assert_eq!(
        store
            .take_code(&hash("code"), &start("code-family"))
            .await
            .unwrap(),
        None
    );
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
    // Pending, spent consent, code, access and refresh token, and the
    // tokens' family.
    assert_eq!(store.purge_expired(now()).await.unwrap(), 6);
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
    assert!(
        store
            .take_code(&hash("code-new"), &start("code-family"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.access(&hash("access-new")).await.unwrap().is_some());
    assert!(matches!(
        store.take_refresh(&hash("refresh-new")).await.unwrap(),
        RefreshUse::Fresh(_)
    ));
    // Everything is gone once it all expired: the spent consent, the two
    // tokens, their family and the one the code's redemption started.
    assert_eq!(store.purge_expired(later() + 1).await.unwrap(), 5);
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

/// Once a family is revoked, no token of it is stored any more, and one
/// stored before is refused.
pub async fn a_revoked_family_takes_no_new_tokens(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    assert!(
        store
            .put_access(&hash("access-1"), &token(&ann, "f1", later()))
            .await
            .unwrap()
    );
    assert_eq!(store.revoke_family("f1").await.unwrap(), 1);
    assert!(
        !store
            .put_access(&hash("access-2"), &token(&ann, "f1", later()))
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_refresh(&hash("refresh-2"), &token(&ann, "f1", later()))
            .await
            .unwrap()
    );
    assert_eq!(store.access(&hash("access-1")).await.unwrap(), None);
    assert_eq!(store.access(&hash("access-2")).await.unwrap(), None);
    assert_eq!(
        store.take_refresh(&hash("refresh-2")).await.unwrap(),
        RefreshUse::Unknown
    );
    // Another family is untouched.
    assert!(
        store
            .put_access(&hash("access-3"), &token(&ann, "f2", later()))
            .await
            .unwrap()
    );
    assert!(store.access(&hash("access-3")).await.unwrap().is_some());
}

/// How many trials each race test runs, and how many racers each has.
const TRIALS: usize = 50;
const RACERS: usize = 8;

/// What one racer left behind: the keys of the tokens it was given.
type Issued = Vec<(TokenHash, TokenHash)>;

/// Stores a new access and refresh token in `family`, as `/token` does;
/// returns their keys when both were stored.
async fn issue(
    store: &Arc<dyn TeamStore>,
    user: &UserId,
    family: &str,
    racer: usize,
) -> Option<(TokenHash, TokenHash)> {
    let access = hash(&format!("access-{family}-{racer}"));
    let refresh = hash(&format!("refresh-{family}-{racer}"));
    let record = token(user, family, later());
    if !store.put_access(&access, &record).await.unwrap() {
        return None;
    }
    if !store.put_refresh(&refresh, &record).await.unwrap() {
        return None;
    }
    Some((access, refresh))
}

/// Counts the tokens of `issued` that still work.
async fn survivors(store: &Arc<dyn TeamStore>, issued: &Issued) -> usize {
    let mut alive = 0;
    for (access, refresh) in issued {
        alive += usize::from(store.access(access).await.unwrap().is_some());
        alive += usize::from(matches!(
            store.take_refresh(refresh).await.unwrap(),
            RefreshUse::Fresh(_)
        ));
    }
    alive
}

/// Runs `racers` at once and gathers what they were issued.
async fn race<F, Fut>(racers: usize, racer: F) -> Issued
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Option<(TokenHash, TokenHash)>> + Send + 'static,
{
    let tasks: Vec<_> = (0..racers).map(|i| tokio::spawn(racer(i))).collect();
    let mut issued = Vec::new();
    for task in tasks {
        issued.extend(task.await.unwrap());
    }
    issued
}

/// Of several concurrent uses of one refresh token, one wins and the others
/// (replays) revoke the family: afterwards no token of the family works,
/// not even those the winner stored after (or while) a replay revoked it.
/// Issue 16, point 2: a thief racing the client must not end up holding
/// live tokens.
pub async fn racing_refresh_replays_leave_no_live_token(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let mut alive = 0;
    let mut replays = 0;
    for trial in 0..TRIALS {
        let family = format!("family-{trial}");
        let presented = hash(&format!("refresh-{trial}"));
        assert!(
            store
                .put_refresh(&presented, &token(&ann, &family, later()))
                .await
                .unwrap()
        );
        let racers = if trial % 2 == 0 { RACERS } else { 2 };
        let issued = race(racers, |i| {
            let (store, ann, family, presented) = (
                store.clone(),
                ann.clone(),
                family.clone(),
                presented.clone(),
            );
            async move {
                match store.take_refresh(&presented).await.unwrap() {
                    RefreshUse::Fresh(_) => issue(&store, &ann, &family, i).await,
                    RefreshUse::Replayed(_) => {
                        store.revoke_family(&family).await.unwrap();
                        None
                    }
                    RefreshUse::Unknown => None,
                }
            }
        })
        .await;
        replays += racers - 1;
        alive += survivors(&store, &issued).await;
    }
    assert_eq!(
        alive, 0,
        "{alive} tokens survived {TRIALS} trials ({replays} replays)"
    );
}

/// Of several concurrent redemptions of one code, at most one gets it, and
/// the others revoke the family it started: afterwards no token of it
/// works, however the redemption's inserts and the revocation interleave.
/// Issue 16, point 3.
pub async fn racing_code_replays_leave_no_live_token(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let mut alive = 0;
    for trial in 0..TRIALS {
        let family = format!("code-family-{trial}");
        let key = hash(&format!("code-{trial}"));
        store.put_code(&key, &code(&ann, later())).await.unwrap();
        let racers = if trial % 2 == 0 { 2 } else { RACERS };
        let issued = race(racers, |i| {
            let (store, ann, family, key) =
                (store.clone(), ann.clone(), family.clone(), key.clone());
            async move {
                match store.take_code(&key, &start(&family)).await.unwrap() {
                    Some(_) => issue(&store, &ann, &family, i).await,
                    None => {
                        store.revoke_family(&family).await.unwrap();
                        None
                    }
                }
            }
        })
        .await;
        alive += survivors(&store, &issued).await;
    }
    assert_eq!(alive, 0, "{alive} tokens survived {TRIALS} trials");
}

/// Revoking a user deletes their unredeemed codes (not another user's):
/// a code issued just before `team revoke` gives nothing after it.
/// Issue 16, point 10.
pub async fn revoking_a_user_deletes_their_codes(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let bob = user(&store, "bob").await.id;
    store
        .put_code(&hash("code-ann"), &code(&ann, later()))
        .await
        .unwrap();
    store
        .put_code(&hash("code-bob"), &code(&bob, later()))
        .await
        .unwrap();
    assert_eq!(store.revoke_user_tokens(&ann).await.unwrap(), 1);
    assert_eq!(
        store
            .take_code(&hash("code-ann"), &start("fa"))
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .take_code(&hash("code-bob"), &start("fb"))
            .await
            .unwrap()
            .is_some()
    );
}

/// A code redeemed while its user is being revoked: either the code is
/// gone, or the tokens it gave are revoked. Never live tokens after the
/// revocation returned.
pub async fn revoking_a_user_races_a_code_redemption(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let mut alive = 0;
    for trial in 0..TRIALS {
        let family = format!("family-{trial}");
        let key = hash(&format!("code-{trial}"));
        store.put_code(&key, &code(&ann, later())).await.unwrap();
        let redeeming = {
            let (store, ann, family) = (store.clone(), ann.clone(), family.clone());
            tokio::spawn(async move {
                match store.take_code(&key, &start(&family)).await.unwrap() {
                    Some(_) => issue(&store, &ann, &family, 0).await,
                    None => None,
                }
            })
        };
        store.revoke_user_tokens(&ann).await.unwrap();
        let issued: Issued = redeeming.await.unwrap().into_iter().collect();
        alive += survivors(&store, &issued).await;
    }
    assert_eq!(alive, 0, "{alive} tokens survived {TRIALS} revocations");
}

/// A family's tokens stop working at the family's end, whatever their own
/// expiry (refresh rotation cannot extend an authorization). Issue 16,
/// point 12.
pub async fn a_family_ends_at_its_absolute_expiry(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    for (name, family_end) in [("ended", now() - 1), ("alive", later())] {
        let key = hash(&format!("code-{name}"));
        store.put_code(&key, &code(&ann, later())).await.unwrap();
        let family = FamilyStart {
            family: name.into(),
            expires_at: family_end,
        };
        assert!(store.take_code(&key, &family).await.unwrap().is_some());
        // Tokens that would live another hour.
        issue(&store, &ann, name, 0).await.unwrap();
    }
    let (ended, alive) = (hash("access-ended-0"), hash("access-alive-0"));
    assert_eq!(store.access(&ended).await.unwrap(), None);
    assert_eq!(
        store.take_refresh(&hash("refresh-ended-0")).await.unwrap(),
        RefreshUse::Unknown
    );
    assert!(store.access(&alive).await.unwrap().is_some());
    assert!(matches!(
        store.take_refresh(&hash("refresh-alive-0")).await.unwrap(),
        RefreshUse::Fresh(_)
    ));
}

/// Clients registered before the cutoff that never redeemed a code are
/// deleted; those that did, and newer ones, stay. Issue 16, point 4.
pub async fn unused_clients_are_purged(store: Arc<dyn TeamStore>) {
    let ann = user(&store, "ann").await.id;
    let client = |id: &str, created_at: i64| ClientRecord {
        client_id: id.into(),
        client_name: None,
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
        auth: ClientAuth::None,
        created_at,
    };
    let old = now() - 100;
    for c in [
        client("abandoned", old),
        client("client-1", old),
        client("new", now()),
    ] {
        store.put_client(&c).await.unwrap();
    }
    // `code()` is issued to client-1: redeeming it completes its authorization.
    store
        .put_code(&hash("code"), &code(&ann, later()))
        .await
        .unwrap();
    assert!(
        store
            .take_code(&hash("code"), &start("f"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.purge_unused_clients(now() - 50).await.unwrap(), 1);
    assert_eq!(store.client("abandoned").await.unwrap(), None);
    assert!(store.client("client-1").await.unwrap().is_some());
    assert!(store.client("new").await.unwrap().is_some());
    assert_eq!(store.purge_unused_clients(now() - 50).await.unwrap(), 0);
}
