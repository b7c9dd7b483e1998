//! Captures every tracing event and span at TRACE across a login, a refresh
//! and requests (gouqi's spans included), and checks no secret shows up,
//! nor in the Debug or Display of any public type.

mod common;

use common::*;
use gouqi_oauth::r#async::Jira;
use gouqi_oauth::{MemoryStore, TokenCache, TokenStore};
use oauth2::{AuthorizationCode, PkceCodeChallenge, RedirectUrl};
use wiremock::matchers::body_string_contains;
use wiremock::{MockServer, ResponseTemplate};

#[tokio::test]
async fn no_token_or_secret_reaches_logs_or_debug_output() {
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
    issue_ok("SECRET-ACCESS-1").expect(2).mount(&server).await;

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
    let store = MemoryStore::with_tokens(tokens.clone());
    let cache = TokenCache::new(source.clone(), store.clone());
    let jira = Jira::new(server.uri(), cache.clone()).unwrap();

    // Requests: a 401, one refresh, the retry, then gouqi's typed interface.
    let _: gouqi::Issue = jira.get("api", "/issue/ED-1").await.unwrap();
    jira.issues().get("ED-1").await.unwrap();
    let token = cache.peek().await.unwrap();

    // A failure whose message could echo what was sent.
    let failing = MockServer::start().await;
    token_post()
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(fixture("token/invalid-grant.json"), "application/json"),
        )
        .mount(&failing)
        .await;
    let err = TokenCache::new(
        common::source(&failing),
        MemoryStore::with_tokens(expiring_tokens("x", "SECRET-REFRESH-1")),
    )
    .token()
    .await
    .unwrap_err();

    let mut shown = String::from_utf8(captured.0.lock().clone()).unwrap();
    for debug in [
        format!("{jira:?}"),
        format!("{cache:?}"),
        format!("{source:?}"),
        format!("{tokens:?}"),
        format!("{token:?}"),
        format!("{store:?}"),
        format!("{:?}", store.load().unwrap()),
        format!(
            "{:?}",
            gouqi_oauth::Credentials::Bearer("SECRET-ACCESS-0".into())
        ),
        format!(
            "{:?}",
            gouqi_oauth::Credentials::Basic("me".into(), "SECRET-ACCESS-0".into())
        ),
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
    // Stock gouqi records the whole client in its spans, where our header
    // must show as Sensitive; the patched gouqi (the `gouqi-provider`
    // feature) no longer records the client at all.
    #[cfg(not(feature = "gouqi-provider"))]
    assert!(
        shown.contains("Sensitive"),
        "the header should show as Sensitive"
    );
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} leaked into:\n{shown}");
    }
}
