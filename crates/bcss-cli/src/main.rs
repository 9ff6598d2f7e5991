//! The `bcss` command. Glue only: parse, validate, call the library, report.

mod cli;
mod commands;
mod config;
mod exit;
mod logging;
mod progress;

fn main() {
    // Like every Unix filter: `bcss rois | head` ends quietly when `head` stops reading, instead
    // of panicking on a broken pipe (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of a signal, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(exit::run());
}
