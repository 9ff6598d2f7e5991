//! `bcss eval`: predictions against the ground truth, with don't care excluded everywhere.
//!
//! Predictions are label PNGs named like the masks (`<roi>_xmin<X>_ymin<Y>_<suffix>.png`; the
//! suffix may differ) holding **class values of the map**: 1..=K, or 0 for "no prediction". The
//! ground truth is remapped through the same map. A pixel whose truth is don't care (0 after
//! remapping: outside the ROI, or a code the map ignores) is left out of every count. A
//! prediction of 0 on a labelled pixel is a miss: a false negative of the true class and a false
//! positive of none.
//!
//! The confusion matrix has one row per true class 1..=K and one column per predicted value
//! 0..=K. For class c: `TP = M[c][c]`, `FN = row(c) - TP`, `FP = column(c) - TP`;
//! Dice `2TP / (2TP + FP + FN)`, IoU `TP / (TP + FP + FN)`, precision `TP / (TP + FP)`, recall
//! `TP / (TP + FN)`; pixel accuracy `trace / labelled pixels`. A ratio whose denominator is 0
//! (a class neither present nor predicted) is undefined (`None`, `null` in JSON) and is left out
//! of every mean; it is not counted as 0 or 1.
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
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::input::{self, InputError, InputProblem};
use crate::catalog::classmap::ClassMap;
use crate::dataset::pairs::RoiKey;
use crate::report::{Outcome, Reporter};
use crate::transform::remap::remap_into;

/// A confusion matrix: rows true class 1..=K, columns predicted value 0..=K.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Confusion {
    /// K.
    pub k: usize,
    /// `k x (k + 1)` counts, row-major; `[t - 1][p]`.
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    /// An empty matrix for K classes.
    pub fn new(k: usize) -> Confusion {
        Confusion { k, counts: vec![vec![0; k + 1]; k] }
    }

    /// Adds another matrix.
    pub fn add(&mut self, other: &Confusion) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }

    /// Labelled pixels counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// `(tp, fp, fn)` of class `c` (1..=K).
    pub fn tp_fp_fn(&self, c: usize) -> (u64, u64, u64) {
        let tp = self.counts[c - 1][c];
        let row: u64 = self.counts[c - 1].iter().sum();
        let col: u64 = self.counts.iter().map(|r| r[c]).sum();
        (tp, col - tp, row - tp)
    }

    /// The metrics of every class, and the summaries.
    pub fn metrics(&self, map: &ClassMap) -> Metrics {
        let per_class: Vec<ClassMetrics> = (1..=self.k)
            .map(|c| {
                let (tp, fp, fneg) = self.tp_fp_fn(c);
                ClassMetrics {
                    value: c as u8,
                    name: map.class_name(c as u8).to_string(),
                    truth_pixels: tp + fneg,
                    predicted_pixels: tp + fp,
                    dice: ratio(2 * tp, 2 * tp + fp + fneg),
                    iou: ratio(tp, tp + fp + fneg),
                    precision: ratio(tp, tp + fp),
                    recall: ratio(tp, tp + fneg),
                }
            })
            .collect();
        let trace: u64 = (1..=self.k).map(|c| self.counts[c - 1][c]).sum();
        Metrics {
            pixel_accuracy: ratio(trace, self.total()),
            mean_dice: mean(per_class.iter().map(|m| m.dice)),
            mean_iou: mean(per_class.iter().map(|m| m.iou)),
            per_class,
        }
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Metrics of one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassMetrics {
    /// Class value.
    pub value: u8,
    /// Class name.
    pub name: String,
    /// Labelled pixels whose truth is this class (pooled; 0 in per-image means).
    pub truth_pixels: u64,
    /// Labelled pixels predicted as this class (pooled; 0 in per-image means).
    pub predicted_pixels: u64,
    /// Dice.
    pub dice: Option<f64>,
    /// Intersection over union.
    pub iou: Option<f64>,
    /// Precision.
    pub precision: Option<f64>,
    /// Recall.
    pub recall: Option<f64>,
}

/// Per-class metrics and their summaries.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Correct labelled pixels over labelled pixels.
    pub pixel_accuracy: Option<f64>,
    /// Mean Dice over the classes where it is defined.
    pub mean_dice: Option<f64>,
    /// Mean IoU over the classes where it is defined.
    pub mean_iou: Option<f64>,
    /// By class value.
    pub per_class: Vec<ClassMetrics>,
}

