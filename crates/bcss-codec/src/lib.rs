//! # bcss-codec
//!
//! bcss's image codecs: decoding what servers and slides send, and writing the PNGs of a
//! dataset. The only crate of the workspace with `unsafe` (the libjpeg-turbo binding, [`jpeg`]),
//! and the one the test server builds its slides and masks with, so that it does not depend on
//! the library it tests.
//!
//! ```
//! use bcss_codec::png::{decode_rgb, write_rgb, Compression};
//! use bcss_model::RgbImage;
//!
//! let image = RgbImage::filled(3, 2, [200, 100, 50]);
//! let mut bytes = Vec::new();
//! write_rgb(&mut bytes, &image, Compression::Fast)?;
//! assert_eq!(decode_rgb(&bytes)?, image);
//! # Ok::<(), bcss_codec::CodecError>(())
//! ```
//!
//! - [`jpeg`]: JPEG through libjpeg-turbo's TurboJPEG API, so decoded pixels are exactly the ones
//!   Pillow (which links libjpeg-turbo) gave the original downloader. A pure-Rust decoder rounds
//!   differently and shifts values by 1-2 levels.
//! - [`png`]: PNG decoding (RGB, RGBA, grey) and encoding with explicit compression, through
//!   [`encoder`] (the streaming writer: adaptive filtering, libdeflate in pieces across cores,
//!   joined by `deflate`).
//! - [`label_png`]: the PNG writer of label masks (`Up` filter and deflate's run-length strategy
//!   at the default level).
//! - `rows`: PNG decoding row by row, for passes whose memory must not grow with the image.
//!
//! [`sniff`] tells formats apart by magic bytes, not by `Content-Type`.
//!
//! Every decoder reads the header first and compares the size it announces with a
//! [`SizeLimit`] (an exact size, or at most a number of pixels) **before** allocating a pixel
//! buffer: a hostile or corrupt file that claims billions of pixels is an error, not an
//! allocation that ends the process. The functions without a limit use
//! [`SizeLimit::default`] (at most [`MAX_PIXELS`]).
//!
//! Invariant: pure transformations of bytes in memory or through `Read`/`Write`; no file system.

#![deny(missing_docs)]
// `unsafe` lives in one module, the libjpeg-turbo binding (`jpeg`), allowed there.
#![deny(unsafe_code)]

pub(crate) mod deflate;
pub mod encoder;
pub(crate) mod huffman;
#[allow(unsafe_code)]
pub mod jpeg;
pub mod label_png;
pub mod png;
pub mod rows;

/// The image types the codecs read and write (`bcss_model`'s), here for the codecs' users.
pub use bcss_model::{GrayImage, RgbImage, MAX_PIXELS};

/// The size a decoder accepts, checked against the header before any pixel is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SizeLimit {
    /// Exactly `width x height` pixels (a ROI's mask, a planned region). A size over
    /// [`MAX_PIXELS`] is refused even when asked for.
    Exactly {
        /// Expected width.
        width: u64,
        /// Expected height.
        height: u64,
    },
    /// Any size of at most this many pixels (and never over [`MAX_PIXELS`]).
    AtMost(u64),
}

impl Default for SizeLimit {
    /// At most [`MAX_PIXELS`]: for inputs whose size nothing predicts.
    fn default() -> Self {
        SizeLimit::AtMost(MAX_PIXELS)
    }
}

impl SizeLimit {
    /// Whether an image of `width x height` (from its header) may be decoded.
    ///
    /// ```
    /// use bcss_codec::{SizeLimit, CodecError};
    ///
    /// assert!(SizeLimit::Exactly { width: 3, height: 2 }.check(3, 2).is_ok());
    /// assert!(matches!(SizeLimit::Exactly { width: 3, height: 2 }.check(2, 3), Err(CodecError::WrongSize { .. })));
    /// assert!(matches!(SizeLimit::default().check(60000, 2147483647), Err(CodecError::TooLarge { .. })));
    /// ```
    pub fn check(self, width: usize, height: usize) -> Result<(), CodecError> {
        let pixels = (width as u64).saturating_mul(height as u64);
        let max = match self {
            SizeLimit::Exactly { width: w, height: h } => {
                if (width as u64, height as u64) != (w, h) {
                    return Err(CodecError::WrongSize { width, height, want_w: w, want_h: h });
                }
                MAX_PIXELS
            }
            SizeLimit::AtMost(n) => n.min(MAX_PIXELS),
        };
        if pixels > max {
            return Err(CodecError::TooLarge { width, height, max });
        }
        Ok(())
    }
}

/// Image container formats bcss reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
}

/// The format of an encoded image, from its first bytes.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(Format::Png)
    } else {
        None
    }
}

