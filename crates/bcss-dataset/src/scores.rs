//! Scores of predictions against the ground truth: the confusion matrix and its metrics (Dice,
//! IoU, precision, recall, pixel accuracy). The numbers of `bcss eval` and of `bcss report
//! --pred` (one implementation, so the two always agree).
//!
//! The confusion matrix has one row per true class 1..=K and one column per predicted value
//! 0..=K (0: no prediction). For class c: `TP = M[c][c]`, `FN = row(c) - TP`,
//! `FP = column(c) - TP`; Dice `2TP / (2TP + FP + FN)`, IoU `TP / (TP + FP + FN)`, precision
//! `TP / (TP + FP)`, recall `TP / (TP + FN)`; pixel accuracy `trace / labelled pixels`. A ratio
//! whose denominator is 0 (a class neither present nor predicted) is undefined (`None`, `null`
//! in JSON) and is left out of every mean; it is not counted as 0 or 1. Pixels whose truth is
//! don't care are never counted ([`PixelCounter`] drops them).
//!
//! Pure: no I/O. Streaming a prediction and its truth from files is
//! `bcss::command::eval::evaluate_one`.

use std::path::PathBuf;

use bcss_catalog::classmap::ClassMap;

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

/// The mean of the defined values (`None` when none is).
pub fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
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
#[non_exhaustive]
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
    pub fn over_k(file: impl Into<PathBuf>, message: String, max: u8) -> Problem {
        Problem { max_value: Some(max), ..Problem::new(file, ProblemKind::ValueOverK, message) }
    }
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
