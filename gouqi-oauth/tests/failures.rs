//! Token-endpoint failures: each gives a clear error, and the stored tokens
//! stay exactly as they were.

mod common;

use std::time::Duration;

use common::*;
use gouqi_oauth::{Error, FileStore, TokenCache, TokenStore};
use wiremock::{MockServer, ResponseTemplate};

/// Runs one refresh against `answer` with an expiring token in a token file,
/// and checks the file is byte-for-byte unchanged afterwards.
async fn refresh_against(answer: ResponseTemplate, expected_calls: u64) -> Error {
    let server = MockServer::start().await;
    token_post()
        .respond_with(answer)
        .expect(expected_calls)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    store
        .save(&expiring_tokens("access-0", "refresh-0"))
        .unwrap();
    let before = std::fs::read(store.path()).unwrap();

    let cache = TokenCache::new(source(&server), store.clone());
    let err = cache.token().await.unwrap_err();

    assert_eq!(
        std::fs::read(store.path()).unwrap(),
        before,
        "the token file changed"
    );
    err
}

fn json(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

#[tokio::test]
async fn invalid_grant_403_asks_for_reauthorization() {
    let err = refresh_against(json(403, "token/invalid-grant.json"), 1).await;
    assert!(err.needs_reauthorization(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("invalid_grant")
            && text.contains("run the authorization flow again")
            && !text.contains("jira-mcp"),
        "{text}"
    );
}

#[tokio::test]
async fn unauthorized_client_asks_for_reauthorization() {
    let err = refresh_against(json(400, "token/unauthorized-client.json"), 1).await;
    assert!(
        matches!(&err, Error::ReauthorizationRequired { code, .. } if code == "unauthorized_client"),
        "{err}"
    );
}

#[tokio::test]
async fn a_403_without_an_oauth_body_still_asks_for_reauthorization() {
    let answer = ResponseTemplate::new(403).set_body_raw("Forbidden", "text/plain");
    let err = refresh_against(answer, 1).await;
    assert!(
        matches!(&err, Error::ReauthorizationRequired { code, .. } if code == "http_403"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_client_secret_names_the_fix() {
    let answer = ResponseTemplate::new(401).set_body_json(
        serde_json::json!({"error": "invalid_client", "error_description": "bad secret"}),
    );
    let err = refresh_against(answer, 1).await;
    assert!(
        err.to_string().contains("client id and client secret"),
        "{err}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_reported() {
    let answer =
        ResponseTemplate::new(502).set_body_raw(fixture("token/gateway-error.html"), "text/html");
    let err = refresh_against(answer, 3).await;
    assert!(err.is_transient(), "{err}");
    assert!(
        matches!(err, Error::TokenEndpointUnavailable { attempts: 3, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_the_policy_is_not_waited_for() {
    let answer = ResponseTemplate::new(429).insert_header("retry-after", "120");
    let err = refresh_against(answer, 1).await;
    match err {
        Error::TokenEndpointUnavailable { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(120)))
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn transient_failures_recover_and_honour_retry_after() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token_post()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let store = gouqi_oauth::MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0"));
    let cache = TokenCache::new(source(&server), store);
    let started = std::time::Instant::now();
    let token = cache.token().await.unwrap();
    assert_eq!(token.tokens().access_token.secret(), "access-1");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
}

#[tokio::test]
async fn an_unreachable_token_endpoint_leaves_the_tokens_alone() {
    // Bind a port, then free it, so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    store
        .save(&expiring_tokens("access-0", "refresh-0"))
        .unwrap();
    let source = gouqi_oauth::TokenSource::new(
        gouqi_oauth::ClientId::new("client-id".into()),
        gouqi_oauth::TokenUrl::new(format!("http://127.0.0.1:{port}/oauth/token")).unwrap(),
    )
    .unwrap()
    .retry(fast_retry());
    let err = TokenCache::new(source, store.clone())
        .token()
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    let kept = store.load().unwrap().unwrap();
    assert_eq!(kept.refresh_token.unwrap().secret(), "refresh-0");
}

#[tokio::test]
async fn an_html_page_with_status_200_is_a_malformed_response() {
    let answer =
        ResponseTemplate::new(200).set_body_raw(fixture("token/gateway-error.html"), "text/html");
    let err = refresh_against(answer, 1).await;
    assert!(matches!(err, Error::MalformedTokenResponse { .. }), "{err}");
    assert!(err.to_string().contains("Content-Type"), "{err}");
}

#[tokio::test]
async fn a_response_without_access_token_names_the_field() {
    let err = refresh_against(json(200, "token/missing-access-token.json"), 1).await;
    assert!(err.to_string().contains("access_token"), "{err}");
}

#[tokio::test]
async fn bad_json_is_a_malformed_response() {
    let answer = ResponseTemplate::new(200).set_body_raw("{\"access_token\": ", "application/json");
    let err = refresh_against(answer, 1).await;
    assert!(matches!(err, Error::MalformedTokenResponse { .. }), "{err}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let answer = ResponseTemplate::new(302).insert_header("location", "https://evil.example/steal");
    let err = refresh_against(answer, 1).await;
    assert!(err.to_string().contains("302"), "{err}");
}

#[tokio::test]
async fn an_absurd_expires_in_does_not_panic() {
    let server = MockServer::start().await;
    let body = serde_json::json!({
        "access_token": "access-1", "refresh_token": "refresh-1",
        "expires_in": u64::MAX, "token_type": "Bearer"
    });
    token_post()
        .respond_with(token_ok(body))
        .expect(1)
        .mount(&server)
        .await;
    let store = gouqi_oauth::MemoryStore::with_tokens(expiring_tokens("access-0", "refresh-0"));
    let token = TokenCache::new(source(&server), store)
        .token()
        .await
        .unwrap();
    assert_eq!(token.tokens().access_token.secret(), "access-1");
}

#[tokio::test]
async fn a_description_ending_in_a_full_stop_reads_without_a_double_one() {
    let err = refresh_against(
        ResponseTemplate::new(403).set_body_json(serde_json::json!({
            "error": "invalid_grant",
            "error_description": "Unknown or invalid refresh token."
        })),
        1,
    )
    .await;
    let text = err.to_string();
    assert!(text.contains("refresh token. The stored grant"), "{text}");
    assert!(!text.contains(".."), "{text}");
}
