//! A client for the Digital Slide Archive: Girder's REST API with the large_image plugins.
//!
//! Covers what a BCSS download needs: authentication (API key -> token, or login + password),
//! the slide items of a folder (paged, `Girder-Total-Count`), tile metadata, region images and
//! annotation documents. Every error names the [`Step`] and carries the server's own message
//! (Girder answers `{"message", "type"}`; a missing item is 400, not 404).
//!
//! The token travels in the `Girder-Token` header only, is never logged, and is renewed from the
//! credentials when the server starts answering 401 (Girder treats an expired token as
//! anonymous): the renewal is the [`Auth`] of the HTTP client's one retry loop. Every secret is
//! added to the client's [`Secrets`](super::http::Secrets), and every text of the server that
//! goes into an error is scrubbed by it (a server may echo the key it refused).
//!
//! Limits, so that a server cannot exhaust a run (an over-limit answer fails its request, not
//! retried, and nothing of the claimed size is allocated):
//!
//! - JSON answers (version, token, listing pages, tiles): at most [`MAX_JSON_BODY`] (16 MiB);
//!   annotation documents at most [`MAX_ANNOTATIONS_BODY`] (64 MiB).
//! - A region: [`region_body_limit`], 4.5 bytes per output pixel + 1 MiB (an incompressible
//!   RGBA PNG is 4 bytes per pixel plus a filter byte per row; a JPEG is less; the MiB covers
//!   headers and an ICC profile).
//! - A folder listing: at most [`MAX_LISTING_ITEMS`] items (100 000; BCSS has 151 slides), a
//!   claimed `Girder-Total-Count` above that fails at once, and at most [`MAX_LISTING_BYTES`]
//!   (256 MiB) of pages in all.

use std::io::Read;
use std::sync::RwLock;

use serde::Deserialize;

use super::http::{endpoint, Auth, Body, Head, Http, HttpError, Request, Response, RetryError, Secret};
use crate::model::{Rect, SlideGeometry};

/// The body of `GET item/{id}/tiles`, in large_image's field names; the parts
/// [`SlideGeometry`] keeps.
#[derive(Deserialize)]
struct TilesMetadata {
    #[serde(rename = "sizeX")]
    size_x: u64,
    #[serde(rename = "sizeY")]
    size_y: u64,
    #[serde(rename = "tileWidth")]
    tile_width: u64,
    #[serde(rename = "tileHeight")]
    tile_height: u64,
    levels: u32,
    #[serde(default)]
    magnification: Option<f64>,
    #[serde(default)]
    mm_x: Option<f64>,
    #[serde(default)]
    mm_y: Option<f64>,
}

impl From<TilesMetadata> for SlideGeometry {
    fn from(t: TilesMetadata) -> SlideGeometry {
        SlideGeometry {
            size_x: t.size_x,
            size_y: t.size_y,
            tile_width: t.tile_width,
            tile_height: t.tile_height,
            levels: t.levels,
            magnification: t.magnification,
            mm_x: t.mm_x,
            mm_y: t.mm_y,
        }
    }
}

/// How to authenticate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// No authentication: public data only.
    Anonymous,
    /// An API key, exchanged for a token with `POST api_key/token`.
    ApiKey(Secret),
    /// Login and password, exchanged with `GET user/authentication` (HTTP Basic).
    Login {
        /// User name or e-mail.
        user: String,
        /// Password.
        password: Secret,
    },
}

/// The step of a download an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Checking that the URL is a Girder API.
    Probe,
    /// Exchanging the API key or login for a token.
    Token,
    /// Listing the slide folder.
    Listing,
    /// `GET item/{id}/tiles`.
    TilesMetadata,
    /// `GET item/{id}/tiles/region`.
    Region,
    /// Fetching a mask from its link.
    MaskLink,
    /// `GET annotation/item/{id}`.
    Annotations,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Probe => "server check",
            Step::Token => "authentication",
            Step::Listing => "folder listing",
            Step::TilesMetadata => "tiles metadata",
            Step::Region => "region",
            Step::MaskLink => "mask link",
            Step::Annotations => "annotations",
        })
    }
}

