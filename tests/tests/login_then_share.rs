//! A login (code exchange) writes the token file; an async client and a
//! blocking client then share that file the way two programs would, and the
//! refresh one of them does is adopted by the other without a second rotation.

use std::time::Duration;

use gouqi_oauth::{
    ClientId, ClientSecret, FileStore, TokenCache, TokenSource, TokenStore, TokenUrl,
};
use oauth2::{AuthorizationCode, PkceCodeChallenge, RedirectUrl};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn token_body(name: &str, access: &str, refresh: &str) -> serde_json::Value {
    let text = fixture(name)
        .replace("{{access_token}}", access)
        .replace("{{refresh_token}}", refresh);
    serde_json::from_str(&text).unwrap()
}

fn source(server: &MockServer) -> TokenSource {
    TokenSource::new(
        ClientId::new("client-id".into()),
        TokenUrl::new(format!("{}/oauth/token", server.uri())).unwrap(),
    )
    .unwrap()
    .client_secret(ClientSecret::new("client-secret".into()))
}

#[test]
fn login_then_async_and_blocking_clients_share_the_token_file() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    runtime.block_on(async {
        let token = || Mock::given(method("POST")).and(path("/oauth/token"));
        token()
            .and(body_string_contains("grant_type=authorization_code"))
            .and(body_string_contains("code_verifier="))
            .respond_with(ResponseTemplate::new(200).set_body_json(token_body(
                "token/authorization-code.json",
                "access-0",
                "refresh-0",
            )))
            .expect(1)
            .mount(&server)
            .await;
        token()
            .and(body_string_contains("refresh_token=refresh-0"))
            .respond_with(ResponseTemplate::new(200).set_body_json(token_body(
                "token/refresh.json",
                "access-1",
                "refresh-1",
            )))
            .expect(1)
            .mount(&server)
            .await;
        let issue = |bearer: &str| {
            Mock::given(method("GET"))
                .and(path("/rest/api/latest/issue/ED-1"))
                .and(header("authorization", format!("Bearer {bearer}").as_str()))
        };
        issue("access-0")
            .respond_with(ResponseTemplate::new(401))
            .mount(&server)
            .await;
        issue("access-1")
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(fixture("jira/issue.json"), "application/json"),
            )
            .expect(2)
            .mount(&server)
            .await;
    });

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state/tokens.json");

    // Login: exchange the code and store the tokens (as if minted a while ago).
    let (_, verifier) = PkceCodeChallenge::new_random_sha256();
    let redirect = RedirectUrl::new("http://127.0.0.1:8080/callback".into()).unwrap();
    let mut tokens = runtime
        .block_on(source(&server).exchange_code(
            AuthorizationCode::new("code".into()),
            verifier,
            &redirect,
        ))
        .unwrap();
    tokens.obtained_at -= Duration::from_secs(600);
    FileStore::new(&file).save(&tokens).unwrap();

    // The async client meets a 401 on access-0 and rotates to access-1.
    let async_jira = gouqi_oauth::r#async::Jira::new(
        server.uri(),
        TokenCache::new(source(&server), FileStore::new(&file)),
    )
    .unwrap();
    let issue = runtime
        .block_on(async_jira.call(|j| async move { j.issues().get("ED-1").await }))
        .unwrap();
    assert_eq!(issue.key, "ED-1");

    // The blocking client, with its own cache, finds access-1 in the file.
    let blocking = gouqi_oauth::Jira::new(
        server.uri(),
        TokenCache::new(source(&server), FileStore::new(&file)),
    )
    .unwrap();
    let issue = blocking.call(|j| j.issues().get("ED-1")).unwrap();
    assert_eq!(issue.key, "ED-1");

    let stored = FileStore::new(&file).load().unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "refresh-1");
}
