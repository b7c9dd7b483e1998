//! Proactive and reactive refresh through the async client.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use gouqi_oauth::r#async::Jira;
use gouqi_oauth::{Error, MemoryStore, TokenCache, TokenStore};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn client(server: &MockServer, store: MemoryStore) -> Jira {
    let cache = TokenCache::new(source(server), store);
    Jira::new(server.uri(), cache).unwrap()
}

#[tokio::test]
async fn token_inside_the_skew_window_is_refreshed_before_the_request() {
    let server = MockServer::start().await;
    token_post()
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=refresh-0"))
        .and(body_string_contains("client_secret="))
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    issue_ok("access-1").expect(2).mount(&server).await;
    let store = MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0"));
    let jira = client(&server, store.clone()).await;

    let issue: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();
    assert_eq!(issue.key, "ED-1");
    // The second request reuses the new token: no second refresh.
    let _: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();

    let saved = store.load().unwrap().unwrap();
    assert_eq!(saved.access_token.secret(), "access-1");
    assert_eq!(saved.refresh_token.unwrap().secret(), "refresh-1");
}

#[tokio::test]
async fn expiry_counts_from_when_the_request_was_sent() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(
            token_ok(token_json("token/refresh.json", "access-1", "refresh-1"))
                .set_delay(std::time::Duration::from_millis(1500)),
        )
        .mount(&server)
        .await;
    let store = MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0"));
    let cache = TokenCache::new(source(&server), store);
    let before = std::time::SystemTime::now();
    let token = cache.token().await.unwrap();
    let expires_at = token.tokens().expires_at.unwrap();
    let counted_from = expires_at - std::time::Duration::from_secs(3600);
    // Counted from the send, not from the (1.5 s later) answer.
    assert!(counted_from >= before - std::time::Duration::from_secs(1));
    assert!(counted_from < before + std::time::Duration::from_millis(1000));
}

#[tokio::test]
async fn two_hundred_concurrent_401s_share_one_refresh() {
    let server = MockServer::start().await;
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
    issue_ok("access-1").expect(200).mount(&server).await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0")),
    )
    .await;

    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let jira = jira.clone();
            tokio::spawn(async move { jira.get::<gouqi::Issue>("api", "/issue/ED-1").await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        task.await.unwrap().unwrap();
        ok += 1;
    }
    assert_eq!(ok, 200);
}

/// One request with `verb` meets a 401, then succeeds after one refresh.
async fn retried_once_after_401(verb: &str) {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let issue = || Mock::given(method(verb)).and(path("/rest/api/latest/issue"));
    issue()
        .and(header("authorization", "Bearer access-0"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    issue()
        .and(header("authorization", "Bearer access-1"))
        .and(body_string_contains("\"summary\":\"Retry me\""))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": "10002", "key": "ED-1"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0")),
    )
    .await;
    let body = serde_json::json!({"fields": {"summary": "Retry me"}});
    let answer: serde_json::Value = match verb {
        "POST" => jira.post("api", "/issue", &body).await,
        _ => jira.put("api", "/issue", &body).await,
    }
    .unwrap();
    assert_eq!(answer["key"], "ED-1");
}

#[tokio::test]
async fn post_is_retried_once_after_401() {
    retried_once_after_401("POST").await;
}

#[tokio::test]
async fn put_is_retried_once_after_401() {
    retried_once_after_401("PUT").await;
}

#[tokio::test]
async fn a_401_after_the_refresh_is_returned_without_a_second_rotation() {
    let server = MockServer::start().await;
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
    let jira = client(
        &server,
        MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0")),
    )
    .await;

    let err = jira
        .get::<gouqi::Issue>("api", "/issue/ED-1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Jira(gouqi::Error::Unauthorized)),
        "{err}"
    );
}

/// Jira rejects a token minted moments ago by a proactive refresh: that is
/// still worth one refresh (the grant may have been revoked).
#[tokio::test]
async fn a_401_on_a_freshly_minted_token_gets_one_refresh() {
    let server = MockServer::start().await;
    token_post()
        .and(body_string_contains("refresh_token=refresh-0"))
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    token_post()
        .and(body_string_contains("refresh_token=refresh-1"))
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-2",
            "refresh-2",
        )))
        .expect(1)
        .mount(&server)
        .await;
    issue_unauthorized("access-1")
        .expect(1)
        .mount(&server)
        .await;
    issue_ok("access-2").expect(1).mount(&server).await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0")),
    )
    .await;
    let issue: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();
    assert_eq!(issue.key, "ED-1");
}

