//! The authorization-code flow: URL, loopback capture with a real listener,
//! manual completion, code exchange, site discovery, Data Center.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use gouqi_oauth::LoopbackListener;
use gouqi_oauth::r#async::Jira;
use gouqi_oauth::{
    AuthUrl, AuthorizationCode, AuthorizationFlow, ClientId, ClientSecret, Endpoints, Error,
    FileStore, MemoryStore, RedirectUrl, Site, TokenCache, TokenStore, TokenUrl,
};
use url::Url;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLOUD_ID: &str = "11223344-a1b2-3b33-c444-def123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn redirect(port: u16) -> RedirectUrl {
    RedirectUrl::new(format!("http://127.0.0.1:{port}/callback")).unwrap()
}

fn endpoints(server: &MockServer) -> Endpoints {
    Endpoints {
        authorize: AuthUrl::new(format!("{}/authorize", server.uri())).unwrap(),
        token: TokenUrl::new(format!("{}/oauth/token", server.uri())).unwrap(),
        api: Url::parse(&server.uri()).unwrap(),
    }
}

fn cloud_flow(server: &MockServer, port: u16) -> AuthorizationFlow {
    AuthorizationFlow::cloud(ClientId::new("client-id".into()), redirect(port))
        .client_secret(ClientSecret::new(CLIENT_SECRET.into()))
        .endpoints(endpoints(server))
        .scopes(["read:jira-work", "write:jira-work"])
}

/// Atlassian's consent page, auto-approved: redirects to `redirect_uri` with a code.
fn consent(request: &Request) -> ResponseTemplate {
    let query: std::collections::HashMap<String, String> =
        request.url.query_pairs().into_owned().collect();
    let location = format!(
        "{}?code=CODE-123&state={}",
        query["redirect_uri"], query["state"]
    );
    ResponseTemplate::new(302).insert_header("location", location.as_str())
}

async fn mount_exchange(server: &MockServer, token_fixture: &str, resources_fixture: &str) {
    token_post()
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=CODE-123"))
        .and(body_string_contains("code_verifier="))
        .and(body_string_contains("client_secret="))
        .and(body_string_contains("redirect_uri=http%3A%2F%2F127.0.0.1"))
        .respond_with(token_ok(token_json(token_fixture, "access-1", "refresh-1")))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/accessible-resources"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture(resources_fixture), "application/json"),
        )
        .mount(server)
        .await;
}

fn browser() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn whole_cloud_flow_from_url_to_a_gouqi_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/authorize"))
        .respond_with(consent)
        .expect(1)
        .mount(&server)
        .await;
    mount_exchange(
        &server,
        "token/authorization-code.json",
        "cloud/accessible-resources.json",
    )
    .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/ex/jira/{CLOUD_ID}/rest/api/latest/issue/ED-1"
        )))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("jira/issue.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path().join("tokens.json")));
    let flow = cloud_flow(&server, free_port());
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let login = tokio::spawn({
        let (flow, store) = (flow.clone(), store.clone());
        async move {
            flow.login_with_loopback(&store, Duration::from_secs(20), move |url| {
                url_tx.send(url.clone()).unwrap();
            })
            .await
        }
    });

    // The authorization URL carries everything Atlassian needs.
    let url = url_rx.await.unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "client-id");
    assert_eq!(
        query["scope"],
        "read:jira-work write:jira-work offline_access"
    );
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["audience"], "api.atlassian.com");
    assert_eq!(query["prompt"], "consent");
    assert!(query["state"].len() >= 16 && !query["code_challenge"].is_empty());
    assert!(query["redirect_uri"].starts_with("http://127.0.0.1:"));

    // The browser follows the consent redirect to the loopback listener.
    let page = browser().get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("close this tab"));

    let login = login.await.unwrap().unwrap();
    assert_eq!(
        login.api_base.as_str(),
        format!("{}/ex/jira/{CLOUD_ID}/", server.uri())
    );
    assert!(login.warnings.is_empty());
    let stored = store.load().unwrap().unwrap();
    assert_eq!(
        stored.site.as_ref().unwrap().cloud_id.as_deref(),
        Some(CLOUD_ID)
    );
    assert_eq!(stored.refresh_token.unwrap().secret(), "refresh-1");

    let cache = TokenCache::with_store(flow.token_source().unwrap(), store)
        .site(login.tokens.site.clone().unwrap());
    let jira = Jira::new(login.api_base.as_str(), cache).unwrap();
    assert_eq!(jira.issues().get("ED-1").await.unwrap().key, "ED-1");
}

