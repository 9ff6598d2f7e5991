//! `bcss normalize`: Reinhard colour normalisation (`transform::reinhard`, HistomicsTK 1.4.0's
//! numbers) of one PNG, or of every ROI of a dataset into the layout of the authors' Google
//! Drive copy.
//!
//! A file is streamed: two statistics passes over its rows (means, then standard deviations;
//! skipped when the source statistics are given), then a third that normalises each row into a
//! `PngWriter` inside `dataset::atomic`'s temporary file. Each pass opens the file again, so a
//! worker holds a few rows whatever the ROI's size.
//!
//! Dataset mode writes `<out>/0_Public-data-Amgad2019_0.25MPP/rgbs_colorNormalized/<image name>`
//! and `masks/<mask name>` (the mask unchanged: a hard link when the file system allows, else a
//! copy), under the output's `DatasetLock`, and records every ROI in `<out>/normalize.json`
//! (settings, the input image's size and modification time, size + SHA-256 of both outputs),
//! rewritten atomically after each ROI. A rerun skips a ROI whose record matches its settings,
//! its input and the files on disk. The record is kept outside the Drive folder, which holds
//! only what the loaders read.
//!
//! Options: `mask_out` (HistomicsTK's: nonzero pixels left out of the statistics and kept
//! unchanged), or in dataset mode `exclude_dont_care` (code-0 pixels of the ROI's mask left out
//! of the statistics only; every pixel is normalised).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::input::{self, FileRows, InputError, InputProblem, RoiInput};
use crate::codec::encoder::PngWriter;
use crate::codec::png::Compression;
use crate::codec::CodecError;
use crate::dataset::atomic::{self, write_atomic};
use crate::dataset::manifest::FileRecord;
use crate::dataset::{DatasetLock, LockError};
use crate::report::{Reporter, UnitFailure};
use crate::transform::reinhard::{ColourIndex, LabStats, MeanPass, Reinhard, ReinhardError};

/// The folder of the Drive copy inside the output root.
pub const DRIVE_DIR: &str = "0_Public-data-Amgad2019_0.25MPP";

/// The Drive copy's folder of normalised images.
pub const IMAGES_DIR: &str = "rgbs_colorNormalized";

/// The record of a dataset run, in the output root.
pub const RECORD_FILE: &str = "normalize.json";

/// The largest record read (about 500 bytes per ROI).
const RECORD_LIMIT: u64 = 64 << 20;

/// Why normalising failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// An input file is unreadable, not an 8-bit RGB PNG, or a mask of another size.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The statistics of a file cannot be taken (every pixel masked out).
    #[error("no statistics for `{path}`")]
    Statistics {
        /// The image.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReinhardError,
    },
    /// A ROI of the dataset has a mask but no image.
    #[error("ROI `{0}` has a mask but no image")]
    NoImage(String),
    /// Another run holds the output folder, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Writing failed.
    #[error("failed to write `{path}`")]
    Output {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl crate::report::Blamed for NormalizeError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            NormalizeError::Input { .. } | NormalizeError::Statistics { .. } | NormalizeError::NoImage { .. } => {
                Blame::Input
            }
            NormalizeError::Lock(e) => e.blame(),
            NormalizeError::Output { .. } => Blame::Output,
        }
    }
}

/// Which pixels a mask file leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MaskRule {
    /// HistomicsTK's `mask_out`: nonzero pixels out of the statistics and unchanged.
    NonzeroOut,
    /// Code 0 (don't care) out of the statistics; every pixel normalised.
    DontCareOut,
}

/// What one file is normalised with.
#[derive(Debug, Clone, Copy)]
struct Job<'a> {
    image: &'a Path,
    mask: Option<(&'a Path, MaskRule)>,
    target: LabStats,
    source: Option<LabStats>,
    compression: Compression,
    /// Bytes the image may take when held as a [`ColourIndex`] (one decode instead of three).
    hold: usize,
}

/// What `--image` may hold of one image: enough for the largest BCSS ROI at 0.25 MPP.
const IMAGE_HOLD: usize = 1 << 30;

/// What a worker of a dataset run may hold of one ROI (ROIs of up to about 6 million pixels;
/// larger ones are streamed, so that memory stays flat at any `--jobs`).
const DATASET_HOLD: usize = 24 << 20;

