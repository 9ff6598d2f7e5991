//! Sources: where pixels, masks and annotations come from.
//!
//! Public here is what a user of the library meets: the HTTP client's settings and errors
//! ([`http`], the `bcss-http` crate), a slide
//! file read as a DSA reads it (`LocalSlide`, feature `openslide`), and the errors of the
//! sources that command errors carry. The clients themselves are the commands' machinery:
//!
//! - `girder`: the DSA (Girder + large_image) REST API.
//! - `gdc`: the NCI Genomic Data Commons API (file search, byte ranges, resumable downloads,
//!   manifests), where the TCGA slides live.
//! - `masklink`: ground-truth mask PNGs behind per-ROI links (redirects followed).
//! - `local` (feature `openslide`): slide files on disk, read through OpenSlide as a DSA reads them.
//! - `sparse`: a local sparse copy of a remote slide holding only the byte ranges fetched
//!   (planned by the `bcss-tiff` crate from the slide's TIFF layout).
//!
//! Invariant: this layer talks to servers and reads input files; it never writes the dataset.

#[cfg(feature = "openslide")]
pub(crate) mod gdc;
pub(crate) mod girder;
pub use bcss_http as http;
#[cfg(feature = "openslide")]
pub(crate) mod local;
pub(crate) mod masklink;
#[cfg(feature = "openslide")]
pub(crate) mod sparse;

/// The public GDC API.
pub const DEFAULT_GDC_URL: &str = "https://api.gdc.cancer.gov";

#[cfg(feature = "openslide")]
pub use gdc::{GdcError, GdcFile, ManifestParseError};
pub use girder::{Credentials, GirderError, Step as GirderStep};
#[cfg(feature = "openslide")]
pub use local::{LevelRect, LocalError, LocalSlide};
