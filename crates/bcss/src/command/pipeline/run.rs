//! The pipeline itself: plan, resume, fetch, write, record.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::contract::{BaseMasks, Pixels, RowSink, SlideHandle};
use super::errors::{content_retry, retry_by_kind, RegionError, RoiError, CONTENT_ATTEMPTS};
use crate::catalog::{Roi, RoiTable};
use crate::codec::png::{Compression, PngWriter};
use crate::dataset::atomic;
use crate::dataset::manifest::{FileRecord, Manifest, ManifestError, NameConflict, Native, RoiEntry};
use crate::dataset::names::{self};
use crate::dataset::{DatasetLock, Layout, LockError};
use crate::model::SlideGeometry;
use crate::report::{Reporter, UnitFailure};
use crate::transform::{plan_region, resize, Mode, RegionPlan, Resolution};

/// One item of a run's pipeline list (`--pipeline images,masks`, `pipeline = ["images"]`): what
/// to write. The ROI parts become [`Parts`]; `wsis` (the whole slide files, `download --source
/// gdc` only) is a run of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum PipelinePart {
    /// RGB regions into `images/`.
    Images,
    /// Label masks into `masks/`.
    Masks,
    /// Annotation JSON into `annotations/` (from a DSA only).
    Annotations,
    /// The whole slide files into `wsis/` (from the GDC, `download` only).
    Wsis,
}

impl PipelinePart {
    /// The word of the list: `images`, `masks`, `annotations`, `wsis`.
    pub fn as_str(self) -> &'static str {
        match self {
            PipelinePart::Images => "images",
            PipelinePart::Masks => "masks",
            PipelinePart::Annotations => "annotations",
            PipelinePart::Wsis => "wsis",
        }
    }
}

/// Which parts of the dataset to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// RGB regions into `images/`.
    pub images: bool,
    /// Label masks into `masks/`.
    pub masks: bool,
    /// Annotation JSON into `annotations/` (from a DSA only).
    pub annotations: bool,
}

impl Parts {
    /// The ROI parts a pipeline list names, and whether it names whole slides (`wsis`).
    pub fn from_pipeline(items: &[PipelinePart]) -> (Parts, bool) {
        let has = |p: PipelinePart| items.contains(&p);
        let parts = Parts {
            images: has(PipelinePart::Images),
            masks: has(PipelinePart::Masks),
            annotations: has(PipelinePart::Annotations),
        };
        (parts, has(PipelinePart::Wsis))
    }
}

/// One run of the pipeline: what to build, where, and from which sources.
///
/// Made by [`RoiPipeline::new`] from the ROIs, the locked root and the two sources, every other
/// setting at the default its setter names (MPP 0.25, exact requests, images and masks, 4
/// jobs), and changed by chainable setters.
#[non_exhaustive]
pub struct RoiPipeline<'a> {
    pub(crate) rois: &'a RoiTable,
    pub(crate) root: &'a DatasetLock,
    pub(crate) resolution: Resolution,
    pub(crate) mode: Mode,
    pub(crate) parts: Parts,
    pub(crate) jobs: usize,
    pub(crate) png: Compression,
    pub(crate) pixels: &'a dyn Pixels,
    pub(crate) masks: &'a dyn BaseMasks,
}

