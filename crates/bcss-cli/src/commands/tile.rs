//! `bcss tile`.

use std::time::Instant;

use bcss::command::tile::{self, TilePlan};

use super::{inputs, print_json, Output};
use crate::cli::TileArgs;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &TileArgs, out: Output) -> Result<(), Failure> {
    let map = inputs::class_map(&args.class_map)?;
    inputs::jobs(args.jobs)?;
    let stride = args.stride.unwrap_or(args.size);
    tile::check_grid(args.size, stride).input()?;
    if !(0.0..=1.0).contains(&args.min_labelled) {
        return Err(Failure::Input(anyhow::anyhow!(
            "`--min-labelled` must be between 0 and 1, not {}",
            args.min_labelled
        )));
    }
    let compression = args.png_compression;
    let rois = inputs::dataset(&args.dir, &args.select)?;
    if let Some(r) = rois.iter().find(|r| r.files.image.is_none()) {
        return Err(Failure::Input(anyhow::anyhow!(
            "ROI `{}` has a mask but no image in `{}`; tiling needs both",
            r.files.roi_id,
            args.dir.display()
        )));
    }
    let plan = TilePlan::new(map, &args.out)
        .size(args.size)
        .stride(stride)
        .min_labelled(args.min_labelled)
        .compression(compression)
        .wait_lock(args.wait_lock)
        .split(args.select.split.clone().unwrap_or_default());
    let start = Instant::now();
    let bar = Bar::new("ROIs", out.progress);
    let result = inputs::with_jobs(args.jobs, || tile::tile(&plan, &rois, &bar))?;
    bar.finish();
    let summary = result?;
    let seconds = start.elapsed().as_secs_f64();
    if out.json {
        let mut v = serde_json::to_value(&summary).expect("summary serialises");
        v["out"] = serde_json::json!(args.out.display().to_string());
        v["seconds"] = serde_json::json!(seconds);
        print_json(&v);
    } else if !out.quiet {
        let parts: Vec<String> = summary.per_part.iter().map(|(p, n)| format!("{p} {n}")).collect();
        eprintln!(
            "{} ROIs, {:.1} MP in {seconds:.1} s ({:.0} MP/s): {} tiles written ({}), {} dropped below {} labelled -> {}",
            summary.rois,
            summary.megapixels,
            summary.megapixels / seconds.max(1e-9),
            summary.tiles_written,
            parts.join(", "),
            summary.tiles_dropped,
            args.min_labelled,
            args.out.display()
        );
    }
    Ok(())
}
