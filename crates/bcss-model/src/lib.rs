//! # bcss-model
//!
//! The shared vocabulary of bcss's crates: plain Rust types that several layers pass to each
//! other (re-exported by the library as `bcss::model`).
//!
//! ```
//! use bcss_model::{Rect, RgbImage};
//!
//! let roi: Rect = Rect { left: 100, top: 50, right: 400, bottom: 250 };
//! assert_eq!((roi.width(), roi.height()), (300, 200));
//! let image = RgbImage::filled(roi.width() as usize, roi.height() as usize, [255, 255, 255]);
//! assert_eq!(image.pixel(10, 10), [255, 255, 255]);
//! ```
//!
//! - `geometry`: [`Rect`], the one rectangle type (`Rect<u64>` of base slide pixels, `Rect<i64>`
//!   in the rasteriser's signed grid), and [`SlideGeometry`] (a slide's size, tiles, levels and
//!   native resolution).
//! - `image`: [`Image`], the one image type, 8-bit pixels in memory with the channel count as a
//!   const parameter ([`RgbImage`] = `Image<3>`, [`GrayImage`] = `Image<1>`), and
//!   [`MAX_PIXELS`], the largest image any layer allocates.
//! - `shape`: annotation [`Element`]s and their [`Shape`]s, as [`Annotations`];
//!   `annotations`: [`parse_annotations`], Girder's annotation JSON (`GET annotation/item/{id}`)
//!   into them.
//! - `codes`: [`CodeTable`], HistomicsTK's table from annotation groups to mask values (with its
//!   CSV reader), and [`NOT_A_CODE`], what a class lookup table holds for a byte that is no code.
//! - [`report`]: the vocabulary of progress and failure every long operation speaks: the
//!   [`report::Reporter`] it is handed, [`report::Outcome`], [`report::UnitFailure`],
//!   [`report::Blame`] (whose side a failure is on) and [`report::error_chain`].
//! - `time`: [`UtcTime`], seconds since 1970 as a UTC civil date.
//! - [`hex`]: the text form of a digest.
//!
//! Invariant: imports nothing from other bcss crates and does no I/O. The wire forms it reads
//! are those of its own types, from bytes or text the caller has (Girder's annotation JSON, the
//! codes CSV, `roiBounds.csv`'s column names as `Rect`'s serde names); the other wire formats are
//! read by the layer that meets them.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub(crate) mod annotations;
pub(crate) mod codes;
pub(crate) mod geometry;
pub(crate) mod image;
pub mod report;
pub(crate) mod shape;
pub(crate) mod time;

pub use annotations::{parse as parse_annotations, AnnotationError};
pub use codes::{CodeTable, CodeTableError, GroupCode, NOT_A_CODE};
pub use geometry::{Rect, SlideGeometry};
pub use image::{GrayImage, Image, RgbImage, MAX_PIXELS};
pub use shape::{Annotations, Element, Shape};
pub use time::UtcTime;

/// Lower-case hex of bytes: the text form of a digest (`md5sum`'s and `sha256sum`'s, the
/// manifest's `sha256`, the GDC's `md5sum`).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
