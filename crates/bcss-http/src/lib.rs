//! HTTP for bcss: one blocking client for every server bcss talks to (a DSA's Girder API, the
//! GDC, figshare's mask links), with one policy for everything that can go wrong on the wire.
//!
//! - **One retry loop** ([`RetryPolicy::run`]): exponential backoff with jitter, `Retry-After`
//!   honoured, on connection errors, timeouts, a body cut off or stalled, and the transient
//!   statuses of [`is_transient_status`] (408, 429, 500, 502, 503, 504); credentials renewed on
//!   `401` ([`Auth`]); a fresh count after progress for a download that resumes. [`Http::request`]
//!   and [`Http::open`] use it, and so does a caller that reads a body by hand (a ranged read,
//!   a resumed download) through [`Http::send_once`].
//! - **One body reader** ([`Body`]) behind every request: at most [`Request::max_body`] bytes
//!   (a larger `Content-Length` is refused before anything is allocated), all of them within a
//!   deadline of `timeout + size / 64 KiB/s` after the head ([`body_deadline`]), and exactly the
//!   `Content-Length` promised. A server cannot stall a request or exhaust memory.
//! - **Credentials stay on their origin**: redirects are followed by hand and `Girder-Token`,
//!   `X-Auth-Token`, `Authorization` and cookies are dropped on a redirect to another scheme, host
//!   or port; a redirect to anything but http(s) is refused.
//! - **Secrets never show**: URLs are shown through [`redact_url`] (values of `key`, `token`,
//!   `password`... and user info hidden); header values are never formatted; only a fixed list
//!   of harmless response headers is kept ([`KEPT_HEADERS`]); and every secret a client sends is
//!   added to its own [`Secrets`], through which every text a server sends passes
//!   ([`Http::scrub`]) before it reaches an error, a log line or a manifest.
//!
//! TLS is rustls with the system's root certificates (plus [`HttpConfig::ca_cert`] for users
//! behind an inspecting proxy); there is no way to turn certificate checks off.
//!
//! What is not here: what an API's answers mean (Girder's paging header, the GDC's
//! `Content-Range` rules) lives with its client in `bcss`'s sources.
//!
//! ```no_run
//! use bcss_http::{Http, HttpConfig, Request};
//! let http = Http::new(HttpConfig::default().retries(3))?;
//! let req = Request::get("https://api.gdc.cancer.gov/status").max_body(1 << 20);
//! let resp = http.request(&req, &|_bytes| {})?;
//! assert!(resp.is_success());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;
use std::time::Duration;

mod body;
mod client;
mod error;
mod request;
mod response;
mod retry;
mod secrets;
#[cfg(test)]
mod tests;

pub use body::{body_deadline, Body, FLOOR_RATE, MAX_ERROR_BODY};
pub use client::{json_message, Auth, Http, NoAuth};
pub use error::{ClientError, Failure, HttpError, TransportError, TransportKind};
pub use request::{endpoint, redact_url, Request};
pub use response::{Head, Response, KEPT_HEADERS};
pub use retry::{is_transient_status, Attempt, Retry, RetryError, RetryPolicy};
pub use secrets::{Secret, Secrets};

/// Settings of the HTTP client: [`HttpConfig::default`] (what the CLI's flags default to) changed
/// by chainable setters, as the command plans are.
///
/// ```
/// use std::time::Duration;
/// let config = bcss_http::HttpConfig::default().retries(2).timeout(Duration::from_secs(30));
/// assert_eq!((config.get_retries(), config.get_timeout()), (2, Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    timeout: Duration,
    retries: u32,
    backoff_base: Duration,
    ca_cert: Option<PathBuf>,
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
    /// The first backoff delay.
    pub fn get_backoff_base(&self) -> Duration {
        self.backoff_base
    }
    /// The extra root certificates.
    pub fn get_ca_cert(&self) -> Option<&std::path::Path> {
        self.ca_cert.as_deref()
    }
}
