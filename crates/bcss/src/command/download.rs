//! `bcss download`: rebuild the BCSS dataset from a DSA server, in parallel and resumably.
//!
//! The command connects (server check, token), finds the slides (the folder listing, or the
//! built-in table), and hands the ROI [`pipeline`] two sources: [`DsaPixels`]
//! (the `tiles/region` endpoint: the region planned from the slide's tile metadata, fetched,
//! checked against the planned size before it is decoded) and the masks, from their links
//! ([`LinkMasks`]) or rasterised from the slide's annotations with HistomicsTK's rules
//! ([`SlideAnnotationMasks`]). The pipeline does resume, writing and the manifest.

use std::path::PathBuf;

use super::pipeline::{self, BaseMasks, DsaPixels, LinkMasks, Pixels, RoiPipeline, RunError, SlideAnnotationMasks};
use crate::catalog::{RoiTable, Slide, SlideTable};
use crate::codec::png::Compression;
use crate::dataset::DatasetLock;
use crate::report::Reporter;
#[cfg(feature = "openslide")]
use crate::source::gdc::Gdc;
use crate::source::girder::{Credentials, Girder, GirderError, Secret};
use crate::source::http::{ClientError, Http, HttpConfig};
use crate::transform::{Mode, Resolution};

pub use super::pipeline::{Encoding, Parts, Summary};

/// The public DSA of the dataset.
pub const DEFAULT_API_URL: &str = "https://demo.kitware.com/histomicstk/api/v1/";
/// The folder of the 151 BCSS slides on the public DSA.
pub const DEFAULT_FOLDER_ID: &str = "5bbdeba3e629140048d017bb";

/// Where ground-truth masks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MaskSource {
    /// The published mask PNGs behind each ROI's `mask_link` (the original's way).
    #[default]
    Links,
    /// Rasterised locally from the slide's annotations with HistomicsTK's rules.
    Annotations,
}

impl MaskSource {
    /// `links` or `annotations`, as in the manifest and the fingerprint.
    pub fn as_str(self) -> &'static str {
        match self {
            MaskSource::Links => "links",
            MaskSource::Annotations => "annotations",
        }
    }
}

pub use crate::source::gdc::DEFAULT_GDC_URL;

/// Where the region pixels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Source {
    /// A DSA's `tiles/region` endpoint.
    #[default]
    Dsa,
    /// The slide files on the GDC, read by byte ranges.
    Gdc,
}

/// How to reach the GDC (for `--source gdc` and `--pipeline wsis`).
#[derive(Debug, Clone)]
pub struct GdcSettings {
    /// API base URL.
    pub url: String,
    /// Token for controlled-access files (`X-Auth-Token`); open-access slides need none.
    pub token: Option<Secret>,
    /// A GDC manifest to find slides in instead of searching the GDC by name.
    pub manifest: Option<PathBuf>,
    /// The byte-range cache of `--source gdc` (default: `<out>/.cache/gdc`).
    pub cache: Option<PathBuf>,
}

impl Default for GdcSettings {
    fn default() -> Self {
        GdcSettings { url: DEFAULT_GDC_URL.to_string(), token: None, manifest: None, cache: None }
    }
}

/// Everything a download needs, validated.
#[derive(Debug, Clone)]
pub struct DownloadPlan {
    /// DSA API base URL.
    pub api_url: String,
    /// How to authenticate.
    pub credentials: Credentials,
    /// Folder whose items are the slides. `None`: use the built-in slide table only.
    pub folder_id: Option<String>,
    /// When listing this folder fails, fall back to the built-in slide table instead of failing
    /// (true for the public folder, whose listing may be restricted).
    pub fallback_to_builtin: bool,
    /// The ROIs to fetch.
    pub rois: RoiTable,
    /// Dataset root.
    pub out: PathBuf,
    /// Output resolution.
    pub resolution: Resolution,
    /// Exact or compat requests.
    pub mode: Mode,
    /// What to fetch.
    pub parts: Parts,
    /// Region encoding.
    pub encoding: Encoding,
    /// Concurrent ROIs.
    pub jobs: usize,
    /// HTTP settings.
    pub http: HttpConfig,
    /// PNG compression of written images.
    pub png: Compression,
    /// Ask the server not to apply the slide's ICC colour profile (`style={"icc":false}`).
    /// large_image >= 1.20 (2023) converts to sRGB by default; the 2019 dataset was made before
    /// that, so `false` here gets closer to the published pixels on slides with a profile.
    pub icc: bool,
    /// Where masks come from.
    pub mask_source: MaskSource,
    /// Where the region pixels come from.
    pub source: Source,
    /// Also download the whole slide files into `wsis/` (from the GDC, whatever `source` says).
    pub wsis: bool,
    /// The GDC.
    pub gdc: GdcSettings,
    /// When another run holds `out`'s lock: wait for it instead of failing with
    /// [`LockError::Held`](crate::dataset::LockError::Held).
    pub wait_lock: bool,
}

