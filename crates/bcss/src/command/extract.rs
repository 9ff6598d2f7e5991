//! `bcss extract`: build the BCSS dataset from slide files on the local disk.
//!
//! The result is the dataset `bcss download` builds, file for file: the same ROI
//! `pipeline` writes it (layout, names, mask checks and resize, manifest with
//! `encoding: "local"` and the slide file name). Pixels come from `LocalPixels`: each ROI's
//! slide is found by name (`SlideDir::find`) and read through OpenSlide with Pillow's
//! arithmetic the way the DSA's `tiles/region` endpoint does, so the output size is the one
//! [`plan_region`](crate::transform::plan_region) predicts and the pixels are the server's
//! (before its JPEG encoding). Masks come from their links, a directory of PNGs, or annotation
//! files.

use std::path::{Path, PathBuf};

use super::pipeline::{self, AnnotationFileMasks, BaseMasks, DirMasks, LinkMasks, LocalPixels, RoiPipeline, RunError};
use crate::catalog::{RoiTable, SlideTable};
use crate::codec::png::Compression;
use crate::dataset::manifest::MaskSource;
use crate::dataset::DatasetLock;
use crate::report::Reporter;
use crate::source::http::{ClientError, Http, HttpConfig};
use crate::source::local::{LocalError, SlideDir};
use crate::transform::{Mode, Resolution};

pub use super::pipeline::{MaskSetupError, Parts, PipelinePart, Summary};

/// Where the label masks of an extraction are read from (the setting `mask-source` resolved
/// with its folder).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MaskInput {
    /// The ROI table's `mask_link` column (URL, path or `file://`), as `download` does.
    Links,
    /// PNG files in a directory, named like the dataset's masks
    /// (`<roi>_xmin<X>_ymin<Y>[_<suffix>].png`) or `<roi>.png`, at base resolution.
    Dir(PathBuf),
    /// Annotation JSON files (`GET annotation/item/{id}` arrays) in a directory, rasterised per ROI.
    Annotations(PathBuf),
}

impl MaskInput {
    /// The kind of source, as recorded in the manifest.
    pub fn kind(&self) -> MaskSource {
        match self {
            MaskInput::Links => MaskSource::Links,
            MaskInput::Dir(_) => MaskSource::Dir,
            MaskInput::Annotations(_) => MaskSource::Annotations,
        }
    }
}

/// Everything an extraction needs, validated.
///
/// Made by [`ExtractPlan::new`] from the slide folder, the ROIs and the dataset root, every
/// other setting at the default its setter names (MPP 0.25, images and masks from the ROI
/// table's links, 2 jobs), and changed by chainable setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExtractPlan {
    pub(crate) slides_dir: PathBuf,
    pub(crate) rois: RoiTable,
    pub(crate) out: PathBuf,
    pub(crate) resolution: Resolution,
    pub(crate) parts: Parts,
    pub(crate) mask_source: MaskInput,
    pub(crate) jobs: usize,
    pub(crate) http: HttpConfig,
    pub(crate) png: Compression,
    pub(crate) wait_lock: bool,
}

impl ExtractPlan {
    /// A plan to extract `rois` from the slide files in `slides_dir` into the dataset root
    /// `out`, with every other setting at its default.
    pub fn new(slides_dir: impl Into<PathBuf>, rois: RoiTable, out: impl Into<PathBuf>) -> Self {
        ExtractPlan {
            slides_dir: slides_dir.into(),
            rois,
            out: out.into(),
            resolution: Resolution::Mpp(0.25),
            parts: Parts { images: true, masks: true, annotations: false },
            mask_source: MaskInput::Links,
            jobs: 2,
            http: HttpConfig::default(),
            png: Compression::default(),
            wait_lock: false,
        }
    }
    /// Output resolution (default: MPP 0.25, the published dataset's).
    pub fn resolution(mut self, resolution: Resolution) -> Self {
        self.resolution = resolution;
        self
    }
    /// What to write (default: images and masks; `annotations` is not an extract part and must
    /// be false).
    pub fn parts(mut self, parts: Parts) -> Self {
        self.parts = parts;
        self
    }
    /// Where masks come from (default: [`MaskInput::Links`]).
    pub fn mask_source(mut self, mask_source: MaskInput) -> Self {
        self.mask_source = mask_source;
        self
    }
    /// Concurrent ROIs, and the threads their pixel work runs on: a large ROI alone uses all
    /// of them, and memory per ROI is a few tile strips whatever its size (default: 2).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }
    /// HTTP settings for mask links (default: [`HttpConfig::default`]).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }
    /// PNG compression of written images (default: [`Compression::Balanced`]).
    pub fn png(mut self, png: Compression) -> Self {
        self.png = png;
        self
    }
    /// When another run holds `out`'s lock: wait for it instead of failing with
    /// [`LockError::Held`](crate::dataset::LockError::Held) (default: false).
    pub fn wait_lock(mut self, wait: bool) -> Self {
        self.wait_lock = wait;
        self
    }

    /// The folder of the slide files.
    pub fn get_slides_dir(&self) -> &Path {
        &self.slides_dir
    }
    /// The ROIs to extract.
    pub fn get_rois(&self) -> &RoiTable {
        &self.rois
    }
    /// The dataset root.
    pub fn get_out(&self) -> &Path {
        &self.out
    }
    /// The output resolution.
    pub fn get_resolution(&self) -> Resolution {
        self.resolution
    }
    /// Where masks come from.
    pub fn get_mask_source(&self) -> &MaskInput {
        &self.mask_source
    }
    /// Concurrent ROIs and threads.
    pub fn get_jobs(&self) -> usize {
        self.jobs
    }
    /// PNG compression of written images.
    pub fn get_png(&self) -> Compression {
        self.png
    }
}

