//! A stand-in for the NCI Genomic Data Commons (GDC) API on `127.0.0.1:0`: `GET /status`,
//! `GET`/`POST /files` (search with filters, fields and paging) and `GET`/`HEAD /data/{id}`
//! (download, with single byte ranges), serving real files from disk, with switchable faults.
//!
//! It follows `shared/spec/gdc-api.md`. What the stand-in chooses where the GDC is silent or
//! unconfirmed:
//!
//! - **Filters** are compiled before any file is looked at: ops `in`, `=`, `and`, `or` on
//!   fields `file_name`, `file_id` and `state` (optionally prefixed `files.`). Any other op or
//!   field, a malformed filter, or malformed JSON is `400 {"message": ...}`.
//! - **Fields**: `fields=a,b` selects among `file_id`, `file_name`, `md5sum`, `file_size`,
//!   `state`; `id` is always present; unknown names are ignored (no such key in the hits).
//!   Without `fields`, every known field is returned.
//! - **Paging**: `from` is 0-based, `size` defaults to 10, hits are sorted by `file_name`;
//!   `page = from / size + 1`, `pages = ceil(total / size)` (both 1 and 0 when `size` is 0).
//! - **Ranges**: one range `bytes=a-b`, `bytes=a-` or `bytes=-n` answers `206` with
//!   `Content-Range: bytes a-b/total` (`b` is clamped to the last byte). A range starting at or
//!   past the end, `bytes=-0`, a malformed header, **and any multi-range request**
//!   (`bytes=0-1,5-6`) answer `416` with `Content-Range: bytes */total`: the stand-in never
//!   answers several ranges and never silently sends the whole file (unless the
//!   [`GdcFaults::ignore_range`] fault asks for exactly that).
//! - **Token**: with [`GdcConfig::token`] set, `/data` needs `X-Auth-Token` equal to it, else
//!   `403 {"message": ...}`; `/status` and `/files` never need it.
//!
//! Bodies of `/data` are streamed from disk in 64 KiB chunks straight to the socket (never read
//! whole), and counted as they are written: [`GdcServer::bytes_served`] counts the body bytes
//! the socket accepted, so a body cut short counts what was sent.
//!
//! Invariant: binds loopback only; reads only the files it was given.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serde_json::{json, Value};

use crate::accept::Acceptor;
use crate::http::{self, Pace, Request, Response};
use crate::RecordedRequest;

/// One file the stand-in serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdcFile {
    /// The GDC file id (a UUID, `8-4-4-4-12` lower-case hex).
    pub id: String,
    /// The GDC `file_name`.
    pub name: String,
    /// The real file on disk whose bytes `/data/{id}` serves.
    pub path: PathBuf,
    /// The `md5sum` to report; `None` = the real MD5 of the file, computed at start.
    pub md5: Option<String>,
    /// The `state` (`released`).
    pub state: String,
}

impl GdcFile {
    /// A released file named as the file on disk, with an id derived from that name
    /// ([`uuid_for`]) and its real MD5.
    pub fn from_path(path: &Path) -> GdcFile {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        GdcFile::new(&uuid_for(&name), &name, path)
    }

    /// A released file with this id and name, served from `path`, with its real MD5.
    pub fn new(id: &str, name: &str, path: &Path) -> GdcFile {
        GdcFile {
            id: id.to_string(),
            name: name.to_string(),
            path: path.to_path_buf(),
            md5: None,
            state: "released".to_string(),
        }
    }
}

/// A deterministic UUID-shaped id for a file name (its MD5 laid out as `8-4-4-4-12`).
pub fn uuid_for(name: &str) -> String {
    let h = bcss_model::hex(&Md5::digest(name.as_bytes()));
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The real MD5 of a file, in lower-case hex, read in chunks.
pub fn md5_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(bcss_model::hex(&h.finalize()))
}

/// Named ways for the stand-in to misbehave, switchable at run time with
/// [`GdcServer::set_faults`]. The default is none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GdcFaults {
    /// `ignore_range`: answer ranged `/data` requests `200` with the whole file and no
    /// `Content-Range`, as a server or proxy that does not do ranges would.
    pub ignore_range: bool,
    /// `cut_short_after`: announce the full `Content-Length` of every `/data` body (whole file
    /// or range) but close the connection after this many body bytes.
    pub cut_short_after: Option<u64>,
    /// `wrong_md5`: `/files` reports an `md5sum` that is not the file's (every hex digit of the
    /// real one flipped), so a whole-file check must fail.
    pub wrong_md5: bool,
    /// `status_5xx`: the next this-many `/data` requests answer `503` with a JSON message, then
    /// normal service resumes (the count goes down as they are answered).
    pub status_5xx: u32,
    /// `files_5xx`: the same for `/files` (GET and POST).
    pub files_5xx: u32,
    /// `bytes_per_sec`: throttle `/data` bodies to about this rate (per response).
    pub bytes_per_sec: Option<u64>,
    /// `echo_token`: send the `X-Auth-Token` the request carried back in the place named, as a
    /// careless or hostile server would (nothing is echoed to a request without one).
    pub echo_token: Option<TokenEcho>,
    /// `extra_hits`: every `/files` page carries this many more hits than asked for (distinct
    /// ids, all named as the first file matched), as a broken server would.
    pub extra_hits: u64,
}

