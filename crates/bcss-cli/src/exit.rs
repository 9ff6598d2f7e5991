//! Exit codes and the one place errors are printed.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the run finished but some ROIs failed, or `verify`/`eval` found problems (`eval`: a prediction missing, of the wrong size or with a value outside the map; `split --check`: a site or patient in two parts) |
//! | 2 | bad input: arguments, configuration, input files |
//! | 3 | the server: unreachable, not a Girder API, authentication, listing |
//! | 4 | the output directory: cannot be created or written, or another bcss run is writing into it (without `--wait-lock`) |

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
    /// Exit 3: the server is down, failing or refusing, with a hint of its own.
    Unavailable(anyhow::Error, &'static str),
    /// Exit 4: output.
    Output(anyhow::Error),
    /// Exit 4: another run holds the output folder's lock.
    Busy(anyhow::Error),
}

impl Failure {
    /// The one-sentence message and the hint printed for a failure; `None` for a partial
    /// failure, which the command has already reported.
    pub fn describe(&self) -> Option<(String, Option<&'static str>)> {
        let (err, hint) = match self {
            Failure::Partial => return None,
            Failure::Input(e) => (e, None),
            Failure::Server(e) => {
                (e, Some("check --api-url, the key and the network; rerunning resumes where this stopped"))
            }
            Failure::Unavailable(e, hint) => (e, Some(*hint)),
            Failure::Output(e) => (e, Some("check that --out is a writable directory with free space")),
            Failure::Busy(e) => (
                e,
                Some("two runs on one folder would break each other: wait for that run to end, or add --wait-lock to start when it does"),
            ),
        };
        Some((render_chain(err), hint))
    }

    /// The exit code.
    pub fn code(&self) -> i32 {
        match self {
            Failure::Partial => 1,
            Failure::Input(_) => 2,
            Failure::Server(_) | Failure::Unavailable(..) => 3,
            Failure::Output(_) | Failure::Busy(_) => 4,
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

/// An error and its causes as one line, `outer: cause: root`. Many library errors already
/// print their source inside their own message (so that a per-ROI reason is complete on its
/// own); a cause whose text is already in the line is not repeated, which `{:#}` would do.
pub fn render_chain(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Parses arguments, runs the command, prints a failure as one sentence, returns the exit code.
pub fn run(argv: Vec<std::ffi::OsString>) -> i32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error, bool);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            if self.1 {
                write!(f, "listing failed: {}", self.0)
            } else {
                write!(f, "listing failed")
            }
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_are_printed_once() {
        let inner = || std::io::Error::other("No such folder: f");
        let e = anyhow::Error::new(Outer(inner(), true));
        assert_eq!(render_chain(&e), "listing failed: No such folder: f");
        let e = anyhow::Error::new(Outer(inner(), false));
        assert_eq!(render_chain(&e), "listing failed: No such folder: f");
        let e = anyhow::Error::new(Outer(inner(), false)).context("cannot start");
        assert_eq!(render_chain(&e), "cannot start: listing failed: No such folder: f");
    }
}