/// A DSA request that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GirderError {
    /// The request never got a final answer.
    #[error("{step}: {}", describe_http(source))]
    Http {
        /// The step.
        step: Step,
        /// What happened on the wire.
        #[source]
        source: HttpError,
    },
    /// The server answered with an error status.
    #[error("{step}: the server answered HTTP {status}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Server {
        /// The step.
        step: Step,
        /// HTTP status.
        status: u16,
        /// Girder's `message`, if the body had one.
        message: Option<String>,
        /// Girder's `type` (`rest`, `access`, `validation`, `internal`).
        kind: Option<String>,
        /// The URL, secrets hidden.
        url: String,
    },
    /// The answer was not what the API returns. The reason is text on purpose: a JSON parser's
    /// message quotes the server's bytes, so it is scrubbed ([`Http::scrub`]) into the reason rather
    /// than kept as a `source()` that would print them unscrubbed.
    #[error("{step}: unexpected answer from {url}: {reason}")]
    Unexpected {
        /// The step.
        step: Step,
        /// The URL, secrets hidden.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

impl GirderError {
    /// The step.
    pub fn step(&self) -> Step {
        match self {
            GirderError::Http { step, .. }
            | GirderError::Server { step, .. }
            | GirderError::Unexpected { step, .. } => *step,
        }
    }

    /// The HTTP status the server answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GirderError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// "cannot reach the server" only when it could not be reached; a server that kept answering an
/// error status, was too slow, sent too much or redirected away is said to have done so. The
/// fragment of [`GirderError::Http`]'s own level: the [`HttpError`] follows as its source.
fn describe_http(e: &HttpError) -> &'static str {
    use super::http::Failure;
    match &e.failure {
        Failure::Status(..) => "the server kept failing",
        Failure::TooLarge { .. } => "the server sent too much",
        Failure::Redirect(_) => "the server redirected elsewhere",
        Failure::Transport(t) if t.is_timeout() => "the server did not answer in time",
        Failure::Transport(_) => "cannot reach the server",
    }
}

/// The largest JSON answer accepted (version, token, a listing page, tiles metadata).
pub const MAX_JSON_BODY: u64 = 16 << 20;

/// The largest annotation answer accepted (every annotation document of one slide).
pub const MAX_ANNOTATIONS_BODY: u64 = 64 << 20;

/// The most items a folder listing may hold.
pub const MAX_LISTING_ITEMS: u64 = 100_000;

/// The most bytes of listing pages read for one folder.
pub const MAX_LISTING_BYTES: u64 = 256 << 20;

/// The largest region body accepted for an output of `width` x `height` pixels: 4.5 bytes per
/// pixel + 1 MiB. A 600 x 400 region may be 2.1 MB.
pub fn region_body_limit(width: u64, height: u64) -> u64 {
    width.saturating_mul(height).saturating_mul(9) / 2 + (1 << 20)
}

/// At most this many token renewals per client (see [`Girder`]).
const MAX_RENEWALS: u32 = 50;

/// An item of a folder listing.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    /// Item id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Item name (the slide file name).
    pub name: String,
    /// Present on items large_image can read.
    #[serde(rename = "largeImage", default)]
    pub large_image: Option<serde_json::Value>,
}

/// The token in use and its generation (0 = none yet, +1 per token obtained).
#[derive(Debug, Default)]
struct TokenSlot {
    generation: u64,
    token: Option<Secret>,
}

/// A connected, authenticated client.
#[derive(Debug)]
pub struct Girder {
    http: Http,
    base: String,
    credentials: Credentials,
    token: RwLock<TokenSlot>,
    /// Token renewals so far. Renewing is deduplicated across workers (only the token that
    /// failed is replaced) and capped at [`MAX_RENEWALS`] per client, so a key that lost access,
    /// or an item the user cannot read, does not cost a token exchange per request forever.
    renewals: std::sync::Mutex<u32>,
}