/// The token response of `refresh.json`, stating `expires_in`.
fn lasting(expires_in: u64, access: &str, refresh: &str) -> serde_json::Value {
    let mut body = token_json("token/refresh.json", access, refresh);
    body["expires_in"] = expires_in.into();
    body
}

/// A revoked grant behind a fresh token surfaces as "log in again", not as
/// a scope problem: for an hour's token and for a short one.
#[tokio::test]
async fn a_revoked_grant_behind_a_fresh_token_asks_for_a_new_login() {
    for expires_in in [3600, 8] {
        revoked_right_after_minting(expires_in).await;
    }
}

async fn revoked_right_after_minting(expires_in: u64) {
    let server = MockServer::start().await;
    token_post()
        .and(body_string_contains("refresh_token=refresh-0"))
        .respond_with(token_ok(lasting(expires_in, "access-1", "refresh-1")))
        .expect(1)
        .mount(&server)
        .await;
    token_post()
        .and(body_string_contains("refresh_token=refresh-1"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(fixture("token/invalid-grant.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    issue_unauthorized("access-1")
        .expect(1)
        .mount(&server)
        .await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0")),
    )
    .await;
    let err = jira
        .get::<gouqi::Issue>("api", "/issue/ED-1")
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{expires_in} s: {err}");
    let text = err.to_string();
    assert!(
        text.contains("run the authorization flow again") && !text.contains("jira-mcp"),
        "{expires_in} s: {text}"
    );
}

/// A token minted because of a 401, rejected again well before its stated
/// expiry: refreshing once more would only burn a rotation, so the
/// diagnosis is returned instead. For an hour's token and for a short one.
#[tokio::test]
async fn a_401_on_a_token_minted_after_a_401_is_not_refreshed_again() {
    for expires_in in [3600, 8] {
        rejected_again_while_fresh(expires_in).await;
    }
}

async fn rejected_again_while_fresh(expires_in: u64) {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_ok(lasting(expires_in, "access-1", "refresh-1")))
        .expect(1)
        .mount(&server)
        .await;
    issue_unauthorized("access-0")
        .expect(1)
        .mount(&server)
        .await;
    issue_unauthorized("access-1")
        .expect(2)
        .mount(&server)
        .await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0")),
    )
    .await;
    // First call: 401, one refresh, 401 again.
    let first = jira.get::<gouqi::Issue>("api", "/issue/ED-1").await;
    assert!(matches!(
        first,
        Err(Error::Jira(gouqi::Error::Unauthorized))
    ));
    // Second call: 401 on the fresh token: no second rotation.
    let err = jira
        .get::<gouqi::Issue>("api", "/issue/ED-1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::FreshTokenRejected),
        "{expires_in} s: {err}"
    );
    assert!(err.to_string().contains("scopes"), "{err}");
}

/// `expires_in: 0` must not make every request refresh.
#[tokio::test]
async fn a_zero_expires_in_does_not_refresh_on_every_request() {
    let server = MockServer::start().await;
    let mut body = token_json("token/refresh.json", "access-1", "refresh-1");
    body["expires_in"] = serde_json::json!(0);
    token_post()
        .respond_with(token_ok(body))
        .expect(1)
        .mount(&server)
        .await;
    issue_ok("access-1").expect(5).mount(&server).await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0")),
    )
    .await;
    for _ in 0..5 {
        let _: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();
    }
}

/// What one client saw in a minute of calls against tokens of one lifetime.
#[derive(Debug)]
struct Lane {
    expires_in: u64,
    calls: usize,
    failed: usize,
    first_failure: Option<String>,
    refreshes: usize,
    /// Requests Jira answered 401 (each one retried after a refresh).
    rejected: usize,
    elapsed: Duration,
}

