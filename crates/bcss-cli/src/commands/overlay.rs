//! `bcss overlay`.

use bcss::codec::png::Compression;
use bcss::command::overlay::{self, OverlayError, OverlayPlan};

use super::{inputs, print_json, Output};
use crate::cli::OverlayArgs;
use crate::exit::Failure;
use crate::progress::Bar;

pub fn run(args: &OverlayArgs, out: Output) -> Result<(), Failure> {
    let map = inputs::class_map(&args.class_map)?;
    if !(0.0..=1.0).contains(&args.alpha) {
        return Err(Failure::Input(anyhow::anyhow!("`--alpha` must be between 0 and 1, not {}", args.alpha)));
    }
    if args.downsample == 0 || args.thumb == 0 {
        return Err(Failure::Input(anyhow::anyhow!("`--downsample` and `--thumb` must be at least 1")));
    }
    let rois = inputs::dataset(&args.dir, args.split.as_deref())?;
    if let Some(r) = rois.iter().find(|r| r.files.image.is_none()) {
        return Err(Failure::Input(anyhow::anyhow!(
            "ROI `{}` has a mask but no image in `{}`; overlays need both",
            r.files.roi_id,
            args.dir.display()
        )));
    }
    let plan = OverlayPlan {
        map,
        alpha: args.alpha,
        downsample: args.downsample,
        thumb: args.thumb,
        out: args.out.clone(),
        compression: Compression::Fast,
        wait_lock: args.wait_lock,
    };
    let bar = Bar::new("ROIs", out.progress);
    let result = inputs::with_jobs(args.jobs, || overlay::overlay(&plan, &rois, &bar))?;
    bar.finish();
    let summary = result.map_err(|e| match e {
        e @ OverlayError::Output { .. } => Failure::Output(e.into()),
        OverlayError::Lock(e) => super::lock_failure(e),
        e => Failure::Input(e.into()),
    })?;
    if out.json {
        print_json(&summary);
    } else if !out.quiet {
        eprintln!(
            "{} overlays and {} -> {}",
            summary.overlays.len(),
            summary.contact_sheet.display(),
            args.out.display()
        );
    }
    Ok(())
}