#[derive(Deserialize)]
struct TokenReply {
    #[serde(rename = "authToken")]
    auth_token: AuthToken,
}

#[derive(Deserialize)]
struct AuthToken {
    token: String,
}

fn server_error(http: &Http, step: Step, req: &Request, resp: &Response) -> GirderError {
    let v: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    let field = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(|m| m.as_str()).map(|m| http.scrub(m));
    GirderError::Server {
        step,
        status: resp.status,
        message: field("message"),
        kind: field("type"),
        url: req.shown_url(),
    }
}

impl Girder {
    /// Checks that `api_url` is a Girder API (`GET system/version`) and authenticates.
    pub fn connect(http: Http, api_url: &str, credentials: Credentials) -> Result<Girder, GirderError> {
        let base = api_url.trim_end_matches('/').to_string();
        match &credentials {
            Credentials::Anonymous => {}
            Credentials::ApiKey(key) => http.secrets().add(key.expose()),
            Credentials::Login { user, password } => {
                http.secrets().add(password.expose());
                // The Basic form of the login is a secret too (a server could echo its header).
                http.secrets().add(&basic_credentials(user, password.expose()));
            }
        }
        let girder = Girder {
            http,
            base,
            credentials,
            token: RwLock::new(TokenSlot::default()),
            renewals: std::sync::Mutex::new(0),
        };
        girder.probe()?;
        girder.authenticate()?;
        Ok(girder)
    }

    /// The API base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The HTTP client.
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The endpoint `segments` of the API, each percent-encoded as one path segment: an item id
    /// cannot change the path or add a query, and an empty, `.` or `..` id (another endpoint)
    /// or a base that is not a URL is refused for `step`.
    fn url(&self, step: Step, segments: &[&str]) -> Result<String, GirderError> {
        endpoint(&self.base, segments).ok_or_else(|| GirderError::Unexpected {
            step,
            url: super::http::redact_url(&self.base),
            reason: format!("`{}` cannot name an endpoint of this API", self.http.scrub(&segments.join("/"))),
        })
    }

    fn probe(&self) -> Result<(), GirderError> {
        let req = Request::get(self.url(Step::Probe, &["system", "version"])?)
            .header("Accept", "application/json")
            .max_body(MAX_JSON_BODY);
        let resp =
            self.http.request(&req, &|_| {}).map_err(|source| GirderError::Http { step: Step::Probe, source })?;
        let json: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
        let looks_like_girder = resp.is_success()
            && json.as_ref().is_some_and(|v| {
                v.get("release").is_some() || v.get("apiVersion").is_some() || v.get("serverStartDate").is_some()
            });
        if !looks_like_girder {
            return Err(GirderError::Unexpected {
                step: Step::Probe,
                url: req.shown_url(),
                reason: format!(
                    "this is not a Girder API (HTTP {}, {}); the URL should end in `/api/v1`",
                    resp.status,
                    self.http.scrub(resp.header("content-type").unwrap_or("no content type"))
                ),
            });
        }
        Ok(())
    }

    /// Gets a token from the credentials (no-op when anonymous).
    pub fn authenticate(&self) -> Result<(), GirderError> {
        let req = match &self.credentials {
            Credentials::Anonymous => return Ok(()),
            Credentials::ApiKey(key) => {
                Request::post(self.url(Step::Token, &["api_key", "token"])?).query("key", key.expose().trim())
            }
            Credentials::Login { user, password } => {
                let basic = basic_credentials(user, password.expose());
                Request::get(self.url(Step::Token, &["user", "authentication"])?)
                    .header("Authorization", format!("Basic {basic}"))
            }
        };
        let req = req.header("Accept", "application/json").max_body(MAX_JSON_BODY);
        let resp =
            self.http.request(&req, &|_| {}).map_err(|source| GirderError::Http { step: Step::Token, source })?;
        if !resp.is_success() {
            return Err(server_error(&self.http, Step::Token, &req, &resp));
        }
        let reply: TokenReply = serde_json::from_slice(&resp.body).map_err(|e| GirderError::Unexpected {
            step: Step::Token,
            url: req.shown_url(),
            reason: self.http.scrub(&format!("no authToken in the reply ({e})")),
        })?;
        let mut slot = self.token.write().expect("token lock");
        self.http.secrets().add(&reply.auth_token.token);
        slot.token = Some(Secret::new(reply.auth_token.token));
        slot.generation += 1;
        Ok(())
    }

