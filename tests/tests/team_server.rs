//! `jira-mcp serve --http` as a team server, end to end against the
//! simulated Atlassian: each user acts in Jira as themselves (isolation),
//! tokens that are not this server's live tokens for this resource are
//! refused (rejection), twenty users share one Atlassian refresh each across
//! an expiry (load), and MCP refresh tokens rotate.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use e2e_tests::sim::{CLIENT_ID, CLIENT_SECRET, Options, SimUser, Simulator};
use e2e_tests::team::{
    Dance, McpError, McpSession, McpTokens, SCOPES, Step, TeamOptions, TeamServer, auth_param,
    decision_buttons, loopback_redirect_uri, random_text,
};
use serde_json::{Value, json};

async fn start(sim: &Simulator) -> TeamServer {
    TeamServer::start(sim, TeamOptions::default()).await
}

/// `get_current_user`'s account id through `session`.
async fn account_id(session: &McpSession) -> String {
    let outcome = session
        .call_tool("get_current_user", json!({}))
        .await
        .expect("get_current_user");
    assert!(
        !outcome.is_error,
        "get_current_user failed: {}",
        outcome.text
    );
    outcome.json()["account_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no account_id in {}", outcome.text))
        .to_string()
}

/// Asserts that `result` is a 401 whose `WWW-Authenticate` is a Bearer
/// challenge naming the protected-resource metadata.
fn assert_unauthorized<T: std::fmt::Debug>(result: Result<T, McpError>, what: &str) {
    match result {
        Err(McpError::Http {
            status: 401,
            www_authenticate: Some(challenge),
            ..
        }) => {
            assert!(
                challenge.starts_with("Bearer"),
                "{what}: the challenge is not Bearer: {challenge}"
            );
            let metadata = auth_param(&challenge, "resource_metadata")
                .unwrap_or_else(|| panic!("{what}: no resource_metadata in {challenge}"));
            assert!(
                metadata.contains("/.well-known/oauth-protected-resource"),
                "{what}: {metadata}"
            );
        }
        other => panic!("{what}: expected 401 with WWW-Authenticate, got {other:?}"),
    }
}

#[tokio::test]
async fn each_user_acts_as_themselves_and_revoking_one_leaves_the_other_working() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;
    let (alice_id, bob_id) = (
        SimUser::named("alice").account_id,
        SimUser::named("bob").account_id,
    );
    let alice_tokens = server.authorize("alice", SCOPES).await;
    let bob_tokens = server.authorize("bob", SCOPES).await;
    let alice = Arc::new(server.session(&alice_tokens).await);
    let bob = Arc::new(server.session(&bob_tokens).await);

    // Interleaved, concurrent calls: each answer names its own caller.
    let mut calls = Vec::new();
    for _ in 0..5 {
        for (session, expected) in [(&alice, &alice_id), (&bob, &bob_id)] {
            let (session, expected) = (session.clone(), expected.clone());
            calls.push(tokio::spawn(async move {
                assert_eq!(account_id(&session).await, expected);
            }));
        }
    }
    for call in calls {
        call.await.expect("a call panicked");
    }
    let me = alice
        .call_tool("get_current_user", json!({}))
        .await
        .unwrap();
    assert!(
        !me.text.contains(&bob_id),
        "Alice's answer names Bob: {}",
        me.text
    );

    // Revoke Alice's MCP tokens: her access token gets 401, Bob goes on.
    let alice_refresh = alice_tokens.refresh_token.clone().expect("a refresh token");
    assert_eq!(
        server
            .revoke(
                &alice_tokens.access_token,
                "access_token",
                &alice_tokens.client_id
            )
            .await,
        200
    );
    assert_eq!(
        server
            .revoke(&alice_refresh, "refresh_token", &alice_tokens.client_id)
            .await,
        200
    );
    assert_unauthorized(
        alice.call_tool("get_current_user", json!({})).await,
        "a revoked access token",
    );
    let refreshed = server.refresh(&alice_tokens).await;
    assert!(
        matches!(&refreshed, Err((400, body)) if body["error"] == "invalid_grant"),
        "a revoked refresh token must get invalid_grant: {refreshed:?}"
    );
    assert_eq!(account_id(&bob).await, bob_id);
    let bob_again = server.session(&bob_tokens).await;
    assert_eq!(account_id(&bob_again).await, bob_id);
}

