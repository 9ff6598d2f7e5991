//! Arguments shared by the analysis commands, validated before any work: the class map, the
//! split and its parts (`--split`/`--part`, one resolver for `stats`, `tile`, `overlay` and
//! `eval`), the dataset directory and the worker count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bcss::catalog::classmap::ClassMap;
use bcss::catalog::split::{Part, Split, SplitSpec};
use bcss::dataset::pairs::RoiInput;
use bcss::dataset::pairs::{find_pairs, LayoutKind, RoiKey};

use crate::cli::SplitSelect;
use crate::exit::{Classify, Failure};

/// A preset name or a TOML file.
pub fn class_map(spec: &str) -> Result<ClassMap, Failure> {
    ClassMap::resolve(spec).input()
}

/// `official`, `official-val`, or a split file (checked for leakage); `None` is `official`.
pub fn split(spec: Option<&SplitSpec>, roi_ids: &[&str]) -> Result<Split, Failure> {
    spec.cloned().unwrap_or_default().resolve(roi_ids.iter().copied()).input()
}

/// The parts `--part` keeps (`None`: every part), refused when the split cannot have them: the
/// official scheme has no val part.
pub fn parts(select: &SplitSelect) -> Result<Option<Vec<Part>>, Failure> {
    let Some(names) = &select.part else { return Ok(None) };
    let parts: Vec<Part> = names.iter().filter_map(|n| Part::parse(n)).collect();
    if parts.iter().any(|&p| !select.split.clone().unwrap_or_default().can_have(p)) {
        return Err(Failure::Input(anyhow::anyhow!(
            "the official split has no val part; give `--split official-val` or a split file for `--part val`"
        )));
    }
    Ok(Some(parts))
}

/// The ROIs of a dataset directory with their part of the split, only those of `--part`.
pub fn dataset(dir: &Path, select: &SplitSelect) -> Result<Vec<RoiInput>, Failure> {
    dataset_with_layout(dir, select).map(|(rois, _)| rois)
}

/// [`dataset`], and the layout the directory has.
pub fn dataset_with_layout(dir: &Path, select: &SplitSelect) -> Result<(Vec<RoiInput>, LayoutKind), Failure> {
    let keep = parts(select)?;
    let pairs = find_pairs(dir).input()?;
    for f in &pairs.ignored {
        tracing::debug!(file = %f.display(), "skipped: not a ROI file");
    }
    let ids: Vec<&str> = pairs.rois.iter().map(|r| r.roi_id.as_str()).collect();
    let split = split(select.split.as_ref(), &ids)?;
    let mut rois = pairs.with_parts(&split).input()?;
    if let Some(keep) = keep {
        rois.retain(|r| keep.contains(&r.part));
        if rois.is_empty() {
            return Err(none_in_part(dir, select));
        }
    }
    Ok((rois, pairs.kind))
}

/// Limits the truth masks of `bcss eval` to the parts of `--part` (the rule is
/// `eval::select_parts`, which the Python package uses too). A split file must place every
/// truth mask's ROI.
pub fn select_masks(
    truth_dir: &Path,
    truth: &mut BTreeMap<RoiKey, PathBuf>,
    pred: &mut BTreeMap<RoiKey, PathBuf>,
    select: &SplitSelect,
) -> Result<(), Failure> {
    let keep = parts(select)?;
    if keep.is_none() && select.split.is_none() {
        return Ok(());
    }
    let ids: Vec<&str> = truth.keys().map(|k| k.0.as_str()).collect();
    // Checked even without --part: a --split that names nothing usable is an error, not ignored.
    let split = split(select.split.as_ref(), &ids)?;
    split.parts_for(ids.iter().copied()).input()?;
    let Some(keep) = keep else { return Ok(()) };
    let scheme = select.split.clone().unwrap_or_default().scheme();
    let part_of = |id: &str| split.part_of(id).or_else(|| scheme.map(|s| s.part_of(id)));
    if bcss::command::eval::select_parts(truth, pred, part_of, &keep) == 0 {
        return Err(none_in_part(truth_dir, select));
    }
    Ok(())
}

fn none_in_part(dir: &Path, select: &SplitSelect) -> Failure {
    Failure::Input(anyhow::anyhow!(
        "no ROI of `{}` is in part {} of split {}",
        dir.display(),
        select.part.as_deref().unwrap_or_default().join(", "),
        select.split.clone().unwrap_or_default()
    ))
}

/// Validates `--jobs` (`None`: all cores) before anything is read or written.
pub fn jobs(jobs: Option<usize>) -> Result<Option<usize>, Failure> {
    jobs.map(|n| crate::config::check_jobs(&crate::config::Sourced::flag("jobs", n))).transpose().input()
}

/// Runs `f` on a rayon pool of `jobs` threads (all cores when `None`; validated by [`jobs`]).
pub fn with_jobs<T: Send>(jobs: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T, Failure> {
    let jobs = self::jobs(jobs)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .context("cannot start worker threads")
        .input()?;
    Ok(pool.install(f))
}

/// `12.3%`, or `-` when undefined.
pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", v * 100.0))
}
