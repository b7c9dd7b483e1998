//! Shows gouqi-oauth's refresh behaviour against a local fake Atlassian
//! (token endpoint and Jira, on 127.0.0.1), with nothing to configure:
//!
//! ```sh
//! cargo run -p gouqi-oauth --example refresh_demo
//! ```

use std::time::{Duration, SystemTime};

use gouqi_oauth::r#async::Jira;
use gouqi_oauth::{
    AccessToken, ClientId, ClientSecret, FileStore, RefreshToken, TokenCache, TokenSet,
    TokenSource, TokenStore, TokenUrl,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUE: &str = include_str!("../../fixtures/jira/issue.json");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let atlassian = fake_atlassian().await;
    let dir = tempfile::tempdir()?;
    let store = FileStore::new(dir.path().join("tokens.json"));

    // A login from an hour ago: the access token expires in 60 s, inside the skew window.
    let obtained_at = SystemTime::now() - Duration::from_secs(3540);
    store.save(&TokenSet {
        access_token: AccessToken::new("access-0".into()),
        refresh_token: Some(RefreshToken::new("refresh-0".into())),
        expires_at: Some(obtained_at + Duration::from_secs(3600)),
        obtained_at,
        scopes: vec!["read:jira-work".into()],
        site: None,
    })?;

    let source = |uri: &str| -> Result<TokenSource, Box<dyn std::error::Error>> {
        Ok(TokenSource::new(
            ClientId::new("demo-client".into()),
            TokenUrl::new(format!("{uri}/oauth/token"))?,
        )?
        .client_secret(ClientSecret::new("demo-secret".into())))
    };
    let jira = Jira::new(
        atlassian.uri(),
        TokenCache::new(source(&atlassian.uri())?, store.clone()),
    )?;

    println!(
        "1. The stored access token expires within the skew window: refreshed before the request."
    );
    let issue = jira
        .call(|j| async move { j.issues().get("ED-1").await })
        .await?;
    println!(
        "   got {} with access-1; the token file holds the rotated refresh token.",
        issue.key
    );

    println!(
        "2. Another process sharing the token file rotates again (access-2); Jira now rejects access-1."
    );
    TokenCache::new(source(&atlassian.uri())?, store.clone())
        .force_refresh()
        .await?;
    let issue = jira
        .call(|j| async move { j.issues().get("ED-1").await })
        .await?;
    println!(
        "   our 401 made us re-read the file and adopt access-2, without replaying refresh-1; got {}.",
        issue.key
    );

    let stored = store.load()?.ok_or("no tokens stored")?;
    println!("   tokens in {}: {:?}", store.path().display(), stored);
    let calls = atlassian.received_requests().await.unwrap_or_default();
    let refreshes = calls
        .iter()
        .filter(|r| r.url.path() == "/oauth/token")
        .count();
    println!(
        "Token endpoint calls: {refreshes} (one per rotation). Secrets above print as [redacted]."
    );
    Ok(())
}

/// Rotates access-0 → access-1 → access-2 (a replayed refresh token gets no answer);
/// Jira accepts access-1 once, then only access-2.
async fn fake_atlassian() -> MockServer {
    let server = MockServer::start().await;
    for (from, to) in [("refresh-0", 1), ("refresh-1", 2)] {
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(wiremock::matchers::body_string_contains(
                format!("refresh_token={from}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": format!("access-{to}"), "refresh_token": format!("refresh-{to}"),
                "expires_in": 3600, "token_type": "Bearer"
            })))
            .mount(&server)
            .await;
    }
    let issue = |token: &str| {
        Mock::given(method("GET")).and(header("authorization", format!("Bearer {token}").as_str()))
    };
    issue("access-1")
        .respond_with(ResponseTemplate::new(200).set_body_raw(ISSUE, "application/json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    issue("access-1")
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    issue("access-2")
        .respond_with(ResponseTemplate::new(200).set_body_raw(ISSUE, "application/json"))
        .mount(&server)
        .await;
    server
}