/// What was done to one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ImageSummary {
    /// The file written.
    pub out: PathBuf,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The source statistics used (given, or computed).
    pub source_mu: [f64; 3],
    /// The source standard deviations used.
    pub source_sigma: [f64; 3],
    /// Bytes written.
    pub bytes: u64,
    /// SHA-256 of the file written.
    pub sha256: String,
    /// How close the file written is to the one given to compare with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<Comparison>,
}

/// How close a normalised image is to another copy of it (a file of the authors' Drive copy):
/// pixels with all three values equal, and the absolute differences of the values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Comparison {
    /// Pixels compared.
    pub pixels: u64,
    /// Pixels whose three values are equal.
    pub identical_pixels: u64,
    /// `identical_pixels / pixels` (1 for an image of no pixels).
    pub identical_share: f64,
    /// The mean absolute difference of the values (three per pixel), in grey levels.
    pub mean_abs_diff: f64,
    /// The largest absolute difference of a value.
    pub max_abs_diff: u8,
    /// The sum of the absolute differences (for pooling comparisons).
    #[serde(skip)]
    abs_diff_sum: u64,
}

impl Comparison {
    fn new(pixels: u64, identical_pixels: u64, abs_diff_sum: u64, max_abs_diff: u8, channels: usize) -> Comparison {
        let share = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        Comparison {
            pixels,
            identical_pixels,
            identical_share: share(identical_pixels, pixels),
            mean_abs_diff: if pixels == 0 { 0.0 } else { share(abs_diff_sum, channels as u64 * pixels) },
            max_abs_diff,
            abs_diff_sum,
        }
    }

    /// Several comparisons as one (pixel-weighted).
    fn pooled<'a>(all: impl IntoIterator<Item = &'a Comparison>) -> Comparison {
        let (mut p, mut i, mut d, mut m) = (0, 0, 0, 0);
        for c in all {
            (p, i, d, m) = (p + c.pixels, i + c.identical_pixels, d + c.abs_diff_sum, m.max(c.max_abs_diff));
        }
        Comparison::new(p, i, d, m, 3)
    }
}

/// Compares two RGB PNGs of one size pixel by pixel, streamed a row at a time.
pub fn compare_images(ours: &Path, theirs: &Path) -> Result<Comparison, InputError> {
    compare_files(ours, theirs, 3, open_rgb, "the image compared")
}

/// Two PNGs of one size and `channels` values a pixel, opened by `open`, compared a row at a
/// time: pixels whose values are all equal, and the absolute differences of the values.
fn compare_files(
    ours: &Path,
    theirs: &Path,
    channels: usize,
    open: fn(&Path) -> Result<FileRows, InputError>,
    what: &'static str,
) -> Result<Comparison, InputError> {
    let mut a = open(ours)?;
    let mut b = open(theirs)?;
    let (w, h) = (a.width(), a.height());
    if (b.width(), b.height()) != (w, h) {
        let problem = InputProblem::Size { got_w: b.width(), got_h: b.height(), want_w: w, want_h: h, what };
        return Err(InputError::new(theirs, problem));
    }
    let (mut ra, mut rb) = (vec![0u8; w * channels], vec![0u8; w * channels]);
    let (mut identical, mut sum, mut max) = (0u64, 0u64, 0u8);
    for _ in 0..h {
        input::read_row(&mut a, &mut ra, ours)?;
        input::read_row(&mut b, &mut rb, theirs)?;
        for (pa, pb) in ra.chunks_exact(channels).zip(rb.chunks_exact(channels)) {
            identical += u64::from(pa == pb);
            for (&x, &y) in pa.iter().zip(pb) {
                let d = x.abs_diff(y);
                sum += u64::from(d);
                max = max.max(d);
            }
        }
    }
    input::finish(a, ours)?;
    input::finish(b, theirs)?;
    Ok(Comparison::new((w * h) as u64, identical, sum, max, channels))
}

/// The folders of a copy to compare with: its normalised images and, if present, its masks.
///
/// `dir` may be the Drive folder (`rgbs_colorNormalized/` inside), the root above it, or a
/// plain folder of PNGs.
pub fn compare_dirs(dir: &Path) -> (PathBuf, Option<PathBuf>) {
    for base in [dir.to_path_buf(), dir.join(DRIVE_DIR)] {
        let images = base.join(IMAGES_DIR);
        if images.is_dir() {
            let masks = base.join("masks");
            return (images, masks.is_dir().then_some(masks));
        }
    }
    (dir.to_path_buf(), None)
}

