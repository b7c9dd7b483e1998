//! Several team-server replicas on one Postgres database (issue 12), behind
//! a round-robin proxy with no sticky sessions ([`e2e_tests::proxy`]):
//! one Atlassian refresh per user per expiry across the replicas, a replica
//! killed with SIGKILL mid-load and mid-refresh, both replicas starting at
//! once on an empty database, no plaintext token in a `pg_dump`, and MCP
//! authorization codes and tokens valid on every replica.
//!
//! The database server comes from `JIRA_MCP_TEST_POSTGRES_URL`
//! (`eval "$(.ci/postgres start)"`); each test makes a database of its own.
//! Without the variable the tests fail when `CI` is set, and otherwise say
//! why they did nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use e2e_tests::postgres::{fresh_database, pg_dump, texts};
use e2e_tests::proxy::Proxy;
use e2e_tests::sim::{Options, SimUser, Simulator};
use e2e_tests::team::{
    Cookies, Dance, McpSession, McpTokens, SCOPES, Step, TeamOptions, TeamServer, free_port,
    http_client,
};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// How long after a refresh the next forced expiry waits. gouqi-oauth takes
/// a 401 on an access token it minted because of a 401 less than 30 s ago
/// (`token::FRESH_FOR`), and well before its stated expiry, for a scope or
/// site problem, not an expiry, and does not burn another rotation on it;
/// Atlassian's tokens live an hour, so only a test that expires them by
/// force can get there.
const BETWEEN_EXPIRIES: Duration = Duration::from_secs(31);

/// Two replicas on one database behind the proxy, which is their public URL.
struct Replicas {
    sim: Simulator,
    proxy: Proxy,
    servers: Vec<TeamServer>,
    database: String,
}

impl Replicas {
    /// Starts the simulator, the proxy and two replicas (at once) on a
    /// fresh database; `None` when there is no Postgres (outside CI).
    async fn start(sim_options: Options) -> Option<Replicas> {
        let database = fresh_database().await?;
        let sim = Simulator::start(sim_options).await;
        let listener = Proxy::bind();
        let proxy_url = format!(
            "http://{}",
            listener.local_addr().expect("the proxy's address")
        );
        let ports = [free_port(), free_port()];
        let upstreams = ports.iter().map(|p| format!("http://127.0.0.1:{p}"));
        let proxy = Proxy::start(listener, upstreams.collect());
        let options = |port: u16| TeamOptions {
            database_url: Some(database.clone()),
            public_url: Some(proxy_url.clone()),
            port: Some(port),
            // The load is the test's, not an abuse to throttle.
            rate_limit: Some(1_000_000),
            ..TeamOptions::default()
        };
        let (a, b) = tokio::join!(
            TeamServer::start(&sim, options(ports[0])),
            TeamServer::start(&sim, options(ports[1]))
        );
        Some(Replicas {
            sim,
            proxy,
            servers: vec![a, b],
            database,
        })
    }

    /// Authorizes `count` users through the proxy, each with an MCP
    /// session through the proxy.
    async fn users(&self, count: usize) -> Vec<User> {
        let mut users = Vec::new();
        for i in 0..count {
            let name = format!("user{i:02}");
            let tokens = self.servers[0].authorize(&name, SCOPES).await;
            let session = self.servers[0].session(&tokens).await;
            users.push(User {
                account_id: SimUser::named(&name).account_id,
                name,
                tokens,
                session: Arc::new(session),
            });
        }
        users
    }

