//! A client for the Digital Slide Archive: Girder's REST API with the large_image plugins.
//!
//! Covers what a BCSS download needs: authentication (API key -> token, or login + password),
//! the slide items of a folder (paged, `Girder-Total-Count`), tile metadata, region images and
//! annotation documents. Every error names the [`Step`] and carries the server's own message
//! (Girder answers `{"message", "type"}`; a missing item is 400, not 404).
//!
//! The token travels in the `Girder-Token` header only, is never logged, and is renewed once
//! from the credentials when the server starts answering 401 (Girder treats an expired token as
//! anonymous).

use std::sync::RwLock;

use serde::Deserialize;

use super::http::{Http, HttpError, Request, Response};
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

/// A secret string (API key, password, token): its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself, for sending. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// How to authenticate.
#[derive(Debug, Clone)]
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
    /// The answer was not what the API returns.
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
/// error status is said to have done so.
fn describe_http(e: &HttpError) -> String {
    match e.failure {
        super::http::Failure::Status(..) => format!("the server kept failing: {e}"),
        _ => format!("cannot reach the server: {e}"),
    }
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

/// A connected, authenticated client.
#[derive(Debug)]
pub struct Girder {
    http: Http,
    base: String,
    credentials: Credentials,
    token: RwLock<Option<Secret>>,
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

fn server_error(step: Step, req: &Request, resp: &Response) -> GirderError {
    let v: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    let field = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(|m| m.as_str()).map(str::to_string);
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
        let girder = Girder { http, base, credentials, token: RwLock::new(None), renewals: std::sync::Mutex::new(0) };
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

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    fn probe(&self) -> Result<(), GirderError> {
        let req = Request::get(self.url("system/version")).header("Accept", "application/json");
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
                    resp.content_type.as_deref().unwrap_or("no content type")
                ),
            });
        }
        Ok(())
    }

    /// Gets a token from the credentials (no-op when anonymous).
    pub fn authenticate(&self) -> Result<(), GirderError> {
        let req = match &self.credentials {
            Credentials::Anonymous => return Ok(()),
            Credentials::ApiKey(key) => Request::post(self.url("api_key/token")).query("key", key.expose().trim()),
            Credentials::Login { user, password } => {
                let basic = base64(format!("{user}:{}", password.expose()).as_bytes());
                Request::get(self.url("user/authentication")).header("Authorization", format!("Basic {basic}"))
            }
        };
        let req = req.header("Accept", "application/json");
        let resp =
            self.http.request(&req, &|_| {}).map_err(|source| GirderError::Http { step: Step::Token, source })?;
        if !resp.is_success() {
            return Err(server_error(Step::Token, &req, &resp));
        }
        let reply: TokenReply = serde_json::from_slice(&resp.body).map_err(|e| GirderError::Unexpected {
            step: Step::Token,
            url: req.shown_url(),
            reason: format!("no authToken in the reply ({e})"),
        })?;
        *self.token.write().expect("token lock") = Some(Secret::new(reply.auth_token.token));
        Ok(())
    }

    fn with_token(&self, mut req: Request) -> Request {
        if let Some(t) = self.token.read().expect("token lock").as_ref() {
            req = req.header("Girder-Token", t.expose());
        }
        req
    }

    /// Sends a request with the token; on 401 renews the token once and retries.
    /// Sends a request with the token. On 401 (Girder's answer to an expired token) the token is
    /// renewed, by one worker only (the others pick up the new token), and the request is tried
    /// again: at most twice more per request and [`MAX_RENEWALS`] renewals per client.
    fn send(&self, step: Step, req: Request, on_bytes: &dyn Fn(u64)) -> Result<(Request, Response), GirderError> {
        let mut sent = self.with_token(req.clone());
        let mut resp = self.http.request(&sent, on_bytes).map_err(|source| GirderError::Http { step, source })?;
        for _ in 0..2 {
            if resp.status != 401 || matches!(self.credentials, Credentials::Anonymous) {
                break;
            }
            let used = sent.headers.iter().find(|(k, _)| k == "Girder-Token").map(|(_, v)| v.clone());
            {
                let mut renewals = self.renewals.lock().expect("renewal lock");
                let current = self.token.read().expect("token lock").as_ref().map(|t| t.expose().to_string());
                if current == used {
                    if *renewals >= MAX_RENEWALS {
                        break;
                    }
                    tracing::info!(step = %step, "HTTP 401: renewing the token");
                    self.authenticate()?;
                    *renewals += 1;
                }
            }
            sent = self.with_token(req.clone());
            resp = self.http.request(&sent, on_bytes).map_err(|source| GirderError::Http { step, source })?;
        }
        Ok((sent, resp))
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, step: Step, req: Request) -> Result<(T, Response), GirderError> {
        let (req, resp) = self.send(step, req.header("Accept", "application/json"), &|_| {})?;
        if !resp.is_success() {
            return Err(server_error(step, &req, &resp));
        }
        let value = serde_json::from_slice(&resp.body).map_err(|e| GirderError::Unexpected {
            step,
            url: req.shown_url(),
            reason: format!("the body is not the JSON expected ({e})"),
        })?;
        Ok((value, resp))
    }

    /// The items of a folder that large_image can read (items without `largeImage` are skipped),
    /// fetched in pages until `Girder-Total-Count` is reached.
    pub fn list_slides(&self, folder_id: &str) -> Result<Vec<Item>, GirderError> {
        const PAGE: u64 = 500;
        let mut items: Vec<Item> = Vec::new();
        let mut offset = 0;
        loop {
            let req = Request::get(self.url("item"))
                .query("folderId", folder_id)
                .query("limit", PAGE.to_string())
                .query("offset", offset.to_string())
                .query("sort", "lowerName")
                .query("sortdir", "1");
            let (page, resp): (Vec<Item>, _) = self.get_json(Step::Listing, req)?;
            let n = page.len() as u64;
            items.extend(page);
            offset += n;
            let total = resp.total_count.unwrap_or(offset);
            if n == 0 || offset >= total {
                break;
            }
        }
        Ok(items.into_iter().filter(|i| i.large_image.is_some()).collect())
    }

    /// `GET item/{id}/tiles`: the slide's size, pyramid and native resolution.
    pub fn tiles(&self, item_id: &str) -> Result<SlideGeometry, GirderError> {
        let req = Request::get(self.url(&format!("item/{item_id}/tiles")));
        let shown = req.shown_url();
        let geometry = SlideGeometry::from(self.get_json::<TilesMetadata>(Step::TilesMetadata, req)?.0);
        geometry.check().map_err(|reason| GirderError::Unexpected { step: Step::TilesMetadata, url: shown, reason })?;
        Ok(geometry)
    }

    /// `GET item/{id}/tiles/region` for integer base-pixel bounds, with the scale parameters and
    /// encoding given. Returns the body (an encoded image) and its content type. An error status
    /// is an error; an empty body is returned as is for the caller to refuse.
    pub fn region(
        &self,
        item_id: &str,
        rect: Rect,
        scale: &[(&str, String)],
        encoding: &str,
        on_bytes: &dyn Fn(u64),
    ) -> Result<Response, GirderError> {
        let mut req = Request::get(self.url(&format!("item/{item_id}/tiles/region")))
            .query("left", rect.left.to_string())
            .query("top", rect.top.to_string())
            .query("right", rect.right.to_string())
            .query("bottom", rect.bottom.to_string());
        for (k, v) in scale {
            req = req.query(*k, v.clone());
        }
        req = req.query("encoding", encoding);
        let (req, resp) = self.send(Step::Region, req, on_bytes)?;
        if !resp.is_success() {
            return Err(server_error(Step::Region, &req, &resp));
        }
        Ok(resp)
    }

    /// `GET annotation/item/{id}`: every annotation document of the item, as the raw JSON the
    /// server sent (checked to be a JSON array).
    pub fn annotations(&self, item_id: &str, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>, GirderError> {
        let req = Request::get(self.url(&format!("annotation/item/{item_id}"))).header("Accept", "application/json");
        let (req, resp) = self.send(Step::Annotations, req, on_bytes)?;
        if !resp.is_success() {
            return Err(server_error(Step::Annotations, &req, &resp));
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
                reason: format!("the body is not valid JSON ({e})"),
            }),
        }
    }
}

/// Standard base64 with padding (for HTTP Basic auth).
fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"admin:adminpassword"), "YWRtaW46YWRtaW5wYXNzd29yZA==");
    }

    #[test]
    fn secrets_do_not_format() {
        let s = Secret::new("abc123");
        assert!(!format!("{s:?}").contains("abc123"));
        let c = Credentials::Login { user: "u".into(), password: Secret::new("pw") };
        assert!(!format!("{c:?}").contains("pw\""));
    }
}