/// Why a whole run could not start or go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server check or authentication failed.
    #[error(transparent)]
    Connect(GirderError),
    /// The folder could not be listed.
    #[error("cannot list folder `{folder}`")]
    Listing {
        /// Folder id.
        folder: String,
        /// The error.
        #[source]
        source: GirderError,
    },
    /// The folder has no slides.
    #[error("folder `{folder}` holds no slide (no item with a large image)")]
    EmptyFolder {
        /// Folder id.
        folder: String,
    },
    /// The output or the manifest.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The GDC could not be searched, or the GDC manifest is unusable.
    #[cfg(feature = "openslide")]
    #[error(transparent)]
    Gdc(#[from] pipeline::GdcSlidesError),
    /// The folder of whole slides cannot be listed.
    #[cfg(feature = "openslide")]
    #[error(transparent)]
    WholeSlides(crate::source::local::LocalError),
    /// Reading slide files needs OpenSlide, left out of this build.
    #[cfg(not(feature = "openslide"))]
    #[error("this build of bcss has no OpenSlide (feature `openslide`): it cannot read slide files from the GDC")]
    NoOpenSlide,
}

/// Runs a download. Per-ROI failures are in the summary; an `Err` means the run could not start.
pub fn download(plan: &DownloadPlan, reporter: &dyn Reporter) -> Result<Summary, DownloadError> {
    let http = Http::new(plan.http.clone())?;
    let any_roi_part = plan.parts.images || plan.parts.masks || plan.parts.annotations;
    // One lock for the whole run, whole slides and ROIs: no other run writes in between. Taken
    // first, so a refused run does nothing at all (it only creates the root, for the lock file).
    let lock = DatasetLock::acquire(&plan.out, "download", plan.wait_lock).map_err(RunError::from)?;
    // Talk to the DSA before touching the output (whole slides included): a wrong URL or key
    // leaves no dataset folders behind (the CLI's log of the failed run aside).
    let dsa = match plan.source {
        Source::Dsa if any_roi_part => Some(connect_dsa(plan, &http)?),
        _ => None,
    };
    // Whole slides first (they come from the GDC whatever the source), then the ROIs.
    let wsis = if plan.wsis { Some(Box::new(whole_slides(plan, &lock, &http, reporter)?)) } else { None };
    if !any_roi_part {
        let summary = wsis.expect("a plan without ROI parts asks for whole slides");
        return Ok(*summary);
    }
    let summary = match dsa {
        Some((girder, slides, slides_from)) => from_dsa(plan, &lock, &girder, slides, slides_from, http, reporter)?,
        // The whole slides are on disk now: the ROIs are cut from them, not fetched again.
        None if plan.wsis => from_whole_slides(plan, &lock, http, reporter)?,
        None => from_gdc(plan, &lock, http, reporter)?,
    };
    Ok(Summary { wsis, ..summary })
}

#[cfg(feature = "openslide")]
fn gdc_client(plan: &DownloadPlan, http: &Http) -> Gdc {
    Gdc::new(http.clone(), &plan.gdc.url, plan.gdc.token.clone())
}

/// `--pipeline wsis`: the whole slide files of the plan's ROIs into `wsis/`.
#[cfg(feature = "openslide")]
fn whole_slides(
    plan: &DownloadPlan,
    lock: &DatasetLock,
    http: &Http,
    reporter: &dyn Reporter,
) -> Result<Summary, DownloadError> {
    let gdc = gdc_client(plan, http);
    let slides = pipeline::find_gdc_slides(&gdc, &plan.rois, plan.gdc.manifest.as_deref())?;
    Ok(pipeline::download_wsis(&gdc, &slides, &plan.rois, lock, plan.jobs, reporter)?)
}

#[cfg(not(feature = "openslide"))]
fn whole_slides(
    _plan: &DownloadPlan,
    _lock: &DatasetLock,
    _http: &Http,
    _reporter: &dyn Reporter,
) -> Result<Summary, DownloadError> {
    Err(DownloadError::NoOpenSlide)
}

/// ROIs from the GDC's slide files, read by byte ranges.
#[cfg(feature = "openslide")]
fn from_gdc(
    plan: &DownloadPlan,
    lock: &DatasetLock,
    http: Http,
    reporter: &dyn Reporter,
) -> Result<Summary, DownloadError> {
    let gdc = gdc_client(plan, &http);
    let slides = pipeline::find_gdc_slides(&gdc, &plan.rois, plan.gdc.manifest.as_deref())?;
    for (slide, why) in &slides.missing {
        tracing::warn!(slide, why, "no GDC file");
    }
    let cache = plan.gdc.cache.clone().unwrap_or_else(|| pipeline::cache_dir(&plan.out));
    let pixels = pipeline::GdcPixels::new(&gdc, slides, cache);
    let links = LinkMasks { http };
    run_pipeline(plan, lock, &pixels, &links, reporter)
}