/// One ROI compared with the other copy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RoiComparison {
    /// The image's file name (the same in both copies).
    pub name: String,
    /// The comparison of the images, when both could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Comparison>,
    /// The share of equal mask values, when the other copy has the mask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask_identical_share: Option<f64>,
    /// Why the images were not compared (not in the other copy, unreadable, another size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A dataset compared with another copy of it (`--compare`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CompareReport {
    /// The folder of the other copy's images.
    pub dir: PathBuf,
    /// Per ROI, in the order of the dataset.
    pub rois: Vec<RoiComparison>,
    /// ROIs whose images were compared.
    pub compared: usize,
    /// ROIs not compared (see their `problem`).
    pub not_compared: usize,
    /// Every compared pixel at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pooled: Option<Comparison>,
    /// The compared ROI with the smallest share of identical pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<String>,
}

impl CompareReport {
    fn new(dir: PathBuf, rois: Vec<RoiComparison>) -> CompareReport {
        let compared: Vec<(&str, &Comparison)> =
            rois.iter().filter_map(|r| r.image.as_ref().map(|c| (r.name.as_str(), c))).collect();
        let worst = compared
            .iter()
            .min_by(|a, b| a.1.identical_share.total_cmp(&b.1.identical_share))
            .map(|(n, _)| (*n).to_string());
        let pooled = (!compared.is_empty()).then(|| Comparison::pooled(compared.iter().map(|(_, c)| *c)));
        let n = compared.len();
        CompareReport { dir, not_compared: rois.len() - n, compared: n, pooled, worst, rois }
    }
}

/// Compares one written ROI with the other copy's files of the same names.
fn compare_roi(image: &Path, mask: &Path, dirs: &(PathBuf, Option<PathBuf>)) -> RoiComparison {
    let name = file_name(image);
    let theirs = dirs.0.join(&name);
    let (image_cmp, problem) = if !theirs.exists() {
        (None, Some(format!("not in `{}`", dirs.0.display())))
    } else {
        match compare_images(image, &theirs) {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(crate::report::error_chain(&e))),
        }
    };
    let mask_identical_share = dirs.1.as_ref().and_then(|m| {
        let theirs = m.join(file_name(mask));
        let c = theirs.exists().then(|| compare_files(mask, &theirs, 1, input::open_mask, "the mask compared"));
        c.and_then(Result::ok).map(|c| c.identical_share)
    });
    RoiComparison { name, image: image_cmp, mask_identical_share, problem }
}

/// Opens an image, which must be an 8-bit RGB PNG (a palette counts as RGB).
fn open_rgb(path: &Path) -> Result<FileRows, InputError> {
    let rows = input::open_image(path)?;
    match rows.source_format() {
        (3, 8) => Ok(rows),
        (channels, bits) => {
            let kind = match channels {
                1 => "grey",
                2 => "grey + alpha",
                4 => "RGBA",
                _ => "RGB",
            };
            let e = CodecError::Unsupported(format!("{bits}-bit {kind} image (normalize needs 8-bit RGB)"));
            Err(InputError::new(path, e))
        }
    }
}

/// Opens the mask of a job: same size as the image.
fn open_mask<'a>(
    job: &Job<'a>,
    width: usize,
    height: usize,
) -> Result<Option<(FileRows, &'a Path, MaskRule)>, InputError> {
    let Some((path, rule)) = job.mask else { return Ok(None) };
    let rows = input::open_mask(path)?;
    if (rows.width(), rows.height()) != (width, height) {
        let problem = InputProblem::Size {
            got_w: rows.width(),
            got_h: rows.height(),
            want_w: width,
            want_h: height,
            what: "its image",
        };
        return Err(InputError::new(path, problem));
    }
    Ok(Some((rows, path, rule)))
}

