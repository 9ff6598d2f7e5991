//! `bcss extract`: build the BCSS dataset from slide files on the local disk.
//!
//! The result is the dataset `bcss download` builds, file for file: the same layout
//! ([`Layout`]), names ([`names::roi_file_name`]), mask checks and nearest-neighbour mask resize,
//! and `manifest.json` entries (with `encoding: "local"` and the slide file name). Pixels come
//! from [`LocalSlide`], which reads the file through OpenSlide and resizes with Pillow's
//! arithmetic the way the DSA's `tiles/region` endpoint does, so the output size is the one
//! [`plan_region`] predicts and the pixels are the server's (before its JPEG encoding).
//!
//! Per ROI, a worker: checks the manifest and the disk (complete parts are skipped); finds the
//! slide file ([`SlideDir::find`]), opens it and plans the region; reads and writes the image;
//! takes the mask from its link, from a directory of PNGs, or (integration point below) from
//! annotation files; checks it, resizes it to the image size and writes it; records both files.
//! Workers are plain threads (`jobs` of them), each holding one ROI's buffers at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::catalog::{Roi, RoiTable, SlideTable};
use crate::codec::{self, png::Compression, GrayImage};
use crate::command::download::{Parts, Summary};
use crate::dataset::atomic;
use crate::dataset::manifest::{Bounds, FileRecord, Manifest, ManifestError, Native, RoiEntry};
use crate::dataset::names;
use crate::dataset::Layout;
use crate::report::Reporter;
use crate::source::http::{ClientError, Http, HttpConfig};
use crate::source::local::{LocalError, LocalSlide, SlideDir};
use crate::source::masklink::{self, MaskError};
use crate::transform::{plan_region, resize, Mode, Rect, RegionPlan, Resolution};

/// Where the label masks come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskSource {
    /// The ROI table's `mask_link` column (URL, path or `file://`), as `download` does.
    Links,
    /// PNG files in a directory, named like the dataset's masks
    /// (`<roi>_xmin<X>_ymin<Y>[_<suffix>].png`) or `<roi>.png`, at base resolution.
    Dir(PathBuf),
    /// Annotation JSON files (`GET annotation/item/{id}` arrays) in a directory, rasterised per ROI.
    Annotations(PathBuf),
}

impl MaskSource {
    /// `links`, `dir` or `annotations`, as recorded in the manifest.
    pub fn as_str(&self) -> &'static str {
        match self {
            MaskSource::Links => "links",
            MaskSource::Dir(_) => "dir",
            MaskSource::Annotations(_) => "annotations",
        }
    }
}

/// Everything an extraction needs, validated.
#[derive(Debug, Clone)]
pub struct ExtractPlan {
    /// Directory holding the slide files.
    pub slides_dir: PathBuf,
    /// The ROIs to extract.
    pub rois: RoiTable,
    /// Dataset root.
    pub out: PathBuf,
    /// Output resolution.
    pub resolution: Resolution,
    /// What to write (`annotations` is not an extract part and must be false).
    pub parts: Parts,
    /// Where masks come from.
    pub mask_source: MaskSource,
    /// Concurrent ROIs (each holds its image buffers: keep this near the core count).
    pub jobs: usize,
    /// HTTP settings for mask links.
    pub http: HttpConfig,
    /// PNG compression of written images.
    pub png: Compression,
}