impl<'a> RoiPipeline<'a> {
    /// A run over `rois` into the dataset root `root`, locked for this run (see
    /// [`DatasetLock`]: the lock makes this run the root's only writer, so removing stale
    /// temporary files touches no live run's files), its pixels from `pixels` and its base
    /// masks from `masks` (unused when [`parts`](Self::parts) leaves masks out).
    pub fn new(rois: &'a RoiTable, root: &'a DatasetLock, pixels: &'a dyn Pixels, masks: &'a dyn BaseMasks) -> Self {
        RoiPipeline {
            rois,
            root,
            resolution: Resolution::Mpp(0.25),
            mode: Mode::Exact,
            parts: Parts { images: true, masks: true, annotations: false },
            jobs: 4,
            png: Compression::default(),
            pixels,
            masks,
        }
    }
    /// Output resolution (default: MPP 0.25).
    pub fn resolution(mut self, resolution: Resolution) -> Self {
        self.resolution = resolution;
        self
    }
    /// Exact or compat requests; compat only means something to a DSA (default:
    /// [`Mode::Exact`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// What to write (default: images and masks).
    pub fn parts(mut self, parts: Parts) -> Self {
        self.parts = parts;
        self
    }
    /// Concurrent ROIs (default: 4).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }
    /// PNG compression of images; masks always use `balanced` (default:
    /// [`Compression::Balanced`]).
    pub fn png(mut self, png: Compression) -> Self {
        self.png = png;
        self
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The output directory is unusable.
    #[error("cannot use output directory `{path}`")]
    Output {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is unreadable or unwritable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Another run holds the dataset root, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The run would put files of another resolution or layout beside the recorded ones.
    #[error(transparent)]
    Conflict(#[from] Box<NameConflict>),
}

impl crate::report::Blamed for RunError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            // A name conflict with recorded files: a file to move away, not a disk to free.
            RunError::Conflict(_) => Blame::Input,
            RunError::Lock(e) => e.blame(),
            RunError::Manifest(e) => e.blame(),
            RunError::Output { .. } => Blame::Output,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// ROIs written.
    pub done: Vec<String>,
    /// ROIs already complete.
    pub skipped: Vec<String>,
    /// ROIs that failed, with the reason (the whole chain of causes, each once).
    pub failed: Vec<(String, String)>,
    /// The same failures, typed: id, step, HTTP status, reason.
    pub failures: Vec<UnitFailure>,
    /// The ROIs of `failed` whose failure a rerun of the same command cannot fix (a slide file
    /// or an item that is not there, a region outside its slide, a mask with bad codes).
    pub lasting: Vec<String>,
    /// Bytes received (network and input files).
    pub bytes: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Stale temporary files removed at start.
    pub stale_parts_removed: usize,
    /// Where the slides were found: `listing` or `built-in` (DSA), `local`, `gdc`.
    pub slides_from: String,
    /// Total size of the slide files the ROIs were read from (GDC only): what downloading the
    /// whole slides would have cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slide_bytes: Option<u64>,
    /// The whole-slide downloads of the run (`--pipeline wsis`): slide file names done,
    /// skipped, failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wsis: Option<Box<Summary>>,
}

impl Summary {
    /// The summary of the units a worker pool ran, with the bytes received, the time it took
    /// and where the slides were found; the other fields empty.
    pub(crate) fn of_units(
        outcomes: super::super::workers::Outcomes,
        bytes: u64,
        seconds: f64,
        slides_from: String,
    ) -> Summary {
        Summary {
            failed: outcomes.failed_pairs(),
            done: outcomes.done,
            skipped: outcomes.skipped,
            failures: outcomes.failed,
            lasting: outcomes.lasting,
            bytes,
            seconds,
            slides_from,
            ..Summary::default()
        }
    }
}

/// Largest output bcss plans for one ROI: 2^31 pixels (the largest BCSS ROI at 0.2 um/px is about
/// 0.2 gigapixels). A bigger plan means a wrong resolution or wrong slide metadata, and would end
/// the process on a failed allocation instead of failing one ROI.
pub const MAX_OUTPUT_PIXELS: u64 = crate::model::MAX_PIXELS;

fn check_output_size(width: u64, height: u64) -> Result<(), RoiError> {
    if width == 0 || height == 0 {
        return Err(RoiError::Unplannable { width, height, reason: "the region is empty" });
    }
    if width.saturating_mul(height) > MAX_OUTPUT_PIXELS {
        return Err(RoiError::Unplannable {
            width,
            height,
            reason: "over 2 gigapixels; check --mpp/--mag and the slide's resolution metadata (mm_x, magnification)",
        });
    }
    Ok(())
}

enum Streamed {
    Io(std::io::Error),
    Roi(RoiError),
}

impl From<std::io::Error> for Streamed {
    fn from(e: std::io::Error) -> Streamed {
        Streamed::Io(e)
    }
}

/// Nearest-neighbour resizing of a stream of base rows (the rule of
/// [`resize::resize_nearest`], by [`resize::nearest_indices`] per axis): each base row as it
/// arrives gives the output rows that sample it, handed on a band at a time.
struct NearestRows<'s, 'k> {
    resize: resize::NearestRows,
    out_width: usize,
    band: Vec<u8>,
    sink: &'s mut RowSink<'k>,
}

impl<'s, 'k> NearestRows<'s, 'k> {
    const BAND: usize = 64;

    fn new(base: (usize, usize), out: (usize, usize), sink: &'s mut RowSink<'k>) -> Self {
        let resize = resize::NearestRows::new(base.0, base.1, out.0, out.1);
        NearestRows { resize, out_width: out.0, band: Vec::new(), sink }
    }

    fn push(&mut self, data: &[u8]) -> Result<(), RoiError> {
        if self.resize.is_identity() {
            self.resize.skip(data.len() / self.out_width.max(1));
            return (self.sink)(data);
        }
        self.resize.push_rows(data, &mut self.band);
        if self.band.len() >= Self::BAND * self.out_width {
            (self.sink)(&self.band)?;
            self.band.clear();
        }
        Ok(())
    }

    fn finish(self) -> Result<(), RoiError> {
        if !self.band.is_empty() {
            (self.sink)(&self.band)?;
        }
        if self.resize.rows_out() != self.resize.out_height() {
            return Err(RoiError::ShortMask { got: self.resize.rows_out(), want: self.resize.out_height() });
        }
        Ok(())
    }
}

struct Run<'a> {
    p: &'a RoiPipeline<'a>,
    layout: Layout,
    manifest: Mutex<Manifest>,
    reporter: &'a dyn Reporter,
    bytes: AtomicU64,
}

/// The suffix of a ROI's mask name: the images' suffix, or `MAG-0` for the original's
/// base-resolution masks (compat mode without images).
fn mask_suffix(p: &RoiPipeline) -> String {
    if compat_base_mask(p) {
        "MAG-0".to_string()
    } else {
        names::suffix(p.resolution)
    }
}

fn compat_base_mask(p: &RoiPipeline) -> bool {
    p.mode == Mode::Compat && !p.parts.images
}

/// The image and mask paths (relative to the root) a run writes, per ROI.
fn planned_names(p: &RoiPipeline) -> Vec<(String, &'static str, String)> {
    let suffix = names::suffix(p.resolution);
    let mask_suffix = mask_suffix(p);
    let mut out = Vec::new();
    for roi in p.rois.rois() {
        if p.parts.images {
            out.push((
                roi.id.clone(),
                "image",
                format!("images/{}", names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &suffix)),
            ));
        }
        if p.parts.masks {
            out.push((
                roi.id.clone(),
                "mask",
                format!("masks/{}", names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &mask_suffix)),
            ));
        }
    }
    out
}

