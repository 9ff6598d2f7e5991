//! The client against small servers on 127.0.0.1 that answer with fixed bytes: redirects,
//! limits, deadlines, retries, renewals and secrets.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::*;

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
    let http = Http::new(HttpConfig::default().retries(0)).unwrap();
    let same = http
        .request(&Request::get(format!("http://127.0.0.1:{port}/same")).header("Girder-Token", "SECRET1"), &|_| {})
        .unwrap();
    assert_eq!((same.status, same.body.as_slice()), (200, &b"final"[..]));
    assert!(heads.lock().unwrap().iter().all(|h| h.contains("girder-token: secret1")), "same origin keeps the token");
    let away = http
        .request(&Request::get(format!("http://127.0.0.1:{port}/away")).header("Girder-Token", "SECRET2"), &|_| {})
        .unwrap();
    assert_eq!((away.status, away.body.as_slice()), (200, &b"ok"[..]));
    let other_heads = other_heads.lock().unwrap();
    assert_eq!(other_heads.len(), 1);
    assert!(!other_heads[0].contains("girder-token"), "token sent to another origin: {}", other_heads[0]);
}

#[test]
fn unreachable_server_fails_after_retries() {
    // Bind then drop a listener: the port is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let http = Http::new(HttpConfig::default().retries(2).backoff_base(Duration::from_millis(1))).unwrap();
    let err = http.request(&Request::get(format!("http://127.0.0.1:{port}/x")), &|_| {}).unwrap_err();
    assert_eq!(err.retries, 2);
    let Failure::Transport(t) = &err.failure else { panic!("{err}") };
    assert_eq!((t.kind, t.url.as_str()), (TransportKind::Connect, format!("http://127.0.0.1:{port}/x").as_str()));
    assert!(err.to_string().contains("Connection refused"), "{err}");
}

