//! The deployment as a user runs it (issue 17): the repository's
//! `compose.yaml` (two jira-mcp replicas on Postgres behind nginx, the image
//! from the repository's `Dockerfile`) with only `.env` and the secret files
//! filled in, signing in at the simulated Atlassian running on this machine.
//!
//! Runs only when `JIRA_MCP_DEPLOY_TEST=1`: `.ci/deploy-test` sets it after
//! it started a Docker engine and built the image. It also sets
//! `JIRA_MCP_DEPLOY_HOST`, this machine's address as the containers reach it
//! (for the simulator). The stack runs as compose project `jira-mcp-deploy-test`
//! and publishes nginx on localhost:8080; the test writes `.env` and
//! `secrets/` next to `compose.yaml` (both ignored by git and docker).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use e2e_tests::sim::{CLIENT_SECRET, Options, Simulator};
use e2e_tests::team::{SCOPES, TeamServer, random_text};
use serde_json::{Value, json};

const PROJECT: &str = "jira-mcp-deploy-test";
const PUBLIC_URL: &str = "http://localhost:8080";
/// Written first in the `.env` this test writes, so that it never
/// overwrites an operator's own.
const MARKER: &str = "# written by tests/tests/deploy_stack.rs";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `docker compose -p PROJECT …`, which must succeed.
fn compose(args: &[&str]) -> String {
    let mut all = vec!["compose", "-p", PROJECT];
    all.extend_from_slice(args);
    let output = run("docker", &all);
    assert!(
        output.status.success(),
        "docker {all:?} failed:\n{}\n{}",
        text(&output),
        text(&run(
            "docker",
            &["compose", "-p", PROJECT, "logs", "--tail", "60"]
        ))
    );
    text(&output)
}

