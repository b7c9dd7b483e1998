//! The token file: corrupt and unreadable files, atomic replacement, and two
//! processes rotating one refresh token without ever replaying it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use gouqi_oauth::r#async::Jira;
use gouqi_oauth::{Error, FileStore, StoreError, TokenCache, TokenStore};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn a_corrupt_file_is_reported_with_its_path_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    std::fs::write(&file, "{\"version\": 1, \"access_tok").unwrap();
    let store = FileStore::new(&file);

    let err = store.load().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }));
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );

    let save = store.save(&valid_tokens("a", "r"));
    assert!(matches!(save, Err(StoreError::Corrupt { .. })));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\"version\": 1, \"access_tok"
    );
}

#[tokio::test]
async fn a_refresh_with_a_corrupt_file_fails_without_touching_network_or_file() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    std::fs::write(&file, "not json").unwrap();
    let err = TokenCache::new(source(&server), FileStore::new(&file))
        .token()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Store(StoreError::Corrupt { .. })),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not json");
}

#[test]
fn a_newer_format_version_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    std::fs::write(&file, r#"{"version": 7, "whatever": true}"#).unwrap();
    let err = FileStore::new(&file).load().unwrap_err();
    assert!(err.to_string().contains("version 7"), "{err}");
}

#[test]
fn a_directory_at_the_path_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    std::fs::create_dir(&file).unwrap();
    let store = FileStore::new(&file);
    for err in [
        store.load().unwrap_err(),
        store.save(&valid_tokens("a", "r")).unwrap_err(),
        store.remove().unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotAFile { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("tokens.json") && text.contains("is a directory"),
            "{text}"
        );
        assert!(!text.contains("permission"), "{text}");
    }
    assert!(file.is_dir());
}

#[test]
fn a_secret_never_appears_in_store_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    // A type error whose serde message would quote the secret value.
    std::fs::write(
        &file,
        r#"{"version": 1, "access_token": ["secret-in-array"], "obtained_at": 1}"#,
    )
    .unwrap();
    let err = FileStore::new(&file).load().unwrap_err();
    assert!(!err.to_string().contains("secret-in-array"), "{err}");
}

#[test]
fn readers_only_ever_see_a_complete_token_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    store.save(&valid_tokens("access-0", "refresh-0")).unwrap();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for n in 1..=300 {
                store
                    .save(&valid_tokens(
                        &format!("access-{n}"),
                        &format!("refresh-{n}"),
                    ))
                    .unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() {
        let tokens = store
            .load()
            .expect("a torn or partial file")
            .expect("the file vanished");
        // Access and refresh token always come from the same write.
        let n = tokens
            .access_token
            .secret()
            .trim_start_matches("access-")
            .to_string();
        assert_eq!(
            tokens.refresh_token.unwrap().secret(),
            &format!("refresh-{n}")
        );
        reads += 1;
    }
    writer.join().unwrap();
    assert!(reads > 0);
}

#[tokio::test]
async fn two_processes_share_one_token_file_across_twenty_rotations() {
    let server = MockServer::start().await;
    let endpoint = RotatingEndpoint::default();
    let served = Arc::new(AtomicUsize::new(0));
    token_post()
        .respond_with(endpoint.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(issue_path()))
        .respond_with(StrictJira::new(&endpoint, &served))
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    FileStore::new(&file)
        .save(&valid_tokens("access-0", "refresh-0"))
        .unwrap();
    // Two caches over two store handles: nothing shared but the file, as
    // with two processes.
    let process = |_| {
        let cache = TokenCache::new(source(&server), FileStore::new(&file));
        (cache.clone(), Jira::new(server.uri(), cache).unwrap())
    };
    let processes: Vec<_> = (0..2).map(process).collect();

    let mut tasks = Vec::new();
    for (cache, jira) in processes {
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                cache.force_refresh().await.unwrap();
                let _: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let s = endpoint.state.lock();
    assert_eq!(s.invalid_grants, 0);
    assert!(!s.revoked);
    assert_eq!(s.refreshes, 20);
    assert_eq!(served.load(Ordering::SeqCst), 20);
    let stored = FileStore::new(&file).load().unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "refresh-20");
}

#[tokio::test]
async fn a_process_adopts_the_token_another_process_just_rotated() {
    let server = MockServer::start().await;
    let endpoint = RotatingEndpoint::default();
    token_post()
        .respond_with(endpoint.clone())
        .expect(1)
        .mount(&server)
        .await;
    let served = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path(issue_path()))
        .respond_with(StrictJira::new(&endpoint, &served))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    FileStore::new(&file)
        .save(&valid_tokens("access-0", "refresh-0"))
        .unwrap();
    let a = Jira::new(
        server.uri(),
        TokenCache::new(source(&server), FileStore::new(&file)),
    )
    .unwrap();
    let b_cache = TokenCache::new(source(&server), FileStore::new(&file));
    let b = Jira::new(server.uri(), b_cache.clone()).unwrap();

    // B loads access-0; A then rotates (as after its own 401) to access-1.
    let _: gouqi::Issue = b.get("api", "/issue/ED-1").await.unwrap();
    TokenCache::new(source(&server), FileStore::new(&file))
        .force_refresh()
        .await
        .unwrap();
    let _: gouqi::Issue = a.get("api", "/issue/ED-1").await.unwrap();
    // B's access-0 now meets a 401: B must adopt access-1, not refresh with refresh-0.
    let _: gouqi::Issue = b.get("api", "/issue/ED-1").await.unwrap();
    assert_eq!(endpoint.state.lock().invalid_grants, 0);
    assert_eq!(
        b_cache.peek().await.unwrap().tokens().access_token.secret(),
        "access-1"
    );
}

