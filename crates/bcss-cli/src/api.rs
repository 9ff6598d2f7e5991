//! The commands as functions, for the Python package (`bcss.download(...)`, ...).
//!
//! A call is a command line: the same clap parsing, the same `config.rs` resolution and the
//! same library calls as the `bcss` command, so flags, defaults, environment variables and
//! every validation message are the CLI's. Instead of printing, a call returns the summary the
//! command prints with `--json`, or a [`CallError`] with the exit class, the one-sentence
//! message and the hint. Progress goes to the caller's [`Reporter`], which may also cancel.

use std::ffi::OsString;

use bcss::report::Reporter;
use clap::Parser;
use serde_json::Value;

use crate::cli::{Cli, Command};
use crate::commands;
use crate::exit::Failure;

/// A call that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// The CLI's exit code: 1 partial failure, 2 bad input, 3 server, 4 output.
    pub exit: i32,
    /// The one sentence the CLI prints after `error:`.
    pub message: String,
    /// The CLI's `hint:`, if any.
    pub hint: Option<String>,
    /// The summary of a run that finished with failures (exit 1).
    pub summary: Option<Value>,
}

impl CallError {
    fn from_failure(failure: Failure) -> CallError {
        let exit = failure.code();
        let (message, hint) = failure.describe().unwrap_or_default();
        tracing::error!(target: crate::logging::LOG_ONLY, error = %message, exit, "bcss stops");
        CallError { exit, message, hint: hint.map(str::to_string), summary: None }
    }

    fn partial(message: String, summary: Value) -> CallError {
        CallError { exit: 1, message, hint: None, summary: Some(summary) }
    }
}

/// Runs the command line `argv` (`argv[0]` is the program name) as a function: `download`,
/// `extract`, `verify`, `stats` and `split`. Global flags (`--json`, `--quiet`) are accepted
/// and change nothing; nothing is printed but the library's warnings on stderr.
pub fn call(argv: Vec<OsString>, reporter: &dyn Reporter) -> Result<Value, CallError> {
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        // clap's rendering: "error: <sentence>\n\n<usage or tip>"; the sentence is the message.
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first).to_string();
        CallError { exit: e.exit_code(), message, hint: None, summary: None }
    })?;
    match cli.command {
        Command::Download(args) => {
            let (plan, log) = commands::download::prepare(&args, true).map_err(CallError::from_failure)?;
            let summary = commands::download::classify(bcss::command::download::download(&plan, reporter))
                .map_err(CallError::from_failure)?;
            run_result("download", &summary, plan.get_out(), log.as_deref())
        }
        #[cfg(feature = "openslide")]
        Command::Extract(args) => {
            let (plan, log) = commands::extract::prepare(&args, true).map_err(CallError::from_failure)?;
            let summary = commands::extract::classify(bcss::command::extract::extract(&plan, reporter))
                .map_err(CallError::from_failure)?;
            run_result("extract", &summary, plan.get_out(), log.as_deref())
        }
        Command::Verify(args) => {
            let report = commands::verify::check(&args).map_err(CallError::from_failure)?;
            let value = serde_json::to_value(&report).expect("report serialises");
            if report.problems.is_empty() {
                Ok(value)
            } else {
                let n = report.problems.len();
                let message = format!(
                    "`{}` has {n} problem{}; the first: {}",
                    args.dir.display(),
                    if n == 1 { "" } else { "s" },
                    report.problems[0]
                );
                Err(CallError::partial(message, value))
            }
        }
        Command::Stats(args) => {
            let (stats, seconds) = commands::stats::compute(&args, reporter).map_err(CallError::from_failure)?;
            Ok(commands::stats::value(&args, &stats, seconds))
        }
        Command::Split(args) => {
            let done = commands::split::execute(&args).map_err(CallError::from_failure)?;
            if let commands::split::Done::Checked { file, leaks, .. } = &done {
                if !leaks.is_empty() {
                    let message = format!("`{}` leaks {} site(s)/patient(s) across parts", file.display(), leaks.len());
                    return Err(CallError::partial(message, done.value()));
                }
            }
            Ok(done.value())
        }
        other => Err(CallError {
            exit: 2,
            message: format!("`bcss {}` is not available as a function; run the `bcss` command", name(&other)),
            hint: None,
            summary: None,
        }),
    }
}

/// The summary of a `download`/`extract` run, or a partial failure carrying it.
fn run_result(
    what: &str,
    summary: &bcss::command::download::Summary,
    root: &std::path::Path,
    log: Option<&std::path::Path>,
) -> Result<Value, CallError> {
    tracing::info!(
        done = summary.done.len(),
        skipped = summary.skipped.len(),
        failed = summary.failed.len(),
        "bcss {what} ends"
    );
    let value = commands::run_value(summary, root, log);
    if !commands::run_failed(summary) {
        return Ok(value);
    }
    let slides = summary.wsis.as_ref().map_or(0, |w| w.failed.len());
    let first = summary.failed.first().map(|(roi, reason)| format!("; the first: {roi}: {reason}")).unwrap_or_default();
    let message = if slides > 0 {
        format!("{} ROI(s) and {slides} whole slide(s) failed{first}", summary.failed.len())
    } else {
        format!("{} ROI(s) failed{first}", summary.failed.len())
    };
    Err(CallError::partial(message, value))
}

fn name(command: &Command) -> &'static str {
    match command {
        Command::Download(_) => "download",
        Command::Verify(_) => "verify",
        Command::Rois(_) => "rois",
        #[cfg(feature = "openslide")]
        Command::Slides(_) => "slides",
        #[cfg(feature = "openslide")]
        Command::Extract(_) => "extract",
        Command::Masks(_) => "masks",
        Command::Classes(_) => "classes",
        Command::Split(_) => "split",
        Command::Stats(_) => "stats",
        Command::Tile(_) => "tile",
        Command::Overlay(_) => "overlay",
        Command::Normalize(_) => "normalize",
        Command::Eval(_) => "eval",
        Command::Report(_) => "report",
    }
}