/// Runs the pipeline over every ROI. Per-ROI failures are in the summary; an `Err` means the
/// run could not start.
pub fn run(p: &RoiPipeline, reporter: &dyn Reporter) -> Result<Summary, RunError> {
    let start = Instant::now();
    let layout = Layout::new(p.root.root());
    layout
        .create(p.parts.annotations)
        .map_err(|source| RunError::Output { path: p.root.root().to_path_buf(), source })?;
    // Under the lock no other run writes here: every temporary file is a killed run's.
    let mut stale = 0;
    for dir in [layout.root().to_path_buf(), layout.images(), layout.masks(), layout.annotations()] {
        stale += atomic::remove_stale_parts(&dir).map_err(|source| RunError::Output { path: dir.clone(), source })?;
    }
    let source_name = p.pixels.source_name();
    let mut manifest = match Manifest::load(&layout.manifest())? {
        Some(mut m) => {
            m.source = source_name;
            m
        }
        None => Manifest::new(source_name),
    };
    // One resolution per root, checked against the manifest and against the files on disk: a
    // run that wrote a ROI's image but failed on its mask recorded neither.
    let mut on_disk = Vec::new();
    for dir in ["images", "masks"] {
        on_disk.extend(
            layout.roi_files(dir).map_err(|source| RunError::Output { path: layout.root().join(dir), source })?,
        );
    }
    manifest.check_names(layout.root(), &on_disk, planned_names(p))?;
    // Every ROI asked for is recorded with the first ROI written, so `verify` reports one that
    // then fails. (Not saved before: on a nearly full disk that extra write could cost a ROI.)
    manifest.plan(p.rois.rois().iter().map(|r| r.id.clone()));
    tracing::info!(rois = p.rois.rois().len(), source = %manifest.source, "pipeline planned");

    let run = Run { p, layout, manifest: Mutex::new(manifest), reporter, bytes: AtomicU64::new(0) };
    let outcomes = super::super::workers::for_each_roi(p.rois.rois(), p.jobs, reporter, |roi| run.roi(roi));
    let bytes = run.bytes.load(Ordering::Relaxed);
    Ok(Summary {
        stale_parts_removed: stale,
        slide_bytes: p.pixels.slide_bytes(),
        ..Summary::of_units(outcomes, bytes, start.elapsed().as_secs_f64(), p.pixels.slides_from())
    })
}