/// Why an image could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The body is empty.
    #[error("the image is empty (0 bytes)")]
    Empty,
    /// Neither JPEG nor PNG.
    #[error("the data is neither JPEG nor PNG (starts with {0})")]
    UnknownFormat(String),
    /// libjpeg-turbo refused the data.
    #[error("invalid JPEG: {0}")]
    Jpeg(String),
    /// Reading the encoded data failed (a row decoder's reader: an HTTP body cut off, a
    /// deadline, a body over its limit); the reader's error is the source.
    #[error("reading the encoded image failed")]
    Read(#[source] std::io::Error),
    /// The PNG decoder refused the data.
    #[error("invalid PNG")]
    PngDecode(#[from] ::png::DecodingError),
    /// Writing a PNG failed underneath the encoder: always `IoError` (kept in the `png` crate's
    /// type, which callers match to pass "No space left on device" on as itself).
    #[error("failed to encode PNG")]
    PngEncode(#[from] ::png::EncodingError),
    /// The PNG encoder refused its input (a size, a channel count, a row count).
    #[error("failed to encode PNG")]
    Encode(#[source] png::EncodeError),
    /// A PNG of a kind bcss does not read.
    #[error("unsupported PNG: {0}")]
    Unsupported(String),
    /// An interlaced PNG, which cannot be read row by row (`rows::RowReader`).
    #[error("unsupported PNG: interlaced PNG (re-save it without interlacing)")]
    Interlaced,
    /// The header announces another size than the one expected (nothing was decoded).
    #[error("the image is {width}x{height} pixels but {want_w}x{want_h} were expected")]
    WrongSize {
        /// Width in the header.
        width: usize,
        /// Height in the header.
        height: usize,
        /// Expected width.
        want_w: u64,
        /// Expected height.
        want_h: u64,
    },
    /// The header announces more pixels than allowed (nothing was decoded).
    #[error("the image is {width}x{height} pixels, over the limit of {max} pixels; refusing to decode it")]
    TooLarge {
        /// Width in the header.
        width: usize,
        /// Height in the header.
        height: usize,
        /// The limit.
        max: u64,
    },
}

impl From<png::EncodeError> for CodecError {
    fn from(e: png::EncodeError) -> CodecError {
        match e {
            png::EncodeError::Io(io) => CodecError::PngEncode(::png::EncodingError::IoError(io)),
            other => CodecError::Encode(other),
        }
    }
}

/// Encoding into a file fails like the file does: an I/O error underneath the PNG encoder comes
/// back as itself (so "No space left on device" reaches the user), anything else as `Other`.
impl From<CodecError> for std::io::Error {
    fn from(e: CodecError) -> std::io::Error {
        match e {
            CodecError::PngEncode(::png::EncodingError::IoError(io)) => io,
            other => std::io::Error::other(other),
        }
    }
}

/// Decodes a JPEG or PNG body to RGB (alpha dropped), choosing the decoder by magic bytes; at
/// most [`MAX_PIXELS`].
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, CodecError> {
    decode_rgb_within(bytes, SizeLimit::default())
}

/// [`decode_rgb`] of an image whose header must satisfy `limit` (checked before decoding).
pub fn decode_rgb_within(bytes: &[u8], limit: SizeLimit) -> Result<RgbImage, CodecError> {
    match sniff(bytes) {
        Some(Format::Jpeg) => jpeg::decode_rgb_within(bytes, limit),
        Some(Format::Png) => png::decode_rgb_within(bytes, limit),
        None if bytes.is_empty() => Err(CodecError::Empty),
        None => Err(CodecError::UnknownFormat(hex_prefix(bytes))),
    }
}

/// Reads width and height from a JPEG or PNG header without decoding pixels.
pub fn dimensions(bytes: &[u8]) -> Result<(usize, usize), CodecError> {
    match sniff(bytes) {
        Some(Format::Jpeg) => jpeg::dimensions(bytes),
        Some(Format::Png) => png::dimensions(bytes),
        None if bytes.is_empty() => Err(CodecError::Empty),
        None => Err(CodecError::UnknownFormat(hex_prefix(bytes))),
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("`{}`", head.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(Format::Png));
        assert_eq!(sniff(b"{\"message\""), None);
        assert!(matches!(decode_rgb(b""), Err(CodecError::Empty)));
        let err = decode_rgb(b"<html>").unwrap_err().to_string();
        assert!(err.contains("3c 68 74 6d 6c 3e"), "{err}");
    }

    #[test]
    fn an_input_the_encoder_refuses_is_the_cause_said_once() {
        let refused = png::PngWriter::new(Vec::new(), 4, 4, 5, png::Compression::Fast).err().unwrap();
        let err = CodecError::from(refused);
        assert!(matches!(err, CodecError::Encode(_)));
        let cause = std::error::Error::source(&err).map(|c| c.to_string()).unwrap_or_default();
        assert_eq!(format!("{err}: {cause}"), "failed to encode PNG: a PNG cannot hold 5 channels");
    }
}
