//! HTTP with retries: one blocking client for every server bcss talks to.
//!
//! [`Http::request`] sends a request and reads the whole body, retrying with exponential backoff
//! and jitter on connection errors, timeouts, a body cut off mid-transfer, and statuses 408, 429,
//! 500, 502, 503 and 504 (honouring `Retry-After`). Other statuses are returned to the caller,
//! who knows what they mean. The retry count and elapsed time are part of the error.
//!
//! TLS is rustls with the system's root certificates (plus `--ca-cert` for users behind an
//! inspecting proxy); there is no way to turn certificate checks off.
//!
//! Secrets: URLs are shown through [`redact_url`], which hides the values of `key`, `token` and
//! `password` query parameters, and transport errors are kept as redacted text.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Settings of the HTTP client.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Timeout for connecting, for the response head and for each read of the body.
    pub timeout: Duration,
    /// How many times a failed request is retried (0 = try once).
    pub retries: u32,
    /// First backoff delay; doubles each retry, with jitter, capped at 60 s.
    pub backoff_base: Duration,
    /// Extra root certificate(s), PEM, trusted in addition to the system's.
    pub ca_cert: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(120),
            retries: 5,
            backoff_base: Duration::from_millis(500),
            ca_cert: None,
        }
    }
}

/// A request: method, URL, query and headers.
#[derive(Clone)]
pub struct Request {
    /// `GET` or `POST`.
    pub post: bool,
    /// Absolute URL without query.
    pub url: String,
    /// Query pairs (encoded when sent).
    pub query: Vec<(String, String)>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may be tokens: never print them.
        f.debug_struct("Request").field("post", &self.post).field("url", &self.shown_url()).finish_non_exhaustive()
    }
}

impl Request {
    /// A GET of `url`.
    pub fn get(url: impl Into<String>) -> Request {
        Request { post: false, url: url.into(), query: Vec::new(), headers: Vec::new() }
    }
    /// A POST of `url` with an empty body.
    pub fn post(url: impl Into<String>) -> Request {
        Request { post: true, url: url.into(), query: Vec::new(), headers: Vec::new() }
    }
    /// Adds a query pair.
    pub fn query(mut self, k: impl Into<String>, v: impl Into<String>) -> Request {
        self.query.push((k.into(), v.into()));
        self
    }
    /// Adds a header.
    pub fn header(mut self, k: impl Into<String>, v: impl Into<String>) -> Request {
        self.headers.push((k.into(), v.into()));
        self
    }
    /// The URL with its query, secrets hidden: safe for logs and errors.
    pub fn shown_url(&self) -> String {
        let mut s = self.url.clone();
        for (i, (k, v)) in self.query.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(k);
            s.push('=');
            s.push_str(if is_secret_param(k) { "[redacted]" } else { v });
        }
        redact_url(&s)
    }
}

fn is_secret_param(k: &str) -> bool {
    matches!(k.to_ascii_lowercase().as_str(), "key" | "token" | "password" | "girdertoken" | "api_key" | "apikey")
}

/// Hides the values of secret query parameters, and any user info (`user:password@`), in a URL.
pub fn redact_url(url: &str) -> String {
    let url = match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://[redacted]@{host}{}", &rest[authority_end..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    };
    let Some((base, query)) = url.split_once('?') else { return url };
    let parts: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if is_secret_param(k) => format!("{k}=[redacted]"),
            _ => p.to_string(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// `Girder-Total-Count`, if sent.
    pub total_count: Option<u64>,
    /// The whole body.
    pub body: Vec<u8>,
    /// How many retries it took.
    pub retries: u32,
}

impl Response {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// What went wrong on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Could not connect, TLS failed, the connection broke, or the body was cut off.
    Transport(String),
    /// Timed out.
    Timeout(String),
    /// The server kept answering a retryable status.
    Status(u16, Option<String>),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Transport(s) => write!(f, "{s}"),
            Failure::Timeout(s) => write!(f, "timed out ({s})"),
            Failure::Status(code, Some(msg)) => write!(f, "HTTP {code}: {msg}"),
            Failure::Status(code, None) => write!(f, "HTTP {code}"),
        }
    }
}

/// A request that failed after all retries.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{failure} ({url}; {retries} retries in {elapsed:.1?})")]
pub struct HttpError {
    /// The URL, secrets hidden.
    pub url: String,
    /// The last failure.
    pub failure: Failure,
    /// Retries made.
    pub retries: u32,
    /// Time spent.
    pub elapsed: Duration,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA file could not be read.
    #[error("failed to read CA certificate file `{path}`")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("CA certificate file `{path}` holds no PEM certificate")]
    CaEmpty {
        /// The file.
        path: PathBuf,
    },
}

