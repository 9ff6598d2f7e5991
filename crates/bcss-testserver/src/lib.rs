//! # bcss-testserver
//!
//! A stand-in for a Digital Slide Archive (Girder + large_image + annotations) on
//! `127.0.0.1:0`, for bcss's tests and benchmarks, and as a binary for manual poking. Std only:
//! a `TcpListener`, a thread per connection, hand-written HTTP/1.1 with keep-alive.
//!
//! ## Brief overview
//!
//! - [`TestServer`] starts from a [`Config`] (slides, API key, latency, faults) and records
//!   every request ([`TestServer::requests`]) so tests can assert what the client sent.
//! - [`SlideSpec`]s describe synthetic slides and their ROIs. Pixels are a known function of
//!   base coordinates ([`image::colour`]), masks too ([`image::mask_code`]), and the region
//!   geometry is written from the spec independently of the client ([`image::answer`]). For
//!   benchmarks, [`Config::picture`] can paint H&E-like tissue instead ([`tissue`]), which
//!   compresses like a real slide.
//! - [`faults`] holds named, documented ways to misbehave, switchable at run time with
//!   [`TestServer::set_faults`].
//! - [`gdc::GdcServer`] is a second, separate stand-in: the NCI GDC API (`/status`, `/files`,
//!   `/data/{id}` with byte ranges) serving real files from disk, with its own faults
//!   ([`gdc::GdcFaults`]) and byte counters.
//! - [`svs::write_svs`] writes real Aperio-style SVS slides (tiled TIFF or BigTIFF, JPEG or
//!   JPEG 2000 tiles) that OpenSlide opens as `aperio`, for the GDC stand-in to serve.
//!
//! ```no_run
//! use bcss_testserver::{Config, SlideSpec, TestServer};
//! let server = TestServer::start(Config {
//!     slides: vec![SlideSpec::new("TCGA-SY-0001-01Z-00-DX1.SYNTH.svs", 20000, 15000, 0.25, 40.0).roi("TCGA-SY-0001-DX1", 1000, 2000, 1600, 2400)],
//!     api_key: Some("KEY".into()),
//!     ..Default::default()
//! });
//! println!("{} {}", server.api_url(), server.folder_id());
//! ```
//!
//! Invariant: binds loopback only; never reaches the network.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod accept;
pub mod faults;
pub mod gdc;
pub mod girder;
pub mod http;
pub mod image;
pub mod svs;
pub mod tissue;

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use faults::{Fault, Faults, Route, When};
pub use image::Picture;

use bcss_model::Rect;

/// One ROI of a synthetic slide (base pixels, `xmax`/`ymax` exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoiSpec {
    /// ROI id, starting with the slide's 12-character short name (`TCGA-SY-0001-DX1`).
    pub id: String,
    /// Left.
    pub xmin: u64,
    /// Top.
    pub ymin: u64,
    /// Right (exclusive).
    pub xmax: u64,
    /// Bottom (exclusive).
    pub ymax: u64,
}

impl RoiSpec {
    /// The ROI's rectangle of base pixels.
    pub fn rect(&self) -> Rect {
        Rect { left: self.xmin, top: self.ymin, right: self.xmax, bottom: self.ymax }
    }
}

/// A synthetic slide.
#[derive(Debug, Clone, PartialEq)]
pub struct SlideSpec {
    /// Item name (`TCGA-SY-0001-01Z-00-DX1.SYNTH.svs`).
    pub name: String,
    /// Base width.
    pub size_x: u64,
    /// Base height.
    pub size_y: u64,
    /// Tile size (256).
    pub tile: u64,
    /// mm per base pixel (both axes), `None` = unknown.
    pub mm: Option<f64>,
    /// Objective power, `None` = unknown.
    pub magnification: Option<f64>,
    /// Readable without a token.
    pub public: bool,
    /// Its ROIs.
    pub rois: Vec<RoiSpec>,
}

impl SlideSpec {
    /// A private slide of `size_x` x `size_y` base pixels at `mpp` microns per pixel and
    /// objective power `mag`.
    pub fn new(name: &str, size_x: u64, size_y: u64, mpp: f64, mag: f64) -> SlideSpec {
        SlideSpec {
            name: name.to_string(),
            size_x,
            size_y,
            tile: 256,
            mm: Some(mpp / 1000.0),
            magnification: Some(mag),
            public: false,
            rois: Vec::new(),
        }
    }

