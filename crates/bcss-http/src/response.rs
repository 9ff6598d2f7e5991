//! What came back: a whole [`Response`], or the [`Head`] of one whose body is read as it
//! arrives. Only a fixed list of harmless headers is kept, plus those a request names.

/// The response headers kept on [`Response`] and [`Head`] (lower case). A fixed list, so that
/// no `Set-Cookie` or other secret is ever carried around, printed or logged; a request adds
/// the API-specific ones it needs with [`Request::keep_header`](crate::Request::keep_header).
pub const KEPT_HEADERS: &[&str] = &[
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

/// The [`KEPT_HEADERS`] of a response and the `extra` ones asked for, in that order.
pub(crate) fn kept_headers(resp: &ureq::http::Response<ureq::Body>, extra: &[String]) -> Vec<(String, String)> {
    KEPT_HEADERS
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .filter_map(|name| {
            let v = resp.headers().get(name)?.to_str().ok()?;
            Some((name.to_ascii_lowercase(), v.to_string()))
        })
        .collect()
}

/// The head of a response: status and kept headers.
#[derive(Debug, Clone)]
pub struct Head {
    /// HTTP status.
    pub status: u16,
    /// The kept headers the server sent (names in lower case).
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// A kept header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
    /// `Content-Length`, when sent and a number.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length").and_then(|v| v.trim().parse().ok())
    }
    /// `Retry-After` in seconds, when sent as a number (an HTTP date is ignored).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.header("retry-after").and_then(|v| v.trim().parse().ok()).map(std::time::Duration::from_secs)
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The kept headers the server sent (names in lower case).
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
    /// A kept header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}
