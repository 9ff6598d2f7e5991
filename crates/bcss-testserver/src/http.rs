//! Hand-written HTTP/1.1: request parsing and response writing, nothing else.
//!
//! Requests: a request line, headers, and a body of `Content-Length` bytes (no chunked request
//! bodies; Girder's clients never send them). Responses carry `Content-Length`, or are sent with
//! `Transfer-Encoding: chunked` when [`Response::chunked`] is set (Girder streams annotation
//! documents that way). Connections are kept alive unless the client sends `Connection: close`
//! or speaks HTTP/1.0.
//!
//! Invariant: no routing and no knowledge of Girder here.

use std::io::{self, BufRead, Write};
use std::time::Duration;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, `HEAD`, ...
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// Query pairs, percent-decoded (`+` is a space), in order.
    pub query: Vec<(String, String)>,
    /// Headers in order; names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
    /// HTTP/1.0, or `Connection: close`: close after answering.
    pub close: bool,
}

impl Request {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed the connection cleanly between requests.
    Closed,
    /// An I/O error (including the idle timeout).
    Io(io::Error),
    /// Not HTTP we understand; answer 400 and close.
    Malformed(&'static str),
    /// A POST/PUT without `Content-Length` (CherryPy answers 411).
    LengthRequired,
}

const MAX_HEAD: usize = 64 * 1024;

/// Reads one request from a buffered stream.
pub fn read_request(r: &mut impl BufRead) -> Result<Request, ReadError> {
    let mut line = String::new();
    let mut head_bytes = 0;
    // Skip stray empty lines between requests (allowed by RFC 9112).
    loop {
        line.clear();
        let n = r.read_line(&mut line).map_err(ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        head_bytes += n;
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ReadError::Malformed("bad request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed("not HTTP/1.x"));
    }
    let (method, target, http10) = (method.to_string(), target.to_string(), version == "HTTP/1.0");
    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line).map_err(ReadError::Io)?;
        head_bytes += n;
        if n == 0 {
            return Err(ReadError::Malformed("connection closed inside the head"));
        }
        if head_bytes > MAX_HEAD {
            return Err(ReadError::Malformed("head too large"));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let Some((k, v)) = l.split_once(':') else { return Err(ReadError::Malformed("bad header line")) };
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let get = |name: &str| {
        headers.iter().find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    if get("transfer-encoding").is_some() {
        return Err(ReadError::Malformed("chunked request bodies are not supported"));
    }
    let length = match get("content-length") {
        Some(v) => v.parse::<usize>().map_err(|_| ReadError::Malformed("bad Content-Length"))?,
        None if matches!(method.as_str(), "POST" | "PUT") => return Err(ReadError::LengthRequired),
        None => 0,
    };
    let mut body = vec![0; length];
    r.read_exact(&mut body).map_err(ReadError::Io)?;
    let close = http10 || get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
    let path = percent_decode(raw_path, false);
    let query = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect();
    Ok(Request { method, path, query, headers, body, close })
}

/// Decodes `%XX` escapes (and `+` as a space in query strings). Invalid escapes stay as they are.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers besides `Content-Length`/`Transfer-Encoding`/`Connection`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Send with `Transfer-Encoding: chunked` instead of `Content-Length`.
    pub chunked: bool,
}

impl Response {
    /// A response with a body and content type.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response { status, headers: vec![("Content-Type".into(), content_type.into())], body, chunked: false }
    }

    /// A JSON response (the value serialised with sorted keys, like Girder).
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status, "application/json", serde_json::to_vec(value).expect("JSON serialises"))
    }

    /// Adds a header.
    pub fn with_header(mut self, k: &str, v: impl Into<String>) -> Response {
        self.headers.push((k.to_string(), v.into()));
        self
    }

    /// Replaces (or adds) a header.
    pub fn set_header(&mut self, k: &str, v: impl Into<String>) {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
        self.headers.push((k.to_string(), v.into()));
    }

    /// The value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The reason phrase of a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        411 => "Length Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// How the body goes out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Bytes per second; `None` = as fast as the socket takes them.
    pub bandwidth: Option<u64>,
}

/// Writes the status line and headers. `length` is the `Content-Length` to announce (ignored
/// when chunked).
pub fn write_head(w: &mut impl Write, resp: &Response, length: usize, head_only_close: bool) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if resp.chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    } else {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    if head_only_close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())
}

/// Writes body bytes at the given pace.
pub fn write_paced(w: &mut impl Write, bytes: &[u8], pace: Pace) -> io::Result<()> {
    match pace.bandwidth {
        None | Some(0) => w.write_all(bytes),
        Some(bw) => {
            let chunk = (bw / 20).clamp(1024, 256 * 1024) as usize;
            for part in bytes.chunks(chunk) {
                w.write_all(part)?;
                w.flush()?;
                std::thread::sleep(Duration::from_secs_f64(part.len() as f64 / bw as f64));
            }
            Ok(())
        }
    }
}

/// Writes a whole response (no body for `HEAD`).
pub fn write_response(w: &mut impl Write, resp: &Response, head: bool, close: bool, pace: Pace) -> io::Result<()> {
    write_head(w, resp, resp.body.len(), close)?;
    if !head {
        if resp.chunked {
            for part in resp.body.chunks(16 * 1024) {
                w.write_all(format!("{:x}\r\n", part.len()).as_bytes())?;
                write_paced(w, part, pace)?;
                w.write_all(b"\r\n")?;
            }
            w.write_all(b"0\r\n\r\n")?;
        } else {
            write_paced(w, &resp.body, pace)?;
        }
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_with_query_and_body() {
        let raw = b"POST /api/v1/api_key/token?key=a%2Bb+c&duration=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n";
        let mut r = io::BufReader::new(&raw[..]);
        let req = read_request(&mut r).unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/api/v1/api_key/token");
        assert_eq!(req.param("key"), Some("a+b c"));
        assert_eq!(req.param("duration"), Some("1"));
        assert_eq!(req.header("host"), Some("x"));
        assert_eq!(req.body, b"abc");
        assert!(!req.close);
        let req = read_request(&mut r).unwrap();
        assert_eq!((req.method.as_str(), req.path.as_str(), req.close), ("GET", "/", true));
        assert!(matches!(read_request(&mut r), Err(ReadError::Closed)));
    }

    #[test]
    fn post_without_length_is_refused() {
        let raw = b"POST /x HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(matches!(read_request(&mut io::BufReader::new(&raw[..])), Err(ReadError::LengthRequired)));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2", false), "a b%2");
        assert_eq!(percent_decode("%zz+", true), "%zz ");
        assert_eq!(percent_decode("0.00025000", true), "0.00025000");
    }

    #[test]
    fn writes_length_and_chunked_bodies() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            &Response::new(200, "text/plain", b"hi".to_vec()),
            false,
            false,
            Pace { bandwidth: None },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        );
        let mut out = Vec::new();
        let mut resp = Response::new(200, "application/json", b"[1]".to_vec());
        resp.chunked = true;
        write_response(&mut out, &resp, false, true, Pace { bandwidth: None }).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\n[1]\r\n0\r\n\r\n"),
            "{text}"
        );
    }
}
