//! `Jira::send_request`: extra headers and multipart bodies, resent whole
//! after a 401 and one refresh.

mod common;

use common::*;
use gouqi_oauth::r#async::{FilePart, Jira, RequestBody};
use gouqi_oauth::{MemoryStore, TokenCache};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn upload() -> RequestBody {
    RequestBody::Multipart(vec![FilePart {
        field: "file".into(),
        file_name: "notes.txt".into(),
        mime_type: "text/plain".into(),
        content: bytes::Bytes::from_static(b"resend me whole"),
    }])
}

#[tokio::test]
async fn a_multipart_upload_is_sent_again_whole_after_a_401_and_one_refresh() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_ok(token_json(
            "token/refresh.json",
            "access-1",
            "refresh-1",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let attachments = || {
        Mock::given(method("POST"))
            .and(path("/rest/api/3/issue/ED-1/attachments"))
            .and(header("x-atlassian-token", "no-check"))
            .and(body_string_contains("filename=\"notes.txt\""))
            .and(body_string_contains("resend me whole"))
    };
    attachments()
        .and(header("authorization", "Bearer access-0"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    attachments()
        .and(header("authorization", "Bearer access-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!([{"id": "10001"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let cache = TokenCache::new(
        source(&server),
        MemoryStore::with_tokens(valid_tokens("access-0", "refresh-0")),
    );
    let jira = Jira::new(server.uri(), cache).unwrap();
    let response = jira
        .send_request(
            reqwest::Method::POST,
            "rest/api/3/issue/ED-1/attachments",
            &[],
            &[("X-Atlassian-Token", "no-check")],
            Some(&upload()),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let received = server.received_requests().await.unwrap();
    let uploads: Vec<_> = received
        .iter()
        .filter(|r| r.url.path().ends_with("/attachments"))
        .collect();
    assert_eq!(uploads.len(), 2);
    // Each attempt builds a fresh form (its own boundary) around the same file.
    assert_eq!(uploads[0].body.len(), uploads[1].body.len());
    for upload in &uploads {
        let body = String::from_utf8_lossy(&upload.body);
        assert!(body.contains("\r\n\r\nresend me whole\r\n--"), "{body}");
    }
    let content_type = uploads[1]
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
}

#[tokio::test]
async fn an_accept_header_replaces_the_json_default() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/attachment/content/10000"))
        .and(header("accept", "*/*"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"\x89PNG".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let jira = Jira::new(server.uri(), gouqi_oauth::Credentials::Anonymous).unwrap();
    let response = jira
        .send_request(
            reqwest::Method::GET,
            "rest/api/3/attachment/content/10000",
            &[],
            &[("Accept", "*/*")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(&response.body[..], b"\x89PNG");
    let received = server.received_requests().await.unwrap();
    assert_eq!(received[0].headers.get_all("accept").iter().count(), 1);

    let bad = jira
        .send_request(reqwest::Method::GET, "x", &[], &[("Bad Header", "v")], None)
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("invalid request header"), "{bad}");
}
