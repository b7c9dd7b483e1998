//! A round-robin HTTP proxy on loopback, in front of several team-server
//! replicas, as a load balancer without sticky sessions: each request goes
//! to the next upstream; when that upstream cannot be reached, or drops the
//! connection before its answer is complete, the request goes to the next
//! one (as nginx's `proxy_next_upstream error`). `Host` is kept, so the
//! replicas see the public host. Request bodies are buffered (to be resent);
//! answers are buffered too, except event streams, which are passed on as
//! they come.
//!
//! It counts the requests each upstream answered, so that tests can show
//! that every replica served.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = BoxBody<Bytes, hyper::Error>;

/// How long one upstream may take to answer before the next one is tried.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

struct Shared {
    upstreams: Vec<String>,
    next: AtomicUsize,
    served: Vec<AtomicUsize>,
    retries: AtomicUsize,
    failed: AtomicUsize,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// The running proxy. Stops accepting when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("upstreams", &self.shared.upstreams)
            .finish()
    }
}

impl Proxy {
    /// Listens on `listener` (bind it first, so that the servers behind can
    /// be told the proxy's URL before they start) and forwards to
    /// `upstreams` (base URLs such as `http://127.0.0.1:40123`).
    pub fn start(listener: std::net::TcpListener, upstreams: Vec<String>) -> Proxy {
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        let addr = listener.local_addr().expect("the proxy's address");
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let shared = Arc::new(Shared {
            served: upstreams.iter().map(|_| AtomicUsize::new(0)).collect(),
            upstreams,
            next: AtomicUsize::new(0),
            retries: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            client,
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        Proxy { addr, shared, task }
    }

    /// A loopback listener on a free port, for [`Proxy::start`].
    pub fn bind() -> std::net::TcpListener {
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy")
    }

    /// The proxy's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered by each upstream, in the order given.
    pub fn served(&self) -> Vec<usize> {
        self.shared
            .served
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }

    /// Requests sent on to another upstream after one failed.
    pub fn retries(&self) -> usize {
        self.shared.retries.load(Ordering::Relaxed)
    }

    /// Requests no upstream answered (the proxy answered 502).
    pub fn failed(&self) -> usize {
        self.shared.failed.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(forward(&shared, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Sends `request` to the next upstream, then to the others in turn while
/// they fail; 502 when none answers.
async fn forward(shared: &Shared, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return answer(StatusCode::BAD_REQUEST, format!("request body: {e}")),
    };
    let count = shared.upstreams.len();
    let first = shared.next.fetch_add(1, Ordering::Relaxed);
    let mut last_error = String::from("no upstream");
    for attempt in 0..count {
        let index = (first + attempt) % count;
        if attempt > 0 {
            shared.retries.fetch_add(1, Ordering::Relaxed);
        }
        match send(shared, index, &parts, body.clone()).await {
            Ok(response) => {
                shared.served[index].fetch_add(1, Ordering::Relaxed);
                return response;
            }
            Err(e) => last_error = format!("{}: {e}", shared.upstreams[index]),
        }
    }
    shared.failed.fetch_add(1, Ordering::Relaxed);
    answer(
        StatusCode::BAD_GATEWAY,
        format!("no upstream answered: {last_error}"),
    )
}

/// One attempt at one upstream: its whole answer (or, for an event stream,
/// its head and the stream), or why it failed.
async fn send(
    shared: &Shared,
    index: usize,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Body>, String> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri: hyper::Uri = format!("{}{path}", shared.upstreams[index])
        .parse()
        .map_err(|e| format!("bad upstream URI: {e}"))?;
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(uri)
        .version(hyper::Version::HTTP_11);
    // Every header as sent, Host included (the replicas check it against
    // the public URL).
    for (name, value) in &parts.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    let response = tokio::time::timeout(UPSTREAM_TIMEOUT, shared.client.request(request))
        .await
        .map_err(|_| "no answer in time".to_string())?
        .map_err(|e| format!("{e} ({:?})", std::error::Error::source(&e)))?;
    let is_stream = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let (head, body) = response.into_parts();
    if is_stream {
        return Ok(Response::from_parts(head, body.boxed()));
    }
    // Buffered, so that an upstream dying mid-answer is retried elsewhere.
    let body = tokio::time::timeout(UPSTREAM_TIMEOUT, body.collect())
        .await
        .map_err(|_| "the answer's body did not come in time".to_string())?
        .map_err(|e| format!("the answer's body: {e}"))?
        .to_bytes();
    Ok(Response::from_parts(head, full(body)))
}

fn full(body: Bytes) -> Body {
    Full::new(body).map_err(|never| match never {}).boxed()
}

fn answer(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from(text)));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, Request as Seen, ResponseTemplate};

    /// An upstream that answers its name, the Host it saw and the body.
    async fn upstream(name: &'static str) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(move |request: &Seen| {
                let host = request
                    .headers
                    .get("host")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = String::from_utf8_lossy(&request.body).into_owned();
                ResponseTemplate::new(200).set_body_string(format!("{name} {host} {body}"))
            })
            .mount(&server)
            .await;
        server
    }

    fn dead_upstream() -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        format!("http://127.0.0.1:{port}")
    }

    async fn post(proxy: &Proxy, body: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .post(format!("{}/mcp?x=1", proxy.url()))
            .body(body.to_string())
            .send()
            .await
            .expect("the proxy answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    #[tokio::test]
    async fn requests_alternate_keep_their_host_and_body_and_skip_a_dead_upstream() {
        let (a, b) = (upstream("a").await, upstream("b").await);
        let proxy = Proxy::start(Proxy::bind(), vec![a.uri(), b.uri(), dead_upstream()]);
        let host = proxy.url().trim_start_matches("http://").to_string();
        let mut seen = Vec::new();
        for i in 0..6 {
            let (status, text) = post(&proxy, &format!("call{i}")).await;
            assert_eq!(status, 200, "{text}");
            assert!(text.ends_with(&format!(" {host} call{i}")), "{text}");
            seen.push(text.split(' ').next().unwrap_or_default().to_string());
        }
        // The dead one's turns go on to the next upstream in order: a.
        assert_eq!(seen, ["a", "b", "a", "a", "b", "a"]);
        assert_eq!(proxy.served(), vec![4, 2, 0]);
        assert_eq!(proxy.retries(), 2);
        assert_eq!(proxy.failed(), 0);
    }

    /// An upstream that reads each request and hangs up without answering,
    /// as a replica killed mid-request.
    async fn hanging_up_upstream() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;
                drop(stream);
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn an_upstream_that_hangs_up_mid_request_is_retried_on_the_next() {
        let a = upstream("a").await;
        let proxy = Proxy::start(Proxy::bind(), vec![hanging_up_upstream().await, a.uri()]);
        for i in 0..4 {
            let (status, text) = post(&proxy, &format!("call{i}")).await;
            assert_eq!(status, 200, "{text}");
            assert!(text.starts_with("a ") && text.ends_with(&format!("call{i}")));
        }
        assert_eq!(proxy.served(), vec![0, 4]);
        assert_eq!(proxy.retries(), 2);
    }

    #[tokio::test]
    async fn no_live_upstream_gets_502() {
        let proxy = Proxy::start(Proxy::bind(), vec![dead_upstream(), dead_upstream()]);
        let (status, text) = post(&proxy, "x").await;
        assert_eq!(status, 502, "{text}");
        assert!(text.contains("no upstream answered"), "{text}");
        assert_eq!(proxy.failed(), 1);
    }
}
