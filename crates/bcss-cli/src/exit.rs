//! Exit codes and the one place errors are printed.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the run finished but some ROIs failed, or `verify`/`eval` found problems (`eval`: a prediction missing, of the wrong size or with a value outside the map; `split --check`: a site or patient in two parts) |
//! | 2 | bad input: arguments, configuration, input files |
//! | 3 | the server: unreachable, not a Girder API, authentication, listing |
//! | 4 | the output directory: cannot be created or written, or another bcss run is writing into it (without `--wait-lock`) |

use bcss::report::{Blame, Blamed};

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

/// The one mapping of a library error to an exit code: its [`Blame`], which each library error
/// gives from an exhaustive match of its own variants (no catch-all arm here or there).
pub fn failure<E: Blamed>(e: E) -> Failure {
    match e.blame() {
        Blame::Input => Failure::Input(e.into()),
        Blame::Output => Failure::Output(e.into()),
        Blame::Busy => Failure::Busy(e.into()),
        Blame::Server => Failure::Server(e.into()),
    }
}

impl<E: Blamed> From<E> for Failure {
    fn from(e: E) -> Failure {
        failure(e)
    }
}

/// Shorthands to classify an error that is not a library command's (a flag's value, a file
/// the CLI reads itself).
pub trait Classify<T> {
    /// Bad input (exit 2).
    fn input(self) -> Result<T, Failure>;
    /// Output problem (exit 4).
    fn output(self) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> Classify<T> for Result<T, E> {
    fn input(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::Input(e.into()))
    }
    fn output(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::Output(e.into()))
    }
}

/// An error and its causes as one line, `outer: cause: root`: each level of the chain once,
/// joined by `: ` ([`bcss::report::error_chain`]). Every error says only its own level and
/// hands its cause on as `source()`, so nothing is repeated and nothing needs de-duplicating.
pub fn render_chain(err: &anyhow::Error) -> String {
    let levels: Vec<String> = err.chain().map(ToString::to_string).collect();
    levels.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One level of a test chain: its own fragment, its cause as `source()`.
    #[derive(Debug)]
    struct Level {
        what: &'static str,
        source: Option<Box<Level>>,
    }

    impl std::fmt::Display for Level {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.what)
        }
    }

    impl std::error::Error for Level {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.source.as_deref().map(|l| l as _)
        }
    }

    fn chain(levels: &[&'static str]) -> Option<Box<Level>> {
        levels.iter().rev().fold(None, |source, what| Some(Box::new(Level { what, source })))
    }

    #[test]
    fn a_three_level_chain_prints_each_level_once() {
        let e = anyhow::Error::new(*chain(&["cannot list folder `f`", "folder listing", "HTTP 404"]).unwrap());
        assert_eq!(render_chain(&e), "cannot list folder `f`: folder listing: HTTP 404");
    }

    #[test]
    fn context_is_one_more_level_and_equal_texts_are_kept() {
        // No de-duplication by text: two levels that happen to say the same thing are both
        // shown (the chain is the truth; a level that repeats its cause is the bug).
        let e = anyhow::Error::new(*chain(&["mask", "mask"]).unwrap()).context("cannot start");
        assert_eq!(render_chain(&e), "cannot start: mask: mask");
        let io = anyhow::Error::new(std::io::Error::other("No such folder: f"));
        assert_eq!(render_chain(&io), "No such folder: f");
    }
}
