//! With `gouqi::Credentials::from(cache)` (feature `gouqi-provider`), gouqi
//! itself sends the token: captures every tracing event and span at TRACE
//! across a login, a refresh after a 401 and requests from both of gouqi's
//! clients, plus the Debug and Display of the values involved, and checks
//! that no token or secret shows up.
#![cfg(feature = "gouqi-provider")]

mod common;

use common::*;
use gouqi_oauth::{MemoryStore, TokenCache};
use oauth2::{AuthorizationCode, PkceCodeChallenge, RedirectUrl};
use wiremock::matchers::body_string_contains;
use wiremock::{MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_secret_reaches_logs_through_gouqi_credentials_oauth() {
    let captured = capture_trace();

    let server = MockServer::start().await;
    token_post()
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(token_ok(token_json(
            "token/authorization-code.json",
            "SECRET-ACCESS-0",
            "SECRET-REFRESH-0",
        )))
        .expect(1)
        .mount(&server)
        .await;
    token_post()
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "SECRET-ACCESS-1",
            "SECRET-REFRESH-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    issue_unauthorized("SECRET-ACCESS-0")
        .expect(1)
        .mount(&server)
        .await;
    issue_ok("SECRET-ACCESS-1").expect(3).mount(&server).await;

    // Login: exchange a code, store the tokens (aged, so a 401 may refresh them).
    let source = source(&server);
    let (_challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let redirect = RedirectUrl::new("http://127.0.0.1:8080/callback".into()).unwrap();
    let mut tokens = source
        .exchange_code(
            AuthorizationCode::new("SECRET-AUTH-CODE".into()),
            verifier,
            &redirect,
        )
        .await
        .unwrap();
    tokens.obtained_at -= std::time::Duration::from_secs(600);
    let cache = TokenCache::new(source.clone(), MemoryStore::with_tokens(tokens));
    let credentials = gouqi::Credentials::from(cache.clone());

    // Requests through gouqi's async client: a 401, one refresh, the retry.
    let jira = gouqi::r#async::Jira::new(server.uri(), credentials.clone()).unwrap();
    jira.issues().get("ED-1").await.unwrap();
    let _: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();
    // And through gouqi's blocking client.
    let uri = server.uri();
    let blocking_credentials = credentials.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        let jira = gouqi::Jira::new(uri, blocking_credentials).unwrap();
        jira.issues().get("ED-1").unwrap();
        format!("{jira:?}")
    })
    .await
    .unwrap();

    // A provider failure whose message could echo what was sent.
    let failing = MockServer::start().await;
    token_post()
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw(fixture("token/invalid-grant.json"), "application/json"),
        )
        .mount(&failing)
        .await;
    issue_unauthorized("SECRET-ACCESS-0").mount(&failing).await;
    let failing_jira = gouqi::r#async::Jira::new(
        failing.uri(),
        gouqi::Credentials::from(TokenCache::new(
            common::source(&failing),
            MemoryStore::with_tokens(valid_tokens("SECRET-ACCESS-0", "SECRET-REFRESH-1")),
        )),
    )
    .unwrap();
    let err = failing_jira.issues().get("ED-1").await.unwrap_err();
    assert!(matches!(err, gouqi::Error::TokenProvider(_)), "{err:?}");

    let mut shown = String::from_utf8(captured.0.lock().clone()).unwrap();
    for debug in [
        format!("{jira:?}"),
        blocking,
        format!("{credentials:?}"),
        format!("{cache:?}"),
        format!("{:?}", gouqi::AccessToken::new("SECRET-ACCESS-1")),
        format!("{err:?} {err}"),
    ] {
        shown.push_str(&debug);
    }

    // The capture really holds gouqi's request spans and our refresh events.
    assert!(
        shown.contains("jira_request"),
        "gouqi's spans were not captured"
    );
    assert!(
        shown.contains("obtained a new access token"),
        "refresh events were not captured"
    );
    assert!(
        shown.contains("asking the token provider for a new token"),
        "gouqi's retry was not captured"
    );
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} leaked into:\n{shown}");
    }
}
