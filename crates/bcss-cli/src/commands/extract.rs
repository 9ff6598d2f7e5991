//! `bcss extract`.

use bcss::command::extract::{self, ExtractError};

use super::{print_json, Output};
use crate::cli::ExtractArgs;
use crate::config;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &ExtractArgs, out: Output) -> Result<(), Failure> {
    let plan = config::resolve_extract(args, &config::process_env).input()?;
    let log = crate::logging::init(Some(&plan.out.join("logs")), out.quiet).output()?;
    tracing::info!(slides_dir = %plan.slides_dir.display(), rois = plan.rois.rois().len(), resolution = %plan.resolution.describe(), mask_source = plan.mask_source.as_str(), "bcss extract starts");

    let bar = Bar::new("ROIs", out.progress);
    let result = extract::extract(&plan, &bar);
    bar.finish();
    let summary = match result {
        Ok(s) => s,
        Err(e @ (ExtractError::Output { .. } | ExtractError::Manifest(_))) => return Err(Failure::Output(e.into())),
        Err(e @ ExtractError::Client(_)) => return Err(Failure::Server(e.into())),
        Err(e) => return Err(Failure::Input(e.into())),
    };
    tracing::info!(
        done = summary.done.len(),
        skipped = summary.skipped.len(),
        failed = summary.failed.len(),
        "bcss extract ends"
    );
    if out.json {
        let mut value = serde_json::to_value(&summary).expect("summary serialises");
        value["out"] = serde_json::json!(plan.out.display().to_string());
        value["log"] = serde_json::json!(log.map(|p| p.display().to_string()));
        print_json(&value);
    } else if !out.quiet {
        eprintln!(
            "{} done, {} skipped (already complete), {} failed in {:.1} s -> {}",
            summary.done.len(),
            summary.skipped.len(),
            summary.failed.len(),
            summary.seconds,
            plan.out.display()
        );
    }
    if !summary.failed.is_empty() {
        if !out.json {
            for (roi, reason) in &summary.failed {
                eprintln!("failed: {roi}: {reason}");
            }
            eprintln!("\nhint: rerun the same command to retry the failed ROIs; completed ones are skipped");
        }
        return Err(Failure::Partial);
    }
    Ok(())
}
