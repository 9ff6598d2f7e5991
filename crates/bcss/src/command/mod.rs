//! Commands: the operations a user runs, each taking a validated plan and a
//! [`Reporter`](crate::report::Reporter).
//!
//! - [`download`]: build the dataset from a DSA server.

pub mod download;