async fn listening(
    port: u16,
    state: &str,
    timeout: Duration,
) -> tokio::task::JoinHandle<gouqi_oauth::Result<AuthorizationCode>> {
    let listener = LoopbackListener::bind(&redirect(port)).await.unwrap();
    let state = state.to_string();
    tokio::spawn(async move { listener.wait_for_code(&state, timeout).await })
}

async fn get(port: u16, path_and_query: &str) -> (u16, String) {
    let response = browser()
        .get(format!("http://127.0.0.1:{port}{path_and_query}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn wrong_or_missing_state_and_other_paths_are_refused_while_the_listener_waits() {
    let port = free_port();
    let waiting = listening(port, "good-state", Duration::from_secs(10)).await;

    let (status, body) = get(port, "/callback?code=stolen&state=bad-state").await;
    assert_eq!(status, 400);
    assert!(body.contains("does not match"), "{body}");
    let (status, body) = get(port, "/callback?code=stolen").await;
    assert_eq!(status, 400);
    assert!(body.contains("no state"), "{body}");
    assert_eq!(get(port, "/favicon.ico").await.0, 404);
    assert!(!waiting.is_finished());

    assert_eq!(
        get(port, "/callback?code=the-code&state=good-state")
            .await
            .0,
        200
    );
    assert_eq!(waiting.await.unwrap().unwrap().secret(), "the-code");
}

#[tokio::test]
async fn a_replayed_callback_finds_the_port_closed() {
    let port = free_port();
    let waiting = listening(port, "s", Duration::from_secs(10)).await;
    assert_eq!(get(port, "/callback?code=c&state=s").await.0, 200);
    waiting.await.unwrap().unwrap();
    let replay = browser()
        .get(format!("http://127.0.0.1:{port}/callback?code=c&state=s"))
        .send()
        .await;
    assert!(replay.is_err(), "the listener should be gone");
}

#[tokio::test]
async fn access_denied_ends_the_flow_in_the_browser_and_for_the_caller() {
    let port = free_port();
    let waiting = listening(port, "s", Duration::from_secs(10)).await;
    let (status, body) = get(
        port,
        "/callback?error=access_denied&error_description=User+%3Cb%3Edeclined%3C%2Fb%3E&state=s",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("not granted") && body.contains("&lt;b&gt;"),
        "{body}"
    );
    let err = waiting.await.unwrap().unwrap_err();
    assert!(
        matches!(&err, Error::AuthorizationDenied { error, .. } if error == "access_denied"),
        "{err}"
    );
    assert!(err.to_string().contains("declined"), "{err}");
}

#[tokio::test]
async fn the_listener_times_out() {
    let port = free_port();
    let err = listening(port, "s", Duration::from_millis(200))
        .await
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::CallbackTimedOut { .. }), "{err}");
    assert!(err.to_string().contains("paste"), "{err}");
}

#[tokio::test]
async fn a_port_in_use_is_named_with_the_way_out() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = LoopbackListener::bind(&redirect(port)).await.unwrap_err();
    assert!(
        matches!(err, Error::PortInUse { port: p, .. } if p == port),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&port.to_string())
            && text.contains("choose a free port in the redirect URI")
            && !text.contains("JIRA_"),
        "{text}"
    );
}