    /// Both replicas' logs, for failure messages.
    fn logs(&self) -> String {
        self.servers
            .iter()
            .enumerate()
            .map(|(i, s)| format!("--- replica {i} ---\n{}", s.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

struct User {
    name: String,
    account_id: String,
    tokens: McpTokens,
    session: Arc<McpSession>,
}

/// One `get_current_user` call: None when it answered as `expected`,
/// otherwise what went wrong.
async fn call(session: &McpSession, name: &str, expected: &str) -> Option<String> {
    match session.call_tool("get_current_user", json!({})).await {
        Ok(outcome) if outcome.is_error => Some(format!("{name}: tool error: {}", outcome.text)),
        Ok(outcome) => {
            let id = outcome.json()["account_id"].as_str().map(String::from);
            (id.as_deref() != Some(expected))
                .then(|| format!("{name}: answered as {id:?}, not {expected}"))
        }
        Err(e) => Some(format!("{name}: {e:?}")),
    }
}

/// `per_user` concurrent calls by every user at once: the failures.
async fn wave(users: &[User], per_user: usize) -> Vec<String> {
    let mut calls = Vec::new();
    for user in users {
        for _ in 0..per_user {
            let (session, name, id) = (
                user.session.clone(),
                user.name.clone(),
                user.account_id.clone(),
            );
            calls.push(tokio::spawn(
                async move { call(&session, &name, &id).await },
            ));
        }
    }
    let mut failures = Vec::new();
    for task in calls {
        match task.await {
            Ok(None) => {}
            Ok(Some(failure)) => failures.push(failure),
            Err(e) => failures.push(format!("a call panicked: {e}")),
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_users_on_two_replicas_refresh_once_per_expiry_across_three_expiries() {
    // Strict: any second presentation of a refresh token revokes the grant,
    // so two replicas refreshing one user would show as invalid_grant.
    let Some(replicas) = Replicas::start(Options::strict()).await else {
        return;
    };
    let users = replicas.users(20).await;
    let sim = &replicas.sim;
    let mut failures = Vec::new();
    for round in 0..=3 {
        if round > 1 {
            tokio::time::sleep(BETWEEN_EXPIRIES).await;
        }
        if round > 0 {
            assert!(sim.expire_all_access_tokens() > 0, "nothing to expire");
        }
        // Several calls per user at once, spread over both replicas by the
        // proxy; three waves per round.
        for _ in 0..3 {
            failures.extend(wave(&users, 4).await);
        }
        for user in &users {
            assert_eq!(
                sim.refreshes_of(&user.name),
                round,
                "{}: Atlassian refreshes after {round} expiries (one per expiry across both \
                 replicas). Failures so far: {failures:#?}\n{}",
                user.name,
                replicas.logs()
            );
        }
    }
    assert!(
        failures.is_empty(),
        "failed calls: {failures:#?}\n{}",
        replicas.logs()
    );
    for user in &users {
        assert_eq!(sim.invalid_grants_of(&user.name), 0, "{}", user.name);
    }
    assert_eq!(sim.counters().invalid_grants, 0);
    let served = replicas.proxy.served();
    eprintln!(
        "requests per replica: {served:?}; proxy retries: {}",
        replicas.proxy.retries()
    );
    assert!(
        served.iter().all(|&n| n > 0),
        "every replica must serve calls: {served:?}"
    );
    assert_eq!(replicas.proxy.failed(), 0);
}

/// Calls by every user in a loop, until `stop`.
struct Load {
    calls: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// `per_user` loops of calls by every user, until `stop`.
fn background_load(users: &[User], per_user: usize, stop: &Arc<AtomicBool>) -> Load {
    let calls = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for user in users {
        for _ in 0..per_user {
            let (session, name, id) = (
                user.session.clone(),
                user.name.clone(),
                user.account_id.clone(),
            );
            let (stop, calls, failures) = (stop.clone(), calls.clone(), failures.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(failure) = call(&session, &name, &id).await {
                        failures.lock().push(failure);
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                    // A steady load, not a CPU-bound spin, on two cores.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
    }
    Load {
        calls,
        failures,
        tasks,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_load_and_mid_refresh_logs_nobody_out() {
    // Atlassian's own rules (the 10-minute reuse interval): a replica killed
    // after Atlassian rotated a grant but before it saved the new refresh
    // token leaves the old one stored, and the survivor's refresh with it
    // must still work. A slow token endpoint keeps refreshes in flight when
    // the kill comes.
    let options = Options {
        token_delay: Duration::from_millis(300),
        ..Options::default()
    };
    let Some(mut replicas) = Replicas::start(options).await else {
        return;
    };
    let users = replicas.users(20).await;
    let stop = Arc::new(AtomicBool::new(false));
    let Load {
        calls,
        failures,
        tasks,
    } = background_load(&users, 3, &stop);

    tokio::time::sleep(Duration::from_secs(1)).await;
    // An expiry, and the kill while the refreshes it causes are in flight.
    replicas.sim.expire_all_access_tokens();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let served_before = replicas.proxy.served();
    replicas.servers[1].kill().await;
    let calls_at_kill = calls.load(Ordering::Relaxed);
    // Load on the survivor, then another expiry with it alone: every user's
    // stored grant must still refresh after the kill.
    tokio::time::sleep(BETWEEN_EXPIRIES).await;
    replicas.sim.expire_all_access_tokens();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a load task panicked");
    }
    let total = calls.load(Ordering::Relaxed);
    let served_after = replicas.proxy.served();
    eprintln!(
        "calls: {total} ({calls_at_kill} before the kill); requests per replica before the kill \
         {served_before:?}, at the end {served_after:?}; proxy retries {}",
        replicas.proxy.retries()
    );
    let failures = failures.lock().clone();
    assert!(
        failures.is_empty(),
        "{} of {total} calls failed: {failures:#?}\n{}",
        failures.len(),
        replicas.logs()
    );
    assert!(total > calls_at_kill, "no call completed after the kill");
    assert!(
        served_after[0] > served_before[0],
        "the surviving replica served nothing after the kill: {served_before:?} → {served_after:?}"
    );
    assert!(
        served_before[1] > 0,
        "the killed replica served nothing before"
    );
    assert_eq!(replicas.proxy.failed(), 0, "the proxy answered 502");

    // Nobody was logged out: every user still works, through the survivor,
    // and Atlassian never refused a refresh.
    let after = wave(&users, 2).await;
    assert!(
        after.is_empty(),
        "after the kill: {after:#?}\n{}",
        replicas.logs()
    );
    for user in &users {
        assert_eq!(
            replicas.sim.invalid_grants_of(&user.name),
            0,
            "{} was refused a refresh (logged out)\n{}",
            user.name,
            replicas.logs()
        );
        assert!(
            replicas.sim.refreshes_of(&user.name) >= 2,
            "{}: {} refreshes across two expiries",
            user.name,
            replicas.sim.refreshes_of(&user.name)
        );
    }
    assert_eq!(replicas.sim.counters().revocations, 0);
    let counts: Vec<usize> = users
        .iter()
        .map(|u| replicas.sim.refreshes_of(&u.name))
        .collect();
    eprintln!(
        "Atlassian refreshes per user across the two expiries: min {}, max {} (more than 2: \
         a refresh redone after the kill)",
        counts.iter().min().unwrap_or(&0),
        counts.iter().max().unwrap_or(&0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_starting_at_once_on_an_empty_database_migrate_once_and_come_up() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let sim = Simulator::start(Options::default()).await;
    let options = || TeamOptions {
        database_url: Some(database.clone()),
        ..TeamOptions::default()
    };
    let (a, b) = tokio::join!(
        TeamServer::start(&sim, options()),
        TeamServer::start(&sim, options())
    );
    for (name, server) in [("first", &a), ("second", &b)] {
        assert_eq!(
            server.readyz().await,
            200,
            "the {name} replica is not ready:\n{}",
            server.log()
        );
    }
    let migrations = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mcp-server/migrations/postgres"
    ))
    .expect("the Postgres migrations")
    .filter_map(Result::ok)
    .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
    .count();
    let applied = texts(
        &database,
        "SELECT version::text FROM _sqlx_migrations WHERE success ORDER BY version",
    )
    .await;
    let rows = texts(&database, "SELECT version::text FROM _sqlx_migrations").await;
    assert_eq!(
        rows.len(),
        migrations,
        "one row per migration: {rows:?}\n{}\n{}",
        a.log(),
        b.log()
    );
    assert_eq!(applied, rows, "every migration succeeded");
    // Both work, on the one schema (each is its own public URL here, so
    // each issues tokens for itself).
    for (user, server) in [("ann", &a), ("bob", &b)] {
        let tokens = server.authorize(user, SCOPES).await;
        let session = server.session(&tokens).await;
        let id = SimUser::named(user).account_id;
        assert_eq!(call(&session, user, &id).await, None, "{}", server.log());
    }
}

/// `text` in the forms a dump may show it: as is, and as the hex of a
/// `bytea` column.
fn occurs(dump: &str, text: &str) -> bool {
    let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
    dump.contains(text) || dump.to_ascii_lowercase().contains(&hex)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pg_dump_holds_no_atlassian_or_mcp_token_in_clear() {
    let Some(replicas) = Replicas::start(Options::strict()).await else {
        return;
    };
    let users = replicas.users(5).await;
    assert!(wave(&users, 2).await.is_empty());
    // A refresh, so that rotated tokens were sealed and saved too.
    replicas.sim.expire_all_access_tokens();
    assert!(wave(&users, 2).await.is_empty());
    let mut mcp_tokens: Vec<String> = Vec::new();
    for user in &users {
        assert_eq!(replicas.sim.refreshes_of(&user.name), 1, "{}", user.name);
        mcp_tokens.push(user.tokens.access_token.clone());
        mcp_tokens.extend(user.tokens.refresh_token.clone());
    }
    // And a rotated MCP refresh token.
    let rotated = replicas.servers[1]
        .refresh(&users[0].tokens)
        .await
        .expect("an MCP refresh");
    mcp_tokens.push(rotated.access_token.clone());
    mcp_tokens.extend(rotated.refresh_token.clone());

    let dump = pg_dump(&replicas.database);
    // The dump is the real thing: the users, their sealed grants.
    assert!(dump.contains("COPY public.grants"), "no grants in the dump");
    for user in &users {
        assert!(
            dump.contains(&user.account_id),
            "{} is not in the dump",
            user.name
        );
    }
    let grants = texts(&replicas.database, "SELECT user_id FROM grants").await;
    assert_eq!(grants.len(), users.len(), "one sealed grant per user");
    // Every token the simulator mints starts `sim-<kind>-`: access (`at`),
    // refresh (`rt`), authorization codes (`code`).
    for prefix in ["sim-at-", "sim-rt-", "sim-code-"] {
        assert!(
            !occurs(&dump, prefix),
            "the dump holds an Atlassian secret in clear ({prefix}…)"
        );
    }
    for token in &mcp_tokens {
        assert!(!token.is_empty());
        assert!(
            !occurs(&dump, token),
            "the dump holds an MCP token in clear"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_and_tokens_issued_by_one_replica_work_on_the_other() {
    let Some(replicas) = Replicas::start(Options::strict()).await else {
        return;
    };
    let (a, b) = (&replicas.servers[0], &replicas.servers[1]);
    let proxy = replicas.proxy.url();
    let on = |server: &TeamServer, url: &str| url.replacen(&proxy, server.direct_url(), 1);

    // Every step of the dance on a named replica, alternating.
    let discovery = a.discover().await;
    let client = a
        .register(&discovery, &[&e2e_tests::team::loopback_redirect_uri()])
        .await
        .expect("registration");
    let mut dance = Dance::new(a, &discovery, &client, SCOPES);
    dance.authorization_endpoint = on(a, &dance.authorization_endpoint);
    let mut consent = dance.open_consent().await.expect("the consent page on A");
    consent.action = on(b, &consent.action);
    let to_atlassian = dance.approve(&consent).await.expect("consent posted to B");
    let callback = dance
        .atlassian(&to_atlassian, "carol")
        .await
        .expect("Atlassian's consent");
    assert!(
        callback.starts_with(&proxy),
        "the callback is public: {callback}"
    );
    let code = dance
        .callback(&on(a, &callback))
        .await
        .expect("the callback on A");
    let token_endpoint = discovery.endpoint("token_endpoint");
    dance.token_endpoint = on(b, &token_endpoint);
    let tokens = dance
        .exchange(&code)
        .await
        .expect("the code exchanged on B");

    // The access token works on both replicas.
    let carol = SimUser::named("carol").account_id;
    for server in [a, b] {
        let session =
            McpSession::connect_to(http_client(), &server.direct("/mcp"), &tokens.access_token)
                .await
                .unwrap_or_else(|e| panic!("MCP on {}: {e:?}", server.direct_url()));
        assert!(call(&session, "carol", &carol).await.is_none());
    }

    // An MCP refresh on A; the new token works on B; the rotated-away
    // refresh token is refused on B.
    let refresh = |server: &TeamServer, token: &str| {
        let request = http_client().post(on(server, &token_endpoint)).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client.client_id.as_str()),
            ("resource", &a.mcp_url()),
        ]);
        async move {
            let response = request.send().await.expect("POST /token");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let old_refresh = tokens.refresh_token.clone().expect("a refresh token");
    let (status, fresh) = refresh(a, &old_refresh).await;
    assert_eq!(status, 200, "MCP refresh on A: {fresh}");
    let fresh_access = fresh["access_token"].as_str().expect("an access token");
    let session = McpSession::connect_to(http_client(), &b.direct("/mcp"), fresh_access)
        .await
        .expect("the refreshed token on B");
    assert!(call(&session, "carol", &carol).await.is_none());
    let (status, body) = refresh(b, &old_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "a rotated-away refresh token is refused on the other replica: {body}"
    );
    // The code, issued on A and exchanged on B, is not taken twice, on A
    // either (last: a replayed code revokes what it gave).
    dance.token_endpoint = on(a, &token_endpoint);
    let replay = dance.exchange(&code).await;
    assert!(
        replay.is_err(),
        "a code is single-use across replicas: {replay:?}"
    );
}

/// Issue 16 on Postgres, across replicas: a consent page approved on B is
/// not approved again by a replay on A, and the Atlassian callback on A
/// completes only for the browser that approved (login CSRF): a browser
/// without its cookie gets an error page, and the sign-in stays for the
/// right browser, on either replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consent_is_answered_once_and_a_sign_in_completes_only_in_its_browser_on_any_replica() {
    let Some(replicas) = Replicas::start(Options::strict()).await else {
        return;
    };
    let (a, b) = (&replicas.servers[0], &replicas.servers[1]);
    let proxy = replicas.proxy.url();
    let on = |server: &TeamServer, url: &str| url.replacen(&proxy, server.direct_url(), 1);
    let discovery = a.discover().await;
    let client = a
        .register(&discovery, &[&e2e_tests::team::loopback_redirect_uri()])
        .await
        .expect("registration");
    let mut dance = Dance::new(a, &discovery, &client, SCOPES);
    dance.authorization_endpoint = on(a, &dance.authorization_endpoint);
    let mut consent = dance.open_consent().await.expect("the consent page on A");
    let before_approval = dance.clone();
    consent.action = on(b, &consent.action);
    let to_atlassian = dance.approve(&consent).await.expect("consent posted to B");

    // The same answer again (cookie, token and sealed request), on A.
    let mut replay = before_approval.clone();
    let mut fields = consent.fields.clone();
    fields.insert("decision".into(), "approve".into());
    consent.action = on(a, &consent.action);
    let replayed = replay.post_consent(&consent, &fields, true).await;
    let status = replayed.status().as_u16();
    let body = replayed.text().await.unwrap_or_default();
    assert_eq!(status, 400, "a replayed approval on A: {body}");
    assert!(body.contains("already answered"), "{body}");

    let callback = dance
        .atlassian(&to_atlassian, "carol")
        .await
        .expect("Atlassian's consent");
    // Another browser (no sign-in cookie) on A, then on B.
    for server in [a, b] {
        let mut colleague = dance.clone();
        colleague.cookies = Cookies::default();
        let refused = colleague
            .callback(&on(server, &callback))
            .await
            .expect_err("a callback from a browser that did not approve");
        assert_eq!(
            (refused.step, refused.status),
            (Step::Callback, 403),
            "{refused:?}"
        );
        assert!(refused.location.is_none(), "{refused:?}");
    }
    // The browser that approved completes it on A.
    let code = dance
        .callback(&on(a, &callback))
        .await
        .expect("the callback on A, from the browser that approved on B");
    dance.token_endpoint = on(b, &discovery.endpoint("token_endpoint"));
    dance
        .exchange(&code)
        .await
        .expect("the code exchanged on B");
}

#[tokio::test]
async fn sslmode_require_against_a_server_without_tls_fails_naming_tls() {
    let Some(database) = fresh_database().await else {
        return;
    };
    // The throwaway cluster has no TLS: a URL that requires it must be
    // refused at startup with a message about TLS, not a panic, and not
    // "built without TLS support" (jira-mcp speaks TLS to Postgres).
    let separator = if database.contains('?') { '&' } else { '?' };
    let url = format!("{database}{separator}sslmode=require");
    let sim = Simulator::start(Options::default()).await;
    let (status, output) = TeamServer::run_to_exit(
        &sim,
        TeamOptions {
            database_url: Some(url),
            ..TeamOptions::default()
        },
        Duration::from_secs(30),
    )
    .await;
    let status = status.unwrap_or_else(|| panic!("still running after 30 s:\n{output}"));
    assert!(!status.success(), "it started without TLS:\n{output}");
    assert!(
        output.contains("TLS"),
        "the error does not name TLS:\n{output}"
    );
    assert!(
        !output.contains("built without TLS support"),
        "jira-mcp was built without TLS for Postgres:\n{output}"
    );
    assert!(!output.contains("panicked"), "{output}");
}

#[tokio::test]
async fn the_dump_check_finds_a_token_stored_in_clear_in_text_or_bytea() {
    let Some(database) = fresh_database().await else {
        return;
    };
    // The check of the encryption test, on a database that does hold
    // tokens in clear: it must see them, in a text and in a bytea column.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&database)
        .await
        .expect("connect");
    for sql in [
        "CREATE TABLE leak (t TEXT, b BYTEA)",
        "INSERT INTO leak VALUES ('sim-rt-1-in-text', convert_to('sim-at-2-in-bytea', 'UTF8'))",
    ] {
        sqlx::query(sql).execute(&mut conn).await.expect(sql);
    }
    let dump = pg_dump(&database);
    assert!(occurs(&dump, "sim-rt-"), "{dump}");
    assert!(occurs(&dump, "sim-at-2-in-bytea"), "{dump}");
    assert!(!occurs(&dump, "sim-code-"), "{dump}");
}
