//! Startup and per-call cost of jira-mcp (run: `cargo bench -p jira-mcp`).
//!
//! 1. Spawning the binary: time to the `initialize` reply and to the
//!    `tools/list` reply, and peak RSS (VmHWM), median of 30 runs. Baseline in
//!    the same run: `cat` spawned the same way, echoing the same line back.
//! 2. `search_issues` through MCP (in-process duplex, rmcp client) against a
//!    local fake Jira, vs the same HTTP request sent directly with reqwest,
//!    interleaved.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const RUNS: usize = 30;

struct Startup {
    initialize: Duration,
    tools_list: Duration,
    peak_rss_kib: u64,
    /// The size of the `tools/list` reply line.
    tools_list_bytes: usize,
}

fn spawn(program: &str, home: &std::path::Path) -> Child {
    Command::new(program)
        .env_clear()
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn one_startup(program: &str, home: &std::path::Path) -> Startup {
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}});
    let started = Instant::now();
    let mut child = spawn(program, home);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    writeln!(stdin, "{initialize}").unwrap();
    stdout.read_line(&mut line).unwrap();
    let initialize_at = started.elapsed();
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    )
    .unwrap();
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    )
    .unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    let tools_at = started.elapsed();
    let tools_list_bytes = line.trim_end().len();
    let rss = peak_rss_kib(child.id());
    drop(stdin);
    let _ = child.wait();
    Startup {
        initialize: initialize_at,
        tools_list: tools_at,
        peak_rss_kib: rss,
        tools_list_bytes,
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn startup() {
    let home = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_jira-mcp");
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        ours.push(one_startup(binary, home.path()));
        base.push(one_startup("cat", home.path()));
    }
    let init = median(ours.iter().map(|s| s.initialize).collect());
    let list = median(ours.iter().map(|s| s.tools_list).collect());
    let cat = median(base.iter().map(|s| s.initialize).collect());
    let mut rss: Vec<u64> = ours.iter().map(|s| s.peak_rss_kib).collect();
    rss.sort();
    println!(
        "startup (median of {RUNS}): initialize reply {init:?}, tools/list reply {list:?}, peak RSS {:.1} MiB",
        rss[RUNS / 2] as f64 / 1024.0
    );
    let tools = ours[0].tools_list_bytes;
    println!(
        "tools/list reply: {tools} bytes ({:.1} KiB) for {} tools",
        tools as f64 / 1024.0,
        jira_mcp::catalog::TOOLS.len()
    );
    println!(
        "baseline `cat` echo: {cat:?}; jira-mcp initialize / cat = {:.1}x",
        init.as_secs_f64() / cat.as_secs_f64()
    );
}

fn search_overhead() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use wiremock::matchers::{method, path};
        let server = wiremock::MockServer::builder().disable_request_recording().start().await;
        let body = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/jira-dc/search.json")).unwrap();
        wiremock::Mock::given(method("POST"))
            .and(path("/rest/api/2/search"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        let env = [("JIRA_URL", server.uri()), ("JIRA_AUTH_TYPE", "pat".into()), ("JIRA_TOKEN", "t".into()), ("JIRA_DEPLOYMENT", "datacenter".into())];
        let config = jira_mcp::config::Config::load_from(&Default::default(), &move |n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()), None).unwrap();
        let (server_io, client_io) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            use rmcp::ServiceExt;
            let running = jira_mcp::server::JiraMcp::new(jira_mcp::server::ServerState::new(config)).serve(server_io).await.unwrap();
            let _ = running.waiting().await;
        });
        let client = rmcp::ServiceExt::serve((), client_io).await.unwrap();
        let http = reqwest::Client::new();
        let url = format!("{}/rest/api/2/search", server.uri());
        let request = json!({"jql": "project = ED", "maxResults": 20, "startAt": 0, "fields": ["summary", "status"]});
        let call = || rmcp::model::CallToolRequestParams::new("search_issues").with_arguments(json!({"jql": "project = ED"}).as_object().cloned().unwrap());
        let (mut direct, mut via_mcp) = (Duration::ZERO, Duration::ZERO);
        for round in 0..400 {
            let start = Instant::now();
            if round % 2 == 0 {
                http.post(&url).bearer_auth("t").json(&request).send().await.unwrap().bytes().await.unwrap();
                direct += start.elapsed();
            } else {
                client.call_tool(call()).await.unwrap();
                via_mcp += start.elapsed();
            }
        }
        let (direct, via_mcp) = (direct / 200, via_mcp / 200);
        println!(
            "search_issues: direct HTTP {direct:?}, through MCP {via_mcp:?}: adds {:?} per call ({:.2}x)",
            via_mcp.saturating_sub(direct),
            via_mcp.as_secs_f64() / direct.as_secs_f64()
        );
    });
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing to run.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    startup();
    search_overhead();
}
