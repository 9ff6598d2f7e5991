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
//! 2. [`source`]: where pixels and masks come from: the DSA REST API ([`source::girder`]), mask
//!    links, annotation files, local slides.
//! 3. [`transform`]: pure geometry and pixel rules: region size, mask resize, rasterisation.
//! 4. [`codec`]: JPEG (libjpeg-turbo) and PNG.
//! 5. [`dataset`]: the layout on disk, file names, atomic writes and the manifest.
//! 6. [`command`]: the operations a user runs (`download`, ...), each taking a validated plan
//!    and a [`report::Reporter`].
//!
//! The library never prints: progress goes through [`report::Reporter`], diagnostics through
//! `tracing` events, and failures through typed errors.

#![warn(missing_docs)]

pub mod catalog;
pub mod codec;
pub mod command;
pub mod dataset;
pub mod report;
pub mod source;
pub mod transform;
