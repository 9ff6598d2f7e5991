//! `bcss report`: one self-contained HTML page to look at a dataset before training on it.
//!
//! The page (`page`) has a header (root, layout, resolution, ROI count, pixels and bytes, the
//! result of `verify` without hashes, the bcss version, the dataset's citation), the class
//! distribution per part of the split (the charts of `crate::dataset::distribution` as inline
//! SVG: share of labelled pixels, pixels, pixels on a log scale), a sortable table of the ROIs,
//! a gallery of thumbnails whose overlay (outline / fill / off) is switched by buttons, and with
//! predictions, Dice and IoU per class and part and every ROI's scores, worst first, with the
//! prediction beside the truth.
//!
//! Everything is inline (CSS, SVG, a few lines of JavaScript, images as `data:` URIs), so the one
//! file opens from disk with no network. Links to the full-size pictures are relative paths from
//! the page to the files on disk (the dataset's images, or `bcss overlay`'s overlays when given).
//!
//! The numbers are the other commands' own: class counts through
//! `crate::command::input::roi_counts` and [`crate::dataset::distribution::aggregate`] (as
//! `bcss stats`), scores through [`crate::command::input::score_files`] and
//! `crate::dataset::scores` (as `bcss eval`), painting through `crate::render::overlay` (as
//! `bcss overlay`).
//!
//! Light on large datasets: ROIs are read one at a time per worker, streamed by rows (the mask is
//! read twice: once counted, once sampled for the thumbnails, as `bcss overlay` does for its
//! legend); only thumbnails of at most 256 pixels are kept, JPEG for the pictures and PNG for the
//! class-colour masks (flat colours compress well there). The page is written atomically.

pub(crate) mod page;
pub(crate) mod thumbs;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::input::{self, InputError, RoiInput};
use crate::catalog::classmap::ClassMap;
use crate::catalog::split::{Part, SplitSpec};
use crate::dataset::atomic::write_atomic;
use crate::dataset::distribution::{aggregate, RoiStats, Stats};
use crate::dataset::pairs::{LayoutKind, RoiKey};
use crate::dataset::scores::{Confusion, ImageResult, Metrics, Problem, ProblemKind};
use crate::dataset::verify::{verify, VerifyOptions};
use crate::report::Reporter;
use thumbs::RoiThumbs;

/// The largest thumbnail side (the page's budget: 151 ROIs stay under 30 MB).
pub const MAX_THUMB: usize = 256;

/// A validated report request.
///
/// Made by [`ReportPlan::new`] from the class map, the dataset and the page to write, every
/// other setting at the default its setter names (the official split, no predictions, no
/// overlays, thumbnails of [`MAX_THUMB`]), and changed by chainable setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReportPlan {
    pub(crate) map: ClassMap,
    pub(crate) root: PathBuf,
    pub(crate) layout: LayoutKind,
    pub(crate) split: SplitSpec,
    pub(crate) pred: Option<(PathBuf, BTreeMap<RoiKey, PathBuf>)>,
    pub(crate) overlays: Option<PathBuf>,
    pub(crate) thumb: usize,
    pub(crate) out: PathBuf,
}

impl ReportPlan {
    /// A plan for the page of the dataset at `root` (as given, shown) of layout `layout`, its
    /// classes those of `map`, written to the HTML file `out`, with every other setting at its
    /// default.
    pub fn new(map: ClassMap, root: impl Into<PathBuf>, layout: LayoutKind, out: impl Into<PathBuf>) -> Self {
        ReportPlan {
            map,
            root: root.into(),
            layout,
            split: SplitSpec::default(),
            pred: None,
            overlays: None,
            thumb: MAX_THUMB,
            out: out.into(),
        }
    }
    /// The split's name (`official`, a file), shown (default: `official`).
    pub fn split(mut self, split: SplitSpec) -> Self {
        self.split = split;
        self
    }
    /// Predictions: their folder and files by key (`bcss eval`'s pairing), scored against the
    /// masks (default: none).
    pub fn pred(mut self, pred: Option<(PathBuf, BTreeMap<RoiKey, PathBuf>)>) -> Self {
        self.pred = pred;
        self
    }
    /// A folder of `bcss overlay` output: the gallery links to its `<roi>_overlay.png`
    /// (default: none).
    pub fn overlays(mut self, overlays: Option<PathBuf>) -> Self {
        self.overlays = overlays;
        self
    }
    /// Thumbnail long side, 1..=[`MAX_THUMB`] (default: [`MAX_THUMB`]).
    pub fn thumb(mut self, side: usize) -> Self {
        self.thumb = side;
        self
    }
}

