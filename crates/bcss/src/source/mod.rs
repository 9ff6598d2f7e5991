//! Sources: where pixels, masks and annotations come from.
//!
//! - [`http`]: the one HTTP client (the `bcss-http` crate): one retry policy, one bounded body
//!   reader, TLS roots, secrets scrubbed, URLs redacted.
//! - [`girder`]: the DSA (Girder + large_image) REST API.
//! - [`gdc`]: the NCI Genomic Data Commons API (file search, byte ranges, resumable downloads,
//!   manifests), where the TCGA slides live.
//! - `masklink`: ground-truth mask PNGs behind per-ROI links (redirects followed).
//! - `local` (feature `openslide`): slide files on disk, read through OpenSlide as a DSA reads them.
//! - [`tiff`]: the byte layout of a TIFF/BigTIFF (IFDs, tiles, non-pixel ranges) read by ranges.
//! - [`sparse`]: a local sparse copy of a remote slide holding only the byte ranges fetched.
//! - [`annotations`]: annotation documents (elements, groups) and the ground-truth codes table.
//!
//! Invariant: this layer talks to servers and reads input files; it never writes the dataset.

pub mod annotations;
pub mod gdc;
pub mod girder;
pub use bcss_http as http;
#[cfg(feature = "openslide")]
pub mod local;
pub mod masklink;
pub mod sparse;
pub mod tiff;
