//! `bcss verify`.

use bcss::dataset::verify::{self, VerifyError, VerifyOptions, VerifyReport};

use super::{print_json, Output};
use crate::cli::VerifyArgs;
use crate::config;
use crate::exit::{Classify, Failure};

pub fn run(args: &VerifyArgs, out: Output) -> Result<(), Failure> {
    let report = check(args)?;
    if out.json {
        print_json(&report);
    } else if !out.quiet || !report.problems.is_empty() {
        for p in &report.problems {
            println!("{p}");
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
        Some(config::select_rois(args.roi_bounds.as_deref(), args.slides.as_deref()).input()?)
    } else {
        None
    };
    let options = VerifyOptions { expected, skip_hashes: args.no_hash };
    match verify::verify(&args.dir, &options) {
        Ok(r) => Ok(r),
        Err(e @ (VerifyError::NotADirectory(_) | VerifyError::Empty(_) | VerifyError::Manifest(_))) => {
            Err(Failure::Input(e.into()))
        }
    }
}
