//! `bcss overlay`.

use bcss::codec::png::Compression;
use bcss::command::overlay::{self, OverlayPlan, OverlayStyle};

use super::{inputs, print_json, Output};
use crate::cli::{OverlayArgs, OverlayStyleArg};
use crate::exit::Failure;
use crate::progress::Bar;

/// The largest `--downsample`: a 4096 x 4096 block already shrinks the largest BCSS ROI to a
/// few pixels.
const MAX_DOWNSAMPLE: usize = 4096;
/// The largest `--thumb`: every thumbnail is held until the contact sheet is drawn, so this
/// bounds memory (151 ROIs at 1024 px: about 0.5 GB).
const MAX_THUMB: usize = 1024;

/// `value` must be 1..=`max`, before anything is read or written.
fn check_range(flag: &str, value: usize, max: usize) -> Result<(), Failure> {
    if value == 0 || value > max {
        return Err(Failure::Input(anyhow::anyhow!("`{flag} {value}` must be between 1 and {max}")));
    }
    Ok(())
}

pub fn run(args: &OverlayArgs, out: Output) -> Result<(), Failure> {
    let map = inputs::class_map(&args.class_map)?;
    if !(0.0..=1.0).contains(&args.alpha) {
        return Err(Failure::Input(anyhow::anyhow!("`--alpha` must be between 0 and 1, not {}", args.alpha)));
    }
    check_range("--downsample", args.downsample, MAX_DOWNSAMPLE)?;
    check_range("--thumb", args.thumb, MAX_THUMB)?;
    inputs::jobs(args.jobs)?;
    let rois = inputs::dataset(&args.dir, &args.select)?;
    if let Some(r) = rois.iter().find(|r| r.files.image.is_none()) {
        return Err(Failure::Input(anyhow::anyhow!(
            "ROI `{}` has a mask but no image in `{}`; overlays need both",
            r.files.roi_id,
            args.dir.display()
        )));
    }
    let plan = OverlayPlan::new(map, &args.out)
        .alpha(args.alpha)
        .downsample(args.downsample)
        .thumb(args.thumb)
        .compression(Compression::Fast)
        .wait_lock(args.wait_lock)
        .style(match args.style {
            OverlayStyleArg::Fill => OverlayStyle::Fill,
            OverlayStyleArg::Outline => OverlayStyle::Outline,
        })
        .legend(!args.no_legend);
    let bar = Bar::new("ROIs", out.progress);
    let result = inputs::with_jobs(args.jobs, || overlay::overlay(&plan, &rois, &bar))?;
    bar.finish();
    let summary = result?;
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
