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

use clap::Parser;

/// Runs the `bcss` command line `args` (the first item is the program name) and returns the
/// process exit code (see `exit.rs` for the table). Prints like the binary does: data on
/// stdout, progress and errors on stderr; `--help` and usage errors print clap's text and
/// return 0 and 2 instead of exiting the process.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    run(args)
}

/// Parses arguments, runs the command, prints a failure as one sentence, returns the exit code.
fn run(argv: Vec<std::ffi::OsString>) -> i32 {
    let args = match crate::cli::Cli::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            // What `Cli::parse` would do, without ending the process (the Python extension
            // runs this inside the interpreter): help/version on stdout with 0, usage on stderr
            // with 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let json = args.json;
    match crate::commands::dispatch(args) {
        Ok(()) => 0,
        Err(failure) => {
            let Some((line, hint)) = failure.describe() else { return 1 };
            // Into the run's log too, when the command had opened one.
            tracing::error!(target: crate::logging::LOG_ONLY, error = %line, exit = failure.code(), "bcss stops");
            eprintln!("error: {line}");
            if let Some(h) = hint {
                eprintln!("\nhint: {h}");
            }
            if json {
                // A script reading stdout gets an answer for a fatal error too.
                let value = serde_json::json!({"error": line, "hint": hint, "exit": failure.code()});
                println!("{}", serde_json::to_string_pretty(&value).expect("serialisable error"));
            }
            failure.code()
        }
    }
}
