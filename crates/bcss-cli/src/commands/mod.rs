//! One module per command: turn validated settings into a library call and report the result.

mod classes;
pub mod download;
mod eval;
#[cfg(feature = "openslide")]
pub mod extract;
pub mod inputs;
mod masks;
mod normalize;
mod overlay;
mod report;
mod rois;
#[cfg(feature = "openslide")]
mod slides;
pub mod split;
pub mod stats;
mod tile;
pub mod verify;

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
        Command::Rois(args) => rois::run(&args, out),
        #[cfg(feature = "openslide")]
        Command::Slides(args) => slides::run(&args, out),
        #[cfg(feature = "openslide")]
        Command::Extract(args) => extract::run(&args, out),
        Command::Masks(args) => masks::run(&args, out),
        Command::Classes(args) => classes::run(&args, out),
        Command::Split(args) => split::run(&args, out),
        Command::Stats(args) => stats::run(&args, out),
        Command::Tile(args) => tile::run(&args, out),
        Command::Overlay(args) => overlay::run(&args, out),
        Command::Normalize(args) => normalize::run(&args, out),
        Command::Eval(args) => eval::run(&args, out),
        Command::Report(args) => report::run(&args, out),
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).expect("serialisable summary"));
}

/// The `--json` summary of a `download` or `extract` run: the library's summary plus the
/// dataset root and the run's log.
pub fn run_value(
    summary: &bcss::command::download::Summary,
    root: &std::path::Path,
    log: Option<&std::path::Path>,
) -> serde_json::Value {
    let mut value = serde_json::to_value(summary).expect("summary serialises");
    value["out"] = serde_json::json!(root.display().to_string());
    value["log"] = serde_json::json!(log.map(|p| p.display().to_string()));
    value
}

/// True when a run left ROIs (or whole slides) failed: exit 1.
pub fn run_failed(summary: &bcss::command::download::Summary) -> bool {
    !summary.failed.is_empty() || summary.wsis.as_ref().is_some_and(|w| !w.failed.is_empty())
}

/// Reports the end of a `download` or `extract` run: the JSON summary or one line, then each
/// failed ROI with its reason. `Err(Partial)` (exit 1) when any ROI failed.
pub fn finish_run(
    what: &str,
    summary: &bcss::command::download::Summary,
    root: &std::path::Path,
    log: Option<std::path::PathBuf>,
    out: Output,
) -> Result<(), Failure> {
    tracing::info!(
        done = summary.done.len(),
        skipped = summary.skipped.len(),
        failed = summary.failed.len(),
        "bcss {what} ends"
    );
    if out.json {
        print_json(&run_value(summary, root, log.as_deref()));
    } else if !out.quiet {
        if let Some(w) = &summary.wsis {
            eprintln!(
                "whole slides: {} downloaded, {} skipped (already complete), {} failed, {:.1} MB in {:.1} s -> {}",
                w.done.len(),
                w.skipped.len(),
                w.failed.len(),
                w.bytes as f64 / 1e6,
                w.seconds,
                root.join("wsis").display()
            );
        }
        let mut received =
            if summary.bytes > 0 { format!(", {:.1} MB read", summary.bytes as f64 / 1e6) } else { String::new() };
        if let Some(total) = summary.slide_bytes.filter(|t| *t > 0) {
            received.push_str(&format!(
                " ({:.2}% of the {:.1} MB of slide files)",
                100.0 * summary.bytes as f64 / total as f64,
                total as f64 / 1e6
            ));
        }
        eprintln!(
            "{} done, {} skipped (already complete), {} failed{received} in {:.1} s -> {}",
            summary.done.len(),
            summary.skipped.len(),
            summary.failed.len(),
            summary.seconds,
            root.display()
        );
    }
    let slides_failed = summary.wsis.as_ref().map_or(&[][..], |w| &w.failed[..]);
    if summary.failed.is_empty() && slides_failed.is_empty() {
        return Ok(());
    }
    // The failures on stderr always, --json and --quiet too (stdout has them as data; quiet
    // keeps errors): the only place a terminal shows why, since a ROI's failure is not logged to
    // stderr as it happens.
    for line in failure_lines("whole slide ", "whole slides", slides_failed) {
        eprintln!("failed: {line}");
    }
    for line in failure_lines("", "ROIs", &summary.failed) {
        eprintln!("failed: {line}");
    }
    if !out.json {
        let lasting = summary.lasting.len() + summary.wsis.as_ref().map_or(0, |w| w.lasting.len());
        let all = summary.failed.len() + slides_failed.len();
        if lasting < all {
            let which = if lasting == 0 { "the failed ROIs" } else { "the failures a rerun may fix" };
            eprintln!("\nhint: rerun the same command to retry {which}; completed ones are skipped");
        }
        if lasting > 0 {
            eprintln!(
                "\nhint: {lasting} failure(s) will not change on a rerun alone (a missing slide or file, an id \
                 or link the server refuses, bad data): fix the cause named above first"
            );
        }
    }
    Err(Failure::Partial)
}

