//! The client ([`Http`]): sends a request once ([`Http::send_once`]), or through the retry
//! policy with the whole body read ([`Http::request`]) or its head returned and the body read
//! as it arrives ([`Http::open`]); the `_with` forms add credentials that are renewed on 401.

use crate::body::{Body, MAX_ERROR_BODY};
use crate::error::{ClientError, Failure, HttpError, TransportError, TransportKind};
use crate::response::{kept_headers, Head, Response};
use crate::retry::{is_transient_status, Attempt, Retry, RetryError, RetryPolicy};
use crate::secrets::Secrets;
use crate::{redact_url, HttpConfig, Request};

/// Credentials a request carries and can renew: the retry loop signs every attempt with the
/// current ones and, on `401`, asks for new ones.
pub trait Auth {
    /// The error of a failed renewal.
    type Error;
    /// `req` with the current credentials, and their generation (+1 per renewal).
    fn sign(&self, req: Request) -> (u64, Request);
    /// After a `401` to a request signed with `generation`: `Ok(true)` when there are newer
    /// credentials to try (renewed now, or by another thread since), `Ok(false)` when the 401 is
    /// the answer. `renewals` counts this request's own renewals (the implementation bounds it).
    fn renew(&self, generation: u64, renewals: &mut u32) -> Result<bool, Self::Error>;
}

/// No credentials.
#[derive(Debug, Clone, Copy)]
pub struct NoAuth;