#[test]
fn transport_errors_keep_secrets_out_of_every_field_and_message() {
    // A closed port, asked with a secret in the query (as the GDC's `token=` could be).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let http = Http::new(HttpConfig::default().retries(0)).unwrap();
    http.secrets().add("s3cr3t-tok3n-of-the-transport-test");
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
    let words = http.scrub(&redact_url(&format!("io error at {url}: s3cr3t-tok3n-of-the-transport-test")));
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
    let http = Http::new(HttpConfig::default().retries(0)).unwrap();
    let req = Request::get(format!("http://127.0.0.1:{port}/d")).query("token", "SECRETTOK");
    let (_, mut body) = http.send_once(&req).unwrap();
    let err = body.read_to_end(&mut Vec::new()).unwrap_err();
    let Failure::Transport(t) = Failure::from_read(&err, body.bytes_read()) else { panic!("{err}") };
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
    let http = Http::new(HttpConfig::default().retries(0)).unwrap();
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
    let http = Http::new(HttpConfig::default().retries(3).backoff_base(Duration::from_millis(1))).unwrap();
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
    let http = Http::new(HttpConfig::default()).unwrap();
    http.secrets().add("  s3cr3t/k3y+of-the-http-test ");
    http.secrets().add("ab"); // too short to scrub
    assert_eq!(http.scrub("Invalid API key: s3cr3t/k3y+of-the-http-test."), "Invalid API key: [redacted].");
    assert_eq!(http.scrub("key=s3cr3t%2Fk3y%2Bof-the-http-test"), "key=[redacted]");
    assert_eq!(http.scrub("abc"), "abc");
    let message = json_message(br#"{"message": "no s3cr3t/k3y+of-the-http-test"}"#, http.secrets());
    assert_eq!(message.unwrap(), "no [redacted]");
    // Another client does not know this one's secrets.
    let other = Http::new(HttpConfig::default()).unwrap();
    assert_eq!(other.scrub("s3cr3t/k3y+of-the-http-test"), "s3cr3t/k3y+of-the-http-test");
}

/// A server that answers one request with `head`, then one byte of body every 20 ms, `bytes`
/// in all (or until the client hangs up).
fn trickling_server(head: &'static str, bytes: usize) -> u16 {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = std::io::Read::read(&mut stream, &mut [0u8; 4096]);
        let _ = stream.write_all(head.as_bytes());
        for _ in 0..bytes {
            if stream.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    port
}

#[test]
fn a_trickled_body_fails_at_its_deadline() {
    let port = trickling_server("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 1000);
    let timeout = Duration::from_millis(300);
    let http = Http::new(HttpConfig::default().retries(0).timeout(timeout)).unwrap();
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
fn an_error_body_that_claims_a_terabyte_and_trickles_ends_within_its_short_deadline() {
    let port = trickling_server("HTTP/1.1 503 Busy\r\nContent-Length: 1000000000000\r\n\r\n", 100_000);
    let timeout = Duration::from_millis(300);
    let http = Http::new(HttpConfig::default().retries(0).timeout(timeout)).unwrap();
    let started = Instant::now();
    let req = Request::get(format!("http://127.0.0.1:{port}/x")).max_body(1 << 20);
    let err = http.request(&req, &|_| {}).unwrap_err();
    // The message is read under the deadline of at most 64 KiB (0.3 s + 1 s), not of the
    // terabyte claimed; the status is the answer.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(err.failure, Failure::Status(503, None));
}

#[test]
fn a_redirect_to_a_file_url_is_refused_without_retrying() {
    let (port, heads) = recording_server(|_| {
        "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
    });
    let http = Http::new(HttpConfig::default().retries(3).backoff_base(Duration::from_millis(1))).unwrap();
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
    let http = Http::new(HttpConfig::default().retries(0)).unwrap();
    let req = Request::get(format!("http://127.0.0.1:{port}/data/x")).header("X-Auth-Token", "GDCSECRET");
    assert!(!format!("{req:?}").contains("GDCSECRET"));
    let (head, mut body) = http.send_once(&req).unwrap();
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
    let http = Http::new(HttpConfig::default().retries(0)).unwrap();
    let (head, body) = http.send_once(&Request::get(format!("http://127.0.0.1:{port}/d"))).unwrap();
    assert_eq!(head.status, 206);
    assert_eq!(head.content_length(), Some(100_000));
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
    let http = Http::new(HttpConfig::default().retries(0)).unwrap();
    let (_, mut body) = http.send_once(&Request::get(format!("http://127.0.0.1:{port}/d"))).unwrap();
    let mut all = Vec::new();
    let err = body.read_to_end(&mut all).unwrap_err();
    let failure = Failure::from_read(&err, body.bytes_read());
    assert!(matches!(failure, Failure::Transport(_)), "{failure}");
    assert!(failure.is_transient());
}

#[test]
fn transient_statuses_are_retried_with_their_message_and_401_renews_the_credentials() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let (port, heads) = recording_server(move |_| {
        match seen.fetch_add(1, Ordering::SeqCst) {
        0 => "HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 18\r\nConnection: close\r\n\r\n{\"message\":\"busy\"}".into(),
        1 => "HTTP/1.1 401 No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
        _ => "HTTP/1.1 200 OK\r\nGirder-Total-Count: 7\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into(),
    }
    });
    struct Token(AtomicU32);
    impl Auth for Token {
        type Error = String;
        fn sign(&self, req: Request) -> (u64, Request) {
            let g = self.0.load(Ordering::SeqCst);
            (u64::from(g), req.header("Girder-Token", format!("tok{g}")))
        }
        fn renew(&self, _: u64, renewals: &mut u32) -> Result<bool, String> {
            *renewals += 1;
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(*renewals <= 1)
        }
    }
    let http = Http::new(HttpConfig::default().retries(1).backoff_base(Duration::from_millis(1))).unwrap();
    let req = Request::get(format!("http://127.0.0.1:{port}/item")).keep_header("Girder-Total-Count");
    let (sent, resp) = http.request_with(&req, &|_| {}, &Token(AtomicU32::new(0))).unwrap();
    assert_eq!((resp.status, resp.body.as_slice(), resp.header("girder-total-count")), (200, &b"ok"[..], Some("7")));
    // One retry (the 503), the renewal not counted; the last try carried the new token.
    assert_eq!(resp.retries, 1);
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 3);
    assert!(heads[0].contains("girder-token: tok0") && heads[2].contains("girder-token: tok1"), "{heads:?}");
    assert!(!format!("{sent:?}").contains("tok1"));
    drop(heads);
    // Without retries left the 503 is the error, with the server's message.
    let http = Http::new(HttpConfig::default().retries(0).timeout(Duration::from_secs(10))).unwrap();
    calls.store(0, Ordering::SeqCst);
    let err = http.request(&req, &|_| {}).unwrap_err();
    assert_eq!(err.failure, Failure::Status(503, Some("busy".into())));
}
