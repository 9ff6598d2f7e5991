//! One ROI pipeline behind every command that builds the dataset (`download`, `extract`, and
//! `download --source gdc`).
//!
//! A command supplies two small interfaces and the pipeline does the rest:
//!
//! - [`Pixels`]: where the region pixels come from. [`DsaPixels`] asks a DSA's
//!   `tiles/region` endpoint; `LocalPixels` (feature `openslide`) reads slide files on disk;
//!   `GdcPixels` (feature `openslide`) reads the slide files on the GDC by byte ranges into a
//!   sparse local copy and then reads that copy like a local file.
//! - [`BaseMasks`]: where a ROI's base-resolution mask comes from: the published mask links
//!   ([`LinkMasks`]), a directory of PNGs ([`DirMasks`]), annotation JSON files
//!   ([`AnnotationFileMasks`]) or the slide's own annotations on the server
//!   ([`SlideAnnotationMasks`]).
//!
//! [`run`] owns everything else, in a root the command has locked ([`DatasetLock`](crate::dataset::DatasetLock)
//! (crate::dataset::DatasetLock), one writer per root): the output layout, stale temporary files,
//! the manifest (names checked against one resolution per root, in the manifest and on disk, every planned ROI recorded with the first ROI written), the
//! per-ROI fingerprint and resume (complete files skipped, only missing parts fetched), the
//! worker threads, planning each region ([`plan_region`](crate::transform::plan_region)) and
//! refusing clipped or absurd outputs, content retries, the nearest-neighbour mask resize, atomic
//! writes and the per-ROI manifest record.

mod contract;
mod errors;
#[cfg(feature = "openslide")]
mod gdc;
mod masks;
mod pixels;
mod run;

pub use contract::{BaseMasks, Pixels};
#[cfg(feature = "openslide")]
pub use contract::{RowSink, SlideHandle};
#[cfg(feature = "openslide")]
pub use errors::RoiError;

#[cfg(feature = "openslide")]
pub use gdc::{cache_dir, download_wsis, find_gdc_slides, wsis_dir, GdcPixels, GdcSlidesError};
#[cfg(feature = "openslide")]
pub use masks::{AnnotationFileMasks, DirMasks, MaskSetupError};
pub use masks::{LinkMasks, SlideAnnotationMasks};
#[cfg(feature = "openslide")]
pub use pixels::LocalPixels;
pub use pixels::{DsaPixels, Encoding};
pub use run::{run, Parts, PipelinePart, RoiPipeline, RunError, Summary};
