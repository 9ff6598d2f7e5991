//! `bcss download`: rebuild the BCSS dataset from a DSA server, in parallel and resumably.
//!
//! The command connects (server check, token), finds the slides (the folder listing, or the
//! built-in table), and hands the ROI `pipeline` two sources: `DsaPixels`
//! (the `tiles/region` endpoint: the region planned from the slide's tile metadata, fetched,
//! checked against the planned size before it is decoded) and the masks, from their links
//! (`LinkMasks`) or rasterised from the slide's annotations with HistomicsTK's rules
//! (`SlideAnnotationMasks`). The pipeline does resume, writing and the manifest.

use std::path::{Path, PathBuf};

use super::pipeline::{self, BaseMasks, DsaPixels, LinkMasks, Pixels, RoiPipeline, RunError, SlideAnnotationMasks};
use crate::catalog::{RoiTable, Slide, SlideTable};
use crate::codec::png::Compression;
use crate::dataset::DatasetLock;
use crate::report::Reporter;
#[cfg(feature = "openslide")]
use crate::source::gdc::Gdc;
use crate::source::girder::{Credentials, Girder, GirderError};
use crate::source::http::{ClientError, Http, HttpConfig, Secret};
use crate::transform::{Mode, Resolution};

#[cfg(feature = "openslide")]
pub use super::pipeline::GdcSlidesError;
pub use super::pipeline::{Encoding, Parts, PipelinePart, Summary};

/// The public DSA of the dataset.
pub const DEFAULT_API_URL: &str = "https://demo.kitware.com/histomicstk/api/v1/";
/// The folder of the 151 BCSS slides on the public DSA.
pub const DEFAULT_FOLDER_ID: &str = "5bbdeba3e629140048d017bb";

pub use crate::dataset::manifest::MaskSource;

pub use crate::source::DEFAULT_GDC_URL;

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
///
/// Built from [`GdcSettings::default`] (the public GDC, no token, slides found by name, the
/// cache under the dataset) with chainable setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GdcSettings {
    pub(crate) url: String,
    pub(crate) token: Option<Secret>,
    pub(crate) manifest: Option<PathBuf>,
    pub(crate) cache: Option<PathBuf>,
}

impl Default for GdcSettings {
    fn default() -> Self {
        GdcSettings { url: DEFAULT_GDC_URL.to_string(), token: None, manifest: None, cache: None }
    }
}

impl GdcSettings {
    /// API base URL (default: [`DEFAULT_GDC_URL`]).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }
    /// Token for controlled-access files (`X-Auth-Token`; default: none, which open-access
    /// slides need).
    pub fn token(mut self, token: Option<Secret>) -> Self {
        self.token = token;
        self
    }
    /// A GDC manifest to find slides in instead of searching the GDC by name (default: none).
    pub fn manifest(mut self, manifest: Option<PathBuf>) -> Self {
        self.manifest = manifest;
        self
    }
    /// The byte-range cache of `--source gdc` (default: `<out>/.cache/gdc`).
    pub fn cache(mut self, cache: Option<PathBuf>) -> Self {
        self.cache = cache;
        self
    }
    /// The API base URL.
    pub fn get_url(&self) -> &str {
        &self.url
    }
}

/// Everything a download needs, validated.
///
/// Made by [`DownloadPlan::new`] from the ROIs and the dataset root, every other setting at
/// the default its setter names (the public DSA's BCSS folder, MPP 0.25, images and masks,
/// 4 jobs), and changed by chainable setters:
///
/// ```
/// # use bcss::catalog::RoiTable;
/// # use bcss::codec::png::Compression;
/// # use bcss::command::download::DownloadPlan;
/// let plan = DownloadPlan::new(RoiTable::builtin(), "BCSS").jobs(8).png(Compression::Fast);
/// assert_eq!(plan.get_jobs(), 8);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DownloadPlan {
    pub(crate) api_url: String,
    pub(crate) credentials: Credentials,
    pub(crate) folder_id: Option<String>,
    pub(crate) fallback_to_builtin: bool,
    pub(crate) rois: RoiTable,
    pub(crate) out: PathBuf,
    pub(crate) resolution: Resolution,
    pub(crate) mode: Mode,
    pub(crate) parts: Parts,
    pub(crate) encoding: Encoding,
    pub(crate) jobs: usize,
    pub(crate) http: HttpConfig,
    pub(crate) png: Compression,
    pub(crate) icc: bool,
    pub(crate) mask_source: MaskSource,
    pub(crate) source: Source,
    pub(crate) wsis: bool,
    pub(crate) gdc: GdcSettings,
    pub(crate) wait_lock: bool,
}

