//! The team store on SQLite: the backend conformance suite, grants at rest
//! (sealed, private files), and gouqi-oauth's TokenCache over users' grants.

mod store_support;

use std::sync::Arc;
use std::time::Duration;

use gouqi_oauth::TokenStore;
use jira_mcp::team::store::crypto::Sealer;
use jira_mcp::team::store::sqlite::SqliteStore;
use jira_mcp::team::store::{self, StoreError, TeamStore, UserId};
use store_support::*;

async fn memory() -> Arc<dyn TeamStore> {
    Arc::new(SqliteStore::memory().await.unwrap())
}

store_support::conformance::store_conformance_tests!(Some(memory().await));

/// The suite again on a file, where the pool has several connections.
mod on_a_file {
    use super::*;

    /// A new database file in this run's directory (one per run: the
    /// stores outlive the test functions' scopes).
    async fn fresh() -> Arc<dyn TeamStore> {
        static DIR: std::sync::LazyLock<tempfile::TempDir> =
            std::sync::LazyLock::new(|| tempfile::tempdir().unwrap());
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = DIR.path().join(format!("team-{n}.db"));
        store::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap()
    }

    store_support::conformance::store_conformance_tests!(Some(fresh().await));
}

/// A store on a file in a fresh temporary directory.
async fn on_file() -> (tempfile::TempDir, std::path::PathBuf, Arc<dyn TeamStore>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("team.db");
    let store = store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    (dir, path, store)
}

/// Runs a blocking TokenStore call off the async workers, as TokenCache does.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_grant_is_only_ciphertext_on_disk() {
    let (dir, path, store) = on_file().await;
    let sealer = sealer();
    let ann = store.upsert_user("ann", "site", None).await.unwrap().id;
    let view = grant(&store, &sealer, &ann);
    let tokens = expiring_tokens("SECRET-ACCESS-7f3a", "SECRET-REFRESH-9c1e");
    let saved = tokens.clone();
    let view = blocking(move || {
        view.save(&saved).unwrap();
        view
    })
    .await;
    let loaded = blocking(move || view.load().unwrap().unwrap()).await;
    assert_eq!(
        loaded.refresh_token.unwrap().secret(),
        "SECRET-REFRESH-9c1e"
    );

    // The database file and its WAL hold the grant, sealed.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let sealed = store.load_grant(&ann).await.unwrap().unwrap();
    assert!(contains(&bytes, &sealed), "the sealed grant is not on disk");
    for secret in ["SECRET-ACCESS-7f3a", "SECRET-REFRESH-9c1e", "SECRET-"] {
        assert!(!contains(&bytes, secret.as_bytes()), "{secret} is on disk");
    }
    drop(dir);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_file_and_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path, store) = on_file().await;
    store.upsert_user("ann", "site", None).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert!(store.describe().contains("team.db"), "{}", store.describe());
}

#[tokio::test]
async fn reopening_keeps_the_data_and_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("team.db").display());
    let ann = {
        let store = store::open(&url).await.unwrap();
        let ann = store.upsert_user("ann", "site", None).await.unwrap().id;
        store.save_grant(&ann, b"sealed").await.unwrap();
        ann
    };
    let store = store::open(&url).await.unwrap();
    assert_eq!(
        store.load_grant(&ann).await.unwrap().as_deref(),
        Some(&b"sealed"[..])
    );
}

