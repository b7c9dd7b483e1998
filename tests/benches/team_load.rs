//! The team server under load (issue 11's benchmark): many concurrent MCP
//! sessions calling `get_issue` against a local stub Jira, measured beside a
//! direct-HTTP baseline (the same number of clients calling the stub's
//! `get_issue` endpoint themselves) in the same run; and the server's RSS per
//! idle session.
//!
//! ```sh
//! cargo build --release -p jira-mcp
//! cargo bench -p e2e-tests --bench team_load
//! ```
//!
//! Settings (environment): `BENCH_USERS` (100), `BENCH_SESSIONS` (100, spread
//! over the users), `BENCH_SECS` (10 per measurement). Targets from the
//! issue: ≥ 2,000 calls/s, p99 ≤ 25 ms, ≤ 64 KiB per idle session.
//!
//! The stub: `GET …/rest/api/3/issue/{key}` is answered from the recorded
//! fixture at once (no token check beyond a bearer being present); every
//! other request (OAuth, accessible resources, `myself`) goes on to the
//! simulated Atlassian, so the authorization chain is the real one.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e_tests::binary;
use e2e_tests::sim::{CLOUD_ID, Options, Simulator};
use e2e_tests::team::{McpTokens, SCOPES, TeamOptions, TeamServer, http_client};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::json;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The stub Jira: the issue from the fixture, everything else forwarded to
/// the simulator.
struct Stub {
    issue: Bytes,
    sim: String,
    http: reqwest::Client,
}

impl Stub {
    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let issue_prefix = format!("/ex/jira/{CLOUD_ID}/rest/api/3/issue/");
        let has_bearer = request
            .headers()
            .get("authorization")
            .is_some_and(|v| v.as_bytes().starts_with(b"Bearer "));
        let is_issue = request.method() == hyper::Method::GET
            && path
                .strip_prefix(&issue_prefix)
                .is_some_and(|key| !key.is_empty() && !key.contains('/'));
        if is_issue && has_bearer {
            return json_response(200, self.issue.clone());
        }
        self.forward(request).await
    }

    async fn forward(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let target = format!(
            "{}{}",
            self.sim,
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        );
        let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
            .unwrap_or(reqwest::Method::GET);
        let mut forwarded = self.http.request(method, target).body(body);
        for name in ["authorization", "content-type", "accept"] {
            if let Some(value) = parts.headers.get(name).and_then(|v| v.to_str().ok()) {
                forwarded = forwarded.header(name, value);
            }
        }
        match forwarded.send().await {
            Ok(answer) => {
                let status = answer.status().as_u16();
                json_response(status, answer.bytes().await.unwrap_or_default())
            }
            Err(e) => json_response(
                502,
                Bytes::from(json!({"error": e.to_string()}).to_string()),
            ),
        }
    }
}

