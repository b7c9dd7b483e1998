//! The simulated Atlassian follows the rules the other tests rely on: a
//! confidential client, PKCE, rotating refresh tokens, and a replayed refresh
//! token revoking the whole grant.

use std::collections::HashMap;

use e2e_tests::sim::{CLIENT_ID, CLIENT_SECRET, CLOUD_ID, Options, Simulator};
use serde_json::Value;

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
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = "KHRP9GVarIokoOJJOXkSpx6S8MyZvmBjMOhTer1g-Co"; // S256 of the verifier
    let redirect = "http://127.0.0.1:9/callback";
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = no_redirects
        .get(format!("{}/authorize", sim.uri()))
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

#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_whole_grant() {
    let sim = Simulator::start(Options::default()).await;
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
