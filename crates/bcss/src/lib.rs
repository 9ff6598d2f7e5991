//! # bcss
//!
//! The library behind the `bcss` command: the BCSS breast-cancer semantic segmentation dataset
//! (Amgad et al., Bioinformatics 2019), rebuilt correctly from a Digital Slide Archive or from
//! local slides, and prepared for training.
//!
//! ## Brief overview
//!
//! The modules follow the data:
//!
//! 1. [`catalog`]: the ROIs, slides and label codes of the dataset (built in).
//! 2. [`source`]: where pixels and masks come from: the DSA REST API (`source::girder`), mask
//!    links, annotation files, local slides.
//! 3. [`transform`]: pure geometry and pixel rules: region size, mask resize, rasterisation.
//! 4. [`codec`]: JPEG (libjpeg-turbo) and PNG (the crate `bcss-codec`, re-exported).
//! 5. [`dataset`]: the layout on disk, file names, atomic writes and the manifest.
//! 6. [`command`]: the operations a user runs (`download`, ...), each taking a validated plan
//!    and a [`report::Reporter`].
//!
//! Under them all, [`model`] (the crate `bcss-model`, re-exported) holds the plain types they
//! pass each other: rectangles, slide geometry, images, annotation shapes and the codes table.
//!
//! The library never prints: progress goes through [`report::Reporter`], diagnostics through
//! `tracing` events, and failures through typed errors.
//!
//! ## What is public, and what it promises
//!
//! - The nine modules above are the public surface; `tests/public-api.txt` lists every public
//!   item, field, variant and method in them, every member of a public trait (and whether an
//!   implementor must write it) and every written-out trait impl (checked by the test
//!   `public_api`), so any change to the surface is a reviewed diff of that file.
//! - Every public enum is `#[non_exhaustive]`, errors and settings alike: a new variant (a new
//!   failure, a new compression level) is not a breaking change, and a `match` outside this
//!   crate needs a wildcard arm.
//! - Plans and options (`DownloadPlan`, `ExtractPlan`, `TilePlan`, `OverlayPlan`, `MasksPlan`,
//!   `ReportPlan`, the pipeline's `RoiPipeline`, `VerifyOptions`, `RasterOptions`,
//!   `CropConfig`, `GdcSettings`, `HttpConfig`) are `#[non_exhaustive]` structs with private fields, made by
//!   `new` with the values that have no sensible default (or by `Default` when all have one)
//!   and changed by chainable setters named after the setting, each documenting its default,
//!   as in the example below; a setting a caller needs to read back has a `get_` method (the
//!   convention of `std::process::Command` and clap's `Command`, whose setters hold the plain
//!   names). A new setting is a new setter with a default, not a breaking change.
//! - Inside the public modules, what only the library itself uses is `pub(crate)`: the HTTP
//!   client's plumbing (streamed bodies, retry bookkeeping, redaction), the GDC cache's range
//!   planning, the TIFF reader's limits, the resampler's coefficient tables. Items the CLI, the
//!   Python extension or the stand-in server use stay public: they are the library's own first
//!   users.
//!
//! ## Example: download three ROIs from your own DSA
//!
//! ```no_run
//! use bcss::catalog::RoiTable;
//! use bcss::codec::png::Compression;
//! use bcss::command::download::{download, DownloadPlan};
//! use bcss::report::Recorder;
//! use bcss::source::Credentials;
//! use bcss::source::http::Secret;
//! use bcss::transform::Resolution;
//!
//! let names = ["TCGA-A1-A0SK".to_string(), "TCGA-A2-A04P".to_string(), "TCGA-OL-A5RW".to_string()];
//! let (rois, unknown) = RoiTable::builtin().select(&names);
//! assert!(unknown.is_empty());
//! // Images and masks at MPP 0.25 are the defaults; the built-in slide table holds the public
//! // DSA's item ids, so another server's folder listing must not fall back to it.
//! let plan = DownloadPlan::new(rois, "BCSS")
//!     .api_url("https://dsa.example.org/api/v1")
//!     .credentials(Credentials::ApiKey(Secret::new(std::env::var("BCSS_API_KEY")?)))
//!     .folder_id(Some("5bbdeba3e629140048d017bb".into()))
//!     .fallback_to_builtin(false)
//!     .resolution(Resolution::Mpp(0.25))
//!     .jobs(4)
//!     .png(Compression::Fast);
//! let events = Recorder::default();
//! let summary = download(&plan, &events)?;
//! println!("{} done, {} failed", summary.done.len(), summary.failed.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
// `unsafe` lives in one crate, bcss-codec (its libjpeg-turbo binding).
#![forbid(unsafe_code)]

pub use bcss_catalog as catalog;
pub use bcss_codec as codec;
pub mod command;
pub use bcss_dataset as dataset;
pub use bcss_files as files;
pub use bcss_model as model;
pub mod render;
pub use bcss_model::report;
pub mod source;
pub use bcss_transform as transform;
