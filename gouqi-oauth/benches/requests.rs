//! Cost of the OAuth request path, against the same local server:
//!
//! 1. one GET through `gouqi_oauth::r#async::Jira` (OAuth, cached token) vs
//!    plain `gouqi::r#async::Jira` with a static bearer: criterion timings,
//!    then an interleaved run that prints the ratio;
//! 2. 1000 concurrent requests that all get 401: token-endpoint calls (must
//!    be 1) and the time until all 1000 have succeeded.

use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use gouqi_oauth::r#async::Jira;
use gouqi_oauth::{
    AccessToken, ClientId, MemoryStore, RefreshToken, TokenCache, TokenSet, TokenSource, TokenUrl,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUE: &str = include_str!("../../fixtures/jira/issue.json");

fn tokens(access: &str) -> TokenSet {
    let obtained_at = SystemTime::now() - Duration::from_secs(600);
    TokenSet {
        access_token: AccessToken::new(access.into()),
        refresh_token: Some(RefreshToken::new("refresh-0".into())),
        expires_at: Some(obtained_at + Duration::from_secs(3600)),
        obtained_at,
        scopes: vec![],
        site: None,
    }
}

fn oauth_client(server: &MockServer, access: &str) -> Jira {
    let source = TokenSource::new(
        ClientId::new("bench".into()),
        TokenUrl::new(format!("{}/oauth/token", server.uri())).unwrap(),
    )
    .unwrap();
    let cache = TokenCache::new(source, MemoryStore::with_tokens(tokens(access)));
    Jira::new(server.uri(), cache).unwrap()
}

async fn issue_server() -> MockServer {
    // Unrecorded, so the server does not slow down as requests pile up.
    let server = MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/latest/issue/ED-1"))
        .and(header("authorization", "Bearer access-0"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(ISSUE, "application/json"))
        .mount(&server)
        .await;
    server
}

fn per_request(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(issue_server());
    let oauth = oauth_client(&server, "access-0");
    let plain =
        gouqi::r#async::Jira::new(server.uri(), gouqi::Credentials::Bearer("access-0".into()))
            .unwrap();

    let mut group = c.benchmark_group("get_issue");
    group.bench_function("gouqi_static_bearer", |b| {
        b.to_async(&runtime)
            .iter(|| async { plain.issues().get("ED-1").await.unwrap() })
    });
    group.bench_function("gouqi_oauth_call", |b| {
        b.to_async(&runtime).iter(|| async {
            oauth
                .call(|j| async move { j.issues().get("ED-1").await })
                .await
                .unwrap()
        })
    });
    group.finish();

    // Interleaved rounds, so drift on a shared machine hits both sides alike.
    let (mut base, mut ours) = (Duration::ZERO, Duration::ZERO);
    runtime.block_on(async {
        for round in 0..20 {
            // Alternate which side goes first, so order effects cancel out.
            if round % 2 == 0 {
                base += plain_round(&plain).await;
                ours += oauth_round(&oauth).await;
            } else {
                ours += oauth_round(&oauth).await;
                base += plain_round(&plain).await;
            }
        }
    });
    println!(
        "per request: gouqi {:?}, gouqi-oauth {:?}, ratio {:.3}x",
        base / 4000,
        ours / 4000,
        ours.as_secs_f64() / base.as_secs_f64()
    );
}

async fn plain_round(jira: &gouqi::r#async::Jira) -> Duration {
    let start = Instant::now();
    for _ in 0..200 {
        jira.issues().get("ED-1").await.unwrap();
    }
    start.elapsed()
}

async fn oauth_round(jira: &Jira) -> Duration {
    let start = Instant::now();
    for _ in 0..200 {
        jira.call(|j| async move { j.issues().get("ED-1").await })
            .await
            .unwrap();
    }
    start.elapsed()
}

fn thundering_401(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("concurrent_401");
    group.sample_size(10);
    group.bench_function("1000_requests_one_refresh", |b| {
        b.iter_custom(|rounds| {
            let mut total = Duration::ZERO;
            for _ in 0..rounds {
                let (elapsed, refreshes) = runtime.block_on(drain_1000());
                assert_eq!(refreshes, 1, "the token endpoint must be hit exactly once");
                total += elapsed;
            }
            total
        })
    });
    group.finish();
    let (elapsed, refreshes) = runtime.block_on(drain_1000());
    println!("1000 concurrent 401s: {refreshes} token-endpoint call(s), drained in {elapsed:?}");
}

/// 1000 requests with a revoked token, at once; returns the time until all
/// succeeded and the number of token requests.
async fn drain_1000() -> (Duration, usize) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "access-1", "refresh_token": "refresh-1",
            "expires_in": 3600, "token_type": "Bearer"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer access-0"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(ISSUE, "application/json"))
        .mount(&server)
        .await;
    let jira = oauth_client(&server, "access-0");
    let start = Instant::now();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let jira = jira.clone();
            tokio::spawn(async move { jira.get::<gouqi::Issue>("api", "/issue/ED-1").await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let elapsed = start.elapsed();
    let requests = server.received_requests().await.unwrap_or_default();
    let refreshes = requests
        .iter()
        .filter(|r| r.url.path() == "/oauth/token")
        .count();
    (elapsed, refreshes)
}

criterion_group!(benches, per_request, thundering_401);
criterion_main!(benches);
