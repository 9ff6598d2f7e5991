//! `bcss masks`: label masks from a slide's annotation JSON, one per ROI element, named and
//! bounded as HistomicsTK's `get_all_rois_from_slide` names them.
//!
//! For every ROI element (a polyline or rectangle of an `is_roi` group of the codes table) the
//! mask is rasterised by [`roi_masks`] and written, atomically, as
//! `<out>/<slide>_left-<XMIN>_top-<YMIN>_bottom-<YMAX>_right-<XMAX>.png` (8-bit grey labels)
//! with a `.json` beside it holding the bounds HistomicsTK returns (`bounds`, `roiinfo`), the
//! numbers of the name (`name_bounds`), the ROI element's box, the shape, per-value pixel
//! counts and the SHA-256 of the raw pixels. A ROI element that HistomicsTK skips (it cannot be
//! drawn, or its mask is empty, e.g. a ROI one pixel wide: [`RasterError::htk_skips`]) is listed in
//! [`MasksSummary::skipped_rois`] with the reason, and the others are still written; a ROI that
//! fails for another reason (over the size limit) is listed in [`MasksSummary::failed`].
//!
//! The mask of one catalogue ROI (the ROI element that matches its rectangle, fitted to it) is
//! [`transform::raster::mask_for_rect`](crate::transform::raster::mask_for_rect), over
//! annotations parsed by [`source::annotations::parse`](crate::source::annotations::parse).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::codec::label_png;
use crate::codec::png::Compression;
use crate::dataset::atomic::{self, hex};
use crate::dataset::{DatasetLock, LockError};
use crate::model::MAX_PIXELS;
use crate::model::{Annotations, CodeTable};
use crate::source::annotations::{self, AnnotationError};
use crate::transform::raster::{
    self, roi_elements, roi_masks_each, Bounds, Geometry, RasterError, RasterOptions, RoiMask,
};
use crate::transform::remap::count_into;

/// The resolution of the masks.
#[derive(Debug, Clone, Copy, PartialEq)]
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

