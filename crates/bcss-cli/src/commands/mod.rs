//! One module per command: turn validated settings into a library call and report the result.

mod classes;
mod download;
mod eval;
#[cfg(feature = "openslide")]
mod extract;
mod inputs;
mod masks;
mod overlay;
mod split;
mod stats;
mod tile;
mod verify;

use crate::cli::{Cli, Command};
use crate::exit::Failure;

/// Output switches shared by every command.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--quiet`.
    pub quiet: bool,
    /// `--json`.
    pub json: bool,
    /// Show bars.
    pub progress: bool,
}

/// Runs the chosen command.
pub fn dispatch(cli: Cli) -> Result<(), Failure> {
    let out = Output { quiet: cli.quiet, json: cli.json, progress: !(cli.quiet || cli.no_progress || cli.json) };
    match cli.command {
        Command::Download(args) => download::run(&args, out),
        Command::Verify(args) => verify::run(&args, out),
        #[cfg(feature = "openslide")]
        Command::Extract(args) => extract::run(&args, out),
        Command::Masks(args) => masks::run(&args, out),
        Command::Classes(args) => classes::run(&args, out),
        Command::Split(args) => split::run(&args, out),
        Command::Stats(args) => stats::run(&args, out),
        Command::Tile(args) => tile::run(&args, out),
        Command::Overlay(args) => overlay::run(&args, out),
        Command::Eval(args) => eval::run(&args, out),
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).expect("serialisable summary"));
}
