//! A one-shot HTTP listener on the redirect URI's loopback address that
//! captures the authorization code (RFC 8252 §7.3).
//!
//! Only a GET of the redirect path whose `state` matches ends the wait; any
//! other request gets an error page and the listener keeps waiting. When it
//! returns, the port is closed, so a replayed callback finds nothing.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use oauth2::{AuthorizationCode, RedirectUrl};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use url::{Host, Url};

use super::callback::{Callback, parse_query};
use crate::error::{Error, Result};

/// How long to wait for the browser by default.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Request heads larger than this are refused (hyper's smallest buffer).
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// A bound, not yet waiting, loopback listener.
#[derive(Debug)]
pub struct LoopbackListener {
    listeners: Vec<TcpListener>,
    redirect_uri: RedirectUrl,
    path: String,
}

impl LoopbackListener {
    /// Binds the redirect URI's host and port. Refuses hosts other than
    /// `localhost`, `127.0.0.0/8` and `[::1]`, and names the port when it is taken.
    pub async fn bind(redirect_uri: &RedirectUrl) -> Result<LoopbackListener> {
        let url = redirect_uri.url();
        let addresses = loopback_addresses(url).ok_or_else(|| Error::NotLoopback {
            redirect_uri: redirect_uri.to_string(),
        })?;
        let mut listeners = Vec::new();
        for (i, address) in addresses.iter().enumerate() {
            match TcpListener::bind(address).await {
                Ok(listener) => listeners.push(listener),
                // `localhost` also tries [::1]; a machine without IPv6 is fine.
                Err(_) if i > 0 => {}
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    return Err(Error::PortInUse {
                        redirect_uri: redirect_uri.to_string(),
                        port: address.port(),
                    });
                }
                Err(e) => {
                    return Err(Error::Config(format!(
                        "cannot listen on {redirect_uri}: {e}. Choose another port in the redirect URI"
                    )));
                }
            }
        }
        Ok(LoopbackListener {
            listeners,
            redirect_uri: redirect_uri.clone(),
            path: url.path().to_string(),
        })
    }

    /// The addresses actually bound.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves requests until one brings a code (or a denial) with
    /// `expected_state`, or `timeout` passes.
    ///
    /// The listeners and every connection live inside this future: when it
    /// ends or is dropped (an aborted login), the port is closed at once.
    pub async fn wait_for_code(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<AuthorizationCode> {
        let mut connections = JoinSet::new();
        let (outcome_tx, mut outcome) = mpsc::channel::<Callback>(1);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                stream = accept_any(&self.listeners) => {
                    let page = Page { path: self.path.clone(), state: expected_state.to_string(), outcome: outcome_tx.clone() };
                    connections.spawn(serve(stream, page));
                }
                Some(callback) = outcome.recv() => return callback.into_code(),
                () = &mut deadline => return Err(Error::CallbackTimedOut {
                    redirect_uri: self.redirect_uri.to_string(),
                    waited: timeout,
                }),
                // Reap finished connections so the set does not grow.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    }
}

/// The next connection on any of `listeners` (failed accepts are skipped).
async fn accept_any(listeners: &[TcpListener]) -> TcpStream {
    std::future::poll_fn(|cx| {
        for listener in listeners {
            if let Poll::Ready(Ok((stream, _))) = listener.poll_accept(cx) {
                return Poll::Ready(stream);
            }
        }
        Poll::Pending
    })
    .await
}

/// The addresses to bind for a loopback redirect URI, or `None` if it is not one.
fn loopback_addresses(url: &Url) -> Option<Vec<SocketAddr>> {
    if url.scheme() != "http" {
        return None;
    }
    let port = url.port_or_known_default()?;
    let ips: Vec<IpAddr> = match url.host()? {
        Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => {
            vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
        }
        Host::Ipv4(ip) if ip.is_loopback() => vec![ip.into()],
        Host::Ipv6(ip) if ip.is_loopback() => vec![ip.into()],
        _ => return None,
    };
    Some(
        ips.into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect(),
    )
}

/// What one connection needs to answer the browser.
#[derive(Clone)]
struct Page {
    path: String,
    state: String,
    outcome: mpsc::Sender<Callback>,
}

async fn serve(stream: TcpStream, page: Page) {
    let service = hyper::service::service_fn(move |request| {
        let page = page.clone();
        async move { Ok::<_, Infallible>(page.answer(&request).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_REQUEST_HEAD)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(false)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

impl Page {
    async fn answer<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        if request.method() != hyper::Method::GET || request.uri().path() != self.path {
            return html(
                StatusCode::NOT_FOUND,
                "Not the login callback",
                "This address only receives the Jira login redirect.",
            );
        }
        match parse_query(request.uri().query().unwrap_or_default(), &self.state) {
            Err(rejected) => html(
                StatusCode::BAD_REQUEST,
                "Login not completed",
                rejected.message(),
            ),
            Ok(callback) => {
                let response = match &callback {
                    Callback::Code(_) => html(
                        StatusCode::OK,
                        "Logged in to Jira",
                        "Authorization received. You can close this tab and return to the terminal.",
                    ),
                    Callback::Denied { error, description } => html(
                        StatusCode::OK,
                        "Login failed",
                        &format!(
                            "Jira access was not granted: {error}. {}",
                            description.as_deref().unwrap_or("")
                        ),
                    ),
                };
                let _ = self.outcome.try_send(callback);
                response
            }
        }
    }
}

fn html(status: StatusCode, title: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\">\
         <h1>{title}</h1><p>{}</p></body></html>",
        escape_html(message)
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The error description comes from a URL anyone can craft.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_uris_are_captured() {
        let addrs = |s: &str| loopback_addresses(&Url::parse(s).unwrap());
        assert_eq!(addrs("http://localhost:8080/callback").unwrap().len(), 2);
        assert!(addrs("http://127.0.0.5:9/cb").is_some());
        assert!(addrs("http://[::1]:9/cb").is_some());
        assert!(addrs("https://localhost:8080/callback").is_none());
        assert!(addrs("http://example.com:8080/callback").is_none());
        assert!(addrs("http://10.0.0.1:8080/callback").is_none());
    }

    #[test]
    fn error_text_is_escaped() {
        assert_eq!(
            escape_html("<script>&\"'"),
            "&lt;script&gt;&amp;&quot;&#39;"
        );
    }
}