impl DownloadPlan {
    /// A plan to fetch `rois` into the dataset root `out`, with every other setting at its
    /// default.
    pub fn new(rois: RoiTable, out: impl Into<PathBuf>) -> Self {
        DownloadPlan {
            api_url: DEFAULT_API_URL.to_string(),
            credentials: Credentials::Anonymous,
            folder_id: Some(DEFAULT_FOLDER_ID.to_string()),
            fallback_to_builtin: true,
            rois,
            out: out.into(),
            resolution: Resolution::Mpp(0.25),
            mode: Mode::Exact,
            parts: Parts { images: true, masks: true, annotations: false },
            encoding: Encoding::default(),
            jobs: 4,
            http: HttpConfig::default(),
            png: Compression::default(),
            icc: true,
            mask_source: MaskSource::default(),
            source: Source::default(),
            wsis: false,
            gdc: GdcSettings::default(),
            wait_lock: false,
        }
    }
    /// DSA API base URL (default: [`DEFAULT_API_URL`], the public DSA).
    pub fn api_url(mut self, api_url: impl Into<String>) -> Self {
        self.api_url = api_url.into();
        self
    }
    /// How to authenticate (default: [`Credentials::Anonymous`]).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }
    /// Folder whose items are the slides; `None`: the built-in slide table only (default:
    /// [`DEFAULT_FOLDER_ID`], the public BCSS folder).
    pub fn folder_id(mut self, folder_id: Option<String>) -> Self {
        self.folder_id = folder_id;
        self
    }
    /// When listing the folder fails, fall back to the built-in slide table instead of failing
    /// (default: true, right for the public folder, whose listing may be restricted; the
    /// built-in table holds the public DSA's item ids, so set false for another server).
    pub fn fallback_to_builtin(mut self, fallback: bool) -> Self {
        self.fallback_to_builtin = fallback;
        self
    }
    /// Output resolution (default: MPP 0.25, the published dataset's).
    pub fn resolution(mut self, resolution: Resolution) -> Self {
        self.resolution = resolution;
        self
    }
    /// Exact or compat requests (default: [`Mode::Exact`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// What to fetch (default: images and masks).
    pub fn parts(mut self, parts: Parts) -> Self {
        self.parts = parts;
        self
    }
    /// Region encoding (default: [`Encoding::Jpeg`], the server's and the original's).
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }
    /// Concurrent ROIs (default: 4).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }
    /// HTTP settings (default: [`HttpConfig::default`]).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }
    /// PNG compression of written images (default: [`Compression::Balanced`]).
    pub fn png(mut self, png: Compression) -> Self {
        self.png = png;
        self
    }
    /// Whether the server applies the slide's ICC colour profile (default: true; false sends
    /// `style={"icc":false}`). large_image >= 1.20 (2023) converts to sRGB by default; the 2019
    /// dataset was made before that, so false gets closer to the published pixels on slides
    /// with a profile.
    pub fn icc(mut self, icc: bool) -> Self {
        self.icc = icc;
        self
    }
    /// Where masks come from (default: [`MaskSource::Links`]; [`MaskSource::Dir`] is refused
    /// when the download starts: a folder of masks is [`extract`](crate::command::extract)'s).
    pub fn mask_source(mut self, mask_source: MaskSource) -> Self {
        self.mask_source = mask_source;
        self
    }
    /// Where the region pixels come from (default: [`Source::Dsa`]).
    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }
    /// Also download the whole slide files into `wsis/`, from the GDC whatever
    /// [`source`](Self::source) says (default: false).
    pub fn wsis(mut self, wsis: bool) -> Self {
        self.wsis = wsis;
        self
    }
    /// How to reach the GDC (default: [`GdcSettings::default`]).
    pub fn gdc(mut self, gdc: GdcSettings) -> Self {
        self.gdc = gdc;
        self
    }
    /// When another run holds `out`'s lock: wait for it instead of failing with
    /// [`LockError::Held`](crate::dataset::LockError::Held) (default: false).
    pub fn wait_lock(mut self, wait: bool) -> Self {
        self.wait_lock = wait;
        self
    }

    /// The dataset root.
    pub fn get_out(&self) -> &Path {
        &self.out
    }
    /// The ROIs to fetch.
    pub fn get_rois(&self) -> &RoiTable {
        &self.rois
    }
    /// The DSA API base URL.
    pub fn get_api_url(&self) -> &str {
        &self.api_url
    }
    /// How to authenticate.
    pub fn get_credentials(&self) -> &Credentials {
        &self.credentials
    }
    /// The folder whose items are the slides.
    pub fn get_folder_id(&self) -> Option<&str> {
        self.folder_id.as_deref()
    }
    /// Whether a failed folder listing falls back to the built-in slide table.
    pub fn get_fallback_to_builtin(&self) -> bool {
        self.fallback_to_builtin
    }
    /// The output resolution.
    pub fn get_resolution(&self) -> Resolution {
        self.resolution
    }
    /// Exact or compat requests.
    pub fn get_mode(&self) -> Mode {
        self.mode
    }
    /// What to fetch.
    pub fn get_parts(&self) -> Parts {
        self.parts
    }
    /// Concurrent ROIs.
    pub fn get_jobs(&self) -> usize {
        self.jobs
    }
    /// Where masks come from.
    pub fn get_mask_source(&self) -> MaskSource {
        self.mask_source
    }
    /// Where the region pixels come from.
    pub fn get_source(&self) -> Source {
        self.source
    }
    /// Whether whole slide files are downloaded too.
    pub fn get_wsis(&self) -> bool {
        self.wsis
    }
    /// How to reach the GDC.
    pub fn get_gdc(&self) -> &GdcSettings {
        &self.gdc
    }
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
    /// `download` takes masks from links or annotations; a folder of masks is `extract`'s.
    #[error(
        "`download` takes masks from `links` or `annotations`; masks from a folder (`dir`) are for `bcss extract`"
    )]
    MaskSourceDir,
    /// Reading slide files needs OpenSlide, left out of this build.
    #[cfg(not(feature = "openslide"))]
    #[error("this build of bcss has no OpenSlide (feature `openslide`): it cannot read slide files from the GDC")]
    NoOpenSlide,
}