    /// Adds a ROI.
    pub fn roi(mut self, id: &str, xmin: u64, ymin: u64, xmax: u64, ymax: u64) -> SlideSpec {
        self.rois.push(RoiSpec { id: id.to_string(), xmin, ymin, xmax, ymax });
        self
    }

    /// The 12-character short name.
    pub fn short_name(&self) -> &str {
        self.name.get(..12).unwrap_or(&self.name)
    }
}

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The slides of the folder ([`TestServer::folder_id`]).
    pub slides: Vec<SlideSpec>,
    /// The API key `POST api_key/token` accepts; `None` refuses every key.
    pub api_key: Option<String>,
    /// Login and password `GET user/authentication` accepts.
    pub login: Option<(String, String)>,
    /// Delay before every answer.
    pub latency: Duration,
    /// Bytes per second per response body; `None` = unlimited.
    pub bandwidth: Option<u64>,
    /// A token stops working this long after it was issued (then it is anonymous, as an expired
    /// Girder token is: Girder tokens expire by time, not by use); `None` = never. Tests expire
    /// tokens at chosen moments with [`TestServer::expire_tokens`] or [`Fault::ExpireTokens`].
    pub token_ttl: Option<Duration>,
    /// The folder and its items can be read without a token.
    pub folder_public: bool,
    /// Faults in force from the start.
    pub faults: Faults,
    /// What region pictures show: the test pattern (default) or H&E-like tissue (benchmarks).
    pub picture: Picture,
}

impl Config {
    /// `n` synthetic slides with one ROI each of about `roi_w` x `roi_h` base pixels (sizes vary
    /// by up to 10%); every fifth slide is 20x at 0.5 um/px, the others 40x at 0.25 um/px.
    pub fn synthetic(n: usize, roi_w: u64, roi_h: u64) -> Config {
        let slides = (0..n)
            .map(|i| {
                let short = format!("TCGA-SY-{:04}", i + 1);
                let twenty = i % 5 == 4;
                let (mpp, mag) = if twenty { (0.5, 20.0) } else { (0.25, 40.0) };
                let w = roi_w + roi_w * ((i as u64 * 7) % 10) / 100;
                let h = roi_h + roi_h * ((i as u64 * 3) % 10) / 100;
                let (x, y) = (1000 + 37 * i as u64, 2000 + 53 * i as u64);
                SlideSpec::new(
                    &format!("{short}-01Z-00-DX1.SYNTH{:04}.svs", i + 1),
                    x + w + 5000,
                    y + h + 4000,
                    mpp,
                    mag,
                )
                .roi(&format!("{short}-DX1"), x, y, x + w, y + h)
            })
            .collect();
        Config { slides, api_key: Some("bcss-test-key".into()), ..Default::default() }
    }
}

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path, percent-decoded.
    pub path: String,
    /// Query pairs, percent-decoded.
    pub query: Vec<(String, String)>,
    /// Headers as sent.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// True for `GET .../tiles/region`.
    pub fn is_region(&self) -> bool {
        self.path.ends_with("/tiles/region")
    }
    /// True for the mask file (`/files/...png`), the request that carries a mask's bytes.
    pub fn is_mask_file(&self) -> bool {
        self.path.starts_with("/files/")
    }
}

/// A fault the server injected: which request, when, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct FiredFault {
    /// When the request arrived.
    pub at: Instant,
    /// The route of the request ([`Route::Any`] for a path outside the known routes).
    pub route: Route,
    /// The path of the request, percent-decoded.
    pub path: String,
    /// What the server did: the fault, or [`Fault::Latency`] with the total added delay.
    pub fault: Fault,
}

/// Shared state of a running server.
pub(crate) struct State {
    config: Config,
    folder_id: String,
    empty_folder_id: String,
    text_item_id: String,
    faults: Mutex<faults::ActiveFaults>,
    latency: Mutex<Duration>,
    requests: Mutex<Vec<(Instant, RecordedRequest)>>,
    fired: Mutex<Vec<FiredFault>>,
    half_sent: Mutex<Vec<(Instant, String)>>,
    /// Token -> the moment it expires (`None` = never).
    tokens: Mutex<HashMap<String, Option<Instant>>>,
    issued: Mutex<Vec<String>>,
    rng: Mutex<fastrand::Rng>,
}

