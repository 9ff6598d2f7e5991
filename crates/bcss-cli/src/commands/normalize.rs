//! `bcss normalize`.

use anyhow::Context;
use bcss::command::normalize::{self, NormalizeError, NormalizePlan};
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

fn failure(e: NormalizeError) -> Failure {
    match e {
        e @ NormalizeError::Output { .. } => Failure::Output(e.into()),
        NormalizeError::Lock(e) => super::lock_failure(e),
        e => Failure::Input(e.into()),
    }
}

pub fn run(args: &NormalizeArgs, out: Output) -> Result<(), Failure> {
    inputs::jobs(args.jobs)?;
    let target = match (&args.target_mu, &args.target_sigma, &args.target_image) {
        (Some(mu), Some(sigma), _) => stats("target", ["target-mu", "target-sigma"], mu, sigma)?,
        (_, _, Some(path)) => {
            let s = normalize::image_statistics(path, None).map_err(failure)?;
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
            normalize::normalize_image(image, args.mask.as_deref(), &args.out, target, source, args.png_compression)
        })?
        .map_err(failure)?;
        if out.json {
            print_json(&summary);
        } else if !out.quiet {
            eprintln!("{} -> {}", image.display(), summary.out.display());
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
    let plan = NormalizePlan::new(&args.out)
        .target(target)
        .exclude_dont_care(args.exclude_dont_care)
        .compression(args.png_compression)
        .wait_lock(args.wait_lock);
    let bar = Bar::new("ROIs", out.progress);
    let result = inputs::with_jobs(args.jobs, || normalize::normalize_dataset(&plan, &rois, &bar))?;
    bar.finish();
    let summary = result.map_err(failure)?;
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
    for f in &summary.failures {
        eprintln!("failed: {}: {}", f.id, f.reason);
    }
    if summary.failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::Partial)
    }
}
