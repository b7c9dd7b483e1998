//! The team store on Postgres: the backend conformance suite, and what
//! several replicas on one database need: grant locks that exclude across
//! them and die with a killed replica, concurrent startup, one refresh per
//! user across two replicas' TokenCaches.
//!
//! The server comes from `JIRA_MCP_TEST_POSTGRES_URL` (`.ci/postgres start`
//! prints it); each test works in a database of its own. Without the
//! variable the tests fail when `CI` is set, and otherwise say why they did
//! nothing.

mod store_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gouqi_oauth::TokenStore;
use jira_mcp::team::store::postgres::PostgresStore;
use jira_mcp::team::store::{self, StoreError, TeamStore, UserId};
use sqlx::{Connection, PgConnection, Row};
use store_support::*;

use e2e_tests::postgres::fresh_database;

async fn open(url: &str) -> Arc<dyn TeamStore> {
    Arc::new(PostgresStore::open(url).await.unwrap())
}

async fn fresh() -> Option<Arc<dyn TeamStore>> {
    Some(open(&fresh_database().await?).await)
}

store_support::conformance::store_conformance_tests!(fresh().await);

/// Two stores on one database, as two replicas have.
async fn two_replicas() -> Option<(String, Arc<dyn TeamStore>, Arc<dyn TeamStore>)> {
    let url = fresh_database().await?;
    let (a, b) = (open(&url).await, open(&url).await);
    Some((url, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grant_locks_exclude_across_replicas() {
    let Some((_, a, b)) = two_replicas().await else {
        return;
    };
    let ann = UserId("ann".into());
    let short = Duration::from_millis(300);
    let held = a.lock_grant(&ann, short).await.unwrap();

    let started = Instant::now();
    match b.lock_grant(&ann, short).await {
        Err(StoreError::LockTimeout { waited }) => assert_eq!(waited, short),
        other => panic!("the other replica took a held lock: {other:?}"),
    }
    assert!(started.elapsed() >= short);
    // Another user's lock is free on either replica.
    drop(b.lock_grant(&UserId("bob".into()), short).await.unwrap());
    drop(a.lock_grant(&UserId("bob".into()), short).await.unwrap());

    // Released on drop: the waiting replica gets it promptly.
    let waiter = {
        let b = b.clone();
        let ann = ann.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            (
                b.lock_grant(&ann, Duration::from_secs(10)).await,
                started.elapsed(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());
    drop(held);
    let (lock, waited) = waiter.await.unwrap();
    drop(lock.unwrap());
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

/// The child process of [`a_killed_replicas_grant_lock_is_released`]: takes
/// the lock named in the environment, says so, and waits to be killed.
/// Ignored: only that test runs it (with `--ignored`).
#[tokio::test]
#[ignore = "the child process of a_killed_replicas_grant_lock_is_released"]
async fn child_holding_a_grant_lock() {
    let spec = std::env::var("JIRA_MCP_TEST_HOLD_LOCK")
        .expect("run by a_killed_replicas_grant_lock_is_released only");
    let (url, user) = spec.split_once(' ').unwrap();
    let store = open(url).await;
    let _held = store
        .lock_grant(&UserId(user.into()), Duration::from_secs(10))
        .await
        .unwrap();
    println!("HOLDING THE LOCK");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_grant_lock_is_released() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let survivor = open(&url).await;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_holding_a_grant_lock",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("JIRA_MCP_TEST_HOLD_LOCK", format!("{url} ann"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let found = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("HOLDING THE LOCK"))
    });
    let found = tokio::time::timeout(Duration::from_secs(60), found).await;
    if !matches!(found, Ok(Ok(true))) {
        let _ = child.kill();
        panic!("the child process did not take the lock");
    }

    let ann = UserId("ann".into());
    let short = Duration::from_millis(300);
    assert!(matches!(
        survivor.lock_grant(&ann, short).await,
        Err(StoreError::LockTimeout { .. })
    ));
    // SIGKILL: no destructor runs; only the server seeing the connection
    // drop can release the lock.
    child.kill().unwrap();
    child.wait().unwrap();
    let started = Instant::now();
    drop(
        survivor
            .lock_grant(&ann, Duration::from_secs(10))
            .await
            .unwrap(),
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_at_once_on_an_empty_database_all_come_up() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::open(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for task in opening {
        stores.push(task.await.unwrap().unwrap());
    }
    for (i, store) in stores.iter().enumerate() {
        store
            .upsert_user(&format!("user-{i}"), "site", None)
            .await
            .unwrap();
    }
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let applied: i64 = sqlx::query("SELECT count(*) AS n FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n");
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
        .count();
    assert_eq!(
        applied,
        i64::try_from(migrations).unwrap(),
        "each migration is applied once"
    );
    let users: i64 = sqlx::query("SELECT count(*) AS n FROM users")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n");
    assert_eq!(users, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_token_caches_refresh_a_users_grant_once() {
    let Some((_, a, b)) = two_replicas().await else {
        return;
    };
    one_refresh_for_two_caches(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_grant_lock_does_not_block_another_users_refresh_on_another_replica() {
    let Some((_, a, b)) = two_replicas().await else {
        return;
    };
    other_users_are_not_blocked(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_only_ciphertext_in_the_database() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let store = open(&url).await;
    let sealer = sealer();
    let ann = store.upsert_user("ann", "site", None).await.unwrap().id;
    let view = grant(&store, &sealer, &ann);
    tokio::task::spawn_blocking(move || {
        view.save(&expiring_tokens(
            "SECRET-ACCESS-5b2d",
            "SECRET-REFRESH-e81f",
        ))
        .unwrap()
    })
    .await
    .unwrap();

    let mut conn = PgConnection::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT sealed FROM grants")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let sealed: Vec<u8> = rows[0].get("sealed");
    let contains = |needle: &[u8]| sealed.windows(needle.len()).any(|w| w == needle);
    for secret in ["SECRET-ACCESS-5b2d", "SECRET-REFRESH-e81f", "SECRET-"] {
        assert!(!contains(secret.as_bytes()), "{secret} is stored in clear");
    }
    // Every text column of every table, as text.
    let dump: String = sqlx::query(
        "SELECT concat_ws(' ', (SELECT string_agg(u::text, ' ') FROM users u), \
         (SELECT string_agg(g::text, ' ') FROM grants g)) AS dump",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
    .get("dump");
    assert!(!dump.contains("SECRET-"), "{dump}");
}

#[tokio::test]
async fn bad_postgres_urls_are_refused_without_the_password() {
    // Nothing listens on port 1.
    let err = store::open("postgres://jira:hunter2@127.0.0.1:1/jira")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("cannot connect"), "{message}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(message.contains("JIRA_MCP_DATABASE_URL"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");

    let err = store::open("postgres://jira:hunter2@127.0.0.1:notaport/jira")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("postgres://user:password@host"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn describe_names_the_database_without_credentials() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let mut with_password = url::Url::parse(&url).unwrap();
    // Trust auth ignores the password; it must not show anyway.
    with_password.set_password(Some("hunter2")).unwrap();
    let store = store::open(with_password.as_str()).await.unwrap();
    let described = store.describe();
    assert!(described.contains("Postgres"), "{described}");
    assert!(described.contains("jmcp_"), "{described}");
    assert!(!described.contains("hunter2"), "{described}");
    assert!(!described.contains("postgres@"), "{described}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_issued_before_the_token_families_migration_keep_working() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let (access, refresh, _) =
        version_one_with_tokens::<sqlx::Postgres>("postgres", &mut conn).await;
    conn.close().await.unwrap();
    let store = open(&url).await;
    tokens_survive_the_upgrade(&store, &access, &refresh).await;
}

/// A replica started while Postgres is down (a compose stack coming up, a
/// database restart) waits for it with backoff instead of exiting: here
/// the database's port answers only 2 s after `open` began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_waits_for_a_database_that_is_not_up_yet() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let real: url::Url = url.parse().unwrap();
    let upstream = format!(
        "{}:{}",
        real.host_str().unwrap(),
        real.port().unwrap_or(5432)
    );
    // A port where nothing listens yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut late = real.clone();
    late.set_host(Some("127.0.0.1")).unwrap();
    late.set_port(Some(port)).unwrap();
    let late = late.to_string();
    let opening = tokio::spawn(async move { PostgresStore::open(&late).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !opening.is_finished(),
        "open gave up on a database that was down"
    );
    // The database "comes up": a forwarder to the real server on that port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let forwarder = tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    let store = tokio::time::timeout(Duration::from_secs(60), opening)
        .await
        .expect("open still waits after the database came up")
        .unwrap()
        .expect("open succeeds once the database is up");
    store.ping().await.unwrap();
    forwarder.abort();
}

/// Only a database that is down is waited for: an error from a database
/// that answers (here: no such database) is returned at once.
#[tokio::test]
async fn open_does_not_wait_on_an_error_the_database_answered() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let mut wrong: url::Url = url.parse().unwrap();
    wrong.set_path("/no_such_database_here");
    let started = Instant::now();
    let result = PostgresStore::open(wrong.as_str()).await;
    assert!(result.is_err(), "opened a database that does not exist");
    // Far below the start-up wait (5 min): no retry happened.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