#[tokio::test]
async fn a_request_without_a_token_or_with_a_forged_one_gets_401_with_the_metadata() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;

    // No token: the challenge names the metadata and the scopes.
    let discovery = server.discover().await;
    let scope = auth_param(&discovery.www_authenticate, "scope")
        .unwrap_or_else(|| panic!("no scope in {}", discovery.www_authenticate));
    assert!(scope.contains("jira:read"), "{scope}");
    assert_eq!(
        discovery.resource_metadata["resource"].as_str(),
        Some(server.mcp_url().as_str()),
        "the protected resource is /mcp"
    );
    // The PRM in the /mcp suffix form names the same server.
    let suffix = server
        .http()
        .get(server.url("/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap();
    assert_eq!(suffix.status(), 200);

    // Forged tokens: random, empty-ish, and shaped like a JWT.
    for forged in [
        random_text(),
        "x".to_string(),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.".to_string(),
    ] {
        assert_unauthorized(
            McpSession::connect(&server, &forged).await,
            "a forged token",
        );
    }
}

#[tokio::test]
async fn an_expired_access_token_gets_401() {
    let sim = Simulator::start(Options::default()).await;
    let server = TeamServer::start(
        &sim,
        TeamOptions {
            access_ttl_secs: Some(3),
            ..TeamOptions::default()
        },
    )
    .await;
    let tokens = server.authorize("alice", SCOPES).await;
    assert!(
        tokens.expires_in.is_some_and(|s| s <= 3),
        "expires_in follows JIRA_MCP_ACCESS_TOKEN_TTL_SECS: {tokens:?}"
    );
    let session = server.session(&tokens).await;
    assert_eq!(
        account_id(&session).await,
        SimUser::named("alice").account_id
    );
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert_unauthorized(
        session.call_tool("get_current_user", json!({})).await,
        "an expired access token",
    );
    // Its refresh token still works.
    let fresh = server.refresh(&tokens).await.expect("refresh");
    assert_eq!(
        account_id(&server.session(&fresh).await).await,
        SimUser::named("alice").account_id
    );
}

#[tokio::test]
async fn a_token_for_another_resource_is_never_issued() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;
    let discovery = server.discover().await;
    let client = server
        .register(&discovery, &[&loopback_redirect_uri()])
        .await
        .unwrap();
    for other in ["http://127.0.0.1:1/mcp", "https://example.com/mcp"] {
        let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
        dance.resource = other.to_string();
        let refused = dance
            .run("alice")
            .await
            .expect_err("a token for another resource must be refused at /authorize or /token");
        assert!(
            matches!(refused.step, Step::Authorize | Step::Token),
            "refused at {:?}: {refused:?}",
            refused.step
        );
        assert!(
            refused.status == 400 || refused.error().is_some(),
            "{refused:?}"
        );
    }

    // A code issued for this resource cannot be exchanged for another.
    let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
    let code = dance.code("alice").await.expect("the dance up to the code");
    dance.resource = "http://127.0.0.1:1/mcp".into();
    let refused = dance
        .exchange(&code)
        .await
        .expect_err("a code for /mcp must not give a token for another resource");
    assert_eq!(refused.status, 400, "{refused:?}");
}

