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
//! `password` query parameters, and transport errors are kept typed ([`TransportError`]: a
//! [`TransportKind`], the redacted URL, and the underlying library's text redacted and
//! scrubbed; the library's own error, whose text may hold a URL with its query, is dropped
//! there). Header values
//! (`Girder-Token`, `X-Auth-Token`, ...) are never formatted: `Request`'s `Debug` omits them and
//! only a fixed list of harmless response headers is kept (`KEPT_HEADERS`). A server may still
//! echo a secret back (`"Invalid API key: <the key>"`): every secret of the process is registered
//! (`register_secret`, done by `Secret::new`) and every text that comes from a server is passed
//! through `scrub` before it reaches an error, a log line or a manifest.
//!
//! Bounds: a server cannot stall a request or exhaust memory. Connecting, the response head and
//! each read of the body wait at most `timeout`; on top of that the whole body must arrive before
//! its **deadline**, `timeout + size / 64 KiB/s` after the head (`body_deadline`, `size` =
//! `Content-Length`, else [`Request::max_body`], else 1 GiB), checked after every read (so a
//! request ends at most one `timeout` after its deadline). A body that misses it is a
//! [`TransportKind::Deadline`]. Callers give every whole-body request a [`Request::max_body`].
//!
//! Big bodies: `Http::stream` sends one request (no retries) and hands back the response head
//! and a reader, so a caller can write a multi-GB body to disk as it arrives and stop early. Only
//! the caller knows how much of a broken body it already kept, so it retries itself, with the
//! same rules as [`Http::request`] through a `RetryState`. A caller that wants a whole body but
//! knows the most it will accept sets [`Request::max_body`]: a larger body (claimed or actual)
//! is [`Failure::TooLarge`], never an allocation of the claimed size.

use std::io::Read;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// The slowest body rate a request is allowed, on average, once its head has arrived: 64 KiB/s
/// (see `body_deadline`).
pub(crate) const FLOOR_RATE: u64 = 64 * 1024;

/// The size a deadline assumes for a body of unknown size without a [`Request::max_body`].
const UNKNOWN_SIZE: u64 = 1 << 30;

/// How long a body of `size` bytes may take to arrive after the response head:
/// `timeout + size / FLOOR_RATE` (a 2 MiB region with `--timeout 120` gets 152 s).
pub(crate) fn body_deadline(timeout: Duration, size: u64) -> Duration {
    timeout + Duration::from_secs_f64(size as f64 / FLOOR_RATE as f64)
}

/// Every secret this process knows (API keys, passwords, tokens), for `scrub`.
static KNOWN_SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Secrets shorter than this are not scrubbed: replacing every `ab` of a message would make it
/// unreadable, and such a secret protects nothing anyway.
const MIN_SECRET_LEN: usize = 4;

