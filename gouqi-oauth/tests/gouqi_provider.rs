//! `TokenCache` as gouqi's token provider (feature `gouqi-provider`, on the
//! gouqi patched by upstream/gouqi): gouqi's own clients, typed accessors
//! included, refresh once and retry once on 401.
#![cfg(feature = "gouqi-provider")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use gouqi_oauth::{MemoryStore, TokenCache};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn cache(server: &MockServer, access: &str) -> TokenCache {
    TokenCache::new(
        source(server),
        MemoryStore::with_tokens(valid_tokens(access, "refresh-0")),
    )
}

/// The token endpoint hands out `access-1` / `refresh-1`, `times` times.
async fn refresh_to_access_1(server: &MockServer, times: u64) {
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn async_typed_accessor_refreshes_once_and_retries_once() {
    let server = MockServer::start().await;
    refresh_to_access_1(&server, 1).await;
    issue_unauthorized("access-0")
        .expect(1)
        .mount(&server)
        .await;
    issue_ok("access-1").expect(1).mount(&server).await;
    let cache = cache(&server, "access-0");

    let jira =
        gouqi::r#async::Jira::new(server.uri(), gouqi::Credentials::from(cache.clone())).unwrap();
    let issue = jira.issues().get("ED-1").await.unwrap();

    assert_eq!(issue.key, "ED-1");
    let held = cache.peek().await.unwrap();
    assert_eq!(held.tokens().access_token.secret(), "access-1");
    let stored = cache.store().load().unwrap().unwrap();
    assert_eq!(
        stored.refresh_token.unwrap().secret(),
        "refresh-1",
        "the rotated refresh token is persisted"
    );
}

#[test]
fn blocking_typed_accessor_refreshes_once_and_retries_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        refresh_to_access_1(&server, 1).await;
        issue_unauthorized("access-0")
            .expect(1)
            .mount(&server)
            .await;
        issue_ok("access-1").expect(1).mount(&server).await;
        server
    });
    let cache = cache(&server, "access-0");

    let jira = gouqi::Jira::new(server.uri(), gouqi::Credentials::from(cache)).unwrap();
    let issue = jira.issues().get("ED-1").unwrap();

    assert_eq!(issue.key, "ED-1");
    runtime.block_on(server.verify());
}

#[tokio::test]
async fn async_second_401_is_unauthorized_after_two_requests_and_one_refresh() {
    let server = MockServer::start().await;
    refresh_to_access_1(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(issue_path()))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;

    let jira = gouqi::r#async::Jira::new(
        server.uri(),
        gouqi::Credentials::from(cache(&server, "access-0")),
    )
    .unwrap();
    let result = jira.issues().get("ED-1").await;

    assert!(
        matches!(result, Err(gouqi::Error::Unauthorized)),
        "{result:?}"
    );
}

#[test]
fn blocking_second_401_is_unauthorized_after_two_requests_and_one_refresh() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        refresh_to_access_1(&server, 1).await;
        Mock::given(method("GET"))
            .and(path(issue_path()))
            .respond_with(ResponseTemplate::new(401))
            .expect(2)
            .mount(&server)
            .await;
        server
    });

    let jira = gouqi::Jira::new(
        server.uri(),
        gouqi::Credentials::from(cache(&server, "access-0")),
    )
    .unwrap();
    let result = jira.issues().get("ED-1");

    assert!(
        matches!(result, Err(gouqi::Error::Unauthorized)),
        "{result:?}"
    );
    runtime.block_on(server.verify());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_200_concurrent_401s_hit_the_token_endpoint_once() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(
            token_ok(token_json("token/refresh.json", "access-1", "refresh-1"))
                // Slow enough that every request is rejected before it ends.
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    issue_unauthorized("access-0").mount(&server).await;
    issue_ok("access-1").expect(200).mount(&server).await;

    let jira = gouqi::r#async::Jira::new(
        server.uri(),
        gouqi::Credentials::from(cache(&server, "access-0")),
    )
    .unwrap();
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let jira = jira.clone();
            tokio::spawn(async move { jira.issues().get("ED-1").await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().key, "ED-1");
    }
}

#[test]
fn blocking_concurrent_401s_hit_the_token_endpoint_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        token_post()
            .respond_with(
                token_ok(token_json("token/refresh.json", "access-1", "refresh-1"))
                    .set_delay(Duration::from_millis(200)),
            )
            .expect(1)
            .mount(&server)
            .await;
        issue_unauthorized("access-0").mount(&server).await;
        issue_ok("access-1").expect(32).mount(&server).await;
        server
    });
    let jira = gouqi::Jira::new(
        server.uri(),
        gouqi::Credentials::from(cache(&server, "access-0")),
    )
    .unwrap();

    std::thread::scope(|scope| {
        let calls: Vec<_> = (0..32)
            .map(|_| scope.spawn(|| jira.issues().get("ED-1")))
            .collect();
        for call in calls {
            assert_eq!(call.join().unwrap().unwrap().key, "ED-1");
        }
    });
    runtime.block_on(server.verify());
}

