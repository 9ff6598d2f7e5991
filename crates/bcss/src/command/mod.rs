//! Commands: the operations a user runs, each taking a validated plan and a
//! [`Reporter`](crate::report::Reporter).
//!
//! - [`download`]: build the dataset from a DSA server.
//! - [`masks`]: label masks from a slide's annotation JSON (HistomicsTK's rules).

pub mod download;
pub mod masks;
