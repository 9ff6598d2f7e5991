//! `bcss masks`: label masks from a slide's annotation JSON, one per ROI element, named and
//! bounded as HistomicsTK's `get_all_rois_from_slide` names them.
//!
//! For every ROI element (a polyline or rectangle of an `is_roi` group of the codes table) the
//! mask is planned by `roi_rasters_each`, painted a band of rows at a time and written,
//! atomically, as
//! `<out>/<slide>_left-<XMIN>_top-<YMIN>_bottom-<YMAX>_right-<XMAX>.png` (8-bit grey labels)
//! with a `.json` beside it holding the bounds HistomicsTK returns (`bounds`, `roiinfo`), the
//! numbers of the name (`name_bounds`), the ROI element's box, the shape, per-value pixel
//! counts and the SHA-256 of the raw pixels. A ROI element that HistomicsTK skips (it cannot be
//! drawn, or its mask is empty, e.g. a ROI one pixel wide: [`RasterError::htk_skips`]) is listed in
//! [`MasksSummary::skipped_rois`] with the reason, and the others are still written; a ROI that
//! fails for another reason (over the size limit) is listed in [`MasksSummary::failed`].
//!
//! One run can take many slides (`--annotations` with several files or a folder: one annotation
//! file per slide, as `bcss download` saves them). The slides are done one after another, each
//! with both cores (bands of the painting, PNG beside the pixel summary and the painting of the
//! next band), so memory holds two bands of rows per mask in progress, whatever the mask's size
//! (a 46340 x 46340 mask is written in 27 MB). An annotation file is read only when it is a
//! regular file of at most 64 MiB (`MAX_ANNOTATIONS_BODY`, the DSA route's limit): a FIFO or
//! device is refused at once, not waited on. A slide whose file cannot be read or used is reported in
//! [`MasksRun::failed`] and the others are still written. One process for a whole dataset also
//! saves the process start (the dynamic linking of OpenSlide's libraries) per slide.
//!
//! The mask of one catalogue ROI (the ROI element that matches its rectangle, fitted to it) is
//! [`transform::raster::mask_for_rect`](crate::transform::raster::mask_for_rect), over
//! annotations parsed by [`model::parse_annotations`](crate::model::parse_annotations).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::workers::UnitError;
use crate::codec::label_png::LabelWriter;
use crate::codec::png::Compression;
use crate::dataset::atomic::{self, hex};
use crate::dataset::{DatasetLock, LockError};
use crate::model::MAX_PIXELS;
use crate::model::{parse_annotations, AnnotationError};
use crate::model::{Annotations, CodeTable, Rect};
use crate::report::{Step, UnitFailure};
use crate::source::girder::MAX_ANNOTATIONS_BODY;
use crate::transform::raster::{self, roi_elements, roi_rasters_each, Geometry, RasterError, RasterOptions, RoiRaster};
use crate::transform::remap::count_into;

/// The resolution of the masks.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Scale {
    /// The slide's own pixels (`sf = 1`).
    Base,
    /// Microns per pixel, given the slide's native microns per pixel.
    Mpp {
        /// Target.
        mpp: f64,
        /// The slide's (OpenSlide `mpp-x`).
        native_mpp: f64,
    },
    /// Objective magnification, given the slide's native magnification.
    Mag {
        /// Target.
        mag: f64,
        /// The slide's.
        native_mag: f64,
    },
}

impl Scale {
    /// HistomicsTK's scale factor. For MPP, `mm_x` is formed as large_image forms it from
    /// OpenSlide's `mpp-x` (`mpp * 0.001`), so the factor is bit-identical to HistomicsTK's on
    /// a server that reports that `mm_x`.
    pub fn factor(self) -> f64 {
        match self {
            Scale::Base => 1.0,
            Scale::Mpp { mpp, native_mpp } => raster::scale_from_mpp(mpp, native_mpp * 0.001),
            Scale::Mag { mag, native_mag } => raster::scale_from_mag(mag, native_mag),
        }
    }
}

/// One slide's annotations and the name its masks are prefixed with.
#[derive(Debug, Clone)]
pub struct SlideAnnotations {
    /// The annotation JSON (`GET annotation/item/{id}` body).
    pub annotations: PathBuf,
    /// The name masks are prefixed with.
    pub slide_name: String,
}

