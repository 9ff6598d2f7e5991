//! `bcss stats`: how the classes are distributed, per ROI and per part of the split.
//!
//! Per ROI, the mask is streamed row by row and its codes counted ([`compute`]); the numbers
//! (fractions, presence, class weights: every formula is in `crate::dataset::distribution`,
//! which `bcss report` shares) are summed per part.
//!
//! Outputs ([`write_outputs`]): `rois.csv`, `parts.csv`, `classes.csv`, `stats.json`, and the
//! charts of `render::distribution` (drawn by `render::chart`): `distribution.svg`
//! and `distribution.png` (share of labelled pixels per class and part) and
//! `distribution-pixels.svg` (pixels per class and part, log scale). Rows are sorted (ROIs by id,
//! parts train / val / test / all, classes by value).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::input::{self, InputError, RoiInput};
use crate::catalog::classmap::ClassMap;
use crate::catalog::csv_text;
use crate::codec::png::{write_rgb, Compression};
use crate::dataset::atomic::write_atomic;
use crate::dataset::{DatasetLock, LockError};
use crate::report::Reporter;

pub use crate::dataset::distribution::{aggregate, ClassStats, PartStats, RoiStats, Stats};
use crate::render::distribution::distribution_charts;

/// Why statistics could not be computed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// Another run holds the output folder, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A mask could not be read or holds a value that is not a code.
    #[error(transparent)]
    Input(#[from] InputError),
    /// An output could not be written.
    #[error("failed to write `{path}`")]
    Output {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A chart could not be drawn.
    #[error("cannot draw `{file}`")]
    Chart {
        /// The chart's file name (`distribution.svg`, ...).
        file: &'static str,
        /// The drawing error.
        #[source]
        source: crate::render::chart::RenderError,
    },
}

impl crate::report::Blamed for StatsError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            StatsError::Lock(e) => e.blame(),
            StatsError::Input { .. } => Blame::Input,
            StatsError::Output { .. } | StatsError::Chart { .. } => Blame::Output,
        }
    }
}

/// Counts every ROI's mask, in parallel, and aggregates per part.
pub fn compute(rois: &[RoiInput], map: &ClassMap, reporter: &dyn Reporter) -> Result<Stats, StatsError> {
    let per_roi = input::for_each_reported(rois, false, reporter, |r| input::roi_counts(r, map));
    let rois: Vec<RoiStats> = per_roi.into_iter().collect::<Result<_, _>>()?;
    Ok(aggregate(map, rois))
}

/// The file names written by [`write_outputs`], in order.
pub const OUTPUT_FILES: [&str; 7] = [
    "rois.csv",
    "parts.csv",
    "classes.csv",
    "stats.json",
    "distribution.svg",
    "distribution-pixels.svg",
    "distribution.png",
];

/// Writes the CSV tables, the JSON and the chart into `out` (created), each atomically, under
/// `out`'s lock (with `wait_lock`, waiting for another run that holds it).
pub fn write_outputs(stats: &Stats, map: &ClassMap, out: &Path, wait_lock: bool) -> Result<(), StatsError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StatsError::Output { path, source }
    };
    let _lock = DatasetLock::acquire(out, "stats", wait_lock)?;
    let write = |name: &str, bytes: &[u8]| -> Result<(), StatsError> {
        let path = out.join(name);
        write_atomic(&path, |w: &mut dyn Write| w.write_all(bytes)).map(|_| ()).map_err(err(&path))
    };

    let mut header = vec!["roi", "part", "width", "height", "pixels", "dont_care", "dont_care_fraction"];
    header.extend(stats.class_names.iter().map(String::as_str));
    let rows = stats.rois.iter().map(|r| {
        let mut row = vec![
            r.roi.clone(),
            r.part.to_string(),
            r.width.to_string(),
            r.height.to_string(),
            r.pixels().to_string(),
            r.counts[0].to_string(),
            format!("{:.6}", r.dont_care_fraction()),
        ];
        row.extend(r.counts[1..].iter().map(u64::to_string));
        row
    });
    write("rois.csv", csv_text(&header, rows).as_bytes())?;

    let rows = stats.parts.iter().map(|p| {
        vec![
            p.part.clone(),
            p.rois.to_string(),
            p.pixels.to_string(),
            p.labelled.to_string(),
            p.dont_care.to_string(),
            format!("{:.6}", p.dont_care_fraction),
        ]
    });
    let header = ["part", "rois", "pixels", "labelled", "dont_care", "dont_care_fraction"];
    write("parts.csv", csv_text(&header, rows).as_bytes())?;

    let rows = stats.parts.iter().flat_map(|p| {
        p.classes.iter().map(|c| {
            vec![
                p.part.clone(),
                c.value.to_string(),
                c.name.clone(),
                c.pixels.to_string(),
                format!("{:.6}", c.fraction),
                c.present_in.to_string(),
                format!("{:.6}", c.weight_inverse),
                format!("{:.6}", c.weight_median_frequency),
            ]
        })
    });
    let header =
        ["part", "value", "class", "pixels", "fraction", "present_in", "weight_inverse", "weight_median_frequency"];
    write("classes.csv", csv_text(&header, rows).as_bytes())?;

    let mut json = serde_json::to_string_pretty(stats).expect("stats serialise");
    json.push('\n');
    write("stats.json", json.as_bytes())?;

    let (share, pixels) = distribution_charts(stats, map);
    let draw = |file| move |source| StatsError::Chart { file, source };
    write("distribution.svg", share.svg().map_err(draw("distribution.svg"))?.as_bytes())?;
    write("distribution-pixels.svg", pixels.svg().map_err(draw("distribution-pixels.svg"))?.as_bytes())?;
    let bitmap = share.bitmap().map_err(draw("distribution.png"))?;
    let mut png = Vec::new();
    write_rgb(&mut png, &bitmap, Compression::Balanced).expect("encoding to memory");
    write("distribution.png", &png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::chart::RenderError;

    #[test]
    fn a_chart_that_cannot_be_drawn_names_its_file_and_the_cause_once() {
        let err = StatsError::Chart { file: "distribution.svg", source: RenderError("out of memory".into()) };
        assert_eq!(
            crate::report::error_chain(&err),
            "cannot draw `distribution.svg`: the plotting backend failed: out of memory"
        );
    }
}