    /// Sends a request with the token through the client's retry loop, which renews the token
    /// on 401 (see the [`Auth`] of [`Girder`]).
    fn send(&self, step: Step, req: Request, on_bytes: &dyn Fn(u64)) -> Result<(Request, Response), GirderError> {
        self.http.request_with(&req, on_bytes, self).map_err(|e| http_error(step, e))
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, step: Step, req: Request) -> Result<(T, Response), GirderError> {
        let (req, resp) = self.send(step, req.header("Accept", "application/json"), &|_| {})?;
        if !resp.is_success() {
            return Err(server_error(&self.http, step, &req, &resp));
        }
        let value = serde_json::from_slice(&resp.body).map_err(|e| GirderError::Unexpected {
            step,
            url: req.shown_url(),
            reason: self.http.scrub(&format!("the body is not the JSON expected ({e})")),
        })?;
        Ok((value, resp))
    }

    /// The items of a folder that large_image can read (items without `largeImage` are skipped),
    /// fetched in pages until `Girder-Total-Count` is reached. Fails when the folder claims or
    /// turns out to hold more than [`MAX_LISTING_ITEMS`] items, or its pages add up to more than
    /// [`MAX_LISTING_BYTES`] (a server that always answers a full page).
    pub fn list_slides(&self, folder_id: &str) -> Result<Vec<Item>, GirderError> {
        const PAGE: u64 = 500;
        let mut items: Vec<Item> = Vec::new();
        let mut offset = 0;
        let mut bytes = 0u64;
        loop {
            let req = Request::get(self.url(Step::Listing, &["item"])?)
                .query("folderId", folder_id)
                .query("limit", PAGE.to_string())
                .query("offset", offset.to_string())
                .query("sort", "lowerName")
                .query("sortdir", "1")
                .keep_header("Girder-Total-Count")
                .max_body(MAX_JSON_BODY);
            let shown = req.shown_url();
            let (page, resp): (Vec<Item>, _) = self.get_json(Step::Listing, req)?;
            let too_many = |reason: String| GirderError::Unexpected { step: Step::Listing, url: shown.clone(), reason };
            if let Some(total) = total_count(&resp).filter(|&t| t > MAX_LISTING_ITEMS) {
                return Err(too_many(format!(
                    "the server claims {total} items in the folder (Girder-Total-Count), more than the \
                     {MAX_LISTING_ITEMS} a slide folder can hold"
                )));
            }
            let n = page.len() as u64;
            items.extend(page);
            offset += n;
            bytes += resp.body.len() as u64;
            if offset > MAX_LISTING_ITEMS {
                return Err(too_many(format!(
                    "the folder listing goes on past {MAX_LISTING_ITEMS} items; stopped at {offset}"
                )));
            }
            if bytes > MAX_LISTING_BYTES {
                return Err(too_many(format!(
                    "the folder listing goes on past {} MiB of pages; stopped at {offset} items",
                    MAX_LISTING_BYTES >> 20
                )));
            }
            let total = total_count(&resp).unwrap_or(offset);
            if n == 0 || offset >= total {
                break;
            }
        }
        Ok(items.into_iter().filter(|i| i.large_image.is_some()).collect())
    }

