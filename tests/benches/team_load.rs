//! The team server under load (issues 11 and 12): many concurrent MCP
//! sessions calling `get_issue` against a local stub Jira, measured beside a
//! direct-HTTP baseline (the same number of clients calling the stub's
//! `get_issue` endpoint themselves) in the same run; the server's RSS per
//! idle session; and one forced Atlassian access-token expiry in the middle
//! of each measured run, after which every user's grant must be refreshed
//! once.
//!
//! The same load runs twice: on SQLite with one replica, then on Postgres
//! with two replicas behind a round-robin proxy (no sticky sessions). The
//! Postgres run needs `JIRA_MCP_TEST_POSTGRES_URL` (`eval "$(.ci/postgres
//! start)"`); without it only SQLite runs, and the report says so.
//!
//! ```sh
//! cargo build --release -p jira-mcp
//! cargo bench -p e2e-tests --bench team_load
//! ```
//!
//! Settings (environment): `BENCH_USERS` (100), `BENCH_SESSIONS` (100, spread
//! over the users), `BENCH_SECS` (10 per measurement), `BENCH_EXPIRY` (1: the
//! mid-run expiry; 0: none). Targets from issue 11: ≥ 2,000 calls/s,
//! p99 ≤ 25 ms, ≤ 64 KiB per idle session.
//!
//! The stub: `GET …/rest/api/3/issue/{key}` is answered from the recorded
//! fixture at once once the bearer was seen valid: a bearer it has not seen
//! (or any bearer after an expiry) is checked by sending that request on to
//! the simulated Atlassian, whose 401 for an expired token makes the server
//! refresh. Every other request (OAuth, accessible resources, `myself`) goes
//! on to the simulator, so the authorization chain is the real one.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e_tests::binary;
use e2e_tests::postgres;
use e2e_tests::proxy::Proxy;
use e2e_tests::sim::{CLOUD_ID, Options, Simulator};
use e2e_tests::team::{McpTokens, SCOPES, TeamOptions, TeamServer, free_port, http_client};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use parking_lot::Mutex;
use serde_json::json;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The stub Jira: the issue from the fixture for bearers the simulator
/// accepted, everything else forwarded to the simulator.
struct Stub {
    issue: Bytes,
    sim: String,
    http: reqwest::Client,
    /// Bearers the simulator accepted since the last expiry.
    valid: Mutex<HashSet<String>>,
}

impl Stub {
    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let issue_prefix = format!("/ex/jira/{CLOUD_ID}/rest/api/3/issue/");
        let bearer = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(String::from);
        let is_issue = request.method() == hyper::Method::GET
            && path
                .strip_prefix(&issue_prefix)
                .is_some_and(|key| !key.is_empty() && !key.contains('/'));
        let Some(bearer) = bearer.filter(|_| is_issue) else {
            return self.forward(request).await;
        };
        if self.valid.lock().contains(&bearer) {
            return json_response(200, self.issue.clone());
        }
        // First sight of this bearer (since the last expiry): the simulator
        // says whether it is live.
        let answer = self.forward(request).await;
        if answer.status().is_success() {
            self.valid.lock().insert(bearer);
        }
        answer
    }

    /// Forgets every bearer, as the simulator expires every access token.
    fn expire(&self) {
        self.valid.lock().clear();
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
async fn start_stub(sim: &Simulator) -> (String, Arc<Stub>) {
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/jira/issue-full.json"
    ))
    .expect("the issue fixture");
    let stub = Arc::new(Stub {
        issue: Bytes::from(fixture),
        sim: sim.uri(),
        http: http_client(),
        valid: Mutex::new(HashSet::new()),
    });
    let handle = stub.clone();
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
    (format!("http://{addr}"), handle)
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

    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rank between 1 and the sample count, rounded up"
    )]
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
    let expiry = setting("BENCH_EXPIRY", 1) != 0;
    let load = Load {
        users,
        sessions,
        duration,
        expiry,
    };

    let sqlite = load.run(Deployment::Sqlite).await;
    // Without the variable (and outside CI) this says why and gives None.
    let postgres = match postgres::fresh_database().await {
        Some(database) => Some(load.run(Deployment::Postgres(database)).await),
        None => None,
    };
    report(&load, &sqlite, postgres.as_ref());
}

/// Where the load runs.
enum Deployment {
    /// One replica on SQLite (the server's default database).
    Sqlite,
    /// Two replicas on this Postgres database, behind the proxy.
    Postgres(String),
}

/// The load: the same for every deployment.
struct Load {
    users: usize,
    sessions: usize,
    duration: Duration,
    expiry: bool,
}

