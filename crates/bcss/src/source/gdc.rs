//! A client for the NCI Genomic Data Commons (GDC) API, where the TCGA slides of BCSS live.
//!
//! Covers what fetching BCSS's slides needs: a reachability probe (`GET /status`), finding files
//! by name (`POST /files`, paged), reading a byte range of a file (`GET /data/{id}` with
//! `Range`), downloading a whole file with resume and an MD5 check, and the manifest format of
//! the GDC Data Transfer Tool.
//!
//! A token (controlled access only; TCGA diagnostic slides are open) travels in the
//! `X-Auth-Token` header only, is never formatted, and is dropped by [`Http`] on a redirect to
//! another origin.
//!
//! **A server that ignores `Range`.** [`Gdc::read_range`] fails with
//! [`GdcError::RangeIgnored`] when a ranged request is answered `200` with the whole file: it
//! never takes that body for the range, and it does not stream through it either, because a
//! sparse copy asks for hundreds of ranges and each would cost up to the whole slide. The caller
//! can fall back to [`Gdc::download`], where a `200` to a resume simply restarts the file.
//!
//! **Server text and sizes.** Everything the server says that reaches an error, a log line or
//! the manifest (an error's `message`, a `Content-Range`, a field serde did not expect, a hit's
//! name or checksum) goes through the client's scrubber ([`Http::scrub`]); a hit echoing a secret in any field is
//! refused. A `/files` answer may be at most 8 MiB and a page at most the 100 hits asked for;
//! de-duplication is linear. A manifest ([`parse_manifest`]) lists each file id and name once.
//!
//! Invariant: [`Gdc::download`] writes only `<dest>.part`, opened through
//! [`crate::files::open_write`] (never a planted link, FIFO or file with a second name), and
//! renames it to `dest` after its size and MD5 matched (and only while the name still leads to
//! the file written); a file that fails the check is deleted and never appears under its name.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use super::http::{
    endpoint, is_transient_status, json_message, Body, Failure, Head, Http, HttpError, Request, Retry, RetryError,
    Secret, Secrets, TransportError, TransportKind,
};
use crate::files::{self, WriteMode};

pub use super::DEFAULT_GDC_URL;

/// Names per `/files` request (the filter's `in` list).
const NAMES_PER_REQUEST: usize = 100;
/// Hits per page of `/files`.
const PAGE_SIZE: u64 = 100;
/// A name search never needs more pages than this; a server that keeps paging is refused.
const MAX_PAGES: u64 = 100;
/// The largest JSON answer accepted from `/status` or `/files`: a page of 100 hits of five
/// fields is about 25 KB.
const MAX_JSON_BODY: u64 = 8 << 20;
/// Bytes per read while streaming a download.
const CHUNK: usize = 1 << 20;
/// Resumes of one download, in all (the retry count restarts after an attempt that made progress).
const MAX_RESUMES: u32 = 200;
/// What an attempt of a download must keep to count as progress: 1 MiB.
const MIN_PROGRESS: u64 = 1 << 20;

/// A file of the GDC, as `/files` describes it and as a manifest row lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdcFile {
    /// `file_id` (a UUID).
    pub id: String,
    /// `file_name`.
    pub name: String,
    /// `md5sum`, lower-case hex.
    pub md5: String,
    /// `file_size` in bytes.
    pub size: u64,
    /// `state` (`released`), empty when a manifest has no state column.
    pub state: String,
}

/// What a name search found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindResult {
    /// Names with exactly one file.
    pub found: BTreeMap<String, GdcFile>,
    /// Names with no file, in the order asked.
    pub missing: Vec<String>,
    /// Names with several files (distinct ids), sorted by name; none of them is in `found`.
    pub duplicated: Vec<(String, Vec<GdcFile>)>,
}

/// How a download went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadOutcome {
    /// Bytes received from the server this time (restarts and retries included).
    pub bytes_fetched: u64,
    /// Length of the `.part` file kept from an earlier run (0 = a fresh start).
    pub resumed_from: u64,
}

/// A GDC request or download that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GdcError {
    /// The server could not be reached (connection, TLS, timeout), after retries.
    #[error("cannot reach the GDC API")]
    Unreachable {
        /// What happened on the wire (URL, retries, time).
        #[source]
        source: HttpError,
    },
    /// The server kept answering a transient error status (503, ...) until retries ran out.
    #[error("the GDC API kept failing")]
    KeptFailing {
        /// The last status, URL, retries, time.
        #[source]
        source: HttpError,
    },
    /// The server answered an error status.
    #[error("the GDC API answered HTTP {status}{} ({url})", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        /// HTTP status.
        status: u16,
        /// The API's `message`, if the body had one.
        message: Option<String>,
        /// The URL.
        url: String,
    },
    /// The answer was not what the API returns.
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// A ranged read got a `200` with the whole file instead of `206` with the range.
    #[error("the server ignored the byte range asked for `{file}` and sent the whole file ({url}); download the whole slide instead")]
    RangeIgnored {
        /// The file name.
        file: String,
        /// The URL.
        url: String,
    },
    /// A byte range outside the file was asked for.
    #[error("byte range {start}..{end} is outside `{file}` ({size} bytes)")]
    BadRange {
        /// The file name.
        file: String,
        /// First byte.
        start: u64,
        /// End (exclusive).
        end: u64,
        /// File size.
        size: u64,
    },
    /// A downloaded file does not match the size or MD5 the GDC lists; it was deleted.
    #[error("download of `{file}` does not match the GDC's record (size {size} of {expected_size}, md5 {md5} instead of {expected_md5}); deleted `{path}`")]
    Integrity {
        /// The file name.
        file: String,
        /// The `.part` file that was deleted.
        path: PathBuf,
        /// Bytes received.
        size: u64,
        /// The size the GDC lists.
        expected_size: u64,
        /// MD5 of what was received.
        md5: String,
        /// The MD5 the GDC lists.
        expected_md5: String,
    },
    /// A local file could not be read or written.
    #[error(transparent)]
    Io(#[from] files::FileError),
}

impl GdcError {
    fn from_http(source: HttpError) -> GdcError {
        match source.failure {
            Failure::Status(..) | Failure::TooLarge { .. } => GdcError::KeptFailing { source },
            _ => GdcError::Unreachable { source },
        }
    }

    pub(crate) fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> GdcError + 'a {
        move |source| GdcError::Io(files::FileError::of(action, path)(source))
    }

    /// [`GdcError::io`] as a stop of the retry loop.
    fn stop<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Retry<GdcError> + 'a {
        move |source| Retry::Stop(GdcError::io(action, path)(source))
    }

    fn from_retry(e: RetryError<GdcError>) -> GdcError {
        e.into_error(GdcError::from_http)
    }
}