/// One image evaluated: the per-ROI scores of `bcss eval --json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImageResult {
    /// ROI id.
    pub roi: String,
    /// Its confusion matrix.
    #[serde(skip)]
    pub confusion: Confusion,
    /// Labelled pixels.
    pub labelled: u64,
    /// Pixel accuracy.
    pub pixel_accuracy: Option<f64>,
    /// Mean Dice over its defined classes.
    pub mean_dice: Option<f64>,
    /// Mean IoU over its defined classes.
    pub mean_iou: Option<f64>,
    /// Its metrics per class (pixel counts, Dice, IoU, precision, recall), by class value.
    pub per_class: Vec<ClassMetrics>,
}

/// What kind of problem a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A ground-truth mask without a prediction.
    NoPrediction,
    /// A prediction without a ground-truth mask.
    NoTruth,
    /// A prediction whose size differs from its ground truth.
    Size,
    /// A prediction holding a value above K.
    ValueOverK,
    /// A file that could not be read or decoded, or a truth mask with a value that is not a code.
    Unreadable,
}

/// A file that could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file (a prediction, or the truth mask a prediction is missing for).
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
    /// The kind of problem.
    pub kind: ProblemKind,
    /// For [`ProblemKind::ValueOverK`]: the largest value of the prediction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_value: Option<u8>,
}

impl Problem {
    /// A problem of `kind` with `file`.
    pub fn new(file: impl Into<PathBuf>, kind: ProblemKind, message: impl Into<String>) -> Problem {
        Problem { file: file.into(), message: message.into(), kind, max_value: None }
    }

    /// A prediction holding values above K, the largest being `max`.
    fn over_k(file: impl Into<PathBuf>, message: String, max: u8) -> Problem {
        Problem { max_value: Some(max), ..Problem::new(file, ProblemKind::ValueOverK, message) }
    }
}

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
    let mut jobs = Vec::new();
    for (key, t) in truth {
        match pred.get(key) {
            Some(p) => jobs.push((key.0.clone(), t.clone(), p.clone())),
            None => problems.push(Problem::new(
                t.clone(),
                ProblemKind::NoPrediction,
                "no prediction for this ground-truth mask",
            )),
        }
    }
    for (key, p) in pred {
        if !truth.contains_key(key) {
            problems.push(Problem::new(p.clone(), ProblemKind::NoTruth, "no ground-truth mask for this prediction"));
        }
    }
    reporter.on_plan(jobs.len());
    let results: Vec<Result<ImageResult, Problem>> = jobs
        .par_iter()
        .map(|(roi, t, p)| {
            reporter.on_start(roi);
            let r = evaluate_one(map, roi, t, p);
            reporter.on_bytes(input::file_len(t) + input::file_len(p));
            reporter.on_done(roi, &r.as_ref().map_or_else(|e| Outcome::Failed(e.message.clone()), |_| Outcome::Done));
            r
        })
        .collect();
    report(map, results, problems)
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