impl SlideAnnotations {
    /// The slide of an annotation file saved by `bcss download` (`<slide>.json`): named after
    /// the file ([`slide_name_from_path`]); `None` when the path has no file name.
    pub fn from_path(path: &Path) -> Option<SlideAnnotations> {
        Some(SlideAnnotations { slide_name: slide_name_from_path(path)?, annotations: path.to_path_buf() })
    }
}

/// A validated `bcss masks` run.
///
/// Made by [`MasksPlan::new`] from the slides and the output folder, every other setting at
/// the default its setter names (BCSS's codes, base resolution, HistomicsTK's pixel rules),
/// and changed by chainable setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MasksPlan {
    pub(crate) slides: Vec<SlideAnnotations>,
    pub(crate) codes: CodeTable,
    pub(crate) out: PathBuf,
    pub(crate) wait_lock: bool,
    pub(crate) scale: Scale,
    pub(crate) geometry: Geometry,
    pub(crate) png: Compression,
}

impl MasksPlan {
    /// A plan to rasterise `slides`, in this order, into the output folder `out` (created),
    /// with every other setting at its default.
    pub fn new(slides: Vec<SlideAnnotations>, out: impl Into<PathBuf>) -> Self {
        MasksPlan {
            slides,
            codes: CodeTable::bcss(),
            out: out.into(),
            wait_lock: false,
            scale: Scale::Base,
            geometry: Geometry::Htk,
            png: Compression::default(),
        }
    }
    /// Codes table (default: [`CodeTable::bcss`]).
    pub fn codes(mut self, codes: CodeTable) -> Self {
        self.codes = codes;
        self
    }
    /// When another run holds `out`'s lock: wait for it instead of failing with
    /// [`LockError::Held`] (default: false).
    pub fn wait_lock(mut self, wait: bool) -> Self {
        self.wait_lock = wait;
        self
    }
    /// Resolution (default: [`Scale::Base`]).
    pub fn scale(mut self, scale: Scale) -> Self {
        self.scale = scale;
        self
    }
    /// Pixel rules (default: [`Geometry::Htk`]).
    pub fn geometry(mut self, geometry: Geometry) -> Self {
        self.geometry = geometry;
        self
    }
    /// PNG compression (default: [`Compression::Balanced`]).
    pub fn png(mut self, png: Compression) -> Self {
        self.png = png;
        self
    }

    /// The output folder.
    pub fn get_out(&self) -> &Path {
        &self.out
    }
    /// The codes table.
    pub fn get_codes(&self) -> &CodeTable {
        &self.codes
    }
}

/// One mask written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WrittenMask {
    /// File stem.
    pub name: String,
    /// The PNG.
    pub png: PathBuf,
    /// The bounds JSON.
    pub json: PathBuf,
    /// The ROI element's id.
    pub element_id: Option<String>,
    /// Its group.
    pub group: String,
    /// Position among ROI elements.
    pub roi_index: usize,
    /// Mask width.
    pub width: usize,
    /// Mask height.
    pub height: usize,
    /// Bounds as HistomicsTK returns them (scaled grid).
    pub bounds: Rect<i64>,
    /// Candidates more than 2 px from the ROI.
    pub elements_outside_roi: usize,
    /// Candidates that could not be drawn.
    pub element_errors: usize,
}

/// What a run did, slide by slide.
#[derive(Debug, serde::Serialize)]
pub struct MasksRun {
    /// The slides done, in the plan's order.
    pub slides: Vec<MasksSummary>,
    /// The slides that could not be done (their file unreadable or not annotations, their name
    /// unusable, the scale absurd for one of their ROIs): nothing of theirs was written.
    pub failed: Vec<FailedSlide>,
    /// Every failure of the run in the plan's order, as the `failures` of the other commands:
    /// a slide that could not be done (id: the slide name; step [`Step::Annotations`] for its
    /// file, [`Step::Mask`] for a scale too large, [`Step::Write`] for a name unusable in a
    /// file name), and each ROI of a slide done that has no mask ([`MasksSummary::failures`]).
    pub failures: Vec<UnitFailure>,
}

/// A slide of the run that could not be done.
#[derive(Debug, serde::Serialize)]
pub struct FailedSlide {
    /// Its annotation file.
    pub annotations: PathBuf,
    /// Why (the whole chain of causes).
    pub reason: String,
    /// The error, for callers that match on it.
    #[serde(skip)]
    pub error: MasksError,
}