/// A v3 search whose second page is answered 401 (the token was revoked
/// between pages) still returns every result, through gouqi's legacy
/// iterator and through `try_iter`.
#[test]
fn v3_search_survives_a_401_on_page_two() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let first = fixture("jira/search-jql.json");
    let next: serde_json::Value = serde_json::from_str(&first).unwrap();
    let next = next["nextPageToken"].as_str().unwrap().to_owned();
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        // One refresh per cache: two caches below.
        refresh_to_access_1(&server, 2).await;
        Mock::given(method("GET"))
            .and(path("/rest/api/3/search/jql"))
            .and(query_param_is_missing("nextPageToken"))
            .and(header("authorization", "Bearer access-0"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(first, "application/json"))
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/api/3/search/jql"))
            .and(query_param("nextPageToken", next.as_str()))
            .and(header("authorization", "Bearer access-0"))
            .respond_with(ResponseTemplate::new(401))
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/api/3/search/jql"))
            .and(query_param("nextPageToken", next.as_str()))
            .and(header("authorization", "Bearer access-1"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(fixture("jira/search-jql-last.json"), "application/json"),
            )
            .expect(2)
            .mount(&server)
            .await;
        server
    });
    let options = gouqi::SearchOptions::builder().max_results(2).build();
    let client = || {
        gouqi::Jira::with_search_api_version(
            server.uri(),
            gouqi::Credentials::from(cache(&server, "access-0")),
            gouqi::core::SearchApiVersion::V3,
        )
        .unwrap()
    };

    let jira = client();
    let mut iter = jira.search().iter("project = ED", &options).unwrap();
    let mut keys: Vec<String> = iter.by_ref().map(|issue| issue.key).collect();
    assert!(iter.error().is_none(), "{:?}", iter.error());
    keys.sort();
    assert_eq!(keys, ["ED-1", "ED-2", "ED-3"]);

    let jira = client();
    let keys: Vec<String> = jira
        .search()
        .try_iter("project = ED", &options)
        .unwrap()
        .map(|issue| issue.unwrap().key)
        .collect();
    assert_eq!(keys, ["ED-1", "ED-2", "ED-3"]);
    runtime.block_on(server.verify());
}

#[tokio::test]
async fn provider_error_downcasts_to_gouqi_oauth_error() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw(fixture("token/invalid-grant.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    issue_unauthorized("access-0")
        .expect(1)
        .mount(&server)
        .await;

    let jira = gouqi::r#async::Jira::new(
        server.uri(),
        gouqi::Credentials::from(cache(&server, "access-0")),
    )
    .unwrap();
    let error = jira.issues().get("ED-1").await.unwrap_err();

    let gouqi::Error::TokenProvider(source) = &error else {
        panic!("expected gouqi::Error::TokenProvider, got {error:?}");
    };
    let ours = source
        .downcast_ref::<gouqi_oauth::Error>()
        .expect("the source is gouqi-oauth's error");
    assert!(ours.needs_reauthorization(), "{ours:?}");
}

#[test]
fn blocking_provider_error_downcasts_to_gouqi_oauth_error() {
    // Nothing stored and an authorization-code grant: not logged in.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    let cache = TokenCache::new(source(&server), MemoryStore::new());
    let jira = gouqi::Jira::new(server.uri(), gouqi::Credentials::from(cache)).unwrap();

    let error = jira.issues().get("ED-1").unwrap_err();

    let source = std::error::Error::source(&error).expect("a source");
    let ours = source
        .downcast_ref::<gouqi_oauth::Error>()
        .expect("the source is gouqi-oauth's error");
    assert!(
        matches!(ours, gouqi_oauth::Error::NotLoggedIn { .. }),
        "{ours:?}"
    );
    assert!(
        runtime
            .block_on(server.received_requests())
            .unwrap()
            .is_empty(),
        "nothing is sent without a token"
    );
}

#[test]
fn credentials_from_cache_is_redacted() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    let credentials = gouqi::Credentials::from(TokenCache::new(
        source(&server),
        MemoryStore::with_tokens(valid_tokens("SECRET-ACCESS", "SECRET-REFRESH")),
    ));
    let shown = format!("{credentials:?}");
    assert!(shown.starts_with("OAuth"), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
    let _: Arc<dyn Send + Sync> = Arc::new(credentials);
}

/// Issue 23 through gouqi's own client: a 2 s token is refreshed before
/// gouqi sends it past its stated expiry, about once per lifetime, and no
/// call fails. 20 typed calls at 2 per second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_are_refreshed_before_gouqi_sends_them() {
    const LIFETIME: u64 = 2;
    let server = MockServer::start().await;
    let endpoint = RotatingEndpoint::with_lifetime(LIFETIME, Duration::from_secs(LIFETIME));
    let served = Arc::new(AtomicUsize::new(0));
    let jira_mock = StrictJira::new(&endpoint, &served);
    let rejected = jira_mock.2.clone();
    token_post()
        .respond_with(endpoint.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(issue_path()))
        .respond_with(jira_mock)
        .mount(&server)
        .await;
    let first = tokens_aged(
        "access-0",
        Some("refresh-0"),
        Duration::ZERO,
        Duration::from_secs(LIFETIME),
    );
    let cache = TokenCache::new(source(&server), MemoryStore::with_tokens(first));
    let jira = gouqi::r#async::Jira::new(server.uri(), gouqi::Credentials::from(cache)).unwrap();

    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_millis(500));
    let mut failed = Vec::new();
    for _ in 0..20 {
        ticks.tick().await;
        if let Err(e) = jira.issues().get("ED-1").await {
            failed.push(e.to_string());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let refreshes = endpoint.state.lock().refreshes;
    let rejected = rejected.load(Ordering::SeqCst);
    eprintln!(
        "20 calls in {elapsed:.1} s: {} failed, {refreshes} refreshes, {rejected} answered 401",
        failed.len()
    );
    assert!(failed.is_empty(), "{failed:#?}");
    let expected = elapsed / LIFETIME as f64;
    assert!(
        (refreshes as f64 - expected).abs() <= 1.0,
        "{refreshes} refreshes, expected {expected:.1}"
    );
    assert!(rejected <= 2, "{rejected} requests answered 401");
    assert_eq!(served.load(Ordering::SeqCst), 20);
}