/// An Atlassian access token for the recorded user, minted by the simulator
/// directly.
async fn atlassian_access_token(sim: &Simulator) -> String {
    let http = e2e_tests::team::http_client();
    let pkce = e2e_tests::team::Pkce::new();
    let redirect = "http://127.0.0.1:9/callback";
    let authorize = http
        .get(format!("{}/authorize", sim.uri()))
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect),
            ("state", "s"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    let q: HashMap<String, String> = location.query_pairs().into_owned().collect();
    let tokens: Value = http
        .post(format!("{}/oauth/token", sim.uri()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", redirect),
            ("code_verifier", &pkce.verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_atlassian_token_is_not_accepted_at_mcp() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;
    // The users' own Atlassian tokens exist at the server too.
    let _ = server.authorize("alice", SCOPES).await;
    let atlassian = atlassian_access_token(&sim).await;
    assert_unauthorized(
        McpSession::connect(&server, &atlassian).await,
        "an Atlassian access token presented to /mcp",
    );
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_refused_without_redirecting_to_it() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;
    let discovery = server.discover().await;
    let registered = loopback_redirect_uri();
    let client = server.register(&discovery, &[&registered]).await.unwrap();
    for other in [
        // Another port is the same loopback redirect URI (RFC 8252 §7.3);
        // another path is not.
        loopback_redirect_uri().replace("/callback", "/elsewhere"),
        registered.replace("127.0.0.1", "localhost"),
        format!("{registered}/extra"),
        format!("{registered}?x=1"),
        "https://attacker.example/callback".to_string(),
    ] {
        let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
        dance.redirect_uri = other.clone();
        let refused = dance
            .open_consent()
            .await
            .err()
            .unwrap_or_else(|| panic!("the unregistered redirect URI {other} was accepted"));
        assert_eq!(refused.step, Step::Authorize);
        assert!(
            refused
                .location
                .as_deref()
                .is_none_or(|l| !l.starts_with(&other)),
            "the server redirected to the unregistered URI {other}: {refused:?}"
        );
        assert!((400..500).contains(&refused.status), "{other}: {refused:?}");
    }
    // The registered loopback URI on another port (a native client picks a
    // free port each run) completes the whole authorization there.
    let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
    dance.redirect_uri = loopback_redirect_uri();
    assert_ne!(dance.redirect_uri, registered);
    dance
        .run("alice")
        .await
        .expect("the registered loopback redirect URI on another port");

    // An unknown client is refused the same way.
    let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
    dance.client_id = "no-such-client".into();
    let refused = dance.open_consent().await.expect_err("an unknown client");
    assert!((400..500).contains(&refused.status), "{refused:?}");
    assert!(refused.location.is_none(), "{refused:?}");
}

#[tokio::test]
async fn the_consent_page_names_the_client_and_refuses_a_post_without_its_csrf_token() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;
    let discovery = server.discover().await;
    let redirect = loopback_redirect_uri();
    let client = server.register(&discovery, &[&redirect]).await.unwrap();
    let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
    let consent = dance.open_consent().await.expect("the consent page");
    assert!(consent.html.contains("e2e test client"), "names the client");
    assert!(
        consent.html.contains(&client.client_id),
        "names the client id"
    );
    assert!(consent.html.contains(&redirect), "names the redirect URI");
    assert_eq!(decision_buttons(&consent.html), ["approve", "deny"]);
    assert!(
        consent.fields.contains_key("request"),
        "{:?}",
        consent.fields
    );
    let token = consent
        .fields
        .get("csrf_token")
        .cloned()
        .expect("a csrf_token");
    assert_eq!(
        dance.cookies.0.get("jira_mcp_csrf"),
        Some(&token),
        "the CSRF cookie matches the form"
    );

    let approve = |mut fields: BTreeMap<String, String>| {
        fields.insert("decision".into(), "approve".into());
        fields
    };
    // No csrf_token field.
    let mut fields = consent.fields.clone();
    fields.remove("csrf_token");
    let response = dance.post_consent(&consent, &approve(fields), true).await;
    assert_eq!(response.status(), 403, "a POST without csrf_token");
    // The field without the cookie (a cross-site POST).
    let response = dance
        .post_consent(&consent, &approve(consent.fields.clone()), false)
        .await;
    assert_eq!(response.status(), 403, "a POST without the CSRF cookie");
    // A wrong token.
    let mut fields = consent.fields.clone();
    fields.insert("csrf_token".into(), random_text());
    let response = dance.post_consent(&consent, &approve(fields), true).await;
    assert_eq!(response.status(), 403, "a POST with another csrf_token");
    assert_eq!(sim.counters().logins, 0, "nothing reached Atlassian");

    // Deny: the client hears access_denied, and no code.
    let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
    let consent = dance.open_consent().await.unwrap();
    let mut fields = consent.fields.clone();
    fields.insert("decision".into(), "deny".into());
    let response = dance.post_consent(&consent, &fields, true).await;
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        location.starts_with(&redirect) && location.contains("error=access_denied"),
        "deny redirects to the client with access_denied: {location}"
    );
    assert!(!location.contains("code="), "{location}");
}

#[tokio::test]
async fn a_reused_authorization_code_is_refused() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;
    let discovery = server.discover().await;
    let client = server
        .register(&discovery, &[&loopback_redirect_uri()])
        .await
        .unwrap();
    let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
    let code = dance.code("alice").await.expect("a code");

    // The code's first use works, the second does not.
    let tokens = dance.exchange(&code).await.expect("the first exchange");
    let again = dance
        .exchange(&code)
        .await
        .expect_err("a reused code must be refused");
    assert_eq!(again.step, Step::Token);
    assert_eq!(
        (again.status, again.error().as_deref()),
        (400, Some("invalid_grant")),
        "{again:?}"
    );
    drop(tokens);

    // A code with the wrong PKCE verifier is refused too.
    let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
    let code = dance.code("alice").await.expect("a code");
    dance.pkce = e2e_tests::team::Pkce::new();
    let refused = dance.exchange(&code).await.expect_err("a wrong verifier");
    assert_eq!(
        (refused.status, refused.error().as_deref()),
        (400, Some("invalid_grant")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn mcp_refresh_tokens_rotate_and_a_rotated_away_one_is_refused() {
    let sim = Simulator::start(Options::strict()).await;
    let server = start(&sim).await;
    let first = server.authorize("alice", SCOPES).await;
    let second = server.refresh(&first).await.expect("the first refresh");
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(
        second.refresh_token, first.refresh_token,
        "refresh tokens rotate"
    );
    assert!(second.refresh_token.is_some());
    let session = server.session(&second).await;
    assert_eq!(
        account_id(&session).await,
        SimUser::named("alice").account_id
    );

    // The rotated-away refresh token is refused on replay.
    let replay = server.refresh(&first).await;
    assert!(
        matches!(&replay, Err((400, body)) if body["error"] == "invalid_grant"),
        "a replayed refresh token must get invalid_grant: {replay:?}"
    );
    // MCP token refreshes never touch the Atlassian grant.
    assert_eq!(sim.refreshes_of("alice"), 0);
}

/// 20 users, each with several concurrent calls in flight, across an
/// Atlassian access-token expiry: one Atlassian refresh per user, no
/// `invalid_grant`, no failed call.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_users_refresh_their_atlassian_grant_once_each_across_an_expiry() {
    const USERS: usize = 20;
    const CALLS_PER_USER: usize = 5;
    let sim = Arc::new(Simulator::start(Options::strict()).await);
    let server = Arc::new(start(&sim).await);
    let names: Vec<String> = (0..USERS).map(|i| format!("user{i:02}")).collect();

    let mut sessions: Vec<(String, Arc<McpSession>, McpTokens)> = Vec::new();
    for name in &names {
        let tokens = server.authorize(name, SCOPES).await;
        let session = Arc::new(server.session(&tokens).await);
        sessions.push((name.clone(), session, tokens));
    }

    let round = |label: &'static str| {
        let mut calls = Vec::new();
        for (name, session, _) in &sessions {
            for i in 0..CALLS_PER_USER {
                let (name, session) = (name.clone(), session.clone());
                calls.push(tokio::spawn(async move {
                    let outcome = if i % 2 == 0 {
                        session.call_tool("get_current_user", json!({})).await
                    } else {
                        session
                            .call_tool("get_issue", json!({"issue_key": "ED-1"}))
                            .await
                    };
                    match outcome {
                        Ok(o) if !o.is_error => {
                            if i % 2 == 0 {
                                let id = o.json()["account_id"].as_str().map(String::from);
                                (id == Some(SimUser::named(&name).account_id))
                                    .then_some(())
                                    .ok_or(format!("{label}: {name} saw {}", o.text))
                            } else {
                                Ok(())
                            }
                        }
                        Ok(o) => Err(format!("{label}: {name}: tool error {}", o.text)),
                        Err(e) => Err(format!("{label}: {name}: {e:?}")),
                    }
                }));
            }
        }
        calls
    };
    let failures = |results: Vec<Result<(), String>>| -> Vec<String> {
        results.into_iter().filter_map(Result::err).collect()
    };

    let mut results = Vec::new();
    for call in round("before the expiry") {
        results.push(call.await.expect("a call task panicked"));
    }
    let failed = failures(results);
    assert!(
        failed.is_empty(),
        "failed calls: {failed:#?}\n{}",
        server.log()
    );
    assert_eq!(sim.counters().refreshes, 0, "no refresh before the expiry");

    let expired = sim.expire_all_access_tokens();
    assert!(
        expired >= USERS,
        "every user's Atlassian token expired ({expired})"
    );
    let mut results = Vec::new();
    for call in round("across the expiry") {
        results.push(call.await.expect("a call task panicked"));
    }
    let failed = failures(results);
    assert!(
        failed.is_empty(),
        "failed calls: {failed:#?}\n{}",
        server.log()
    );

    let per_user: Vec<(String, usize)> = names
        .iter()
        .map(|n| (n.clone(), sim.refreshes_of(n)))
        .collect();
    assert!(
        per_user.iter().all(|(_, n)| *n == 1),
        "each user's grant is refreshed exactly once: {per_user:?}"
    );
    let counters = sim.counters();
    assert_eq!(counters.invalid_grants, 0, "{counters:?}");
    assert_eq!(counters.revocations, 0, "{counters:?}");
    assert_eq!(counters.refreshes, USERS, "{counters:?}");
}

/// Issue 23 on the team server: each user's `TokenCache` follows the
/// lifetime Atlassian states, also when it is shorter than 30 s. Two users
/// call at 2 per second for 20 s against 2 s access tokens (strict mode, so
/// a replayed refresh token would revoke the grant): no call fails, and
/// each user's grant is refreshed about once per lifetime.
#[tokio::test]
async fn short_atlassian_tokens_are_refreshed_once_per_lifetime_for_each_user() {
    const LIFETIME: Duration = Duration::from_secs(2);
    const CALLS: usize = 40;
    let sim = Arc::new(
        Simulator::start(Options {
            access_ttl: LIFETIME,
            ..Options::strict()
        })
        .await,
    );
    let server = start(&sim).await;
    let mut runs = Vec::new();
    for name in ["ann", "ben"] {
        let tokens = server.authorize(name, SCOPES).await;
        let session = server.session(&tokens).await;
        runs.push(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut ticks = tokio::time::interval(Duration::from_millis(500));
            let mut failed = Vec::new();
            for _ in 0..CALLS {
                ticks.tick().await;
                match session.call_tool("get_current_user", json!({})).await {
                    Ok(o) if !o.is_error => {}
                    Ok(o) => failed.push(o.text),
                    Err(e) => failed.push(format!("{e:?}")),
                }
            }
            (name, failed, started.elapsed())
        }));
    }
    for run in runs {
        let (name, failed, elapsed) = run.await.expect("a user's calls panicked");
        let refreshes = sim.refreshes_of(name);
        let expected = elapsed.as_secs_f64() / LIFETIME.as_secs_f64();
        eprintln!(
            "{name}: {CALLS} calls in {:.1} s, {} failed, {refreshes} refreshes (elapsed/lifetime {expected:.1})",
            elapsed.as_secs_f64(),
            failed.len()
        );
        assert!(failed.is_empty(), "{name}: {failed:#?}\n{}", server.log());
        assert!(
            (refreshes as f64 - expected).abs() <= 1.0,
            "{name}: {refreshes} refreshes, expected {expected:.1}"
        );
    }
    let counters = sim.counters();
    assert_eq!(counters.invalid_grants, 0, "{counters:?}");
    assert_eq!(counters.revocations, 0, "{counters:?}");
}

