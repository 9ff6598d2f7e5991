//! `bcss eval`: predictions against the ground truth, with don't care excluded everywhere.
//!
//! Predictions are label PNGs named like the masks (`<roi>_xmin<X>_ymin<Y>_<suffix>.png`; the
//! suffix may differ) holding **class values of the map**: 1..=K, or 0 for "no prediction". The
//! ground truth is remapped through the same map. A pixel whose truth is don't care (0 after
//! remapping: outside the ROI, or a code the map ignores) is left out of every count. A
//! prediction of 0 on a labelled pixel is a miss: a false negative of the true class and a false
//! positive of none.
//!
//! The confusion matrix and its metrics (Dice, IoU, precision, recall, pixel accuracy; an
//! undefined ratio is `None` and left out of every mean) are `crate::dataset::scores`'s, shared
//! with `bcss report --pred`.
//!
//! Two averages: **pooled** (one matrix summed over all images, then the metrics) and **per
//! image** (the metrics per image, then for each class the mean over the images where it is
//! defined; `mean_dice`/`mean_iou` per image are the mean over images of each image's mean over
//! its defined classes).
//!
//! A prediction of the wrong size, with a value above K, unreadable, or missing, and a
//! prediction without a ground truth, are **problems**: each names its file and its
//! [`ProblemKind`], the other images are still evaluated, and the caller decides (the CLI
//! exits 1).
//!
//! **Warnings** ([`EvalReport::warnings`]) name the likely cause when the prediction values
//! look like another class map than the one given, since the numbers alone mislead: raw BCSS
//! codes scored under main5 fail every image holding a code above 5 and score the few others
//! (whose codes 1..=4 happen to be main5's classes) as if nothing were wrong. Two signs are
//! checked: predictions holding values above K (their largest value says which map: up to 21
//! is the raw codes), and 0-based classes (`argmax` output: K never predicted while 0, "no
//! prediction", covers a large share of the labelled pixels).
//!
//! Files ([`evaluate`]) and arrays in memory ([`evaluate_pair`], for a validation loop in
//! Python) go through the same counter ([`PixelCounter`]) and the same summary ([`report`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;

use super::input;
use crate::catalog::classmap::ClassMap;
use crate::dataset::pairs::RoiKey;
use crate::dataset::scores::mean;
use crate::report::{Outcome, Reporter, Step, UnitFailure};

pub use super::input::score_files as evaluate_one;
pub use crate::dataset::scores::{ClassMetrics, Confusion, ImageResult, Metrics, PixelCounter, Problem, ProblemKind};

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EvalReport {
    /// Class map name.
    pub class_map: String,
    /// Images evaluated.
    pub images: usize,
    /// Labelled pixels evaluated.
    pub labelled_pixels: u64,
    /// Pooled confusion matrix.
    pub confusion: Confusion,
    /// Metrics of the pooled matrix.
    pub pooled: Metrics,
    /// Metrics averaged per image.
    pub per_image_mean: Metrics,
    /// Per image, sorted by ROI.
    pub per_image: Vec<ImageResult>,
    /// Files that could not be evaluated, sorted.
    pub problems: Vec<Problem>,
    /// The likely cause when the predictions look like another class map (see the module docs).
    pub warnings: Vec<String>,
    /// Every problem as a failed ROI, in ROI order: its id, the step
    /// ([`Step::Prediction`], or [`Step::Input`] for the ground truth) and the message, as the
    /// `failures` of the other commands. Filled by [`evaluate`], which pairs files by ROI;
    /// [`report`] alone, given no ROI ids for its problems, leaves it empty.
    pub failures: Vec<UnitFailure>,
}

/// Limits an evaluation to the ROIs of some parts of a split (`bcss eval --part test`, Python's
/// `evaluate(split="test")`): the truth masks whose ROI `part_of` puts in `keep`, and the
/// predictions but those whose ROI it puts in another part. A prediction of a train ROI is left
/// out of a test evaluation, not reported as lacking its truth; one whose ROI the split does not
/// place is kept, so it is still reported. Returns the number of truth masks kept.
pub fn select_parts(
    truth: &mut BTreeMap<RoiKey, PathBuf>,
    pred: &mut BTreeMap<RoiKey, PathBuf>,
    part_of: impl Fn(&str) -> Option<crate::catalog::split::Part>,
    keep: &[crate::catalog::split::Part],
) -> usize {
    truth.retain(|k, _| part_of(&k.0).is_some_and(|p| keep.contains(&p)));
    pred.retain(|k, _| part_of(&k.0).is_none_or(|p| keep.contains(&p)));
    truth.len()
}