/// Evaluates one prediction against one truth mask, streaming both. A prediction holding a value
/// above K is read to its end for its largest value (the warnings use it).
pub fn evaluate_one(map: &ClassMap, roi: &str, truth: &Path, pred: &Path) -> Result<ImageResult, Problem> {
    let unreadable = |e: InputError| Problem::new(e.path.clone(), ProblemKind::Unreadable, e.problem.to_string());
    let mut trows = input::open_mask(truth).map_err(unreadable)?;
    let mut prows = input::open_mask(pred).map_err(unreadable)?;
    let (w, h) = (trows.width(), trows.height());
    if (prows.width(), prows.height()) != (w, h) {
        let e = InputError::new(
            pred,
            InputProblem::Size {
                got_w: prows.width(),
                got_h: prows.height(),
                want_w: w,
                want_h: h,
                what: "the ground truth",
            },
        );
        return Err(Problem::new(pred, ProblemKind::Size, e.problem.to_string()));
    }
    let k = map.num_classes();
    let mut counter = PixelCounter::new(k);
    let (mut traw, mut t, mut p) = (vec![0u8; w], vec![0u8; w], vec![0u8; w]);
    for y in 0..h {
        input::read_row(&mut trows, &mut traw, truth).map_err(unreadable)?;
        input::read_row(&mut prows, &mut p, pred).map_err(unreadable)?;
        remap_into(&traw, &mut t, map.lut()).map_err(|b| {
            unreadable(InputError::new(
                truth,
                InputProblem::BadValue { value: b.value, x: b.index, y, expected: "a BCSS code (0..=21)".into() },
            ))
        })?;
        if let Err(x) = counter.add(&t, &p) {
            let expected = format!("a class of map {} (0..={k})", map.name());
            let message = InputProblem::BadValue { value: p[x], x, y, expected }.to_string();
            let mut max = p.iter().copied().max().unwrap_or(0);
            for _ in y + 1..h {
                input::read_row(&mut prows, &mut p, pred).map_err(unreadable)?;
                max = max.max(p.iter().copied().max().unwrap_or(0));
            }
            return Err(Problem::over_k(pred, message, max));
        }
    }
    input::finish(trows, truth).map_err(unreadable)?;
    input::finish(prows, pred).map_err(unreadable)?;
    Ok(counter.finish(map, roi))
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

/// The pixel counts of one image: truth class (0..=K, 0 don't care) by predicted value.
#[derive(Debug, Clone)]
pub struct PixelCounter {
    k: usize,
    /// `(k + 1) x (k + 1)`, row-major, `[truth][pred]`.
    flat: Vec<u64>,
}

impl PixelCounter {
    /// An empty counter for K classes.
    pub fn new(k: usize) -> PixelCounter {
        PixelCounter { k, flat: vec![0; (k + 1) * (k + 1)] }
    }

    /// Counts pixels: `truth` remapped class values (at most K), `pred` of the same length.
    /// Refuses a prediction over K (returning its index) before counting anything.
    pub fn add(&mut self, truth: &[u8], pred: &[u8]) -> Result<(), usize> {
        if let Some(x) = pred.iter().position(|&v| v as usize > self.k) {
            return Err(x);
        }
        let stride = self.k + 1;
        for (&tv, &pv) in truth.iter().zip(pred) {
            self.flat[tv as usize * stride + pv as usize] += 1;
        }
        Ok(())
    }

    /// The image's result. Row 0 (don't-care truth) is dropped: it is never counted.
    pub fn finish(self, map: &ClassMap, roi: &str) -> ImageResult {
        let (k, stride) = (self.k, self.k + 1);
        let confusion =
            Confusion { k, counts: (1..=k).map(|t| self.flat[t * stride..(t + 1) * stride].to_vec()).collect() };
        let m = confusion.metrics(map);
        ImageResult {
            roi: roi.to_string(),
            labelled: confusion.total(),
            pixel_accuracy: m.pixel_accuracy,
            mean_dice: m.mean_dice,
            mean_iou: m.mean_iou,
            per_class: m.per_class,
            confusion,
        }
    }
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

    /// The 4x4 case of the module tests, in main5 classes (see `tests/it/analysis.rs` for the
    /// same numbers through the binary).
    #[test]
    fn four_by_four_by_hand() {
        let map = ClassMap::preset("main5").unwrap();
        // Truth (classes after main5): rows t1 t1 t2 t2 / t1 t1 t2 t2 / . . t3 t3 / . . t3 t3.
        // Pred:                        1  1  1  2  /  1  1  2  2  / 5 5 3  2  / 0 0 0  3.
        let mut c = Confusion::new(5);
        c.counts[0][1] = 4;
        c.counts[1][1] = 1;
        c.counts[1][2] = 3;
        c.counts[2][3] = 2;
        c.counts[2][2] = 1;
        c.counts[2][0] = 1;
        let m = c.metrics(&map);
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
        assert!(close(m.per_class[0].dice, 8.0 / 9.0) && close(m.per_class[0].iou, 0.8));
        assert!(close(m.per_class[1].dice, 0.75) && close(m.per_class[1].iou, 0.6));
        assert!(close(m.per_class[2].dice, 2.0 / 3.0) && close(m.per_class[2].iou, 0.5));
        assert!(close(m.per_class[2].precision, 1.0) && close(m.per_class[2].recall, 0.5));
        assert_eq!((m.per_class[3].dice, m.per_class[4].iou), (None, None));
        assert!(close(m.pixel_accuracy, 0.75));
        assert!(close(m.mean_dice, (8.0 / 9.0 + 0.75 + 2.0 / 3.0) / 3.0));
        assert!(close(m.mean_iou, (0.8 + 0.6 + 0.5) / 3.0));
    }
}