    /// `GET item/{id}/tiles`: the slide's size, pyramid and native resolution.
    pub fn tiles(&self, item_id: &str) -> Result<SlideGeometry, GirderError> {
        let req = Request::get(self.url(Step::TilesMetadata, &["item", item_id, "tiles"])?).max_body(MAX_JSON_BODY);
        let shown = req.shown_url();
        let geometry = SlideGeometry::from(self.get_json::<TilesMetadata>(Step::TilesMetadata, req)?.0);
        geometry.check().map_err(|reason| GirderError::Unexpected { step: Step::TilesMetadata, url: shown, reason })?;
        Ok(geometry)
    }

    /// `GET item/{id}/tiles/region` for integer base-pixel bounds, with the scale parameters and
    /// encoding given, the body left to read: returns the head (a success status; an error
    /// status is an error), a reader of the body (an encoded image, maybe empty, for the caller
    /// to refuse) held to `max_body` (from [`region_body_limit`] of the expected output size)
    /// and to a deadline (see `Http::open`), and the URL, secrets hidden, for the errors of
    /// the read. The request and its head are retried; a body that breaks while it is read is
    /// the caller's to fetch again, since only it knows what it did with the bytes so far.
    pub(crate) fn region(
        &self,
        item_id: &str,
        rect: Rect,
        scale: &[(&str, String)],
        encoding: &str,
        max_body: u64,
    ) -> Result<(Head, Body, String), GirderError> {
        let mut req = Request::get(self.url(Step::Region, &["item", item_id, "tiles", "region"])?)
            .max_body(max_body)
            .query("left", rect.left.to_string())
            .query("top", rect.top.to_string())
            .query("right", rect.right.to_string())
            .query("bottom", rect.bottom.to_string());
        for (k, v) in scale {
            req = req.query(*k, v.clone());
        }
        let req = req.query("encoding", encoding);
        let (req, head, mut body) = self.http.open_with(&req, self).map_err(|e| http_error(Step::Region, e))?;
        if !head.is_success() {
            // The error body says why: read a bounded piece of it.
            let mut text = Vec::new();
            let _ = body.by_ref().take(64 * 1024).read_to_end(&mut text);
            let resp = Response { status: head.status, headers: head.headers.clone(), body: text, retries: 0 };
            return Err(server_error(&self.http, Step::Region, &req, &resp));
        }
        Ok((head, body, req.shown_url()))
    }

    /// `GET annotation/item/{id}`: every annotation document of the item, as the raw JSON the
    /// server sent (checked to be a JSON array).
    pub fn annotations(&self, item_id: &str, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>, GirderError> {
        let req = Request::get(self.url(Step::Annotations, &["annotation", "item", item_id])?)
            .header("Accept", "application/json")
            .max_body(MAX_ANNOTATIONS_BODY);
        let (req, resp) = self.send(Step::Annotations, req, on_bytes)?;
        if !resp.is_success() {
            return Err(server_error(&self.http, Step::Annotations, &req, &resp));
        }
        // The documents are kept and parsed later, their ids and names shown in errors: a server
        // that echoes a secret into them is refused, as the GDC client refuses such a hit.
        if std::str::from_utf8(&resp.body).is_ok_and(|text| self.http.secrets().found_in(text)) {
            return Err(GirderError::Unexpected {
                step: Step::Annotations,
                url: req.shown_url(),
                reason: "the annotations echo a secret this client sent (shown as [redacted])".into(),
            });
        }
        match serde_json::from_slice::<serde_json::Value>(&resp.body) {
            Ok(serde_json::Value::Array(_)) => Ok(resp.body),
            Ok(_) => Err(GirderError::Unexpected {
                step: Step::Annotations,
                url: req.shown_url(),
                reason: "the body is JSON but not an array".into(),
            }),
            Err(e) => Err(GirderError::Unexpected {
                step: Step::Annotations,
                url: req.shown_url(),
                reason: self.http.scrub(&format!("the body is not valid JSON ({e})")),
            }),
        }
    }
}

/// `Girder-Total-Count`, the size of a paged listing.
fn total_count(resp: &Response) -> Option<u64> {
    resp.header("girder-total-count").and_then(|v| v.trim().parse().ok())
}

/// The [`GirderError`] of a request that the retry loop gave up on, or of a failed renewal.
fn http_error(step: Step, e: RetryError<GirderError>) -> GirderError {
    match e {
        RetryError::Http(source) => GirderError::Http { step, source },
        RetryError::Stop(e) => e,
    }
}

/// The token: every request is signed with the current one, and a 401 renews it, by one worker
/// only:
///
/// - when another worker replaced the token since this request was sent, the request is simply
///   sent again with the new token: that costs no renewal, whatever the order of the workers (it
///   is bounded, since every replacement is one of the client's renewals);
/// - otherwise this request renews the token itself, at most twice per request and
///   50 times per client; after that the 401 is the answer.
impl Auth for Girder {
    type Error = GirderError;