/// Pairs predictions with truth masks by key and evaluates every pair, in parallel.
pub fn evaluate(
    map: &ClassMap,
    truth: &BTreeMap<RoiKey, PathBuf>,
    pred: &BTreeMap<RoiKey, PathBuf>,
    reporter: &dyn Reporter,
) -> EvalReport {
    let mut problems = Vec::new();
    // The ROI and step of every problem, by its file (a file is one ROI's).
    let mut failed: BTreeMap<PathBuf, (String, Step)> = BTreeMap::new();
    let mut jobs = Vec::new();
    for (key, t) in truth {
        match pred.get(key) {
            Some(p) => jobs.push((key.0.clone(), t.clone(), p.clone())),
            None => {
                problems.push(Problem::new(
                    t.clone(),
                    ProblemKind::NoPrediction,
                    "no prediction for this ground-truth mask",
                ));
                failed.insert(t.clone(), (key.0.clone(), Step::Prediction));
            }
        }
    }
    for (key, p) in pred {
        if !truth.contains_key(key) {
            problems.push(Problem::new(p.clone(), ProblemKind::NoTruth, "no ground-truth mask for this prediction"));
            failed.insert(p.clone(), (key.0.clone(), Step::Input));
        }
    }
    reporter.on_plan(jobs.len());
    let results: Vec<Result<ImageResult, Problem>> = jobs
        .par_iter()
        .map(|(roi, t, p)| {
            reporter.on_start(roi);
            let r = evaluate_one(map, roi, t, p);
            reporter.on_bytes(input::file_len(t) + input::file_len(p));
            reporter
                .on_done(roi, &r.as_ref().map_or_else(|e| Outcome::Failed(unit_failure(roi, t, e)), |_| Outcome::Done));
            r
        })
        .collect();
    for ((roi, t, _), r) in jobs.iter().zip(&results) {
        if let Err(e) = r {
            failed.insert(e.file.clone(), (roi.clone(), step_of(t, e)));
        }
    }
    let mut report = report(map, results, problems);
    // In the order of the problems (sorted by file), then by ROI.
    report.failures = report
        .problems
        .iter()
        .filter_map(|p| {
            let (roi, step) = failed.get(&p.file)?;
            Some(UnitFailure { step: Some(*step), ..UnitFailure::new(roi.as_str(), p.message.clone()) })
        })
        .collect();
    report.failures.sort_by(|a, b| a.id.cmp(&b.id));
    report
}

/// The step of a problem scoring a ROI: [`Step::Input`] when it is its ground truth's
/// (`truth`), else [`Step::Prediction`].
fn step_of(truth: &std::path::Path, problem: &Problem) -> Step {
    if problem.file == truth {
        Step::Input
    } else {
        Step::Prediction
    }
}

/// ROI `roi`'s failure to be scored, as the reporter is told it.
fn unit_failure(roi: &str, truth: &std::path::Path, problem: &Problem) -> UnitFailure {
    UnitFailure { step: Some(step_of(truth, problem)), ..UnitFailure::new(roi, problem.message.clone()) }
}

/// The report of images evaluated (in ROI order) and of problems: pooled and per-image metrics.
pub fn report(map: &ClassMap, results: Vec<Result<ImageResult, Problem>>, mut problems: Vec<Problem>) -> EvalReport {
    let k = map.num_classes();
    let mut pooled = Confusion::new(k);
    let mut per_image = Vec::new();
    for r in results {
        match r {
            Ok(img) => {
                pooled.add(&img.confusion);
                per_image.push(img);
            }
            Err(p) => problems.push(p),
        }
    }
    problems.sort_by(|a, b| a.file.cmp(&b.file));
    let warnings = warnings(map, &pooled, per_image.len(), &problems);
    let image_metrics: Vec<Metrics> = per_image.iter().map(|i| i.confusion.metrics(map)).collect();
    let per_class = (0..k)
        .map(|c| ClassMetrics {
            value: c as u8 + 1,
            name: map.class_name(c as u8 + 1).to_string(),
            truth_pixels: 0,
            predicted_pixels: 0,
            dice: mean(image_metrics.iter().map(|m| m.per_class[c].dice)),
            iou: mean(image_metrics.iter().map(|m| m.per_class[c].iou)),
            precision: mean(image_metrics.iter().map(|m| m.per_class[c].precision)),
            recall: mean(image_metrics.iter().map(|m| m.per_class[c].recall)),
        })
        .collect();
    let per_image_mean = Metrics {
        pixel_accuracy: mean(image_metrics.iter().map(|m| m.pixel_accuracy)),
        mean_dice: mean(image_metrics.iter().map(|m| m.mean_dice)),
        mean_iou: mean(image_metrics.iter().map(|m| m.mean_iou)),
        per_class,
    };
    EvalReport {
        class_map: map.name().to_string(),
        images: per_image.len(),
        labelled_pixels: pooled.total(),
        pooled: pooled.metrics(map),
        confusion: pooled,
        per_image_mean,
        per_image,
        problems,
        warnings,
        failures: Vec::new(),
    }
}