/// The verify result shown in the header.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerifyStatus {
    /// A manifest was found and checked against.
    pub with_manifest: bool,
    /// ROIs checked.
    pub rois_checked: usize,
    /// Problems found.
    pub problems: usize,
    /// Expected ROIs without any file (no manifest: of the catalogue's 151).
    pub absent: usize,
    /// The first problems, as sentences.
    pub first: Vec<String>,
    /// Why verify could not run, if it could not.
    pub error: Option<String>,
}

/// One ROI of the report.
#[derive(Debug, Clone)]
pub(crate) struct RoiEntry {
    /// Its files and part.
    pub input: RoiInput,
    /// Its class counts.
    pub stats: RoiStats,
    /// Its pictures.
    pub thumbs: RoiThumbs,
    /// Bytes of its image and mask.
    pub bytes: u64,
}

/// Scores of one part of the split (or `all`): the pooled metrics of its ROIs' predictions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartScores {
    /// `train`, `val`, `test` or `all`.
    pub part: String,
    /// Images scored.
    pub images: usize,
    /// Labelled pixels scored.
    pub labelled_pixels: u64,
    /// Pooled metrics.
    pub pooled: Metrics,
}

/// One ROI's scores, with its prediction in class colours.
#[derive(Debug, Clone)]
pub(crate) struct RoiScore {
    /// Index in [`Report::rois`].
    pub index: usize,
    /// Its scores.
    pub result: ImageResult,
    /// PNG of the prediction at the thumbnail size.
    pub picture: Vec<u8>,
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// The request.
    pub plan: ReportPlan,
    /// Per ROI, in ROI order.
    pub rois: Vec<RoiEntry>,
    /// The distribution (as `bcss stats`).
    pub stats: Stats,
    /// The verify result.
    pub verify: VerifyStatus,
    /// Resolutions found in the file names (`MPP-0.2500`).
    pub resolutions: Vec<String>,
    /// Per part then `all`, with `--pred`.
    pub scores: Option<Vec<PartScores>>,
    /// Per ROI, worst mean Dice first (undefined last), with `--pred`.
    pub roi_scores: Vec<RoiScore>,
    /// Predictions that could not be scored.
    pub problems: Vec<Problem>,
}

/// What a report run wrote (the `--json` summary).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReportSummary {
    /// The page.
    pub out: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// ROIs in it.
    pub rois: usize,
    /// The class map.
    pub class_map: String,
    /// The distribution per part (the `parts` of `bcss stats --json`).
    pub parts: Vec<crate::dataset::distribution::PartStats>,
    /// With `--pred`: the pooled scores per part (`pooled` of `bcss eval --json`, per part).
    pub scores: Option<Vec<PartScores>>,
    /// Predictions that could not be scored (as `bcss eval` reports them).
    pub problems: Vec<Problem>,
    /// The verify result shown.
    pub verify: VerifyStatus,
}

/// Why a report failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A mask or image could not be read or is inconsistent.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A chart could not be drawn.
    #[error("cannot draw the report's `{chart}` chart")]
    Chart {
        /// Which chart (`share`, `pixels`, `log`).
        chart: &'static str,
        /// The drawing error.
        #[source]
        source: crate::render::chart::RenderError,
    },
    /// The page could not be written.
    #[error("failed to write `{path}`")]
    Output {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl crate::report::Blamed for ReportError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            ReportError::Input { .. } => Blame::Input,
            ReportError::Chart { .. } | ReportError::Output { .. } => Blame::Output,
        }
    }
}

fn verify_status(root: &Path) -> VerifyStatus {
    match verify(root, &VerifyOptions::default().skip_hashes(true)) {
        Ok(r) => VerifyStatus {
            with_manifest: r.with_manifest,
            rois_checked: r.rois_checked,
            problems: r.problems.len(),
            absent: r.absent.len(),
            first: r.problems.iter().take(5).map(|p| p.to_string()).collect(),
            error: None,
        },
        Err(e) => VerifyStatus {
            with_manifest: false,
            rois_checked: 0,
            problems: 0,
            absent: 0,
            first: Vec::new(),
            error: Some(crate::report::error_chain(&e)),
        },
    }
}