    fn sign(&self, mut req: Request) -> (u64, Request) {
        let slot = self.token.read().expect("token lock");
        if let Some(t) = slot.token.as_ref() {
            req = req.header("Girder-Token", t.expose());
        }
        (slot.generation, req)
    }

    fn renew(&self, generation: u64, renewals: &mut u32) -> Result<bool, GirderError> {
        if matches!(self.credentials, Credentials::Anonymous) {
            return Ok(false);
        }
        let mut total = self.renewals.lock().expect("renewal lock");
        if self.token.read().expect("token lock").generation != generation {
            // Renewed by another worker meanwhile: try the new token.
            return Ok(true);
        }
        if *renewals >= 2 || *total >= MAX_RENEWALS {
            return Ok(false);
        }
        tracing::info!("HTTP 401: renewing the token");
        self.authenticate()?;
        *total += 1;
        *renewals += 1;
        Ok(true)
    }
}

/// HTTP Basic credentials: `user:password` in standard base64 with padding (RFC 7617).
fn basic_credentials(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_credentials_are_rfc7617s() {
        assert_eq!(super::basic_credentials("admin", "adminpassword"), "YWRtaW46YWRtaW5wYXNzd29yZA==");
        assert_eq!(super::basic_credentials("", ""), "Og==");
    }

    use super::*;

    #[test]
    fn secrets_do_not_format() {
        let s = Secret::new("abc123");
        assert!(!format!("{s:?}").contains("abc123"));
        let c = Credentials::Login { user: "u".into(), password: Secret::new("pw") };
        assert!(!format!("{c:?}").contains("pw\""));
    }

    /// A client of `base` holding `key`, without the probe and token exchange of `connect`.
    fn client(base: &str, key: &str) -> Girder {
        let http = Http::new(super::super::http::HttpConfig::default().retries(0)).unwrap();
        http.secrets().add(key);
        Girder {
            http,
            base: base.to_string(),
            credentials: Credentials::ApiKey(Secret::new(key)),
            token: RwLock::new(TokenSlot::default()),
            renewals: std::sync::Mutex::new(0),
        }
    }

    #[test]
    fn an_item_id_that_would_name_another_endpoint_is_refused_before_any_request() {
        // Port 9 (discard) is never asked: the refusal comes first.
        let g = client("http://127.0.0.1:9/api/v1", "k3y-of-the-test");
        for id in ["", ".", ".."] {
            let err = g.tiles(id).unwrap_err();
            assert!(matches!(err, GirderError::Unexpected { step: Step::TilesMetadata, .. }), "{err}");
            assert!(err.to_string().contains("cannot name an endpoint"), "{err}");
        }
    }

    #[test]
    fn annotations_that_echo_the_key_are_refused() {
        use std::io::{Read, Write};
        let key = "k3y-echoed-by-the-server";
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let _ = stream.read(&mut [0u8; 4096]);
            let body = format!(r#"[{{"annotation": {{"name": "{key}", "elements": []}}}}]"#);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        });
        let g = client(&format!("http://127.0.0.1:{port}/api/v1"), key);
        let err = g.annotations("5bbdeba3e629140048d01abc", &|_| {}).unwrap_err();
        let shown = crate::report::error_chain(&err);
        assert!(shown.contains("echo a secret") && !shown.contains(key), "{shown}");
    }
}