/// `docker …`, which must succeed.
fn docker(args: &[&str]) -> String {
    let output = run("docker", args);
    assert!(
        output.status.success(),
        "docker {args:?} failed:\n{}",
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn container(service: &str) -> String {
    format!("{PROJECT}-{service}-1")
}

fn health(service: &str) -> String {
    docker(&[
        "inspect",
        "-f",
        "{{.State.Health.Status}}",
        &container(service),
    ])
}

/// Writes `.env` and `secrets/` as the README says, with a Postgres
/// password holding `/`, `+` and `=` (as base64 passwords do).
fn write_settings(sim_url: &str) -> String {
    let root = root();
    let env_file = root.join(".env");
    if let Ok(existing) = std::fs::read_to_string(&env_file) {
        assert!(
            existing.starts_with(MARKER),
            "{} exists and was not written by this test: move it away to run the deployment test",
            env_file.display()
        );
    }
    let password = format!("{}/+={}", &random_text()[..12], &random_text()[..12]);
    let settings = format!(
        "{MARKER}\nJIRA_MCP_PUBLIC_URL={PUBLIC_URL}\nJIRA_OAUTH_CLIENT_ID={client}\n\
         JIRA_DEPLOYMENT=cloud\nJIRA_URL=https://your-domain.atlassian.net\n\
         JIRA_OAUTH_AUTHORIZE_URL={sim_url}/authorize\nJIRA_OAUTH_TOKEN_URL={sim_url}/oauth/token\n\
         JIRA_OAUTH_API_URL={sim_url}\nRUST_LOG=info\n",
        client = e2e_tests::sim::CLIENT_ID,
    );
    std::fs::write(&env_file, settings).expect("write .env");
    let secrets = root.join("secrets");
    std::fs::create_dir_all(&secrets).expect("secrets/");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    for (name, value) in [
        ("postgres_password", password.clone()),
        (
            "encryption_key",
            e2e_tests::team::ENCRYPTION_KEY.to_string(),
        ),
        ("oauth_client_secret", CLIENT_SECRET.to_string()),
    ] {
        let path = secrets.join(name);
        // `echo` style, with a newline: the app drops one.
        std::fs::write(&path, format!("{value}\n")).expect("write a secret");
        // Readable by the containers' users (10001, postgres); the directory
        // keeps other users of this machine out.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    password
}

async fn get_current_user(session: &e2e_tests::team::McpSession) -> Result<Value, String> {
    match session.call_tool("get_current_user", json!({})).await {
        Ok(outcome) if !outcome.is_error => Ok(outcome.json()),
        Ok(outcome) => Err(format!("tool error: {}", outcome.text)),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// Waits until nginx answers the README's quick check with 200.
async fn wait_ready(http: &reqwest::Client, within: Duration) -> Result<(), String> {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < within {
        match http.get(format!("{PUBLIC_URL}/readyz")).send().await {
            Ok(r) if r.status() == 200 => return Ok(()),
            Ok(r) => last = format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(last)
}

/// No file named `.env` in any layer of the image.
fn assert_no_env_file_in_image(image: &str, secrets: &[&str]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let tar = dir.path().join("image.tar");
    docker(&["save", "-o", &tar.display().to_string(), image]);
    let unpacked = dir.path().join("image");
    std::fs::create_dir_all(&unpacked).expect("mkdir");
    let out = run(
        "tar",
        &[
            "-xf",
            &tar.display().to_string(),
            "-C",
            &unpacked.display().to_string(),
        ],
    );
    assert!(out.status.success(), "tar: {}", text(&out));
    let mut layers = 0;
    let mut stack = vec![unpacked];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let listing = run("tar", &["-tf", &path.display().to_string()]);
            if !listing.status.success() {
                continue; // a JSON file, not a layer
            }
            layers += 1;
            for file in String::from_utf8_lossy(&listing.stdout).lines() {
                let name = file.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                assert_ne!(
                    name,
                    ".env",
                    "{image} holds {file} in layer {}",
                    path.display()
                );
                assert_ne!(name, "secrets", "{image} holds {file}");
            }
        }
    }
    assert!(layers > 0, "no layer found in `docker save {image}`");
    let history = docker(&["history", "--no-trunc", image]);
    for secret in secrets {
        assert!(
            !history.contains(secret),
            "a secret is in {image}'s history"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_compose_stack_serves_signs_in_and_survives_a_replica_going_away() {
    if std::env::var("JIRA_MCP_DEPLOY_TEST").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set JIRA_MCP_DEPLOY_TEST=1 (.ci/deploy-test does, with a Docker engine)"
        );
        return;
    }
    let host = std::env::var("JIRA_MCP_DEPLOY_HOST")
        .expect("JIRA_MCP_DEPLOY_HOST: this machine's address as the containers reach it");
    // The simulated Atlassian on every interface, so that the containers
    // reach it at `host` (the test's own requests use the same address).
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("bind the simulator");
    let port = listener.local_addr().expect("addr").port();
    let sim = Simulator::start_on(Options::default(), listener).await;
    let sim_url = format!("http://{host}:{port}");
    let password = write_settings(&sim_url);
    let http = e2e_tests::team::http_client();

    // Up: Postgres and both replicas healthy (the image's own healthcheck,
    // `jira-mcp health`), nginx started.
    compose(&["up", "-d", "--wait"]);
    for service in ["postgres", "jira-mcp-1", "jira-mcp-2"] {
        assert_eq!(health(service), "healthy", "{service}");
    }

    // The README's quick check, through nginx, without any Host trick.
    let ready = http
        .get(format!("{PUBLIC_URL}/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    // `server_tokens off`: nginx without its version.
    let server_header = ready.headers().get("server").cloned();
    assert_eq!(
        ready.status(),
        200,
        "{}",
        ready.text().await.unwrap_or_default()
    );
    assert_eq!(
        server_header.as_ref().and_then(|v| v.to_str().ok()),
        Some("nginx")
    );

    // Discovery through nginx: the 401 challenge and the protected resource
    // metadata (asserted by `discover`), for the public URL.
    let server = TeamServer::attach(PUBLIC_URL, &sim);
    let discovery = server.discover().await;
    assert_eq!(
        discovery.resource_metadata["resource"].as_str(),
        Some(format!("{PUBLIC_URL}/mcp").as_str())
    );
    assert!(
        discovery.www_authenticate.starts_with("Bearer"),
        "{}",
        discovery.www_authenticate
    );

    // A full sign-in (the MCP client's dance, Atlassian's consent at the
    // simulator, the callback through nginx) and a tool call.
    let tokens = server.authorize("alice", SCOPES).await;
    let session = server.session(&tokens).await;
    let me = get_current_user(&session)
        .await
        .expect("a tool call through nginx");
    assert!(me.to_string().contains("alice"), "{me}");

    // A 5 MiB request body reaches the app (nginx's default is 1 MiB).
    let padding = "A".repeat(5 * 1024 * 1024);
    let big = session
        .request(
            "tools/call",
            json!({"name": "get_current_user", "arguments": {}, "_meta": {"padding": padding}}),
        )
        .await;
    assert!(big.is_ok(), "a 5 MiB call did not reach the app: {big:?}");

    // Postgres down: each replica's /readyz says 503 "not ready", and nginx
    // passes that on (an nginx that took 503s for dead replicas would mark
    // both down and answer with its own page from the second request on).
    docker(&["stop", &container("postgres")]);
    for request in 1..=4 {
        let response = http
            .get(format!("{PUBLIC_URL}/readyz"))
            .send()
            .await
            .expect("GET /readyz");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status == 503 && body.contains("not ready"),
            "request {request} with Postgres down: {status} {body}"
        );
    }
    docker(&["start", &container("postgres")]);
    wait_ready(&http, Duration::from_secs(60))
        .await
        .unwrap_or_else(|last| panic!("not ready again after Postgres came back: {last}"));
    get_current_user(&session)
        .await
        .expect("a tool call once Postgres is back");

    // One replica killed: each of the next 20 calls answers, within 3 s.
    docker(&["kill", &container("jira-mcp-1")]);
    let mut slowest = Duration::ZERO;
    for call in 1..=20 {
        let started = Instant::now();
        let result = get_current_user(&session).await;
        let took = started.elapsed();
        slowest = slowest.max(took);
        assert!(
            result.is_ok(),
            "call {call} after the kill failed: {result:?}"
        );
        assert!(
            took < Duration::from_secs(3),
            "call {call} after the kill took {took:?}"
        );
    }
    eprintln!(
        "deploy: after `docker kill` of one replica, the slowest of 20 calls took {slowest:?}"
    );

    // nginx restarted while that replica is down still starts and serves.
    docker(&["stop", &container("jira-mcp-1")]);
    docker(&["restart", &container("proxy")]);
    wait_ready(&http, Duration::from_secs(30))
        .await
        .unwrap_or_else(|last| {
            panic!("nginx restarted with a replica down does not serve: {last}")
        });
    for call in 1..=5 {
        get_current_user(&session)
            .await
            .unwrap_or_else(|e| panic!("call {call} after nginx's restart: {e}"));
    }

    // The replica back, then the whole stack down and up: the sign-in
    // (grant and MCP tokens in Postgres) survives.
    compose(&["up", "-d", "--wait"]);
    compose(&["down"]);
    compose(&["up", "-d", "--wait"]);
    wait_ready(&http, Duration::from_secs(60))
        .await
        .unwrap_or_else(|last| panic!("the stack did not come back: {last}"));
    get_current_user(&session)
        .await
        .expect("the token from before `compose down` still works");

    assert_no_env_file_in_image("jira-mcp:latest", &[&password, CLIENT_SECRET]);
    compose(&["down", "-v"]);
}