/// Remembers a secret so that `scrub` hides it (as is and percent-encoded). `Secret::new` calls
/// this; call it for any other form a secret travels in (an HTTP Basic header).
pub(crate) fn register_secret(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_SECRET_LEN {
        return;
    }
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let mut known = KNOWN_SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for s in [secret.to_string(), encoded] {
        if !known.contains(&s) {
            known.push(s);
        }
    }
    // Longest first, so a secret that contains another is hidden whole.
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret replaced by `[redacted]`: for anything a server sent
/// (Girder's and the GDC's `message`, error bodies) before it is shown, logged or recorded.
pub(crate) fn scrub(text: &str) -> String {
    let known = KNOWN_SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for s in known.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
}

/// Settings of the HTTP client: [`HttpConfig::default`] (what the CLI's flags default to) changed
/// by chainable setters, as the command plans are.
///
/// ```
/// use std::time::Duration;
/// let config = bcss::source::http::HttpConfig::default().retries(2).timeout(Duration::from_secs(30));
/// assert_eq!((config.get_retries(), config.get_timeout()), (2, Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    pub(crate) timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) backoff_base: Duration,
    pub(crate) ca_cert: Option<PathBuf>,
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

impl HttpConfig {
    /// Timeout for connecting, for the response head and for each read of the body (default:
    /// 120 s); a body also has a deadline (see the module docs).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// How many times a failed request is retried (default: 5; 0 = try once).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
    /// First backoff delay; doubles each retry, with jitter, capped at 60 s (default: 500 ms).
    pub fn backoff_base(mut self, base: Duration) -> Self {
        self.backoff_base = base;
        self
    }
    /// Extra root certificate(s), PEM, trusted in addition to the system's (default: none).
    pub fn ca_cert(mut self, path: Option<PathBuf>) -> Self {
        self.ca_cert = path;
        self
    }
    /// The timeout.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }
    /// The retries.
    pub fn get_retries(&self) -> u32 {
        self.retries
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
    /// The body of a POST (empty when `None`); its `Content-Type` is among `headers`.
    pub body: Option<Vec<u8>>,
    /// The largest body [`Http::request`] accepts; `None` = no limit (and a 1 GiB deadline).
    pub max_body: Option<u64>,
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
        Request { post: false, url: url.into(), query: Vec::new(), headers: Vec::new(), body: None, max_body: None }
    }
    /// A POST of `url` with an empty body.
    pub fn post(url: impl Into<String>) -> Request {
        Request { post: true, url: url.into(), query: Vec::new(), headers: Vec::new(), body: None, max_body: None }
    }
    /// Makes this a POST with `value` as a JSON body (`Content-Type: application/json`).
    pub fn json_body(mut self, value: &serde_json::Value) -> Request {
        self.post = true;
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        self.headers.push(("Content-Type".into(), "application/json".into()));
        self.body = Some(serde_json::to_vec(value).expect("a JSON value always serialises"));
        self
    }
    /// Refuses, in [`Http::request`], a body longer than `n` bytes (claimed by `Content-Length`
    /// or actually sent): [`Failure::TooLarge`], not retried, and nothing of the claimed size is
    /// allocated.
    pub fn max_body(mut self, n: u64) -> Request {
        self.max_body = Some(n);
        self
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

/// The response headers kept on [`Response`] and `Head` (lower case). A fixed list, so that no
/// `Set-Cookie` or other secret is ever carried around, printed or logged.
pub(crate) const KEPT_HEADERS: &[&str] = &[
    "content-range",
    "content-disposition",
    "content-length",
    "content-type",
    "accept-ranges",
    "etag",
    "last-modified",
    "retry-after",
];

/// Looks a kept header up by name (case-insensitive).
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The `KEPT_HEADERS` of a response, in the order listed.
fn kept_headers(resp: &ureq::http::Response<ureq::Body>) -> Vec<(String, String)> {
    KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let v = resp.headers().get(*name)?.to_str().ok()?;
            Some((name.to_string(), v.to_string()))
        })
        .collect()
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
    /// The `KEPT_HEADERS` the server sent (names in lower case).
    pub headers: Vec<(String, String)>,
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
    /// A kept header (`KEPT_HEADERS`), by name, case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The head of a streamed response (`Http::stream`).
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// HTTP status.
    pub status: u16,
    /// `Content-Length`, if sent.
    pub content_length: Option<u64>,
    /// `Retry-After` in seconds, if sent (for [`RetryState::retry`]).
    pub retry_after: Option<Duration>,
    /// The `KEPT_HEADERS` the server sent (names in lower case).
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// A kept header (`KEPT_HEADERS`), by name, case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The body of a streamed response: a reader whose errors carry a [`TransportError`] (redacted),
/// and which fails (`UnexpectedEof`, [`TransportKind::BodyCut`]) when the body ends before its
/// `Content-Length`. Drop it to stop reading
/// (the connection is closed, not drained).
pub(crate) struct BodyReader {
    inner: Box<dyn Read + Send>,
    expected: Option<u64>,
    got: u64,
    /// The URL the body came from, secrets hidden, for its errors.
    url: String,
    /// The limits of a body from `Http::open`: none from `Http::stream`.
    limits: Option<BodyLimits>,
}

/// What `Http::open` holds a body to, as [`Http::request`] does: at most `max` bytes, all of
/// them within `deadline` of the head.
#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    max: u64,
    head_at: Instant,
    deadline: Duration,
    /// The size the deadline was computed for.
    size: u64,
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader").field("expected", &self.expected).field("got", &self.got).finish_non_exhaustive()
    }
}

impl BodyReader {
    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.got
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(l) = self.limits {
            let elapsed = l.head_at.elapsed();
            if elapsed > l.deadline {
                let kind = TransportKind::Deadline {
                    deadline: l.deadline,
                    got: self.got,
                    expected: self.expected,
                    size: l.size,
                    elapsed,
                };
                let e = TransportError::new(kind, &self.url, None);
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, e));
            }
        }
        let got = self.got;
        let n = self.read_inner(buf)?;
        match self.limits {
            Some(l) if got + n as u64 > l.max => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                Failure::TooLarge { limit: l.max, claimed: None },
            )),
            _ => Ok(n),
        }
    }
}

impl BodyReader {
    fn read_inner(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if buf.is_empty() => Ok(0),
            Ok(0) => match self.expected {
                Some(n) if self.got < n => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    TransportError::new(TransportKind::BodyCut { got: self.got, expected: n }, &self.url, None),
                )),
                _ => Ok(0),
            },
            Ok(n) => {
                self.got += n as u64;
                Ok(n)
            }
            Err(e) => Err(std::io::Error::new(e.kind(), body_error(&e, self.got, &self.url))),
        }
    }
}

/// The [`TransportError`] of a failed body read after `bytes` bytes: stalled (a read timed
/// out) or broken; the reader's text redacted and scrubbed.
fn body_error(e: &std::io::Error, bytes: u64, url: &str) -> TransportError {
    let detail = Some(scrub(&redact_url(&e.to_string())));
    if e.kind() == std::io::ErrorKind::TimedOut {
        TransportError::new(TransportKind::BodyStalled { bytes }, url, detail)
    } else {
        TransportError::new(TransportKind::BodyRead { bytes }, url, detail)
    }
}

