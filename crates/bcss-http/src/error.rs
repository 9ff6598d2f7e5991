//! The errors of a request: what failed on the wire ([`TransportError`]), why a request had no
//! usable answer ([`Failure`]), the final error after retries ([`HttpError`]), and why a client
//! could not be built ([`ClientError`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::redact_url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
pub enum Failure {
    /// Could not connect, TLS failed, timed out, the connection broke, or the body was cut off
    /// (boxed: every request's result carries this type, and a transport error is rare).
    Transport(Box<TransportError>),
    /// The server kept answering a retryable status.
    Status(u16, Option<String>),
    /// A redirect to something else than `http(s)://` (`file://`, `ftp://`): never followed,
    /// not retried.
    Redirect(String),
    /// The body is longer than the caller accepts ([`Request::max_body`](crate::Request::max_body)); not retried.
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