impl Auth for NoAuth {
    type Error = std::convert::Infallible;
    fn sign(&self, req: Request) -> (u64, Request) {
        (0, req)
    }
    fn renew(&self, _: u64, _: &mut u32) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

/// The HTTP client. Clones share the connection pool and the [`Secrets`].
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    config: HttpConfig,
    secrets: Secrets,
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

/// The `message` of a JSON error body (Girder's and the GDC's errors both have one), scrubbed.
pub fn json_message(body: &[u8], secrets: &Secrets) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("message")?.as_str().map(|m| secrets.scrub(m))
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
        Ok(Http { agent, config, secrets: Secrets::default() })
    }

    /// The settings.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// The secrets this client (and its clones) sends; add every one a caller sends.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// `text` with this client's secrets hidden ([`Secrets::scrub`]).
    pub fn scrub(&self, text: &str) -> String {
        self.secrets.scrub(text)
    }

    /// The retry policy of the settings.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::new(self.config.retries, self.config.backoff_base)
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
            let resp = result.map_err(|e| classify(&e, &shown, &self.secrets))?;
            let status = resp.status().as_u16();
            let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
            let (true, Some(location)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location) else {
                return Ok((resp, shown));
            };
            let next = resolve_location(&url, &location).ok_or_else(|| {
                let detail = format!("redirect to an unusable location `{}`", self.scrub(&redact_url(&location)));
                Failure::transport(TransportError::new(TransportKind::Redirects, &shown, Some(detail)))
            })?;
            if !(next.starts_with("http://") || next.starts_with("https://")) {
                let scheme = next.split_once(':').map_or("?", |(s, _)| s);
                return Err(Failure::Redirect(format!(
                    "HTTP {status} redirect to a non-HTTP URL `{}` (scheme `{scheme}`); only http and https are followed",
                    self.scrub(&redact_url(&next))
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
        let detail = format!("more than 10 redirects, last to {}", self.scrub(&redact_url(&url)));
        Err(Failure::transport(TransportError::new(TransportKind::Redirects, &url, Some(detail))))
    }

    /// Sends `req` once (redirects followed, credentials kept on their origin) and returns the
    /// head and the body, whatever the status, the body held to its deadline, its
    /// `Content-Length` and a cap ([`Body`]): the request's [`max_body`](Request::max_body) on a
    /// success, and [`MAX_ERROR_BODY`] on an error status (read only for its message). No
    /// retries, and a `Content-Length` over the cap is for the caller to judge (a `200` to a
    /// ranged request is not too large but wrong): for a caller that retries with
    /// [`RetryPolicy::run`] because only it knows what it did with the bytes of a broken body.
    pub fn send_once(&self, req: &Request) -> Result<(Head, Body), Failure> {
        let (resp, url) = self.send(req)?;
        let head = Head { status: resp.status().as_u16(), headers: kept_headers(&resp, &req.keep) };
        let max = if head.is_success() { req.max_body } else { Some(MAX_ERROR_BODY) };
        let inner = Box::new(resp.into_body().into_with_config().limit(u64::MAX).reader());
        let body = Body::new(inner, url, head.content_length(), max, self.config.timeout, self.secrets.clone());
        Ok((head, body))
    }

    /// One attempt of [`Http::open_with`]: the head and body of a status that is the answer,
    /// or how to go on.
    fn attempt<A: Auth>(
        &self,
        req: &Request,
        auth: &A,
        renewals: &mut u32,
    ) -> Result<(Request, Head, Body), Retry<A::Error>> {
        let (generation, sent) = auth.sign(req.clone());
        let (head, body) = self.send_once(&sent)?;
        if head.status == 401 && auth.renew(generation, renewals).map_err(Retry::Stop)? {
            return Err(Retry::Renewed);
        }
        if is_transient_status(head.status) {
            let message = json_message(&body.read_message(), &self.secrets);
            return Err(Retry::Failed(Failure::Status(head.status, message), head.retry_after()));
        }
        if let (true, Some(limit), Some(n)) = (head.is_success(), req.max_body, head.content_length()) {
            if n > limit {
                // Refused before anything of the claimed size is read or allocated.
                return Err(Failure::TooLarge { limit, claimed: Some(n) }.into());
            }
        }
        Ok((sent, head, body))
    }

    /// Sends `req` through the retry policy (transient failures and statuses retried) and
    /// returns the head of the answer with a reader of its body ([`Body`]): for a body decoded
    /// while it arrives. A failure while the body is read is the caller's to retry.
    pub fn open(&self, req: &Request) -> Result<(Head, Body), HttpError> {
        match self.open_with(req, &NoAuth) {
            Ok((_, head, body)) => Ok((head, body)),
            Err(RetryError::Http(h)) => Err(h),
            Err(RetryError::Stop(never)) => match never {},
        }
    }

    /// [`Http::open`] with credentials from `auth`, renewed on 401; also returns the request as
    /// sent (signed).
    pub fn open_with<A: Auth>(&self, req: &Request, auth: &A) -> Result<(Request, Head, Body), RetryError<A::Error>> {
        let mut renewals = 0;
        self.retry_policy().run(&req.shown_url(), |_| self.attempt(req, auth, &mut renewals))
    }

    /// Sends `req` and reads the whole body, retrying transient failures, including a body
    /// that broke, stalled or missed its deadline. Returns the response for every status that
    /// is not transient (the caller decides what a 4xx means); fails when retries are
    /// exhausted. `on_bytes` sees every chunk received (retries included).
    pub fn request(&self, req: &Request, on_bytes: &dyn Fn(u64)) -> Result<Response, HttpError> {
        match self.request_with(req, on_bytes, &NoAuth) {
            Ok((_, resp)) => Ok(resp),
            Err(RetryError::Http(h)) => Err(h),
            Err(RetryError::Stop(never)) => match never {},
        }
    }

    /// [`Http::request`] with credentials from `auth`, renewed on 401; also returns the request
    /// as sent (signed).
    pub fn request_with<A: Auth>(
        &self,
        req: &Request,
        on_bytes: &dyn Fn(u64),
        auth: &A,
    ) -> Result<(Request, Response), RetryError<A::Error>> {
        let mut renewals = 0;
        self.retry_policy().run(&req.shown_url(), |a: &mut Attempt| {
            let (sent, head, body) = self.attempt(req, auth, &mut renewals)?;
            // An error status's body is read for its message only (at most 64 KiB).
            let body = if head.is_success() { body.read_all(on_bytes)? } else { body.read_message() };
            Ok((sent, Response { status: head.status, headers: head.headers, body, retries: a.retries() }))
        })
    }
}

fn classify(e: &ureq::Error, url: &str, secrets: &Secrets) -> Failure {
    let mut text = secrets.scrub(&redact_url(&e.to_string()));
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
