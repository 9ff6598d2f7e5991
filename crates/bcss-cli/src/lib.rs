//! The `bcss` command as a library: the binary (`main.rs`) and the Python extension
//! (`crates/bcss-py`) both run [`main_with_args`], so there is one CLI. Glue only: parse,
//! validate, call the library, report.

#![forbid(unsafe_code)]

pub mod api;
mod cli;
mod commands;
mod config;
mod exit;
mod logging;
mod progress;

use std::ffi::OsString;

/// Runs the `bcss` command line `args` (the first item is the program name) and returns the
/// process exit code (see `exit.rs` for the table). Prints like the binary does: data on
/// stdout, progress and errors on stderr; `--help` and usage errors print clap's text and
/// return 0 and 2 instead of exiting the process.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    exit::run(args)
}