#[tokio::test]
async fn unsupported_and_unopenable_urls_are_refused_with_advice() {
    let err = store::open("mysql://root:hunter2@db/jira")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`mysql`"), "{message}");
    assert!(message.contains("sqlite://"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");

    // A directory where the database file should be.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().display());
    let message = store::open(&url).await.unwrap_err().to_string();
    assert!(message.contains("JIRA_MCP_DATABASE_URL"), "{message}");
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );

    let memory = store::open("sqlite::memory:").await.unwrap();
    assert!(memory.describe().contains("in-memory"));
    // Nothing was written to the working directory.
    for entry in std::fs::read_dir(".").unwrap() {
        let name = entry.unwrap().file_name();
        assert!(!name.to_string_lossy().contains("memory"), "{name:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_sealed_with_a_rotated_key_is_resealed_on_the_next_save() {
    let store = memory().await;
    let old_key = Sealer::generate_key();
    let old = Arc::new(Sealer::from_base64(&old_key, &[]).unwrap());
    let ann = store.upsert_user("ann", "site", None).await.unwrap().id;
    let view = grant(&store, &old, &ann);
    blocking(move || view.save(&expiring_tokens("a-0", "r-0")).unwrap()).await;

    // Rotated: the old key is only a previous one now.
    let new = Arc::new(Sealer::from_base64(&Sealer::generate_key(), &[old_key]).unwrap());
    let sealed = store.load_grant(&ann).await.unwrap().unwrap();
    assert!(new.needs_reseal(&sealed));
    let view = grant(&store, &new, &ann);
    let view = blocking(move || {
        let tokens = view.load().unwrap().unwrap();
        assert_eq!(tokens.access_token.secret(), "a-0");
        view.save(&tokens).unwrap();
        view
    })
    .await;
    let sealed = store.load_grant(&ann).await.unwrap().unwrap();
    assert!(!new.needs_reseal(&sealed));
    assert!(old.open(&sealed, ann.0.as_bytes()).is_err());
    drop(view);

    // Without the old key, the message says what to do; no secret in it.
    let forgot = Arc::new(Sealer::from_base64(&Sealer::generate_key(), &[]).unwrap());
    let view = grant(&store, &forgot, &ann);
    let message = blocking(move || view.load().unwrap_err().to_string()).await;
    assert!(
        message.contains("JIRA_MCP_PREVIOUS_ENCRYPTION_KEYS"),
        "{message}"
    );
    assert!(!message.contains("r-0"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_moved_to_another_users_row_cannot_be_opened() {
    let store = memory().await;
    let sealer = sealer();
    let ann = store.upsert_user("ann", "site", None).await.unwrap().id;
    let eve = store.upsert_user("eve", "site", None).await.unwrap().id;
    let view = grant(&store, &sealer, &ann);
    blocking(move || view.save(&expiring_tokens("a-0", "r-0")).unwrap()).await;
    let anns = store.load_grant(&ann).await.unwrap().unwrap();
    store.save_grant(&eve, &anns).await.unwrap();
    let view = grant(&store, &sealer, &eve);
    let result = blocking(move || view.load()).await;
    assert!(result.is_err(), "eve opened ann's grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grant_view_names_the_user_and_clears() {
    let store = memory().await;
    let sealer = sealer();
    let ann = store
        .upsert_user("atlassian-account-557058", "site", None)
        .await
        .unwrap()
        .id;
    let view = grant(&store, &sealer, &ann);
    let location = view.location();
    assert!(location.contains(&ann.0), "{location}");
    assert!(!location.contains("557058"), "{location}");
    let debug = format!("{view:?}");
    assert!(!debug.contains("557058"), "{debug}");
    blocking(move || {
        assert!(view.load().unwrap().is_none());
        view.save(&expiring_tokens("a-0", "r-0")).unwrap();
        assert!(view.remove().unwrap());
        assert!(view.load().unwrap().is_none());
        assert!(!view.clear().unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_grant_lock_times_out_the_grant_view_with_advice() {
    let store = memory().await;
    let ann = store.upsert_user("ann", "site", None).await.unwrap().id;
    let _held = store
        .lock_grant(&ann, Duration::from_secs(1))
        .await
        .unwrap();
    // The view waits 30 s; the store's own timeout is what it reports.
    let err = store
        .lock_grant(&ann, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LockTimeout { .. }));
    let view = grant(&store, &sealer(), &UserId("bob".into()));
    // Another user's view locks at once.
    blocking(move || drop(view.lock().unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_token_caches_on_one_users_grant_refresh_once() {
    let store = memory().await;
    one_refresh_for_two_caches(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_token_caches_on_two_handles_of_one_sqlite_file_refresh_once() {
    let (_dir, path, first) = on_file().await;
    let second = store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    one_refresh_for_two_caches(first, second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_grant_lock_does_not_block_another_users_refresh() {
    let store = memory().await;
    other_users_are_not_blocked(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grant_view_also_works_when_called_from_an_async_task() {
    // gouqi-oauth calls it on blocking threads, but a synchronous call from
    // a request handler (TokenCache::preload) must not panic either.
    let store = memory().await;
    let ann = store.upsert_user("ann", "site", None).await.unwrap().id;
    let view = grant(&store, &sealer(), &ann);
    view.save(&expiring_tokens("a-0", "r-0")).unwrap();
    let lock = view.lock().unwrap();
    drop(lock);
    assert_eq!(view.load().unwrap().unwrap().access_token.secret(), "a-0");
}

/// The child process of [`another_process_on_the_same_file_is_locked_out`]:
/// takes the lock named in the environment, says so, waits to be killed.
#[tokio::test]
#[ignore = "the child process of another_process_on_the_same_file_is_locked_out"]
async fn child_holding_a_sqlite_grant_lock() {
    let spec = std::env::var("JIRA_MCP_TEST_HOLD_LOCK")
        .expect("run by another_process_on_the_same_file_is_locked_out only");
    let (url, user) = spec.split_once(' ').unwrap();
    let store = store::open(url).await.unwrap();
    let _held = store
        .lock_grant(&UserId(user.into()), Duration::from_secs(10))
        .await
        .unwrap();
    println!("HOLDING THE LOCK");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_on_the_same_file_is_locked_out() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Instant;

    let (_dir, path, store) = on_file().await;
    let url = format!("sqlite://{}", path.display());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_holding_a_sqlite_grant_lock",
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
    let started = Instant::now();
    match store.lock_grant(&ann, short).await {
        Err(StoreError::LockTimeout { waited }) => assert_eq!(waited, short),
        other => panic!("took a lock another process holds: {other:?}"),
    }
    assert!(started.elapsed() >= short);
    drop(
        store
            .lock_grant(&UserId("bob".into()), short)
            .await
            .unwrap(),
    );
    // SIGKILL: the OS releases the dead process's lock.
    child.kill().unwrap();
    child.wait().unwrap();
    drop(
        store
            .lock_grant(&ann, Duration::from_secs(5))
            .await
            .unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_issued_before_the_token_families_migration_keep_working() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("team.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (access, refresh, _) = version_one_with_tokens::<sqlx::Sqlite>("sqlite", &mut conn).await;
    conn.close().await.unwrap();
    let store = store::open(&url).await.unwrap();
    tokens_survive_the_upgrade(&store, &access, &refresh).await;
}
