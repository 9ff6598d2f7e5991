//! Exit codes and the one place errors are printed.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the run finished but some ROIs failed, or `verify`/`eval` found problems (`eval`: a prediction missing, of the wrong size or with a value outside the map; `split --check`: a site or patient in two parts) |
//! | 2 | bad input: arguments, configuration, input files |
//! | 3 | the server: unreachable, not a Girder API, authentication, listing |
//! | 4 | the output directory: cannot be created or written |

use clap::Parser;

/// A failure the user can act on, with its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: partial failure, already reported.
    Partial,
    /// Exit 2: bad input.
    Input(anyhow::Error),
    /// Exit 3: server.
    Server(anyhow::Error),
    /// Exit 4: output.
    Output(anyhow::Error),
}

impl Failure {
    fn code(&self) -> i32 {
        match self {
            Failure::Partial => 1,
            Failure::Input(_) => 2,
            Failure::Server(_) => 3,
            Failure::Output(_) => 4,
        }
    }
}

/// Shorthands to classify an error.
pub trait Classify<T> {
    /// Bad input (exit 2).
    fn input(self) -> Result<T, Failure>;
    /// Server problem (exit 3).
    fn server(self) -> Result<T, Failure>;
    /// Output problem (exit 4).
    fn output(self) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> Classify<T> for Result<T, E> {
    fn input(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::Input(e.into()))
    }
    fn server(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::Server(e.into()))
    }
    fn output(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::Output(e.into()))
    }
}

/// Parses arguments, runs the command, prints a failure as one sentence, returns the exit code.
pub fn run() -> i32 {
    let args = crate::cli::Cli::parse();
    match crate::commands::dispatch(args) {
        Ok(()) => 0,
        Err(failure) => {
            let (err, hint) = match &failure {
                Failure::Partial => return 1,
                Failure::Input(e) => (e, None),
                Failure::Server(e) => (e, Some("check --api-url, the key and the network; rerunning resumes where this stopped")),
                Failure::Output(e) => (e, Some("check that --out is a writable directory with free space")),
            };
            eprintln!("error: {err:#}");
            if let Some(h) = hint {
                eprintln!("\nhint: {h}");
            }
            failure.code()
        }
    }
}
