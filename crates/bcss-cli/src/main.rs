//! The `bcss` command. Glue only: parse, validate, call the library, report.

mod cli;
mod commands;
mod config;
mod exit;
mod logging;
mod progress;

fn main() {
    std::process::exit(exit::run());
}