/// `calls` calls, one per `period`, through a client whose token endpoint
/// states `expires_in` for tokens that really live `lifetime`. The client
/// starts with `access-0`, minted just now (or, when `expired`, long dead).
async fn run_lane(
    expires_in: u64,
    lifetime: Duration,
    expired: bool,
    calls: usize,
    period: Duration,
) -> Lane {
    let server = MockServer::start().await;
    let endpoint = RotatingEndpoint::with_lifetime(expires_in, lifetime);
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
    let first = if expired {
        endpoint.state.lock().expires = Instant::now();
        tokens_aged(
            "access-0",
            Some("refresh-0"),
            Duration::from_secs(600),
            Duration::from_secs(300),
        )
    } else {
        tokens_aged(
            "access-0",
            Some("refresh-0"),
            Duration::ZERO,
            Duration::from_secs(expires_in),
        )
    };
    let jira = client(&server, MemoryStore::with_tokens(first)).await;

    let started = Instant::now();
    let mut ticks = tokio::time::interval(period);
    let (mut failed, mut first_failure) = (0, None);
    for _ in 0..calls {
        ticks.tick().await;
        if let Err(e) = jira.get::<gouqi::Issue>("api", "/issue/ED-1").await {
            failed += 1;
            first_failure.get_or_insert_with(|| e.to_string());
        }
    }
    let elapsed = started.elapsed();
    let state = endpoint.state.lock();
    assert_eq!(state.invalid_grants, 0, "a refresh token was replayed");
    Lane {
        expires_in,
        calls,
        failed,
        first_failure,
        refreshes: state.refreshes,
        rejected: rejected.load(Ordering::SeqCst),
        elapsed,
    }
}

/// Issue 23: tokens shorter than 30 s (test environments, some Data Center
/// and identity-provider setups) are used only until their stated expiry,
/// refreshed about once per lifetime, and a 401 on one past its expiry is
/// refreshed, whatever its age. A minute of calls at 2 per second for each
/// lifetime, all lifetimes at once; plus `expires_in: 0`, which must not
/// make every call refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_token_lifetimes_are_honoured_for_a_minute_of_calls() {
    const CALLS: usize = 120;
    const PERIOD: Duration = Duration::from_millis(500);
    let mut runs: Vec<_> = [2, 5, 8, 29]
        .map(|secs| {
            tokio::spawn(run_lane(
                secs,
                Duration::from_secs(secs),
                false,
                CALLS,
                PERIOD,
            ))
        })
        .into_iter()
        .collect();
    // `expires_in: 0` for tokens that in fact live on: the first call
    // refreshes the dead `access-0`, and no call after it refreshes.
    runs.push(tokio::spawn(run_lane(
        0,
        Duration::from_secs(3600),
        true,
        CALLS,
        PERIOD,
    )));
    let mut lanes = Vec::new();
    for run in runs {
        lanes.push(run.await.unwrap());
    }
    for lane in &lanes {
        eprintln!(
            "expires_in {:>2} s: {} calls in {:.1} s, {} failed, {} refreshes (elapsed/lifetime {:.1}), {} answered 401{}",
            lane.expires_in,
            lane.calls,
            lane.elapsed.as_secs_f64(),
            lane.failed,
            lane.refreshes,
            if lane.expires_in == 0 {
                0.0
            } else {
                lane.elapsed.as_secs_f64() / lane.expires_in as f64
            },
            lane.rejected,
            lane.first_failure
                .as_deref()
                .map(|e| format!("; first failure: {e}"))
                .unwrap_or_default(),
        );
    }
    for lane in &lanes {
        assert_eq!(lane.failed, 0, "{lane:?}");
        // Never sent past its expiry (0 in quiet runs; a little slack for a
        // call that a loaded machine holds up across the refresh margin).
        assert!(lane.rejected <= 2, "{lane:?}");
        if lane.expires_in == 0 {
            assert_eq!(lane.refreshes, 1, "{lane:?}");
        } else {
            let expected = lane.elapsed.as_secs_f64() / lane.expires_in as f64;
            assert!(
                (lane.refreshes as f64 - expected).abs() <= 1.0,
                "{} refreshes, expected {expected:.1}: {lane:?}",
                lane.refreshes
            );
        }
    }
}

#[tokio::test]
async fn a_response_without_refresh_token_keeps_the_old_one() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh-without-refresh-token.json",
            "access-1",
            "",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let store = MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0"));
    let cache = TokenCache::new(source(&server), store.clone());
    cache.token().await.unwrap();
    let saved = store.load().unwrap().unwrap();
    assert_eq!(saved.access_token.secret(), "access-1");
    assert_eq!(saved.refresh_token.unwrap().secret(), "refresh-0");
}