#[tokio::test]
async fn a_read_only_token_gets_403_insufficient_scope_for_a_write_tool() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;
    let tokens = server.authorize("alice", &["jira:read"]).await;
    let session = server.session(&tokens).await;
    assert_eq!(
        account_id(&session).await,
        SimUser::named("alice").account_id
    );
    let write = session
        .call_tool(
            "add_comment",
            json!({"issue_key": "ED-1", "body": "from a read-only token"}),
        )
        .await;
    match write {
        Err(McpError::Http {
            status: 403,
            www_authenticate: Some(challenge),
            ..
        }) => {
            assert_eq!(
                auth_param(&challenge, "error").as_deref(),
                Some("insufficient_scope"),
                "{challenge}"
            );
            assert!(
                auth_param(&challenge, "scope").is_some_and(|s| s.contains("jira:write")),
                "the challenge names the scope to ask for: {challenge}"
            );
        }
        other => panic!("a write tool with a read-only token must get 403: {other:?}"),
    }
    let writes = sim
        .jira_requests()
        .await
        .into_iter()
        .filter(|(method, ..)| method != "GET")
        .count();
    assert_eq!(writes, 0, "nothing was written to Jira");
}

#[tokio::test]
async fn tool_calls_are_audited_and_no_token_reaches_the_log() {
    let sim = Simulator::start(Options::default()).await;
    let server = TeamServer::start(
        &sim,
        TeamOptions {
            log: Some("debug".into()),
            ..TeamOptions::default()
        },
    )
    .await;
    let tokens = server.authorize("alice", SCOPES).await;
    let session = server.session(&tokens).await;
    let issue = session
        .call_tool("get_issue", json!({"issue_key": "ED-1"}))
        .await
        .expect("get_issue");
    assert!(!issue.is_error, "{}", issue.text);
    sim.expire_all_access_tokens();
    let _ = account_id(&session).await; // an Atlassian refresh, logged at debug
    let refreshed = server.refresh(&tokens).await.expect("an MCP refresh");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = server.log();
    let audit = log
        .lines()
        .find(|l| l.contains("get_issue") && l.contains("ED-1"))
        .unwrap_or_else(|| panic!("no audit line for get_issue ED-1 in:\n{log}"));
    assert!(
        audit.contains(&SimUser::named("alice").account_id) || audit.contains("alice"),
        "the audit line names the user: {audit}"
    );
    let mut secrets = vec![tokens.access_token.clone(), refreshed.access_token.clone()];
    secrets.extend(tokens.refresh_token.clone());
    secrets.extend(refreshed.refresh_token.clone());
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "an MCP token is in the log:\n{log}"
        );
    }
    // The simulator's tokens, codes and the app's secret.
    for marker in ["sim-at-", "sim-rt-", "sim-code-", CLIENT_SECRET] {
        assert!(!log.contains(marker), "{marker}… is in the log:\n{log}");
    }
}

