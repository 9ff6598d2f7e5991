//! Why a ROI fails, and which failures are worth another attempt: the pipeline's errors in one
//! place, below the pipeline's stages (`run`, `pixels`, `masks`), which all return them.

use crate::dataset::manifest::ManifestError;
use crate::dataset::names::UnsafeName;
use crate::report::Step;
use crate::source::annotations::AnnotationError;
use crate::source::girder::GirderError;
use crate::source::masklink::MaskError;
use crate::transform::raster::RectMaskError;
use crate::transform::Rect;
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
    /// Reading the slide from the GDC failed.
    #[error(transparent)]
    Gdc(Box<dyn std::error::Error + Send + Sync>),
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
    #[error("the body broke off while it was decoded")]
    Body(#[source] crate::source::http::HttpError),
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
            RoiError::NoSlide(_) | RoiError::Gdc(_) => Step::Slide,
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
            RoiError::Gdc(e) => gdc_status(e.as_ref()),
            _ => None,
        }
    }
}

/// The HTTP status in a GDC error's chain, if any.
fn gdc_status(e: &(dyn std::error::Error + 'static)) -> Option<u16> {
    use crate::source::gdc::GdcError;
    use crate::source::http::Failure;
    let mut level = Some(e);
    while let Some(e) = level {
        match e.downcast_ref::<GdcError>() {
            Some(GdcError::Status { status, .. }) => return Some(*status),
            Some(GdcError::KeptFailing { source } | GdcError::Unreachable { source }) => {
                return match source.failure {
                    Failure::Status(status, _) => Some(status),
                    _ => None,
                }
            }
            _ => level = e.source(),
        }
    }
    None
}

/// Whether a failure on the GDC road may pass on a rerun, from the first level of its chain that
/// says: an error status as [`transient_status`]; a server that ignored or lied about a byte
/// range, a TIFF that is malformed or over its budget, a cache file refused for what it is, will
/// do the same again (issue 22: "rerun" was offered for a 1e15-byte size and a lying server);
/// the network, a cache file in use, a download that did not match its MD5 may pass.
fn gdc_rerun_may_fix(e: &(dyn std::error::Error + 'static)) -> bool {
    use crate::source::gdc::GdcError;
    use crate::source::sparse::SparseError;
    use crate::source::tiff::TiffError;
    let mut level = Some(e);
    while let Some(e) = level {
        if let Some(g) = e.downcast_ref::<GdcError>() {
            match g {
                GdcError::Status { status, .. } => return transient_status(*status),
                GdcError::Unexpected { .. } | GdcError::RangeIgnored { .. } | GdcError::BadRange { .. } => {
                    return false
                }
                GdcError::Io { source, .. } => return io_rerun_may_fix(source),
                _ => return true,
            }
        }
        if let Some(s) = e.downcast_ref::<SparseError>() {
            match s {
                SparseError::OverBudget { .. } | SparseError::BadId { .. } | SparseError::ShortFetch { .. } => {
                    return false
                }
                SparseError::Io { source, .. } => return io_rerun_may_fix(source),
                SparseError::InUse { .. } => return true,
                _ => {}
            }
        }
        if e.downcast_ref::<TiffError>().is_some() {
            return false;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io_rerun_may_fix(io);
        }
        level = e.source();
    }
    true
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
            RoiError::Gdc(e) => gdc_rerun_may_fix(e.as_ref()),
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
