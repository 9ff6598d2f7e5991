//! `bcss stats`.

use std::time::Instant;

use bcss::command::stats::{self, StatsError, OUTPUT_FILES};

use super::{inputs, print_json, Output};
use crate::cli::StatsArgs;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &StatsArgs, out: Output) -> Result<(), Failure> {
    let map = inputs::class_map(&args.class_map)?;
    inputs::jobs(args.jobs)?;
    let rois = inputs::dataset(&args.dir, args.split.as_deref())?;
    let start = Instant::now();
    let bar = Bar::new("ROIs", out.progress);
    let result = inputs::with_jobs(args.jobs, || stats::compute(&rois, &map, &bar))?;
    bar.finish();
    let stats = result.input()?;
    let seconds = start.elapsed().as_secs_f64();
    stats::write_outputs(&stats, &map, &args.out, args.wait_lock).map_err(|e| match e {
        e @ StatsError::Output { .. } => Failure::Output(e.into()),
        StatsError::Lock(e) => super::lock_failure(e),
        e => Failure::Input(e.into()),
    })?;
    let megapixels = stats.rois.iter().map(|r| r.pixels()).sum::<u64>() as f64 / 1e6;
    if out.json {
        print_json(&serde_json::json!({
            "out": args.out.display().to_string(),
            "files": OUTPUT_FILES,
            "class_map": stats.class_map,
            "rois": stats.rois.len(),
            "megapixels": megapixels,
            "seconds": seconds,
            "parts": stats.parts,
        }));
    } else if !out.quiet {
        println!(
            "{:<6} {:>5} {:>10}  {:<22} {:>8} {:>8} {:>8} {:>9}",
            "split", "ROIs", "dont_care", "class", "fraction", "present", "1-frac", "med-freq"
        );
        for p in &stats.parts {
            for (i, c) in p.classes.iter().enumerate() {
                let (name, n, dc) = if i == 0 {
                    (p.part.as_str(), p.rois.to_string(), format!("{:.1}%", p.dont_care_fraction * 100.0))
                } else {
                    ("", String::new(), String::new())
                };
                println!(
                    "{name:<6} {n:>5} {dc:>10}  {:<22} {:>7.2}% {:>8} {:>8.4} {:>9.4}",
                    c.name,
                    c.fraction * 100.0,
                    c.present_in,
                    c.weight_inverse,
                    c.weight_median_frequency
                );
            }
        }
        eprintln!(
            "{} ROIs, {megapixels:.1} MP in {seconds:.1} s ({:.0} MP/s) -> {}",
            stats.rois.len(),
            megapixels / seconds.max(1e-9),
            args.out.display()
        );
    }
    Ok(())
}