/// A GDC API client.
#[derive(Debug)]
pub struct Gdc {
    http: Http,
    base: String,
    token: Option<Secret>,
}

/// `Content-Range: bytes a-b/total` as `(a, b + 1, total)`; `None` when malformed or `*`.
fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    let (a, b, total): (u64, u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?, total.trim().parse().ok()?);
    (a <= b && b < total).then_some((a, b + 1, total))
}

/// The `.part` file a download of `dest` writes: `dest` with `.part` appended to its name.
pub(crate) fn part_path(dest: &Path) -> PathBuf {
    let ext = dest.extension().map(|e| format!("{}.part", e.to_string_lossy())).unwrap_or_else(|| "part".into());
    dest.with_extension(ext)
}

impl Gdc {
    /// An error status of a request: a failure to retry (with the server's `Retry-After`) when
    /// the status is transient, else the error naming it; the API's message read from at most
    /// [`MAX_ERROR_BODY`](super::http::MAX_ERROR_BODY) bytes of the body.
    fn error_status(&self, head: &Head, body: Body, req: &Request) -> Retry<GdcError> {
        let message = json_message(&body.read_message(), self.http.secrets());
        if is_transient_status(head.status) {
            Retry::Failed(Failure::Status(head.status, message), head.retry_after())
        } else {
            Retry::Stop(GdcError::Status { status: head.status, message, url: req.shown_url() })
        }
    }

    /// A client of the API at `base_url` (e.g. [`DEFAULT_GDC_URL`]), with a token for
    /// controlled-access files. Makes no request.
    pub fn new(http: Http, base_url: &str, token: Option<Secret>) -> Gdc {
        if let Some(t) = &token {
            http.secrets().add(t.expose());
        }
        Gdc { http, base: base_url.trim_end_matches('/').to_string(), token }
    }

