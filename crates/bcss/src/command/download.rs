//! `bcss download`: rebuild the BCSS dataset from a DSA server, in parallel and resumably.
//!
//! Per ROI, a worker: checks the manifest and the files on disk (complete parts are skipped);
//! reads the slide's tile metadata and plans the region ([`plan_region`]) so the exact output
//! size is known before anything is downloaded; fetches the region, checks its size, decodes it
//! (libjpeg-turbo) and writes a PNG; fetches the mask from its link, checks it against the ROI
//! (base size, known codes), resizes it with the exact nearest rule and writes it; fetches the
//! annotation JSON; then records every file (size, SHA-256) in `manifest.json`.
//!
//! With [`MaskSource::Annotations`] the mask is not downloaded but rasterised from the slide's
//! annotations (`GET annotation/item/{id}`) with HistomicsTK's rules
//! ([`masks::mask_for_roi`](super::masks::mask_for_roi)): the ROI element matching the ROI's
//! bounds, at base resolution, fitted to exactly the ROI's base size; it then takes the same
//! resize and write path as a linked mask. The annotation body is fetched once per ROI and also
//! saved when annotations are part of the pipeline.
//!
//! Every file is written atomically; failures of one ROI are reported and the run goes on.
//! Memory per worker is one encoded body plus one decoded image.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::catalog::{Roi, RoiTable, Slide, SlideTable};
use crate::codec::{self, png::Compression, GrayImage, RgbImage};
use crate::dataset::atomic;
use crate::dataset::manifest::{Bounds, FileRecord, Manifest, ManifestError, Native, RoiEntry};
use crate::dataset::names::{self, UnsafeName};
use crate::dataset::Layout;
use crate::report::Reporter;
use crate::source::annotations::CodeTable;
use crate::source::girder::{Credentials, Girder, GirderError, Step};
use crate::source::http::{ClientError, Http, HttpConfig};
use crate::source::masklink::{self, MaskError};
use crate::transform::{plan_region, resize, Mode, Rect, RegionPlan, Resolution, SlideGeometry};

use super::masks::{self, MaskFromAnnotationsError};

/// The public DSA of the dataset.
pub const DEFAULT_API_URL: &str = "https://demo.kitware.com/histomicstk/api/v1/";
/// The folder of the 151 BCSS slides on the public DSA.
pub const DEFAULT_FOLDER_ID: &str = "5bbdeba3e629140048d017bb";

/// Region encoding asked of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JPEG quality 95, 4:4:4 (the server's default and the original's).
    Jpeg,
    /// Lossless PNG.
    Png,
}

impl Encoding {
    /// The value of the `encoding` query parameter (case-sensitive on the server).
    pub fn as_param(self) -> &'static str {
        match self {
            Encoding::Jpeg => "JPEG",
            Encoding::Png => "PNG",
        }
    }
}

/// Where ground-truth masks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// Which parts of the dataset to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// RGB regions into `images/`.
    pub images: bool,
    /// Label masks into `masks/`.
    pub masks: bool,
    /// Annotation JSON into `annotations/`.
    pub annotations: bool,
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
}