impl State {
    fn item_id(&self, index: usize) -> String {
        format!("5bbdeba3e62914004800{:04x}", index + 1)
    }

    fn slide_by_id(&self, id: &str) -> Option<&SlideSpec> {
        (0..self.config.slides.len()).find(|&i| self.item_id(i) == id).map(|i| &self.config.slides[i])
    }

    fn roi(&self, id: &str) -> Option<Rect> {
        self.config.slides.iter().flat_map(|s| &s.rois).find(|r| r.id == id).map(RoiSpec::rect)
    }

    fn latency(&self) -> Duration {
        *self.latency.lock().expect("latency lock")
    }

    fn pick_fault(&self, route: Route, path: &str) -> (Option<Fault>, Duration) {
        let (fault, latency) = self.faults.lock().expect("faults lock").pick(route);
        let at = Instant::now();
        let mut fired = self.fired.lock().expect("fired lock");
        if !latency.is_zero() {
            fired.push(FiredFault { at, route, path: path.to_string(), fault: Fault::Latency(latency) });
        }
        if let Some(f) = &fault {
            fired.push(FiredFault { at, route, path: path.to_string(), fault: f.clone() });
        }
        (fault, latency)
    }

    fn new_token(&self) -> String {
        let token: String = {
            let mut rng = self.rng.lock().expect("rng lock");
            (0..64).map(|_| rng.alphanumeric()).collect()
        };
        let expires = self.config.token_ttl.map(|ttl| Instant::now() + ttl);
        self.tokens.lock().expect("tokens lock").insert(token.clone(), expires);
        self.issued.lock().expect("issued lock").push(token.clone());
        token
    }

    /// Whether the request carries a valid token (header `Girder-Token` or query `token`). An
    /// expired or unknown token is anonymous, not an error.
    fn user_of(&self, req: &http::Request) -> bool {
        let Some(token) = req.header("girder-token").or_else(|| req.param("token")) else { return false };
        let tokens = self.tokens.lock().expect("tokens lock");
        match tokens.get(token) {
            None => false,
            Some(None) => true,
            Some(Some(expires)) => Instant::now() < *expires,
        }
    }

    /// Every token issued so far expires now.
    pub(crate) fn expire_tokens(&self) {
        let now = Instant::now();
        for expires in self.tokens.lock().expect("tokens lock").values_mut() {
            *expires = Some(now);
        }
    }
}

/// A running stand-in. Stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    /// Dropped with the server: stops accepting and shuts every connection down.
    _acceptor: accept::Acceptor,
}

impl TestServer {
    /// Starts a server on `127.0.0.1:0`.
    pub fn start(config: Config) -> TestServer {
        TestServer::start_on(config, 0).expect("bind 127.0.0.1:0")
    }