/// What one deployment's run measured.
struct Outcome {
    label: &'static str,
    direct: Measured,
    mcp: Measured,
    rss_before: Option<u64>,
    rss_idle: Option<u64>,
    /// Atlassian refreshes per user during the measured run: min, max.
    refreshes: (usize, usize),
    invalid_grants: usize,
    /// Requests each replica answered (through the proxy), if several.
    served: Option<Vec<usize>>,
}

impl Load {
    async fn run(&self, deployment: Deployment) -> Outcome {
        // Strict: a refresh token presented twice (two replicas refreshing
        // one user) revokes the grant and shows as invalid_grant.
        let sim = Arc::new(Simulator::start(Options::strict()).await);
        let (stub, stub_handle) = start_stub(&sim).await;
        let base = TeamOptions {
            log: Some("warn".into()),
            env: vec![("JIRA_OAUTH_API_URL".into(), stub.clone())],
            // Throughput, not throttling, is measured.
            rate_limit: Some(1_000_000),
            ..TeamOptions::default()
        };
        let (label, servers, proxy) = match deployment {
            Deployment::Sqlite => (
                "SQLite, 1 replica",
                vec![TeamServer::start(&sim, base).await],
                None,
            ),
            Deployment::Postgres(database) => {
                let listener = Proxy::bind();
                let proxy_url = format!("http://{}", listener.local_addr().expect("an address"));
                let ports = [free_port(), free_port()];
                let upstreams = ports.iter().map(|p| format!("http://127.0.0.1:{p}"));
                let proxy = Proxy::start(listener, upstreams.collect());
                let options = |port: u16| TeamOptions {
                    database_url: Some(database.clone()),
                    public_url: Some(proxy_url.clone()),
                    port: Some(port),
                    ..base.clone()
                };
                let (a, b) = tokio::join!(
                    TeamServer::start(&sim, options(ports[0])),
                    TeamServer::start(&sim, options(ports[1]))
                );
                ("Postgres, 2 replicas", vec![a, b], Some(proxy))
            }
        };
        eprintln!("[{label}] authorizing {} users…", self.users);
        let server = &servers[0];
        let mut tokens: Vec<McpTokens> = Vec::new();
        for i in 0..self.users {
            tokens.push(server.authorize(&user_name(i), SCOPES).await);
        }
        // Warm the path once per user (and replica: each user's Jira client
        // is made on first use).
        for t in &tokens {
            let session = server.session(t).await;
            for _ in 0..servers.len() {
                let _ = session
                    .call_tool("get_issue", json!({"issue_key": "ED-1"}))
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        // RSS is one process's: meaningful with one replica only.
        let pid = (servers.len() == 1).then(|| server.pid()).flatten();
        let rss_before = pid.and_then(rss_kib);

        eprintln!("[{label}] opening {} MCP sessions…", self.sessions);
        let mut open = Vec::new();
        for i in 0..self.sessions {
            open.push(Arc::new(server.session(&tokens[i % self.users]).await));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_idle = pid.and_then(rss_kib);

        eprintln!(
            "[{label}] direct HTTP baseline: {} clients for {:?}…",
            self.sessions, self.duration
        );
        let http = http_client();
        let issue_url = format!("{stub}/ex/jira/{CLOUD_ID}/rest/api/3/issue/ED-1");
        // The baseline's bearer is marked valid in the stub: it measures the
        // stub's cached path, which the MCP run takes for every call but
        // the first with each Atlassian token.
        let warm_bearer = "bench-baseline".to_string();
        stub_handle.valid.lock().insert(warm_bearer.clone());
        let direct = measure(self.sessions, self.duration, move |_| {
            let (http, url, bearer) = (http.clone(), issue_url.clone(), warm_bearer.clone());
            async move {
                match http.get(url).bearer_auth(bearer).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        })
        .await;

        let refreshes_before: Vec<usize> = (0..self.users)
            .map(|i| sim.refreshes_of(&user_name(i)))
            .collect();
        eprintln!(
            "[{label}] jira-mcp: {} MCP sessions calling get_issue for {:?}{}…",
            self.sessions,
            self.duration,
            if self.expiry {
                ", Atlassian tokens expiring half-way"
            } else {
                ""
            }
        );
        // The expiry half-way through the run.
        let expire = self.expiry.then(|| {
            let (sim, stub, half) = (sim.clone(), stub_handle.clone(), self.duration / 2);
            tokio::spawn(async move {
                tokio::time::sleep(half).await;
                sim.expire_all_access_tokens();
                stub.expire();
            })
        });
        let sessions_for_load = open.clone();
        let mcp = measure(self.sessions, self.duration, move |i| {
            let session = sessions_for_load[i].clone();
            async move {
                matches!(
                    session.call_tool("get_issue", json!({"issue_key": "ED-1"})).await,
                    Ok(outcome) if !outcome.is_error
                )
            }
        })
        .await;
        if let Some(expire) = expire {
            let _ = expire.await;
        }
        let per_user: Vec<usize> = (0..self.users)
            .map(|i| sim.refreshes_of(&user_name(i)) - refreshes_before[i])
            .collect();
        let invalid_grants = (0..self.users)
            .map(|i| sim.invalid_grants_of(&user_name(i)))
            .sum();
        drop(open);
        Outcome {
            label,
            direct,
            mcp,
            rss_before,
            rss_idle,
            refreshes: (
                per_user.iter().copied().min().unwrap_or(0),
                per_user.iter().copied().max().unwrap_or(0),
            ),
            invalid_grants,
            served: proxy.map(|p| p.served()),
        }
    }
}

fn user_name(i: usize) -> String {
    format!("bench{i:03}")
}

fn report(load: &Load, sqlite: &Outcome, postgres: Option<&Outcome>) {
    let sessions = load.sessions;
    println!();
    println!(
        "team_load: {sessions} concurrent clients, {} users, {} per run{}",
        load.users,
        fmt_secs(sqlite.mcp.elapsed),
        if load.expiry {
            ", one Atlassian token expiry half-way through each jira-mcp run"
        } else {
            ""
        }
    );
    println!(
        "{:<44} {:>10} {:>9} {:>9} {:>9}",
        "", "calls/s", "p50 ms", "p99 ms", "failed"
    );
    let mut rows = vec![
        ("direct HTTP (stub)".to_string(), &sqlite.direct),
        (format!("jira-mcp get_issue, {}", sqlite.label), &sqlite.mcp),
    ];
    if let Some(pg) = postgres {
        rows.push((format!("jira-mcp get_issue, {}", pg.label), &pg.mcp));
    }
    for (name, m) in rows {
        println!(
            "{:<44} {:>10.0} {:>9.2} {:>9.2} {:>9}",
            name,
            m.per_second(),
            m.percentile(0.50),
            m.percentile(0.99),
            m.failures
        );
    }
    let mcp = &sqlite.mcp;
    let direct = &sqlite.direct;
    println!(
        "{:<44} {:>10.2} {:>9.2} {:>9.2}",
        "ratio jira-mcp (SQLite) / direct",
        mcp.per_second() / direct.per_second(),
        mcp.percentile(0.50) / direct.percentile(0.50),
        mcp.percentile(0.99) / direct.percentile(0.99),
    );
    for outcome in std::iter::once(sqlite).chain(postgres) {
        println!(
            "{}: Atlassian refreshes per user during the run: min {}, max {} ({} expir{}); invalid_grant: {}{}",
            outcome.label,
            outcome.refreshes.0,
            outcome.refreshes.1,
            usize::from(load.expiry),
            if load.expiry { "y" } else { "ies" },
            outcome.invalid_grants,
            match &outcome.served {
                Some(served) => format!("; requests per replica {served:?}"),
                None => String::new(),
            }
        );
    }
    if postgres.is_none() {
        println!(
            "Postgres, 2 replicas: not run ({} is not set; `eval \"$(.ci/postgres start)\"`)",
            postgres::URL_VAR
        );
    }
    let (rss_before, rss_idle) = (sqlite.rss_before, sqlite.rss_idle);
    match (rss_before, rss_idle) {
        (Some(before), Some(idle)) => println!(
            "server RSS (SQLite replica): {before} KiB with 0 sessions, {idle} KiB with {sessions} idle sessions: {:.1} KiB per idle session",
            idle.saturating_sub(before) as f64 / sessions as f64
        ),
        _ => println!("server RSS: not available (needs /proc)"),
    }
    println!(
        "targets (SQLite): >= 2000 calls/s ({}), p99 <= 25 ms ({}), <= 64 KiB per idle session ({}); one refresh per user per expiry ({})",
        verdict(mcp.per_second() >= 2000.0),
        verdict(mcp.percentile(0.99) <= 25.0),
        verdict(match (rss_before, rss_idle) {
            (Some(b), Some(i)) => (i.saturating_sub(b) as f64 / sessions as f64) <= 64.0,
            _ => false,
        }),
        verdict(std::iter::once(sqlite).chain(postgres).all(|o| o.refreshes
            == (usize::from(load.expiry), usize::from(load.expiry))
            && o.invalid_grants == 0)),
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn fmt_secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