/// `jira-mcp team revoke` ends one user's MCP tokens and nobody else's;
/// `jira-mcp team delete` removes the user with their Atlassian grant, so
/// even a new authorization starts from Atlassian's consent again.
#[tokio::test]
async fn the_admin_commands_revoke_and_delete_one_user_only() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;
    let (alice_tokens, bob_tokens) = (
        server.authorize("alice", SCOPES).await,
        server.authorize("bob", SCOPES).await,
    );
    let (alice, bob) = (
        server.session(&alice_tokens).await,
        server.session(&bob_tokens).await,
    );
    let alice_account = account_id(&alice).await;
    let bob_account = account_id(&bob).await;

    // The admin commands need the store's URL only, not the server's
    // address, keys or Atlassian app.
    let listed = server.admin_store_only(&["team", "users"]).await;
    assert!(listed.status.success(), "{listed:?}");
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(
        table.contains(&alice_account) && table.contains(&bob_account),
        "{table}"
    );

    let revoked = server
        .admin_store_only(&["team", "revoke", &alice_account])
        .await;
    assert!(revoked.status.success(), "{revoked:?}");
    assert_unauthorized(
        alice.call_tool("get_current_user", json!({})).await,
        "alice after `team revoke`",
    );
    let refreshed = server.refresh(&alice_tokens).await;
    assert!(
        matches!(&refreshed, Err((400, body)) if body["error"] == "invalid_grant"),
        "alice's refresh token is revoked too: {refreshed:?}"
    );
    assert_eq!(account_id(&bob).await, bob_account, "bob is untouched");

    let deleted = server.admin(&["team", "delete", &bob_account]).await;
    assert!(deleted.status.success(), "{deleted:?}");
    assert_unauthorized(
        bob.call_tool("get_current_user", json!({})).await,
        "bob after `team delete`",
    );
    let listed = server.admin(&["team", "users"]).await;
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(!table.contains(&bob_account), "bob is gone: {table}");
    assert!(
        table.contains(&alice_account),
        "alice stays listed: {table}"
    );

    let unknown = server.admin(&["team", "delete", "nobody"]).await;
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("team users"),
        "an unknown user is named with the command that lists them: {unknown:?}"
    );
}

