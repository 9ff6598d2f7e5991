//! Why a ROI fails, and which failures are worth another attempt: the pipeline's errors in one
//! place, below the pipeline's stages (`run`, `pixels`, `masks`), which all return them.

use crate::dataset::manifest::ManifestError;
use crate::dataset::names::UnsafeName;
use crate::model::AnnotationError;
use crate::model::Rect;
use crate::report::Step;
use crate::source::girder::GirderError;
use crate::source::masklink::MaskError;
use crate::transform::raster::RectMaskError;
use std::path::PathBuf;
use std::time::Duration;

/// Why one ROI failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoiError {
    /// The source has no slide for the ROI.
    #[error("{0}")]
    NoSlide(String),
    /// A DSA request failed.
    #[error(transparent)]
    Girder(#[from] GirderError),
    /// A local (or locally cached) slide file is missing, ambiguous or unreadable.
    #[cfg(feature = "openslide")]
    #[error(transparent)]
    Local(#[from] crate::source::local::LocalError),
    /// Reading the slide from the GDC failed (boxed, typed: a GDC failure is rare and large).
    #[cfg(feature = "openslide")]
    #[error(transparent)]
    Gdc(Box<GdcSlideError>),
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
    /// The region arrived empty, undecodable or the wrong size (fetched again a few times,
    /// three attempts in all, before the ROI fails).
    #[error("region")]
    BadRegion(#[source] RegionError),
    /// The mask's rows ended before the mask did.
    #[error("the mask gave {got} of {want} rows")]
    ShortMask {
        /// Output rows made.
        got: usize,
        /// Output rows expected.
        want: usize,
    },
    /// The mask failed (download, decode, size or codes).
    #[error("mask")]
    Mask(#[from] MaskError),
    /// The mask could not be rasterised from the slide's annotations.
    #[error("mask from annotations")]
    MaskFromAnnotations(#[from] AnnotationMaskError),
    /// The mask could not be rasterised from an annotation file.
    #[error("mask from annotations `{path}`")]
    AnnotationFile {
        /// The annotation file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: AnnotationMaskError,
    },
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
    /// Several mask or annotation files match.
    #[error("several files match `{roi}`: {}", candidates.join(", "))]
    Ambiguous {
        /// ROI id.
        roi: String,
        /// The file names.
        candidates: Vec<String>,
    },
    /// The source cannot give this part (annotations from anything but a DSA).
    #[error("{0}")]
    Unsupported(&'static str),
    /// A server-supplied name was refused.
    #[error(transparent)]
    UnsafeName(#[from] UnsafeName),
    /// Writing a file failed.
    #[error("failed to write `{path}`")]
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

/// Why reading a slide from the GDC failed (`--source gdc`): each cause typed, so that its
/// HTTP status and whether a rerun may pass are read from fields, never from a downcast.
#[cfg(feature = "openslide")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GdcSlideError {
    /// A request or a download of the GDC failed.
    #[error(transparent)]
    Gdc(#[from] crate::source::gdc::GdcError),
    /// The sparse copy failed (a fetch, its TIFF structure, its budget, its cache file).
    #[error(transparent)]
    Sparse(#[from] crate::source::sparse::SparseError),
    /// The tiles of a level cannot be planned (not tiled, a compression that hides holes).
    #[error(transparent)]
    Plan(#[from] bcss_tiff::PlanError),
    /// The file holds another slide than the ROI's.
    #[error(transparent)]
    WrongSlide(#[from] WrongSlide),
    /// A level OpenSlide reads is not one tiled directory of the file.
    #[error("OpenSlide level {level} ({width}x{height}) of `{file}` is not one tiled directory of the file; download the whole slide (`--pipeline wsis`) and use `bcss extract`")]
    NotOneDirectory {
        /// OpenSlide's level.
        level: u32,
        /// Its width.
        width: u64,
        /// Its height.
        height: u64,
        /// The file name.
        file: String,
    },
}

/// The file holds another slide than the ROI's (a manifest that maps the ROI's slide to
/// another slide's file).
#[cfg(feature = "openslide")]
#[derive(Debug, thiserror::Error)]
#[error("`{file}` is slide `{filename}` (its Aperio `Filename`), not `{slide}`; check the GDC manifest")]
pub struct WrongSlide {
    /// The file name.
    pub file: String,
    /// The slide its Aperio `Filename` names, scrubbed.
    pub filename: String,
    /// The ROI's slide.
    pub slide: String,
}

/// What was wrong with a region's pixels as they arrived.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegionError {
    /// The server sent no bytes.
    #[error("the server sent an empty body (HTTP {status}); the region is empty or outside the slide")]
    Empty {
        /// The status it answered.
        status: u16,
    },
    /// The server's image (by its header) is not the size this request must give.
    #[error("the server sent {got_w}x{got_h} pixels but must send {want_w}x{want_h} for this request")]
    ServerSize {
        /// Width sent.
        got_w: u64,
        /// Height sent.
        got_h: u64,
        /// Width planned.
        want_w: u64,
        /// Height planned.
        want_h: u64,
    },
    /// The body does not decode (truncated, corrupt, or of another size than its header).
    #[error("the body does not decode")]
    Decode(#[source] crate::codec::CodecError),
    /// The body broke while it was decoded (cut off, stalled, past its deadline or its limit):
    /// the region is fetched again unless the failure is not transient
    /// ([`Failure::is_transient`](crate::source::http::Failure::is_transient)).
    #[error("the body broke off while it was decoded (the region was fetched {fetches} time{})", if *fetches == 1 { "" } else { "s" })]
    Body {
        /// The last request's failure (its own retries: those of its head).
        #[source]
        source: crate::source::http::HttpError,
        /// How many times the pipeline fetched the region, this one included.
        fetches: u32,
    },
}

impl RoiError {
    /// The step of the ROI's work that failed.
    pub fn step(&self) -> Step {
        use crate::source::girder::Step as Dsa;
        match self {
            RoiError::Girder(e) => match e.step() {
                Dsa::Region => Step::Region,
                Dsa::MaskLink => Step::Mask,
                Dsa::Annotations => Step::Annotations,
                Dsa::Probe | Dsa::Token | Dsa::Listing | Dsa::TilesMetadata => Step::Slide,
            },
            RoiError::NoSlide(_) => Step::Slide,
            #[cfg(feature = "openslide")]
            RoiError::Gdc(_) => Step::Slide,
            #[cfg(feature = "openslide")]
            RoiError::Local(crate::source::local::LocalError::BadRegion { .. }) => Step::Region,
            #[cfg(feature = "openslide")]
            RoiError::Local(_) => Step::Slide,
            RoiError::Clipped { .. } | RoiError::Unplannable { .. } | RoiError::BadRegion(_) => Step::Region,
            RoiError::Mask(_)
            | RoiError::ShortMask { .. }
            | RoiError::MaskFromAnnotations(_)
            | RoiError::AnnotationFile { .. }
            | RoiError::NoMaskFile { .. }
            | RoiError::NoAnnotationFile { .. }
            | RoiError::Ambiguous { .. } => Step::Mask,
            RoiError::Unsupported(_) | RoiError::UnsafeName(_) => Step::Annotations,
            RoiError::Write { .. } => Step::Write,
            RoiError::Manifest(_) => Step::Manifest,
        }
    }

    /// The HTTP status a server answered, when the failure was one: an error status, or the
    /// status a server kept answering until retries ran out.
    pub fn http_status(&self) -> Option<u16> {
        use crate::source::http::Failure;
        match self {
            RoiError::Girder(GirderError::Server { status, .. }) => Some(*status),
            RoiError::Girder(GirderError::Http { source, .. }) | RoiError::Mask(MaskError::Http { source, .. }) => {
                match source.failure {
                    Failure::Status(status, _) => Some(status),
                    _ => None,
                }
            }
            RoiError::Mask(MaskError::Status { status, .. }) => Some(*status),
            RoiError::BadRegion(RegionError::Empty { status }) => Some(*status),
            #[cfg(feature = "openslide")]
            RoiError::Gdc(e) => e.http_status(),
            _ => None,
        }
    }
}

#[cfg(feature = "openslide")]
impl GdcSlideError {
    /// The HTTP status the GDC answered, when the failure was one.
    pub fn http_status(&self) -> Option<u16> {
        use crate::source::sparse::SparseError;
        match self {
            GdcSlideError::Gdc(e) => gdc_status(e),
            GdcSlideError::Sparse(SparseError::Fetch { source, .. }) => gdc_status(source),
            _ => None,
        }
    }

    /// Whether a rerun may pass: an error status as [`transient_status`]; a server that ignored
    /// or lied about a byte range, a TIFF that is malformed or over its budget, a level that
    /// cannot be read by ranges, a file that is another slide, a cache file refused for what it
    /// is, will do the same again (issue 22: "rerun" was offered for a 1e15-byte size and a
    /// lying server); the network, a cache file in use, a download that did not match its MD5
    /// may pass.
    fn rerun_may_fix(&self) -> bool {
        use crate::source::sparse::SparseError;
        match self {
            GdcSlideError::Gdc(e) => gdc_rerun_may_fix(e),
            GdcSlideError::Sparse(SparseError::Fetch { source, .. }) => gdc_rerun_may_fix(source),
            GdcSlideError::Sparse(s) => match s {
                SparseError::Io(e) => io_rerun_may_fix(&e.source),
                SparseError::InUse { .. } => true,
                SparseError::Fetch { .. }
                | SparseError::BadId { .. }
                | SparseError::Layout { .. }
                | SparseError::OverBudget { .. }
                | SparseError::ShortFetch { .. } => false,
            },
            GdcSlideError::Plan(_) | GdcSlideError::WrongSlide(_) | GdcSlideError::NotOneDirectory { .. } => false,
        }
    }
}

/// The HTTP status of a GDC error: an error status, or the one it kept answering.
#[cfg(feature = "openslide")]
fn gdc_status(e: &crate::source::gdc::GdcError) -> Option<u16> {
    use crate::source::gdc::GdcError;
    use crate::source::http::Failure;
    match e {
        GdcError::Status { status, .. } => Some(*status),
        GdcError::KeptFailing { source } | GdcError::Unreachable { source } => match source.failure {
            Failure::Status(status, _) => Some(status),
            _ => None,
        },
        GdcError::Unexpected { .. }
        | GdcError::RangeIgnored { .. }
        | GdcError::BadRange { .. }
        | GdcError::Integrity { .. }
        | GdcError::Io(_) => None,
    }
}

/// Whether a rerun may get past a GDC error.
#[cfg(feature = "openslide")]
fn gdc_rerun_may_fix(e: &crate::source::gdc::GdcError) -> bool {
    use crate::source::gdc::GdcError;
    match e {
        GdcError::Status { status, .. } => transient_status(*status),
        GdcError::Unexpected { .. } | GdcError::RangeIgnored { .. } | GdcError::BadRange { .. } => false,
        GdcError::Io(e) => io_rerun_may_fix(&e.source),
        GdcError::Unreachable { .. } | GdcError::KeptFailing { .. } | GdcError::Integrity { .. } => true,
    }
}

/// A status a rerun may get past: the HTTP client's one definition of a transient status
/// (408, 429, 500, 502, 503, 504), which its retries use too.
fn transient_status(status: u16) -> bool {
    crate::source::http::is_transient_status(status)
}

impl super::super::workers::UnitError for RoiError {
    /// False for what the same command would meet again: a slide or file that is not there, an
    /// item id or link the server refuses (4xx), a region outside the slide, bad codes.
    fn rerun_may_fix(&self) -> bool {
        match self {
            RoiError::Girder(GirderError::Server { status, .. }) => transient_status(*status),
            #[cfg(feature = "openslide")]
            RoiError::Gdc(e) => e.rerun_may_fix(),
            RoiError::Girder(_) | RoiError::BadRegion(_) | RoiError::ShortMask { .. } => true,
            RoiError::Mask(MaskError::Http { .. }) => true,
            RoiError::Mask(MaskError::File { source, .. }) | RoiError::Write { source, .. } => io_rerun_may_fix(source),
            RoiError::Mask(MaskError::Status { status, .. }) => transient_status(*status),
            RoiError::MaskFromAnnotations(_) => true,
            RoiError::Manifest(_) => true,
            _ => false,
        }
    }

    fn step(&self) -> Option<Step> {
        Some(RoiError::step(self))
    }

    fn http_status(&self) -> Option<u16> {
        RoiError::http_status(self)
    }
}

/// Whether the same command run again may get past an I/O error: a full disk, an interrupted
/// write or a busy file may pass; a file refused for what it is (a link, a FIFO, over its size
/// budget), one too large for the file system, a permission, a read-only file system or an
/// absent file will fail again the same way.
pub(crate) fn io_rerun_may_fix(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    !matches!(
        e.kind(),
        K::InvalidInput
            | K::InvalidData
            | K::FileTooLarge
            | K::PermissionDenied
            | K::ReadOnlyFilesystem
            | K::NotFound
            | K::NotADirectory
            | K::IsADirectory
    )
}

/// How many times a ROI's content (a region or mask that arrives but is corrupt, truncated or
/// the wrong size) is fetched again before the ROI is reported failed.
pub(super) const CONTENT_ATTEMPTS: u32 = 3;

/// Runs `f` until it succeeds, fails with an error `retryable` refuses, or
/// [`CONTENT_ATTEMPTS`] attempts are spent.
pub(crate) fn content_retry<T, E: std::error::Error + 'static>(
    what: &str,
    roi: &str,
    f: impl FnMut() -> Result<T, E>,
    retryable: impl Fn(&E) -> bool,
) -> Result<T, E> {
    retry_by_kind(what, roi, f, |e| if retryable(e) { CONTENT_ATTEMPTS } else { 1 })
}

/// Runs `f` until it succeeds or has been tried as many times as `attempts` allows for the
/// error it failed with (1: not retried).
pub(super) fn retry_by_kind<T, E: std::error::Error + 'static>(
    what: &str,
    roi: &str,
    mut f: impl FnMut() -> Result<T, E>,
    attempts: impl Fn(&E) -> u32,
) -> Result<T, E> {
    let mut attempt = 1;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if attempt < attempts(&e) => {
                tracing::warn!(roi, what, error = %crate::report::error_chain(&e), attempt, "bad content; fetching again");
                std::thread::sleep(Duration::from_millis(100 * u64::from(attempt.min(10))));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Why a streamed write failed: the file, or the source of its rows.
/// Why a catalogue ROI's mask could not be made from annotations: the JSON could not be read,
/// or no mask fits the ROI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnnotationMaskError {
    /// The JSON is not annotation JSON.
    #[error(transparent)]
    Annotations(#[from] AnnotationError),
    /// No ROI element matches the catalogue ROI, or it gave no mask.
    #[error(transparent)]
    Mask(#[from] RectMaskError),
}

/// Whether an error is bad mask content (retried for sources that [`BaseMasks::refetch_bad_content`]).
pub(crate) fn bad_mask_content(e: &RoiError) -> bool {
    matches!(e, RoiError::Mask(MaskError::Decode { .. } | MaskError::WrongSize { .. } | MaskError::UnknownCodes { .. }))
}

#[cfg(all(test, feature = "openslide"))]
mod tests {
    use super::*;
    use crate::command::workers::UnitError;
    use crate::source::gdc::GdcError;
    use crate::source::sparse::SparseError;

    fn gdc(e: impl Into<GdcSlideError>) -> RoiError {
        RoiError::Gdc(Box::new(e.into()))
    }

    fn status(status: u16) -> GdcError {
        GdcError::Status { status, message: None, url: "http://gdc/data/x".into() }
    }

    #[test]
    fn gdc_causes_are_read_from_their_types() {
        // A status, directly or as the fetch of a sparse copy: its HTTP status, and a rerun
        // only when the status is transient.
        for (e, want_status, want_rerun) in [
            (gdc(status(503)), Some(503), true),
            (gdc(status(404)), Some(404), false),
            (
                gdc(SparseError::Fetch { name: "a.svs".into(), start: 0, end: 1, source: Box::new(status(502)) }),
                Some(502),
                true,
            ),
            (
                gdc(SparseError::Fetch { name: "a.svs".into(), start: 0, end: 1, source: Box::new(status(403)) }),
                Some(403),
                false,
            ),
            (gdc(SparseError::OverBudget { name: "a.svs".into(), need: 2, budget: 1 }), None, false),
            (gdc(SparseError::InUse { path: "p".into() }), None, true),
            (gdc(GdcError::RangeIgnored { file: "a.svs".into(), url: "u".into() }), None, false),
            (
                gdc(WrongSlide { file: "a.svs".into(), filename: "TCGA-XX".into(), slide: "TCGA-YY".into() }),
                None,
                false,
            ),
            (gdc(GdcSlideError::NotOneDirectory { level: 1, width: 2, height: 3, file: "a.svs".into() }), None, false),
        ] {
            assert_eq!(e.http_status(), want_status, "{e}");
            assert_eq!(e.rerun_may_fix(), want_rerun, "{e}");
            assert_eq!(RoiError::step(&e), Step::Slide);
        }
    }
}