/// The [`Failure`] a broken body read is (`bytes` = what had arrived), for `RetryState`: the
/// [`TransportError`] a `BodyReader` failed with, as it is.
pub(crate) fn read_failure(e: &std::io::Error, bytes: u64) -> Failure {
    let inner = e.get_ref();
    if let Some(f) = inner.and_then(|inner| inner.downcast_ref::<Failure>()) {
        return f.clone();
    }
    match inner.and_then(|inner| inner.downcast_ref::<TransportError>()) {
        Some(t) => Failure::transport(t.clone()),
        // Not from a `BodyReader`: no URL is known, and the text is redacted all the same.
        None => Failure::transport(body_error(e, bytes, "")),
    }
}

/// Which way a request failed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The host name does not resolve.
    HostNotFound,
    /// The connection was refused or failed.
    Connect,
    /// TLS failed (a certificate nobody trusts here, a handshake).
    Tls,
    /// Connecting or the response head took longer than the timeout.
    Timeout,
    /// A read of the body took longer than the timeout.
    BodyStalled {
        /// Bytes of the body received.
        bytes: u64,
    },
    /// The body missed its deadline (`body_deadline`).
    Deadline {
        /// The deadline, after the head.
        deadline: Duration,
        /// Bytes received.
        got: u64,
        /// `Content-Length`, if sent.
        expected: Option<u64>,
        /// The size the deadline was computed for.
        size: u64,
        /// Time since the head.
        elapsed: Duration,
    },
    /// Reading the body failed (the connection broke).
    BodyRead {
        /// Bytes of the body received.
        bytes: u64,
    },
    /// The body ended before its `Content-Length` (or the range or file asked for).
    BodyCut {
        /// Bytes received.
        got: u64,
        /// Bytes promised.
        expected: u64,
    },
    /// A redirect could not be followed: a `Location` that does not resolve, or more than 10.
    Redirects,
    /// Anything else on the wire (a protocol error, ...).
    Other,
}

/// A request that got no usable answer on the wire: its kind, the URL (secrets hidden) and the
/// underlying library's text (secrets hidden, `scrub`bed). The message never holds a header,
/// a query secret, or any registered secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// What happened.
    pub kind: TransportKind,
    /// The URL that failed, through [`redact_url`] (after redirects, the last one).
    pub url: String,
    /// The underlying library's words, redacted and scrubbed, when they say more than the kind.
    pub detail: Option<String>,
}

impl TransportError {
    /// A transport error of `kind` at `url`, which is redacted here again (redacting twice
    /// changes nothing), and `detail`, which the caller has redacted and scrubbed.
    pub fn new(kind: TransportKind, url: &str, detail: Option<String>) -> TransportError {
        TransportError { kind, url: redact_url(url), detail }
    }

    /// True for the kinds that are a wait running out.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, TransportKind::Timeout | TransportKind::BodyStalled { .. } | TransportKind::Deadline { .. })
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let detail = self.detail.as_deref().unwrap_or("");
        let sep = if detail.is_empty() { "" } else { ": " };
        match &self.kind {
            TransportKind::HostNotFound => write!(f, "host not found"),
            TransportKind::Connect if detail.is_empty() => write!(f, "connection refused or failed"),
            TransportKind::Connect | TransportKind::Tls | TransportKind::Redirects | TransportKind::Other => {
                write!(f, "{detail}")
            }
            TransportKind::Timeout => write!(f, "timed out ({detail})"),
            TransportKind::BodyStalled { bytes } => {
                write!(f, "timed out (body stalled after {bytes} bytes{sep}{detail})")
            }
            TransportKind::Deadline { deadline, got, expected, size, elapsed } => write!(
                f,
                "timed out (the body missed its deadline of {deadline:.1?}: {got} of {} bytes after {elapsed:.1?} \
                 (the deadline is the timeout plus {size} bytes at 64 KiB/s))",
                expected.map_or_else(|| "?".to_string(), |n| n.to_string()),
            ),
            TransportKind::BodyRead { bytes } => write!(f, "body cut off after {bytes} bytes{sep}{detail}"),
            TransportKind::BodyCut { got, expected } => write!(f, "body cut off: {got} of {expected} bytes"),
        }
    }
}

impl std::error::Error for TransportError {}

/// What went wrong on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// Could not connect, TLS failed, timed out, the connection broke, or the body was cut off
    /// (boxed: every request's result carries this type, and a transport error is rare).
    Transport(Box<TransportError>),
    /// The server kept answering a retryable status.
    Status(u16, Option<String>),
    /// A redirect to something else than `http(s)://` (`file://`, `ftp://`): never followed,
    /// not retried.
    Redirect(String),
    /// The body is longer than the caller accepts ([`Request::max_body`]); not retried.
    TooLarge {
        /// The limit.
        limit: u64,
        /// What `Content-Length` claimed, if that is how it was found out.
        claimed: Option<u64>,
    },
}

