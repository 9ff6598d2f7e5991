//! A request ([`Request`]), URLs built from segments ([`endpoint`]) and URLs shown with their
//! secrets hidden ([`redact_url`]).

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
    /// The largest body [`Http::request`](crate::Http::request) accepts; `None` = no limit (and a 1 GiB deadline).
    pub max_body: Option<u64>,
    /// Response headers to keep besides [`KEPT_HEADERS`](crate::KEPT_HEADERS) (an API's
    /// paging count, say), lower case.
    pub keep: Vec<String>,
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
        Request {
            post: false,
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            max_body: None,
            keep: Vec::new(),
        }
    }
    /// A POST of `url` with an empty body.
    pub fn post(url: impl Into<String>) -> Request {
        Request { post: true, ..Request::get(url) }
    }
    /// Makes this a POST with `value` as a JSON body (`Content-Type: application/json`).
    pub fn json_body(mut self, value: &serde_json::Value) -> Request {
        self.post = true;
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        self.headers.push(("Content-Type".into(), "application/json".into()));
        self.body = Some(serde_json::to_vec(value).expect("a JSON value always serialises"));
        self
    }
    /// Refuses, in [`Http::request`](crate::Http::request) (and every other way of sending), a body longer than `n` bytes (claimed by `Content-Length`
    /// or actually sent): [`Failure::TooLarge`](crate::Failure::TooLarge), not retried, and nothing of the claimed size is
    /// allocated.
    pub fn max_body(mut self, n: u64) -> Request {
        self.max_body = Some(n);
        self
    }
    /// Keeps the response header `name` (besides [`KEPT_HEADERS`](crate::KEPT_HEADERS)): for an
    /// API's own header, such as Girder's `Girder-Total-Count`. Never name a header that may
    /// carry a secret.
    pub fn keep_header(mut self, name: &str) -> Request {
        self.keep.push(name.to_ascii_lowercase());
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

/// `base` (an API root such as `https://api.gdc.cancer.gov` or `http://h/api/v1`, with or
/// without a trailing slash) followed by `segments`, each percent-encoded as one path segment
/// by the `url` crate: an id a server sent that holds `/`, `?` or `#` stays one segment and
/// cannot change the path, the query or the host. `None` when `base` is not an absolute URL
/// that can have a path, or a segment is empty, `.` or `..` (which a URL cannot hold as a
/// segment: they would name another endpoint).
pub fn endpoint(base: &str, segments: &[&str]) -> Option<String> {
    if segments.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
        return None;
    }
    let mut url = url::Url::parse(base).ok()?;
    {
        let mut path = url.path_segments_mut().ok()?;
        path.pop_if_empty();
        path.extend(segments);
    }
    Some(url.into())
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
    fn endpoints_encode_each_segment() {
        assert_eq!(
            endpoint("http://h:1/api/v1", &["item", "abc", "tiles"]).as_deref(),
            Some("http://h:1/api/v1/item/abc/tiles")
        );
        assert_eq!(
            endpoint("http://h:1/api/v1/", &["system", "version"]).as_deref(),
            Some("http://h:1/api/v1/system/version")
        );
        assert_eq!(
            endpoint("https://api.gdc.cancer.gov", &["data", "id"]).as_deref(),
            Some("https://api.gdc.cancer.gov/data/id")
        );
        // An id cannot climb, add a query or a fragment.
        assert_eq!(
            endpoint("http://h/api", &["data", "../x?key=1#f"]).as_deref(),
            Some("http://h/api/data/..%2Fx%3Fkey=1%23f")
        );
        assert_eq!(endpoint("not a url", &["x"]), None);
        for bad in ["", ".", ".."] {
            assert_eq!(endpoint("http://h/api", &["annotation", "item", bad]), None, "{bad:?}");
        }
        assert_eq!(endpoint("mailto:a@b", &["x"]), None);
    }
}
