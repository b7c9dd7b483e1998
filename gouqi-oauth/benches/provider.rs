//! Cost of `gouqi::Credentials::OAuth` (a `TokenCache` as gouqi's token
//! provider, on the patched gouqi; feature `gouqi-provider`) against
//! `gouqi::Credentials::Bearer`, one GET each, against the same local server:
//! criterion timings, then interleaved rounds that print the per-request
//! ratio, for the async and the blocking client.
//!
//! ```sh
//! upstream/gouqi/apply
//! cargo bench --config 'patch.crates-io.gouqi.path="target/gouqi-fork"' \
//!     -p gouqi-oauth --features gouqi-provider --bench provider
//! ```

use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use gouqi_oauth::{
    AccessToken, ClientId, MemoryStore, RefreshToken, TokenCache, TokenSet, TokenSource, TokenUrl,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUE: &str = include_str!("../../fixtures/jira/issue.json");
const ROUNDS: u32 = 20;
const PER_ROUND: u32 = 200;

fn cache(server: &MockServer) -> TokenCache {
    let obtained_at = SystemTime::now() - Duration::from_secs(600);
    let tokens = TokenSet {
        access_token: AccessToken::new("access-0".into()),
        refresh_token: Some(RefreshToken::new("refresh-0".into())),
        expires_at: Some(obtained_at + Duration::from_secs(3600)),
        obtained_at,
        scopes: vec![],
        site: None,
    };
    let source = TokenSource::new(
        ClientId::new("bench".into()),
        TokenUrl::new(format!("{}/oauth/token", server.uri())).unwrap(),
    )
    .unwrap();
    TokenCache::new(source, MemoryStore::with_tokens(tokens))
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

fn ratio(label: &str, base: Duration, ours: Duration) {
    let n = ROUNDS * PER_ROUND;
    println!(
        "{label}: per request Bearer {:?}, OAuth provider {:?}, ratio {:.3}x",
        base / n,
        ours / n,
        ours.as_secs_f64() / base.as_secs_f64()
    );
}

fn async_client(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(issue_server());
    let oauth =
        gouqi::r#async::Jira::new(server.uri(), gouqi::Credentials::from(cache(&server))).unwrap();
    let bearer =
        gouqi::r#async::Jira::new(server.uri(), gouqi::Credentials::Bearer("access-0".into()))
            .unwrap();

    let mut group = c.benchmark_group("provider_async_get_issue");
    group.bench_function("credentials_bearer", |b| {
        b.to_async(&runtime)
            .iter(|| async { bearer.issues().get("ED-1").await.unwrap() })
    });
    group.bench_function("credentials_oauth", |b| {
        b.to_async(&runtime)
            .iter(|| async { oauth.issues().get("ED-1").await.unwrap() })
    });
    group.finish();

    // Interleaved rounds, so drift on a shared machine hits both sides alike.
    let (mut base, mut ours) = (Duration::ZERO, Duration::ZERO);
    runtime.block_on(async {
        for round in 0..ROUNDS {
            // Alternate which side goes first, so order effects cancel out.
            if round % 2 == 0 {
                base += async_round(&bearer).await;
                ours += async_round(&oauth).await;
            } else {
                ours += async_round(&oauth).await;
                base += async_round(&bearer).await;
            }
        }
    });
    ratio("async client", base, ours);
}

async fn async_round(jira: &gouqi::r#async::Jira) -> Duration {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        jira.issues().get("ED-1").await.unwrap();
    }
    start.elapsed()
}

fn blocking_client(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(issue_server());
    let oauth = gouqi::Jira::new(server.uri(), gouqi::Credentials::from(cache(&server))).unwrap();
    let bearer =
        gouqi::Jira::new(server.uri(), gouqi::Credentials::Bearer("access-0".into())).unwrap();

    let mut group = c.benchmark_group("provider_blocking_get_issue");
    group.bench_function("credentials_bearer", |b| {
        b.iter(|| bearer.issues().get("ED-1").unwrap())
    });
    group.bench_function("credentials_oauth", |b| {
        b.iter(|| oauth.issues().get("ED-1").unwrap())
    });
    group.finish();

    let (mut base, mut ours) = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            base += blocking_round(&bearer);
            ours += blocking_round(&oauth);
        } else {
            ours += blocking_round(&oauth);
            base += blocking_round(&bearer);
        }
    }
    ratio("blocking client", base, ours);
    drop(runtime);
}

fn blocking_round(jira: &gouqi::Jira) -> Duration {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        jira.issues().get("ED-1").unwrap();
    }
    start.elapsed()
}

criterion_group!(benches, async_client, blocking_client);
criterion_main!(benches);