/// Where the [`GdcFaults::echo_token`] fault puts the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEcho {
    /// `/data` ranges answer `206` with `Content-Range: bytes a-b/<token>`.
    ContentRange,
    /// `/files` hits carry the token as `file_size` (a string, not a number).
    FileSize,
    /// `/files` hits carry the token as `md5sum`.
    Md5,
    /// `/files` adds a hit named as the token (not asked for).
    HitName,
    /// `/data` answers `403` with the token in its JSON `message`.
    Message,
}

/// How the stand-in behaves.
#[derive(Debug, Clone, Default)]
pub struct GdcConfig {
    /// The files it knows.
    pub files: Vec<GdcFile>,
    /// When `Some`, `/data` requires `X-Auth-Token` equal to it (else `403`).
    pub token: Option<String>,
    /// Faults in force from the start.
    pub faults: GdcFaults,
}

/// A file with what the stand-in computed at start.
#[derive(Debug, Clone)]
struct Entry {
    file: GdcFile,
    size: u64,
    md5: String,
}

#[derive(Default)]
struct Counters {
    /// Body bytes written per file id.
    bytes: BTreeMap<String, u64>,
    /// (id, first byte, end exclusive) of the bytes written by each `/data` body.
    ranges: Vec<(String, u64, u64)>,
    requests: Vec<RecordedRequest>,
}

struct State {
    /// Sorted by file name.
    entries: Vec<Entry>,
    token: Option<String>,
    faults: Mutex<GdcFaults>,
    counters: Mutex<Counters>,
}

/// A running GDC stand-in. Stops when dropped.
pub struct GdcServer {
    addr: SocketAddr,
    state: Arc<State>,
    /// Dropped with the server: stops accepting and shuts every connection down.
    _acceptor: Acceptor,
}

impl GdcServer {
    /// Starts a server on `127.0.0.1:0`. Panics if it cannot bind or read a file (a test setup
    /// error); see [`GdcServer::start_on`].
    pub fn start(config: GdcConfig) -> GdcServer {
        GdcServer::start_on(config, 0).expect("start the GDC stand-in")
    }