/// Why a whole run could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The output directory is unusable.
    #[error("cannot use output directory `{path}`: {source}")]
    Output {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The slides or masks directory cannot be listed.
    #[error(transparent)]
    Input(#[from] LocalError),
    /// A masks directory cannot be listed.
    #[error("cannot list masks directory `{path}`: {source}")]
    MasksDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The annotations directory cannot be read.
    #[error("cannot read annotations directory `{path}`")]
    AnnotationsDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client for mask links could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The manifest is unreadable or unwritable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The run would put files of another resolution beside the recorded ones.
    #[error(transparent)]
    Conflict(#[from] Box<crate::dataset::manifest::NameConflict>),
}

/// Why one ROI failed.
#[derive(Debug, thiserror::Error)]
pub enum RoiError {
    /// The slide file is missing, ambiguous or unreadable.
    #[error(transparent)]
    Slide(#[from] LocalError),
    /// The region lies partly outside the slide.
    #[error("the ROI {roi:?} extends beyond the slide ({width}x{height} base pixels)")]
    Clipped {
        /// The ROI bounds.
        roi: Rect,
        /// Slide width.
        width: u64,
        /// Slide height.
        height: u64,
    },
    /// The region is empty at this resolution.
    #[error("the ROI is empty at this resolution (0 output pixels)")]
    Empty,
    /// The planned output is over 2 gigapixels (a wrong resolution or slide metadata).
    #[error("at this resolution the ROI would be {width}x{height} pixels, over 2 gigapixels; check --mpp/--mag and the slide's resolution metadata")]
    TooLarge {
        /// Planned width.
        width: u64,
        /// Planned height.
        height: u64,
    },
    /// The mask failed.
    #[error("mask: {0}")]
    Mask(#[from] MaskError),
    /// No mask file in the masks directory.
    #[error("no mask for `{roi}` in `{dir}` (looked for `{roi}_xmin{xmin}_ymin{ymin}*.png` and `{roi}.png`)")]
    NoMaskFile {
        /// ROI id.
        roi: String,
        /// X of the name.
        xmin: u64,
        /// Y of the name.
        ymin: u64,
        /// The directory.
        dir: PathBuf,
    },
    /// No annotation file for the ROI's slide.
    #[error(
        "no annotation file for slide `{slide}` in `{dir}` (looked for `<slide file stem>.json` and `{slide}*.json`)"
    )]
    NoAnnotationFile {
        /// Slide short name.
        slide: String,
        /// The directory.
        dir: PathBuf,
    },
    /// The annotation file could not be read or rasterised.
    #[error("mask from annotations `{path}`: {source}")]
    Annotations {
        /// The annotation file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: crate::command::masks::MaskFromAnnotationsError,
    },
    /// Several mask files match.
    #[error("several mask files match `{roi}`: {}", candidates.join(", "))]
    AmbiguousMask {
        /// ROI id.
        roi: String,
        /// The file names.
        candidates: Vec<String>,
    },
    /// Writing a file failed.
    #[error("failed to write `{path}`: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Recording in the manifest failed.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// The PNGs of a masks directory, by ROI key.
#[derive(Debug, Default)]
struct MaskDir {
    dir: PathBuf,
    /// `(roi, xmin, ymin)` -> file names with that key.
    by_key: BTreeMap<(String, u64, u64), Vec<String>>,
    /// `<roi>.png` files, by ROI id.
    by_roi: BTreeMap<String, String>,
}

impl MaskDir {
    fn scan(dir: &Path) -> Result<MaskDir, ExtractError> {
        let err = |source| ExtractError::MasksDir { path: dir.to_path_buf(), source };
        let mut m = MaskDir { dir: dir.to_path_buf(), ..Default::default() };
        for entry in std::fs::read_dir(dir).map_err(err)? {
            let name = entry.map_err(err)?.file_name().to_string_lossy().into_owned();
            if let Some(parsed) = names::parse_roi_file_name(&name) {
                m.by_key.entry(parsed.key()).or_default().push(name);
            } else if let Some(stem) = name.strip_suffix(".png") {
                m.by_roi.insert(stem.to_string(), name);
            }
        }
        for v in m.by_key.values_mut() {
            v.sort();
        }
        Ok(m)
    }

    fn find(&self, roi: &Roi) -> Result<PathBuf, RoiError> {
        let mut candidates: Vec<String> =
            self.by_key.get(&(roi.id.clone(), roi.xmin, roi.ymin)).cloned().unwrap_or_default();
        if let Some(n) = self.by_roi.get(&roi.id) {
            candidates.push(n.clone());
        }
        match candidates.as_slice() {
            [one] => Ok(self.dir.join(one)),
            [] => {
                Err(RoiError::NoMaskFile { roi: roi.id.clone(), xmin: roi.xmin, ymin: roi.ymin, dir: self.dir.clone() })
            }
            _ => Err(RoiError::AmbiguousMask { roi: roi.id.clone(), candidates }),
        }
    }
}

/// The annotation JSON of a ROI's slide in `dir`: `<slide file stem>.json` (what `bcss download
/// --pipeline annotations` writes, the item name with `.svs` replaced), else the one
/// `<short name>*.json`.
fn annotation_file(dir: &Path, roi: &Roi, slide_stem: &str) -> Result<PathBuf, RoiError> {
    let exact = dir.join(format!("{slide_stem}.json"));
    if exact.is_file() {
        return Ok(exact);
    }
    let mut candidates: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(roi.short_name()) && n.ends_with(".json"))
        .collect();
    candidates.sort();
    match candidates.as_slice() {
        [one] => Ok(dir.join(one)),
        [] => Err(RoiError::NoAnnotationFile { slide: roi.short_name().to_string(), dir: dir.to_path_buf() }),
        _ => Err(RoiError::AmbiguousMask { roi: roi.id.clone(), candidates }),
    }
}

struct Run<'a> {
    plan: &'a ExtractPlan,
    layout: Layout,
    slides: SlideDir,
    builtin: SlideTable,
    masks_dir: Option<MaskDir>,
    http: Option<Http>,
    manifest: Mutex<Manifest>,
    reporter: &'a dyn Reporter,
    bytes: AtomicU64,
}

/// Runs an extraction. Per-ROI failures are in the summary; an `Err` means the run could not
/// start.
pub fn extract(plan: &ExtractPlan, reporter: &dyn Reporter) -> Result<Summary, ExtractError> {
    let start = Instant::now();
    if let MaskSource::Annotations(dir) = &plan.mask_source {
        if plan.parts.masks && !dir.is_dir() {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory");
            return Err(ExtractError::AnnotationsDir { path: dir.clone(), source });
        }
    }
    let slides = SlideDir::scan(&plan.slides_dir)?;
    let masks_dir = match &plan.mask_source {
        MaskSource::Dir(d) if plan.parts.masks => Some(MaskDir::scan(d)?),
        _ => None,
    };
    let http = (plan.parts.masks && plan.mask_source == MaskSource::Links)
        .then(|| Http::new(plan.http.clone()))
        .transpose()?;

    let layout = Layout::new(&plan.out);
    layout.create().map_err(|source| ExtractError::Output { path: plan.out.clone(), source })?;
    let mut stale = 0;
    for dir in [layout.root().to_path_buf(), layout.images(), layout.masks()] {
        stale +=
            atomic::remove_stale_parts(&dir).map_err(|source| ExtractError::Output { path: dir.clone(), source })?;
    }
    let source_name = format!("local:{}", plan.slides_dir.display());
    let manifest = match Manifest::load(&layout.manifest())? {
        Some(mut m) => {
            m.source = source_name;
            m
        }
        None => Manifest::new(source_name),
    };
    let suffix = names::suffix(plan.resolution);
    let planned = plan.rois.rois().iter().flat_map(|roi| {
        let name = names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &suffix);
        let image = plan.parts.images.then(|| (roi.id.clone(), "image", format!("images/{name}")));
        let mask = plan.parts.masks.then(|| (roi.id.clone(), "mask", format!("masks/{name}")));
        image.into_iter().chain(mask)
    });
    manifest.check_names(layout.root(), planned)?;
    tracing::info!(rois = plan.rois.rois().len(), slides = %plan.slides_dir.display(), "extract planned");

    let run = Run {
        plan,
        layout,
        slides,
        builtin: SlideTable::builtin(),
        masks_dir,
        http,
        manifest: Mutex::new(manifest),
        reporter,
        bytes: AtomicU64::new(0),
    };
    let rois = plan.rois.rois();
    let outcomes = super::workers::for_each_roi(rois, plan.jobs, reporter, |roi| run.roi(roi));
    let summary = Summary {
        done: outcomes.done,
        skipped: outcomes.skipped,
        failed: outcomes.failed,
        stale_parts_removed: stale,
        slides_from: "local".to_string(),
        ..Default::default()
    };
    Ok(Summary { bytes: run.bytes.load(Ordering::Relaxed), seconds: start.elapsed().as_secs_f64(), ..summary })
}

