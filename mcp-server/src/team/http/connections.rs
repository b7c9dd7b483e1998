//! The team server's connections: HTTP/1.1 on hyper with the limits that
//! `axum::serve` does not set. A client that sends its headers a byte at a
//! time (slowloris), trickles a body, or opens connections by the thousand
//! cannot keep the server from answering others:
//!
//! - a header-read timeout, which in hyper also bounds how long a keep-alive
//!   connection may sit idle before its next request;
//! - a body timeout (408 when a request body stalls);
//! - a cap on open connections: past it the server stops accepting, so new
//!   clients wait in the kernel's backlog instead of the process running out
//!   of file descriptors, and are served as soon as a connection ends.
//!
//! A reverse proxy with its own timeouts is still expected in front (README).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::config::ConnectionLimits;

/// Serves `router` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_timeout));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // Wait for a free slot before accepting: the kernel queues the rest.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small JSON answers: don't let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // What `into_make_service_with_connect_info` would give handlers.
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(Body::new)).await;
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A timed-out or reset connection is the client's business.
            if let Err(e) = connection.await {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open {} s after shutdown began; closing them",
            grace.as_secs()
        );
    }
}

/// An accept error: per-connection ones (the client gave up) are skipped;
/// others (out of file descriptors) are logged and retried after a pause,
/// as a busy loop would not free anything.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %error, "cannot accept a connection; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The most of an unread request body read before a refusal is sent.
const DRAIN_LIMIT: usize = 64 * 1024;
/// How long reading it may take.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// `response` to a request refused before its body was read. Unread body
/// bytes would stay on a keep-alive connection, so hyper closes it after the
/// response, under a client that may already be sending its next request
/// there (it never learns why). A small body is read first, keeping the
/// connection usable; otherwise the response says `Connection: close`.
pub async fn refuse(request: axum::extract::Request, mut response: Response) -> Response {
    let body = request.into_body();
    let drained = tokio::time::timeout(DRAIN_TIME, axum::body::to_bytes(body, DRAIN_LIMIT)).await;
    if !matches!(drained, Ok(Ok(_))) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