    /// Starts a server on `127.0.0.1:port` (0 = any free port). Reads every file once to learn
    /// its size and MD5 (unless given).
    pub fn start_on(config: GdcConfig, port: u16) -> io::Result<GdcServer> {
        let mut entries = Vec::new();
        for file in config.files {
            let size = std::fs::metadata(&file.path)?.len();
            let md5 = match &file.md5 {
                Some(m) => m.clone(),
                None => md5_file(&file.path)?,
            };
            entries.push(Entry { file, size, md5 });
        }
        entries.sort_by(|a, b| a.file.name.cmp(&b.file.name).then(a.file.id.cmp(&b.file.id)));
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let state = Arc::new(State {
            entries,
            token: config.token,
            faults: Mutex::new(config.faults),
            counters: Mutex::new(Counters::default()),
        });
        let served = state.clone();
        let acceptor = Acceptor::start(listener, "gdc", move |stream| serve(&served, stream))?;
        Ok(GdcServer { addr: acceptor.addr(), state, _acceptor: acceptor })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The files, sorted by name, as `(id, name, size, real or configured md5)`.
    pub fn files(&self) -> Vec<(String, String, u64, String)> {
        self.state.entries.iter().map(|e| (e.file.id.clone(), e.file.name.clone(), e.size, e.md5.clone())).collect()
    }

    /// A GDC manifest (`id filename md5 size state`, tab-separated, `\n` endings) of every file.
    pub fn manifest(&self) -> String {
        let mut s = String::from("id\tfilename\tmd5\tsize\tstate\n");
        for e in &self.state.entries {
            s.push_str(&format!("{}\t{}\t{}\t{}\t{}\n", e.file.id, e.file.name, e.md5, e.size, e.file.state));
        }
        s
    }

    /// Body bytes of `/data` responses written to sockets so far (all files).
    pub fn bytes_served(&self) -> u64 {
        self.state.counters.lock().expect("counters lock").bytes.values().sum()
    }

    /// Body bytes of `/data/{id}` responses written to sockets so far.
    pub fn bytes_served_for(&self, id: &str) -> u64 {
        self.state.counters.lock().expect("counters lock").bytes.get(id).copied().unwrap_or(0)
    }

    /// Every `/data` body sent so far, in order, as `(id, first byte, end exclusive)` of the
    /// file bytes actually written (a `200` covers `0..written`, a cut body ends early).
    pub fn ranges_served(&self) -> Vec<(String, u64, u64)> {
        self.state.counters.lock().expect("counters lock").ranges.clone()
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.counters.lock().expect("counters lock").requests.clone()
    }

    /// Replaces the faults in force (the 5xx counts start from the given values).
    pub fn set_faults(&self, faults: GdcFaults) {
        *self.state.faults.lock().expect("faults lock") = faults;
    }

    /// The faults in force now (the 5xx counts as they have run down).
    pub fn faults(&self) -> GdcFaults {
        self.state.faults.lock().expect("faults lock").clone()
    }

    /// Forgets the byte counters, the ranges served and the recorded requests.
    pub fn reset_counters(&self) {
        *self.state.counters.lock().expect("counters lock") = Counters::default();
    }
}

/// What a route answers.
enum Reply {
    /// A small response held in memory.
    Send(Response),
    /// A file body streamed from disk: the head (without `Content-Length`), the entry, the
    /// byte span `start..end` of the file.
    File { head: Response, id: String, path: PathBuf, start: u64, end: u64 },
}

/// Serves one connection, then shuts the socket down: the accept loop keeps a clone of every
/// stream (to cut them on drop), so merely dropping ours would not close the connection.
fn serve(state: &State, stream: TcpStream) {
    serve_requests(state, &stream);
    let _ = stream.shutdown(Shutdown::Both);
}

fn serve_requests(state: &State, stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let no_pace = Pace { bandwidth: None };
    loop {
        let req = match http::read_request(&mut reader) {
            Ok(r) => r,
            Err(http::ReadError::Closed) | Err(http::ReadError::Io(_)) => return,
            Err(http::ReadError::LengthRequired) => {
                let resp = message(411, "Content-Length required");
                let _ = http::write_response(&mut BufWriter::new(stream), &resp, false, true, no_pace);
                return;
            }
            Err(http::ReadError::Malformed(why)) => {
                let _ = http::write_response(&mut BufWriter::new(stream), &message(400, why), false, true, no_pace);
                return;
            }
        };
        state.counters.lock().expect("counters lock").requests.push(RecordedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
        });
        let head_only = req.method == "HEAD";
        match route(state, &req) {
            Reply::Send(resp) => {
                let mut w = BufWriter::new(stream);
                if http::write_response(&mut w, &resp, head_only, req.close, no_pace).is_err() || req.close {
                    return;
                }
            }
            Reply::File { head, id, path, start, end } => {
                let faults = state.faults.lock().expect("faults lock").clone();
                let len = end - start;
                let sent = {
                    let mut w = BufWriter::new(stream);
                    http::write_head(&mut w, &head, len as usize, req.close).and_then(|_| w.flush())
                };
                if sent.is_err() {
                    return;
                }
                if head_only {
                    if req.close {
                        return;
                    }
                    continue;
                }
                let limit = faults.cut_short_after.map_or(len, |n| n.min(len));
                // Count as the socket takes the bytes, so a test or benchmark sees a slow body
                // progress (and a killed client leaves exactly what was sent).
                let mut count = |n: u64| {
                    *state.counters.lock().expect("counters lock").bytes.entry(id.clone()).or_insert(0) += n;
                };
                let written = stream_file(stream, &path, start, limit, faults.bytes_per_sec, &mut count);
                state.counters.lock().expect("counters lock").ranges.push((id, start, start + written.0));
                if written.1.is_err() || limit < len {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
                if req.close {
                    return;
                }
            }
        }
    }
}

/// Writes `len` bytes of the file from `start` to the socket, throttled to `rate` bytes per
/// second if set, calling `count` with every number of bytes the socket accepts. Returns the
/// bytes the socket accepted, and whether all went well.
fn stream_file(
    mut sock: &TcpStream,
    path: &Path,
    start: u64,
    len: u64,
    rate: Option<u64>,
    count: &mut dyn FnMut(u64),
) -> (u64, io::Result<()>) {
    let mut written = 0u64;
    let result = (|| {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(start))?;
        let chunk = match rate {
            Some(r) if r > 0 => (r / 20).clamp(512, 64 * 1024),
            _ => 64 * 1024,
        } as usize;
        let mut buf = vec![0u8; chunk];
        let began = Instant::now();
        while written < len {
            let want = (len - written).min(chunk as u64) as usize;
            let n = f.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while serving"));
            }
            let mut part = &buf[..n];
            while !part.is_empty() {
                let k = sock.write(part)?;
                if k == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                written += k as u64;
                count(k as u64);
                part = &part[k..];
            }
            if let Some(r) = rate.filter(|r| *r > 0) {
                let due = Duration::from_secs_f64(written as f64 / r as f64);
                if let Some(wait) = due.checked_sub(began.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        sock.flush()
    })();
    (written, result)
}

fn message(status: u16, text: &str) -> Response {
    Response::json(status, &json!({ "message": text }))
}

fn route(state: &State, req: &Request) -> Reply {
    let path = req.path.trim_end_matches('/');
    match (req.method.as_str(), path) {
        ("GET", "/status") => Reply::Send(Response::json(
            200,
            &json!({"status": "OK", "version": 1, "data_release": "Data Release 99 (stand-in)"}),
        )),
        ("GET" | "POST", "/files") => {
            let fail = {
                let mut f = state.faults.lock().expect("faults lock");
                let fail = f.files_5xx > 0;
                f.files_5xx = f.files_5xx.saturating_sub(1);
                fail
            };
            if fail {
                return Reply::Send(message(503, "Service Unavailable (stand-in fault files_5xx)"));
            }
            let faults = state.faults.lock().expect("faults lock").clone();
            Reply::Send(match files(state, req, &faults) {
                Ok(v) => Response::json(200, &v),
                Err(why) => message(400, &why),
            })
        }
        ("GET" | "HEAD", p) if p.starts_with("/data/") => data(state, req, &p["/data/".len()..]),
        (_, "/status" | "/files") => Reply::Send(message(405, "Method Not Allowed")),
        (_, p) => Reply::Send(message(404, &format!("No route for {} {p}", req.method))),
    }
}

/// A compiled filter.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    In(Field, Vec<String>),
    Eq(Field, String),
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    FileName,
    FileId,
    State,
}

impl Field {
    fn parse(v: &Value) -> Result<Field, String> {
        let name = v.as_str().ok_or("filter field must be a string")?;
        Ok(match name.strip_prefix("files.").unwrap_or(name) {
            "file_name" => Field::FileName,
            "file_id" => Field::FileId,
            "state" => Field::State,
            other => return Err(format!("unsupported filter field: {other}")),
        })
    }

    fn of(self, e: &Entry) -> &str {
        match self {
            Field::FileName => &e.file.name,
            Field::FileId => &e.file.id,
            Field::State => &e.file.state,
        }
    }
}

fn scalar(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("filter value must be a string or number, not {v}")),
    }
}