/// The HTTP client.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    config: HttpConfig,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("config", &self.config).finish_non_exhaustive()
    }
}

fn root_certs(config: &HttpConfig) -> Result<ureq::tls::RootCerts, ClientError> {
    use ureq::tls::{Certificate, RootCerts};
    let mut certs: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .into_iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    if let Some(path) = &config.ca_cert {
        let pem = std::fs::read(path).map_err(|source| ClientError::CaFile { path: path.clone(), source })?;
        let extra: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if extra.is_empty() {
            return Err(ClientError::CaEmpty { path: path.clone() });
        }
        certs.extend(extra);
    }
    if certs.is_empty() {
        // No system store (a minimal container): Mozilla's roots, still fully verified.
        return Ok(RootCerts::WebPki);
    }
    Ok(RootCerts::new_with_certs(&certs))
}

fn is_credential_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("girder-token")
        || name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("cookie")
}

/// `scheme://host:port` of an absolute URL, the part that decides whether credentials may
/// follow a redirect: the scheme and host as the `url` crate normalises them (lowercase,
/// IDNA), the port explicit or the scheme's known default (`https://H/a` and
/// `https://h:443/b` share an origin), user info and path ignored. This is `Url::origin`'s
/// tuple; a scheme without a known default port keeps its explicit port, if any. `None` when
/// the URL does not parse or has no host, which never equals the origin of a URL that was
/// requested, so credentials are dropped.
fn origin(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let host = url.host_str()?;
    Some(match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// The absolute URL a `Location` header points at, resolved against `base` by RFC 3986
/// section 5 (`Url::join`): `?y` keeps the base path, `../g` and `./` are normalised, `//g`
/// changes the host. `None` when either does not parse.
fn resolve_location(base: &str, location: &str) -> Option<String> {
    let base = url::Url::parse(base).ok()?;
    base.join(location).ok().map(String::from)
}

fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

fn girder_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("message")?.as_str().map(str::to_string)
}

impl Http {
    /// Builds the client.
    pub fn new(config: HttpConfig) -> Result<Http, ClientError> {
        let tls = ureq::tls::TlsConfig::builder().root_certs(root_certs(&config)?).build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.timeout))
            .timeout_recv_response(Some(config.timeout))
            .timeout_per_read(Some(config.timeout))
            // Redirects are followed by `Http::send`, which keeps credentials on their origin.
            .max_redirects(0)
            .user_agent(format!("bcss/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build()
            .into();
        Ok(Http { agent, config })
    }

    /// The settings.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(Duration::from_secs(300));
        }
        let base = self.config.backoff_base.as_secs_f64() * 2f64.powi(attempt.min(16) as i32);
        let capped = base.min(60.0);
        Duration::from_secs_f64(capped * (0.5 + fastrand::f64() * 0.5))
    }

    /// Sends one request, following redirects by hand (at most 10) so that credentials never
    /// leave their origin: `Girder-Token` and `Authorization` are dropped as soon as a redirect
    /// points at another scheme, host or port (an S3 assetstore, a link file, a hostile server).
    fn send(&self, req: &Request) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        let mut url = req.url.clone();
        let mut query: &[(String, String)] = &req.query;
        let mut headers: Vec<(String, String)> = req.headers.clone();
        let mut post = req.post;
        for _ in 0..=10 {
            let result = if post {
                let mut r = self.agent.post(&url);
                for (k, v) in query {
                    r = r.query(k, v);
                }
                for (k, v) in &headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                // Girder (CherryPy) answers 411 to a POST without Content-Length: send an empty
                // body of known length.
                r.send(&[][..])
            } else {
                let mut r = self.agent.get(&url);
                for (k, v) in query {
                    r = r.query(k, v);
                }
                for (k, v) in &headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                r.call()
            };
            let resp = result.map_err(|e| classify(&e))?;
            let status = resp.status().as_u16();
            let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
            let (true, Some(location)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location) else {
                return Ok(resp);
            };
            let next = resolve_location(&url, &location).ok_or_else(|| {
                Failure::Transport(format!("redirect to an unusable location `{}`", redact_url(&location)))
            })?;
            if origin(&next) != origin(&url) {
                headers.retain(|(k, _)| !is_credential_header(k));
            }
            if (301..=303).contains(&status) {
                post = false;
            }
            url = next;
            query = &[];
        }
        Err(Failure::Transport(format!("more than 10 redirects, last to {}", redact_url(&url))))
    }

    fn once(&self, req: &Request, on_bytes: &dyn Fn(u64)) -> Result<(Response, Option<Duration>), Failure> {
        let resp = self.send(req)?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header("content-type");
        let total_count = header("girder-total-count").and_then(|v| v.trim().parse().ok());
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let expected = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let mut reader = resp.into_body().into_with_config().limit(u64::MAX).reader();
        let mut body = Vec::with_capacity(expected.unwrap_or(0).min(1 << 30) as usize);
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            match std::io::Read::read(&mut reader, &mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    body.extend_from_slice(&chunk[..n]);
                    on_bytes(n as u64);
                }
                Err(e) => {
                    let text = redact_url(&e.to_string());
                    return Err(if e.kind() == std::io::ErrorKind::TimedOut {
                        Failure::Timeout(format!("body stalled after {} bytes: {text}", body.len()))
                    } else {
                        Failure::Transport(format!("body cut off after {} bytes: {text}", body.len()))
                    });
                }
            }
        }
        if let Some(n) = expected {
            if body.len() as u64 != n {
                return Err(Failure::Transport(format!("body cut off: {} of {n} bytes", body.len())));
            }
        }
        Ok((Response { status, content_type, total_count, body, retries: 0 }, retry_after))
    }

    /// Sends `req` and reads the whole body, retrying transient failures. Returns the response
    /// for every status that is not retryable (the caller decides what a 4xx means); fails when
    /// retries are exhausted. `on_bytes` sees every chunk received (retries included).
    pub fn request(&self, req: &Request, on_bytes: &dyn Fn(u64)) -> Result<Response, HttpError> {
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            let (failure, retry_after) = match self.once(req, on_bytes) {
                Ok((resp, retry_after)) if retryable_status(resp.status) => {
                    (Failure::Status(resp.status, girder_message(&resp.body)), retry_after)
                }
                Ok((mut resp, _)) => {
                    resp.retries = attempt;
                    return Ok(resp);
                }
                Err(f) => (f, None),
            };
            if attempt >= self.config.retries {
                return Err(HttpError { url: req.shown_url(), failure, retries: attempt, elapsed: start.elapsed() });
            }
            let delay = self.backoff(attempt, retry_after);
            tracing::warn!(url = %req.shown_url(), %failure, attempt = attempt + 1, delay_ms = delay.as_millis() as u64, "retrying");
            std::thread::sleep(delay);
            attempt += 1;
        }
    }
}