/// What was done for one slide.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MasksSummary {
    /// The annotation file read.
    pub annotations: PathBuf,
    /// Slide name used in file names.
    pub slide_name: String,
    /// Scale factor applied.
    pub scale_factor: f64,
    /// `htk` or `strict`.
    pub geometry: Geometry,
    /// Elements read.
    pub elements: usize,
    /// Elements of types that are not rasterised, by type (skipped).
    pub skipped_elements: BTreeMap<String, usize>,
    /// ROI elements found.
    pub rois: usize,
    /// Masks written.
    pub masks: Vec<WrittenMask>,
    /// ROI elements HistomicsTK skips too (no mask, not a failure), with the reason.
    pub skipped_rois: Vec<SkippedRoi>,
    /// ROI elements without a mask for another reason (a failure), with the reason.
    pub failed: Vec<FailedRoi>,
    /// The ROIs of `failed` as the `failures` of the other commands: id `<slide> ROI <index>`,
    /// step [`Step::Mask`].
    pub failures: Vec<UnitFailure>,
}

/// A ROI element for which, as HistomicsTK, no mask is made: it cannot be drawn or its mask is
/// empty (see [`RasterError::htk_skips`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SkippedRoi {
    /// Position among ROI elements.
    pub roi_index: usize,
    /// The element's id.
    pub element_id: Option<String>,
    /// Index of its annotation document in the file.
    pub annidx: usize,
    /// Its index among the document's elements.
    pub elementidx: usize,
    /// Its group.
    pub group: Option<String>,
    /// Its type (`rectangle` or `polyline`).
    pub element_type: String,
    /// Why.
    pub reason: String,
}

/// A ROI element that gave no mask.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedRoi {
    /// Position among ROI elements.
    pub roi_index: usize,
    /// The element's id.
    pub element_id: Option<String>,
    /// Why.
    pub reason: String,
}

/// Why a `bcss masks` run could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasksError {
    /// Another run holds the output folder, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The annotation file could not be read.
    #[error("failed to read annotation file `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The annotation file is not annotation JSON.
    #[error("failed to parse annotation file `{path}`")]
    Annotations {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: AnnotationError,
    },
    /// The output directory is unusable.
    #[error("cannot create output directory `{path}`")]
    Output {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("failed to write `{path}`")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The slide name cannot be used in a file name.
    #[error(transparent)]
    UnsafeName(#[from] crate::dataset::names::UnsafeName),
    /// The scale factor makes a ROI element's mask exceed [`MAX_PIXELS`] though it fits at base
    /// resolution: the resolution asked for is absurd (nothing was rasterised or written).
    #[error(
        "at scale factor {factor} ROI element {roi_index} ({}) would make a mask of {width}x{height} pixels, over \
         the limit of {MAX_PIXELS} pixels; check `--mpp`/`--native-mpp` or `--mag`/`--native-mag`",
        .element_id.as_deref().unwrap_or("no id")
    )]
    ScaleTooLarge {
        /// The scale factor.
        factor: f64,
        /// Position among the ROI elements.
        roi_index: usize,
        /// The element's id.
        element_id: Option<String>,
        /// Mask width at that scale.
        width: i64,
        /// Mask height at that scale.
        height: i64,
    },
}

impl crate::report::Blamed for MasksError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            MasksError::Lock(e) => e.blame(),
            MasksError::Read { .. }
            | MasksError::Annotations { .. }
            | MasksError::UnsafeName(_)
            | MasksError::ScaleTooLarge { .. } => Blame::Input,
            MasksError::Output { .. } | MasksError::Write { .. } => Blame::Output,
        }
    }
}

impl UnitError for MasksError {
    fn rerun_may_fix(&self) -> bool {
        match self {
            // Not a regular file, or over the size budget: the same file fails again.
            MasksError::Read { source, .. } => {
                !matches!(source.kind(), std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData)
            }
            MasksError::Lock(_) | MasksError::Output { .. } | MasksError::Write { .. } => true,
            _ => false,
        }
    }
    fn step(&self) -> Option<Step> {
        match self {
            MasksError::Read { .. } | MasksError::Annotations { .. } => Some(Step::Annotations),
            MasksError::ScaleTooLarge { .. } => Some(Step::Mask),
            MasksError::UnsafeName(_) | MasksError::Output { .. } | MasksError::Write { .. } => Some(Step::Write),
            MasksError::Lock(_) => None,
        }
    }
    fn http_status(&self) -> Option<u16> {
        None
    }
}

