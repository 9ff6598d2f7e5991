//! `bcss report`: the HTML page of a dataset; prediction problems on stderr and exit 1, as
//! `bcss eval`.

use bcss::command::report::{self, ReportPlan, MAX_THUMB};
use bcss::dataset::pairs::find_masks;

use super::{inputs, print_json, Output};
use crate::cli::ReportArgs;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &ReportArgs, out: Output) -> Result<(), Failure> {
    let map = inputs::class_map(&args.class_map)?;
    if args.thumb == 0 || args.thumb > MAX_THUMB {
        return Err(Failure::Input(anyhow::anyhow!("`--thumb {}` must be between 1 and {MAX_THUMB}", args.thumb)));
    }
    inputs::jobs(args.jobs)?;
    let (rois, layout) = inputs::dataset_with_layout(&args.dir, &args.select)?;
    let pred = match &args.pred {
        Some(dir) => Some((dir.clone(), find_masks(dir).input()?)),
        None => None,
    };
    if let Some(dir) = args.overlays.as_ref().filter(|d| !d.is_dir()) {
        return Err(Failure::Input(anyhow::anyhow!("`--overlays {}` is not a folder", dir.display())));
    }
    let plan = ReportPlan::new(map, &args.dir, layout, &args.out)
        .split(args.select.split.clone().unwrap_or_default())
        .pred(pred)
        .overlays(args.overlays.clone())
        .thumb(args.thumb);
    let bar = Bar::new("ROIs", out.progress);
    let result = inputs::with_jobs(args.jobs, || report::report(&plan, &rois, &bar))?;
    bar.finish();
    let summary = result?;
    if out.json {
        print_json(&summary);
    } else if !out.quiet {
        eprintln!(
            "report of {} ROIs ({:.1} MB) -> {}",
            summary.rois,
            summary.bytes as f64 / 1e6,
            summary.out.display()
        );
    }
    if summary.problems.is_empty() {
        return Ok(());
    }
    if !out.json {
        for p in &summary.problems {
            eprintln!("problem: `{}`: {}", p.file.display(), p.message);
        }
        eprintln!(
            "error: {} prediction(s) could not be scored; the page lists them and its scores leave them out",
            summary.problems.len()
        );
    }
    Err(Failure::Partial)
}