    /// The API base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, mut req: Request) -> Request {
        if let Some(t) = &self.token {
            req = req.header("X-Auth-Token", t.expose());
        }
        req
    }

    /// The HTTP client (its scrubber hides the token).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The endpoint `segments` of the API, each percent-encoded as one path segment; a base
    /// that is not a URL is left for the request to fail on.
    fn url(&self, segments: &[&str]) -> String {
        endpoint(&self.base, segments).unwrap_or_else(|| format!("{}/{}", self.base, segments.join("/")))
    }

    fn data_url(&self, file: &GdcFile) -> String {
        self.url(&["data", &file.id])
    }

    /// Sends a JSON request (`Accept: application/json`, at most [`MAX_JSON_BODY`]) and returns
    /// the successful response; an error status is [`GdcError::Status`] with the API's message.
    fn json(&self, req: &Request) -> Result<super::http::Response, GdcError> {
        let req = req.clone().header("Accept", "application/json").max_body(MAX_JSON_BODY);
        let resp = self.http.request(&req, &|_| {}).map_err(GdcError::from_http)?;
        if !resp.is_success() {
            return Err(GdcError::Status {
                status: resp.status,
                message: json_message(&resp.body, self.http.secrets()),
                url: req.shown_url(),
            });
        }
        Ok(resp)
    }

    /// Finds files by `file_name` (`POST /files`, 100 names per request, paged). Every name
    /// asked for ends up in exactly one of `found`, `missing` or `duplicated`. Linear in the
    /// hits (sets, not scans), and a page may hold at most the 100 hits asked for.
    pub fn find_by_names(&self, names: &[String]) -> Result<FindResult, GdcError> {
        let mut unique = BTreeSet::new();
        let asked: Vec<&String> = names.iter().filter(|n| unique.insert(n.as_str())).collect();
        let mut hits: BTreeMap<String, Vec<GdcFile>> = BTreeMap::new();
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        for chunk in asked.chunks(NAMES_PER_REQUEST) {
            for file in self.search_names(chunk)? {
                if seen.insert((file.name.clone(), file.id.clone())) {
                    hits.entry(file.name.clone()).or_default().push(file);
                }
            }
        }
        let mut result = FindResult::default();
        for name in asked {
            match hits.remove(name.as_str()) {
                None => result.missing.push(name.clone()),
                Some(mut files) if files.len() == 1 => {
                    result.found.insert(name.clone(), files.remove(0));
                }
                Some(mut files) => {
                    files.sort_by(|a, b| a.id.cmp(&b.id));
                    result.duplicated.push((name.clone(), files));
                }
            }
        }
        result.duplicated.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(result)
    }

    /// All hits for one chunk of names, page by page; a hit for a name not asked for is
    /// ignored (with a warning) before anything else in it is looked at.
    fn search_names(&self, names: &[&String]) -> Result<Vec<GdcFile>, GdcError> {
        let asked: BTreeSet<&str> = names.iter().map(|n| n.as_str()).collect();
        let url = self.url(&["files"]);
        let mut files = Vec::new();
        let mut from = 0u64;
        for _ in 0..MAX_PAGES {
            let body = serde_json::json!({
                "filters": {"op": "in", "content": {"field": "file_name", "value": names}},
                "fields": "file_id,file_name,md5sum,file_size,state",
                "format": "json",
                "size": PAGE_SIZE.to_string(),
                "from": from.to_string(),
            });
            let req = self.request(Request::post(&url).json_body(&body));
            let resp = self.json(&req)?;
            let unexpected = |reason: String| GdcError::Unexpected { url: req.shown_url(), reason };
            // serde's message quotes the value it did not expect: the server's text, scrubbed.
            let page: FilesReply = serde_json::from_slice(&resp.body).map_err(|e| {
                unexpected(format!("the body is not the `/files` JSON expected ({})", self.http.scrub(&e.to_string())))
            })?;
            let n = page.data.hits.len() as u64;
            if n > PAGE_SIZE {
                return Err(unexpected(format!("{n} hits in one page, over the {PAGE_SIZE} asked for")));
            }
            for hit in page.data.hits {
                if !hit.file_name.as_deref().is_some_and(|n| asked.contains(n)) {
                    let name = hit.file_name.as_deref().map(|n| self.http.scrub(n)).unwrap_or_default();
                    tracing::warn!(%name, "the GDC returned a file that was not asked for; ignored");
                    continue;
                }
                files.push(hit.into_file(self.http.secrets()).map_err(&unexpected)?);
            }
            let p = page.data.pagination;
            // The names asked for can match at most a few files each.
            if p.total > MAX_PAGES * PAGE_SIZE {
                return Err(unexpected(format!("{} files for {} names", p.total, names.len())));
            }
            if n == 0 {
                break;
            }
            from += n;
            if from >= p.total {
                break;
            }
        }
        Ok(files)
    }

    /// Reads bytes `range` of `file` (`GET /data/{id}` with `Range: bytes=a-(b-1)`). Requires
    /// `206` with a `Content-Range` matching the range and the file's size, and a body of
    /// exactly the range's length, read in bounded memory. A `200` is
    /// [`GdcError::RangeIgnored`] (see the module docs). Transient failures are retried with the
    /// [`Http`] rules, re-reading the whole range (at most a few MB). `on_bytes` sees every
    /// chunk received.
    pub fn read_range(&self, file: &GdcFile, range: Range<u64>, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>, GdcError> {
        if range.start > range.end || range.end > file.size {
            return Err(GdcError::BadRange {
                file: file.name.clone(),
                start: range.start,
                end: range.end,
                size: file.size,
            });
        }
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let len = range.end - range.start;
        let req = self.request(
            Request::get(self.data_url(file)).header("Range", format!("bytes={}-{}", range.start, range.end - 1)),
        );
        // The body is held to the range (and to the deadline of its length).
        let req = req.max_body(len);
        let shown = req.shown_url();
        let unexpected = |reason: String| Retry::Stop(GdcError::Unexpected { url: shown.clone(), reason });
        let policy = self.http.retry_policy();
        let read = |_: &mut super::http::Attempt| -> Result<Vec<u8>, Retry<GdcError>> {
            let (head, mut body) = self.http.send_once(&req)?;
            if head.status == 200 {
                return Err(Retry::Stop(GdcError::RangeIgnored { file: file.name.clone(), url: shown.clone() }));
            }
            if head.status != 206 {
                return Err(self.error_status(&head, body, &req));
            }
            let cr = head.header("content-range").unwrap_or("");
            match parse_content_range(cr) {
                Some((a, b, total)) if (a, b, total) == (range.start, range.end, file.size) => {}
                _ => {
                    return Err(unexpected(format!(
                        "asked for bytes {}-{} of {}, got `Content-Range: {}`",
                        range.start,
                        range.end - 1,
                        file.size,
                        self.http.scrub(cr)
                    )))
                }
            }
            if let Some(n) = head.content_length().filter(|&n| n != len) {
                return Err(unexpected(format!("a {len}-byte range came with Content-Length {n}")));
            }
            let mut out = vec![0u8; len as usize];
            let mut got = 0usize;
            while got < out.len() {
                match body.read(&mut out[got..]) {
                    Ok(0) => {
                        let kind = TransportKind::BodyCut { got: got as u64, expected: len };
                        return Err(Failure::transport(TransportError::new(kind, &shown, None)).into());
                    }
                    Ok(n) => {
                        got += n;
                        on_bytes(n as u64);
                    }
                    Err(e) => return Err(Failure::from_read(&e, got as u64).into()),
                }
            }
            // The range is complete: anything more is a server that sent too much.
            let mut extra = [0u8; 1];
            match body.read(&mut extra) {
                Ok(n) if n > 0 => Err(unexpected(format!("more than the {len} bytes of the range"))),
                Err(e) if matches!(Failure::from_read(&e, got as u64), Failure::TooLarge { .. }) => {
                    Err(unexpected(format!("more than the {len} bytes of the range")))
                }
                _ => Ok(out),
            }
        };
        policy.run(&shown, read).map_err(GdcError::from_retry)
    }

    /// Downloads the whole of `file` into `dest` through `<dest>.part` (`part_path`):
    /// resumes from the `.part`'s length with `Range: bytes=len-` (a `200` instead of `206`
    /// restarts from 0), streams to disk while hashing MD5 (the kept part is hashed first),
    /// resumes again after a transient failure, then fsyncs, checks size and MD5, and renames
    /// to `dest`. On a mismatch the `.part` is deleted and `dest` is never created.
    pub fn download(&self, file: &GdcFile, dest: &Path, on_bytes: &dyn Fn(u64)) -> Result<DownloadOutcome, GdcError> {
        let part = part_path(dest);
        // Appended to, truncated and renamed: never through a planted link, never a FIFO, a
        // device or a file with another name (`files::open_write` refuses them).
        let mut out = files::open_write(&part, WriteMode::Keep, true).map_err(GdcError::io("open", &part))?;
        let mut len = out.metadata().map_err(GdcError::io("read", &part))?.len();
        if len > file.size {
            tracing::warn!(path = %part.display(), len, size = file.size, "partial file longer than the file: restarting");
            out.set_len(0).map_err(GdcError::io("truncate", &part))?;
            len = 0;
        }
        let resumed_from = len;
        let mut hasher = Md5::new();
        if len > 0 {
            hash_existing(&mut out, len, &mut hasher).map_err(GdcError::io("read", &part))?;
        }
        out.seek(SeekFrom::Start(len)).map_err(GdcError::io("seek", &part))?;
        let mut fetched = 0u64;
        // A `200` restarts the file, so a body may be the whole file, and no more.
        let base_req = self.request(Request::get(self.data_url(file))).max_body(file.size);
        let shown = base_req.shown_url();
        let mut buf = vec![0u8; CHUNK];
        // Progress (bytes kept) starts a fresh count of retries, at most MAX_RESUMES times: a
        // long download on a flaky link.
        let policy = self.http.retry_policy().fresh_starts(MAX_RESUMES);
        let complete = len >= file.size;
        let attempt = |attempt: &mut super::http::Attempt| -> Result<(), Retry<GdcError>> {
            let req = base_req.clone().header("Range", format!("bytes={len}-"));
            let start_len = len;
            let (head, mut body) = self.http.send_once(&req)?;
            if head.status != 200 && head.status != 206 {
                return Err(self.error_status(&head, body, &req));
            }
            // A body of another length than the file (200) or the rest of it (206) is refused
            // before it is read.
            let want = if head.status == 200 { file.size } else { file.size - len };
            if let Some(n) = head.content_length().filter(|&n| n != want) {
                return Err(Retry::Stop(GdcError::Unexpected {
                    url: req.shown_url(),
                    reason: format!("HTTP {} for {want} bytes came with Content-Length {n}", head.status),
                }));
            }
            if head.status == 200 {
                if len > 0 {
                    tracing::info!(file = %file.name, len, "the server sent the whole file: restarting");
                    out.set_len(0).map_err(GdcError::stop("truncate", &part))?;
                    out.seek(SeekFrom::Start(0)).map_err(GdcError::stop("seek", &part))?;
                    hasher = Md5::new();
                    len = 0;
                }
            } else {
                let cr = head.header("content-range").unwrap_or("");
                if !matches!(parse_content_range(cr), Some((a, b, t)) if a == len && b == file.size && t == file.size) {
                    return Err(Retry::Stop(GdcError::Unexpected {
                        url: req.shown_url(),
                        reason: format!(
                            "asked for bytes {len}- of {}, got `Content-Range: {}`",
                            file.size,
                            self.http.scrub(cr)
                        ),
                    }));
                }
            }
            let mut broken = None;
            loop {
                match body.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if len + n as u64 > file.size {
                            // Longer than the GDC says: the size check below reports it.
                            len += n as u64;
                            break;
                        }
                        out.write_all(&buf[..n]).map_err(GdcError::stop("write", &part))?;
                        hasher.update(&buf[..n]);
                        len += n as u64;
                        fetched += n as u64;
                        on_bytes(n as u64);
                    }
                    Err(e) => match Failure::from_read(&e, body.bytes_read()) {
                        Failure::TooLarge { .. } => {
                            // Longer than the whole file: the size check below reports it.
                            len = file.size + 1;
                            break;
                        }
                        f => {
                            broken = Some(f);
                            break;
                        }
                    },
                }
            }
            // Progress worth a fresh count of retries: a MiB kept, or the file complete (a
            // server trickling a few bytes per attempt does not buy itself 200 fresh starts).
            if len >= start_len.saturating_add(MIN_PROGRESS) || (len > start_len && len >= file.size) {
                attempt.progressed();
            }
            match broken {
                None if len >= file.size => Ok(()),
                None => {
                    let kind = TransportKind::BodyCut { got: len, expected: file.size };
                    Err(Failure::transport(TransportError::new(kind, &shown, None)).into())
                }
                Some(f) => Err(f.into()),
            }
        };
        if !complete {
            policy.run(&shown, attempt).map_err(GdcError::from_retry)?;
        }
        out.flush().map_err(GdcError::io("write", &part))?;
        out.sync_all().map_err(GdcError::io("sync", &part))?;
        let written = out.metadata().map_err(GdcError::io("read", &part))?;
        drop(out);
        // The name still leads to the file written (not a link or another file put there since):
        // only then is it renamed into place.
        same_file(&part, &written).map_err(GdcError::io("rename", &part))?;
        let md5 = crate::model::hex(&hasher.finalize());
        if len != file.size || !md5.eq_ignore_ascii_case(&file.md5) {
            let _ = std::fs::remove_file(&part);
            return Err(GdcError::Integrity {
                file: file.name.clone(),
                path: part,
                size: len,
                expected_size: file.size,
                md5,
                expected_md5: file.md5.clone(),
            });
        }
        std::fs::rename(&part, dest).map_err(GdcError::io("rename", &part))?;
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename durable; not every platform can open a directory.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(DownloadOutcome { bytes_fetched: fetched, resumed_from })
    }
}