/// Why a whole run could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The output directory is unusable.
    #[error("cannot use output directory `{path}`: {source}")]
    Output {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server check or authentication failed.
    #[error(transparent)]
    Connect(GirderError),
    /// The folder could not be listed.
    #[error("cannot list folder `{folder}`: {source}")]
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
    /// The manifest is unreadable or unwritable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The run would put files of another resolution or layout beside the recorded ones.
    #[error(transparent)]
    Conflict(#[from] Box<crate::dataset::manifest::NameConflict>),
}

/// Why one ROI failed.
#[derive(Debug, thiserror::Error)]
pub enum RoiError {
    /// No slide item for the ROI.
    #[error("slide `{slide}` is not in the folder listing{}", if *searched_builtin { " nor in the built-in slide table" } else { " (a slide table of the public server would not apply to this one)" })]
    NoSlide {
        /// Slide short name.
        slide: String,
        /// Whether the built-in (public server) table was searched too.
        searched_builtin: bool,
    },
    /// A DSA request failed.
    #[error(transparent)]
    Girder(#[from] GirderError),
    /// The region lies partly outside the slide.
    #[error("the ROI {roi:?} extends beyond the slide ({width}x{height} base pixels); the server would clip it")]
    Clipped {
        /// The ROI bounds.
        roi: Rect,
        /// Slide width.
        width: u64,
        /// Slide height.
        height: u64,
    },
    /// The planned output is empty or absurdly large (bad metadata or resolution).
    #[error("at this resolution the ROI would be {width}x{height} pixels; {reason}")]
    Unplannable {
        /// Planned width.
        width: u64,
        /// Planned height.
        height: u64,
        /// Why that cannot be.
        reason: &'static str,
    },
    /// The server's region is empty, undecodable or the wrong size.
    #[error("region: {0}")]
    BadRegion(String),
    /// The mask failed.
    #[error("mask: {0}")]
    Mask(#[from] MaskError),
    /// The mask could not be rasterised from the annotations.
    #[error("mask from annotations: {0}")]
    MaskFromAnnotations(#[from] MaskFromAnnotationsError),
    /// A server-supplied name was refused.
    #[error(transparent)]
    UnsafeName(#[from] UnsafeName),
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

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// ROIs written.
    pub done: Vec<String>,
    /// ROIs already complete.
    pub skipped: Vec<String>,
    /// ROIs that failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// Bytes received.
    pub bytes: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Stale temporary files removed at start.
    pub stale_parts_removed: usize,
    /// Where the slide ids came from: `listing` or `built-in`.
    pub slides_from: String,
}

struct Run<'a> {
    plan: &'a DownloadPlan,
    layout: Layout,
    girder: Girder,
    slides: SlideTable,
    manifest: Mutex<Manifest>,
    reporter: &'a dyn Reporter,
    bytes: std::sync::atomic::AtomicU64,
}

/// Runs a download. Per-ROI failures are in the summary; an `Err` means the run could not start.
pub fn download(plan: &DownloadPlan, reporter: &dyn Reporter) -> Result<Summary, DownloadError> {
    let start = Instant::now();
    // Talk to the server before touching the output: a wrong URL or key leaves no dataset folders
    // behind (the CLI's log of the failed run aside).
    let http = Http::new(plan.http.clone())?;
    let girder = Girder::connect(http, &plan.api_url, plan.credentials.clone()).map_err(DownloadError::Connect)?;
    let (slides, slides_from) = resolve_slides(plan, &girder)?;
    tracing::info!(rois = plan.rois.rois().len(), slides_from, "download planned");

    let layout = Layout::new(&plan.out);
    layout.create().map_err(|source| DownloadError::Output { path: plan.out.clone(), source })?;
    let mut stale = 0;
    for dir in [layout.root().to_path_buf(), layout.images(), layout.masks(), layout.annotations()] {
        stale +=
            atomic::remove_stale_parts(&dir).map_err(|source| DownloadError::Output { path: dir.clone(), source })?;
    }
    let source_name = crate::source::http::redact_url(plan.api_url.trim_end_matches('/'));
    let manifest = match Manifest::load(&layout.manifest())? {
        Some(mut m) => {
            m.source = source_name;
            m
        }
        None => Manifest::new(source_name),
    };
    let mut manifest = manifest;
    manifest.check_names(layout.root(), planned_names(plan))?;
    manifest.plan(plan.rois.rois().iter().map(|r| r.id.clone()));

    let run = Run { plan, layout, girder, slides, manifest: Mutex::new(manifest), reporter, bytes: Default::default() };
    let rois = plan.rois.rois();
    let outcomes = super::workers::for_each_roi(rois, plan.jobs, reporter, |roi| run.roi(roi));
    let summary = Summary {
        done: outcomes.done,
        skipped: outcomes.skipped,
        failed: outcomes.failed,
        stale_parts_removed: stale,
        slides_from: slides_from.to_string(),
        ..Default::default()
    };
    Ok(Summary { bytes: run.bytes.load(Ordering::Relaxed), seconds: start.elapsed().as_secs_f64(), ..summary })
}

/// Largest output bcss plans for one ROI: 2^31 pixels (the largest BCSS ROI at 0.2 um/px is about
/// 0.2 gigapixels). A bigger plan means a wrong resolution or wrong slide metadata, and would end
/// the process on a failed allocation instead of failing one ROI.
const MAX_OUTPUT_PIXELS: u64 = 1 << 31;

fn check_output_size(width: u64, height: u64) -> Result<(), RoiError> {
    if width == 0 || height == 0 {
        return Err(RoiError::Unplannable { width, height, reason: "the region is empty" });
    }
    if width.saturating_mul(height) > MAX_OUTPUT_PIXELS {
        return Err(RoiError::Unplannable {
            width,
            height,
            reason: "over 2 gigapixels; check --mpp/--mag and the slide's tile metadata (mm_x, magnification)",
        });
    }
    Ok(())
}

/// The image and mask paths (relative to the root) this plan writes, per ROI.
fn planned_names(plan: &DownloadPlan) -> Vec<(String, &'static str, String)> {
    let suffix = names::suffix(plan.resolution);
    let mask_suffix =
        if plan.mode == Mode::Compat && !plan.parts.images { "MAG-0".to_string() } else { suffix.clone() };
    let mut out = Vec::new();
    for roi in plan.rois.rois() {
        if plan.parts.images {
            out.push((
                roi.id.clone(),
                "image",
                format!("images/{}", names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &suffix)),
            ));
        }
        if plan.parts.masks {
            out.push((
                roi.id.clone(),
                "mask",
                format!("masks/{}", names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &mask_suffix)),
            ));
        }
    }
    out
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
            tracing::warn!(folder, error = %e, "cannot list the folder; using the built-in slide table");
            Ok((SlideTable::builtin(), "built-in"))
        }
        Err(source) => Err(DownloadError::Listing { folder: folder.clone(), source }),
    }
}

