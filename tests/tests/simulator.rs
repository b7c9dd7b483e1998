//! The simulated Atlassian follows the rules the other tests rely on: a
//! confidential client, PKCE, rotating refresh tokens with Atlassian's reuse
//! interval (or strict mode), the client-credentials grant, and the Jira
//! endpoints jira-mcp's tools call.

use std::collections::HashMap;
use std::time::Duration;

use e2e_tests::sim::{
    CLIENT_ID, CLIENT_SECRET, CLOUD_ID, Options, RECORDED_USER, SERVICE_ACCOUNT_NAME, SimUser,
    Simulator, USER_HEADER,
};
use serde_json::{Value, json};

async fn post_token(sim: &Simulator, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/token", sim.uri()))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Logs in by hand: authorize (auto-approved), then exchange the code.
async fn login(sim: &Simulator) -> Value {
    login_as(sim, None).await
}

/// Like [`login`], as the simulated user `user` (`X-Sim-User`).
async fn login_as(sim: &Simulator, user: Option<&str>) -> Value {
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = "KHRP9GVarIokoOJJOXkSpx6S8MyZvmBjMOhTer1g-Co"; // S256 of the verifier
    let redirect = "http://127.0.0.1:9/callback";
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut authorize = no_redirects.get(format!("{}/authorize", sim.uri()));
    if let Some(user) = user {
        authorize = authorize.header(USER_HEADER, user);
    }
    let authorize = authorize
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect),
            ("state", "s"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 302);
    let location = url::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    let q: HashMap<String, String> = location.query_pairs().into_owned().collect();
    let (status, tokens) = post_token(
        sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn refresh(sim: &Simulator, token: &str) -> (u16, Value) {
    post_token(
        sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
    )
    .await
}

/// GET (or POST with `body`) on the simulated Jira: (status, JSON or Null).
async fn jira(sim: &Simulator, token: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/ex/jira/{CLOUD_ID}/rest/api/3/{path}", sim.uri());
    let client = reqwest::Client::new();
    let request = match body {
        Some(body) => client.post(url).json(&body),
        None => client.get(url),
    };
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn access_token(sim: &Simulator) -> String {
    login(sim).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_whole_grant_in_strict_mode() {
    let sim = Simulator::start(Options::strict()).await;
    let first = login(&sim).await;
    let old = first["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(&sim, old).await;
    assert_eq!(status, 200);
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "refresh tokens rotate"
    );

    let (status, body) = refresh(&sim, old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_grant"))
    );
    // The newest refresh token and its access token die with the grant.
    let (status, _) = refresh(&sim, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 403);
    let me = reqwest::Client::new()
        .get(format!(
            "{}/ex/jira/{CLOUD_ID}/rest/api/3/myself",
            sim.uri()
        ))
        .bearer_auth(second["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    assert_eq!(sim.counters().revocations, 1);
}

#[tokio::test]
async fn a_wrong_client_secret_or_pkce_verifier_is_refused() {
    let sim = Simulator::start(Options::default()).await;
    let (status, body) = post_token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = post_token(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", "never-issued"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_verifier", "v"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn jira_answers_401_to_unknown_tokens_and_400_to_bad_input() {
    let sim = Simulator::start(Options::default()).await;
    let api = format!("{}/ex/jira/{CLOUD_ID}/rest/api/3", sim.uri());
    let client = reqwest::Client::new();
    let unknown = client
        .get(format!("{api}/issue/ED-1"))
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let token = login(&sim).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = client
        .post(format!("{api}/issue"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"fields": {"project": {"key": "ED"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(
        body["errors"]["summary"],
        "You must specify a summary of the issue."
    );
}

#[tokio::test]
async fn by_default_a_replay_within_the_reuse_interval_rotates_again() {
    let sim = Simulator::start(Options::default()).await;
    assert_eq!(
        Options::default().reuse_interval,
        Duration::from_secs(600),
        "Atlassian's interval"
    );
    let first = login(&sim).await;
    let old = first["refresh_token"].as_str().unwrap();
    let (_, second) = refresh(&sim, old).await;

    // The client that lost `second` replays `old`: a new, valid pair.
    let (status, replayed) = refresh(&sim, old).await;
    assert_eq!(status, 200, "{replayed}");
    assert_ne!(replayed["refresh_token"], second["refresh_token"]);
    assert_ne!(replayed["access_token"], second["access_token"]);
    let (status, _) = jira(
        &sim,
        replayed["access_token"].as_str().unwrap(),
        "myself",
        None,
    )
    .await;
    assert_eq!(status, 200);
    // Both rotated tokens stay usable within the interval, so does the newest.
    for token in [&second, &replayed] {
        let (status, body) = refresh(&sim, token["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{body}");
    }
    let counters = sim.counters();
    assert_eq!(
        (
            counters.refreshes,
            counters.revocations,
            counters.invalid_grants
        ),
        (4, 0, 0),
        "{counters:?}"
    );
}

#[tokio::test]
async fn a_replay_after_the_reuse_interval_revokes_the_grant() {
    let sim = Simulator::start(Options {
        reuse_interval: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let first = login(&sim).await;
    let old = first["refresh_token"].as_str().unwrap();
    let (_, second) = refresh(&sim, old).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (status, body) = refresh(&sim, old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_grant"))
    );
    let (status, _) = refresh(&sim, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 403, "the newest refresh token dies with the grant");
    let (status, _) = jira(
        &sim,
        second["access_token"].as_str().unwrap(),
        "myself",
        None,
    )
    .await;
    assert_eq!(status, 401);
    let counters = sim.counters();
    assert_eq!(
        (
            counters.refreshes,
            counters.revocations,
            counters.invalid_grants
        ),
        (1, 1, 2),
        "{counters:?}"
    );
}

async fn client_credentials(sim: &Simulator, secret: &str) -> (u16, Value) {
    post_token(
        sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
        ],
    )
    .await
}

#[tokio::test]
async fn the_client_credentials_grant_gives_a_service_account_token_without_refresh_token() {
    let sim = Simulator::start(Options::default()).await;
    let (status, body) = client_credentials(&sim, "wrong").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("access_denied"))
    );

    let (status, tokens) = client_credentials(&sim, CLIENT_SECRET).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let token = tokens["access_token"].as_str().unwrap();
    let (status, me) = jira(&sim, token, "myself", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (me["displayName"].as_str(), me["accountType"].as_str()),
        (Some(SERVICE_ACCOUNT_NAME), Some("app"))
    );
    // A user's revocation is not the service account's.
    sim.revoke_all();
    let (status, _) = jira(&sim, token, "issueLinkType", None).await;
    assert_eq!(status, 200);
    let counters = sim.counters();
    assert_eq!(
        (
            counters.service_tokens,
            counters.logins,
            counters.token_requests
        ),
        (1, 0, 2),
        "{counters:?}"
    );
}

const NEW_ENDPOINTS: [&str; 6] = [
    "user/search?query=mia",
    "issueLinkType",
    "issue/createmeta/ED/issuetypes",
    "issue/createmeta/ED/issuetypes/10001",
    "issue/ED-1/remotelink",
    "issueLink",
];

async fn call_endpoint(sim: &Simulator, token: &str, path: &str) -> (u16, Value) {
    let link = json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "ED-2"}, "outwardIssue": {"key": "ED-1"}});
    let body = (path == "issueLink").then_some(link);
    jira(sim, token, path, body).await
}

#[tokio::test]
async fn the_tool_endpoints_answer_401_to_unknown_and_expired_tokens() {
    const TTL: Duration = Duration::from_secs(2);
    let sim = Simulator::start(Options {
        access_ttl: TTL,
        ..Options::default()
    })
    .await;
    // A fresh token for each endpoint: a loaded machine must not expire one
    // before its first use.
    let mut used = Vec::new();
    for path in NEW_ENDPOINTS {
        assert_eq!(call_endpoint(&sim, "made-up", path).await.0, 401, "{path}");
        let token = access_token(&sim).await;
        let (status, body) = call_endpoint(&sim, &token, path).await;
        assert!(status == 200 || status == 201, "{path}: {status} {body}");
        used.push((path, token));
    }
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;
    for (path, token) in used {
        assert_eq!(call_endpoint(&sim, &token, path).await.0, 401, "{path}");
    }
}

#[tokio::test]
async fn user_search_finds_by_name_or_account_id_and_refuses_bad_input() {
    let sim = Simulator::start(Options::default()).await;
    let token = access_token(&sim).await;
    let (status, users) = jira(&sim, &token, "user/search?query=KRYSTOF", None).await;
    assert_eq!(status, 200);
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
    assert_eq!(users[0]["accountId"], "5b10a2844c20165700ede21g");
    let by_id = jira(
        &sim,
        &token,
        "user/search?accountId=5b10a2844c20165700ede21g",
        None,
    )
    .await;
    assert_eq!(by_id, (200, users));
    let none = jira(&sim, &token, "user/search?query=nobody", None).await;
    assert_eq!(none, (200, json!([])));
    for bad in [
        "user/search",
        "user/search?query=mia&accountId=x",
        "user/search?query=mia&maxResults=many",
    ] {
        let (status, body) = jira(&sim, &token, bad, None).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["errorMessages"][0].is_string(), "{bad}: {body}");
    }
}

#[tokio::test]
async fn link_types_and_create_metadata_come_from_the_fixtures() {
    let sim = Simulator::start(Options::default()).await;
    let token = access_token(&sim).await;
    let (_, types) = jira(&sim, &token, "issueLinkType", None).await;
    let names: Vec<&str> = types["issueLinkTypes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["Blocks", "Duplicate", "Relates"]);

    let (_, page) = jira(&sim, &token, "issue/createmeta/ED/issuetypes", None).await;
    assert_eq!(page["issueTypes"].as_array().map(Vec::len), Some(3));
    let (_, page) = jira(
        &sim,
        &token,
        "issue/createmeta/MKY/issuetypes?startAt=1&maxResults=1",
        None,
    )
    .await;
    assert_eq!(
        (
            &page["issueTypes"][0]["name"],
            &page["total"],
            &page["startAt"]
        ),
        (&json!("Bug"), &json!(3), &json!(1))
    );
    let (_, fields) = jira(&sim, &token, "issue/createmeta/ED/issuetypes/10002", None).await;
    assert_eq!(fields["fields"].as_array().map(Vec::len), Some(5));
    assert_eq!(fields["fields"][0]["fieldId"], "summary");
    for bad in [
        "issue/createmeta/NOPE/issuetypes",
        "issue/createmeta/NOPE/issuetypes/10001",
        "issue/createmeta/ED/issuetypes/99999",
        "issue/createmeta/ED/issuetypes?maxResults=-1",
    ] {
        let (status, body) = jira(&sim, &token, bad, None).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[tokio::test]
async fn issue_links_are_validated_and_recorded() {
    let sim = Simulator::start(Options::default()).await;
    let token = access_token(&sim).await;
    let link = |kind: Value, inward: &str, outward: &str| json!({"type": kind, "inwardIssue": {"key": inward}, "outwardIssue": {"key": outward}});
    let mut commented = link(json!({"id": "10003"}), "ED-1", "ED-2");
    commented["comment"] = json!({"body": "not ADF"});
    let refused = [
        (link(json!({"name": "Clones"}), "ED-1", "ED-2"), 404),
        (link(json!({"name": "Blocks"}), "ED-1", "ED-404"), 404),
        (
            json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "ED-1"}}),
            400,
        ),
        (commented, 400),
    ];
    for (body, want) in refused {
        let (status, answer) = jira(&sim, &token, "issueLink", Some(body.clone())).await;
        assert_eq!(status, want, "{body} -> {answer}");
    }
    assert!(sim.issue_links().is_empty());

    let mut good = link(json!({"name": "blocks"}), "ED-2", "ED-1");
    good["comment"] = json!({"body": {"type": "doc", "version": 1, "content": []}});
    assert_eq!(
        jira(&sim, &token, "issueLink", Some(good)).await,
        (201, Value::Null)
    );
    let links = sim.issue_links();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (&links[0]["type"]["name"], &links[0]["outwardIssue"]["key"]),
        (&json!("Blocks"), &json!("ED-1"))
    );
    let (_, issue) = jira(&sim, &token, "issue/ED-2", None).await;
    assert_eq!(
        issue["fields"]["issuelinks"][0]["outwardIssue"]["key"],
        "ED-1"
    );
}

#[tokio::test]
async fn remote_links_are_served_for_ed_1_and_none_elsewhere() {
    let sim = Simulator::start(Options::default()).await;
    let token = access_token(&sim).await;
    let (status, links) = jira(&sim, &token, "issue/ED-1/remotelink", None).await;
    assert_eq!(status, 200);
    assert_eq!(links.as_array().map(Vec::len), Some(2));
    let (status, one) = jira(
        &sim,
        &token,
        "issue/ED-1/remotelink?globalId=system%3Dhttps%3A%2F%2Fsupport.example.com%26id%3D1",
        None,
    )
    .await;
    assert_eq!((status, &one["id"]), (200, &json!(10001)));
    assert_eq!(
        jira(&sim, &token, "issue/ED-2/remotelink", None).await,
        (200, json!([]))
    );
    assert_eq!(
        jira(&sim, &token, "issue/ED-404/remotelink", None).await.0,
        404
    );
}

fn token_of(tokens: &Value, name: &str) -> String {
    tokens[name].as_str().unwrap().to_string()
}

#[tokio::test]
async fn each_simulated_user_has_a_stable_identity_of_their_own() {
    let sim = Simulator::start(Options::default()).await;
    let alice = token_of(&login_as(&sim, Some("alice")).await, "access_token");
    let bob = token_of(&login_as(&sim, Some("bob")).await, "access_token");
    let alice_again = token_of(&login_as(&sim, Some("alice")).await, "access_token");
    let recorded = access_token(&sim).await;

    let (_, a) = jira(&sim, &alice, "myself", None).await;
    let (_, b) = jira(&sim, &bob, "myself", None).await;
    let (_, a2) = jira(&sim, &alice_again, "myself", None).await;
    let (_, m) = jira(&sim, &recorded, "myself", None).await;
    assert_eq!(a["accountId"], "712020:sim-user-alice");
    assert_eq!(a["emailAddress"], "alice@example.com");
    assert_eq!(b["accountId"], "712020:sim-user-bob");
    assert_ne!(a["displayName"], b["displayName"]);
    assert_eq!(a, a2, "a user's identity is the same on every login");
    // No header: the recorded user, as before.
    let recorded_me: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/jira/myself.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(m, recorded_me);
    assert_eq!(
        SimUser::named(RECORDED_USER).account_id,
        recorded_me["accountId"]
    );

    // `user?accountId=` answers any user who has logged in, for any token.
    let (status, found) = jira(&sim, &alice, "user?accountId=712020:sim-user-bob", None).await;
    assert_eq!(
        (status, found["displayName"].as_str()),
        (200, Some("Sim User bob"))
    );
    let (status, _) = jira(&sim, &alice, "user?accountId=712020:sim-user-nobody", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_user_name_that_cannot_be_an_account_id_is_refused() {
    let sim = Simulator::start(Options::default()).await;
    let response = reqwest::Client::new()
        .get(format!("{}/authorize", sim.uri()))
        .header(USER_HEADER, "not a name/..")
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            (
                "code_challenge",
                "KHRP9GVarIokoOJJOXkSpx6S8MyZvmBjMOhTer1g-Co",
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn counters_are_kept_per_user_and_a_replay_revokes_only_that_users_grant() {
    let sim = Simulator::start(Options::strict()).await;
    let alice = login_as(&sim, Some("alice")).await;
    let bob = login_as(&sim, Some("bob")).await;
    let alice_rt = token_of(&alice, "refresh_token");
    let (status, rotated) = refresh(&sim, &alice_rt).await;
    assert_eq!(status, 200);
    let (status, _) = refresh(&sim, &token_of(&rotated, "refresh_token")).await;
    assert_eq!(status, 200);
    let (status, _) = refresh(&sim, &token_of(&bob, "refresh_token")).await;
    assert_eq!(status, 200);
    assert_eq!((sim.refreshes_of("alice"), sim.refreshes_of("bob")), (2, 1));
    assert_eq!(sim.refreshes_of("carol"), 0);

    // Alice replays a rotated-away token: her grant is revoked, Bob's is not.
    let (status, _) = refresh(&sim, &alice_rt).await;
    assert_eq!(status, 403);
    assert_eq!(
        (sim.invalid_grants_of("alice"), sim.invalid_grants_of("bob")),
        (1, 0)
    );
    assert_eq!(sim.counters_of("alice").revocations, 1);
    assert_eq!(sim.counters_of("alice").logins, 1);
    // 1 code exchange + 3 refresh requests for Alice, 1 + 1 for Bob.
    assert_eq!(
        (sim.token_requests_of("alice"), sim.token_requests_of("bob")),
        (4, 2)
    );
    let (status, me) = jira(&sim, &token_of(&bob, "access_token"), "myself", None).await;
    assert_eq!(
        (status, me["accountId"].as_str()),
        (200, Some("712020:sim-user-bob"))
    );
    // The totals add up.
    let all = sim.counters();
    assert_eq!((all.refreshes, all.invalid_grants, all.logins), (3, 1, 2));
}

#[tokio::test]
async fn access_tokens_expire_on_demand_per_user_or_for_everyone() {
    let sim = Simulator::start(Options::default()).await;
    let alice = token_of(&login_as(&sim, Some("alice")).await, "access_token");
    let bob_tokens = login_as(&sim, Some("bob")).await;
    let bob = token_of(&bob_tokens, "access_token");

    assert_eq!(sim.expire_access_tokens_of("alice"), 1);
    let (status, _) = jira(&sim, &alice, "myself", None).await;
    assert_eq!(status, 401, "an expired token is refused as at Atlassian");
    let (status, _) = jira(&sim, &bob, "myself", None).await;
    assert_eq!(status, 200, "other users' tokens live on");

    // The refresh token still works, and the new access token is live.
    let (status, fresh) = refresh(&sim, &token_of(&bob_tokens, "refresh_token")).await;
    assert_eq!(status, 200);
    // The test endpoint, for clients in another process (the Python SDK test).
    let expired: Value = reqwest::Client::new()
        .post(format!("{}/_sim/expire-access-tokens?user=bob", sim.uri()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(expired["expired"], 2, "Bob's first and refreshed tokens");
    let (status, _) = jira(&sim, &token_of(&fresh, "access_token"), "myself", None).await;
    assert_eq!(status, 401);
    assert_eq!(sim.expire_all_access_tokens(), 0, "nothing left alive");

    // A short lifetime for tokens minted from now on.
    sim.set_access_ttl(Duration::from_secs(1));
    let short = login_as(&sim, Some("carol")).await;
    assert_eq!(short["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = jira(&sim, &token_of(&short, "access_token"), "myself", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn like_atlassian_the_simulator_refuses_the_resource_parameter() {
    let sim = Simulator::start(Options::default()).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = no_redirects
        .get(format!("{}/authorize", sim.uri()))
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("state", "s"),
            (
                "code_challenge",
                "KHRP9GVarIokoOJJOXkSpx6S8MyZvmBjMOhTer1g-Co",
            ),
            ("code_challenge_method", "S256"),
            ("resource", "http://127.0.0.1:8/mcp"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 302);
    let location = authorize.headers()["location"].to_str().unwrap();
    assert!(location.contains("error=invalid_target"), "{location}");
    assert!(!location.contains("code="), "{location}");

    let tokens = login(&sim).await;
    let (status, body) = post_token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("resource", "http://127.0.0.1:8/mcp"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    assert_eq!(sim.counters().refreshes, 0);
}