impl crate::report::Blamed for DownloadError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            DownloadError::Run(e) => e.blame(),
            // The CA file given, or a mask source download does not take.
            DownloadError::Client(_) | DownloadError::MaskSourceDir => Blame::Input,
            DownloadError::Connect(_) | DownloadError::Listing { .. } | DownloadError::EmptyFolder { .. } => {
                Blame::Server
            }
            // The slides asked for are not on the GDC, or its manifest is unusable.
            #[cfg(feature = "openslide")]
            DownloadError::Gdc(crate::command::pipeline::GdcSlidesError::Gdc(_)) => Blame::Server,
            #[cfg(feature = "openslide")]
            DownloadError::Gdc(_) => Blame::Input,
            #[cfg(feature = "openslide")]
            DownloadError::WholeSlides(_) => Blame::Output,
            #[cfg(not(feature = "openslide"))]
            DownloadError::NoOpenSlide => Blame::Input,
        }
    }
}

/// Runs a download. Per-ROI failures are in the summary; an `Err` means the run could not start.
pub fn download(plan: &DownloadPlan, reporter: &dyn Reporter) -> Result<Summary, DownloadError> {
    if plan.mask_source == MaskSource::Dir {
        return Err(DownloadError::MaskSourceDir);
    }
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
        MaskSource::Dir => return Err(DownloadError::MaskSourceDir),
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
    let pipeline = RoiPipeline::new(&plan.rois, lock, pixels, masks)
        .resolution(plan.resolution)
        .mode(plan.mode)
        .parts(plan.parts)
        .jobs(plan.jobs)
        .png(plan.png);
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
