//! `bcss normalize`.

use anyhow::Context;
use bcss::command::normalize::{self, CompareReport, Comparison, NormalizePlan};
use bcss::transform::reinhard::LabStats;

use super::{inputs, print_json, Output};
use crate::cli::NormalizeArgs;
use crate::exit::Failure;
use crate::progress::Bar;

/// `--<flag>` as three numbers.
fn triple(flag: &str, values: &[f64]) -> Result<[f64; 3], Failure> {
    values.try_into().map_err(|_| {
        Failure::Input(anyhow::anyhow!(
            "`--{flag}` takes 3 comma-separated numbers (l, alpha, beta), not {}",
            values.len()
        ))
    })
}

/// Statistics from a pair of flags, checked (finite means, positive finite deviations).
fn stats(what: &'static str, flags: [&str; 2], mu: &[f64], sigma: &[f64]) -> Result<LabStats, Failure> {
    let (mu, sigma) = (triple(flags[0], mu)?, triple(flags[1], sigma)?);
    LabStats::new(what, mu, sigma)
        .with_context(|| format!("invalid `--{}`/`--{}`", flags[0], flags[1]))
        .map_err(Failure::Input)
}

pub fn run(args: &NormalizeArgs, out: Output) -> Result<(), Failure> {
    inputs::jobs(args.jobs)?;
    let target = match (&args.target_mu, &args.target_sigma, &args.target_image) {
        (Some(mu), Some(sigma), _) => stats("target", ["target-mu", "target-sigma"], mu, sigma)?,
        (_, _, Some(path)) => {
            let s = normalize::image_statistics(path, None).map_err(Failure::from)?;
            LabStats::new("target", s.mu(), s.sigma())
                .with_context(|| format!("`--target-image {}` cannot be a target", path.display()))
                .map_err(Failure::Input)?
        }
        _ => LabStats::bcss(),
    };
    if let Some(image) = &args.image {
        let source = match (&args.src_mu, &args.src_sigma) {
            (Some(mu), Some(sigma)) => Some(stats("source", ["src-mu", "src-sigma"], mu, sigma)?),
            _ => None,
        };
        let summary = inputs::with_jobs(args.jobs, || {
            normalize::normalize_image(
                image,
                args.mask.as_deref(),
                &args.out,
                target,
                source,
                args.png_compression,
                args.compare.as_deref(),
            )
        })?
        .map_err(Failure::from)?;
        if out.json {
            print_json(&summary);
        } else if !out.quiet {
            eprintln!("{} -> {}", image.display(), summary.out.display());
            if let (Some(c), Some(theirs)) = (&summary.compare, &args.compare) {
                println!("compared with {}: {}", theirs.display(), describe(c));
            }
        }
        return Ok(());
    }
    let dir = args.dir.as_deref().expect("clap requires DATASET without --image");
    // Every image must have its mask: the Drive layout pairs them, and an image left out
    // silently would be a ROI missing from the copy.
    let pairs = bcss::dataset::pairs::find_pairs(dir).map_err(|e| Failure::Input(e.into()))?;
    if let Some(image) = pairs.images_without_mask.first() {
        return Err(Failure::Input(anyhow::anyhow!(
            "image `{}` has no mask in `{}` ({} image(s) without a mask); nothing written",
            image.display(),
            dir.join("masks").display(),
            pairs.images_without_mask.len()
        )));
    }
    let rois = inputs::dataset(dir, &args.select)?;
    if let Some(c) = &args.compare {
        if !c.is_dir() {
            return Err(Failure::Input(anyhow::anyhow!(
                "`--compare {}` is not a folder (with DATASET it takes the Drive copy's folder)",
                c.display()
            )));
        }
    }
    let mut plan = NormalizePlan::new(&args.out)
        .target(target)
        .exclude_dont_care(args.exclude_dont_care)
        .compression(args.png_compression)
        .wait_lock(args.wait_lock);
    if let Some(c) = &args.compare {
        plan = plan.compare(c);
    }
    let bar = Bar::new("ROIs", out.progress);
    let result = inputs::with_jobs(args.jobs, || normalize::normalize_dataset(&plan, &rois, &bar))?;
    bar.finish();
    let summary = result.map_err(Failure::from)?;
    if out.json {
        print_json(&summary);
    } else if !out.quiet {
        eprintln!(
            "{} normalised, {} skipped (already complete), {} failed -> {}",
            summary.normalized,
            summary.skipped,
            summary.failures.len(),
            summary.out.display()
        );
    }
    if let (Some(report), false) = (&summary.compare, out.json || out.quiet) {
        print_comparison(report);
    }
    for f in &summary.failures {
        eprintln!("failed: {}: {}", f.id, f.reason);
    }
    if summary.failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::Partial)
    }
}

/// One comparison in words.
fn describe(c: &Comparison) -> String {
    format!(
        "{:.4}% of pixels identical, mean |difference| {:.4}, largest {}",
        100.0 * c.identical_share,
        c.mean_abs_diff,
        c.max_abs_diff
    )
}

/// The per-ROI table of `--compare` and its summary line, on stdout.
fn print_comparison(report: &CompareReport) {
    println!("{:<56} {:>10} {:>10} {:>4} {:>10}", "ROI image", "identical", "mean|d|", "max", "mask same");
    for r in &report.rois {
        let mask = r.mask_identical_share.map_or("-".to_string(), |m| format!("{:.4}%", 100.0 * m));
        match (&r.image, &r.problem) {
            (Some(c), _) => println!(
                "{:<56} {:>9.4}% {:>10.4} {:>4} {:>10}",
                r.name,
                100.0 * c.identical_share,
                c.mean_abs_diff,
                c.max_abs_diff,
                mask
            ),
            (None, problem) => println!("{:<56} not compared: {}", r.name, problem.as_deref().unwrap_or("?")),
        }
    }
    match &report.pooled {
        Some(c) => println!(
            "compared {} ROI(s) with {} ({} not compared): {}{}",
            report.compared,
            report.dir.display(),
            report.not_compared,
            describe(c),
            report.worst.as_deref().map_or(String::new(), |w| format!("; least alike: {w}"))
        ),
        None => println!("no ROI compared with {} ({} not compared)", report.dir.display(), report.not_compared),
    }
}
