//! Cost of `gouqi::Credentials::OAuth` (a `TokenCache` as gouqi's token
//! provider, on the patched gouqi; feature `gouqi-provider`) against
//! `gouqi::Credentials::Bearer`, one GET each, against the same local server:
//! criterion timings, then interleaved rounds that print the per-request
//! ratio, for the async and the blocking client. Each round times both
//! sides back to back (alternating which goes first); the ratio reported is
//! the median of the per-round ratios, which a burst of load from other
//! processes on a shared machine moves far less than a ratio of sums.
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
const ROUNDS: u32 = 200;
const PER_ROUND: u32 = 25;

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

/// Per-round timings of both sides.
#[derive(Default)]
struct Rounds {
    base: Vec<Duration>,
    ours: Vec<Duration>,
}

impl Rounds {
    fn report(&self, label: &str) {
        let n = ROUNDS * PER_ROUND;
        let (base, ours): (Duration, Duration) = (self.base.iter().sum(), self.ours.iter().sum());
        let mut ratios: Vec<f64> = self
            .base
            .iter()
            .zip(&self.ours)
            .map(|(b, o)| o.as_secs_f64() / b.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "{label}: per request Bearer {:?}, OAuth provider {:?}; \
             median per-round ratio {:.3}x (ratio of totals {:.3}x, {ROUNDS} rounds of {PER_ROUND})",
            base / n,
            ours / n,
            ratios[ratios.len() / 2],
            ours.as_secs_f64() / base.as_secs_f64()
        );
    }
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
    let mut rounds = Rounds::default();
    runtime.block_on(async {
        for round in 0..ROUNDS {
            // Alternate which side goes first, so order effects cancel out.
            if round % 2 == 0 {
                rounds.base.push(async_round(&bearer).await);
                rounds.ours.push(async_round(&oauth).await);
            } else {
                rounds.ours.push(async_round(&oauth).await);
                rounds.base.push(async_round(&bearer).await);
            }
        }
    });
    rounds.report("async client");
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

    let mut rounds = Rounds::default();
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            rounds.base.push(blocking_round(&bearer));
            rounds.ours.push(blocking_round(&oauth));
        } else {
            rounds.ours.push(blocking_round(&oauth));
            rounds.base.push(blocking_round(&bearer));
        }
    }
    rounds.report("blocking client");
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
