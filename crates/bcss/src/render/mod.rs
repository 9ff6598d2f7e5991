//! Pictures for people: charts of class distributions, drawn with a charting library.
//!
//! Like [`crate::transform`], this layer is pure: it takes numbers, names and colours and
//! returns an SVG document or an RGB bitmap; writing them is the commands' job.
//!
//! - `ticks`: axis ticks whose labels are their values (linear steps of 1, 2, 2.5 or 5 times a
//!   power of ten, or decades on a log scale), kept apart from drawing so they can be tested;
//! - `chart`: a grouped horizontal bar chart (`chart::BarChart`), one group per class (named,
//!   with its colour), one bar per series (a part of the split), drawn by `plotters` into SVG or
//!   into a bitmap;
//! - `distribution`: the charts of a class distribution (`stats`, `report`);
//! - `text` and `legend`: text in that font on an `RgbImage`, and a legend box of swatches
//!   and names sized by its text height (overlays, contact sheets);
//! - `overlay`: a label mask painted over its picture a row at a time (fill or outline,
//!   don't care dimmed), for overlays and report thumbnails;
//! - `html`: escaping for the report page (text, JSON in a script, data: URIs);
//! - `font`: DejaVu Sans, embedded (its licence is in `render/fonts/`), so bitmaps get real
//!   text without any system font.

pub(crate) mod chart;
pub(crate) mod distribution;
pub(crate) mod font;
pub(crate) mod html;
pub(crate) mod legend;
pub(crate) mod overlay;
pub(crate) mod text;
pub(crate) mod ticks;
