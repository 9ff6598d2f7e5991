//! Commands: the operations a user runs, each taking a validated plan and a
//! [`Reporter`](crate::report::Reporter).
//!
//! - [`download`]: build the dataset from a DSA server.
//! - `extract` (feature `openslide`): build the same dataset from slide files on disk.

//! - [`masks`]: label masks from a slide's annotation JSON (HistomicsTK's rules).

pub mod download;
#[cfg(feature = "openslide")]
pub mod extract;
pub mod masks;
mod workers;
