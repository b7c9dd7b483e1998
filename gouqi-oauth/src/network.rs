//! Network settings shared by every HTTP client of this crate (Jira, the token
//! endpoint, site discovery), and the classification of network failures into
//! [`Error::Network`].
//!
//! Proxies: reqwest reads `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`
//! (and their lower-case forms) for every client built here; nothing in this
//! crate turns that off.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, NetworkFailure, Result};

/// The default overall timeout of one request.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting never waits longer than this, even with a longer overall timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keepalive probes notice a peer that vanished without closing.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// How this crate's HTTP clients connect: timeouts, and which certificate
/// authorities they trust. Build it once and hand it to
/// [`crate::TokenSource::http_settings`], [`crate::AuthorizationFlow::http_settings`]
/// and [`r#async::Jira::with_settings`](async/struct.Jira.html#method.with_settings) / [`crate::Jira::with_settings`].
///
/// ```no_run
/// # fn run() -> gouqi_oauth::Result<()> {
/// use std::time::Duration;
/// use gouqi_oauth::HttpSettings;
///
/// let settings = HttpSettings::default()
///     .timeout(Duration::from_secs(15))
///     .ca_bundle_file("/etc/ssl/corp-ca.pem".as_ref())?
///     .native_roots(true);
/// # let _ = settings;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HttpSettings {
    timeout: Duration,
    extra_root_certificates: Vec<reqwest::Certificate>,
    native_roots: bool,
}

impl Default for HttpSettings {
    /// A 30 s timeout, and only the bundled (Mozilla) root certificates.
    fn default() -> Self {
        HttpSettings {
            timeout: DEFAULT_TIMEOUT,
            extra_root_certificates: Vec::new(),
            native_roots: false,
        }
    }
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("timeout", &self.timeout)
            .field(
                "extra_root_certificates",
                &self.extra_root_certificates.len(),
            )
            .field("native_roots", &self.native_roots)
            .finish()
    }
}

impl HttpSettings {
    /// The overall timeout of one request (connecting: the smaller of it and 10 s).
    /// A zero timeout is raised to one millisecond rather than disabling it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Also trusts the certificates of a PEM bundle (one or more `CERTIFICATE`
    /// blocks), e.g. a company's private CA.
    pub fn ca_bundle_pem(mut self, pem: &[u8]) -> Result<Self> {
        let certificates = parse_bundle(pem).map_err(|why| {
            Error::Config(format!(
                "the CA bundle is not usable: {why}; give a PEM file with one or more certificates"
            ))
        })?;
        self.extra_root_certificates.extend(certificates);
        Ok(self)
    }

    /// Like [`HttpSettings::ca_bundle_pem`], reading the bundle from `path`.
    pub fn ca_bundle_file(self, path: &Path) -> Result<Self> {
        let unusable = |why: String| {
            Error::Config(format!(
                "the CA bundle {} is not usable: {why}; give a PEM file with one or more certificates",
                path.display()
            ))
        };
        let pem = std::fs::read(path).map_err(|e| unusable(format!("cannot read it ({e})")))?;
        let certificates = parse_bundle(&pem).map_err(unusable)?;
        let mut settings = self;
        settings.extra_root_certificates.extend(certificates);
        Ok(settings)
    }

    /// Also trusts the operating system's certificate store (where companies
    /// usually install their CAs). Off by default.
    pub fn native_roots(mut self, enabled: bool) -> Self {
        self.native_roots = enabled;
        self
    }

    /// The overall request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the OS certificate store is trusted.
    pub fn uses_native_roots(&self) -> bool {
        self.native_roots
    }

    /// An async reqwest builder with these settings, for further changes.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let mut builder = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout())
            .tcp_keepalive(TCP_KEEPALIVE)
            .tls_built_in_native_certs(self.native_roots);
        for certificate in &self.extra_root_certificates {
            builder = builder.add_root_certificate(certificate.clone());
        }
        builder
    }

    /// A blocking reqwest builder with these settings, for further changes.
    pub fn blocking_client_builder(&self) -> reqwest::blocking::ClientBuilder {
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout())
            .tcp_keepalive(TCP_KEEPALIVE)
            .tls_built_in_native_certs(self.native_roots);
        for certificate in &self.extra_root_certificates {
            builder = builder.add_root_certificate(certificate.clone());
        }
        builder
    }

    fn connect_timeout(&self) -> Duration {
        self.timeout.min(MAX_CONNECT_TIMEOUT)
    }
}

fn parse_bundle(pem: &[u8]) -> std::result::Result<Vec<reqwest::Certificate>, String> {
    let certificates = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| format!("it is not valid PEM ({})", e.without_url()))?;
    if certificates.is_empty() {
        return Err("it holds no certificate".into());
    }
    Ok(certificates)
}

/// Turns a failed request to `url` into [`Error::Network`], naming the host
/// (never the path or query, which may carry data) and the cause.
pub(crate) fn network_error(error: &reqwest::Error, url: &url::Url) -> Error {
    let (failure, cause) = classify(error);
    Error::Network {
        host: host_of(url),
        failure,
        cause,
    }
}

/// `host[:port]` of `url`, the port only when it is not the scheme's default.
pub(crate) fn host_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("(no host)");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Sorts a reqwest error by walking its source chain (reqwest's own message
/// names the URL, so the cause is built from the sources only).
pub(crate) fn classify(error: &reqwest::Error) -> (NetworkFailure, String) {
    let mut causes: Vec<String> = Vec::new();
    let mut failure = None;
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let text = e.to_string();
        failure = failure.or_else(|| failure_of(e, &text));
        // A message with a URL in it could carry a query string: leave it out.
        if !text.contains("://") && !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = e.source();
    }
    let failure = match failure {
        Some(failure) => failure,
        None if error.is_timeout() => NetworkFailure::Timeout,
        None => NetworkFailure::Other,
    };
    let cause = match causes.as_slice() {
        [] if error.is_timeout() => "operation timed out".to_string(),
        [] => "the connection failed".to_string(),
        _ => causes.join(": "),
    };
    (failure, cause)
}

fn failure_of(e: &(dyn std::error::Error + 'static), text: &str) -> Option<NetworkFailure> {
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                return Some(NetworkFailure::ConnectionRefused);
            }
            std::io::ErrorKind::TimedOut => return Some(NetworkFailure::Timeout),
            _ => {}
        }
    }
    let text = text.to_ascii_lowercase();
    if text.contains("dns error") || text.contains("lookup address") {
        Some(NetworkFailure::Dns)
    } else if ["certificate", "tls", "handshake", "ssl"]
        .iter()
        .any(|word| text.contains(word))
    {
        Some(NetworkFailure::Tls)
    } else if text.contains("timed out") {
        Some(NetworkFailure::Timeout)
    } else if text.contains("connection refused") {
        Some(NetworkFailure::ConnectionRefused)
    } else {
        None
    }
}
