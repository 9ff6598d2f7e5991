//! The one body reader ([`Body`]): every response body bcss reads, whole or streamed, comes
//! through it, held to a size cap, a deadline and its `Content-Length`.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::error::{Failure, TransportError, TransportKind};
use crate::secrets::Secrets;

/// The slowest body rate a request is allowed, on average, once its head has arrived: 64 KiB/s
/// (see [`body_deadline`]).
pub const FLOOR_RATE: u64 = 64 * 1024;

/// The most of an error status's body that is read (for its `message`): 64 KiB.
pub const MAX_ERROR_BODY: u64 = 64 * 1024;

/// The size a deadline assumes for a body of unknown size without a
/// [`Request::max_body`](crate::Request::max_body).
pub(crate) const UNKNOWN_SIZE: u64 = 1 << 30;

/// How long a body of `size` bytes may take to arrive after the response head:
/// `timeout + size / FLOOR_RATE` (a 2 MiB region with `--timeout 120` gets 152 s).
pub fn body_deadline(timeout: Duration, size: u64) -> Duration {
    timeout + Duration::from_secs_f64(size as f64 / FLOOR_RATE as f64)
}

/// The body of a response, read as it arrives. It fails (inside its `io::Error`, see
/// [`Failure::from_read`]):
/// - with [`Failure::TooLarge`] as soon as it is longer than the request's
///   [`max_body`](crate::Request::max_body);
/// - with [`TransportKind::Deadline`] once it has taken longer than its deadline
///   ([`body_deadline`] of `Content-Length`, else of `max_body`, else of 1 GiB), checked before
///   every read, each read itself waiting at most the client's timeout;
/// - with [`TransportKind::BodyCut`] when it ends before its `Content-Length`;
/// - with [`TransportKind::BodyStalled`] or [`TransportKind::BodyRead`] when a read times out or
///   the connection breaks; the underlying text redacted and scrubbed.
///
/// Drop it to stop reading (the connection is closed, not drained).
pub struct Body {
    inner: Box<dyn Read + Send>,
    expected: Option<u64>,
    got: u64,
    /// The URL the body came from, secrets hidden, for its errors.
    url: String,
    max: u64,
    head_at: Instant,
    deadline: Duration,
    /// The size the deadline was computed for.
    size: u64,
    secrets: Secrets,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body").field("expected", &self.expected).field("got", &self.got).finish_non_exhaustive()
    }
}

impl Body {
    /// A body of `expected` bytes (its `Content-Length`, if sent) held to at most `max_body`
    /// bytes and to the deadline `timeout` gives it from now, for the smaller of the two sizes
    /// (a server that claims a terabyte does not buy itself a deadline of months).
    pub(crate) fn new(
        inner: Box<dyn Read + Send>,
        url: String,
        expected: Option<u64>,
        max_body: Option<u64>,
        timeout: Duration,
        secrets: Secrets,
    ) -> Body {
        let size = match (expected, max_body) {
            (Some(e), Some(m)) => e.min(m),
            (Some(n), None) | (None, Some(n)) => n,
            (None, None) => UNKNOWN_SIZE,
        };
        Body {
            inner,
            expected,
            got: 0,
            url,
            max: max_body.unwrap_or(u64::MAX),
            head_at: Instant::now(),
            deadline: body_deadline(timeout, size),
            size,
            secrets,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.got
    }

    /// Reads the whole body (its capacity reserved from `Content-Length`, which is at most the
    /// cap), passing the size of every chunk to `on_bytes`.
    pub(crate) fn read_all(mut self, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>, Failure> {
        let mut body = Vec::with_capacity(self.expected.unwrap_or(0).min(self.max).min(1 << 30) as usize);
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            match self.read(&mut chunk) {
                Ok(0) => return Ok(body),
                Ok(n) => {
                    body.extend_from_slice(&chunk[..n]);
                    on_bytes(n as u64);
                }
                Err(e) => return Err(Failure::from_read(&e, self.got)),
            }
        }
    }

    /// Reads what an error status's body holds for its message: at most [`MAX_ERROR_BODY`]
    /// bytes, and what arrived if it broke off (the status is the answer, the message a help).
    pub fn read_message(self) -> Vec<u8> {
        let mut text = Vec::new();
        let _ = self.take(MAX_ERROR_BODY).read_to_end(&mut text);
        text
    }

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
            Err(e) => Err(std::io::Error::new(e.kind(), body_error(&e, self.got, &self.url, &self.secrets))),
        }
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let elapsed = self.head_at.elapsed();
        if elapsed > self.deadline {
            let kind = TransportKind::Deadline {
                deadline: self.deadline,
                got: self.got,
                expected: self.expected,
                size: self.size,
                elapsed,
            };
            let e = TransportError::new(kind, &self.url, None);
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, e));
        }
        let got = self.got;
        let n = self.read_inner(buf)?;
        if got + n as u64 > self.max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                Failure::TooLarge { limit: self.max, claimed: None },
            ));
        }
        Ok(n)
    }
}

/// The [`TransportError`] of a failed body read after `bytes` bytes: stalled (a read timed
/// out) or broken; the reader's text redacted and scrubbed.
pub(crate) fn body_error(e: &std::io::Error, bytes: u64, url: &str, secrets: &Secrets) -> TransportError {
    let detail = Some(secrets.scrub(&crate::redact_url(&e.to_string())));
    if e.kind() == std::io::ErrorKind::TimedOut {
        TransportError::new(TransportKind::BodyStalled { bytes }, url, detail)
    } else {
        TransportError::new(TransportKind::BodyRead { bytes }, url, detail)
    }
}

impl Failure {
    /// The failure a read of a [`Body`] failed with (`bytes` = what had arrived), as it is: a
    /// [`TransportError`] or [`Failure::TooLarge`]. An error that did not come from a [`Body`]
    /// is a [`TransportKind::BodyRead`] without a URL, its text redacted all the same.
    pub fn from_read(e: &std::io::Error, bytes: u64) -> Failure {
        let inner = e.get_ref();
        if let Some(f) = inner.and_then(|inner| inner.downcast_ref::<Failure>()) {
            return f.clone();
        }
        match inner.and_then(|inner| inner.downcast_ref::<TransportError>()) {
            Some(t) => Failure::transport(t.clone()),
            None => Failure::transport(body_error(e, bytes, "", &Secrets::default())),
        }
    }
}