#[tokio::test]
async fn the_new_token_set_is_persisted_before_jira_sees_the_new_token() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .mount(&server)
        .await;
    let store = Arc::new(MemoryStore::with_tokens(expiring_tokens(
        "access-0",
        "refresh-0",
    )));
    // Jira checks the store at the moment the new token arrives.
    let seen = store.clone();
    Mock::given(method("GET"))
        .and(path(issue_path()))
        .respond_with(move |_req: &wiremock::Request| {
            let stored = seen.load().unwrap().unwrap();
            if stored.access_token.secret() == "access-1" {
                ResponseTemplate::new(200)
                    .set_body_raw(fixture("jira/issue.json"), "application/json")
            } else {
                ResponseTemplate::new(500)
            }
        })
        .expect(1)
        .mount(&server)
        .await;
    let cache = TokenCache::with_store(source(&server), store);
    let jira = Jira::new(server.uri(), cache).unwrap();
    let _: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();
}

#[tokio::test]
async fn typed_accessors_carry_the_token_and_call_wraps_them_with_retry() {
    let server = MockServer::start().await;
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
    issue_ok("access-1").expect(2).mount(&server).await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0")),
    )
    .await;

    let issue = jira
        .call(|j| async move { j.issues().get("ED-1").await })
        .await
        .unwrap();
    assert_eq!(issue.key, "ED-1");
    // After the refresh, the plain accessor uses the new token too.
    let issue = jira.issues().get("ED-1").await.unwrap();
    assert_eq!(issue.key, "ED-1");
}

#[tokio::test]
async fn static_bearer_is_sent_as_a_header_and_never_refreshed() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    issue_ok("static-token").expect(1).mount(&server).await;
    let jira = Jira::new(
        server.uri(),
        gouqi::Credentials::Bearer("static-token".into()),
    )
    .unwrap();
    let issue = jira.issues().get("ED-1").await.unwrap();
    assert_eq!(issue.key, "ED-1");
}

fn client_credentials(server: &MockServer, store: MemoryStore) -> Jira {
    let source = source(server).grant(gouqi_oauth::Grant::ClientCredentials);
    Jira::new(server.uri(), TokenCache::new(source, store)).unwrap()
}

#[tokio::test]
async fn client_credentials_mint_a_token_on_first_use() {
    let server = MockServer::start().await;
    token_post()
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=client-id"))
        .respond_with(token_ok(token_json(
            "token/client-credentials.json",
            "cc-1",
            "",
        )))
        .expect(1)
        .mount(&server)
        .await;
    issue_ok("cc-1").expect(2).mount(&server).await;
    let jira = client_credentials(&server, MemoryStore::new());
    for _ in 0..2 {
        let _: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();
    }
}

#[tokio::test]
async fn client_credentials_mint_again_after_401() {
    let server = MockServer::start().await;
    token_post()
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(token_ok(token_json(
            "token/client-credentials.json",
            "cc-1",
            "",
        )))
        .expect(1)
        .mount(&server)
        .await;
    issue_unauthorized("cc-0").expect(1).mount(&server).await;
    issue_ok("cc-1").expect(1).mount(&server).await;
    let old = tokens_aged(
        "cc-0",
        None,
        Duration::from_secs(600),
        Duration::from_secs(3600),
    );
    let jira = client_credentials(&server, MemoryStore::with_tokens(old));
    let _: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();
}

#[tokio::test]
async fn not_logged_in_is_an_actionable_error() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let jira = client(&server, MemoryStore::new()).await;
    let err = jira
        .get::<gouqi::Issue>("api", "/issue/ED-1")
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("not logged in") && text.contains("Run the authorization flow first"),
        "{text}"
    );
}

#[tokio::test]
async fn a_new_async_client_uses_the_stored_token_in_its_typed_accessors() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    issue_ok("access-0").expect(1).mount(&server).await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0")),
    )
    .await;
    assert_eq!(jira.issues().get("ED-1").await.unwrap().key, "ED-1");
}

#[tokio::test]
async fn typed_accessors_find_a_token_refreshed_in_the_background_ahead_of_expiry() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    issue_ok("access-0").expect(1).mount(&server).await;
    issue_ok("access-1").expect(1).mount(&server).await;
    // Lives 60 s and is 53 s old, so the refresh-ahead point (5 s, a
    // twelfth of the lifetime, before expiry) is ~2 s away.
    let short = tokens_aged(
        "access-0",
        Some("refresh-0"),
        Duration::from_secs(53),
        Duration::from_secs(60),
    );
    let jira = client(&server, MemoryStore::with_tokens(short)).await;

    jira.issues().get("ED-1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    jira.issues().get("ED-1").await.unwrap();
}