#[cfg(not(feature = "openslide"))]
fn from_gdc(
    _plan: &DownloadPlan,
    _lock: &DatasetLock,
    _http: Http,
    _reporter: &dyn Reporter,
) -> Result<Summary, DownloadError> {
    Err(DownloadError::NoOpenSlide)
}

/// The DSA, checked and authenticated, with its slide table.
fn connect_dsa(plan: &DownloadPlan, http: &Http) -> Result<(Girder, SlideTable, &'static str), DownloadError> {
    let girder =
        Girder::connect(http.clone(), &plan.api_url, plan.credentials.clone()).map_err(DownloadError::Connect)?;
    let (slides, slides_from) = resolve_slides(plan, &girder)?;
    tracing::info!(rois = plan.rois.rois().len(), slides_from, "download planned");
    Ok((girder, slides, slides_from))
}

/// ROIs cut from the whole slides of `wsis/` (after `--pipeline wsis`), as `extract` does.
#[cfg(feature = "openslide")]
fn from_whole_slides(
    plan: &DownloadPlan,
    lock: &DatasetLock,
    http: Http,
    reporter: &dyn Reporter,
) -> Result<Summary, DownloadError> {
    let dir = pipeline::wsis_dir(&plan.out);
    let slides = crate::source::local::SlideDir::scan(&dir).map_err(DownloadError::WholeSlides)?;
    let pixels = pipeline::LocalPixels { slides, names: SlideTable::builtin(), pool: None };
    run_pipeline(plan, lock, &pixels, &LinkMasks { http }, reporter)
}

#[cfg(not(feature = "openslide"))]
fn from_whole_slides(
    _plan: &DownloadPlan,
    _lock: &DatasetLock,
    _http: Http,
    _reporter: &dyn Reporter,
) -> Result<Summary, DownloadError> {
    Err(DownloadError::NoOpenSlide)
}

/// ROIs from a DSA's region endpoint.
fn from_dsa(
    plan: &DownloadPlan,
    lock: &DatasetLock,
    girder: &Girder,
    slides: SlideTable,
    slides_from: &'static str,
    http: Http,
    reporter: &dyn Reporter,
) -> Result<Summary, DownloadError> {
    let pixels = DsaPixels {
        girder,
        slides,
        slides_from,
        fallback_to_builtin: plan.fallback_to_builtin,
        encoding: plan.encoding,
        icc: plan.icc,
        resolution: plan.resolution,
        mode: plan.mode,
    };
    let links;
    let masks: &dyn BaseMasks = match plan.mask_source {
        MaskSource::Links => {
            links = LinkMasks { http };
            &links
        }
        MaskSource::Annotations => &SlideAnnotationMasks,
    };
    run_pipeline(plan, lock, &pixels, masks, reporter)
}

fn run_pipeline(
    plan: &DownloadPlan,
    lock: &DatasetLock,
    pixels: &dyn Pixels,
    masks: &dyn BaseMasks,
    reporter: &dyn Reporter,
) -> Result<Summary, DownloadError> {
    let pipeline = RoiPipeline {
        rois: &plan.rois,
        root: lock,
        resolution: plan.resolution,
        mode: plan.mode,
        parts: plan.parts,
        jobs: plan.jobs,
        png: plan.png,
        pixels,
        masks,
    };
    Ok(pipeline::run(&pipeline, reporter)?)
}

fn resolve_slides(plan: &DownloadPlan, girder: &Girder) -> Result<(SlideTable, &'static str), DownloadError> {
    let Some(folder) = &plan.folder_id else { return Ok((SlideTable::builtin(), "built-in")) };
    match girder.list_slides(folder) {
        Ok(items) if !items.is_empty() => {
            let slides = items.into_iter().map(|i| Slide {
                short_name: i.name.get(..12).unwrap_or(&i.name).to_string(),
                name: i.name,
                item_id: i.id,
                magnification: None,
            });
            Ok((SlideTable::from_slides(slides), "listing"))
        }
        Ok(_) if plan.fallback_to_builtin => {
            tracing::warn!(folder, "the folder lists no slide; using the built-in slide table");
            Ok((SlideTable::builtin(), "built-in"))
        }
        Ok(_) => Err(DownloadError::EmptyFolder { folder: folder.clone() }),
        Err(e) if plan.fallback_to_builtin => {
            tracing::warn!(folder, error = %crate::report::error_chain(&e), "cannot list the folder; using the built-in slide table");
            Ok((SlideTable::builtin(), "built-in"))
        }
        Err(source) => Err(DownloadError::Listing { folder: folder.clone(), source }),
    }
}
