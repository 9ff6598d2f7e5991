//! Commands: the operations a user runs, each taking a validated plan and a
//! [`Reporter`](crate::report::Reporter).
//!
//! - [`download`]: build the dataset from a DSA server.
//! - `extract` (feature `openslide`): build the same dataset from slide files on disk.

pub mod download;
#[cfg(feature = "openslide")]
pub mod extract;