impl Run<'_> {
    /// Parts of this ROI still to write, given the manifest and the disk.
    fn missing_parts(&self, roi: &Roi, fingerprint: &str) -> Parts {
        let want = self.p.parts;
        let manifest = self.manifest.lock().expect("manifest lock");
        let Some(entry) = manifest.rois.get(&roi.id).filter(|e| e.fingerprint == fingerprint) else { return want };
        let have = |role: &str| entry.files.get(role).is_some_and(|f| f.matches_disk(self.layout.root()));
        Parts {
            images: want.images && !have("image"),
            masks: want.masks && !have("mask"),
            annotations: want.annotations && !have("annotations"),
        }
    }

    /// Writes `path` atomically as a PNG of `width x height` with `channels` channels, from the
    /// rows `fill` hands its sink (see [`SlideHandle::read_rows`]): they are filtered,
    /// compressed and hashed as they arrive.
    fn write_streamed(
        &self,
        path: &std::path::Path,
        width: usize,
        height: usize,
        channels: usize,
        compression: Compression,
        fill: &mut dyn FnMut(&mut RowSink) -> Result<(), RoiError>,
    ) -> Result<FileRecord, RoiError> {
        let write_err = |source: std::io::Error| RoiError::Write { path: path.to_path_buf(), source };
        let written = atomic::write_atomic::<Streamed>(path, |w| {
            let mut png = PngWriter::new(w, width, height, channels, compression)
                .map_err(std::io::Error::from)?
                .on_pool(self.p.pixels.cpu_pool());
            fill(&mut |rows: &[u8]| png.write_rows(rows).map_err(|e| write_err(e.into()))).map_err(Streamed::Roi)?;
            png.finish().map_err(std::io::Error::from)?;
            Ok(())
        })
        .map_err(|e| match e {
            Streamed::Io(source) => write_err(source),
            Streamed::Roi(e) => e,
        })?;
        Ok(FileRecord::new(self.layout.relative(path), &written))
    }

    /// Processes one ROI. `Ok(false)` when it was already complete.
    fn roi(&self, roi: &Roi) -> Result<bool, RoiError> {
        let p = self.p;
        let fingerprint = p.pixels.fingerprint(p.resolution, p.mode, p.masks, roi);
        let todo = self.missing_parts(roi, &fingerprint);
        if !(todo.images || todo.masks || todo.annotations) {
            return Ok(false);
        }
        let on_bytes = |n: u64| {
            self.bytes.fetch_add(n, Ordering::Relaxed);
            self.reporter.on_bytes(n);
        };
        let slide = p.pixels.open(roi)?;
        // Refuse an unusable slide name before fetching anything for the ROI.
        if todo.annotations {
            names::annotation_file_name(&slide.name())?;
        }
        let requested = roi.rect();
        let (_, scale_request) = p.resolution.request(p.mode);
        // Geometry is needed for images, and for masks sized like the images they go with.
        let need_geometry = todo.images || (todo.masks && !compat_base_mask(p));
        let geometry: Option<(SlideGeometry, RegionPlan)> = if need_geometry {
            let g = slide.geometry(&on_bytes)?;
            let plan = plan_region(&g, requested, scale_request);
            if plan.region != requested {
                return Err(RoiError::Clipped { roi: requested, width: g.size_x, height: g.size_y });
            }
            check_output_size(plan.out_width, plan.out_height)?;
            Some((g, plan))
        } else {
            None
        };
        let mut files: Vec<(&'static str, FileRecord)> = Vec::new();

        if todo.images {
            let (_, plan) = geometry.as_ref().expect("geometry planned for images");
            let name = names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &names::suffix(p.resolution));
            let path = self.layout.images().join(name);
            let (w, h) = (plan.out_width as usize, plan.out_height as usize);
            // Rows go from the source's decoder into the PNG writer as they arrive; a region that
            // fails half-way leaves no file (the temporary one is removed) and is fetched again.
            let tries = std::cell::Cell::new(0);
            let rec = retry_by_kind(
                "region",
                &roi.id,
                || {
                    tries.set(tries.get() + 1);
                    self.write_streamed(&path, w, h, 3, p.png, &mut |sink| slide.read_rows(plan, &on_bytes, sink))
                },
                |e| match e {
                    // A body that broke while it was decoded: as many tries as the HTTP client
                    // gives a request (its head was retried by the client itself).
                    RoiError::BadRegion(RegionError::Body { source, .. }) if source.failure.is_transient() => {
                        1 + p.pixels.transport_retries()
                    }
                    // Every kind of bad region may be a body cut or garbled on the way.
                    RoiError::BadRegion(
                        RegionError::Empty { .. } | RegionError::ServerSize { .. } | RegionError::Decode(_),
                    ) => CONTENT_ATTEMPTS,
                    _ => 1,
                },
            )
            .map_err(|e| match e {
                // The pipeline's own count of the region's fetches; the request's error is its own.
                RoiError::BadRegion(RegionError::Body { source, .. }) => {
                    RoiError::BadRegion(RegionError::Body { source, fetches: tries.get() })
                }
                e => e,
            })?;
            files.push(("image", rec));
        }

        if todo.masks {
            let (bw, bh) = (roi.width() as usize, roi.height() as usize);
            let (w, h) = match &geometry {
                Some((_, plan)) if !compat_base_mask(p) => (plan.out_width as usize, plan.out_height as usize),
                _ => (bw, bh),
            };
            let name = names::roi_file_name(&roi.id, roi.xmin, roi.ymin, &mask_suffix(p));
            let path = self.layout.masks().join(name);
            // Base rows arrive a band at a time (decoded from the mask PNG where the source has
            // one) and output rows are made from them by the nearest rule: neither the base
            // mask nor the resized one is held whole.
            let rec = content_retry(
                "mask",
                &roi.id,
                || {
                    self.write_streamed(&path, w, h, 1, Compression::Balanced, &mut |sink| {
                        let mut resize = NearestRows::new((bw, bh), (w, h), sink);
                        p.masks.base_mask_rows(roi, slide.as_ref(), &on_bytes, &mut |rows| resize.push(rows))?;
                        resize.finish()
                    })
                },
                |e| p.masks.refetch_bad_content() && super::errors::bad_mask_content(e),
            )?;
            files.push(("mask", rec));
        }

        if todo.annotations {
            let body = slide.annotations(&on_bytes)?;
            let path = self.layout.annotations().join(names::annotation_file_name(&slide.name())?);
            let written = atomic::write_atomic(&path, |w| w.write_all(&body))
                .map_err(|source| RoiError::Write { path: path.clone(), source })?;
            files.push(("annotations", FileRecord::new(self.layout.relative(&path), &written)));
        }

        self.record(roi, slide.as_ref(), fingerprint, geometry.as_ref(), files)?;
        Ok(true)
    }

    fn record(
        &self,
        roi: &Roi,
        slide: &dyn SlideHandle,
        fingerprint: String,
        geometry: Option<&(SlideGeometry, RegionPlan)>,
        files: Vec<(&'static str, FileRecord)>,
    ) -> Result<(), RoiError> {
        let p = self.p;
        let mut manifest = self.manifest.lock().expect("manifest lock");
        let old = manifest.rois.remove(&roi.id).filter(|e| e.fingerprint == fingerprint);
        let mut entry = old.unwrap_or_else(|| RoiEntry {
            slide: roi.short_name().to_string(),
            slide_name: Some(slide.name()),
            item_id: slide.item_id(),
            bounds: roi.rect(),
            requested: p.resolution.describe(),
            request_params: None,
            mode: p.mode,
            encoding: p.pixels.encoding(),
            mask_source: p.masks.kind(),
            native: None,
            scale: None,
            width: None,
            height: None,
            fingerprint,
            files: Default::default(),
        });
        if let Some(params) = p.pixels.request_params() {
            entry.request_params = Some(params);
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