/// One pass over the rows of a job: `each(rgb, stats_mask, keep_mask)` per row, where the
/// statistics mask and the keep mask are nonzero where a pixel is left out.
fn pass(
    job: &Job<'_>,
    mut each: impl FnMut(&[u8], Option<&[u8]>, Option<&[u8]>) -> Result<(), NormalizeError>,
) -> Result<(usize, usize), NormalizeError> {
    let mut rows = open_rgb(job.image)?;
    let (w, h) = (rows.width(), rows.height());
    let mut mask = open_mask(job, w, h)?;
    let (mut rgb, mut m) = (vec![0u8; w * 3], vec![0u8; w]);
    for _ in 0..h {
        input::read_row(&mut rows, &mut rgb, job.image)?;
        match &mut mask {
            None => each(&rgb, None, None)?,
            Some((mrows, path, rule)) => {
                input::read_row(mrows, &mut m, path)?;
                match rule {
                    MaskRule::NonzeroOut => each(&rgb, Some(&m), Some(&m))?,
                    MaskRule::DontCareOut => {
                        for v in m.iter_mut() {
                            *v = u8::from(*v == 0);
                        }
                        each(&rgb, Some(&m), None)?
                    }
                }
            }
        }
    }
    input::finish(rows, job.image)?;
    if let Some((mrows, path, _)) = mask {
        input::finish(mrows, path)?;
    }
    Ok((w, h))
}

/// The job's image decoded once into a [`ColourIndex`] (its mask rule applied), or `None` when
/// it would take more than the job's `hold`.
fn indexed(job: &Job<'_>) -> Result<Option<ColourIndex>, NormalizeError> {
    let header = open_rgb(job.image)?;
    let (w, h) = (header.width(), header.height());
    drop(header);
    let pixels = w.saturating_mul(h);
    let Some(room) = job.hold.checked_sub(ColourIndex::bytes_for(pixels, 0)) else { return Ok(None) };
    let mut index = ColourIndex::new(w, h, room / ColourIndex::bytes_for(0, 1));
    let mut too_many = false;
    let result = pass(job, |rgb, m, _| {
        index.push_row(rgb, m).map_err(|source| {
            too_many = matches!(source, ReinhardError::TooManyColours { .. });
            NormalizeError::Statistics { path: job.image.to_path_buf(), source }
        })
    });
    match result {
        Ok(_) => Ok(Some(index)),
        Err(_) if too_many => Ok(None),
        Err(e) => Err(e),
    }
}

/// The source statistics of a job: given, or the two passes.
fn statistics(job: &Job<'_>) -> Result<LabStats, NormalizeError> {
    if let Some(s) = job.source {
        return Ok(s);
    }
    let stats_err = |source| NormalizeError::Statistics { path: job.image.to_path_buf(), source };
    let header = open_rgb(job.image)?;
    let (w, h) = (header.width(), header.height());
    drop(header);
    let mut means = MeanPass::new(w, h);
    pass(job, |rgb, m, _| means.push_row(rgb, m).map_err(stats_err))?;
    let mut var = means.finish().map_err(stats_err)?;
    pass(job, |rgb, m, _| var.push_row(rgb, m).map_err(stats_err))?;
    var.finish().map_err(stats_err)
}

enum Inner {
    Io(std::io::Error),
    Failed(NormalizeError),
}

impl From<std::io::Error> for Inner {
    fn from(e: std::io::Error) -> Self {
        Inner::Io(e)
    }
}

impl From<NormalizeError> for Inner {
    fn from(e: NormalizeError) -> Self {
        Inner::Failed(e)
    }
}

/// Normalises the job's image into `out` (atomically: nothing under that name unless complete).
///
/// Without given source statistics, an image that fits the job's `hold` is decoded once into a
/// [`ColourIndex`]; otherwise it is streamed: two statistics passes, then the transform, each
/// decoding the file again. Both give the same pixels.
fn normalize_file(job: &Job<'_>, out: &Path) -> Result<ImageSummary, NormalizeError> {
    let index = if job.source.is_none() { indexed(job)? } else { None };
    let stats_err = |source| NormalizeError::Statistics { path: job.image.to_path_buf(), source };
    let source = match &index {
        Some(index) => index.statistics().map_err(stats_err)?,
        None => statistics(job)?,
    };
    let header = open_rgb(job.image)?;
    let (w, h) = (header.width(), header.height());
    drop(header);
    let write_err = |e: std::io::Error| NormalizeError::Output { path: out.to_path_buf(), source: e };
    let written = write_atomic(out, |o: &mut dyn Write| -> Result<(), Inner> {
        let mut png = PngWriter::new(o, w, h, 3, job.compression).map_err(std::io::Error::from)?;
        match &index {
            Some(index) => {
                let keep_masked = matches!(job.mask, Some((_, MaskRule::NonzeroOut)));
                index.normalize_rows(source, job.target, keep_masked, |_, row| {
                    png.write_rows(row).map_err(|e| write_err(std::io::Error::other(e)))
                })?;
            }
            None => {
                let mut t = Reinhard::new(source, job.target);
                let mut row = vec![0u8; w * 3];
                pass(job, |rgb, _, keep| {
                    t.row(rgb, keep, &mut row).map_err(stats_err)?;
                    png.write_rows(&row).map_err(|e| write_err(std::io::Error::other(e)))
                })?;
            }
        }
        png.finish().map_err(std::io::Error::from)?;
        Ok(())
    });
    let written = match written {
        Ok(w) => w,
        Err(Inner::Io(source)) => return Err(NormalizeError::Output { path: out.to_path_buf(), source }),
        Err(Inner::Failed(e)) => return Err(e),
    };
    Ok(ImageSummary {
        out: out.to_path_buf(),
        width: w,
        height: h,
        source_mu: source.mu(),
        source_sigma: source.sigma(),
        bytes: written.bytes,
        sha256: written.sha256,
        compare: None,
    })
}

