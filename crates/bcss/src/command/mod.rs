//! Commands: the operations a user runs, each taking a validated plan and a
//! [`Reporter`](crate::report::Reporter).
//!
//! - [`download`]: build the dataset from a DSA server.
//! - [`stats`]: class distribution per ROI and per split, class weights, a bar chart.
//! - [`tile`]: image/mask tile pairs per split with an index, masks remapped.
//! - [`overlay`]: masks drawn over images with a legend, and a contact sheet.
//! - [`input`]: streaming a ROI's mask and image, naming the file in every error.
//! - [`eval`]: predictions against ground truth: confusion matrix, Dice, IoU.

pub mod download;
pub mod eval;
pub mod input;
pub mod overlay;
pub mod stats;
pub mod tile;