impl Filter {
    fn parse(v: &Value) -> Result<Filter, String> {
        let obj = v.as_object().ok_or("a filter must be a JSON object")?;
        let op = obj.get("op").and_then(Value::as_str).ok_or("a filter needs a string \"op\"")?;
        let content = obj.get("content").ok_or("a filter needs \"content\"")?;
        match op.to_ascii_lowercase().as_str() {
            "and" | "or" => {
                let parts = content.as_array().ok_or(format!("\"{op}\" content must be a list"))?;
                let parts = parts.iter().map(Filter::parse).collect::<Result<Vec<_>, _>>()?;
                Ok(if op.eq_ignore_ascii_case("and") { Filter::And(parts) } else { Filter::Or(parts) })
            }
            "in" | "=" => {
                let field = Field::parse(content.get("field").ok_or("filter content needs \"field\"")?)?;
                let value = content.get("value").ok_or("filter content needs \"value\"")?;
                if op == "in" {
                    let values = match value {
                        Value::Array(a) => a.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
                        other => vec![scalar(other)?],
                    };
                    Ok(Filter::In(field, values))
                } else {
                    Ok(Filter::Eq(field, scalar(value)?))
                }
            }
            other => Err(format!("unsupported filter op: {other}")),
        }
    }

    fn matches(&self, e: &Entry) -> bool {
        match self {
            Filter::In(f, values) => values.iter().any(|v| v == f.of(e)),
            Filter::Eq(f, v) => v == f.of(e),
            Filter::And(parts) => parts.iter().all(|p| p.matches(e)),
            Filter::Or(parts) => parts.iter().any(|p| p.matches(e)),
        }
    }
}

/// A parameter given as a string or a number.
fn number(v: Option<&Value>, name: &str, default: u64) -> Result<u64, String> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n.as_u64().ok_or(format!("{name} must be a non-negative integer")),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| format!("{name} must be a non-negative integer: {s}")),
        Some(other) => Err(format!("{name} must be a number, not {other}")),
    }
}

const KNOWN_FIELDS: &[&str] = &["file_id", "file_name", "md5sum", "file_size", "state"];

/// `/files`: the parameters from the query (GET) or the JSON body (POST), the hits, the paging.
fn files(state: &State, req: &Request, faults: &GdcFaults) -> Result<Value, String> {
    let wrong_md5 = faults.wrong_md5;
    let echo = faults.echo_token.zip(req.header("x-auth-token").map(str::to_string));
    let params: serde_json::Map<String, Value> = if req.method == "POST" {
        let v: Value = serde_json::from_slice(&req.body).map_err(|e| format!("malformed JSON body: {e}"))?;
        match v {
            Value::Object(m) => m,
            _ => return Err("the body must be a JSON object".into()),
        }
    } else {
        req.query.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()
    };
    let filter = match params.get("filters") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => {
            let v: Value = serde_json::from_str(s).map_err(|e| format!("malformed filters JSON: {e}"))?;
            Some(Filter::parse(&v)?)
        }
        Some(v) => Some(Filter::parse(v)?),
    };
    let format = params.get("format").and_then(Value::as_str).unwrap_or("json");
    if !format.eq_ignore_ascii_case("json") {
        return Err(format!("the stand-in answers format=json only, not {format}"));
    }
    let fields: Vec<String> = match params.get("fields") {
        None | Some(Value::Null) => KNOWN_FIELDS.iter().map(|s| s.to_string()).collect(),
        Some(Value::String(s)) => s.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect(),
        Some(other) => return Err(format!("fields must be a comma-separated string, not {other}")),
    };
    let size = number(params.get("size"), "size", 10)?;
    let from = number(params.get("from"), "from", 0)?;
    let matching: Vec<&Entry> = state.entries.iter().filter(|e| filter.as_ref().is_none_or(|f| f.matches(e))).collect();
    let total = matching.len() as u64;
    let mut hits: Vec<Value> = matching
        .iter()
        .skip(from.min(total) as usize)
        .take(size.min(total) as usize)
        .map(|e| {
            let mut hit = serde_json::Map::new();
            hit.insert("id".into(), json!(e.file.id));
            for f in &fields {
                let v = match f.as_str() {
                    "file_id" => json!(e.file.id),
                    "file_name" => json!(e.file.name),
                    "md5sum" if wrong_md5 => json!(flip_hex(&e.md5)),
                    "md5sum" => match &echo {
                        Some((TokenEcho::Md5, token)) => json!(token),
                        _ => json!(e.md5),
                    },
                    "file_size" => match &echo {
                        Some((TokenEcho::FileSize, token)) => json!(token),
                        _ => json!(e.size),
                    },
                    "state" => json!(e.file.state),
                    _ => continue,
                };
                hit.insert(f.clone(), v);
            }
            Value::Object(hit)
        })
        .collect();
    if let Some((TokenEcho::HitName, token)) = &echo {
        hits.push(json!({"id": uuid_for(token), "file_id": uuid_for(token), "file_name": token,
            "md5sum": "0".repeat(32), "file_size": 1, "state": "released"}));
    }
    if faults.extra_hits > 0 {
        let name = matching.first().map_or("extra.svs", |e| e.file.name.as_str());
        for i in 0..faults.extra_hits {
            let id = uuid_for(&format!("extra-{i}"));
            hits.push(json!({"id": id, "file_id": id, "file_name": name, "md5sum": "0".repeat(32),
                "file_size": 1, "state": "released"}));
        }
    }
    let (page, pages) = match from.checked_div(size) {
        Some(p) => (p + 1, total.div_ceil(size)),
        None => (1, 0),
    };
    Ok(json!({
        "data": {
            "hits": hits,
            "pagination": {
                "count": hits.len(), "total": total, "size": size, "from": from,
                "sort": "", "page": page, "pages": pages,
            },
        },
        "warnings": {},
    }))
}