/// HistomicsTK's `lab_mean_std` of a PNG (for `--target-image`), streamed; `mask_out` nonzero
/// where pixels are left out.
pub fn image_statistics(image: &Path, mask_out: Option<&Path>) -> Result<LabStats, NormalizeError> {
    let job = Job {
        image,
        mask: mask_out.map(|m| (m, MaskRule::NonzeroOut)),
        target: LabStats::bcss(),
        source: None,
        compression: Compression::Fast,
        hold: IMAGE_HOLD,
    };
    match indexed(&job)? {
        Some(index) => {
            index.statistics().map_err(|source| NormalizeError::Statistics { path: image.to_path_buf(), source })
        }
        None => statistics(&job),
    }
}

/// Normalises one PNG into `out`: `source` statistics when given, else the image's own (over
/// the pixels `mask_out` leaves in); pixels `mask_out` leaves out keep their values. With
/// `compare`, the file written is then compared with that PNG ([`compare_images`]).
pub fn normalize_image(
    image: &Path,
    mask_out: Option<&Path>,
    out: &Path,
    target: LabStats,
    source: Option<LabStats>,
    compression: Compression,
    compare: Option<&Path>,
) -> Result<ImageSummary, NormalizeError> {
    let job =
        Job { image, mask: mask_out.map(|m| (m, MaskRule::NonzeroOut)), target, source, compression, hold: IMAGE_HOLD };
    let mut summary = normalize_file(&job, out)?;
    if let Some(theirs) = compare {
        summary.compare = Some(compare_images(out, theirs)?);
    }
    Ok(summary)
}

/// A validated dataset normalisation.
///
/// Made by [`NormalizePlan::new`] from the output root, with the BCSS target, every pixel in
/// the statistics, fast PNG compression and no waiting for the lock; setters change those.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NormalizePlan {
    out: PathBuf,
    target: LabStats,
    exclude_dont_care: bool,
    compression: Compression,
    wait_lock: bool,
    compare: Option<PathBuf>,
}

impl NormalizePlan {
    /// A plan writing the Drive layout under `out` (created).
    pub fn new(out: impl Into<PathBuf>) -> NormalizePlan {
        NormalizePlan {
            out: out.into(),
            target: LabStats::bcss(),
            exclude_dont_care: false,
            compression: Compression::Fast,
            wait_lock: false,
            compare: None,
        }
    }

    /// After each ROI, compare its image (and mask) with the file of the same name in another
    /// copy: the Drive folder, the root above it, or a folder of PNGs ([`compare_dirs`]).
    pub fn compare(mut self, dir: impl Into<PathBuf>) -> Self {
        self.compare = Some(dir.into());
        self
    }

    /// The target statistics (default: the BCSS standard).
    pub fn target(mut self, target: LabStats) -> Self {
        self.target = target;
        self
    }

    /// Leave code-0 pixels of each ROI's mask out of its statistics (default: no, HistomicsTK's
    /// plain call).
    pub fn exclude_dont_care(mut self, exclude: bool) -> Self {
        self.exclude_dont_care = exclude;
        self
    }

    /// PNG compression of the normalised images (default: fast).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Wait for another run's lock on the output instead of failing (default: fail).
    pub fn wait_lock(mut self, wait: bool) -> Self {
        self.wait_lock = wait;
        self
    }

