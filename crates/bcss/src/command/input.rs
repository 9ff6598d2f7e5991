//! Reading the files of a ROI for the analysis commands, with the file named in every error.
//!
//! Masks and images are streamed row by row (`RowReader`): a pass over a ROI holds a few rows,
//! whatever the ROI's size.
//!
//! The passes that several commands make over the same files live here, once: a ROI's class
//! counts ([`roi_counts`]: `stats`, `report`) and a prediction's scores against its truth
//! ([`score_files`]: `eval`, `report --pred`).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::catalog::classmap::ClassMap;
use crate::catalog::codes::MAX_CODE;
use crate::codec::rows::RowReader;
use crate::codec::CodecError;
use crate::dataset::distribution::RoiStats;
use crate::dataset::scores::{ImageResult, PixelCounter, Problem, ProblemKind};
use crate::files;
use crate::transform::remap::{count_into, fold_counts, remap_into};

/// A row reader over a file.
pub type FileRows = RowReader<BufReader<File>>;

/// What went wrong with one input file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputProblem {
    /// Opening or reading failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Decoding failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A mask value is not a code of the map.
    #[error("value {value} at (x {x}, y {y}) is not {expected}")]
    BadValue {
        /// The value.
        value: u8,
        /// Column.
        x: usize,
        /// Row.
        y: usize,
        /// What was expected (`a BCSS code (0..=21)`, `a class of map main5 (0..=5)`).
        expected: String,
    },
    /// Two files that must match in size do not.
    #[error("size {got_w}x{got_h} does not match {what} {want_w}x{want_h}")]
    Size {
        /// Width found.
        got_w: usize,
        /// Height found.
        got_h: usize,
        /// Width expected.
        want_w: usize,
        /// Height expected.
        want_h: usize,
        /// What it is compared to (`its mask`, `the ground truth`).
        what: &'static str,
    },
}

/// An input file and what went wrong with it: the file is this level, the problem its
/// `source()`.
#[derive(Debug, thiserror::Error)]
#[error("`{path}`")]
pub struct InputError {
    /// The file.
    pub path: PathBuf,
    /// The problem.
    #[source]
    pub problem: InputProblem,
}

impl InputError {
    /// Wraps a problem with its file.
    pub fn new(path: &Path, problem: impl Into<InputProblem>) -> InputError {
        InputError { path: path.to_path_buf(), problem: problem.into() }
    }
}

/// Opens a label mask for row-by-row reading.
pub fn open_mask(path: &Path) -> Result<FileRows, InputError> {
    let file = files::open_read(path).map_err(|e| InputError::new(path, e))?;
    RowReader::gray(BufReader::with_capacity(1 << 16, file)).map_err(|e| InputError::new(path, e))
}

/// Opens an RGB image for row-by-row reading.
pub fn open_image(path: &Path) -> Result<FileRows, InputError> {
    let file = files::open_read(path).map_err(|e| InputError::new(path, e))?;
    RowReader::rgb(BufReader::with_capacity(1 << 16, file)).map_err(|e| InputError::new(path, e))
}

/// Opens the RGB image of an opened mask for row-by-row reading: it must be the mask's size.
pub fn open_image_of(path: &Path, mask: &FileRows) -> Result<FileRows, InputError> {
    let rows = open_image(path)?;
    let (w, h) = (mask.width(), mask.height());
    if (rows.width(), rows.height()) != (w, h) {
        let problem =
            InputProblem::Size { got_w: rows.width(), got_h: rows.height(), want_w: w, want_h: h, what: "its mask" };
        return Err(InputError::new(path, problem));
    }
    Ok(rows)
}

/// Reads the next row, naming the file on failure.
pub fn read_row(rows: &mut FileRows, out: &mut [u8], path: &Path) -> Result<(), InputError> {
    rows.read_row(out).map_err(|e| InputError::new(path, e))
}

/// Checks the end of the file, naming it on failure.
pub fn finish(rows: FileRows, path: &Path) -> Result<(), InputError> {
    rows.finish().map_err(|e| InputError::new(path, e))
}

/// The size of a file in bytes (0 if it cannot be read; used for progress only).
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

pub use crate::dataset::pairs::RoiInput;