/// Whether `path` (not followed) is still the file `opened` describes.
fn same_file(path: &Path, opened: &std::fs::Metadata) -> std::io::Result<()> {
    let now = std::fs::symlink_metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if now.file_type().is_file() && now.dev() == opened.dev() && now.ino() == opened.ino() {
            return Ok(());
        }
    }
    #[cfg(not(unix))]
    if now.file_type().is_file() && now.len() == opened.len() {
        return Ok(());
    }
    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "it was replaced while being written"))
}

fn hash_existing(file: &mut File, len: u64, hasher: &mut Md5) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = file.take(len);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct FilesReply {
    data: FilesData,
}

#[derive(serde::Deserialize)]
struct FilesData {
    hits: Vec<Hit>,
    pagination: Pagination,
}

#[derive(serde::Deserialize)]
struct Pagination {
    total: u64,
}

#[derive(serde::Deserialize)]
struct Hit {
    file_id: Option<String>,
    id: Option<String>,
    file_name: Option<String>,
    md5sum: Option<String>,
    file_size: Option<u64>,
    state: Option<String>,
}

impl Hit {
    /// The hit as a file. Every text in it is the server's: shown only through the client's
    /// scrubber (`secrets`), and a
    /// hit that echoes a secret in any field is refused (its id or name would otherwise travel
    /// into paths, URLs and the manifest).
    fn into_file(self, secrets: &Secrets) -> Result<GdcFile, String> {
        let scrub = |t: &str| secrets.scrub(t);
        let id = self.file_id.or(self.id).ok_or("a hit without `file_id`")?;
        let name = self.file_name.ok_or_else(|| format!("file {} without `file_name`", scrub(&id)))?;
        let shown = scrub(&name);
        let md5 = self.md5sum.ok_or_else(|| format!("file `{shown}` without `md5sum`"))?;
        let size = self.file_size.ok_or_else(|| format!("file `{shown}` without `file_size`"))?;
        let state = self.state.unwrap_or_default();
        if [&id, &name, &md5, &state].into_iter().any(|t| scrub(t) != *t) {
            return Err(format!("file `{shown}`: the answer echoes a secret this client sent (shown as [redacted])"));
        }
        if !is_md5(&md5) {
            return Err(format!("file `{shown}` has md5sum `{}`, not 32 hex digits", scrub(&md5)));
        }
        if !is_safe_id(&id) {
            return Err(format!("file `{shown}` has an id with unexpected characters"));
        }
        Ok(GdcFile { id, name, md5: md5.to_ascii_lowercase(), size, state })
    }
}

