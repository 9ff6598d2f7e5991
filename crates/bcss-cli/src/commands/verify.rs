//! `bcss verify`.

use bcss::dataset::verify::{self, VerifyOptions, VerifyReport};

use super::{print_json, Output};
use crate::cli::VerifyArgs;
use crate::config;
use crate::exit::{Classify, Failure};

pub fn run(args: &VerifyArgs, out: Output) -> Result<(), Failure> {
    let report = check(args)?;
    if out.json {
        print_json(&report);
    } else if !out.quiet || !report.problems.is_empty() {
        // An absent ROI is one line in the summary below, not a "has no mask" and a "has no
        // image" line each: a partial dataset would otherwise bury its real problems.
        let absent: std::collections::BTreeSet<&str> = report.absent.iter().map(String::as_str).collect();
        let folded = |p: &verify::Problem| {
            p.path.is_none()
                && p.roi.as_deref().is_some_and(|r| absent.contains(r))
                && (p.what == "has no mask" || p.what == "has no image")
        };
        for p in report.problems.iter().filter(|p| !folded(p)) {
            println!("{p}");
        }
        if !absent.is_empty() {
            let shown: Vec<&str> = absent.iter().take(5).copied().collect();
            let more = if absent.len() > 5 { format!(" and {} more", absent.len() - 5) } else { String::new() };
            println!(
                "{} of {} ROIs absent (neither image nor mask): {}{more}",
                absent.len(),
                report.rois_checked,
                shown.join(", ")
            );
            if args.slides.is_none() {
                eprintln!(
                    "hint: a partial dataset? use --slides (or --roi-bounds) to check only the ROIs it should hold"
                );
            }
        }
        if let Some(writer) = &report.writer {
            eprintln!(
                "warning: {writer} was writing into this folder while it was checked: ROIs in progress show as problems; verify again when it has ended"
            );
        }
        eprintln!(
            "{}: {} ROIs and {} files checked {}; {} problem{}",
            args.dir.display(),
            report.rois_checked,
            report.files_checked,
            if report.with_manifest { "against manifest.json" } else { "by name (no manifest.json)" },
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" }
        );
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Partial)
    }
}

/// Checks the dataset; the report lists the problems (exit 1 when there are any).
pub fn check(args: &VerifyArgs) -> Result<VerifyReport, Failure> {
    let expected = if args.roi_bounds.is_some() || args.slides.is_some() {
        Some(config::select_rois(args.roi_bounds.as_deref(), config::slides_flag(&args.slides).as_ref()).input()?)
    } else {
        None
    };
    let options = VerifyOptions::default().expected(expected).skip_hashes(args.no_hash);
    Ok(verify::verify(&args.dir, &options)?)
}