// ---- The token file path: links, ownership, modes, logout, the lock.

#[cfg(unix)]
#[test]
fn a_symlink_is_followed_and_never_split_into_two_copies() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real/tokens.json");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    FileStore::new(&real)
        .save(&valid_tokens("access-0", "refresh-0"))
        .unwrap();
    let link = dir.path().join("tokens.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let store = FileStore::new(&link);
    assert_eq!(
        store.load().unwrap().unwrap().access_token.secret(),
        "access-0"
    );
    store.save(&valid_tokens("access-1", "refresh-1")).unwrap();

    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a regular file"
    );
    let through_target = FileStore::new(&real).load().unwrap().unwrap();
    assert_eq!(through_target.refresh_token.unwrap().secret(), "refresh-1");
    // One lock for both paths: beside the target.
    let _held = store.lock().unwrap();
    assert!(real.with_file_name("tokens.json.lock").exists());
    let err = FileStore::new(&real)
        .lock_timeout(std::time::Duration::from_millis(100))
        .lock()
        .unwrap_err();
    assert!(matches!(err, StoreError::LockTimeout { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn a_link_to_nowhere_is_an_error_and_nothing_is_written_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tokens.json");
    std::os::unix::fs::symlink(dir.path().join("missing/tokens.json"), &link).unwrap();
    let err = FileStore::new(&link)
        .save(&valid_tokens("a", "r"))
        .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[cfg(unix)]
#[test]
fn a_file_others_can_read_is_tightened_to_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let store = FileStore::new(&file);
    store.save(&valid_tokens("a", "r")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(store.load().unwrap().is_some());
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[cfg(unix)]
#[test]
fn another_users_file_is_refused() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let store = FileStore::new(&file);
    store.save(&valid_tokens("a", "r")).unwrap();
    // Giving a file away takes root (CI runs as root).
    let other = std::fs::metadata(&file).unwrap().uid() + 4242;
    let chown = std::process::Command::new("chown")
        .arg(other.to_string())
        .arg(&file)
        .status()
        .unwrap();
    if !chown.success() {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test needs root in CI to give a file to another user"
        );
        eprintln!("not root: cannot give the file to another user; nothing checked");
        return;
    }
    let err = store.load().unwrap_err();
    assert!(matches!(err, StoreError::NotOwned { .. }), "{err}");
    assert!(err.to_string().contains(&other.to_string()), "{err}");
    // And it is never replaced.
    assert!(store.save(&valid_tokens("b", "r")).is_err());
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), other);
}

#[test]
fn logout_removes_the_lock_file_and_a_second_logout_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let store = FileStore::new(&file);
    store.save(&valid_tokens("a", "r")).unwrap();
    drop(store.lock().unwrap());
    assert!(dir.path().join("tokens.json.lock").exists());

    assert!(store.remove().unwrap());
    assert!(!file.exists());
    assert!(!dir.path().join("tokens.json.lock").exists());
    assert!(
        !store.remove().unwrap(),
        "a second logout claimed to remove tokens"
    );
}

/// A process waiting on the lock while the holder logs out (and removes the
/// lock file) must not end up holding a lock nobody else sees.
#[test]
fn a_waiter_locks_the_lock_file_that_exists_after_a_logout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let store = FileStore::new(&file);
    store.save(&valid_tokens("a", "r")).unwrap();
    let held = store.lock().unwrap();
    let waiter = std::thread::spawn({
        let store = store.clone();
        move || store.lock().unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    store.clear().unwrap(); // logout, under `held`
    drop(held);
    let _waiter_holds = waiter.join().unwrap();
    let third = FileStore::new(&file)
        .lock_timeout(std::time::Duration::from_millis(100))
        .lock();
    assert!(
        matches!(third, Err(StoreError::LockTimeout { .. })),
        "two processes held the lock at once"
    );
}

#[test]
fn a_stuck_lock_holder_gives_a_bounded_wait_and_names_its_pid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let _held = FileStore::new(&file).lock().unwrap();
    let started = std::time::Instant::now();
    let err = FileStore::new(&file)
        .lock_timeout(std::time::Duration::from_millis(300))
        .lock()
        .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let text = err.to_string();
    assert!(
        text.contains(&format!("pid {}", std::process::id())) && text.contains("Ctrl-Z"),
        "{text}"
    );
}

/// Through the cache: a stuck holder makes a refresh fail with that error,
/// and the token endpoint is never asked.
#[tokio::test]
async fn a_refresh_behind_a_stuck_lock_fails_clearly_without_a_token_request() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    FileStore::new(&file)
        .save(&expiring_tokens("access-0", "refresh-0"))
        .unwrap();
    let _held = FileStore::new(&file).lock().unwrap();
    let store = FileStore::new(&file).lock_timeout(std::time::Duration::from_millis(300));
    let err = TokenCache::new(source(&server), store)
        .token()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Store(StoreError::LockTimeout { .. })),
        "{err}"
    );
}
