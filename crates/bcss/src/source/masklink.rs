//! Ground-truth masks behind per-ROI links.
//!
//! The published masks are PNGs at base (scan) resolution, one per ROI, pixel value = label code.
//! `fetch_bytes` downloads one (following redirects, without any DSA credentials); the pipeline
//! decodes it a band of rows at a time and checks it before anyone uses it: the size must be the
//! ROI's base size and every value a known code. The size is checked from the PNG header, before
//! a pixel is decoded (as [`decode_mask`] does for a whole mask), so a file claiming billions of
//! pixels costs nothing. A link may also be a
//! local path or `file://` URL (mirrors, tests); an `http(s)` link that redirects to anything but
//! `http(s)` is refused, not followed.
//!
//! A downloaded mask may be at most `mask_body_limit` of the ROI's base size: 2 bytes per base
//! pixel + 1 MiB (an incompressible grey PNG is 1 byte per pixel plus a filter byte per row and
//! a few bytes per 64 KiB of zlib; the MiB covers the chunks around).

use super::http::{Http, HttpError, Request};
use crate::catalog::{codes, Roi};
use crate::codec::{self, CodecError, SizeLimit};
use crate::model::GrayImage;

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

/// Checks a decoded mask against its ROI: base size and known codes only.
pub fn check_mask(mask: &GrayImage, roi: &Roi, origin: &str) -> Result<(), MaskError> {
    if mask.width as u64 != roi.width() || mask.height as u64 != roi.height() {
        return Err(MaskError::WrongSize {
            origin: origin.to_string(),
            got_w: mask.width,
            got_h: mask.height,
            want_w: roi.width(),
            want_h: roi.height(),
        });
    }
    check_codes(mask, origin)
}

/// Checks that every value of a mask is a known label code.
pub(crate) fn check_codes(mask: &GrayImage, origin: &str) -> Result<(), MaskError> {
    let mut seen = [false; 256];
    for &v in &mask.data {
        seen[v as usize] = true;
    }
    let values: Vec<u8> = (0..=255u8).filter(|&v| seen[v as usize] && !codes::is_known(v)).take(10).collect();
    if values.is_empty() {
        Ok(())
    } else {
        Err(MaskError::UnknownCodes { origin: origin.to_string(), values })
    }
}

/// The largest mask body accepted for a ROI of `width` x `height` base pixels.
pub(crate) fn mask_body_limit(width: u64, height: u64) -> u64 {
    width.saturating_mul(height).saturating_mul(2) + (1 << 20)
}

/// Decodes the mask PNG of `roi` from `origin` (a link or path, for errors) and checks it: a
/// header size other than the ROI's base size is [`MaskError::WrongSize`] before anything is
/// decoded, then every value must be a known code.
pub fn decode_mask(bytes: &[u8], roi: &Roi, origin: &str) -> Result<GrayImage, MaskError> {
    let limit = SizeLimit::Exactly { width: roi.width(), height: roi.height() };
    let mask = codec::png::decode_gray_within(bytes, limit).map_err(|source| match source {
        CodecError::WrongSize { width, height, want_w, want_h } => {
            MaskError::WrongSize { origin: origin.to_string(), got_w: width, got_h: height, want_w, want_h }
        }
        source => MaskError::Decode { origin: origin.to_string(), source },
    })?;
    check_codes(&mask, origin)?;
    Ok(mask)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn roi(w: u64, h: u64) -> Roi {
        Roi { id: "TCGA-AA-AAAA-DX1".into(), xmin: 10, ymin: 20, xmax: 10 + w, ymax: 20 + h, mask_link: None }
    }

    #[test]
    fn checks_size_and_codes() {
        let ok = GrayImage { width: 3, height: 2, data: vec![0, 1, 2, 21, 0, 0] };
        check_mask(&ok, &roi(3, 2), "m").unwrap();
        let err = check_mask(&ok, &roi(3, 3), "m").unwrap_err().to_string();
        assert!(err.contains("3x2 but the ROI is 3x3"), "{err}");
        let bad = GrayImage { width: 3, height: 2, data: vec![0, 1, 22, 255, 0, 0] };
        let err = check_mask(&bad, &roi(3, 2), "m").unwrap_err();
        assert!(matches!(err, MaskError::UnknownCodes { ref values, .. } if values == &vec![22, 255]));
    }

    #[test]
    fn decoding_checks_the_header_against_the_roi() {
        let mut png = Vec::new();
        let mask = GrayImage { width: 3, height: 2, data: vec![0, 1, 2, 21, 0, 0] };
        codec::png::write_gray(&mut png, &mask, codec::png::Compression::Fast).unwrap();
        assert_eq!(decode_mask(&png, &roi(3, 2), "m").unwrap(), mask);
        let err = decode_mask(&png, &roi(2, 3), "m").unwrap_err();
        assert!(matches!(err, MaskError::WrongSize { got_w: 3, got_h: 2, want_w: 2, want_h: 3, .. }), "{err}");
        let err = decode_mask(b"not a png", &roi(3, 2), "m").unwrap_err();
        assert!(matches!(err, MaskError::Decode { .. }), "{err}");
    }
}
