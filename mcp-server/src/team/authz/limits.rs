//! Per-address rate limits on the authorization endpoints, which anyone can
//! reach without a token: registrations (each a stored row) get a bucket per
//! hour, the other endpoints one per minute. The address is the TCP peer's,
//! or, when the peer is a trusted reverse proxy (`JIRA_MCP_TRUSTED_PROXIES`),
//! the nearest address in `X-Forwarded-For` that is not a trusted proxy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::config::AbuseLimits;
use crate::team::http::rate::RateLimiter;

/// One limit, as a route layer's state.
pub(crate) struct AddressLimit {
    buckets: RateLimiter,
    trusted: Vec<IpNet>,
    /// The setting named in the 429's message.
    setting: &'static str,
}

impl AddressLimit {
    /// The general limit of `limits`.
    pub(crate) fn general(limits: &AbuseLimits) -> Arc<AddressLimit> {
        Arc::new(AddressLimit {
            buckets: RateLimiter::per(limits.per_minute, Duration::from_secs(60)),
            trusted: limits.trusted_proxies.clone(),
            setting: "JIRA_MCP_AUTHZ_RATE_LIMIT",
        })
    }

    /// The registration limit of `limits`.
    pub(crate) fn registrations(limits: &AbuseLimits) -> Arc<AddressLimit> {
        Arc::new(AddressLimit {
            buckets: RateLimiter::per(limits.registrations_per_hour, Duration::from_secs(3600)),
            trusted: limits.trusted_proxies.clone(),
            setting: "JIRA_MCP_REGISTER_RATE_LIMIT",
        })
    }
}

/// The route layer: one request from the caller's address, or a 429.
pub(crate) async fn limit(
    State(limit): State<Arc<AddressLimit>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    // Without the peer (a router served without connect info) every caller
    // shares one bucket: stricter, never looser.
    let key = client_address(peer, request.headers(), &limit.trusted)
        .map(bucket_key)
        .unwrap_or_default();
    match limit.buckets.take(&key) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::warn!(address = %key, setting = limit.setting, "rate limit reached on an authorization endpoint");
            too_many(wait, limit.setting)
        }
    }
}

/// The address a request comes from: the peer, unless the peer is a trusted
/// proxy; then `X-Forwarded-For` read from the right (the entries the
/// trusted proxies appended) up to the first address that is not trusted.
/// Entries left of that are the client's own say and are ignored.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer?;
    if !is_trusted(&client) {
        return Some(client);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Not an address: nothing further left can be believed.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// The bucket of an address: an IPv4 address, or an IPv6 address's /64
/// (one host usually holds a whole /64, and could rotate through it).
fn bucket_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// 429 with `Retry-After` in whole seconds.
fn too_many(wait: Duration, setting: &str) -> Response {
    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "too many requests from your address to this authorization server ({setting}): \
             retry in {secs} s"
        ),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_peer_is_the_address_unless_it_is_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let spoofed = forwarded("203.0.113.9");
        // An untrusted peer's header is ignored.
        let outsider: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            client_address(Some(outsider), &spoofed, &trusted),
            Some(outsider)
        );
        assert_eq!(client_address(Some(proxy), &spoofed, &[]), Some(proxy));
        // Behind the trusted proxy: the address it appended.
        assert_eq!(
            client_address(Some(proxy), &spoofed, &trusted),
            Some("203.0.113.9".parse().unwrap())
        );
        // What the client prepended itself is not believed.
        assert_eq!(
            client_address(
                Some(proxy),
                &forwarded("1.2.3.4, 203.0.113.9, 10.0.0.3"),
                &trusted
            ),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            client_address(Some(proxy), &forwarded("junk, [2001:db8::1]:443"), &trusted),
            Some("2001:db8::1".parse().unwrap())
        );
        // No header, or only garbage: the proxy itself.
        assert_eq!(
            client_address(Some(proxy), &HeaderMap::new(), &trusted),
            Some(proxy)
        );
        assert_eq!(
            client_address(Some(proxy), &forwarded("unknown"), &trusted),
            Some(proxy)
        );
        assert_eq!(client_address(None, &spoofed, &trusted), None);
    }

    #[test]
    fn an_ipv6_host_gets_one_bucket_for_its_whole_64() {
        let a = bucket_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = bucket_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        let other = bucket_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(bucket_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
