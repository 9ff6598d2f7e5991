//! Arguments shared by the analysis commands, validated before any work: the class map, the
//! split, the dataset directory and the worker count.

use std::path::Path;

use anyhow::Context;
use bcss::catalog::classmap::ClassMap;
use bcss::catalog::split::{Scheme, Split};
use bcss::command::input::{with_parts, RoiInput};
use bcss::dataset::pairs::find_pairs;

use crate::exit::{Classify, Failure};

/// A preset name or a TOML file.
pub fn class_map(spec: &str) -> Result<ClassMap, Failure> {
    ClassMap::resolve(spec).input()
}

/// `official`, `official-val`, or a split file (checked for leakage); `None` is `official`.
pub fn split(spec: Option<&str>, roi_ids: &[&str]) -> Result<Split, Failure> {
    let spec = spec.unwrap_or("official");
    if let Some(scheme) = Scheme::parse(spec) {
        return Ok(Split::from_scheme(scheme, roi_ids.iter().copied()));
    }
    let path = Path::new(spec);
    if !path.is_file() {
        return Err(Failure::Input(anyhow::anyhow!(
            "`--split {spec}` is neither official, official-val nor a split file"
        )));
    }
    let split = Split::from_path(path).input()?;
    split.check_leakage().with_context(|| format!("refusing split file `{spec}`")).input()?;
    Ok(split)
}

/// The ROIs of a dataset directory with their part of the split.
pub fn dataset(dir: &Path, split_spec: Option<&str>) -> Result<Vec<RoiInput>, Failure> {
    let pairs = find_pairs(dir).input()?;
    for f in &pairs.ignored {
        tracing::debug!(file = %f.display(), "skipped: not a ROI file");
    }
    let ids: Vec<&str> = pairs.rois.iter().map(|r| r.roi_id.as_str()).collect();
    let split = split(split_spec, &ids)?;
    with_parts(&pairs, &split).input()
}

/// Validates `--jobs` (`None`: all cores) before anything is read or written.
pub fn jobs(jobs: Option<usize>) -> Result<Option<usize>, Failure> {
    jobs.map(crate::config::check_jobs).transpose().input()
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