/// The failures of a run as lines (`one` prefixes a single unit's id), identical reasons
/// grouped: a reason shared by several
/// units is printed once, `151 ROIs (A, B, C and 148 more): reason`, in the order of each
/// reason's first unit. Reasons count as identical when they differ only in the unit's own
/// names (its id, its slide's 12-character short name) and in 24-digit hexadecimal item ids,
/// which is how 151 copies of one server refusal differ.
fn failure_lines(one: &str, many: &str, failed: &[(String, String)]) -> Vec<String> {
    let mut groups: Vec<(String, Vec<&str>, &str)> = Vec::new();
    for (unit, reason) in failed {
        let key = reason_shape(unit, reason);
        match groups.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, units, _)) => units.push(unit),
            None => groups.push((key, vec![unit.as_str()], reason.as_str())),
        }
    }
    groups
        .into_iter()
        .map(|(_, units, reason)| match units.as_slice() {
            [unit] => format!("{one}{unit}: {reason}"),
            _ => {
                let named: Vec<&str> = units.iter().take(3).copied().collect();
                let more = if units.len() > 3 { format!(" and {} more", units.len() - 3) } else { String::new() };
                format!("{} {many} ({}{more}): {reason}", units.len(), named.join(", "))
            }
        })
        .collect()
}

/// `reason` with the unit's names and 24-digit hexadecimal ids replaced by placeholders.
fn reason_shape(unit: &str, reason: &str) -> String {
    let mut text = reason.replace(unit, "<unit>");
    if let Some(short) = unit.get(..12).filter(|s| s.starts_with("TCGA-")) {
        text = text.replace(short, "<slide>");
    }
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 24 { "<id>" } else { &run });
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_differing_only_in_their_roi_and_item_ids_are_one_group() {
        let failed: Vec<(String, String)> = (0..5)
            .map(|i| {
                let roi = format!("TCGA-A{i}-A0SK-DX1");
                let reason = format!(
                    "tiles metadata of `TCGA-A{i}-A0SK`: the server answered HTTP 400: Invalid item id (5bbdeba3e629140048d017b{i})."
                );
                (roi, reason)
            })
            .chain([("TCGA-ZZ-0000-DX1".to_string(), "mask link: HTTP 404".to_string())])
            .collect();
        let lines = failure_lines("", "ROIs", &failed);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            lines[0],
            "5 ROIs (TCGA-A0-A0SK-DX1, TCGA-A1-A0SK-DX1, TCGA-A2-A0SK-DX1 and 2 more): tiles metadata of \
             `TCGA-A0-A0SK`: the server answered HTTP 400: Invalid item id (5bbdeba3e629140048d017b0)."
        );
        assert_eq!(lines[1], "TCGA-ZZ-0000-DX1: mask link: HTTP 404");
    }
}