/// Rasterises every ROI of every slide of the plan and writes the masks.
///
/// Sizes are bounded before anything is allocated or created: a scale factor that takes a ROI
/// element fitting at base resolution over [`MAX_PIXELS`] refuses the slide
/// ([`MasksError::ScaleTooLarge`]); an element over the limit at base resolution fails alone
/// (its reason in [`MasksSummary::failed`]). Each mask is written and dropped as soon as it is
/// made. A slide that cannot be done is listed in [`MasksRun::failed`] and the next one is
/// done; the output folder is created (and locked) only when a first slide has something to
/// write. The errors returned end the run: the output folder unusable or locked, a file not
/// written.
pub fn run(plan: &MasksPlan) -> Result<MasksRun, MasksError> {
    let opts = RasterOptions::default().geometry(plan.geometry).scale(plan.scale.factor());
    let mut lock = None;
    let mut done = MasksRun { slides: Vec::new(), failed: Vec::new(), failures: Vec::new() };
    for slide in &plan.slides {
        let parsed = match read_slide(slide, &opts, &plan.codes) {
            Ok(parsed) => parsed,
            Err(error) => {
                done.failures.push(error.unit_failure(&slide.slide_name));
                let reason = crate::report::error_chain(&error);
                done.failed.push(FailedSlide { annotations: slide.annotations.clone(), reason, error });
                continue;
            }
        };
        if lock.is_none() {
            std::fs::create_dir_all(&plan.out)
                .map_err(|source| MasksError::Output { path: plan.out.clone(), source })?;
            lock = Some(DatasetLock::acquire(&plan.out, "masks", plan.wait_lock)?);
        }
        let summary = write_slide(plan, slide, &parsed, &opts)?;
        done.failures.extend(summary.failures.iter().cloned());
        done.slides.push(summary);
    }
    Ok(done)
}

/// Reads and checks one slide's annotations: nothing is written yet.
fn read_slide(slide: &SlideAnnotations, opts: &RasterOptions, codes: &CodeTable) -> Result<Annotations, MasksError> {
    // Not a FIFO or device (refused at once, never waited on), at most the size the DSA route
    // accepts for an annotation body.
    let bytes = crate::files::read(&slide.annotations, MAX_ANNOTATIONS_BODY)
        .map_err(|source| MasksError::Read { path: slide.annotations.clone(), source })?;
    let parsed = parse_annotations(&bytes)
        .map_err(|source| MasksError::Annotations { path: slide.annotations.clone(), source })?;
    crate::dataset::names::safe_component(&slide.slide_name)?;
    let base = opts.scale(1.0);
    for (roi_index, &i) in roi_elements(&parsed, codes).iter().enumerate() {
        let shape = &parsed.elements[i].shape;
        if let (Ok(()), Err((width, height))) = (raster::fits(shape, &base), raster::fits(shape, opts)) {
            let element_id = parsed.elements[i].id.clone();
            return Err(MasksError::ScaleTooLarge { factor: opts.get_scale(), roi_index, element_id, width, height });
        }
    }
    Ok(parsed)
}

/// Rasterises and writes the masks of one slide.
fn write_slide(
    plan: &MasksPlan,
    slide: &SlideAnnotations,
    parsed: &Annotations,
    opts: &RasterOptions,
) -> Result<MasksSummary, MasksError> {
    let rois = roi_elements(parsed, &plan.codes);
    let results = roi_rasters_each(parsed, &plan.codes, opts, |roi_index, result| match result {
        Ok(r) => write_mask(plan, slide, parsed, &r, opts.get_scale()).map(Outcome::Written),
        Err(e) => Ok(unmade(parsed, rois[roi_index], roi_index, &e)),
    });
    let mut summary = MasksSummary {
        annotations: slide.annotations.clone(),
        slide_name: slide.slide_name.clone(),
        scale_factor: opts.get_scale(),
        geometry: plan.geometry,
        elements: parsed.elements.len(),
        skipped_elements: parsed.unsupported(),
        rois: results.len(),
        masks: Vec::new(),
        skipped_rois: Vec::new(),
        failed: Vec::new(),
        failures: Vec::new(),
    };
    for result in results {
        match result? {
            Outcome::Written(written) => summary.masks.push(written),
            Outcome::Skipped(skipped) => summary.skipped_rois.push(skipped),
            Outcome::Failed(failed) => {
                let id = format!("{} ROI {}", slide.slide_name, failed.roi_index);
                summary
                    .failures
                    .push(UnitFailure { step: Some(Step::Mask), ..UnitFailure::new(id, failed.reason.clone()) });
                summary.failed.push(failed);
            }
        }
    }
    Ok(summary)
}

