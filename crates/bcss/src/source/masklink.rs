//! Ground-truth masks behind per-ROI links.
//!
//! The published masks are PNGs at base (scan) resolution, one per ROI, pixel value = label code.
//! `fetch_bytes` downloads one (following redirects, without any DSA credentials); the pipeline
//! decodes it a band of rows at a time and checks it before anyone uses it: the size must be the
//! ROI's base size and every value a known code. The size is checked from the PNG header, before
//! a pixel is decoded, so a file claiming billions of pixels costs nothing. A link may also be a
//! local path or `file://` URL (mirrors, tests); an `http(s)` link that redirects to anything but
//! `http(s)` is refused, not followed.
//!
//! A downloaded mask may be at most `mask_body_limit` of the ROI's base size: 2 bytes per base
//! pixel + 1 MiB (an incompressible grey PNG is 1 byte per pixel plus a filter byte per row and
//! a few bytes per 64 KiB of zlib; the MiB covers the chunks around).

use super::http::{Http, HttpError, Request};
use crate::codec::CodecError;

/// Why a mask could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaskError {
    /// The ROI has no mask link.
    #[error("no mask link for this ROI (the ROI table has no `mask_link`)")]
    NoLink,
    /// The download failed.
    #[error("mask link {url}")]
    Http {
        /// The link.
        url: String,
        /// What happened.
        #[source]
        source: HttpError,
    },
    /// The server answered an error status.
    #[error("mask link {url}: HTTP {status}")]
    Status {
        /// The link.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// A local mask file could not be read.
    #[error("mask file `{path}`")]
    File {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not a readable grey PNG.
    #[error("mask from {origin} does not decode")]
    Decode {
        /// Link or path.
        origin: String,
        /// The codec's reason.
        #[source]
        source: CodecError,
    },
    /// The size is not the ROI's base size.
    #[error("mask from {origin} is {got_w}x{got_h} but the ROI is {want_w}x{want_h} base pixels")]
    WrongSize {
        /// Link or path.
        origin: String,
        /// Actual width.
        got_w: usize,
        /// Actual height.
        got_h: usize,
        /// Expected width.
        want_w: u64,
        /// Expected height.
        want_h: u64,
    },
    /// Values outside the code table.
    #[error("mask from {origin} holds values outside the label codes 0..=21: {values:?}")]
    UnknownCodes {
        /// Link or path.
        origin: String,
        /// The offending values (sorted, at most 10).
        values: Vec<u8>,
    },
}

/// The largest mask body accepted for a ROI of `width` x `height` base pixels.
pub(crate) fn mask_body_limit(width: u64, height: u64) -> u64 {
    width.saturating_mul(height).saturating_mul(2) + (1 << 20)
}

/// Reads the bytes of a mask link: `http(s)://` through `http` (a body longer than `max_body` is
/// an error), else a local path or `file://`.
pub(crate) fn fetch_bytes(
    http: &Http,
    link: &str,
    max_body: u64,
    on_bytes: &dyn Fn(u64),
) -> Result<Vec<u8>, MaskError> {
    if link.starts_with("http://") || link.starts_with("https://") {
        let req = Request::get(link).max_body(max_body);
        let resp = http.request(&req, on_bytes).map_err(|source| MaskError::Http { url: req.shown_url(), source })?;
        if !resp.is_success() {
            return Err(MaskError::Status { url: req.shown_url(), status: resp.status });
        }
        Ok(resp.body)
    } else {
        read_file(std::path::Path::new(link.strip_prefix("file://").unwrap_or(link)), max_body, on_bytes)
    }
}

/// Reads a local mask file of at most `max_body` bytes (never a FIFO waited on: see
/// [`crate::files::read`]), passing its size to `on_bytes`: for a link that is a path and for a
/// folder of masks alike.
pub(crate) fn read_file(path: &std::path::Path, max_body: u64, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>, MaskError> {
    let bytes = crate::files::read(path, max_body)
        .map_err(|source| MaskError::File { path: path.display().to_string(), source })?;
    on_bytes(bytes.len() as u64);
    Ok(bytes)
}