/// Reads every ROI (in parallel on rayon's pool, one ROI per worker at a time), scores the
/// predictions, and gathers what the page shows.
pub(crate) fn collect(plan: &ReportPlan, rois: &[RoiInput], reporter: &dyn Reporter) -> Result<Report, ReportError> {
    let map = &plan.map;
    let thumb = plan.thumb.clamp(1, MAX_THUMB);
    let results = input::for_each_reported(rois, true, reporter, |r| -> Result<_, InputError> {
        let stats = input::roi_counts(r, map)?;
        let thumbs = thumbs::roi_thumbs(&r.files.mask, r.files.image.as_deref(), map, thumb)?;
        let bytes = input::file_len(&r.files.mask) + r.files.image.as_deref().map_or(0, input::file_len);
        let scored = plan.pred.as_ref().map(|(_, pred)| match pred.get(&r.files.key()) {
            None => {
                Err(Problem::new(&r.files.mask, ProblemKind::NoPrediction, "no prediction for this ground-truth mask"))
            }
            Some(p) => input::score_files(map, &r.files.roi_id, &r.files.mask, p).and_then(|result| {
                let picture = thumbs::prediction_picture(p, thumbs.width, thumbs.height, map).map_err(|e| {
                    Problem::new(e.path.clone(), ProblemKind::Unreadable, crate::report::error_chain(&e.problem))
                })?;
                Ok((result, picture))
            }),
        });
        Ok((RoiEntry { input: r.clone(), stats, thumbs, bytes }, scored))
    });
    let mut entries = Vec::new();
    let mut scored = Vec::new();
    let mut problems = Vec::new();
    for (i, res) in results.into_iter().enumerate() {
        let (entry, score) = res?;
        match score {
            Some(Ok((result, picture))) => scored.push(RoiScore { index: i, result, picture }),
            Some(Err(p)) => problems.push(p),
            None => {}
        }
        entries.push(entry);
    }
    problems.sort_by(|a, b| a.file.cmp(&b.file));
    let stats = aggregate(map, entries.iter().map(|e| e.stats.clone()).collect());
    let scores = plan.pred.as_ref().map(|_| part_scores(map, &entries, &scored));
    scored.sort_by(|a, b| match (a.result.mean_dice, b.result.mean_dice) {
        (Some(x), Some(y)) => x.total_cmp(&y).then(a.index.cmp(&b.index)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.index.cmp(&b.index),
    });
    let mut resolutions: Vec<String> = entries
        .iter()
        .filter_map(|e| e.input.files.mask.file_name()?.to_str().and_then(crate::dataset::names::parse_roi_file_name))
        .map(|n| n.suffix)
        .collect();
    resolutions.sort();
    resolutions.dedup();
    Ok(Report {
        plan: plan.clone(),
        rois: entries,
        stats,
        verify: verify_status(&plan.root),
        resolutions,
        scores,
        roi_scores: scored,
        problems,
    })
}

/// Pooled metrics per part (train, val, test, those with scores) and over all.
fn part_scores(map: &ClassMap, entries: &[RoiEntry], scored: &[RoiScore]) -> Vec<PartScores> {
    let mut out = Vec::new();
    for part in [Some(Part::Train), Some(Part::Val), Some(Part::Test), None] {
        let members: Vec<&RoiScore> =
            scored.iter().filter(|s| part.is_none_or(|p| entries[s.index].input.part == p)).collect();
        if members.is_empty() && part.is_some() {
            continue;
        }
        let mut pooled = Confusion::new(map.num_classes());
        for s in &members {
            pooled.add(&s.result.confusion);
        }
        out.push(PartScores {
            part: part.map_or("all", Part::as_str).to_string(),
            images: members.len(),
            labelled_pixels: pooled.total(),
            pooled: pooled.metrics(map),
        });
    }
    out
}

/// Collects, renders and writes the page (atomically; its folder is created).
pub fn report(plan: &ReportPlan, rois: &[RoiInput], reporter: &dyn Reporter) -> Result<ReportSummary, ReportError> {
    let report = collect(plan, rois, reporter)?;
    let html = page::render(&report)?;
    let output = |source| ReportError::Output { path: plan.out.clone(), source };
    if let Some(dir) = plan.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(output)?;
    }
    write_atomic(&plan.out, |w: &mut dyn Write| w.write_all(html.as_bytes())).map_err(output)?;
    Ok(ReportSummary {
        out: plan.out.clone(),
        bytes: html.len() as u64,
        rois: report.rois.len(),
        class_map: report.stats.class_map.clone(),
        parts: report.stats.parts.clone(),
        scores: report.scores.clone(),
        problems: report.problems.clone(),
        verify: report.verify.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::chart::RenderError;

    #[test]
    fn a_chart_that_cannot_be_drawn_names_it_and_the_cause_once() {
        let err = ReportError::Chart { chart: "log", source: RenderError("out of memory".into()) };
        assert_eq!(
            crate::report::error_chain(&err),
            "cannot draw the report's `log` chart: the plotting backend failed: out of memory"
        );
    }
}