enum Outcome {
    Written(WrittenMask),
    Skipped(SkippedRoi),
    Failed(FailedRoi),
}

/// A ROI without a mask: skipped when HistomicsTK skips it too, else failed.
fn unmade(parsed: &Annotations, element: usize, roi_index: usize, e: &RasterError) -> Outcome {
    let el = &parsed.elements[element];
    if e.htk_skips() {
        Outcome::Skipped(SkippedRoi {
            roi_index,
            element_id: el.id.clone(),
            annidx: el.annidx,
            elementidx: el.elementidx,
            group: el.group.clone(),
            element_type: el.shape.kind().to_string(),
            reason: crate::report::error_chain(e),
        })
    } else {
        Outcome::Failed(FailedRoi { roi_index, element_id: el.id.clone(), reason: crate::report::error_chain(e) })
    }
}

fn write_mask(
    plan: &MasksPlan,
    slide: &SlideAnnotations,
    parsed: &Annotations,
    m: &RoiRaster,
    sf: f64,
) -> Result<WrittenMask, MasksError> {
    let element = &parsed.elements[m.element];
    let name = m.name(&slide.slide_name);
    let png_path = plan.out.join(format!("{name}.png"));
    let json_path = plan.out.join(format!("{name}.json"));
    let (width, height) = (m.width(), m.height());
    let mut hist = [0u64; 256];
    let mut sha = Sha256::new();
    // The mask is painted a band of rows at a time into one of two buffers: while the PNG
    // writer (this thread) encodes a band, the summary of its raw pixels (value counts,
    // SHA-256) and the painting of the next band run beside it. Memory is two bands, whatever
    // the mask's size.
    let written = atomic::write_atomic(&png_path, |out| {
        let mut png = LabelWriter::new(out, width, height, plan.png).map_err(std::io::Error::from)?;
        let rows = raster::band_rows(width).min(height);
        let (mut ready, mut next) = (vec![0u8; rows * width], vec![0u8; rows * width]);
        m.paint_rows(0, &mut ready);
        let mut top = 0;
        while top < height {
            let n = rows.min(height - top);
            let band = &ready[..n * width];
            let encoded = rayon::in_place_scope(|s| {
                s.spawn(|_| {
                    count_into(band, &mut hist);
                    sha.update(band);
                });
                if top + n < height {
                    let next = &mut next[..rows.min(height - top - n) * width];
                    s.spawn(move |_| m.paint_rows(top + n, next));
                }
                png.write_rows(band)
            });
            encoded.map_err(std::io::Error::from)?;
            std::mem::swap(&mut ready, &mut next);
            top += n;
        }
        png.finish().map_err(std::io::Error::from)
    });
    written.map_err(|source| MasksError::Write { path: png_path.clone(), source })?;
    let sha256 = hex(&sha.finalize());
    let counts: BTreeMap<String, u64> =
        hist.iter().enumerate().filter(|&(_, &n)| n > 0).map(|(v, &n)| (v.to_string(), n)).collect();
    let b = m.bounds;
    // HistomicsTK's upper-case names (its `roiinfo`); a `Rect` serializes with the lower-case ones.
    let upper = |b: Rect<i64>| serde_json::json!({"XMIN": b.left, "YMIN": b.top, "XMAX": b.right, "YMAX": b.bottom});
    let meta = serde_json::json!({
        "name": name,
        "geometry": plan.geometry,
        "sf": sf,
        "bounds": b,
        "roiinfo": {"XMIN": b.left, "YMIN": b.top, "XMAX": b.right, "YMAX": b.bottom, "BBOX_WIDTH": b.right - b.left, "BBOX_HEIGHT": b.bottom - b.top},
        "name_bounds": upper(m.name_bounds),
        "roi_element_bbox": m.roi_bbox,
        "roi_index": m.roi_index,
        "annidx": element.annidx,
        "elementidx": element.elementidx,
        "element_id": element.id,
        "element_type": element.shape.kind(),
        "group": element.group,
        "shape": [height, width],
        "value_counts": counts,
        "sha256": sha256,
        "elements_outside_roi": m.outside_roi,
        "element_errors": m.element_errors.iter().map(|e| serde_json::json!({
            "annidx": parsed.elements[e.element].annidx,
            "elementidx": parsed.elements[e.element].elementidx,
            "element_id": parsed.elements[e.element].id,
            "reason": e.reason,
        })).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_vec_pretty(&meta).expect("JSON value serialises");
    text.push(b'\n');
    atomic::write_atomic(&json_path, |w| w.write_all(&text))
        .map_err(|source| MasksError::Write { path: json_path.clone(), source })?;
    Ok(WrittenMask {
        name,
        png: png_path,
        json: json_path,
        element_id: element.id.clone(),
        group: element.group.clone().unwrap_or_default(),
        roi_index: m.roi_index,
        width,
        height,
        bounds: m.bounds,
        elements_outside_roi: m.outside_roi,
        element_errors: m.element_errors.len(),
    })
}

/// The slide name HistomicsTK would use for an annotation file saved by `bcss download`
/// (`<slide>.json`): the file name without its last extension.
pub fn slide_name_from_path(path: &Path) -> Option<String> {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_plan(slides: Vec<SlideAnnotations>, dir: &Path, scale: Scale) -> MasksPlan {
        MasksPlan {
            slides,
            codes: CodeTable::bcss(),
            out: dir.join("out"),
            scale,
            geometry: Geometry::Htk,
            png: Compression::Fast,
            wait_lock: false,
        }
    }

    const JSON: &[u8] = br#"[{"annotation": {"name": "t", "elements": [
        {"type": "rectangle", "id": "big", "group": "roi", "center": [50, 50, 0], "width": 100, "height": 100, "rotation": 0},
        {"type": "rectangle", "id": "small", "group": "evaluation_roi", "center": [20, 20, 0], "width": 10, "height": 10, "rotation": 0},
        {"type": "polyline", "group": "mostly_tumor", "points": [[10,10,0],[30,10,0],[30,30,0],[10,30,0]]},
        {"type": "point", "group": "mostly_tumor", "center": [3, 3, 0]}
    ]}}]"#;

    #[test]
    fn run_writes_named_masks_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let ann = dir.path().join("SLIDE-1.json");
        std::fs::write(&ann, JSON).unwrap();
        let plan = test_plan(
            vec![SlideAnnotations { annotations: ann, slide_name: "SLIDE-1".into() }],
            dir.path(),
            Scale::Base,
        );
        let s = run(&plan).unwrap().slides.remove(0);
        assert_eq!((s.rois, s.masks.len(), s.skipped_rois.len(), s.failed.len()), (2, 2, 0, 0));
        assert_eq!(s.skipped_elements.get("point"), Some(&1));
        assert_eq!(s.masks[0].name, "SLIDE-1_left-0_top-0_bottom-100_right-100");
        let png = std::fs::read(&s.masks[0].png).unwrap();
        let decoded = crate::codec::png::decode_gray(&png).unwrap();
        assert_eq!((decoded.width, decoded.height), (99, 99));
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&s.masks[0].json).unwrap()).unwrap();
        assert_eq!(meta["bounds"], serde_json::json!({"xmin": 0, "ymin": 0, "xmax": 100, "ymax": 100}));
        assert_eq!(meta["value_counts"]["1"], serde_json::json!(400));
        assert_eq!(meta["sha256"].as_str().unwrap(), hex(&Sha256::digest(&decoded.data)));
        assert_eq!(slide_name_from_path(Path::new("/x/TCGA-A.B.json")).as_deref(), Some("TCGA-A.B"));
        assert_eq!(Scale::Mpp { mpp: 0.5, native_mpp: 0.25 }.factor(), 0.5);
        assert_eq!(Scale::Mag { mag: 10.0, native_mag: 40.0 }.factor(), 0.25);
    }

    #[test]
    fn a_roi_one_pixel_wide_is_skipped_and_the_others_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let ann = dir.path().join("SLIDE-1.json");
        std::fs::write(
            &ann,
            br#"[{"annotation": {"name": "t", "elements": [
            {"type": "rectangle", "id": "thin", "group": "roi", "center": [50, 50, 0], "width": 1, "height": 40, "rotation": 0},
            {"type": "rectangle", "id": "big", "group": "roi", "center": [50, 50, 0], "width": 100, "height": 100, "rotation": 0}
        ]}}]"#,
        )
        .unwrap();
        let plan = test_plan(
            vec![SlideAnnotations { annotations: ann, slide_name: "SLIDE-1".into() }],
            dir.path(),
            Scale::Base,
        );
        let s = run(&plan).unwrap().slides.remove(0);
        assert_eq!((s.rois, s.masks.len(), s.skipped_rois.len(), s.failed.len()), (2, 1, 1, 0));
        let k = &s.skipped_rois[0];
        assert_eq!((k.roi_index, k.element_id.as_deref(), k.annidx, k.elementidx), (0, Some("thin"), 0, 0));
        assert!(k.reason.contains("empty mask"), "{}", k.reason);
        assert_eq!(s.masks[0].element_id.as_deref(), Some("big"));
    }

    #[test]
    fn absurd_scales_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let ann = dir.path().join("SLIDE-1.json");
        std::fs::write(&ann, JSON).unwrap();
        // 0.25 / 0.0001: a factor of 2500, so the 100x100 ROI would be 250000x250000.
        let plan = test_plan(
            vec![SlideAnnotations { annotations: ann, slide_name: "SLIDE-1".into() }],
            dir.path(),
            Scale::Mpp { mpp: 0.0001, native_mpp: 0.25 },
        );
        let done = run(&plan).unwrap();
        assert!(done.slides.is_empty());
        let err = &done.failed[0].error;
        assert!(matches!(err, MasksError::ScaleTooLarge { roi_index: 0, width: 250_000, .. }), "{err}");
        assert!(done.failed[0].reason.contains("(big) would make a mask of 250000x250000 pixels"), "{err}");
        assert!(!plan.out.exists(), "nothing is created");
    }

    #[test]
    fn a_slide_that_cannot_be_read_fails_alone_and_the_others_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("SLIDE-1.json");
        std::fs::write(&good, JSON).unwrap();
        let broken = dir.path().join("SLIDE-2.json");
        std::fs::write(&broken, b"[{\"annotation\": ").unwrap();
        let absent = dir.path().join("SLIDE-3.json");
        let also_good = dir.path().join("SLIDE-4.json");
        std::fs::write(&also_good, JSON).unwrap();
        let slides: Vec<SlideAnnotations> =
            [&good, &broken, &absent, &also_good].iter().map(|p| SlideAnnotations::from_path(p).unwrap()).collect();
        let plan = test_plan(slides, dir.path(), Scale::Base);
        let done = run(&plan).unwrap();
        let names: Vec<&str> = done.slides.iter().map(|s| s.slide_name.as_str()).collect();
        assert_eq!(names, ["SLIDE-1", "SLIDE-4"]);
        assert_eq!(done.slides[1].masks[0].name, "SLIDE-4_left-0_top-0_bottom-100_right-100");
        assert_eq!(done.slides[1].annotations, also_good);
        let failed: Vec<&Path> = done.failed.iter().map(|f| f.annotations.as_path()).collect();
        assert_eq!(failed, [broken.as_path(), absent.as_path()]);
        assert!(matches!(done.failed[0].error, MasksError::Annotations { .. }), "{}", done.failed[0].reason);
        assert!(matches!(done.failed[1].error, MasksError::Read { .. }), "{}", done.failed[1].reason);
        // The whole chain, each cause once.
        let reason = &done.failed[1].reason;
        assert!(reason.starts_with(&format!("failed to read annotation file `{}`: ", absent.display())), "{reason}");
        assert_eq!(reason.matches("No such file").count(), 1, "{reason}");
        for s in &done.slides {
            for m in &s.masks {
                assert!(m.png.is_file() && m.json.is_file(), "{}", m.png.display());
            }
        }
        assert!(!dir.path().join("out").join("SLIDE-2_left-0_top-0_bottom-100_right-100.png").exists());
    }
}