/// A validated `bcss masks` run.
#[derive(Debug, Clone)]
pub struct MasksPlan {
    /// The annotation JSON (`GET annotation/item/{id}` body).
    pub annotations: PathBuf,
    /// Codes table.
    pub codes: CodeTable,
    /// The name masks are prefixed with.
    pub slide_name: String,
    /// Output directory (created).
    pub out: PathBuf,
    /// When another run holds `out`'s lock: wait for it instead of failing with
    /// [`LockError::Held`](crate::dataset::LockError::Held).
    pub wait_lock: bool,
    /// Resolution.
    pub scale: Scale,
    /// Pixel rules.
    pub geometry: Geometry,
    /// PNG compression.
    pub png: Compression,
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
    pub bounds: Bounds,
    /// Candidates more than 2 px from the ROI.
    pub elements_outside_roi: usize,
    /// Candidates that could not be drawn.
    pub element_errors: usize,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MasksSummary {
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

/// Rasterises every ROI of the annotation file and writes the masks.
///
/// Sizes are bounded before anything is allocated or created: a scale factor that takes a ROI
/// element fitting at base resolution over [`MAX_PIXELS`] refuses the run
/// ([`MasksError::ScaleTooLarge`]); an element over the limit at base resolution fails alone
/// (its reason in [`MasksSummary::failed`]). Each mask is written and dropped as soon as it is
/// made.
pub fn run(plan: &MasksPlan) -> Result<MasksSummary, MasksError> {
    let bytes = std::fs::read(&plan.annotations)
        .map_err(|source| MasksError::Read { path: plan.annotations.clone(), source })?;
    let parsed = annotations::parse(&bytes)
        .map_err(|source| MasksError::Annotations { path: plan.annotations.clone(), source })?;
    crate::dataset::names::safe_component(&plan.slide_name)?;
    let opts = RasterOptions { geometry: plan.geometry, scale: plan.scale.factor() };
    let rois = roi_elements(&parsed, &plan.codes);
    let base = RasterOptions { scale: 1.0, ..opts };
    for (roi_index, &i) in rois.iter().enumerate() {
        let shape = &parsed.elements[i].shape;
        if let (Ok(()), Err((width, height))) = (raster::fits(shape, &base), raster::fits(shape, &opts)) {
            let element_id = parsed.elements[i].id.clone();
            return Err(MasksError::ScaleTooLarge { factor: opts.scale, roi_index, element_id, width, height });
        }
    }
    std::fs::create_dir_all(&plan.out).map_err(|source| MasksError::Output { path: plan.out.clone(), source })?;
    let _lock = DatasetLock::acquire(&plan.out, "masks", plan.wait_lock)?;
    let results = roi_masks_each(&parsed, &plan.codes, &opts, |roi_index, result| match result {
        Ok(m) => write_mask(plan, &parsed, &m, opts.scale).map(Outcome::Written),
        Err(e) => Ok(unmade(&parsed, rois[roi_index], roi_index, &e)),
    });
    let mut summary = MasksSummary {
        slide_name: plan.slide_name.clone(),
        scale_factor: opts.scale,
        geometry: plan.geometry,
        elements: parsed.elements.len(),
        skipped_elements: parsed.unsupported(),
        rois: results.len(),
        masks: Vec::new(),
        skipped_rois: Vec::new(),
        failed: Vec::new(),
    };
    for result in results {
        match result? {
            Outcome::Written(written) => summary.masks.push(written),
            Outcome::Skipped(skipped) => summary.skipped_rois.push(skipped),
            Outcome::Failed(failed) => summary.failed.push(failed),
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
            reason: e.to_string(),
        })
    } else {
        Outcome::Failed(FailedRoi { roi_index, element_id: el.id.clone(), reason: e.to_string() })
    }
}

fn write_mask(plan: &MasksPlan, parsed: &Annotations, m: &RoiMask, sf: f64) -> Result<WrittenMask, MasksError> {
    let element = &parsed.elements[m.element];
    let name = m.name(&plan.slide_name);
    let png_path = plan.out.join(format!("{name}.png"));
    let json_path = plan.out.join(format!("{name}.json"));
    // The PNG (encode, write, fsync) and the summary of the raw pixels (value counts, SHA-256)
    // each read the whole mask; they run side by side.
    let (written, (hist, sha256)) = rayon::join(
        || {
            atomic::write_atomic(&png_path, |w| {
                label_png::write_labels(w, &m.mask, plan.png).map_err(|e| match e {
                    crate::codec::CodecError::PngEncode(::png::EncodingError::IoError(io)) => io,
                    other => std::io::Error::other(other.to_string()),
                })
            })
        },
        || {
            let mut hist = [0u64; 256];
            count_into(&m.mask.data, &mut hist);
            (hist, hex(&Sha256::digest(&m.mask.data)))
        },
    );
    written.map_err(|source| MasksError::Write { path: png_path.clone(), source })?;
    let counts: BTreeMap<String, u64> =
        hist.iter().enumerate().filter(|&(_, &n)| n > 0).map(|(v, &n)| (v.to_string(), n)).collect();
    let b = m.bounds;
    let upper = |b: Bounds| serde_json::json!({"XMIN": b.xmin, "YMIN": b.ymin, "XMAX": b.xmax, "YMAX": b.ymax});
    let lower = |b: Bounds| serde_json::json!({"xmin": b.xmin, "ymin": b.ymin, "xmax": b.xmax, "ymax": b.ymax});
    let meta = serde_json::json!({
        "name": name,
        "geometry": plan.geometry,
        "sf": sf,
        "bounds": lower(b),
        "roiinfo": {"XMIN": b.xmin, "YMIN": b.ymin, "XMAX": b.xmax, "YMAX": b.ymax, "BBOX_WIDTH": b.xmax - b.xmin, "BBOX_HEIGHT": b.ymax - b.ymin},
        "name_bounds": upper(m.name_bounds),
        "roi_element_bbox": lower(m.roi_bbox),
        "roi_index": m.roi_index,
        "annidx": element.annidx,
        "elementidx": element.elementidx,
        "element_id": element.id,
        "element_type": element.shape.kind(),
        "group": element.group,
        "shape": [m.mask.height, m.mask.width],
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
        width: m.mask.width,
        height: m.mask.height,
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
        let plan = MasksPlan {
            annotations: ann,
            codes: CodeTable::bcss(),
            slide_name: "SLIDE-1".into(),
            out: dir.path().join("out"),
            scale: Scale::Base,
            geometry: Geometry::Htk,
            png: Compression::Fast,
            wait_lock: false,
        };
        let s = run(&plan).unwrap();
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
        let plan = MasksPlan {
            annotations: ann,
            codes: CodeTable::bcss(),
            slide_name: "SLIDE-1".into(),
            out: dir.path().join("out"),
            scale: Scale::Base,
            geometry: Geometry::Htk,
            png: Compression::Fast,
            wait_lock: false,
        };
        let s = run(&plan).unwrap();
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
        let plan = MasksPlan {
            annotations: ann,
            codes: CodeTable::bcss(),
            slide_name: "SLIDE-1".into(),
            out: dir.path().join("out"),
            // 0.25 / 0.0001: a factor of 2500, so the 100x100 ROI would be 250000x250000.
            scale: Scale::Mpp { mpp: 0.0001, native_mpp: 0.25 },
            geometry: Geometry::Htk,
            png: Compression::Fast,
            wait_lock: false,
        };
        let err = run(&plan).unwrap_err();
        assert!(matches!(err, MasksError::ScaleTooLarge { roi_index: 0, width: 250_000, .. }), "{err}");
        assert!(err.to_string().contains("(big) would make a mask of 250000x250000 pixels"), "{err}");
        assert!(!plan.out.exists(), "nothing is created");
    }
}