/// Every hex digit replaced by its complement (`0` <-> `f`), so the result is a valid-looking
/// MD5 that never equals the input.
fn flip_hex(s: &str) -> String {
    s.chars().map(|c| c.to_digit(16).and_then(|d| char::from_digit(15 - d, 16)).unwrap_or(c)).collect()
}

/// A byte range request, resolved against a file size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// No `Range` header.
    Whole,
    /// `start..end` (end exclusive), satisfiable.
    Part(u64, u64),
    /// Malformed, multi-range or unsatisfiable.
    Unsatisfiable,
}

/// Resolves a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`) against `size`.
fn parse_range(header: Option<&str>, size: u64) -> Range {
    let Some(h) = header else { return Range::Whole };
    let Some(spec) = h.trim().strip_prefix("bytes=") else { return Range::Unsatisfiable };
    if spec.contains(',') {
        return Range::Unsatisfiable;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Range::Unsatisfiable };
    let num = |s: &str| if s.is_empty() { Ok(None) } else { s.parse::<u64>().map(Some) };
    let (Ok(a), Ok(b)) = (num(a.trim()), num(b.trim())) else { return Range::Unsatisfiable };
    if size == 0 {
        return Range::Unsatisfiable;
    }
    match (a, b) {
        (Some(a), _) if a >= size => Range::Unsatisfiable,
        (Some(a), Some(b)) if b < a => Range::Unsatisfiable,
        (Some(a), Some(b)) => Range::Part(a, b.min(size - 1) + 1),
        (Some(a), None) => Range::Part(a, size),
        (None, Some(0)) | (None, None) => Range::Unsatisfiable,
        (None, Some(n)) => Range::Part(size - n.min(size), size),
    }
}