impl Failure {
    /// A transport failure.
    pub fn transport(t: TransportError) -> Failure {
        Failure::Transport(Box::new(t))
    }

    /// True when a wait ran out (connecting, the head, a read, the body's deadline).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Failure::Transport(t) if t.is_timeout())
    }

    /// True when trying again may help (everything but [`Failure::TooLarge`] and
    /// [`Failure::Redirect`]).
    pub fn is_transient(&self) -> bool {
        !matches!(self, Failure::TooLarge { .. } | Failure::Redirect(_))
    }
}

/// No source: a [`Failure::Transport`] prints its [`TransportError`] as its own message.
impl std::error::Error for Failure {}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Transport(t) => write!(f, "{t}"),
            Failure::Status(code, Some(msg)) => write!(f, "HTTP {code}: {msg}"),
            Failure::Status(code, None) => write!(f, "HTTP {code}"),
            Failure::Redirect(s) => write!(f, "{s}"),
            Failure::TooLarge { limit, claimed: Some(n) } => {
                write!(f, "the body would be {n} bytes, more than the {limit} accepted")
            }
            Failure::TooLarge { limit, claimed: None } => {
                write!(f, "the body is longer than the {limit} bytes accepted")
            }
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
#[non_exhaustive]
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
        || name.eq_ignore_ascii_case("x-auth-token")
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