/// Issue 16, point 10: a code issued to alice just before `jira-mcp team
/// revoke alice` gives no tokens after it.
#[tokio::test]
async fn a_code_issued_before_team_revoke_is_refused_after_it() {
    let sim = Simulator::start(Options::default()).await;
    let server = start(&sim).await;
    let tokens = server.authorize("alice", SCOPES).await;
    let alice = account_id(&server.session(&tokens).await).await;
    let discovery = server.discover().await;
    let client = server
        .register(&discovery, &[&loopback_redirect_uri()])
        .await
        .unwrap();
    let mut dance = Dance::new(&server, &discovery, &client, SCOPES);
    let code = dance.code("alice").await.expect("a code");

    let revoked = server.admin(&["team", "revoke", &alice]).await;
    assert!(revoked.status.success(), "{revoked:?}");
    let refused = dance
        .exchange(&code)
        .await
        .expect_err("a code issued before `team revoke` must be refused after it");
    assert_eq!(
        (refused.status, refused.error().as_deref()),
        (400, Some("invalid_grant")),
        "{refused:?}"
    );
}

/// Issue 16, point 4: `serve --http` limits registrations per address, and
/// behind a trusted proxy the address is the one the proxy forwarded (so
/// the server must know its peer's address: one client's flood does not
/// lock out another).
#[tokio::test]
async fn registrations_are_limited_per_forwarded_address_behind_a_trusted_proxy() {
    let sim = Simulator::start(Options::default()).await;
    let server = TeamServer::start(
        &sim,
        TeamOptions {
            env: vec![
                ("JIRA_MCP_REGISTER_RATE_LIMIT".into(), "1".into()),
                ("JIRA_MCP_TRUSTED_PROXIES".into(), "127.0.0.1".into()),
            ],
            ..TeamOptions::default()
        },
    )
    .await;
    let register = |forwarded: &'static str| {
        server
            .http()
            .post(server.url("/register"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"redirect_uris": [loopback_redirect_uri()], "token_endpoint_auth_method": "none"}))
            .send()
    };
    assert_eq!(register("203.0.113.7").await.unwrap().status(), 201);
    let refused = register("203.0.113.7").await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(register("203.0.113.8").await.unwrap().status(), 201);
}

/// `jira-mcp health` (the image's healthcheck; the image has no curl): 0
/// while the server is ready, asking `/readyz` with a Host the server
/// accepts (the first of JIRA_MCP_ALLOWED_HOSTS, here the public URL's
/// `localhost:PORT`) at the address it listens on; 1 with the cause once the
/// server is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_command_checks_readiness_with_an_accepted_host() {
    let sim = Simulator::start(Options::default()).await;
    let port = e2e_tests::team::free_port();
    let public = format!("http://localhost:{port}");
    let mut server = TeamServer::start(
        &sim,
        TeamOptions {
            port: Some(port),
            public_url: Some(public),
            ..TeamOptions::default()
        },
    )
    .await;

    let ok = server.admin(&["health"]).await;
    let said = String::from_utf8_lossy(&ok.stderr).to_string();
    assert!(
        ok.status.success(),
        "health failed on a ready server: {said}"
    );
    assert!(said.contains("ready"), "{said}");

    server.kill().await;
    let down = server.admin(&["health"]).await;
    let said = String::from_utf8_lossy(&down.stderr).to_string();
    assert_eq!(down.status.code(), Some(1), "{said}");
    assert!(
        said.contains("/readyz") && said.contains("did not answer"),
        "{said}"
    );
}