fn classify(e: &ureq::Error) -> Failure {
    let mut text = redact_url(&e.to_string());
    if text.contains("certificate") {
        text.push_str(" (behind an inspecting proxy? trust its root with --ca-cert FILE)");
    }
    match e {
        ureq::Error::Timeout(_) => Failure::Timeout(text),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Failure::Timeout(text),
        ureq::Error::ConnectionFailed => Failure::Transport("connection refused or failed".to_string()),
        ureq::Error::HostNotFound => Failure::Transport("host not found".to_string()),
        _ => Failure::Transport(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_in_urls() {
        assert_eq!(
            redact_url("http://h/api/v1/api_key/token?key=SECRET&duration=1"),
            "http://h/api/v1/api_key/token?key=[redacted]&duration=1"
        );
        assert_eq!(
            redact_url("https://bob:pw@dsa.example/api/v1?limit=1"),
            "https://[redacted]@dsa.example/api/v1?limit=1"
        );
        let r = Request::post("http://h/api_key/token").query("key", "SECRET");
        assert!(!r.shown_url().contains("SECRET"));
        assert!(!format!("{r:?}").contains("SECRET"));
        let r = Request::get("http://h/item").header("Girder-Token", "TOKEN");
        assert!(!format!("{r:?}").contains("TOKEN"));
    }

    #[test]
    fn origins_and_locations() {
        assert_eq!(origin("http://h:8080/a?b").as_deref(), Some("http://h:8080"));
        assert_eq!(origin("https://H/a").as_deref(), Some("https://h:443"));
        assert_eq!(origin("http://u:p@h/a").as_deref(), Some("http://h:80"));
        assert_eq!(resolve_location("http://h:1/a/b?x", "/c").as_deref(), Some("http://h:1/c"));
        assert_eq!(resolve_location("http://h:1/a/b?x", "c").as_deref(), Some("http://h:1/a/c"));
        assert_eq!(resolve_location("http://h:1/a", "https://s3/x").as_deref(), Some("https://s3/x"));
        assert_eq!(resolve_location("https://h/a", "//cdn/x").as_deref(), Some("https://cdn/x"));
    }

    #[test]
    fn origins_ignore_case_and_default_ports() {
        let same = [
            ("https://DSA.Example.org/api", "https://dsa.example.org:443/x"),
            ("HTTP://h/a", "http://h:80/b?c"),
            ("http://user:pw@H:8080/a", "http://h:8080/"),
        ];
        for (a, b) in same {
            assert_eq!(origin(a), origin(b), "{a} vs {b}");
            assert!(origin(a).is_some());
        }
        let different = [
            ("http://h/a", "https://h/a"),
            ("http://h/a", "http://h:8080/a"),
            ("https://h/a", "https://h:80/a"),
            ("http://h/a", "http://h.evil/a"),
        ];
        for (a, b) in different {
            assert_ne!(origin(a), origin(b), "{a} vs {b}");
        }
        assert_eq!(origin("https://h:443/a").as_deref(), Some("https://h:443"));
        assert_eq!(origin("not a url"), None);
    }

    #[test]
    fn locations_resolve_like_rfc_3986() {
        // RFC 3986 section 5.4.1, base `http://a/b/c/d;p?q`. `//g` serialises with the empty
        // path as `/` (WHATWG), the same resource as the RFC's `http://g`.
        let base = "http://a/b/c/d;p?q";
        for (location, want) in [
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            (";x", "http://a/b/c/;x"),
            ("../g", "http://a/b/g"),
            ("../../g", "http://a/g"),
            ("//g", "http://g/"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("/g", "http://a/g"),
            ("", "http://a/b/c/d;p?q"),
        ] {
            assert_eq!(resolve_location(base, location).as_deref(), Some(want), "{location:?}");
        }
        // A query-only location keeps the last path segment (a hand-made resolver dropped it).
        assert_eq!(resolve_location("http://h/api/v1/a/b?q=1", "?x=1").as_deref(), Some("http://h/api/v1/a/b?x=1"));
        // Dot segments cannot climb above the root.
        assert_eq!(resolve_location("http://h/a", "../../../c").as_deref(), Some("http://h/c"));
        assert_eq!(resolve_location("not a url", "/c"), None);
    }

    /// A server that answers every request with `reply(path)` and records the request heads.
    fn recording_server(
        reply: impl Fn(&str) -> String + Send + 'static,
    ) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                seen.lock().unwrap().push(head.to_ascii_lowercase());
                let _ = stream.write_all(reply(&path).as_bytes());
            }
        });
        (port, heads)
    }

    #[test]
    fn credentials_never_follow_a_redirect_to_another_origin() {
        let (other, other_heads) =
            recording_server(|_| "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into());
        let (port, heads) = recording_server(move |path| {
            if path.starts_with("/same") {
                "HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            } else if path.starts_with("/away") {
                format!("HTTP/1.1 303 See Other\r\nLocation: http://127.0.0.1:{other}/presigned\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfinal".to_string()
            }
        });
        let http = Http::new(HttpConfig { retries: 0, ..Default::default() }).unwrap();
        let same = http
            .request(&Request::get(format!("http://127.0.0.1:{port}/same")).header("Girder-Token", "SECRET1"), &|_| {})
            .unwrap();
        assert_eq!((same.status, same.body.as_slice()), (200, &b"final"[..]));
        assert!(
            heads.lock().unwrap().iter().all(|h| h.contains("girder-token: secret1")),
            "same origin keeps the token"
        );
        let away = http
            .request(&Request::get(format!("http://127.0.0.1:{port}/away")).header("Girder-Token", "SECRET2"), &|_| {})
            .unwrap();
        assert_eq!((away.status, away.body.as_slice()), (200, &b"ok"[..]));
        let other_heads = other_heads.lock().unwrap();
        assert_eq!(other_heads.len(), 1);
        assert!(!other_heads[0].contains("girder-token"), "token sent to another origin: {}", other_heads[0]);
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let http = Http::new(HttpConfig { backoff_base: Duration::from_millis(100), ..Default::default() }).unwrap();
        let d0 = http.backoff(0, None);
        let d3 = http.backoff(3, None);
        assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
        assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800));
        assert_eq!(http.backoff(0, Some(Duration::from_secs(2))), Duration::from_secs(2));
    }

    #[test]
    fn unreachable_server_fails_after_retries() {
        // Bind then drop a listener: the port is closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let http =
            Http::new(HttpConfig { retries: 2, backoff_base: Duration::from_millis(1), ..Default::default() }).unwrap();
        let err = http.request(&Request::get(format!("http://127.0.0.1:{port}/x")), &|_| {}).unwrap_err();
        assert_eq!(err.retries, 2);
        assert!(matches!(err.failure, Failure::Transport(_)), "{err}");
    }
}