/// The statuses worth trying again: 408, 429, 500, 502, 503, 504.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Girder's `message` from an error body, `scrub`bed.
fn girder_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("message")?.as_str().map(scrub)
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

    /// The delay before retry number `attempt + 1`: `Retry-After` when the server sent one
    /// (at most 300 s), else `backoff_base * 2^attempt` capped at 60 s, with jitter (50-100%).
    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
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
    /// Returns the response and the URL that gave it, secrets hidden.
    fn send(&self, req: &Request) -> Result<(ureq::http::Response<ureq::Body>, String), Failure> {
        let mut url = req.url.clone();
        let mut query: &[(String, String)] = &req.query;
        let mut headers: Vec<(String, String)> = req.headers.clone();
        let mut post = req.post;
        let mut body: &[u8] = req.body.as_deref().unwrap_or(&[]);
        for _ in 0..=10 {
            let result = if post {
                let mut r = self.agent.post(&url);
                for (k, v) in query {
                    r = r.query(k, v);
                }
                for (k, v) in &headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                // Girder (CherryPy) answers 411 to a POST without Content-Length: always send a
                // body of known length (empty when there is none).
                r.send(body)
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
            let shown = if query.is_empty() { redact_url(&url) } else { req.shown_url() };
            let resp = result.map_err(|e| classify(&e, &shown))?;
            let status = resp.status().as_u16();
            let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
            let (true, Some(location)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location) else {
                return Ok((resp, shown));
            };
            let next = resolve_location(&url, &location).ok_or_else(|| {
                let detail = format!("redirect to an unusable location `{}`", scrub(&redact_url(&location)));
                Failure::transport(TransportError::new(TransportKind::Redirects, &shown, Some(detail)))
            })?;
            if !(next.starts_with("http://") || next.starts_with("https://")) {
                let scheme = next.split_once(':').map_or("?", |(s, _)| s);
                return Err(Failure::Redirect(format!(
                    "HTTP {status} redirect to a non-HTTP URL `{}` (scheme `{scheme}`); only http and https are followed",
                    scrub(&redact_url(&next))
                )));
            }
            if origin(&next) != origin(&url) {
                headers.retain(|(k, _)| !is_credential_header(k));
            }
            if (301..=303).contains(&status) {
                post = false;
                body = &[];
            }
            url = next;
            query = &[];
        }
        let detail = format!("more than 10 redirects, last to {}", redact_url(&url));
        Err(Failure::transport(TransportError::new(TransportKind::Redirects, &url, Some(detail))))
    }

    fn once(&self, req: &Request, on_bytes: &dyn Fn(u64)) -> Result<(Response, Option<Duration>), Failure> {
        let (resp, url) = self.send(req)?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header("content-type");
        let total_count = header("girder-total-count").and_then(|v| v.trim().parse().ok());
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let expected = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let headers = kept_headers(&resp);
        let limit = req.max_body.unwrap_or(u64::MAX);
        if let Some(n) = expected.filter(|&n| n > limit) {
            return Err(Failure::TooLarge { limit, claimed: Some(n) });
        }
        let mut reader = resp.into_body().into_with_config().limit(u64::MAX).reader();
        // `expected` is at most `limit` here, so this never reserves more than the caller accepts.
        let mut body = Vec::with_capacity(expected.unwrap_or(0).min(1 << 30) as usize);
        let size = expected.or(req.max_body).unwrap_or(UNKNOWN_SIZE);
        let allowed = body_deadline(self.config.timeout, size);
        let head_at = Instant::now();
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            match std::io::Read::read(&mut reader, &mut chunk) {
                Ok(0) => break,
                Ok(n) if body.len() as u64 + n as u64 > limit => {
                    return Err(Failure::TooLarge { limit, claimed: None });
                }
                Ok(n) => {
                    body.extend_from_slice(&chunk[..n]);
                    on_bytes(n as u64);
                }
                Err(e) => return Err(Failure::transport(body_error(&e, body.len() as u64, &url))),
            }
            if head_at.elapsed() > allowed {
                let kind = TransportKind::Deadline {
                    deadline: allowed,
                    got: body.len() as u64,
                    expected,
                    size,
                    elapsed: head_at.elapsed(),
                };
                return Err(Failure::transport(TransportError::new(kind, &url, None)));
            }
        }
        if let Some(n) = expected {
            if body.len() as u64 != n {
                let kind = TransportKind::BodyCut { got: body.len() as u64, expected: n };
                return Err(Failure::transport(TransportError::new(kind, &url, None)));
            }
        }
        Ok((Response { status, content_type, total_count, headers, body, retries: 0 }, retry_after))
    }

    /// Sends `req` and reads the whole body, retrying transient failures. Returns the response
    /// for every status that is not retryable (the caller decides what a 4xx means); fails when
    /// retries are exhausted. `on_bytes` sees every chunk received (retries included).
    pub fn request(&self, req: &Request, on_bytes: &dyn Fn(u64)) -> Result<Response, HttpError> {
        let mut retry = RetryState::new(self, req);
        loop {
            let (failure, retry_after) = match self.once(req, on_bytes) {
                Ok((resp, retry_after)) if retryable_status(resp.status) => {
                    (Failure::Status(resp.status, girder_message(&resp.body)), retry_after)
                }
                Ok((mut resp, _)) => {
                    resp.retries = retry.retries();
                    return Ok(resp);
                }
                Err(f) => (f, None),
            };
            retry.retry(failure, retry_after)?;
        }
    }

    /// Sends `req` once (redirects followed, credentials kept on their origin) and returns the
    /// response head and a reader of its body, whatever the status. No retries and no
    /// [`Request::max_body`]: the caller reads as much as it wants and retries with a
    /// `RetryState`, since only it knows how much of a broken body it already kept.
    pub(crate) fn stream(&self, req: &Request) -> Result<(Head, BodyReader), Failure> {
        let (resp, url) = self.send(req)?;
        let status = resp.status().as_u16();
        let headers = kept_headers(&resp);
        let content_length = find_header(&headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let retry_after =
            find_header(&headers, "retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let inner = Box::new(resp.into_body().into_with_config().limit(u64::MAX).reader());
        Ok((
            Head { status, content_length, retry_after, headers },
            BodyReader { inner, expected: content_length, got: 0, url, limits: None },
        ))
    }

    /// Sends `req` as [`Http::request`] does (transient failures and retryable statuses
    /// retried, `Content-Length` checked against [`Request::max_body`]) but returns the head and
    /// a reader of the body instead of reading it: for a body decoded while it arrives. The
    /// reader holds the body to [`Request::max_body`] (a longer one fails with
    /// [`Failure::TooLarge`] inside its `io::Error`, see `read_failure`), to the deadline
    /// [`Http::request`] gives it, and to its `Content-Length`. A failure while it is read is
    /// the caller's to retry: only it knows what it did with the bytes so far.
    pub(crate) fn open(&self, req: &Request) -> Result<(Head, BodyReader), HttpError> {
        let mut retry = RetryState::new(self, req);
        let limit = req.max_body.unwrap_or(u64::MAX);
        loop {
            let (failure, retry_after) = match self.stream(req) {
                Err(f) => (f, None),
                Ok((head, mut body)) if retryable_status(head.status) => {
                    let mut text = Vec::new();
                    // The message only: at most 64 KiB of the error body, a broken one ignored.
                    let _ = body.by_ref().take(64 * 1024).read_to_end(&mut text);
                    (Failure::Status(head.status, girder_message(&text)), head.retry_after)
                }
                Ok((head, _)) if head.content_length.is_some_and(|n| n > limit) => {
                    return Err(retry.error(Failure::TooLarge { limit, claimed: head.content_length }));
                }
                Ok((head, mut body)) => {
                    let size = head.content_length.or(req.max_body).unwrap_or(UNKNOWN_SIZE);
                    let deadline = body_deadline(self.config.timeout, size);
                    body.limits = Some(BodyLimits { max: limit, head_at: Instant::now(), deadline, size });
                    return Ok((head, body));
                }
            };
            retry.retry(failure, retry_after)?;
        }
    }
}

/// The retry bookkeeping of one request (uv's `RetryState`): how many retries so far, since
/// when, and the same backoff and limits as [`Http::request`]. For callers of `Http::stream`.
#[derive(Debug)]
pub(crate) struct RetryState {
    http: Http,
    url: String,
    start: Instant,
    retries: u32,
}

impl RetryState {
    /// Starts counting for `req` (its URL, redacted, goes into the final error).
    pub fn new(http: &Http, req: &Request) -> RetryState {
        RetryState { http: http.clone(), url: req.shown_url(), start: Instant::now(), retries: 0 }
    }

    /// Retries made so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// After `failure`: sleeps the backoff and returns `Ok` when another try is allowed (the
    /// failure is transient and retries remain), else returns the final error.
    pub fn retry(&mut self, failure: Failure, retry_after: Option<Duration>) -> Result<(), HttpError> {
        if !failure.is_transient() || self.retries >= self.http.config.retries {
            return Err(self.error(failure));
        }
        let delay = self.http.backoff(self.retries, retry_after);
        tracing::warn!(url = %self.url, %failure, attempt = self.retries + 1, delay_ms = delay.as_millis() as u64, "retrying");
        std::thread::sleep(delay);
        self.retries += 1;
        Ok(())
    }

    /// The error for `failure` with the retries and time so far.
    pub fn error(&self, failure: Failure) -> HttpError {
        HttpError { url: self.url.clone(), failure, retries: self.retries, elapsed: self.start.elapsed() }
    }
}

/// The typed failure of a request to `url` (already redacted) that got no answer. ureq's error
/// is not kept: its text may hold the URL with its query, so only its words, redacted and
/// scrubbed, are.
fn classify(e: &ureq::Error, url: &str) -> Failure {
    let mut text = scrub(&redact_url(&e.to_string()));
    let tls = matches!(e, ureq::Error::Tls(_) | ureq::Error::Rustls(_)) || text.contains("certificate");
    if text.contains("certificate") {
        text.push_str(" (behind an inspecting proxy? trust its root with --ca-cert FILE)");
    }
    let (kind, detail) = match e {
        ureq::Error::Timeout(_) => (TransportKind::Timeout, Some(text)),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => (TransportKind::Timeout, Some(text)),
        ureq::Error::ConnectionFailed => (TransportKind::Connect, None),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::NotConnected
            ) =>
        {
            (TransportKind::Connect, Some(text))
        }
        ureq::Error::HostNotFound => (TransportKind::HostNotFound, None),
        _ if tls => (TransportKind::Tls, Some(text)),
        _ => (TransportKind::Other, Some(text)),
    };
    Failure::transport(TransportError::new(kind, url, detail))
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

    /// A server that answers every request with `reply(path)` and records the request heads
    /// (lower-cased), each followed by its body when it has a `Content-Length`.
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
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                let _ = std::io::Read::read_exact(&mut reader, &mut body);
                head.push_str(&String::from_utf8_lossy(&body));
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
        let Failure::Transport(t) = &err.failure else { panic!("{err}") };
        assert_eq!((t.kind, t.url.as_str()), (TransportKind::Connect, format!("http://127.0.0.1:{port}/x").as_str()));
        assert!(err.to_string().contains("Connection refused"), "{err}");
    }

    #[test]
    fn transport_errors_keep_secrets_out_of_every_field_and_message() {
        register_secret("s3cr3t-tok3n-of-the-transport-test");
        // A closed port, asked with a secret in the query (as the GDC's `token=` could be).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let http = Http::new(HttpConfig { retries: 0, ..Default::default() }).unwrap();
        let req = Request::get(format!("http://127.0.0.1:{port}/x"))
            .query("token", "s3cr3t-tok3n-of-the-transport-test")
            .query("limit", "1")
            .header("Girder-Token", "s3cr3t-tok3n-of-the-transport-test")
            .header("X-Auth-Token", "s3cr3t-tok3n-of-the-transport-test");
        let err = http.request(&req, &|_| {}).unwrap_err();
        let Failure::Transport(t) = &err.failure else { panic!("{err}") };
        assert_eq!(t.url, format!("http://127.0.0.1:{port}/x?token=[redacted]&limit=1"));
        for shown in [err.to_string(), format!("{err:?}"), format!("{t:?}"), t.to_string()] {
            assert!(!shown.contains("s3cr3t"), "{shown}");
        }
        // Every kind, built from a URL and words that hold secrets, shows neither.
        let url = "https://bob:pw@h/api?key=SECRETKEY&token=SECRETTOK&password=SECRETPW";
        let words = scrub(&redact_url(&format!("io error at {url}: s3cr3t-tok3n-of-the-transport-test")));
        let kinds = [
            TransportKind::HostNotFound,
            TransportKind::Connect,
            TransportKind::Tls,
            TransportKind::Timeout,
            TransportKind::BodyStalled { bytes: 1 },
            TransportKind::Deadline {
                deadline: Duration::from_secs(1),
                got: 1,
                expected: None,
                size: 2,
                elapsed: Duration::from_secs(2),
            },
            TransportKind::BodyRead { bytes: 1 },
            TransportKind::BodyCut { got: 1, expected: 2 },
            TransportKind::Redirects,
            TransportKind::Other,
        ];
        for kind in kinds {
            let t = TransportError::new(kind, url, Some(words.clone()));
            let e = HttpError {
                url: t.url.clone(),
                failure: Failure::transport(t.clone()),
                retries: 0,
                elapsed: Duration::ZERO,
            };
            for shown in [t.url.clone(), t.to_string(), format!("{t:?}"), e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains("SECRET") && !shown.contains("pw@") && !shown.contains("s3cr3t"), "{shown}");
            }
        }
    }

    #[test]
    fn a_broken_streamed_body_names_its_url_and_bytes() {
        let (port, _) =
            recording_server(|_| "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc".into());
        let http = Http::new(HttpConfig { retries: 0, ..Default::default() }).unwrap();
        let req = Request::get(format!("http://127.0.0.1:{port}/d")).query("token", "SECRETTOK");
        let (_, mut body) = http.stream(&req).unwrap();
        let err = body.read_to_end(&mut Vec::new()).unwrap_err();
        let Failure::Transport(t) = read_failure(&err, body.bytes_read()) else { panic!("{err}") };
        // ureq notices the short body itself: a broken read after the 3 bytes that came.
        assert_eq!(t.kind, TransportKind::BodyRead { bytes: 3 }, "{t}");
        assert_eq!(t.url, format!("http://127.0.0.1:{port}/d?token=[redacted]"));
        assert!(t.to_string().starts_with("body cut off after 3 bytes: "), "{t}");
    }

    #[test]
    fn json_bodies_are_posted_with_their_type() {
        let (port, heads) = recording_server(|_| {
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Disposition: attachment; filename=a.svs\r\nSet-Cookie: s=SECRET\r\nConnection: close\r\n\r\n{}".into()
        });
        let http = Http::new(HttpConfig { retries: 0, ..Default::default() }).unwrap();
        let req = Request::get(format!("http://127.0.0.1:{port}/files")).json_body(&serde_json::json!({"size": "100"}));
        let resp = http.request(&req, &|_| {}).unwrap();
        let head = heads.lock().unwrap()[0].clone();
        assert!(head.starts_with("post /files"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.ends_with("{\"size\":\"100\"}"), "{head}");
        assert_eq!(resp.header("Content-Disposition"), Some("attachment; filename=a.svs"));
        assert!(!format!("{resp:?}").contains("SECRET"), "only the kept headers are carried");
    }

    #[test]
    fn max_body_refuses_claimed_and_actual_lengths_without_retrying() {
        let (port, heads) = recording_server(|path| {
            if path.starts_with("/claims") {
                // Claims 1 TB: must fail before reading or allocating.
                "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\nConnection: close\r\n\r\nxx".into()
            } else {
                // No length: the body is read until it passes the limit.
                format!("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}", "x".repeat(5000))
            }
        });
        let http =
            Http::new(HttpConfig { retries: 3, backoff_base: Duration::from_millis(1), ..Default::default() }).unwrap();
        let err = http.request(&Request::get(format!("http://127.0.0.1:{port}/claims")).max_body(100), &|_| {});
        let err = err.unwrap_err();
        assert_eq!(err.failure, Failure::TooLarge { limit: 100, claimed: Some(1_000_000_000_000) });
        assert_eq!(err.retries, 0, "not transient");
        let err = http.request(&Request::get(format!("http://127.0.0.1:{port}/unsized")).max_body(100), &|_| {});
        assert_eq!(err.unwrap_err().failure, Failure::TooLarge { limit: 100, claimed: None });
        assert_eq!(heads.lock().unwrap().len(), 2);
        let ok = http.request(&Request::get(format!("http://127.0.0.1:{port}/unsized")).max_body(5000), &|_| {});
        assert_eq!(ok.unwrap().body.len(), 5000);
    }

    #[test]
    fn registered_secrets_are_scrubbed_from_server_text() {
        register_secret("  s3cr3t/k3y+of-the-http-test ");
        register_secret("ab"); // too short to scrub
        assert_eq!(scrub("Invalid API key: s3cr3t/k3y+of-the-http-test."), "Invalid API key: [redacted].");
        assert_eq!(scrub("key=s3cr3t%2Fk3y%2Bof-the-http-test"), "key=[redacted]");
        assert_eq!(scrub("abc"), "abc");
        assert_eq!(girder_message(br#"{"message": "no s3cr3t/k3y+of-the-http-test"}"#).unwrap(), "no [redacted]");
    }

    #[test]
    fn a_trickled_body_fails_at_its_deadline() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            for _ in 0..1000 {
                if stream.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let timeout = Duration::from_millis(300);
        let http = Http::new(HttpConfig { retries: 0, timeout, ..Default::default() }).unwrap();
        let started = Instant::now();
        let err = http.request(&Request::get(format!("http://127.0.0.1:{port}/slow")), &|_| {}).unwrap_err();
        // Each read gets a byte in 20 ms; the deadline is 0.3 s + 1000 B at 64 KiB/s.
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        let Failure::Transport(t) = &err.failure else { panic!("{err}") };
        assert!(matches!(t.kind, TransportKind::Deadline { expected: Some(1000), size: 1000, .. }), "{err}");
        assert!(
            err.failure.is_timeout() && err.to_string().starts_with("timed out (the body missed its deadline"),
            "{err}"
        );
        assert_eq!(t.url, format!("http://127.0.0.1:{port}/slow"));
        assert_eq!(body_deadline(Duration::from_secs(1), 2 * FLOOR_RATE), Duration::from_secs(3));
    }

    #[test]
    fn a_redirect_to_a_file_url_is_refused_without_retrying() {
        let (port, heads) = recording_server(|_| {
            "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .into()
        });
        let http =
            Http::new(HttpConfig { retries: 3, backoff_base: Duration::from_millis(1), ..Default::default() }).unwrap();
        let err = http.request(&Request::get(format!("http://127.0.0.1:{port}/m")), &|_| {}).unwrap_err();
        assert!(matches!(err.failure, Failure::Redirect(_)), "{err}");
        assert!(err.to_string().contains("non-HTTP URL `file:///etc/passwd`"), "{err}");
        assert_eq!((err.retries, heads.lock().unwrap().len()), (0, 1));
    }

    #[test]
    fn auth_token_header_never_follows_a_redirect_to_another_origin() {
        let (other, other_heads) =
            recording_server(|_| "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into());
        let (port, _) = recording_server(move |_| {
            format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{other}/bucket\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        });
        let http = Http::new(HttpConfig { retries: 0, ..Default::default() }).unwrap();
        let req = Request::get(format!("http://127.0.0.1:{port}/data/x")).header("X-Auth-Token", "GDCSECRET");
        assert!(!format!("{req:?}").contains("GDCSECRET"));
        let (head, mut body) = http.stream(&req).unwrap();
        let mut text = String::new();
        body.read_to_string(&mut text).unwrap();
        assert_eq!((head.status, text.as_str()), (200, "ok"));
        let seen = other_heads.lock().unwrap();
        assert!(!seen[0].contains("x-auth-token"), "{}", seen[0]);
    }

    #[test]
    fn streams_report_the_head_and_can_stop_early() {
        let (port, _) = recording_server(|_| {
            format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99999/200000\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n{}",
                "y".repeat(100_000)
            )
        });
        let http = Http::new(HttpConfig { retries: 0, ..Default::default() }).unwrap();
        let (head, body) = http.stream(&Request::get(format!("http://127.0.0.1:{port}/d"))).unwrap();
        assert_eq!(head.status, 206);
        assert_eq!(head.content_length, Some(100_000));
        assert_eq!(head.header("content-range"), Some("bytes 0-99999/200000"));
        let mut first = [0u8; 10];
        let mut body = body;
        body.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"yyyyyyyyyy");
        drop(body); // stops reading: no hang, no error
    }

    #[test]
    fn a_streamed_body_shorter_than_its_length_is_an_error() {
        let (port, _) =
            recording_server(|_| "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc".into());
        let http = Http::new(HttpConfig { retries: 0, ..Default::default() }).unwrap();
        let (_, mut body) = http.stream(&Request::get(format!("http://127.0.0.1:{port}/d"))).unwrap();
        let mut all = Vec::new();
        let err = body.read_to_end(&mut all).unwrap_err();
        let failure = read_failure(&err, body.bytes_read());
        assert!(matches!(failure, Failure::Transport(_)), "{failure}");
        assert!(failure.is_transient());
    }

    #[test]
    fn retry_state_follows_the_request_rules() {
        let http =
            Http::new(HttpConfig { retries: 2, backoff_base: Duration::from_millis(1), ..Default::default() }).unwrap();
        let mut retry = RetryState::new(&http, &Request::get("http://h/x?key=SECRET"));
        assert!(retry.retry(Failure::Status(503, None), None).is_ok());
        let reset = || {
            let detail = Some("connection reset".to_string());
            Failure::transport(TransportError::new(
                TransportKind::BodyRead { bytes: 3 },
                "http://h/x?key=SECRET",
                detail,
            ))
        };
        assert!(retry.retry(reset(), None).is_ok());
        let err = retry.retry(reset(), None).unwrap_err();
        assert_eq!(err.retries, 2);
        assert!(!err.to_string().contains("SECRET"));
        let mut retry = RetryState::new(&http, &Request::get("http://h/x"));
        assert!(retry.retry(Failure::TooLarge { limit: 1, claimed: None }, None).is_err());
        assert!(retryable_status(503) && !retryable_status(404));
    }
}