/// The warnings of the module docs: values above K (with the map they look like), and 0-based
/// classes. `scored` is the number of images evaluated.
fn warnings(map: &ClassMap, pooled: &Confusion, scored: usize, problems: &[Problem]) -> Vec<String> {
    let k = map.num_classes();
    let mut out = Vec::new();
    let over: Vec<u8> = problems.iter().filter_map(|p| p.max_value).collect();
    if let Some(&max) = over.iter().max() {
        let raw_codes = crate::catalog::codes::MAX_CODE as usize;
        let looks = if k < raw_codes && max as usize <= raw_codes {
            format!("raw BCSS codes (1..={raw_codes}), not the classes of map {}", map.name())
        } else if max == 255 {
            "255 used as an ignore value, which predictions give as 0 (no prediction)".to_string()
        } else {
            format!("the values of another class map than {}", map.name())
        };
        out.push(format!(
            "{} of {} predictions hold values above {k} (up to {max}): they look like {looks}; \
             remap them to the map's classes 1..={k} (0: no prediction), or give the map they hold \
             with --class-map",
            over.len(),
            scored + problems.iter().filter(|p| p.kind != ProblemKind::NoPrediction).count(),
        ));
    }
    let total = pooled.total();
    let none: u64 = pooled.counts.iter().map(|r| r[0]).sum();
    let top: u64 = pooled.counts.iter().map(|r| r[k]).sum();
    // Some pixels predicted, a fifth or more of them 0, and class K never: 0..K-1 classes. (All
    // zeros is an empty prediction, not a shifted one.)
    if k > 1 && none < total && top == 0 && none * 5 >= total {
        out.push(format!(
            "{:.0}% of the labelled pixels are predicted 0 (no prediction) and class {k} never: the \
             predictions look like 0-based classes (an argmax over K outputs); add 1 to them, since \
             predictions hold the classes 1..={k} of map {}",
            100.0 * none as f64 / total as f64,
            map.name()
        ));
    }
    out
}

/// Evaluates one prediction against one truth held in memory, both `width x height` class
/// values of the map (truth: 0 don't care, 1..=K; prediction: 0 no prediction, 1..=K). A size
/// mismatch or a value over K is a [`Problem`] naming `roi`.
pub fn evaluate_pair(
    map: &ClassMap,
    roi: &str,
    truth: &[u8],
    pred: &[u8],
    width: usize,
    height: usize,
) -> Result<ImageResult, Problem> {
    let problem = |kind, message: String| Problem::new(roi, kind, message);
    let k = map.num_classes();
    if truth.len() != width * height || pred.len() != truth.len() {
        return Err(problem(
            ProblemKind::Size,
            format!("prediction of {} pixels does not match the ground truth {width}x{height}", pred.len()),
        ));
    }
    if let Some(i) = truth.iter().position(|&v| v as usize > k) {
        let (x, y) = (i % width.max(1), i / width.max(1));
        return Err(problem(
            ProblemKind::Unreadable,
            format!("ground truth value {} at (x {x}, y {y}) is not a class of map {} (0..={k})", truth[i], map.name()),
        ));
    }
    let mut counter = PixelCounter::new(k);
    counter.add(truth, pred).map_err(|i| {
        let (x, y) = (i % width.max(1), i / width.max(1));
        let message = format!("value {} at (x {x}, y {y}) is not a class of map {} (0..={k})", pred[i], map.name());
        Problem::over_k(roi, message, pred.iter().copied().max().unwrap_or(0))
    })?;
    Ok(counter.finish(map, roi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_name_raw_codes_and_zero_based_classes_but_not_empty_predictions() {
        let map = ClassMap::preset("main5").unwrap();
        let over = |max| Problem::over_k("p.png", "value".into(), max);
        let w = warnings(&map, &Confusion::new(5), 1, &[over(21), over(9)]);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("2 of 3 predictions hold values above 5 (up to 21): they look like raw BCSS codes"),
            "{w:?}"
        );
        assert!(warnings(&map, &Confusion::new(5), 0, &[over(255)])[0].contains("255 used as an ignore value"));
        // Truth tumour and stroma predicted 0 and 1: shifted by one.
        let mut c = Confusion::new(5);
        c.counts[0][0] = 6;
        c.counts[1][1] = 4;
        assert!(warnings(&map, &c, 1, &[])[0].contains("60% of the labelled pixels are predicted 0"));
        // Nothing predicted at all is not called shifted.
        let mut empty = Confusion::new(5);
        empty.counts[0][0] = 10;
        assert!(warnings(&map, &empty, 1, &[]).is_empty());
    }
}