/// `GET`/`HEAD /data/{id}`.
fn data(state: &State, req: &Request, id: &str) -> Reply {
    let fail = {
        let mut f = state.faults.lock().expect("faults lock");
        let fail = f.status_5xx > 0;
        f.status_5xx = f.status_5xx.saturating_sub(1);
        fail
    };
    if fail {
        return Reply::Send(message(503, "Service Unavailable (stand-in fault status_5xx)"));
    }
    if let Some(token) = &state.token {
        if req.header("x-auth-token") != Some(token.as_str()) {
            return Reply::Send(message(403, "You do not have access to the requested file(s)"));
        }
    }
    if id.contains(',') {
        return Reply::Send(message(400, "the stand-in serves one file per request (no tar.gz archives)"));
    }
    let Some(e) = state.entries.iter().find(|e| e.file.id == id) else {
        return Reply::Send(message(404, &format!("File {id} not found")));
    };
    let (ignore_range, echo) = {
        let f = state.faults.lock().expect("faults lock");
        (f.ignore_range, f.echo_token.zip(req.header("x-auth-token").map(str::to_string)))
    };
    if let Some((TokenEcho::Message, token)) = &echo {
        return Reply::Send(message(403, &format!("token {token} has expired")));
    }
    let range = if ignore_range { Range::Whole } else { parse_range(req.header("range"), e.size) };
    let head = |status: u16| {
        Response::new(status, "application/octet-stream", Vec::new())
            .with_header("Content-Disposition", format!("attachment; filename={}", e.file.name))
            .with_header("Accept-Ranges", "bytes")
    };
    let file = |head: Response, start: u64, end: u64| Reply::File {
        head,
        id: e.file.id.clone(),
        path: e.file.path.clone(),
        start,
        end,
    };
    match range {
        Range::Whole => file(head(200), 0, e.size),
        Range::Part(a, b) => {
            let total = match &echo {
                Some((TokenEcho::ContentRange, token)) => token.clone(),
                _ => e.size.to_string(),
            };
            file(head(206).with_header("Content-Range", format!("bytes {}-{}/{total}", a, b - 1)), a, b)
        }
        Range::Unsatisfiable => Reply::Send(
            message(416, &format!("Requested range not satisfiable (file size {})", e.size))
                .with_header("Content-Range", format!("bytes */{}", e.size)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    #[test]
    fn ranges_resolve() {
        let r = |h: &str| parse_range(Some(h), 100);
        assert_eq!(parse_range(None, 100), Range::Whole);
        assert_eq!(r("bytes=0-9"), Range::Part(0, 10));
        assert_eq!(r("bytes=90-200"), Range::Part(90, 100));
        assert_eq!(r("bytes=95-"), Range::Part(95, 100));
        assert_eq!(r("bytes=-10"), Range::Part(90, 100));
        assert_eq!(r("bytes=-1000"), Range::Part(0, 100));
        for bad in ["bytes=100-", "bytes=5-4", "bytes=-0", "bytes=-", "bytes=a-b", "items=0-1", "bytes=0-1,5-6"] {
            assert_eq!(r(bad), Range::Unsatisfiable, "{bad}");
        }
        assert_eq!(parse_range(Some("bytes=-5"), 0), Range::Unsatisfiable);
    }

    #[test]
    fn filters_compile_or_refuse() {
        let f = |s: &str| Filter::parse(&serde_json::from_str(s).unwrap());
        assert_eq!(
            f(r#"{"op":"in","content":{"field":"files.file_name","value":["a","b"]}}"#),
            Ok(Filter::In(Field::FileName, vec!["a".into(), "b".into()]))
        );
        assert!(f(r#"{"op":"and","content":[{"op":"=","content":{"field":"state","value":"released"}}]}"#).is_ok());
        assert!(f(r#"{"op":"<","content":{"field":"file_size","value":1}}"#).is_err());
        assert!(f(r#"{"op":"=","content":{"field":"cases.submitter_id","value":"x"}}"#).is_err());
        assert!(f(r#"{"op":"and","content":{"field":"file_name"}}"#).is_err());
        assert!(f(r#"["in"]"#).is_err());
    }

    #[test]
    fn ids_and_md5() {
        assert_eq!(bcss_model::hex(&Md5::digest(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        let id = uuid_for("A.svs");
        assert_eq!((id.len(), id.matches('-').count()), (36, 4));
        assert_eq!(flip_hex("0af"), "f50");
    }

    /// Status, headers (lower-case names), body.
    type Answer = (u16, Vec<(String, String)>, Vec<u8>);

    fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
        a.1.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// One request with `Connection: close`; the body is whatever arrives before the server
    /// closes (so a cut body shows as short).
    fn ask(s: &GdcServer, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut c = TcpStream::connect(s.addr).unwrap();
        let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        if method == "POST" {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        raw.push_str(body);
        c.write_all(raw.as_bytes()).unwrap();
        let mut r = BufReader::new(c);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
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
        let mut body = Vec::new();
        let _ = r.read_to_end(&mut body);
        (status, headers, body)
    }

    fn json_of(a: &Answer) -> Value {
        serde_json::from_slice(&a.2).unwrap()
    }

    /// Five files `S0.svs`..`S4.svs` given in reverse order; file i holds 1000 + i bytes of a
    /// known pattern.
    fn five(dir: &Path, token: Option<&str>) -> GdcServer {
        let files = (0..5)
            .rev()
            .map(|i| {
                let p = dir.join(format!("S{i}.svs"));
                std::fs::write(&p, content(1000 + i)).unwrap();
                GdcFile::from_path(&p)
            })
            .collect();
        GdcServer::start(GdcConfig { files, token: token.map(str::to_string), faults: GdcFaults::default() })
    }

    fn content(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn id(s: &GdcServer, name: &str) -> String {
        s.files().into_iter().find(|f| f.1 == name).unwrap().0
    }

    #[test]
    fn status_and_files_search_with_paging() {
        let dir = tempfile::tempdir().unwrap();
        let s = five(dir.path(), None);
        assert!(s.url().starts_with("http://127.0.0.1:") && !s.url().ends_with('/'));
        let st = ask(&s, "GET", "/status", &[], "");
        assert_eq!((st.0, json_of(&st)["status"].as_str()), (200, Some("OK")));

        // POST, size and from as strings, paging over 5 files by 2.
        let mut names = Vec::new();
        for (page, from) in [0u64, 2, 4].into_iter().enumerate() {
            let body = format!(
                r#"{{"filters":{{"op":"=","content":{{"field":"state","value":"released"}}}},"fields":"file_name,md5sum,file_size","format":"json","size":"2","from":"{from}"}}"#
            );
            let a = ask(&s, "POST", "/files", &[("Content-Type", "application/json")], &body);
            assert_eq!(a.0, 200);
            let v = json_of(&a);
            let p = &v["data"]["pagination"];
            let count = if from == 4 { 1 } else { 2 };
            assert_eq!(
                (p["count"].as_u64(), p["total"].as_u64(), p["size"].as_u64(), p["from"].as_u64()),
                (Some(count), Some(5), Some(2), Some(from))
            );
            assert_eq!((p["page"].as_u64(), p["pages"].as_u64()), (Some(page as u64 + 1), Some(3)));
            assert_eq!(v["warnings"], json!({}));
            for hit in v["data"]["hits"].as_array().unwrap() {
                let keys: Vec<&str> = hit.as_object().unwrap().keys().map(String::as_str).collect();
                assert_eq!(keys.len(), 4, "{hit}");
                let name = hit["file_name"].as_str().unwrap().to_string();
                let i: usize = name[1..2].parse().unwrap();
                assert_eq!(hit["file_size"].as_u64(), Some(1000 + i as u64));
                assert_eq!(hit["md5sum"].as_str().unwrap(), bcss_model::hex(&Md5::digest(content(1000 + i))));
                assert_eq!(hit["id"].as_str().unwrap(), uuid_for(&name));
                names.push(name);
            }
        }
        assert_eq!(names, ["S0.svs", "S1.svs", "S2.svs", "S3.svs", "S4.svs"], "sorted by file_name");

        // GET with url-encoded filters, numbers, an `or` of `in` and `=`.
        let filter = r#"{"op":"or","content":[{"op":"in","content":{"field":"file_name","value":["S3.svs","S1.svs","nope.svs"]}},{"op":"=","content":{"field":"file_id","value":"ID"}}]}"#
            .replace("ID", &id(&s, "S4.svs"));
        let enc: String = filter.bytes().map(|b| format!("%{b:02X}")).collect();
        let a = ask(&s, "GET", &format!("/files?filters={enc}&fields=file_name&format=json&size=10"), &[], "");
        let v = json_of(&a);
        let got: Vec<&str> =
            v["data"]["hits"].as_array().unwrap().iter().map(|h| h["file_name"].as_str().unwrap()).collect();
        assert_eq!(got, ["S1.svs", "S3.svs", "S4.svs"]);
        assert_eq!(v["data"]["hits"][0].as_object().unwrap().len(), 2, "file_name plus id");
        let v = json_of(&ask(&s, "GET", "/files", &[], ""));
        assert_eq!(v["data"]["pagination"]["size"].as_u64(), Some(10), "default size");
        assert_eq!(v["data"]["hits"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn bad_filters_are_400() {
        let dir = tempfile::tempdir().unwrap();
        let s = five(dir.path(), None);
        for body in [
            "{not json",
            r#"{"filters":{"op":"like","content":{"field":"file_name","value":"S"}}}"#,
            r#"{"filters":{"op":"in","content":{"field":"cases.submitter_id","value":["x"]}}}"#,
            r#"{"filters":{"op":"in"}}"#,
            r#"{"size":"ten"}"#,
        ] {
            let a = ask(&s, "POST", "/files", &[], body);
            assert_eq!(a.0, 400, "{body}");
            assert!(json_of(&a)["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let a = ask(&s, "GET", "/files?filters=%7Bbad", &[], "");
        assert_eq!(a.0, 400);
    }

    #[test]
    fn data_whole_ranges_and_416() {
        let dir = tempfile::tempdir().unwrap();
        let s = five(dir.path(), None);
        let id = id(&s, "S2.svs");
        let full = content(1002);
        let whole = ask(&s, "GET", &format!("/data/{id}"), &[], "");
        assert_eq!((whole.0, &whole.2), (200, &full));
        assert_eq!(header(&whole, "content-length"), Some("1002"));
        assert_eq!(header(&whole, "content-type"), Some("application/octet-stream"));
        assert_eq!(header(&whole, "content-disposition"), Some("attachment; filename=S2.svs"));
        assert_eq!(header(&whole, "accept-ranges"), Some("bytes"));
        let head = ask(&s, "HEAD", &format!("/data/{id}"), &[], "");
        assert_eq!((head.0, header(&head, "content-length"), head.2.len()), (200, Some("1002"), 0));

        for (range, start, end) in [
            ("bytes=10-19", 10, 20),
            ("bytes=1000-5000", 1000, 1002),
            ("bytes=990-", 990, 1002),
            ("bytes=-5", 997, 1002),
        ] {
            let a = ask(&s, "GET", &format!("/data/{id}"), &[("Range", range)], "");
            assert_eq!(a.0, 206, "{range}");
            assert_eq!(header(&a, "content-range"), Some(format!("bytes {start}-{}/1002", end - 1).as_str()));
            assert_eq!(a.2, &full[start..end], "{range}");
        }
        for range in ["bytes=1002-", "bytes=5-2", "bytes=0-1,5-6", "pages=1"] {
            let a = ask(&s, "GET", &format!("/data/{id}"), &[("Range", range)], "");
            assert_eq!((a.0, header(&a, "content-range")), (416, Some("bytes */1002")), "{range}");
        }
        let a = ask(&s, "GET", "/data/00000000-0000-0000-0000-000000000000", &[], "");
        assert_eq!(a.0, 404);
        assert!(json_of(&a)["message"].is_string());

        // Counters: the whole file, then 10 + 2 + 12 + 5 bytes of ranges; HEAD and 416 count nothing.
        assert_eq!(s.bytes_served_for(&id), 1002 + 10 + 2 + 12 + 5);
        assert_eq!(s.bytes_served(), s.bytes_served_for(&id));
        let ranges = s.ranges_served();
        assert_eq!(ranges[0], (id.clone(), 0, 1002));
        assert_eq!(ranges[1], (id.clone(), 10, 20));
        assert_eq!(ranges.len(), 5);
        assert!(s.requests().iter().any(|r| r.header("range") == Some("bytes=-5")));
        s.reset_counters();
        assert_eq!((s.bytes_served(), s.ranges_served().len(), s.requests().len()), (0, 0, 0));
    }

    #[test]
    fn keep_alive_between_data_requests() {
        let dir = tempfile::tempdir().unwrap();
        let s = five(dir.path(), None);
        let id = id(&s, "S0.svs");
        let mut c = TcpStream::connect(s.addr).unwrap();
        let one = format!("GET /data/{id} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\n\r\n");
        c.write_all(format!("{one}{one}").as_bytes()).unwrap();
        let mut r = BufReader::new(c);
        for _ in 0..2 {
            let mut head = String::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            assert!(head.starts_with("HTTP/1.1 206") && head.contains("Content-Length: 4\r\n"), "{head}");
            let mut body = [0u8; 4];
            r.read_exact(&mut body).unwrap();
            assert_eq!(&body[..], &content(4)[..]);
        }
    }

    #[test]
    fn token_is_required_for_data_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = five(dir.path(), Some("SECRET"));
        let id = id(&s, "S1.svs");
        let path = format!("/data/{id}");
        assert_eq!(ask(&s, "GET", "/files", &[], "").0, 200);
        assert_eq!(ask(&s, "GET", "/status", &[], "").0, 200);
        let a = ask(&s, "GET", &path, &[], "");
        assert_eq!(a.0, 403);
        assert!(json_of(&a)["message"].is_string());
        assert_eq!(ask(&s, "GET", &path, &[("X-Auth-Token", "WRONG")], "").0, 403);
        let a = ask(&s, "GET", &path, &[("X-Auth-Token", "SECRET")], "");
        assert_eq!((a.0, a.2.len()), (200, 1001));
        assert_eq!(s.bytes_served(), 1001);
    }

    #[test]
    fn faults_each_do_what_they_say() {
        let dir = tempfile::tempdir().unwrap();
        let s = five(dir.path(), None);
        let id = id(&s, "S3.svs");
        let path = format!("/data/{id}");
        let full = content(1003);

        s.set_faults(GdcFaults { ignore_range: true, ..Default::default() });
        let a = ask(&s, "GET", &path, &[("Range", "bytes=0-9")], "");
        assert_eq!((a.0, header(&a, "content-range"), a.2.len()), (200, None, 1003));

        s.set_faults(GdcFaults { cut_short_after: Some(100), ..Default::default() });
        s.reset_counters();
        let a = ask(&s, "GET", &path, &[], "");
        assert_eq!((a.0, header(&a, "content-length"), a.2.len()), (200, Some("1003"), 100));
        assert_eq!(a.2, &full[..100]);
        let a = ask(&s, "GET", &path, &[("Range", "bytes=500-899")], "");
        assert_eq!((a.0, header(&a, "content-length"), &a.2[..]), (206, Some("400"), &full[500..600]));
        assert_eq!(s.bytes_served(), 200, "a cut body counts what was sent");
        assert_eq!(s.ranges_served(), vec![(id.clone(), 0, 100), (id.clone(), 500, 600)]);

        s.set_faults(GdcFaults { wrong_md5: true, ..Default::default() });
        let v = json_of(&ask(&s, "GET", "/files?fields=md5sum&size=5", &[], ""));
        let real = bcss_model::hex(&Md5::digest(&full));
        let reported: Vec<&str> =
            v["data"]["hits"].as_array().unwrap().iter().map(|h| h["md5sum"].as_str().unwrap()).collect();
        assert_eq!(reported.len(), 5);
        assert!(!reported.contains(&real.as_str()) && reported.iter().all(|m| m.len() == 32));

        s.set_faults(GdcFaults { status_5xx: 2, ..Default::default() });
        let codes: Vec<u16> = (0..3).map(|_| ask(&s, "GET", &path, &[], "").0).collect();
        assert_eq!(codes, [503, 503, 200]);
        assert_eq!(ask(&s, "GET", "/files", &[], "").0, 200, "status_5xx is for /data only");
        assert_eq!(s.faults().status_5xx, 0);

        s.set_faults(GdcFaults { files_5xx: 1, ..Default::default() });
        let a = ask(&s, "POST", "/files", &[], "{}");
        assert_eq!(a.0, 503);
        assert!(json_of(&a)["message"].is_string());
        assert_eq!(ask(&s, "POST", "/files", &[], "{}").0, 200);

        let tok = [("X-Auth-Token", "TOK-echo-1")];
        s.set_faults(GdcFaults { echo_token: Some(TokenEcho::ContentRange), ..Default::default() });
        let a = ask(&s, "GET", &path, &[tok[0], ("Range", "bytes=0-9")], "");
        assert_eq!(header(&a, "content-range"), Some("bytes 0-9/TOK-echo-1"));
        let a = ask(&s, "GET", &path, &[("Range", "bytes=0-9")], "");
        assert_eq!(header(&a, "content-range"), Some("bytes 0-9/1003"), "nothing to echo without a token");
        s.set_faults(GdcFaults { echo_token: Some(TokenEcho::Message), ..Default::default() });
        let a = ask(&s, "GET", &path, &tok, "");
        assert_eq!(a.0, 403);
        assert!(json_of(&a)["message"].as_str().unwrap().contains("TOK-echo-1"));
        for (echo, key) in [(TokenEcho::FileSize, "file_size"), (TokenEcho::Md5, "md5sum")] {
            s.set_faults(GdcFaults { echo_token: Some(echo), ..Default::default() });
            let v = json_of(&ask(&s, "GET", "/files?size=1", &tok, ""));
            assert_eq!(v["data"]["hits"][0][key], "TOK-echo-1", "{echo:?}");
        }
        s.set_faults(GdcFaults { echo_token: Some(TokenEcho::HitName), ..Default::default() });
        let v = json_of(&ask(&s, "GET", "/files?size=1", &tok, ""));
        assert_eq!(v["data"]["hits"][1]["file_name"], "TOK-echo-1");
        s.set_faults(GdcFaults { extra_hits: 7, ..Default::default() });
        let v = json_of(&ask(&s, "GET", "/files?size=2", &[], ""));
        let hits = v["data"]["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 9);
        assert!(hits[2..].iter().all(|h| h["file_name"] == hits[0]["file_name"] && h["id"] != hits[0]["id"]));

        s.set_faults(GdcFaults { bytes_per_sec: Some(4000), ..Default::default() });
        s.reset_counters();
        let t = Instant::now();
        let a = std::thread::scope(|scope| {
            let body = scope.spawn(|| ask(&s, "GET", &path, &[], ""));
            std::thread::sleep(Duration::from_millis(100));
            let mid = s.bytes_served();
            assert!(mid > 0 && mid < 1003, "counted while sending: {mid}");
            body.join().unwrap()
        });
        let took = t.elapsed();
        assert_eq!(s.bytes_served(), 1003);
        assert_eq!(a.2, full);
        assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(3), "{took:?}");
        s.set_faults(GdcFaults::default());
        let t = Instant::now();
        assert_eq!(ask(&s, "GET", &path, &[], "").2.len(), 1003);
        assert!(t.elapsed() < Duration::from_millis(200));
    }
}
