#![deny(missing_docs)]
#![forbid(unsafe_code)]

//! The byte layout of a TIFF slide and the byte ranges a read of it needs, so that a slide on a
//! remote server (the NCI GDC) can be read by byte ranges: fetch what [`open_ranges`] and
//! [`tiles_for`] name into a sparse local file, and OpenSlide reads that file like the
//! original.
//!
//! - [`parse`] walks a TIFF or BigTIFF (either byte order) through a `read_at(offset, len)`
//!   callback, so it works over HTTP ranges as well as on a file, and returns a [`Layout`]:
//!   every non-pixel byte range, and per directory its size, tiling, compression and the
//!   offsets and byte counts of its tiles or strips. What a file claims is bounded before it
//!   is read ([`MAX_METADATA`], [`MAX_TILE_SIDE`], [`max_tile_bytes`]); [`validate`] checks a
//!   kept layout against the same limits.
//! - [`plan`] turns a layout into byte ranges and budgets: what opening the slide needs, the
//!   tiles of a rectangle of one level (refusing compressions whose missing tiles would decode
//!   silently as zeros), and the most either may fetch.
//!
//! The crate does no I/O of its own: bytes come in through the caller's callback.
//!
//! ```
//! // A little-endian classic TIFF: the header, one directory (four tags: a 1x1 image in one
//! // strip of 3 bytes at offset 62), then the pixel.
//! let mut tiff = b"II*\0\x08\0\0\0".to_vec();
//! tiff.extend(4u16.to_le_bytes());
//! for (tag, kind, value) in [(256u16, 3u16, 1u32), (257, 3, 1), (273, 4, 62), (279, 4, 3)] {
//!     tiff.extend(tag.to_le_bytes());
//!     tiff.extend(kind.to_le_bytes()); // 3 SHORT, 4 LONG
//!     tiff.extend(1u32.to_le_bytes()); // one value, held in the entry
//!     tiff.extend(value.to_le_bytes());
//! }
//! tiff.extend(0u32.to_le_bytes()); // no next directory
//! tiff.extend([200, 100, 150]);
//! let mut read_at = |offset: u64, len: u64| -> Result<Vec<u8>, std::io::Error> {
//!     let end = (offset + len).min(tiff.len() as u64);
//!     Ok(tiff[offset as usize..end as usize].to_vec())
//! };
//! let layout = bcss_tiff::parse(tiff.len() as u64, &mut read_at).unwrap();
//! assert_eq!((layout.ifds[0].width, layout.ifds[0].height), (1, 1));
//! assert!(layout.tiled_levels().is_empty(), "a strip, not tiles");
//! // Its tiles cannot be planned: a stripped level is read whole.
//! let one = bcss_model::Rect { left: 0, top: 0, right: 1, bottom: 1 };
//! assert_eq!(bcss_tiff::tiles_for(&layout, 0, one), Err(bcss_tiff::PlanError::NotTiled { ifd: 0 }));
//! ```

mod layout;
pub mod plan;

pub use layout::{
    max_tile_bytes, merge, parse, validate, Ifd, Layout, TiffError, LOUD_COMPRESSIONS, MAX_METADATA, MAX_TILE_SIDE,
};
pub use plan::{
    coalesce, metadata_ranges, open_budget, open_ranges, probe_ranges, read_budget, smallest_level_ranges, tiles_for,
    PlanError, MAX_GAP, MAX_REQUEST,
};