#[tokio::test]
async fn raw_send_refreshes_once_after_401_and_returns_status_and_headers() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(header("authorization", "Bearer access-0"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .and(header("authorization", "Bearer access-1"))
        .and(body_string_contains("project = ED"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .expect(1)
        .mount(&server)
        .await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0")),
    )
    .await;
    let body = serde_json::json!({"jql": "project = ED"});
    let response = jira
        .send(
            reqwest::Method::POST,
            "rest/api/3/search/jql",
            &[],
            Some(&body),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 429);
    assert_eq!(response.headers["retry-after"], "7");
}

#[tokio::test]
async fn scope_does_not_match_is_not_refreshed() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(fixture("jira/unauthorized.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let jira = client(
        &server,
        MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0")),
    )
    .await;
    let response = jira
        .send(
            reqwest::Method::GET,
            "/rest/api/3/myself",
            &[("expand", "groups")],
            None,
        )
        .await
        .unwrap();
    assert!(response.is_scope_mismatch());
}

/// A store whose next save fails (a full disk, say).
#[derive(Debug, Clone, Default)]
struct FlakyStore {
    inner: MemoryStore,
    fail_next_save: Arc<std::sync::atomic::AtomicBool>,
}

impl TokenStore for FlakyStore {
    fn load(&self) -> Result<Option<gouqi_oauth::TokenSet>, gouqi_oauth::StoreError> {
        self.inner.load()
    }
    fn save(&self, tokens: &gouqi_oauth::TokenSet) -> Result<(), gouqi_oauth::StoreError> {
        if self
            .fail_next_save
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(gouqi_oauth::StoreError::Backend {
                backend: "test",
                message: "disk full".into(),
            });
        }
        self.inner.save(tokens)
    }
    fn clear(&self) -> Result<bool, gouqi_oauth::StoreError> {
        self.inner.clear()
    }
    fn lock(&self) -> Result<gouqi_oauth::StoreLock, gouqi_oauth::StoreError> {
        self.inner.lock()
    }
    fn location(&self) -> String {
        "the flaky test store".into()
    }
}

/// A refreshed set that could not be saved is saved later, but never over a
/// login that happened meanwhile.
#[tokio::test]
async fn an_unsaved_refresh_never_overwrites_a_newer_login() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let store = FlakyStore {
        inner: MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0")),
        ..FlakyStore::default()
    };
    store
        .fail_next_save
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let cache = TokenCache::new(source(&server), store.clone());
    assert!(cache.token().await.is_err(), "the save failure was hidden");

    // Another process logs in with a new grant.
    store
        .replace(&valid_tokens("login-access", "login-refresh"))
        .unwrap();
    let token = cache.token().await.unwrap();
    assert_eq!(token.tokens().access_token.secret(), "login-access");
    let stored = store.load().unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "login-refresh");
}

/// Without a new login, the unsaved set is saved on the next use.
#[tokio::test]
async fn an_unsaved_refresh_is_saved_on_the_next_use() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let store = FlakyStore {
        inner: MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0")),
        ..FlakyStore::default()
    };
    store
        .fail_next_save
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let cache = TokenCache::new(source(&server), store.clone());
    assert!(cache.token().await.is_err());
    let token = cache.token().await.unwrap();
    assert_eq!(token.tokens().access_token.secret(), "access-1");
    let stored = store.load().unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "refresh-1");
}

/// A service account must never act on a user's stored login.
#[tokio::test]
async fn client_credentials_refuse_a_stored_user_login() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    issue_ok("user-access").expect(0).mount(&server).await;
    let store = MemoryStore::with_tokens(valid_tokens("user-access", "user-refresh"));
    let source = source(&server).grant(gouqi_oauth::Grant::ClientCredentials);
    let cache = TokenCache::new(source, store.clone());
    let err = cache.token().await.unwrap_err();
    assert!(
        matches!(err, gouqi_oauth::Error::StoreHoldsUserLogin { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("token store of its own"), "{err}");
    // The client refuses at construction, before any request.
    let err = Jira::new(server.uri(), cache).unwrap_err();
    assert!(err.to_string().contains("token store of its own"), "{err}");
    assert_eq!(
        store.load().unwrap().unwrap().access_token.secret(),
        "user-access"
    );
}