fn is_md5(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A file id is used in URLs and file names: letters, digits and `-` only.
pub(crate) fn is_safe_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The columns of a GDC manifest, in the order written.
const MANIFEST_COLUMNS: [&str; 5] = ["id", "filename", "md5", "size", "state"];

/// The MD5 of a local file (lower-case hex), read in 1 MiB chunks; a FIFO or other special
/// file is refused at once (`files::open_read`), never waited on.
#[cfg_attr(not(feature = "openslide"), expect(dead_code, reason = "used by the GDC pipeline, which needs OpenSlide"))]
pub(crate) fn md5_of_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = files::open_read(path)?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(crate::model::hex(&h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// Writes a manifest in the GDC Data Transfer Tool's format: a header line
/// `id\tfilename\tmd5\tsize\tstate`, then one row per file sorted by file name (then id),
/// `\n` line endings. Names are GDC file names (no tabs or newlines).
pub fn write_manifest(files: &[GdcFile]) -> String {
    let mut sorted: Vec<&GdcFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let mut out = MANIFEST_COLUMNS.join("\t");
    out.push('\n');
    for f in sorted {
        out.push_str(&format!("{}\t{}\t{}\t{}\t{}\n", f.id, f.name, f.md5, f.size, f.state));
    }
    out
}

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestParseError {
    /// No header line.
    #[error("the manifest is empty (expected a header line `id\tfilename\tmd5\tsize\tstate`)")]
    Empty,
    /// The header lacks a required column.
    #[error("the manifest's header line has no `{column}` column")]
    MissingColumn {
        /// The column.
        column: &'static str,
    },
    /// A column appears twice in the header.
    #[error("the manifest's header line has the `{column}` column twice")]
    DuplicateColumn {
        /// The column.
        column: String,
    },
    /// A row is malformed.
    #[error("manifest line {line}: {reason}")]
    Row {
        /// Line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Reads a manifest in the GDC Data Transfer Tool's format: tab-separated with a header line;
/// columns found by name (`id`, `filename`, `md5`, `size` required, `state` optional, others
/// ignored); `\r\n` tolerated; blank lines skipped. A file id or a file name listed twice is
/// an error naming both lines.
pub fn parse_manifest(text: &str) -> Result<Vec<GdcFile>, ManifestParseError> {
    let mut lines = text.split('\n').enumerate().map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)));
    let header = loop {
        match lines.next() {
            None => return Err(ManifestParseError::Empty),
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((_, l)) => break l.trim_start_matches('\u{feff}'),
        }
    };
    let names: Vec<&str> = header.split('\t').map(str::trim).collect();
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) && MANIFEST_COLUMNS.contains(n) {
            return Err(ManifestParseError::DuplicateColumn { column: n.to_string() });
        }
    }
    let col = |c: &'static str| names.iter().position(|n| *n == c);
    let required = |c: &'static str| col(c).ok_or(ManifestParseError::MissingColumn { column: c });
    let (id_c, name_c, md5_c, size_c) = (required("id")?, required("filename")?, required("md5")?, required("size")?);
    let state_c = col("state");
    let mut files = Vec::new();
    // One file per row and one row per file: a file listed under two names would give one
    // slide's pixels to another.
    let (mut ids, mut file_names) = (BTreeMap::new(), BTreeMap::new());
    for (line, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        let row = |reason: String| ManifestParseError::Row { line, reason };
        let cells: Vec<&str> = l.split('\t').collect();
        if cells.len() != names.len() {
            return Err(row(format!("{} columns, the header has {}", cells.len(), names.len())));
        }
        let id = cells[id_c].trim();
        let name = cells[name_c].trim();
        let md5 = cells[md5_c].trim();
        let size = cells[size_c].trim();
        if !is_safe_id(id) {
            return Err(row(format!("id `{id}` is not a GDC file id")));
        }
        if name.is_empty() {
            return Err(row("empty filename".into()));
        }
        if !is_md5(md5) {
            return Err(row(format!("md5 `{md5}` is not 32 hex digits")));
        }
        let size: u64 = size.parse().map_err(|_| row(format!("size `{size}` is not a whole number of bytes")))?;
        let state = state_c.map(|c| cells[c].trim().to_string()).unwrap_or_default();
        if let Some(first) = ids.insert(id.to_string(), line) {
            return Err(row(format!(
                "file id `{id}` is listed again (first on line {first}); one file cannot be two slides"
            )));
        }
        if let Some(first) = file_names.insert(name.to_string(), line) {
            return Err(row(format!("file name `{name}` is listed again (first on line {first})")));
        }
        files.push(GdcFile { id: id.into(), name: name.into(), md5: md5.to_ascii_lowercase(), size, state });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::http::HttpConfig;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A request as the test server saw it.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        path: String,
        /// Header lines, lower-cased names.
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
        }
    }

    /// A server answering each request with `reply(request, index)` (raw HTTP bytes).
    fn server(reply: impl Fn(&Seen, usize) -> Vec<u8> + Send + 'static) -> (String, Arc<Mutex<Vec<Seen>>>) {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { break };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                let len = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                let mut parts = first.split_whitespace();
                let req = Seen {
                    method: parts.next().unwrap_or("").into(),
                    path: parts.next().unwrap_or("").into(),
                    headers,
                    body: String::from_utf8_lossy(&body).into(),
                };
                log.lock().unwrap().push(req.clone());
                let _ = stream.write_all(&reply(&req, i));
            }
        });
        (format!("http://127.0.0.1:{port}"), seen)
    }

    fn reply(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn http(retries: u32) -> Http {
        Http::new(HttpConfig::default().retries(retries).backoff_base(Duration::from_millis(1))).unwrap()
    }

    /// Test content of a file: byte i is i * 7 mod 251.
    fn content(size: usize) -> Vec<u8> {
        (0..size).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn file_of(data: &[u8]) -> GdcFile {
        GdcFile {
            id: "906fef4f-e818-4b0d-9b79-a03b6dfb078d".into(),
            name: "TCGA-LL-A9Q3-01A-01-TS1.svs".into(),
            md5: crate::model::hex(&Md5::digest(data)),
            size: data.len() as u64,
            state: "released".into(),
        }
    }

    /// A `/data` server honouring single `Range: bytes=a-b` / `bytes=a-`.
    fn ranged(data: &[u8], req: &Seen) -> Vec<u8> {
        let size = data.len();
        let Some(r) = req.header("range").and_then(|r| r.strip_prefix("bytes=")) else {
            return reply("200 OK", &[], data);
        };
        let (a, b) = r.split_once('-').unwrap();
        let a: usize = a.parse().unwrap();
        let b: usize = if b.is_empty() { size - 1 } else { b.parse().unwrap() };
        reply("206 Partial Content", &[("Content-Range", format!("bytes {a}-{b}/{size}"))], &data[a..=b])
    }

    fn hit(name: &str, id: &str) -> serde_json::Value {
        serde_json::json!({"id": id, "file_id": id, "file_name": name, "md5sum": "de38237753236e86d7e8a682faa19de3",
            "file_size": 405264199u64, "state": "released"})
    }

    #[test]
    fn finds_files_by_name_across_pages() {
        // One hit per page, to exercise paging: a.svs once, b.svs twice (two ids), c.svs missing.
        let pages = [hit("a.svs", "id-a"), hit("b.svs", "id-b1"), hit("b.svs", "id-b2")];
        let (base, seen) = server(move |req, _| {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
            let from: usize = body["from"].as_str().unwrap().parse().unwrap();
            let page = serde_json::json!({"data": {"hits": [pages[from].clone()],
                "pagination": {"count": 1, "total": 3, "size": 100, "from": from}}, "warnings": {}});
            reply("200 OK", &[("Content-Type", "application/json".into())], page.to_string().as_bytes())
        });
        let gdc = Gdc::new(http(0), &base, None);
        let names: Vec<String> = ["a.svs", "b.svs", "c.svs", "a.svs"].iter().map(|s| s.to_string()).collect();
        let found = gdc.find_by_names(&names).unwrap();
        assert_eq!(found.found.keys().collect::<Vec<_>>(), ["a.svs"]);
        assert_eq!(found.found["a.svs"].size, 405264199);
        assert_eq!(found.missing, ["c.svs"]);
        assert_eq!(found.duplicated.len(), 1);
        assert_eq!(found.duplicated[0].0, "b.svs");
        assert_eq!(found.duplicated[0].1.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["id-b1", "id-b2"]);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
        assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/files"));
        assert_eq!(body["filters"]["content"]["field"], "file_name");
        assert_eq!(body["filters"]["content"]["value"], serde_json::json!(["a.svs", "b.svs", "c.svs"]));
        assert_eq!(body["fields"], "file_id,file_name,md5sum,file_size,state");
        assert_eq!(body["size"], "100");
    }

    #[test]
    fn a_server_that_pages_forever_or_claims_absurd_totals_is_refused() {
        let (base, seen) = server(|_, _| {
            let page = serde_json::json!({"data": {"hits": [hit("a.svs", "id-a")],
                "pagination": {"count": 1, "total": 1_000_000_000u64}}});
            reply("200 OK", &[], page.to_string().as_bytes())
        });
        let gdc = Gdc::new(http(0), &base, None);
        let err = gdc.find_by_names(&["a.svs".to_string()]).unwrap_err();
        assert!(matches!(err, GdcError::Unexpected { .. }), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 1);
        // An empty page before the total ends the search.
        let (base, seen) =
            server(|_, _| reply("200 OK", &[], br#"{"data": {"hits": [], "pagination": {"count": 0, "total": 50}}}"#));
        let found = Gdc::new(http(0), &base, None).find_by_names(&["a.svs".to_string()]).unwrap();
        assert_eq!(found.missing, ["a.svs"]);
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn server_text_echoing_the_token_is_scrubbed_everywhere() {
        let token = "gdc-unit-token-0123456789-echo";
        let gdc_with = |base: &str| Gdc::new(http(0), base, Some(Secret::new(token)));
        let page = |hit: serde_json::Value| {
            serde_json::json!({"data": {"hits": [hit], "pagination": {"count": 1, "total": 1}}}).to_string()
        };
        let mut hits = Vec::new();
        for (k, v) in [("md5sum", token), ("file_size", token), ("file_id", token), ("state", token)] {
            let mut h = hit("a.svs", "id-a");
            h[k] = serde_json::json!(v);
            hits.push(h);
        }
        for h in hits {
            let body = page(h.clone());
            let (base, _) = server(move |_, _| reply("200 OK", &[], body.as_bytes()));
            let err = gdc_with(&base).find_by_names(&["a.svs".to_string()]).unwrap_err();
            let text = crate::report::error_chain(&err);
            assert!(!text.contains(token) && text.contains("[redacted]"), "{h}: {text}");
        }
        // An unasked hit named as the token is ignored (and its warning scrubbed).
        let body = page(hit(token, "id-x"));
        let (base, _) = server(move |_, _| reply("200 OK", &[], body.as_bytes()));
        assert_eq!(gdc_with(&base).find_by_names(&["a.svs".to_string()]).unwrap().missing, ["a.svs"]);
        // In Content-Range, and in an error's message.
        let data = content(1000);
        let (base, _) = server(move |_, _| {
            reply("206 Partial Content", &[("Content-Range", format!("bytes 0-9/{token}"))], b"0123456789")
        });
        let err = gdc_with(&base).read_range(&file_of(&data), 0..10, &|_| {}).unwrap_err();
        let text = crate::report::error_chain(&err);
        assert!(!text.contains(token) && text.contains("Content-Range: bytes 0-9/[redacted]"), "{text}");
        let dir = tempfile::tempdir().unwrap();
        let err = gdc_with(&base).download(&file_of(&data), &dir.path().join("a.svs"), &|_| {}).unwrap_err();
        assert!(!crate::report::error_chain(&err).contains(token), "{}", crate::report::error_chain(&err));
        let msg = format!(r#"{{"message": "token {token} is not valid"}}"#);
        let (base, _) = server(move |_, _| reply("403 Forbidden", &[], msg.as_bytes()));
        let err = gdc_with(&base).read_range(&file_of(&data), 0..10, &|_| {}).unwrap_err();
        assert_eq!(err.to_string(), format!("the GDC API answered HTTP 403: token [redacted] is not valid ({base}/data/906fef4f-e818-4b0d-9b79-a03b6dfb078d)"));
    }

    #[test]
    fn a_page_with_more_hits_than_asked_is_refused_and_many_hits_cost_little() {
        // 101 hits for a page of 100.
        let many: Vec<serde_json::Value> = (0..101).map(|i| hit("a.svs", &format!("id-{i}"))).collect();
        let body = serde_json::json!({"data": {"hits": many, "pagination": {"count": 101, "total": 101}}}).to_string();
        let (base, _) = server(move |_, _| reply("200 OK", &[], body.as_bytes()));
        let err = Gdc::new(http(0), &base, None).find_by_names(&["a.svs".to_string()]).unwrap_err();
        assert!(err.to_string().contains("101 hits in one page, over the 100 asked for"), "{err}");
        // 100 hits of one name (distinct ids, each twice across two pages): one duplicated name.
        let (base, _) = server(move |req, _| {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
            let from: u64 = body["from"].as_str().unwrap().parse().unwrap();
            let hits: Vec<serde_json::Value> = (0..100).map(|i| hit("a.svs", &format!("id-{i:03}"))).collect();
            let page =
                serde_json::json!({"data": {"hits": hits, "pagination": {"count": 100, "total": 200, "from": from}}});
            reply("200 OK", &[], page.to_string().as_bytes())
        });
        let found = Gdc::new(http(0), &base, None).find_by_names(&["a.svs".to_string()]).unwrap();
        assert_eq!(found.duplicated.len(), 1);
        assert_eq!(found.duplicated[0].1.len(), 100, "each id once");
    }

    #[test]
    fn names_are_sent_in_chunks() {
        let (base, seen) =
            server(|_, _| reply("200 OK", &[], br#"{"data": {"hits": [], "pagination": {"count": 0, "total": 0}}}"#));
        let names: Vec<String> = (0..151).map(|i| format!("S{i}.svs")).collect();
        let found = Gdc::new(http(0), &base, None).find_by_names(&names).unwrap();
        assert_eq!(found.missing.len(), 151);
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn unreachable_and_error_status_read_differently() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err =
            Gdc::new(http(0), &format!("http://127.0.0.1:{port}"), None).find_by_names(&["a".into()]).unwrap_err();
        assert!(matches!(err, GdcError::Unreachable { .. }));
        assert!(err.to_string().starts_with("cannot reach the GDC API"), "{err}");
        let (base, _) = server(|_, _| reply("400 Bad Request", &[], br#"{"message": "bad filter"}"#));
        let err = Gdc::new(http(0), &base, None).find_by_names(&["a".into()]).unwrap_err();
        assert_eq!(err.to_string(), format!("the GDC API answered HTTP 400: bad filter ({base}/files)"));
        let (base, _) = server(|_, _| reply("503 Service Unavailable", &[], b""));
        let err = Gdc::new(http(1), &base, None).find_by_names(&["a".into()]).unwrap_err();
        assert!(err.to_string().starts_with("the GDC API kept failing"), "{err}");
        let (base, _) =
            server(|_, _| reply("200 OK", &[], br#"{"data": {"hits": [], "pagination": {"count": 0, "total": 0}}}"#));
        assert_eq!(Gdc::new(http(0), &base, None).find_by_names(&["a".into()]).unwrap().missing.len(), 1);
    }

    #[test]
    fn the_token_travels_in_its_header_only() {
        let data = content(100);
        let d = data.clone();
        let (base, seen) = server(move |req, _| ranged(&d, req));
        let gdc = Gdc::new(http(0), &base, Some(Secret::new("TOKEN123")));
        assert!(!format!("{gdc:?}").contains("TOKEN123"));
        gdc.read_range(&file_of(&data), 10..20, &|_| {}).unwrap();
        assert_eq!(seen.lock().unwrap()[0].header("x-auth-token"), Some("TOKEN123"));
    }

    #[test]
    fn reads_exact_ranges_and_checks_content_range() {
        let data = content(10_000);
        let d = data.clone();
        let (base, seen) = server(move |req, i| match i {
            0 => reply("503 Service Unavailable", &[("Retry-After", "0".into())], b""),
            _ => ranged(&d, req),
        });
        let gdc = Gdc::new(http(2), &base, None);
        let file = file_of(&data);
        let total = std::sync::atomic::AtomicU64::new(0);
        let got = gdc
            .read_range(&file, 1000..5000, &|n| {
                total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            })
            .unwrap();
        assert_eq!(got, &data[1000..5000]);
        assert_eq!(total.into_inner(), 4000);
        assert_eq!(seen.lock().unwrap()[1].header("range"), Some("bytes=1000-4999"));
        assert!(gdc.read_range(&file, 9000..10_001, &|_| {}).is_err_and(|e| matches!(e, GdcError::BadRange { .. })));
        assert!(gdc.read_range(&file, 5..5, &|_| {}).unwrap().is_empty());

        // A Content-Range for another range, or another total, is refused.
        let (base, _) =
            server(|_, _| reply("206 Partial Content", &[("Content-Range", "bytes 0-9/10000".into())], b"0123456789"));
        let err = Gdc::new(http(0), &base, None).read_range(&file, 10..20, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("Content-Range: bytes 0-9/10000"), "{err}");
        let (base, _) = server(|_, _| {
            reply("206 Partial Content", &[("Content-Range", "bytes 10-19/99999".into())], b"0123456789")
        });
        assert!(Gdc::new(http(0), &base, None).read_range(&file, 10..20, &|_| {}).is_err());
    }

    #[test]
    fn a_range_answered_with_the_whole_file_is_refused() {
        let data = content(10_000);
        let d = data.clone();
        let (base, _) = server(move |_, _| reply("200 OK", &[], &d));
        let err = Gdc::new(http(3), &base, None).read_range(&file_of(&data), 100..200, &|_| {}).unwrap_err();
        assert!(matches!(err, GdcError::RangeIgnored { .. }), "{err}");
        assert!(err.to_string().contains("download the whole slide"), "{err}");
    }

    #[test]
    fn a_short_range_body_is_retried_then_an_error() {
        let data = content(1000);
        let (base, seen) = server(|_, _| {
            b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99/1000\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort".to_vec()
        });
        let err = Gdc::new(http(2), &base, None).read_range(&file_of(&data), 0..100, &|_| {}).unwrap_err();
        assert!(matches!(err, GdcError::Unreachable { .. }), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[test]
    fn downloads_resume_from_the_part_file() {
        let data = content(3_000_000);
        let d = data.clone();
        // First answer: cut off after 1 MB; then honour ranges.
        let (base, seen) = server(move |req, i| {
            if i == 0 {
                let mut r = format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-{}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    d.len() - 1,
                    d.len(),
                    d.len()
                )
                .into_bytes();
                r.extend_from_slice(&d[..1_000_000]);
                r
            } else {
                ranged(&d, req)
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("slide.svs");
        let file = file_of(&data);
        let gdc = Gdc::new(http(3), &base, None);
        let out = gdc.download(&file, &dest, &|_| {}).unwrap();
        assert_eq!(out, DownloadOutcome { bytes_fetched: 3_000_000, resumed_from: 0 });
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert!(!part_path(&dest).exists());
        let ranges: Vec<String> =
            seen.lock().unwrap().iter().map(|s| s.header("range").unwrap_or("").to_string()).collect();
        assert_eq!(ranges, ["bytes=0-", "bytes=1000000-"]);

        // A .part left by an earlier run is hashed and continued.
        let dest2 = dir.path().join("again.svs");
        std::fs::write(part_path(&dest2), &data[..2_500_000]).unwrap();
        let out = gdc.download(&file, &dest2, &|_| {}).unwrap();
        assert_eq!(out, DownloadOutcome { bytes_fetched: 500_000, resumed_from: 2_500_000 });
        assert_eq!(std::fs::read(&dest2).unwrap(), data);
    }

    #[test]
    fn a_planted_part_file_is_refused_never_written_through() {
        let data = content(50_000);
        let d = data.clone();
        let (base, seen) = server(move |req, _| ranged(&d, req));
        let gdc = Gdc::new(http(0), &base, None);
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.bin");
        std::fs::write(&outside, b"precious").unwrap();
        let dest = dir.path().join("slide.svs");
        // A link: neither appended to, nor truncated, nor renamed into `dest`.
        std::os::unix::fs::symlink(&outside, part_path(&dest)).unwrap();
        let err = gdc.download(&file_of(&data), &dest, &|_| {}).unwrap_err();
        assert!(matches!(err, GdcError::Io(files::FileError { action: "open", .. })), "{err}");
        assert!(crate::report::error_chain(&err).contains("symbolic link"), "{}", crate::report::error_chain(&err));
        assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
        assert!(std::fs::symlink_metadata(&dest).is_err(), "nothing under the final name");
        // A second hard link of a file elsewhere, and a FIFO (refused at once, never waited on).
        std::fs::remove_file(part_path(&dest)).unwrap();
        std::fs::hard_link(&outside, part_path(&dest)).unwrap();
        let err = gdc.download(&file_of(&data), &dest, &|_| {}).unwrap_err();
        assert!(crate::report::error_chain(&err).contains("hard links"), "{}", crate::report::error_chain(&err));
        std::fs::remove_file(part_path(&dest)).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(part_path(&dest)).status().unwrap().success());
        let err = gdc.download(&file_of(&data), &dest, &|_| {}).unwrap_err();
        assert!(crate::report::error_chain(&err).contains("FIFO"), "{}", crate::report::error_chain(&err));
        assert!(md5_of_file(&part_path(&dest)).unwrap_err().to_string().contains("FIFO"));
        assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
        assert!(seen.lock().unwrap().is_empty(), "nothing was fetched");
        // Its own `.part` works.
        std::fs::remove_file(part_path(&dest)).unwrap();
        gdc.download(&file_of(&data), &dest, &|_| {}).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
    }

    #[test]
    fn a_resume_answered_with_the_whole_file_restarts() {
        let data = content(200_000);
        let d = data.clone();
        let (base, _) = server(move |_, _| reply("200 OK", &[], &d));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("slide.svs");
        // A wrong half: had it been kept, the md5 would fail.
        std::fs::write(part_path(&dest), vec![0xAA; 50_000]).unwrap();
        let out = Gdc::new(http(0), &base, None).download(&file_of(&data), &dest, &|_| {}).unwrap();
        assert_eq!(out, DownloadOutcome { bytes_fetched: 200_000, resumed_from: 50_000 });
        assert_eq!(std::fs::read(&dest).unwrap(), data);
    }

    #[test]
    fn a_download_that_fails_its_md5_never_gets_its_name() {
        let data = content(100_000);
        let mut corrupt = data.clone();
        corrupt[500] ^= 1;
        let (base, _) = server(move |req, _| ranged(&corrupt, req));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("slide.svs");
        let err = Gdc::new(http(0), &base, None).download(&file_of(&data), &dest, &|_| {}).unwrap_err();
        assert!(matches!(err, GdcError::Integrity { size: 100_000, .. }), "{err}");
        assert!(!dest.exists() && !part_path(&dest).exists());
        // A body that says it is longer than the file is refused before it is read, and nothing
        // gets the file's name.
        let long = content(100_001);
        let (base, _) = server(move |_, _| reply("200 OK", &[], &long));
        let err = Gdc::new(http(0), &base, None).download(&file_of(&data), &dest, &|_| {}).unwrap_err();
        assert!(matches!(err, GdcError::Unexpected { .. }), "{err}");
        assert!(err.to_string().contains("HTTP 200 for 100000 bytes came with Content-Length 100001"), "{err}");
        assert!(!dest.exists());
        assert_eq!(std::fs::metadata(part_path(&dest)).map(|m| m.len()).unwrap_or(0), 0, "nothing of it kept");
    }

    #[test]
    fn manifests_round_trip_in_the_transfer_tools_format() {
        let text = "id\tfilename\tmd5\tsize\tstate\n\
            906fef4f-e818-4b0d-9b79-a03b6dfb078d\tTCGA-LL-A9Q3-01A-01-TS1.14764858-8E95-4E6C-8D97-0DA3C8C5D925.svs\tde38237753236e86d7e8a682faa19de3\t405264199\treleased\n";
        let files = parse_manifest(text).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].size, 405264199);
        assert_eq!(write_manifest(&files), text);

        let b =
            GdcFile { id: "b".into(), name: "B.svs".into(), md5: "0".repeat(32), size: 1, state: "released".into() };
        let a = GdcFile { id: "a".into(), name: "A.svs".into(), ..b.clone() };
        let written = write_manifest(&[b.clone(), a.clone()]);
        assert!(written.lines().nth(1).unwrap().starts_with("a\tA.svs\t"), "sorted by file name");
        assert_eq!(parse_manifest(&written).unwrap(), [a.clone(), b]);

        // Column order from the header, extra columns ignored, \r\n, no state column.
        let other = "md5\tsize\tid\tfilename\tannotations\r\n00000000000000000000000000000000\t1\ta\tA.svs\tx\r\n\r\n";
        assert_eq!(parse_manifest(other).unwrap(), [GdcFile { state: String::new(), ..a }]);
    }

    #[test]
    fn bad_manifests_name_the_line() {
        let head = "id\tfilename\tmd5\tsize\tstate\n";
        assert_eq!(parse_manifest(""), Err(ManifestParseError::Empty));
        assert_eq!(parse_manifest("id\tfilename\tsize\n"), Err(ManifestParseError::MissingColumn { column: "md5" }));
        let e = parse_manifest(&format!("{head}a\tA.svs\tnothex\t1\treleased\n")).unwrap_err();
        assert_eq!(e.to_string(), "manifest line 2: md5 `nothex` is not 32 hex digits");
        let e = parse_manifest(&format!("{head}a\tA.svs\t{}\t-1\treleased\n", "0".repeat(32))).unwrap_err();
        assert!(matches!(e, ManifestParseError::Row { line: 2, .. }), "{e}");
        let e = parse_manifest(&format!("{head}\na\tA.svs\n")).unwrap_err();
        assert_eq!(e, ManifestParseError::Row { line: 3, reason: "2 columns, the header has 5".into() });
        let e = parse_manifest(&format!("{head}../x\tA.svs\t{}\t1\treleased\n", "0".repeat(32))).unwrap_err();
        assert!(matches!(e, ManifestParseError::Row { line: 2, .. }), "{e}");
        // One file under two slide names, or two files under one name.
        let md5 = "0".repeat(32);
        let e =
            parse_manifest(&format!("{head}a\tA.svs\t{md5}\t1\treleased\na\tB.svs\t{md5}\t1\treleased\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "manifest line 3: file id `a` is listed again (first on line 2); one file cannot be two slides"
        );
        let e = parse_manifest(&format!("{head}a\tA.svs\t{md5}\t1\treleased\n\nb\tA.svs\t{md5}\t1\treleased\n"))
            .unwrap_err();
        assert_eq!(e.to_string(), "manifest line 4: file name `A.svs` is listed again (first on line 2)");
    }
}
