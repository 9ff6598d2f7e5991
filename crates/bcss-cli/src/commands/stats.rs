//! `bcss stats`.

use std::time::Instant;

use bcss::command::stats::{self, Stats, OUTPUT_FILES};
use bcss::report::Reporter;

use super::{inputs, print_json, Output};
use crate::cli::StatsArgs;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &StatsArgs, out: Output) -> Result<(), Failure> {
    let bar = Bar::new("ROIs", out.progress);
    let result = compute(args, &bar);
    bar.finish();
    let (stats, seconds) = result?;
    let megapixels = megapixels(&stats);
    if out.json {
        print_json(&value(args, &stats, seconds));
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

/// Computes the statistics and writes their files; returns them and the seconds taken.
pub fn compute(args: &StatsArgs, reporter: &dyn Reporter) -> Result<(Stats, f64), Failure> {
    let map = inputs::class_map(&args.class_map)?;
    inputs::jobs(args.jobs)?;
    let rois = inputs::dataset(&args.dir, &args.select)?;
    let start = Instant::now();
    let stats = inputs::with_jobs(args.jobs, || stats::compute(&rois, &map, reporter))?.input()?;
    let seconds = start.elapsed().as_secs_f64();
    stats::write_outputs(&stats, &map, &args.out, args.wait_lock)?;
    Ok((stats, seconds))
}

fn megapixels(stats: &Stats) -> f64 {
    stats.rois.iter().map(|r| r.pixels()).sum::<u64>() as f64 / 1e6
}

/// The `--json` summary.
pub fn value(args: &StatsArgs, stats: &Stats, seconds: f64) -> serde_json::Value {
    serde_json::json!({
        "out": args.out.display().to_string(),
        "files": OUTPUT_FILES,
        "class_map": stats.class_map,
        "rois": stats.rois.len(),
        "megapixels": megapixels(stats),
        "seconds": seconds,
        "parts": stats.parts,
    })
}