/// How many times a ROI's content (a region or mask that arrives but is corrupt, truncated or
/// the wrong size) is fetched again before the ROI is reported failed.
const CONTENT_ATTEMPTS: u32 = 3;

fn content_retry<T, E: std::fmt::Display>(
    what: &str,
    roi: &str,
    mut f: impl FnMut() -> Result<T, E>,
    retryable: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let mut attempt = 1;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if attempt < CONTENT_ATTEMPTS && retryable(&e) => {
                tracing::warn!(roi, what, error = %e, attempt, "bad content; fetching again");
                std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

impl Run<'_> {
    fn fingerprint(&self, roi: &Roi) -> String {
        let p = self.plan;
        format!(
            "v1|{}|{}|{}|{}|{},{},{},{}|{}{}",
            p.mode.as_str(),
            p.resolution.describe(),
            p.encoding.as_param(),
            p.mask_source.as_str(),
            roi.xmin,
            roi.ymin,
            roi.xmax,
            roi.ymax,
            roi.mask_link.as_deref().unwrap_or(""),
            if p.icc { "" } else { "|no-icc" }
        )
    }

    /// Parts of this ROI still to fetch, given the manifest and the disk.
    fn missing_parts(&self, roi: &Roi, fingerprint: &str) -> Parts {
        let want = self.plan.parts;
        let manifest = self.manifest.lock().expect("manifest lock");
        let Some(entry) = manifest.rois.get(&roi.id).filter(|e| e.fingerprint == fingerprint) else { return want };
        let have = |role: &str| entry.files.get(role).is_some_and(|f| f.matches_disk(self.layout.root()));
        Parts {
            images: want.images && !have("image"),
            masks: want.masks && !have("mask"),
            annotations: want.annotations && !have("annotations"),
        }
    }

    /// Processes one ROI. `Ok(false)` when it was already complete.
    fn roi(&self, roi: &Roi) -> Result<bool, RoiError> {
        let fingerprint = self.fingerprint(roi);
        let todo = self.missing_parts(roi, &fingerprint);
        if !(todo.images || todo.masks || todo.annotations) {
            return Ok(false);
        }
        // Item ids of the built-in table belong to the public server's folder: use them for a
        // slide missing from the listing only when that folder is the one being read.
        let fallback = self.plan.fallback_to_builtin;
        let slide = self
            .slides
            .get(roi.short_name())
            .cloned()
            .or_else(|| fallback.then(|| SlideTable::builtin().get(roi.short_name()).cloned()).flatten())
            .ok_or_else(|| RoiError::NoSlide { slide: roi.short_name().to_string(), searched_builtin: fallback })?;
        // Refuse an unusable item name before downloading anything for the ROI.
        if todo.annotations {
            names::annotation_file_name(&slide.name)?;
        }
        let on_bytes = |n: u64| {
            self.bytes.fetch_add(n, Ordering::Relaxed);
            self.reporter.on_bytes(n);
        };
        let requested = Rect { left: roi.xmin, top: roi.ymin, right: roi.xmax, bottom: roi.ymax };
        let (mut query, scale_request) = self.plan.resolution.request(self.plan.mode);
        if !self.plan.icc {
            query.push(("style", r#"{"icc":false}"#.to_string()));
        }
        let compat_base_mask = self.plan.mode == Mode::Compat && !self.plan.parts.images;
        // Geometry is needed for images, and for masks sized like the images they go with.
        let need_geometry = todo.images || (todo.masks && !compat_base_mask);
        let geometry: Option<(SlideGeometry, RegionPlan)> = if need_geometry {
            let g = self.girder.tiles(&slide.item_id)?;
            let plan = plan_region(&g, requested, scale_request);
            if plan.region != requested {
                return Err(RoiError::Clipped { roi: requested, width: g.size_x, height: g.size_y });
            }
            check_output_size(plan.out_width, plan.out_height)?;
            Some((g, plan))
        } else {
            None
        };
        let suffix = names::suffix(self.plan.resolution);
        let mut files: Vec<(&'static str, FileRecord)> = Vec::new();

        if todo.images {
            let (_, plan) = geometry.as_ref().expect("geometry fetched for images");
            let image = content_retry(
                "region",
                &roi.id,
                || self.fetch_region(&slide, requested, &query, plan, &on_bytes),
                |e| matches!(e, RoiError::BadRegion(_)),
            )?;
            let path = self.layout.images().join(names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &suffix));
            let written =
                atomic::write_atomic::<std::io::Error>(&path, |w| Ok(codec::png::write_rgb(w, &image, self.plan.png)?))
                    .map_err(|source| RoiError::Write { path: path.clone(), source })?;
            files.push(("image", FileRecord::new(self.layout.relative(&path), &written)));
        }

        // The annotation body, fetched at most once per ROI (masks and annotations both use it).
        let mut annotation_body: Option<Vec<u8>> = None;
        if todo.masks {
            let mask = match self.plan.mask_source {
                MaskSource::Links => content_retry(
                    "mask",
                    &roi.id,
                    || masklink::fetch_mask(self.girder.http(), roi, &on_bytes),
                    |e| {
                        matches!(
                            e,
                            MaskError::Decode { .. } | MaskError::WrongSize { .. } | MaskError::UnknownCodes { .. }
                        )
                    },
                )?,
                MaskSource::Annotations => {
                    let body = self.girder.annotations(&slide.item_id, &on_bytes)?;
                    let mask = masks::mask_for_roi(&body, roi, &CodeTable::bcss_with_labels())?;
                    annotation_body = Some(body);
                    mask
                }
            };
            let (mask, mask_suffix) = match &geometry {
                Some((_, plan)) if !compat_base_mask => {
                    let (w, h) = (plan.out_width as usize, plan.out_height as usize);
                    (
                        GrayImage {
                            width: w,
                            height: h,
                            data: resize::resize_nearest(&mask.data, mask.width, mask.height, w, h),
                        },
                        suffix.clone(),
                    )
                }
                _ => (mask, "MAG-0".to_string()),
            };
            let path = self.layout.masks().join(names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &mask_suffix));
            let written = atomic::write_atomic::<std::io::Error>(&path, |w| {
                Ok(codec::png::write_gray(w, &mask, Compression::Balanced)?)
            })
            .map_err(|source| RoiError::Write { path: path.clone(), source })?;
            files.push(("mask", FileRecord::new(self.layout.relative(&path), &written)));
        }

        if todo.annotations {
            let body = match annotation_body.take() {
                Some(b) => b,
                None => self.girder.annotations(&slide.item_id, &on_bytes)?,
            };
            let path = self.layout.annotations().join(names::annotation_file_name(&slide.name)?);
            let written = atomic::write_atomic(&path, |w| w.write_all(&body))
                .map_err(|source| RoiError::Write { path: path.clone(), source })?;
            files.push(("annotations", FileRecord::new(self.layout.relative(&path), &written)));
        }

        self.record(roi, &slide, fingerprint, geometry.as_ref(), &query, files)?;
        Ok(true)
    }

    fn fetch_region(
        &self,
        slide: &Slide,
        rect: Rect,
        query: &[(&str, String)],
        plan: &RegionPlan,
        on_bytes: &dyn Fn(u64),
    ) -> Result<RgbImage, RoiError> {
        let resp = self.girder.region(&slide.item_id, rect, query, self.plan.encoding.as_param(), on_bytes)?;
        if resp.body.is_empty() {
            return Err(RoiError::BadRegion(format!(
                "the server sent an empty body (HTTP {}); the region is empty or outside the slide",
                resp.status
            )));
        }
        let (w, h) = codec::dimensions(&resp.body).map_err(|e| RoiError::BadRegion(e.to_string()))?;
        if (w as u64, h as u64) != (plan.out_width, plan.out_height) {
            return Err(RoiError::BadRegion(format!(
                "the server sent {w}x{h} pixels but must send {}x{} for this request",
                plan.out_width, plan.out_height
            )));
        }
        codec::decode_rgb(&resp.body).map_err(|e| RoiError::BadRegion(e.to_string()))
    }

    fn record(
        &self,
        roi: &Roi,
        slide: &Slide,
        fingerprint: String,
        geometry: Option<&(SlideGeometry, RegionPlan)>,
        query: &[(&str, String)],
        files: Vec<(&'static str, FileRecord)>,
    ) -> Result<(), RoiError> {
        let mut manifest = self.manifest.lock().expect("manifest lock");
        let old = manifest.rois.remove(&roi.id).filter(|e| e.fingerprint == fingerprint);
        let mut entry = old.unwrap_or_else(|| RoiEntry {
            slide: roi.short_name().to_string(),
            slide_name: Some(slide.name.clone()),
            item_id: Some(slide.item_id.clone()),
            bounds: Bounds { xmin: roi.xmin, ymin: roi.ymin, xmax: roi.xmax, ymax: roi.ymax },
            requested: self.plan.resolution.describe(),
            request_params: None,
            mode: self.plan.mode.as_str().to_string(),
            encoding: self.plan.encoding.as_param().to_string(),
            mask_source: self.plan.mask_source.as_str().to_string(),
            native: None,
            scale: None,
            width: None,
            height: None,
            fingerprint,
            files: Default::default(),
        });
        if !query.is_empty() {
            entry.request_params = Some(query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"));
        }
        if let Some((g, plan)) = geometry {
            entry.native = Some(Native { mm_x: g.mm_x, mm_y: g.mm_y, magnification: g.magnification });
            entry.scale = Some(plan.scale);
            entry.width = Some(plan.out_width);
            entry.height = Some(plan.out_height);
        }
        for (role, rec) in files {
            entry.files.insert(role.to_string(), rec);
        }
        manifest.rois.insert(roi.id.clone(), entry);
        manifest.save(&self.layout.manifest())?;
        Ok(())
    }
}

/// The step an error of a ROI belongs to, for reports.
pub fn roi_error_step(e: &RoiError) -> Option<Step> {
    match e {
        RoiError::Girder(g) => Some(g.step()),
        RoiError::Mask(_) => Some(Step::MaskLink),
        RoiError::MaskFromAnnotations(_) => Some(Step::Annotations),
        RoiError::BadRegion(_) | RoiError::Clipped { .. } | RoiError::Unplannable { .. } => Some(Step::Region),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_or_empty_outputs_fail_the_roi_not_the_process() {
        assert!(check_output_size(12_000, 11_000).is_ok());
        let err = check_output_size(16_000_000, 12_000_000).unwrap_err().to_string();
        assert!(err.contains("16000000x12000000") && err.contains("over 2 gigapixels"), "{err}");
        assert!(check_output_size(0, 10).unwrap_err().to_string().contains("empty"));
        // Overflow-safe: a product beyond u64 is still refused.
        assert!(check_output_size(u64::MAX, 2).is_err());
    }
}