    /// The Drive folder inside the output root.
    pub fn get_drive_dir(&self) -> PathBuf {
        self.out.join(DRIVE_DIR)
    }
}

/// What a dataset run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct NormalizeSummary {
    /// The Drive folder written.
    pub out: PathBuf,
    /// ROIs normalised by this run.
    pub normalized: usize,
    /// ROIs already complete from an earlier run with the same settings.
    pub skipped: usize,
    /// Masks written as hard links (the rest copied).
    pub linked: usize,
    /// ROIs that failed, with why.
    pub failures: Vec<UnitFailure>,
    /// The comparison with another copy (`NormalizePlan::compare`), of every ROI written or
    /// skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareReport>,
}

/// `normalize.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    format: u32,
    tool: String,
    settings: Settings,
    rois: BTreeMap<String, RoiRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    target_mu: [f64; 3],
    target_sigma: [f64; 3],
    exclude_dont_care: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoiRecord {
    /// The input image and mask: size and modification time (ns since 1970).
    inputs: [(u64, u128); 2],
    source_mu: [f64; 3],
    source_sigma: [f64; 3],
    image: FileRecord,
    mask: FileRecord,
}

fn stamp(path: &Path) -> (u64, u128) {
    std::fs::metadata(path)
        .map(|m| {
            let t = m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
            (m.len(), t)
        })
        .unwrap_or((0, 0))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Every ROI normalised into the Drive layout under the plan's root; a ROI that fails is
/// recorded in the summary's `failures` and the others go on.
pub fn normalize_dataset(
    plan: &NormalizePlan,
    rois: &[RoiInput],
    reporter: &dyn Reporter,
) -> Result<NormalizeSummary, NormalizeError> {
    let drive = plan.get_drive_dir();
    let (images, masks) = (drive.join(IMAGES_DIR), drive.join("masks"));
    for dir in [&plan.out, &drive, &images, &masks] {
        // The folders bcss makes inside the root are never links (the root itself may be).
        let own = if dir == &plan.out { Ok(()) } else { crate::files::check_own_dir(dir) };
        own.and_then(|()| std::fs::create_dir_all(dir))
            .map_err(|source| NormalizeError::Output { path: dir.clone(), source })?;
    }
    let _lock = DatasetLock::acquire(&plan.out, "normalize", plan.wait_lock)?;
    for dir in [&images, &masks] {
        atomic::remove_stale_parts(dir).map_err(|source| NormalizeError::Output { path: dir.clone(), source })?;
    }
    let settings = Settings {
        target_mu: plan.target.mu(),
        target_sigma: plan.target.sigma(),
        exclude_dont_care: plan.exclude_dont_care,
    };
    let record_path = plan.out.join(RECORD_FILE);
    let old = crate::files::read(&record_path, RECORD_LIMIT)
        .ok()
        .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        .filter(|r| r.settings == settings);
    let record = Mutex::new(Record {
        format: 1,
        tool: format!("bcss {}", env!("CARGO_PKG_VERSION")),
        settings,
        rois: old.map(|r| r.rois).unwrap_or_default(),
    });
    let compare_dirs = plan.compare.as_deref().map(compare_dirs);
    let compared = |image: &Path, mask: &Path| compare_dirs.as_ref().map(|dirs| compare_roi(image, mask, dirs));
    let linked = std::sync::atomic::AtomicUsize::new(0);
    let skipped = std::sync::atomic::AtomicUsize::new(0);
    let results =
        input::for_each_reported(rois, true, reporter, |r| -> Result<Option<RoiComparison>, NormalizeError> {
            let image = r.files.image.as_deref().ok_or_else(|| NormalizeError::NoImage(r.files.roi_id.clone()))?;
            let key = file_name(image);
            let (out_image, out_mask) = (images.join(&key), masks.join(file_name(&r.files.mask)));
            let inputs = [stamp(image), stamp(&r.files.mask)];
            let done = record.lock().unwrap_or_else(|e| e.into_inner()).rois.get(&key).cloned();
            if let Some(done) = done {
                if done.inputs == inputs && done.image.matches_disk(&plan.out) && done.mask.matches_disk(&plan.out) {
                    skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(compared(&out_image, &out_mask));
                }
            }
            let job = Job {
                image,
                mask: plan.exclude_dont_care.then_some((r.files.mask.as_path(), MaskRule::DontCareOut)),
                target: plan.target,
                source: None,
                compression: plan.compression,
                hold: DATASET_HOLD,
            };
            let summary = normalize_file(&job, &out_image)?;
            let (mask_written, was_linked) = atomic::link_or_copy(&r.files.mask, &out_mask)
                .map_err(|source| NormalizeError::Output { path: out_mask.clone(), source })?;
            if was_linked {
                linked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let rel = |name: &str, dir: &str| format!("{DRIVE_DIR}/{dir}/{name}");
            let entry = RoiRecord {
                inputs,
                source_mu: summary.source_mu,
                source_sigma: summary.source_sigma,
                image: FileRecord { path: rel(&key, IMAGES_DIR), bytes: summary.bytes, sha256: summary.sha256 },
                mask: FileRecord::new(rel(&file_name(&out_mask), "masks"), &mask_written),
            };
            {
                let mut rec = record.lock().unwrap_or_else(|e| e.into_inner());
                rec.rois.insert(key, entry);
                save(&rec, &record_path)?;
            }
            Ok(compared(&out_image, &out_mask))
        });
    let mut failures = Vec::new();
    let mut normalized = 0;
    let mut comparisons = Vec::new();
    for (r, res) in rois.iter().zip(results) {
        match res {
            Ok(c) => {
                normalized += 1;
                comparisons.extend(c);
            }
            Err(e @ NormalizeError::Lock(_)) => return Err(e),
            Err(e) => failures.push(UnitFailure {
                step: Some(crate::report::Step::Input),
                ..UnitFailure::new(&r.files.roi_id, crate::report::error_chain(&e))
            }),
        }
    }
    let skipped = skipped.into_inner();
    Ok(NormalizeSummary {
        out: drive,
        normalized: normalized - skipped,
        skipped,
        linked: linked.into_inner(),
        failures,
        compare: compare_dirs.map(|(dir, _)| CompareReport::new(dir, comparisons)),
    })
}

fn save(record: &Record, path: &Path) -> Result<(), NormalizeError> {
    let text = serde_json::to_vec_pretty(record).map_err(std::io::Error::other);
    write_atomic(path, |w: &mut dyn Write| w.write_all(&text.map_err(|e| std::io::Error::other(e.to_string()))?))
        .map(|_| ())
        .map_err(|source| NormalizeError::Output { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reinhard").join(name)
    }

    /// An image held as a colour index and one streamed through the passes give the same file,
    /// with each mask rule (case02, 06 and 10 have masks).
    #[test]
    fn held_and_streamed_give_the_same_file() {
        let d = tempfile::tempdir().unwrap();
        for name in ["case00", "case02", "case06", "case10"] {
            let image = case(name).join("input.png");
            let mask = case(name).join("mask.png");
            let rules: &[Option<MaskRule>] =
                if mask.exists() { &[None, Some(MaskRule::NonzeroOut), Some(MaskRule::DontCareOut)] } else { &[None] };
            for &rule in rules {
                let job = |hold| Job {
                    image: &image,
                    mask: rule.map(|r| (mask.as_path(), r)),
                    target: LabStats::bcss(),
                    source: None,
                    compression: Compression::Fast,
                    hold,
                };
                assert!(indexed(&job(IMAGE_HOLD)).unwrap().is_some(), "{name}: not held");
                assert!(indexed(&job(0)).unwrap().is_none(), "{name}: held with no room");
                // Room for the pixels but 10 colours only: too many colours, streamed.
                let rows = open_rgb(&image).unwrap();
                let tight = ColourIndex::bytes_for(rows.width() * rows.height(), 10);
                assert!(indexed(&job(tight)).unwrap().is_none(), "{name}: held with 10 colours");
                let held = normalize_file(&job(IMAGE_HOLD), &d.path().join("held.png")).unwrap();
                let streamed = normalize_file(&job(0), &d.path().join("streamed.png")).unwrap();
                assert_eq!(held.sha256, streamed.sha256, "{name} {rule:?}");
                assert_eq!(held.source_mu.map(f64::to_bits), streamed.source_mu.map(f64::to_bits));
                assert_eq!(held.source_sigma.map(f64::to_bits), streamed.source_sigma.map(f64::to_bits));
            }
        }
    }
}
