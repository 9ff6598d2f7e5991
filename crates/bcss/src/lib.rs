//! # bcss
//!
//! The library behind the `bcss` command: the BCSS breast-cancer semantic segmentation dataset
//! (Amgad et al., Bioinformatics 2019), rebuilt correctly from a Digital Slide Archive or from
//! local slides, and prepared for training.
//!
//! ## Brief overview
//!
//! The modules follow the data; most are crates of their own, re-exported here:
//!
//! 1. [`catalog`] (`bcss-catalog`): the ROIs, slides and label codes of the dataset (built in),
//!    class maps and the official splits.
//! 2. [`source`]: where pixels and masks come from (the DSA REST API, the GDC, mask links,
//!    local slides). The clients are this crate's machinery; public are the HTTP client's
//!    settings ([`source::http`], `bcss-http`), a slide file read as a DSA reads it
//!    (`source::LocalSlide`, feature `openslide`) and the errors command errors carry.
//! 3. [`transform`] (`bcss-transform`): pure geometry and pixel rules, exact to Pillow,
//!    scikit-image, large_image and HistomicsTK: region size, resampling, mask resize,
//!    rasterisation, Reinhard normalisation.
//! 4. [`codec`] (`bcss-codec`): JPEG (libjpeg-turbo) and PNG.
//! 5. [`dataset`] (`bcss-dataset`): the layout on disk, file names, atomic writes, the manifest,
//!    verification, and the training-loop API.
//! 6. [`command`]: the operations a user runs (`download`, ...), each taking a validated plan
//!    and a [`report::Reporter`].
//!
//! Under them all, [`model`] (`bcss-model`) holds the plain types they pass each other
//! (rectangles, slide geometry, images, annotation shapes, the codes table) and [`report`] the
//! vocabulary of progress and failure; [`files`] (`bcss-files`) is the one place a file is
//! opened by path.
//!
//! The library never prints: progress goes through [`report::Reporter`], diagnostics through
//! `tracing` events, and failures through typed errors.
//!
//! ## What is public, and what it promises
//!
//! - Each crate's public surface is the list in its `tests/public-api.txt` (every public item,
//!   field, variant and method, every member of a public trait and every written-out trait
//!   impl, checked by the test `public_api`), so any change to a surface is a reviewed diff.
//!   This crate's own list is the commands and what the sources show a user; the crates it
//!   re-exports are one line each.
//! - Every public enum is `#[non_exhaustive]`, errors and settings alike, but the closed sets
//!   a crate above matches exhaustively (`transform::{Resolution, Mode}`, `report::Outcome`,
//!   `dataset::pairs::LayoutKind`): a new variant (a new failure, a new compression level) is
//!   not a breaking change, and a `match` outside its crate needs a wildcard arm.
//! - Plans and options (`DownloadPlan`, `ExtractPlan`, `TilePlan`, `OverlayPlan`, `MasksPlan`,
//!   `ReportPlan`, `VerifyOptions`, `RasterOptions`, `CropConfig`, `GdcSettings`, `HttpConfig`)
//!   are `#[non_exhaustive]` structs with private fields, made by
//!   `new` with the values that have no sensible default (or by `Default` when all have one)
//!   and changed by chainable setters named after the setting, each documenting its default,
//!   as in the example below; a setting a caller needs to read back has a `get_` method (the
//!   convention of `std::process::Command` and clap's `Command`, whose setters hold the plain
//!   names). A new setting is a new setter with a default, not a breaking change.
//! - What only this crate uses is private: the DSA and GDC clients, the sparse copies of
//!   remote slides, the ROI pipeline, the pictures (`render`). A type of theirs that reaches a
//!   user (an error a command returns, a field of a summary) is re-exported where it is met;
//!   the lint `unnameable_types` keeps it so.
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
#![warn(unnameable_types)]
// `unsafe` lives in one crate, bcss-codec (its libjpeg-turbo binding).
#![forbid(unsafe_code)]

pub use bcss_catalog as catalog;
pub use bcss_codec as codec;
pub mod command;
pub use bcss_dataset as dataset;
pub use bcss_files as files;
pub use bcss_model as model;
mod render;
pub use bcss_model::report;
pub mod source;
pub use bcss_transform as transform;