fn json_response(status: u16, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Serves the stub on a free loopback port; returns its base URL.
async fn start_stub(sim: &Simulator) -> String {
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/jira/issue-full.json"
    ))
    .expect("the issue fixture");
    let stub = Arc::new(Stub {
        issue: Bytes::from(fixture),
        sim: sim.uri(),
        http: http_client(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the stub");
    let addr: SocketAddr = listener.local_addr().expect("the stub's address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let stub = stub.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let stub = stub.clone();
                    async move { Ok::<_, Infallible>(stub.handle(request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// What one measurement saw.
struct Measured {
    calls: usize,
    failures: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let index =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[index].as_secs_f64() * 1000.0
    }
}

/// Runs `clients` loops of `call` for `duration`; collects latencies of the
/// successful calls.
async fn measure<F, Fut>(clients: usize, duration: Duration, call: F) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut failures) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let began = Instant::now();
                if call(client).await {
                    latencies.push(began.elapsed());
                } else {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    let mut measured = Measured {
        calls: 0,
        failures: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (latencies, failures) = task.await.expect("a client task panicked");
        measured.latencies.extend(latencies);
        measured.failures += failures;
    }
    measured.elapsed = start.elapsed();
    measured.calls = measured.latencies.len();
    measured.latencies.sort_unstable();
    measured
}

/// The process's resident set size in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it with no
    // arguments: only the former measures.
    if !std::env::args().any(|a| a == "--bench") {
        println!("team_load: run with `cargo bench -p e2e-tests --bench team_load`");
        return;
    }
    if binary::locate().is_none() {
        eprintln!(
            "team_load: no jira-mcp next to this benchmark: run `cargo build --release -p jira-mcp` first"
        );
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let users = setting("BENCH_USERS", 100).max(1);
    let sessions = setting("BENCH_SESSIONS", 100).max(1);
    let duration = Duration::from_secs(setting("BENCH_SECS", 10) as u64);

    let sim = Simulator::start(Options::default()).await;
    let stub = start_stub(&sim).await;
    let server = TeamServer::start(
        &sim,
        TeamOptions {
            log: Some("warn".into()),
            env: vec![("JIRA_OAUTH_API_URL".into(), stub.clone())],
            ..TeamOptions::default()
        },
    )
    .await;
    let pid = server.pid().expect("the server's pid");

    eprintln!("authorizing {users} users…");
    let mut tokens: Vec<McpTokens> = Vec::new();
    for i in 0..users {
        tokens.push(server.authorize(&format!("bench{i:03}"), SCOPES).await);
    }
    // Warm the path once per user (each user's Jira client is made on first use).
    for t in &tokens {
        let session = server.session(t).await;
        let _ = session
            .call_tool("get_issue", json!({"issue_key": "ED-1"}))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib(pid);

    eprintln!("opening {sessions} MCP sessions…");
    let mut open = Vec::new();
    for i in 0..sessions {
        open.push(Arc::new(server.session(&tokens[i % users]).await));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = rss_kib(pid);

    eprintln!("direct HTTP baseline: {sessions} clients for {duration:?}…");
    let http = http_client();
    let issue_url = format!("{stub}/ex/jira/{CLOUD_ID}/rest/api/3/issue/ED-1");
    let direct = measure(sessions, duration, move |_| {
        let (http, url) = (http.clone(), issue_url.clone());
        async move {
            match http.get(url).bearer_auth("bench").send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await;

    eprintln!("jira-mcp: {sessions} MCP sessions calling get_issue for {duration:?}…");
    let sessions_for_load = open.clone();
    let mcp = measure(sessions, duration, move |i| {
        let session = sessions_for_load[i].clone();
        async move {
            matches!(
                session.call_tool("get_issue", json!({"issue_key": "ED-1"})).await,
                Ok(outcome) if !outcome.is_error
            )
        }
    })
    .await;

    report(sessions, &direct, &mcp, rss_before, rss_idle);
    drop(open);
}

fn report(
    sessions: usize,
    direct: &Measured,
    mcp: &Measured,
    rss_before: Option<u64>,
    rss_idle: Option<u64>,
) {
    println!();
    println!(
        "team_load: {sessions} concurrent clients, {} per run",
        fmt_secs(mcp.elapsed)
    );
    println!(
        "{:<28} {:>10} {:>9} {:>9} {:>9}",
        "", "calls/s", "p50 ms", "p99 ms", "failed"
    );
    for (name, m) in [
        ("direct HTTP (stub)", direct),
        ("jira-mcp /mcp get_issue", mcp),
    ] {
        println!(
            "{:<28} {:>10.0} {:>9.2} {:>9.2} {:>9}",
            name,
            m.per_second(),
            m.percentile(0.50),
            m.percentile(0.99),
            m.failures
        );
    }
    println!(
        "{:<28} {:>10.2} {:>9.2} {:>9.2}",
        "ratio jira-mcp / direct",
        mcp.per_second() / direct.per_second(),
        mcp.percentile(0.50) / direct.percentile(0.50),
        mcp.percentile(0.99) / direct.percentile(0.99),
    );
    match (rss_before, rss_idle) {
        (Some(before), Some(idle)) => println!(
            "server RSS: {before} KiB with 0 sessions, {idle} KiB with {sessions} idle sessions: {:.1} KiB per idle session",
            idle.saturating_sub(before) as f64 / sessions as f64
        ),
        _ => println!("server RSS: not available (needs /proc)"),
    }
    println!(
        "targets: >= 2000 calls/s ({}), p99 <= 25 ms ({}), <= 64 KiB per idle session ({})",
        verdict(mcp.per_second() >= 2000.0),
        verdict(mcp.percentile(0.99) <= 25.0),
        verdict(match (rss_before, rss_idle) {
            (Some(b), Some(i)) => (i.saturating_sub(b) as f64 / sessions as f64) <= 64.0,
            _ => false,
        }),
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn fmt_secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
