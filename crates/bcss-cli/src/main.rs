//! The `bcss` command: [`bcss_cli::main_with_args`] with the process's arguments.

// One `unsafe` call, allowed where it is: restoring SIGPIPE.
#![deny(unsafe_code)]

fn main() {
    // Like every Unix filter: `bcss rois | head` ends quietly when `head` stops reading, instead
    // of panicking on a broken pipe (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: restoring the default disposition of a signal, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(bcss_cli::main_with_args(std::env::args_os().collect()));
}