/// Why a whole run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The slides directory cannot be listed.
    #[error(transparent)]
    Input(#[from] LocalError),
    /// The masks or annotations directory cannot be used.
    #[error(transparent)]
    Masks(#[from] MaskSetupError),
    /// The HTTP client for mask links could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The output or the manifest.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The threads of `--jobs` could not be started.
    #[error("cannot start worker threads")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

impl crate::report::Blamed for ExtractError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            ExtractError::Run(e) => e.blame(),
            ExtractError::Input(_) | ExtractError::Masks(_) | ExtractError::Client(_) | ExtractError::Threads(_) => {
                Blame::Input
            }
        }
    }
}

/// The mask source of a plan, set up (directories listed, client built).
pub(crate) fn mask_source(
    source: &MaskInput,
    http: &HttpConfig,
    needed: bool,
) -> Result<Box<dyn BaseMasks>, ExtractError> {
    Ok(match source {
        MaskInput::Annotations(dir) if needed => Box::new(AnnotationFileMasks::new(dir)?),
        MaskInput::Dir(dir) if needed => Box::new(DirMasks::scan(dir)?),
        MaskInput::Links if needed => Box::new(LinkMasks { http: Http::new(http.clone())? }),
        // Not used: nothing to check or build; `kind` and `origin` still shape the fingerprint.
        MaskInput::Annotations(dir) | MaskInput::Dir(dir) => Box::new(Unused { kind: source.kind(), dir: dir.clone() }),
        MaskInput::Links => Box::new(Unused { kind: MaskSource::Links, dir: PathBuf::new() }),
    })
}

/// A mask source that is never asked for a mask (the run writes images only).
struct Unused {
    kind: MaskSource,
    dir: PathBuf,
}

impl BaseMasks for Unused {
    fn kind(&self) -> MaskSource {
        self.kind
    }
    fn origin(&self, roi: &crate::catalog::Roi) -> String {
        if self.kind == MaskSource::Links {
            roi.mask_link.clone().unwrap_or_default()
        } else {
            self.dir.display().to_string()
        }
    }
    fn base_mask_rows(
        &self,
        _roi: &crate::catalog::Roi,
        _slide: &dyn pipeline::SlideHandle,
        _on_bytes: &dyn Fn(u64),
        _sink: &mut pipeline::RowSink,
    ) -> Result<(), pipeline::RoiError> {
        Err(pipeline::RoiError::Unsupported("masks were not asked for"))
    }
}

/// Runs an extraction. Per-ROI failures are in the summary; an `Err` means the run could not
/// start.
pub fn extract(plan: &ExtractPlan, reporter: &dyn Reporter) -> Result<Summary, ExtractError> {
    let masks = mask_source(&plan.mask_source, &plan.http, plan.parts.masks)?;
    // `jobs` is the run's thread budget: ROIs at once, and the threads that read, resample and
    // compress their pixels, so one large ROI alone still uses them all.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(plan.jobs.max(1)).build()?;
    let pixels = LocalPixels {
        slides: SlideDir::scan(&plan.slides_dir)?,
        names: SlideTable::builtin(),
        pool: Some(std::sync::Arc::new(pool)),
    };
    tracing::info!(rois = plan.rois.rois().len(), slides = %plan.slides_dir.display(), "extract planned");
    // Inputs are checked first (a bad input touches no output); then the root is this run's.
    let lock = DatasetLock::acquire(&plan.out, "extract", plan.wait_lock).map_err(RunError::from)?;
    let pipeline = RoiPipeline::new(&plan.rois, &lock, &pixels, masks.as_ref())
        .resolution(plan.resolution)
        .mode(Mode::Exact)
        .parts(Parts { annotations: false, ..plan.parts })
        .jobs(plan.jobs)
        .png(plan.png);
    Ok(pipeline::run(&pipeline, reporter)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Roi;
    use crate::codec::{self, GrayImage};
    use crate::dataset::manifest::Manifest;
    use crate::report::Recorder;
    use std::path::Path;

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
            mask_source: MaskInput::Dir(masks),
            jobs: 2,
            http: HttpConfig::default(),
            png: Compression::Fast,
            wait_lock: false,
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
        plan.mask_source = MaskInput::Annotations(PathBuf::from("/nowhere"));
        assert!(matches!(
            extract(&plan, &Recorder::default()),
            Err(ExtractError::Masks(MaskSetupError::AnnotationsDir { .. }))
        ));
    }

    #[test]
    fn a_failed_roi_stays_planned_in_the_manifest() {
        // One ROI extracts, the other has no slide file: the manifest must still list both as
        // planned, so `verify` reports the missing one.
        let (_tmp, mut plan) = setup(600, 400);
        let mut rois = plan.rois.rois().to_vec();
        rois.push(Roi { id: "TCGA-ZZ-NONE-DX1".into(), xmin: 0, ymin: 0, xmax: 10, ymax: 10, mask_link: None });
        plan.rois = RoiTable::from_rois(rois);
        let s = extract(&plan, &Recorder::default()).unwrap();
        assert_eq!((s.done.len(), s.failed.len()), (1, 1), "{:?}", s.failed);
        let m = Manifest::load(&plan.out.join("manifest.json")).unwrap().unwrap();
        assert_eq!(m.planned, ["TCGA-SY-TEST-DX1", "TCGA-ZZ-NONE-DX1"]);
        assert_eq!(m.rois.keys().collect::<Vec<_>>(), ["TCGA-SY-TEST-DX1"]);
        let report = crate::dataset::verify::verify(&plan.out, &Default::default()).unwrap();
        assert!(format!("{report:?}").contains("TCGA-ZZ-NONE-DX1"), "{report:?}");
    }
}