    /// Starts a server on `127.0.0.1:port` (0 = any free port).
    pub fn start_on(config: Config, port: u16) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            folder_id: "5bbdeba3e629140048d017bb".to_string(),
            empty_folder_id: "5bbdeba3e629140048d0e0e0".to_string(),
            text_item_id: "5bbdeba3e62914004800ffff".to_string(),
            faults: Mutex::new(faults::ActiveFaults::new(config.faults.clone())),
            latency: Mutex::new(config.latency),
            requests: Mutex::new(Vec::new()),
            fired: Mutex::new(Vec::new()),
            half_sent: Mutex::new(Vec::new()),
            tokens: Mutex::new(HashMap::new()),
            issued: Mutex::new(Vec::new()),
            rng: Mutex::new(fastrand::Rng::with_seed(0x5eed)),
            config,
        });
        let served = state.clone();
        let acceptor =
            accept::Acceptor::start(listener, "testserver", move |stream| serve_connection(&served, stream, addr))?;
        Ok(TestServer { addr, state, _acceptor: acceptor })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/api/v1`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v1", self.url())
    }

    /// The folder holding the slides (and one item that is not a slide).
    pub fn folder_id(&self) -> String {
        self.state.folder_id.clone()
    }

    /// An existing folder with no items.
    pub fn empty_folder_id(&self) -> String {
        self.state.empty_folder_id.clone()
    }

    /// The item id of a slide, by item name or short name.
    pub fn item_id(&self, name: &str) -> Option<String> {
        self.state
            .config
            .slides
            .iter()
            .position(|s| s.name == name || s.short_name() == name)
            .map(|i| self.state.item_id(i))
    }

    /// The slides.
    pub fn slides(&self) -> &[SlideSpec] {
        &self.state.config.slides
    }

    /// The mask link of a ROI (answers 302 to the mask file).
    pub fn mask_url(&self, roi: &str) -> String {
        format!("{}/masks/{roi}", self.url())
    }

    /// A `roiBounds.csv` of every ROI, in the original format (CRLF, empty first header), with
    /// the mask links of this server.
    pub fn roi_bounds_csv(&self) -> String {
        let mut s = String::from(",xmin,ymin,xmax,ymax,mask_link\r\n");
        for r in self.state.config.slides.iter().flat_map(|s| &s.rois) {
            s.push_str(&format!("{},{},{},{},{},{}\r\n", r.id, r.xmin, r.ymin, r.xmax, r.ymax, self.mask_url(&r.id)));
        }
        s
    }

    /// The annotation JSON the server gives for a slide (by item name or short name).
    pub fn annotations(&self, name: &str) -> Option<serde_json::Value> {
        let id = self.item_id(name)?;
        let slide = self.state.slide_by_id(&id)?;
        Some(girder::annotations_doc(&id, slide))
    }

    /// The geometry the server uses for a slide.
    pub fn native(&self, name: &str) -> Option<image::Native> {
        self.state.config.slides.iter().find(|s| s.name == name || s.short_name() == name).map(girder::native)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().expect("requests lock").iter().map(|(_, r)| r.clone()).collect()
    }

    /// Every request received so far with the moment it arrived, in order of arrival.
    pub fn requests_timed(&self) -> Vec<(Instant, RecordedRequest)> {
        self.state.requests.lock().expect("requests lock").clone()
    }

    /// Every fault injected so far, in order (a request with a latency and a fault appears twice).
    pub fn fired_faults(&self) -> Vec<FiredFault> {
        self.state.fired.lock().expect("fired lock").clone()
    }

    /// The responses of [`Fault::StallMidBody`] whose first half is sent (and flushed), with the
    /// moment and the request path: a client is then in the middle of that body.
    pub fn bodies_half_sent(&self) -> Vec<(Instant, String)> {
        self.state.half_sent.lock().expect("half_sent lock").clone()
    }

    /// Forgets the recorded requests, injected faults and half-sent bodies.
    pub fn clear_requests(&self) {
        self.state.requests.lock().expect("requests lock").clear();
        self.state.fired.lock().expect("fired lock").clear();
        self.state.half_sent.lock().expect("half_sent lock").clear();
    }

    /// Every token handed out so far (to check that none leaks into output).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.issued.lock().expect("issued lock").clone()
    }

    /// Every token issued so far expires now (as a Girder token does when its time is up); the
    /// next request with one of them is anonymous.
    pub fn expire_tokens(&self) {
        self.state.expire_tokens();
    }

    /// Replaces the faults in force (counters restart).
    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().expect("faults lock") = faults::ActiveFaults::new(faults);
    }

    /// Changes the delay before every answer.
    pub fn set_latency(&self, latency: Duration) {
        *self.state.latency.lock().expect("latency lock") = latency;
    }
}

fn serve_connection(state: &State, stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut writer = BufWriter::with_capacity(64 * 1024, &stream);
    let pace = http::Pace { bandwidth: state.config.bandwidth };
    loop {
        let req = match http::read_request(&mut reader) {
            Ok(r) => r,
            Err(http::ReadError::Closed) | Err(http::ReadError::Io(_)) => return,
            Err(http::ReadError::LengthRequired) => {
                let resp = http::Response::new(
                    411,
                    "text/html;charset=utf-8",
                    b"<html><body><h2>411 Length Required</h2></body></html>".to_vec(),
                );
                let _ = http::write_response(&mut writer, &resp, false, true, pace);
                return;
            }
            Err(http::ReadError::Malformed(why)) => {
                let resp = http::Response::new(400, "text/plain", why.as_bytes().to_vec());
                let _ = http::write_response(&mut writer, &resp, false, true, pace);
                return;
            }
        };
        state.requests.lock().expect("requests lock").push((
            Instant::now(),
            RecordedRequest {
                method: req.method.clone(),
                path: req.path.clone(),
                query: req.query.clone(),
                headers: req.headers.clone(),
            },
        ));
        let host = req.header("host").map(str::to_string).unwrap_or_else(|| addr.to_string());
        match girder::serve(state, &req, &host) {
            girder::Reply::Send(resp) => {
                if http::write_response(&mut writer, &resp, req.method == "HEAD", req.close, pace).is_err() || req.close
                {
                    return;
                }
            }
            girder::Reply::ResetMidBody(resp) => {
                let half = resp.body.len() / 2;
                let _ = http::write_head(
                    &mut writer,
                    &http::Response { chunked: false, ..resp.clone() },
                    resp.body.len(),
                    false,
                );
                let _ = writer.write_all(&resp.body[..half]);
                let _ = writer.flush();
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            girder::Reply::Trickle(resp, pause) => {
                let plain = http::Response { chunked: false, ..resp.clone() };
                if http::write_head(&mut writer, &plain, resp.body.len(), req.close).is_err() {
                    return;
                }
                for byte in &resp.body {
                    if writer.write_all(std::slice::from_ref(byte)).and_then(|_| writer.flush()).is_err() {
                        return;
                    }
                    std::thread::sleep(pause);
                }
                if req.close {
                    return;
                }
            }
            girder::Reply::Unbounded(resp, total) => {
                // Generated as it goes: the stand-in never holds the body it claims to send.
                let chunked = http::Response { chunked: true, ..resp.clone() };
                if http::write_head(&mut writer, &chunked, 0, true).is_err() {
                    return;
                }
                let zeros = vec![0u8; 64 * 1024];
                let mut sent = 0u64;
                let mut part: &[u8] = &resp.body;
                while sent < total {
                    if part.is_empty() {
                        part = &zeros[..zeros.len().min((total - sent) as usize)];
                    }
                    let ok = writer
                        .write_all(format!("{:x}\r\n", part.len()).as_bytes())
                        .and_then(|_| writer.write_all(part))
                        .and_then(|_| writer.write_all(b"\r\n"));
                    if ok.is_err() {
                        return;
                    }
                    sent += part.len() as u64;
                    part = &[];
                }
                let _ = writer.write_all(b"0\r\n\r\n").and_then(|_| writer.flush());
                return;
            }
            girder::Reply::StallMidBody(resp, pause) => {
                let half = resp.body.len() / 2;
                let plain = http::Response { chunked: false, ..resp.clone() };
                let sent = http::write_head(&mut writer, &plain, resp.body.len(), req.close)
                    .and_then(|_| writer.write_all(&resp.body[..half]))
                    .and_then(|_| writer.flush());
                if sent.is_err() {
                    return;
                }
                state.half_sent.lock().expect("half_sent lock").push((Instant::now(), req.path.clone()));
                std::thread::sleep(pause);
                if writer.write_all(&resp.body[half..]).and_then(|_| writer.flush()).is_err() || req.close {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Read};

    /// One 4000 x 3000 slide with a 60 x 40 ROI.
    fn one_slide() -> Vec<SlideSpec> {
        vec![SlideSpec::new("TCGA-SY-0001-01Z-00-DX1.SYNTH.svs", 4000, 3000, 0.25, 40.0).roi(
            "TCGA-SY-0001-DX1",
            100,
            200,
            160,
            240,
        )]
    }

    fn server() -> TestServer {
        TestServer::start(Config { slides: one_slide(), api_key: Some("KEY".into()), ..Default::default() })
    }

    /// Status, headers (lower-case names), body.
    type Answer = (u16, Vec<(String, String)>, Vec<u8>);

    /// Sends raw requests on one connection and reads `n` responses.
    fn exchange(server: &TestServer, raw: &str, n: usize) -> Vec<Answer> {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut r = BufReader::new(s);
        (0..n)
            .map(|_| {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
                let mut headers = Vec::new();
                loop {
                    line.clear();
                    r.read_line(&mut line).unwrap();
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    let (k, v) = l.split_once(':').unwrap();
                    headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
                }
                let len: usize =
                    headers.iter().find(|(k, _)| k == "content-length").map(|(_, v)| v.parse().unwrap()).unwrap_or(0);
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                (status, headers, body)
            })
            .collect()
    }

    fn json(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn keep_alive_auth_and_error_shapes() {
        let s = server();
        let raw = format!(
            "GET /api/v1/system/version HTTP/1.1\r\nHost: x\r\n\r\n\
             POST /api/v1/api_key/token?key=WRONG HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n\
             GET /api/v1/item?folderId={f} HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /api/v1/item?folderId=nope HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /api/v1/item?folderId=5bbdeba3e629140048d0ffff HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /api/v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n\
             POST /api/v1/api_key/token?key=KEY HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            f = s.folder_id()
        );
        let r = exchange(&s, &raw, 7);
        assert_eq!(r[0].0, 200);
        assert!(json(&r[0].2).get("release").is_some());
        assert_eq!((r[1].0, json(&r[1].2)["message"].as_str()), (400, Some("Invalid API key.")));
        assert_eq!((r[2].0, json(&r[2].2)["type"].as_str()), (401, Some("access")));
        assert_eq!((r[3].0, json(&r[3].2)["type"].as_str()), (400, Some("validation")));
        assert!(json(&r[4].2)["message"].as_str().unwrap().starts_with("No such folder: "));
        assert!(json(&r[5].2)["message"].as_str().unwrap().starts_with("No matching route"));
        let token = json(&r[6].2)["authToken"]["token"].as_str().unwrap().to_string();
        assert_eq!(s.issued_tokens(), vec![token.clone()]);

        let raw = format!(
            "GET /api/v1/item?folderId={f}&limit=1&offset=1 HTTP/1.1\r\nHost: x\r\nGirder-Token: {token}\r\n\r\n\
             GET /api/v1/item?folderId={f}&limit=0 HTTP/1.1\r\nHost: x\r\nGirder-Token: {token}\r\n\r\n\
             GET /api/v1/item/{id}/tiles HTTP/1.1\r\nHost: x\r\nGirder-Token: {token}\r\n\r\n\
             GET /api/v1/item/5bbdeba3e62914004800ffff/tiles HTTP/1.1\r\nHost: x\r\nGirder-Token: {token}\r\n\r\n\
             GET /api/v1/item/5bbdeba3e62914004800eeee/tiles HTTP/1.1\r\nHost: x\r\nGirder-Token: {token}\r\n\r\n\
             GET /api/v1/item/{id}/tiles/region?left=0&top=0&right=10&bottom=10&encoding=png HTTP/1.1\r\nHost: x\r\nGirder-Token: {token}\r\n\r\n\
             GET /api/v1/item/{id}/tiles/region?left=5000&top=0&right=6000&bottom=10&encoding=PNG HTTP/1.1\r\nHost: x\r\nGirder-Token: {token}\r\n\r\n\
             GET /api/v1/item/{id}/tiles/region?left=256&top=1&right=258&bottom=2&encoding=PNG HTTP/1.1\r\nHost: x\r\nGirder-Token: {token}\r\n\r\n",
            f = s.folder_id(),
            id = s.item_id("TCGA-SY-0001").unwrap()
        );
        let r = exchange(&s, &raw, 8);
        let header = |i: usize, k: &str| r[i].1.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(json(&r[0].2).as_array().unwrap().len(), 1);
        assert_eq!(header(0, "girder-total-count").as_deref(), Some("2"));
        let all = json(&r[1].2);
        assert_eq!(all.as_array().unwrap().len(), 2);
        assert_eq!(all.as_array().unwrap().iter().filter(|i| i.get("largeImage").is_some()).count(), 1);
        let tiles = json(&r[2].2);
        assert_eq!(
            (tiles["sizeX"].as_u64(), tiles["levels"].as_u64(), tiles["mm_x"].as_f64()),
            (Some(4000), Some(5), Some(0.00025))
        );
        assert_eq!(json(&r[3].2)["message"].as_str(), Some("No large image file in this item."));
        assert_eq!(json(&r[4].2)["type"].as_str(), Some("rest"));
        assert_eq!((r[5].0, json(&r[5].2)["message"].as_str()), (400, Some("Value Error: Invalid encoding \"png\"")));
        assert_eq!((r[6].0, r[6].2.len(), header(6, "content-type").as_deref()), (200, 0, Some("image/png")));
        let img = bcss_codec::png::decode_rgb(&r[7].2).unwrap();
        assert_eq!(img.data, vec![0, 1, 37, 1, 1, 37]);
    }

    #[test]
    fn mask_link_redirects_and_token_expires() {
        let mut config = server().state.config.clone();
        config.faults = Faults::none();
        let s = TestServer::start(config);
        let r = exchange(&s, "GET /masks/TCGA-SY-0001-DX1 HTTP/1.1\r\nHost: h:1\r\n\r\nGET /files/TCGA-SY-0001-DX1.png HTTP/1.1\r\nHost: h:1\r\n\r\n", 2);
        assert_eq!(r[0].0, 302);
        assert!(r[0].1.iter().any(|(k, v)| k == "location" && v == "http://h:1/files/TCGA-SY-0001-DX1.png"));
        let mask = bcss_codec::png::decode_gray(&r[1].2).unwrap();
        assert_eq!((mask.width, mask.height), (60, 40));
        assert_eq!(mask.data[0], image::mask_code(100, 200));

        let r = exchange(&s, "POST /api/v1/api_key/token?key=KEY HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 1);
        let token = json(&r[0].2)["authToken"]["token"].as_str().unwrap().to_string();
        let id = s.item_id("TCGA-SY-0001").unwrap();
        let req = format!("GET /api/v1/item/{id}/tiles HTTP/1.1\r\nHost: x\r\nGirder-Token: {token}\r\n\r\n");
        let r = exchange(&s, &req.repeat(2), 2);
        assert_eq!((r[0].0, r[1].0), (200, 200), "tokens expire by time, not by use");
        s.expire_tokens();
        let r = exchange(&s, &req, 1);
        assert_eq!(r[0].0, 401, "an expired token is anonymous");
    }

    #[test]
    fn tissue_picture_over_http() {
        let s = TestServer::start(Config {
            slides: one_slide(),
            folder_public: true,
            picture: Picture::Tissue,
            ..Default::default()
        });
        let id = s.item_id("TCGA-SY-0001").unwrap();
        let region = "left=1000&top=500&right=1300&bottom=700";
        let raw = format!(
            "GET /api/v1/item/{id}/tiles/region?{region}&encoding=PNG HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /api/v1/item/{id}/tiles/region?{region}&encoding=JPEG HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /files/TCGA-SY-0001-DX1.png HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let r = exchange(&s, &raw, 3);
        // PNG: exactly the tissue function; JPEG (q95): close to it.
        let png = bcss_codec::png::decode_rgb(&r[0].2).unwrap();
        let tissue = image::render_picture(
            Picture::Tissue,
            Rect { left: 1000, top: 500, right: 1300, bottom: 700 },
            300,
            200,
            false,
        );
        assert_eq!((png.width, png.height), (300, 200));
        assert!(png.data == tissue, "the PNG is the tissue picture");
        let jpeg = bcss_codec::jpeg::decode_rgb(&r[1].2).unwrap();
        let mean_diff =
            |a: &[u8], b: &[u8]| a.iter().zip(b).map(|(&x, &y)| f64::from(x.abs_diff(y))).sum::<f64>() / a.len() as f64;
        assert!(mean_diff(&jpeg.data, &tissue) < 4.0, "JPEG off by {}", mean_diff(&jpeg.data, &tissue));
        // Masks do not change with the picture.
        let mask = bcss_codec::png::decode_gray(&r[2].2).unwrap();
        assert_eq!(mask, image::render_mask(Rect { left: 100, top: 200, right: 160, bottom: 240 }));
    }

    #[test]
    fn faults_switch_at_run_time() {
        let s = server();
        s.set_faults(Faults::none().on(Route::Version, When::First(1), Fault::RateLimited(3)));
        let r = exchange(&s, &"GET /api/v1/system/version HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2), 2);
        assert_eq!(r[0].0, 429);
        assert!(r[0].1.iter().any(|(k, v)| k == "retry-after" && v == "3"));
        assert_eq!(r[1].0, 200);
        assert_eq!(s.requests().len(), 2);
        let raw = "POST /api/v1/api_key/token HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(exchange(&s, raw, 1)[0].0, 411);
    }
}