#[tokio::test]
async fn a_non_loopback_redirect_is_refused_for_capture_and_offers_manual_completion() {
    let uri = RedirectUrl::new("https://jira-mcp.example.com/callback".into()).unwrap();
    let err = LoopbackListener::bind(&uri).await.unwrap_err();
    assert!(matches!(err, Error::NotLoopback { .. }), "{err}");
    assert!(err.to_string().contains("paste the URL"), "{err}");
}

#[tokio::test]
async fn manual_completion_takes_the_redirected_url() {
    let server = MockServer::start().await;
    mount_exchange(
        &server,
        "token/authorization-code.json",
        "cloud/accessible-resources.json",
    )
    .await;
    let flow = cloud_flow(&server, 8080);
    let pending = flow.begin();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let pasted = format!(
        "http://127.0.0.1:8080/callback?code=CODE-123&state={}",
        pending.state()
    );
    let login = flow
        .complete_pasted(&pending, &pasted, &store)
        .await
        .unwrap();
    assert_eq!(login.tokens.access_token.secret(), "access-1");
    assert!(store.load().unwrap().is_some());
}

#[tokio::test]
async fn a_replayed_or_expired_code_gets_a_clear_error() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(fixture("token/invalid-grant.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let flow = cloud_flow(&server, 8080);
    let pending = flow.begin();
    let err = flow
        .exchange(&pending, AuthorizationCode::new("used".into()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("single-use"), "{err}");
}

#[tokio::test]
async fn two_sites_and_no_configured_site_is_an_error_listing_both() {
    let server = MockServer::start().await;
    mount_exchange(
        &server,
        "token/authorization-code.json",
        "cloud/accessible-resources-two-sites.json",
    )
    .await;
    let flow = cloud_flow(&server, 8080);
    let pending = flow.begin();
    let err = flow
        .exchange(&pending, AuthorizationCode::new("CODE-123".into()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::SiteSelection(_)));
    for expected in [
        "your-domain",
        "https://other-team.atlassian.net/",
        "99887766-f1e2-4d33-b444-abc987654321",
    ] {
        assert!(text.contains(expected), "{text}");
    }
}

#[tokio::test]
async fn two_sites_with_a_configured_site_url_picks_it() {
    let server = MockServer::start().await;
    mount_exchange(
        &server,
        "token/authorization-code.json",
        "cloud/accessible-resources-two-sites.json",
    )
    .await;
    let flow =
        cloud_flow(&server, 8080).site_url(Url::parse("https://OTHER-team.atlassian.net").unwrap());
    let login = flow
        .exchange(&flow.begin(), AuthorizationCode::new("CODE-123".into()))
        .await
        .unwrap();
    assert!(
        login
            .api_base
            .as_str()
            .ends_with("/ex/jira/99887766-f1e2-4d33-b444-abc987654321/")
    );
}

#[tokio::test]
async fn a_stored_token_for_another_site_is_not_used() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let mut tokens = valid_tokens("access-1", "refresh-1");
    tokens.site = Some(Site {
        cloud_id: Some(CLOUD_ID.into()),
        url: None,
        name: None,
    });
    let cache = TokenCache::new(source(&server), MemoryStore::with_tokens(tokens)).site(Site {
        cloud_id: Some("another-cloud-id".into()),
        url: None,
        name: None,
    });
    let err = cache.token().await.unwrap_err();
    assert!(matches!(err, Error::SiteMismatch { .. }), "{err}");
    assert!(err.to_string().contains("another-cloud-id"), "{err}");
}

#[tokio::test]
async fn a_login_without_refresh_token_warns_about_offline_access() {
    let server = MockServer::start().await;
    mount_exchange(
        &server,
        "token/refresh-without-refresh-token.json",
        "cloud/accessible-resources.json",
    )
    .await;
    let flow = cloud_flow(&server, 8080);
    let login = flow
        .exchange(&flow.begin(), AuthorizationCode::new("CODE-123".into()))
        .await
        .unwrap();
    assert_eq!(login.warnings.len(), 1);
    assert!(
        login.warnings[0].contains("offline_access"),
        "{:?}",
        login.warnings
    );
}

#[tokio::test]
async fn data_center_uses_the_site_endpoints_pkce_and_sends_redirect_uri_on_refresh() {
    let server = MockServer::start().await;
    let site = Url::parse(&format!("{}/jira", server.uri())).unwrap();
    let flow =
        AuthorizationFlow::data_center(&site, ClientId::new("dc-client".into()), redirect(8080))
            .unwrap()
            .client_secret(ClientSecret::new(CLIENT_SECRET.into()))
            .scopes(["WRITE"]);

    let url = flow.begin().url().clone();
    assert_eq!(url.path(), "/jira/rest/oauth2/latest/authorize");
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["scope"], "WRITE");
    assert!(!query.contains_key("audience"));

    Mock::given(method("POST"))
        .and(path("/jira/rest/oauth2/latest/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback",
        ))
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "dc-access-1",
            "dc-refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/latest/issue/ED-1"))
        .and(header("authorization", "Bearer dc-access-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("jira/issue.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let cache = TokenCache::new(
        flow.token_source().unwrap(),
        MemoryStore::with_tokens(expiring_tokens("dc-0", "dc-r0")),
    );
    let jira = Jira::new(site.as_str(), cache).unwrap();
    let issue = jira
        .call(|j| async move { j.issues().get("ED-1").await })
        .await;
    assert_eq!(issue.unwrap().key, "ED-1");
}

// ---- Hardening: the login never loses what the user approved, and never
// ---- races a refresh.

/// A login that completes while another process's refresh is in flight is
/// saved after that refresh, not overwritten by it.
#[tokio::test]
async fn a_login_during_a_refresh_in_another_process_is_kept() {
    let server = MockServer::start().await;
    token_post()
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(
            token_ok(token_json(
                "token/refresh.json",
                "old-access-1",
                "old-refresh-1",
            ))
            .set_delay(Duration::from_millis(1500)),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_exchange(
        &server,
        "token/authorization-code.json",
        "cloud/accessible-resources.json",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    FileStore::new(&file)
        .save(&expiring_tokens("old-access-0", "old-refresh-0"))
        .unwrap();

    // Process A refreshes the old grant, slowly.
    let cache = TokenCache::new(source(&server), FileStore::new(&file));
    let refresh = tokio::spawn(async move { cache.token().await });
    wait_for_token_requests(&server, 1).await;
    // Process B completes a new login meanwhile.
    let flow = cloud_flow(&server, 8080);
    let pending = flow.begin();
    let store_b: Arc<dyn TokenStore> = Arc::new(FileStore::new(&file));
    flow.complete(
        &pending,
        AuthorizationCode::new("CODE-123".into()),
        &store_b,
    )
    .await
    .unwrap();
    refresh.await.unwrap().unwrap();

    let stored = FileStore::new(&file).load().unwrap().unwrap();
    assert_eq!(
        stored.access_token.secret(),
        "access-1",
        "the new login was lost"
    );
    assert_eq!(stored.refresh_token.unwrap().secret(), "refresh-1");
}

/// A logout during another process's refresh stays a logout.
#[tokio::test]
async fn a_logout_during_a_refresh_in_another_process_is_kept() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(
            token_ok(token_json("token/refresh.json", "access-1", "refresh-1"))
                .set_delay(Duration::from_millis(1500)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    FileStore::new(&file)
        .save(&expiring_tokens("access-0", "refresh-0"))
        .unwrap();
    let cache = TokenCache::new(source(&server), FileStore::new(&file));
    let refresh = tokio::spawn(async move { cache.token().await });
    wait_for_token_requests(&server, 1).await;

    let logout = tokio::task::spawn_blocking({
        let file = file.clone();
        move || FileStore::new(&file).remove()
    });
    assert!(logout.await.unwrap().unwrap(), "logout found nothing");
    refresh.await.unwrap().unwrap();
    assert!(
        FileStore::new(&file).load().unwrap().is_none(),
        "the refresh wrote the logged-out grant back"
    );
}

async fn wait_for_token_requests(server: &MockServer, count: usize) {
    for _ in 0..200 {
        let seen = server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/oauth/token")
            .count();
        if seen >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the token endpoint never saw {count} request(s)");
}

/// Two sites and no configured site: the approval is not thrown away.
#[tokio::test]
async fn an_ambiguous_site_keeps_the_login_and_says_how_to_finish() {
    let server = MockServer::start().await;
    mount_exchange(
        &server,
        "token/authorization-code.json",
        "cloud/accessible-resources-two-sites.json",
    )
    .await;
    let flow = cloud_flow(&server, 8080);
    let pending = flow.begin();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let err = flow
        .complete(&pending, AuthorizationCode::new("CODE-123".into()), &store)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("its cloud id")
            && text.contains("no new login is needed")
            && !text.contains("JIRA_"),
        "{text}"
    );
    let saved = store.load().unwrap().expect("the grant was thrown away");
    assert_eq!(saved.refresh_token.unwrap().secret(), "refresh-1");
    assert!(saved.site.is_none());
}

/// A token file that cannot take the login is found before the browser opens.
#[tokio::test]
async fn a_broken_token_file_fails_before_the_browser_opens() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, "{not json").unwrap();
    let a_dir = dir.path().join("a-dir");
    std::fs::create_dir(&a_dir).unwrap();
    for path in [corrupt, a_dir] {
        let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(&path));
        let mut shown = false;
        let err = cloud_flow(&server, free_port())
            .login_with_loopback(&store, Duration::from_secs(5), |_| shown = true)
            .await
            .unwrap_err();
        assert!(!shown, "the user was sent to the browser");
        assert!(matches!(err, Error::Store(_)), "{err}");
    }
}

/// When saving fails after the approval, the error says so and how to recover.
#[tokio::test]
async fn a_failed_save_after_approval_says_how_to_recover() {
    let server = MockServer::start().await;
    mount_exchange(
        &server,
        "token/authorization-code.json",
        "cloud/accessible-resources.json",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let flow = cloud_flow(&server, 8080);
    let pending = flow.begin();
    // The file turns into a directory between the check and the save.
    std::fs::create_dir(&file).unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(&file));
    let err = flow
        .complete(&pending, AuthorizationCode::new("CODE-123".into()), &store)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LoginNotSaved { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("approved") && text.contains("log in again") && text.contains("directory"),
        "{text}"
    );
}

#[tokio::test]
async fn a_wrong_paste_leaves_the_pending_login_usable() {
    let server = MockServer::start().await;
    mount_exchange(
        &server,
        "token/authorization-code.json",
        "cloud/accessible-resources.json",
    )
    .await;
    let flow = cloud_flow(&server, 8080);
    let pending = flow.begin();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let wrong = "http://127.0.0.1:8080/callback?code=CODE-123&state=forged";
    assert!(pending.code_from_pasted(wrong).is_err());
    let right = format!("CODE-123 {}", pending.state());
    flow.complete_pasted(&pending, &right, &store)
        .await
        .unwrap();
}

/// An aborted capture releases the port at once.
#[tokio::test]
async fn an_aborted_capture_releases_the_port() {
    let port = free_port();
    for _ in 0..3 {
        let waiting = listening(port, "s", Duration::from_secs(60)).await;
        // A connection in progress must not keep the port either.
        let _early = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        waiting.abort();
        assert!(waiting.await.unwrap_err().is_cancelled());
        // Bound again at once: the listener is gone with the task.
    }
    LoopbackListener::bind(&redirect(port)).await.unwrap();
}
