//! The blocking client: proactive refresh, single-flight 401 refresh across
//! threads, and a one-time retry.

mod common;

use common::*;
use gouqi_oauth::{Jira, MemoryStore, TokenCache, TokenStore};
use wiremock::MockServer;

/// Starts wiremock on a runtime of its own, so the test thread can block.
fn server() -> (tokio::runtime::Runtime, MockServer) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    (runtime, server)
}

#[test]
fn sync_accessor_refreshes_ahead_of_expiry() {
    let (runtime, server) = server();
    runtime.block_on(async {
        token_post()
            .respond_with(token_ok(token_json(
                "token/refresh.json",
                "access-1",
                "refresh-1",
            )))
            .expect(1)
            .mount(&server)
            .await;
        issue_ok("access-1").expect(2).mount(&server).await;
    });
    let store = MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0"));
    let jira = Jira::new(
        server.uri(),
        TokenCache::new(source(&server), store.clone()),
    )
    .unwrap();

    assert_eq!(jira.issues().get("ED-1").unwrap().key, "ED-1");
    let issue: gouqi::Issue = jira.get("api", "/issue/ED-1").unwrap();
    assert_eq!(issue.key, "ED-1");
    assert_eq!(
        store.load().unwrap().unwrap().access_token.secret(),
        "access-1"
    );
}

#[test]
fn sync_threads_that_all_get_401_share_one_refresh() {
    let (runtime, server) = server();
    runtime.block_on(async {
        token_post()
            .respond_with(token_ok(token_json(
                "token/refresh.json",
                "access-1",
                "refresh-1",
            )))
            .expect(1)
            .mount(&server)
            .await;
        issue_unauthorized("access-0").mount(&server).await;
        issue_ok("access-1").expect(16).mount(&server).await;
    });
    let store = MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0"));
    let jira = Jira::new(server.uri(), TokenCache::new(source(&server), store)).unwrap();

    let threads: Vec<_> = (0..16)
        .map(|_| {
            let jira = jira.clone();
            std::thread::spawn(move || jira.call(|j| j.issues().get("ED-1")).map(|i| i.key))
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().unwrap(), "ED-1");
    }
}

#[test]
fn sync_second_401_is_returned_as_unauthorized() {
    let (runtime, server) = server();
    runtime.block_on(async {
        token_post()
            .respond_with(token_ok(token_json(
                "token/refresh.json",
                "access-1",
                "refresh-1",
            )))
            .expect(1)
            .mount(&server)
            .await;
        issue_unauthorized("access-0")
            .expect(1)
            .mount(&server)
            .await;
        issue_unauthorized("access-1")
            .expect(1)
            .mount(&server)
            .await;
    });
    let store = MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0"));
    let jira = Jira::new(server.uri(), TokenCache::new(source(&server), store)).unwrap();
    let err = jira.get::<gouqi::Issue>("api", "/issue/ED-1").unwrap_err();
    assert!(
        matches!(err, gouqi_oauth::Error::Jira(gouqi::Error::Unauthorized)),
        "{err}"
    );
}