impl Run<'_> {
    fn fingerprint(&self, roi: &Roi) -> String {
        let p = self.plan;
        let mask_origin = match &p.mask_source {
            MaskSource::Links => roi.mask_link.clone().unwrap_or_default(),
            MaskSource::Dir(d) | MaskSource::Annotations(d) => d.display().to_string(),
        };
        format!(
            "v1|local|{}|{}|{},{},{},{}|{}",
            p.resolution.describe(),
            p.mask_source.as_str(),
            roi.xmin,
            roi.ymin,
            roi.xmax,
            roi.ymax,
            mask_origin
        )
    }

    fn missing_parts(&self, roi: &Roi, fingerprint: &str) -> Parts {
        let want = self.plan.parts;
        let manifest = self.manifest.lock().expect("manifest lock");
        let Some(entry) = manifest.rois.get(&roi.id).filter(|e| e.fingerprint == fingerprint) else { return want };
        let have = |role: &str| entry.files.get(role).is_some_and(|f| f.matches_disk(self.layout.root()));
        Parts { images: want.images && !have("image"), masks: want.masks && !have("mask"), annotations: false }
    }

    /// Processes one ROI. `Ok(false)` when it was already complete.
    fn roi(&self, roi: &Roi) -> Result<bool, RoiError> {
        let fingerprint = self.fingerprint(roi);
        let todo = self.missing_parts(roi, &fingerprint);
        if !(todo.images || todo.masks) {
            return Ok(false);
        }
        let full_name = self.builtin.get(roi.short_name()).map(|s| s.name.as_str());
        let path = self.slides.find(roi.short_name(), full_name)?;
        let slide = LocalSlide::open(&path)?;
        let requested = Rect { left: roi.xmin, top: roi.ymin, right: roi.xmax, bottom: roi.ymax };
        let (_, scale_request) = self.plan.resolution.request(Mode::Exact);
        let region = plan_region(slide.geometry(), requested, scale_request);
        if region.region != requested {
            return Err(RoiError::Clipped {
                roi: requested,
                width: slide.geometry().size_x,
                height: slide.geometry().size_y,
            });
        }
        if region.out_width == 0 || region.out_height == 0 {
            return Err(RoiError::Empty);
        }
        if region.out_width.saturating_mul(region.out_height) > 1 << 31 {
            return Err(RoiError::TooLarge { width: region.out_width, height: region.out_height });
        }
        let suffix = names::suffix(self.plan.resolution);
        let mut files: Vec<(&'static str, FileRecord)> = Vec::new();

        if todo.images {
            let image = slide.read_region(region.region, region.read_level, region.out_width, region.out_height)?;
            let out = self.layout.images().join(names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &suffix));
            let written =
                atomic::write_atomic::<std::io::Error>(&out, |w| Ok(codec::png::write_rgb(w, &image, self.plan.png)?))
                    .map_err(|source| RoiError::Write { path: out.clone(), source })?;
            files.push(("image", FileRecord::new(self.layout.relative(&out), &written)));
        }

        if todo.masks {
            let stem = slide.path().file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let mask = self.base_mask(roi, &stem)?;
            let (w, h) = (region.out_width as usize, region.out_height as usize);
            let mask = GrayImage {
                width: w,
                height: h,
                data: resize::resize_nearest(&mask.data, mask.width, mask.height, w, h),
            };
            let out = self.layout.masks().join(names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &suffix));
            let written = atomic::write_atomic::<std::io::Error>(&out, |w| {
                Ok(codec::png::write_gray(w, &mask, Compression::Balanced)?)
            })
            .map_err(|source| RoiError::Write { path: out.clone(), source })?;
            files.push(("mask", FileRecord::new(self.layout.relative(&out), &written)));
        }

        self.record(roi, &slide, fingerprint, &region, files)?;
        Ok(true)
    }

    /// The ROI's mask at base resolution, checked (size and codes).
    fn base_mask(&self, roi: &Roi, slide_stem: &str) -> Result<GrayImage, RoiError> {
        let on_bytes = |n: u64| {
            self.bytes.fetch_add(n, Ordering::Relaxed);
            self.reporter.on_bytes(n);
        };
        match &self.plan.mask_source {
            MaskSource::Annotations(dir) => {
                let path = annotation_file(dir, roi, slide_stem)?;
                let bytes = std::fs::read(&path)
                    .map_err(|source| MaskError::File { path: path.display().to_string(), source })?;
                on_bytes(bytes.len() as u64);
                let table = crate::source::annotations::CodeTable::bcss_with_labels();
                let mask = crate::command::masks::mask_for_roi(&bytes, roi, &table)
                    .map_err(|source| RoiError::Annotations { path: path.clone(), source })?;
                masklink::check_mask(&mask, roi, &path.display().to_string())?;
                Ok(mask)
            }
            MaskSource::Links => {
                Ok(masklink::fetch_mask(self.http.as_ref().expect("client built for links"), roi, &on_bytes)?)
            }
            MaskSource::Dir(_) => {
                let path = self.masks_dir.as_ref().expect("masks directory scanned").find(roi)?;
                let shown = path.display().to_string();
                let bytes = std::fs::read(&path).map_err(|source| MaskError::File { path: shown.clone(), source })?;
                on_bytes(bytes.len() as u64);
                let mask = codec::png::decode_gray(&bytes)
                    .map_err(|source| MaskError::Decode { origin: shown.clone(), source })?;
                masklink::check_mask(&mask, roi, &shown)?;
                Ok(mask)
            }
        }
    }

    fn record(
        &self,
        roi: &Roi,
        slide: &LocalSlide,
        fingerprint: String,
        region: &RegionPlan,
        files: Vec<(&'static str, FileRecord)>,
    ) -> Result<(), RoiError> {
        let g = slide.geometry();
        let mut manifest = self.manifest.lock().expect("manifest lock");
        let old = manifest.rois.remove(&roi.id).filter(|e| e.fingerprint == fingerprint);
        let mut entry = old.unwrap_or_else(|| RoiEntry {
            slide: roi.short_name().to_string(),
            slide_name: slide.path().file_name().map(|n| n.to_string_lossy().into_owned()),
            item_id: None,
            bounds: Bounds { xmin: roi.xmin, ymin: roi.ymin, xmax: roi.xmax, ymax: roi.ymax },
            requested: self.plan.resolution.describe(),
            request_params: None,
            mode: Mode::Exact.as_str().to_string(),
            encoding: "local".to_string(),
            mask_source: self.plan.mask_source.as_str().to_string(),
            native: None,
            scale: None,
            width: None,
            height: None,
            fingerprint,
            files: Default::default(),
        });
        entry.native = Some(Native { mm_x: g.mm_x, mm_y: g.mm_y, magnification: g.magnification });
        entry.scale = Some(region.scale);
        entry.width = Some(region.out_width);
        entry.height = Some(region.out_height);
        for (role, rec) in files {
            entry.files.insert(role.to_string(), rec);
        }
        manifest.rois.insert(roi.id.clone(), entry);
        manifest.save(&self.layout.manifest())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Recorder;

    const FIXTURE: &str = "TCGA-SY-TEST-01Z-00-DX1.FIXTURE.svs";

    fn setup(mask_w: usize, mask_h: usize) -> (tempfile::TempDir, ExtractPlan) {
        let tmp = tempfile::tempdir().unwrap();
        let slides = tmp.path().join("slides");
        std::fs::create_dir(&slides).unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slide").join(FIXTURE);
        std::fs::copy(fixture, slides.join(FIXTURE)).unwrap();
        let masks = tmp.path().join("masks-in");
        std::fs::create_dir(&masks).unwrap();
        let data: Vec<u8> = (0..mask_w * mask_h).map(|i| ((i % mask_w) / 50 % 22) as u8).collect();
        let mut f = std::fs::File::create(masks.join("TCGA-SY-TEST-DX1_xmin1000_ymin500_MPP-0.2500.png")).unwrap();
        codec::png::write_gray(&mut f, &GrayImage { width: mask_w, height: mask_h, data }, Compression::Fast).unwrap();
        let rois = RoiTable::from_rois(vec![Roi {
            id: "TCGA-SY-TEST-DX1".into(),
            xmin: 1000,
            ymin: 500,
            xmax: 1600,
            ymax: 900,
            mask_link: None,
        }]);
        let plan = ExtractPlan {
            slides_dir: slides,
            rois,
            out: tmp.path().join("out"),
            resolution: Resolution::Mag(20.0),
            parts: Parts { images: true, masks: true, annotations: false },
            mask_source: MaskSource::Dir(masks),
            jobs: 2,
            http: HttpConfig::default(),
            png: Compression::Fast,
        };
        (tmp, plan)
    }

    #[test]
    fn writes_the_download_layout_and_resumes() {
        let (_tmp, plan) = setup(600, 400);
        let s = extract(&plan, &Recorder::default()).unwrap();
        assert_eq!((s.done.len(), s.failed.len()), (1, 0), "{:?}", s.failed);
        let name = "TCGA-SY-TEST-DX1_xmin1000_ymin500_MAG-20.00.png";
        let image = codec::png::decode_rgb(&std::fs::read(plan.out.join("images").join(name)).unwrap()).unwrap();
        let mask = codec::png::decode_gray(&std::fs::read(plan.out.join("masks").join(name)).unwrap()).unwrap();
        assert_eq!((image.width, image.height, mask.width, mask.height), (300, 200, 300, 200));
        assert_eq!(mask.data[0..3], [0, 0, 0]);
        assert_eq!(mask.data[299], 11, "column 299 samples source column 599 (599 / 50 = 11)");
        let m = Manifest::load(&plan.out.join("manifest.json")).unwrap().unwrap();
        let e = &m.rois["TCGA-SY-TEST-DX1"];
        assert_eq!(
            (e.encoding.as_str(), e.mask_source.as_str(), e.width, e.height),
            ("local", "dir", Some(300), Some(200))
        );
        assert_eq!(e.slide_name.as_deref(), Some(FIXTURE));
        assert_eq!(e.native.unwrap().magnification, Some(40.0));
        let again = extract(&plan, &Recorder::default()).unwrap();
        assert_eq!(again.skipped, vec!["TCGA-SY-TEST-DX1".to_string()]);
    }

    #[test]
    fn bad_masks_and_missing_slides_fail_the_roi() {
        let (_tmp, plan) = setup(599, 400);
        let s = extract(&plan, &Recorder::default()).unwrap();
        assert!(s.failed[0].1.contains("599x400 but the ROI is 600x400"), "{:?}", s.failed);
        let (_tmp, mut plan) = setup(600, 400);
        plan.rois = RoiTable::from_rois(vec![Roi {
            id: "TCGA-ZZ-NONE-DX1".into(),
            xmin: 0,
            ymin: 0,
            xmax: 10,
            ymax: 10,
            mask_link: None,
        }]);
        let s = extract(&plan, &Recorder::default()).unwrap();
        assert!(s.failed[0].1.contains("no slide file for `TCGA-ZZ-NONE`"), "{:?}", s.failed);
        let (_tmp, mut plan) = setup(600, 400);
        plan.mask_source = MaskSource::Annotations(PathBuf::from("/nowhere"));
        assert!(matches!(extract(&plan, &Recorder::default()), Err(ExtractError::AnnotationsDir { .. })));
    }
}
