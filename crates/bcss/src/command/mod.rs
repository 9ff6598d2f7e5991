//! Commands: the operations a user runs, each taking a validated plan and a
//! [`Reporter`](crate::report::Reporter).
//!
//! - [`download`]: build the dataset from a DSA server.
//! - `extract` (feature `openslide`): build the same dataset from slide files on disk.
//! - [`masks`]: label masks from a slide's annotation JSON (HistomicsTK's rules).
//! - [`split`]: writing a split file (the split itself is `catalog::split`).
//! - [`stats`]: class distribution per ROI and per split, class weights, a bar chart.
//! - [`tile`]: image/mask tile pairs per split with an index, masks remapped.
//! - [`normalize`]: Reinhard colour normalisation of a PNG, or of a dataset into the Drive layout.
//! - [`overlay`]: masks drawn over images with a legend, and a contact sheet.
//! - `input`: streaming a ROI's mask and image, naming the file in every error.
//! - [`report`]: one self-contained HTML page of a dataset (distribution, ROIs, gallery, scores).
//! - [`eval`]: predictions against ground truth: confusion matrix, Dice, IoU.
//! - `slides` (feature `openslide`): the GDC manifest of the catalogue's slides.

pub mod download;
pub mod eval;
#[cfg(feature = "openslide")]
pub mod extract;
pub(crate) mod input;
pub mod masks;
pub mod normalize;
pub mod overlay;
pub(crate) mod pipeline;
pub mod report;
#[cfg(feature = "openslide")]
pub mod slides;
pub mod split;
pub mod stats;
pub mod tile;
mod workers;

pub use crate::render::chart::RenderError;
pub use input::{InputError, InputProblem};
pub use pipeline::RunError;