/// Runs `work` on every ROI on rayon's pool, reporting each start, the bytes of its input files
/// (`with_image`: the image counts too) and its outcome. Results come back in input order.
pub(crate) fn for_each_reported<T: Send, E: std::error::Error + Send + 'static>(
    rois: &[RoiInput],
    with_image: bool,
    reporter: &dyn crate::report::Reporter,
    work: impl Fn(&RoiInput) -> Result<T, E> + Sync + Send,
) -> Vec<Result<T, E>> {
    use rayon::prelude::*;
    reporter.on_plan(rois.len());
    rois.par_iter()
        .map(|r| {
            reporter.on_start(&r.files.roi_id);
            let result = work(r);
            let image = if with_image { r.files.image.as_deref().map_or(0, file_len) } else { 0 };
            reporter.on_bytes(file_len(&r.files.mask) + image);
            let outcome = match &result {
                Ok(_) => crate::report::Outcome::Done,
                Err(e) => crate::report::Outcome::Failed(crate::report::UnitFailure {
                    step: Some(crate::report::Step::Input),
                    ..crate::report::UnitFailure::new(&r.files.roi_id, crate::report::error_chain(e))
                }),
            };
            reporter.on_done(&r.files.roi_id, &outcome);
            result
        })
        .collect()
}

/// Streams one mask and counts its codes; refuses values that are not BCSS codes, with their
/// position. Returns width, height and the code histogram.
pub fn code_histogram(path: &Path) -> Result<(usize, usize, [u64; 256]), InputError> {
    let mut rows = open_mask(path)?;
    let (w, h) = (rows.width(), rows.height());
    let mut row = vec![0u8; w];
    let mut hist = [0u64; 256];
    for y in 0..h {
        read_row(&mut rows, &mut row, path)?;
        count_into(&row, &mut hist);
        if hist[MAX_CODE as usize + 1..].iter().any(|&n| n > 0) {
            let x = row.iter().position(|&v| v > MAX_CODE).expect("a value above 21 was counted");
            return Err(InputError::new(
                path,
                InputProblem::BadValue { value: row[x], x, y, expected: "a BCSS code (0..=21)".into() },
            ));
        }
    }
    finish(rows, path)?;
    Ok((w, h, hist))
}

/// The overlay file `bcss overlay` writes for a ROI under `out` (the report links to it).
pub fn overlay_file(out: &Path, roi_id: &str) -> PathBuf {
    out.join(format!("{roi_id}_overlay.png"))
}

/// Counts one ROI's mask in the classes of `map` (the per-ROI numbers of
/// `crate::dataset::distribution`).
pub fn roi_counts(r: &RoiInput, map: &ClassMap) -> Result<RoiStats, InputError> {
    let (width, height, hist) = code_histogram(&r.files.mask)?;
    let counts = fold_counts(&hist, map.lut(), map.num_classes()).expect("every BCSS code is in a validated map");
    Ok(RoiStats { roi: r.files.roi_id.clone(), part: r.part, width, height, counts })
}

/// Scores one prediction against one truth mask, streaming both (the rules are
/// `crate::dataset::scores`'s; `bcss eval` and `bcss report --pred` call this). A prediction holding a value
/// above K is read to its end for its largest value (the warnings use it).
pub fn score_files(map: &ClassMap, roi: &str, truth: &Path, pred: &Path) -> Result<ImageResult, Problem> {
    let unreadable =
        |e: InputError| Problem::new(e.path.clone(), ProblemKind::Unreadable, crate::report::error_chain(&e.problem));
    let mut trows = open_mask(truth).map_err(unreadable)?;
    let mut prows = open_mask(pred).map_err(unreadable)?;
    let (w, h) = (trows.width(), trows.height());
    if (prows.width(), prows.height()) != (w, h) {
        let e = InputError::new(
            pred,
            InputProblem::Size {
                got_w: prows.width(),
                got_h: prows.height(),
                want_w: w,
                want_h: h,
                what: "the ground truth",
            },
        );
        return Err(Problem::new(pred, ProblemKind::Size, e.problem.to_string()));
    }
    let k = map.num_classes();
    let mut counter = PixelCounter::new(k);
    let (mut traw, mut t, mut p) = (vec![0u8; w], vec![0u8; w], vec![0u8; w]);
    for y in 0..h {
        read_row(&mut trows, &mut traw, truth).map_err(unreadable)?;
        read_row(&mut prows, &mut p, pred).map_err(unreadable)?;
        remap_into(&traw, &mut t, map.lut()).map_err(|b| {
            unreadable(InputError::new(
                truth,
                InputProblem::BadValue { value: b.value, x: b.index, y, expected: "a BCSS code (0..=21)".into() },
            ))
        })?;
        if let Err(x) = counter.add(&t, &p) {
            let expected = format!("a class of map {} (0..={k})", map.name());
            let message = InputProblem::BadValue { value: p[x], x, y, expected }.to_string();
            let mut max = p.iter().copied().max().unwrap_or(0);
            for _ in y + 1..h {
                read_row(&mut prows, &mut p, pred).map_err(unreadable)?;
                max = max.max(p.iter().copied().max().unwrap_or(0));
            }
            return Err(Problem::over_k(pred, message, max));
        }
    }
    finish(trows, truth).map_err(unreadable)?;
    finish(prows, pred).map_err(unreadable)?;
    Ok(counter.finish(map, roi))
}
