//! Label masks from annotations: HistomicsTK's `annotations_and_masks` rules, reproduced pixel
//! for pixel, and a clean alternative.
//!
//! ## Brief overview
//!
//! One mask is made per ROI element (an element whose group is an `is_roi` row of the
//! [`CodeTable`]), by [`roi_mask`] / [`roi_masks`]. Two geometries are offered ([`Geometry`]):
//!
//! - [`Geometry::Htk`] (default) reproduces HistomicsTK 1.4.0 `get_roi_mask` with Pillow ≥ 11,
//!   quirks included (checked against masks HistomicsTK made, `tests/fixtures/htk-masks` and
//!   `tests/fixtures/htk-masks-hard`).
//! - [`Geometry::Strict`] is a clean rule: a pixel belongs to a polygon when its centre does
//!   (even-odd, top-left ties), coordinates are not truncated, and the mask is the exact bounding
//!   box of the ROI's pixels.
//!
//! ## The HistomicsTK algorithm, step by step
//!
//! 1. **Scaling** (HTK `scale_slide_annotations`). With a scale factor `sf != 1` every point,
//!    centre, width and height is multiplied by `sf` and truncated toward zero *before* anything
//!    else; with `sf == 1` coordinates stay fractional. `sf = mm_x / (0.001 * MPP)` or
//!    `MAG / native_magnification` ([`scale_from_mpp`], [`scale_from_mag`]).
//! 2. **Vertices and bounding boxes** (`get_bboxes_from_slide_annotations`). A polyline's
//!    vertices are its points; its box is the truncated min/max. A rectangle's corners are
//!    `center ± trunc(width / 2)`, `center ± trunc(height / 2)` (odd sizes lose a pixel), each
//!    rotated about the centre by `rotation` and truncated (`rotate_point_list`).
//! 3. **Candidates**. Every other polyline/rectangle whose box overlaps the ROI's box (touching
//!    counts: the IoU uses `+1` inclusive widths and the threshold is `> 0`), except elements of
//!    any `is_roi` group. Groups absent from the table are candidates too: they are never drawn,
//!    but they widen the searched area, which shows in the returned bounds (step 7).
//! 4. **Drawing order**. The ROI first, with the background class's code (BCSS: stroma, 2) or,
//!    when no row is `is_background_class`, its own code. Then, for each overlay order
//!    ascending, the candidates of the groups with that order, larger bounding-box area first
//!    (ties keep table order, then document order; pandas' unstable quicksort may order exact
//!    ties differently). Later paints overwrite.
//! 5. **Each element** is skipped when its polygon is more than 2 px from the ROI polygon
//!    (shapely `distance`, HTK `use_shapely=True`), or when shapely cannot make a ring of it:
//!    fewer than 3 coordinates ("A linearring requires at least 4 coordinates", an element
//!    error). Three coordinates are enough even when the first and last are equal: shapely 2
//!    appends the first coordinate anyway, so a there-and-back polyline `A, B, A` is the ring
//!    `A, B, A, A` and is drawn, a line of pixels (every hard case has one; in hard case 01 the
//!    `mostly_tumor` `A, B, A` paints 41 pixels in a 55 x 42 box over a larger element of the
//!    same overlay order). Duplicate vertices, bow-ties and zero-height polygons are drawn
//!    as given (zero height or width: an empty canvas, nothing painted). Otherwise it is filled with Pillow's polygon rule ([`pil_polygon_fill`]) on a
//!    canvas of `trunc(max − min)` pixels per axis, vertices shifted by the (fractional) minimum
//!    and truncated. The element canvas is then pasted at the element's bounding box; when the
//!    canvas is smaller than the box (fractional coordinates) it is zero-padded on the **top and
//!    left**, i.e. aligned to the bottom-right (`_add_element_to_roi`); when larger (negative
//!    coordinates) the paste fails and the element is skipped.
//! 6. **Crop to ROI**. Every pixel the ROI's own raster did not cover is set to 0.
//! 7. **Tighten, off by one**. The mask is cut to its non-zero bounding box with an exclusive end
//!    at the *last* non-zero index, so the last non-zero row and column are dropped. The returned
//!    `xmin`/`ymin` (`left`/`top` of [`RoiMask::bounds`]) are the slide position of the mask's
//!    top-left pixel; `xmax`/`ymax` are the right/bottom edges of the searched area (union of the
//!    boxes of the ROI and its candidates) shifted by the same offsets as `xmin`/`ymin` — not
//!    `xmin + width` (HTK's bookkeeping).
//! 8. **Skipped ROIs**. When nothing is left (a ROI element one pixel wide or high, or of no
//!    area, at the scale asked for), HTK's tightening takes the minimum of no pixels and raises
//!    ("zero-size array to reduction operation minimum which has no identity");
//!    `get_all_rois_from_slide` warns and writes the slide's other ROIs (hard cases 03, 10: a
//!    1-pixel-wide rectangle). So does a ROI polygon shapely refuses. bcss returns
//!    [`RasterError::Empty`] / [`RasterError::BadRoi`], for which [`RasterError::htk_skips`]
//!    holds; `bcss masks` reports them as skipped, not failed.
//!
//! **Order of equal areas.** HTK sorts each overlay order with pandas `sort_values` (numpy's
//! `quicksort` argsort on `float64`). numpy 2 runs that sort with x86-simd-sort on CPUs with
//! AVX2/AVX-512, which is not stable (even for 8 values), elsewhere with its introsort (stable
//! up to 16 values); so which of two overlapping elements of equal box area and equal order
//! ends on top depends on the machine HistomicsTK ran on. bcss keeps table order, then document
//! order, which every fixture case agrees with, and so did 300 of 300 random slides against the
//! HTK code run with a stable sort (the ignored `every_mask_of_an_extra_fixture_folder_is_reproduced`
//! test checks such a folder).
//!
//! **Coordinates are read correctly rounded** (as Python's `json` reads them): element canvases
//! are `trunc(max − min)` and vertices `trunc(v − min)`, so one ulp decides a pixel when a
//! difference of fractional coordinates is an integer (`137.7 − 125.69999999999999 = 12.0`, but
//! 11.99… with the value read one ulp high, as serde_json's fast float parser did: 7 of those 300
//! random slides differed by 1-143 pixels until `float_roundtrip` was enabled).
//!
//! ## How the mask is painted (same pixels, less work)
//!
//! HTK draws every element on a canvas of its own box, pastes it onto a canvas of the whole
//! searched area, crops, then searches the result for its non-zero box and slices it out. bcss
//! gets the same pixels at the final size, a band of rows at a time, never holding the mask:
//!
//! - the ROI's raster is taken first, for the box of the pixels it covers only (nothing is
//!   kept). Every code is non-zero (`CodeTable` refuses 0), so after the crop the non-zero
//!   pixels are exactly the covered ones, and step 7's box is the covered box (less its last row
//!   and column): that is the mask's place and size ([`RoiRaster`], the plan of a mask);
//! - every element is a list of spans (`y, x0..=x1`) from Pillow's scanline fill on its own
//!   canvas, shifted to the slide grid ([`pil_polygon_fill`] gives the same pixels as an image),
//!   so nothing is allocated per element and rows outside the band asked for are never computed;
//! - rows are independent in a scanline fill, so any band of rows is painted alone
//!   ([`RoiRaster::paint_rows`]): filled with the ROI's code, every element in drawing order, then
//!   the crop (the ROI's raster taken again over the band's rows, 1 bit per pixel; pixels it does
//!   not cover set to 0). A band is cut into bands of at most 256 rows and 2 MiB painted in
//!   parallel (rayon). A writer holds a band ([`band_rows`]) and the elements' spans, never the
//!   mask: memory is flat in the mask's size. The ring and distance checks of the elements,
//!   which do not depend on each other, run in parallel too; their outcomes are kept in drawing
//!   order.
//!
//! [`mask_for_rect`] fits such a mask to a catalogue ROI's rectangle: it picks the ROI element
//! that overlaps the rectangle best and places the mask on exactly that rectangle
//! ([`raster_for_rect`] and [`RoiRaster::paint_window`] paint it a band at a time).
//!
//! Output names use the ROI element's own box in the scaled grid divided by `sf` and truncated
//! ([`RoiMask::name`]).
//!
//! ## Worked example (HTK geometry)
//!
//! A ROI rectangle centred at (5, 5), 8×8, and a tumour triangle inside it:
//!
//! ```
//! use bcss_model::CodeTable;
//! use bcss_model::parse_annotations as parse;
//! use bcss_transform::{roi_masks, RasterOptions};
//!
//! let json = br#"[{"annotation": {"name": "demo", "elements": [
//!   {"type": "rectangle", "group": "roi", "center": [5, 5, 0], "width": 8, "height": 8, "rotation": 0},
//!   {"type": "polyline", "group": "mostly_tumor", "points": [[2, 2, 0], [5, 2, 0], [2, 5, 0]]}
//! ]}}]"#;
//! let annotations = parse(json).unwrap();
//! let masks = roi_masks(&annotations, &CodeTable::bcss(), &RasterOptions::default());
//! let m = masks[0].as_ref().unwrap();
//! // The ROI covers [1, 9) x [1, 9): 8x8 pixels of stroma (2). Tightening drops the last row and
//! // column, so the mask is 7x7 starting at (1, 1).
//! assert_eq!((m.mask.width, m.mask.height), (7, 7));
//! assert_eq!((m.bounds.left, m.bounds.top, m.bounds.right, m.bounds.bottom), (1, 1, 9, 9));
//! let rows: Vec<String> = m.mask.data.chunks(7).map(|r| r.iter().map(|v| v.to_string()).collect()).collect();
//! // The triangle (2,2)-(5,2)-(2,5) is filled on a 3x3 canvas (trunc(5 - 2) = 3). Pillow's
//! // fill includes pixels whose centre lies on an edge (here the diagonal x + y = 7), then
//! // the canvas clips column 5 and row 5 away: rows y = 2, 3, 4 get 3, 3 and 2 pixels.
//! assert_eq!(rows, [
//!     "2222222",
//!     "2111222",
//!     "2111222",
//!     "2112222",
//!     "2222222",
//!     "2222222",
//!     "2222222",
//! ]);
//! assert_eq!(m.name("slide"), "slide_left-1_top-1_bottom-9_right-9");
//! ```
//!
//! Invariant: pure functions of their arguments; no I/O, no printing.

use std::collections::BTreeSet;

use rayon::prelude::*;

use bcss_model::{Annotations, CodeTable, GrayImage, Rect, Shape, MAX_PIXELS};

/// Which pixel rules to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Geometry {
    /// HistomicsTK 1.4.0 with Pillow ≥ 11, quirks included (see the module docs).
    #[default]
    Htk,
    /// Pixel-centre even-odd rule on untruncated coordinates, top-left ties, exact bounds.
    Strict,
}

impl Geometry {
    /// `htk` or `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Geometry::Htk => "htk",
            Geometry::Strict => "strict",
        }
    }
}

/// How to rasterise: [`RasterOptions::default`] (HistomicsTK's rules at base resolution) with
/// chainable setters.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RasterOptions {
    pub(crate) geometry: Geometry,
    pub(crate) scale: f64,
}

impl Default for RasterOptions {
    fn default() -> Self {
        RasterOptions { geometry: Geometry::Htk, scale: 1.0 }
    }
}

impl RasterOptions {
    /// The pixel rules.
    pub fn get_geometry(&self) -> Geometry {
        self.geometry
    }

    /// The factor from base pixels to mask pixels.
    pub fn get_scale(&self) -> f64 {
        self.scale
    }

    /// Pixel rules (default: [`Geometry::Htk`]).
    pub fn geometry(mut self, geometry: Geometry) -> Self {
        self.geometry = geometry;
        self
    }
    /// Scale factor from base pixels to output pixels (default: 1, base resolution).
    pub fn scale(mut self, scale: f64) -> Self {
        self.scale = scale;
        self
    }
}

/// HistomicsTK's scale factor for a target MPP: `mm_x / (0.001 * mpp)`, where `mm_x` is the
/// slide's millimetres per pixel as large_image reports it (OpenSlide's MPP × 0.001).
pub fn scale_from_mpp(mpp: f64, native_mm_x: f64) -> f64 {
    native_mm_x / (0.001 * mpp)
}

/// HistomicsTK's scale factor for a target magnification: `mag / native_magnification`.
pub fn scale_from_mag(mag: f64, native_magnification: f64) -> f64 {
    mag / native_magnification
}

/// The mask of one ROI.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiMask {
    /// Index of the ROI element in [`Annotations::elements`].
    pub element: usize,
    /// Position among the ROI elements (document order).
    pub roi_index: usize,
    /// The mask: 0 outside the ROI, else a `GT_code`.
    pub mask: GrayImage,
    /// The bounds HistomicsTK returns with the mask, in the scaled grid (see the module docs:
    /// `right`/`bottom` are not `left + width` in HTK geometry; they are in strict geometry).
    pub bounds: Rect<i64>,
    /// The bounding box of the area searched (ROI and candidates), scaled grid, before tightening.
    pub searched: Rect<i64>,
    /// The ROI element's own bounding box in the scaled grid.
    pub roi_bbox: Rect<i64>,
    /// The numbers in the file name: the ROI element's box divided by the scale factor (HTK), or
    /// the mask's exact bounds divided by it (strict).
    pub name_bounds: Rect<i64>,
    /// Candidates left out because they lie more than 2 px from the ROI polygon.
    pub outside_roi: usize,
    /// Candidates that could not be drawn, with the reason.
    pub element_errors: Vec<ElementError>,
}

impl RoiMask {
    /// `<slide>_left-<XMIN>_top-<YMIN>_bottom-<YMAX>_right-<XMAX>` (bottom before right), the
    /// stem HistomicsTK's `get_all_rois_from_slide` gives a mask.
    pub fn name(&self, slide_name: &str) -> String {
        mask_name(slide_name, self.name_bounds)
    }
}

fn mask_name(slide_name: &str, b: Rect<i64>) -> String {
    format!("{slide_name}_left-{}_top-{}_bottom-{}_right-{}", b.left, b.top, b.bottom, b.right)
}

/// The mask of one ROI, planned but not painted: where it lies, what HistomicsTK returns with
/// it, and what to paint. Any band of its rows is painted on demand ([`RoiRaster::paint_rows`],
/// [`RoiRaster::paint_window`]) with the pixels the whole mask has there, so a writer holds a
/// band, never the mask: memory is proportional to the annotations (the polygons' vertices),
/// not to the mask's size. [`RoiRaster::into_mask`] paints it whole.
#[derive(Debug, Clone)]
pub struct RoiRaster {
    /// Index of the ROI element in [`Annotations::elements`].
    pub element: usize,
    /// Position among the ROI elements (document order).
    pub roi_index: usize,
    /// As [`RoiMask::bounds`].
    pub bounds: Rect<i64>,
    /// As [`RoiMask::searched`].
    pub searched: Rect<i64>,
    /// As [`RoiMask::roi_bbox`].
    pub roi_bbox: Rect<i64>,
    /// As [`RoiMask::name_bounds`].
    pub name_bounds: Rect<i64>,
    /// Candidates left out because they lie more than 2 px from the ROI polygon.
    pub outside_roi: usize,
    /// Candidates that could not be drawn, with the reason.
    pub element_errors: Vec<ElementError>,
    /// The mask's pixels in the scaled grid.
    window: Rect<i64>,
    /// The code every pixel of the ROI starts with.
    roi_code: u8,
    /// The ROI's own raster: pixels it does not cover are 0.
    roi: Stencil,
    /// The elements painted over it, in order, with their codes.
    paint: Vec<(Stencil, u8)>,
}

/// An element that could not be drawn into a mask.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ElementError {
    /// Index in [`Annotations::elements`].
    pub element: usize,
    /// Why.
    pub reason: String,
}

/// Why no mask could be made for a ROI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RasterError {
    /// The element is not a polyline/rectangle of an `is_roi` group.
    #[error("element {0} is not a ROI (a polyline or rectangle of an `is_roi` group)")]
    NotRoi(usize),
    /// The ROI polygon itself cannot be drawn.
    #[error("ROI element {element} cannot be drawn: {reason}")]
    BadRoi {
        /// Index of the element.
        element: usize,
        /// Why.
        reason: String,
    },
    /// Nothing (or a single row or column, removed by the tightening) is left: a ROI element
    /// one pixel wide or high, or of no area. HistomicsTK skips such a ROI (its tightening takes
    /// the minimum of no pixels: "zero-size array to reduction operation minimum").
    #[error(
        "ROI element {0} produced an empty mask (nothing left once cropped to the ROI and tightened: \
         the ROI is under 2 pixels wide or high, or has no area)"
    )]
    Empty(usize),
    /// The ROI element's mask would exceed [`MAX_PIXELS`] (refused before allocating it).
    #[error(
        "ROI element {element} would make a mask of {width}x{height} pixels, over the limit of {max} pixels; \
         check its coordinates and the scale factor"
    )]
    TooLarge {
        /// Index of the element.
        element: usize,
        /// Width of its box in the scaled grid.
        width: i64,
        /// Height of its box in the scaled grid.
        height: i64,
        /// [`MAX_PIXELS`].
        max: u64,
    },
}

impl RasterError {
    /// Whether HistomicsTK skips this ROI too (its `get_roi_mask` raises, and
    /// `get_all_rois_from_slide` warns and goes on with the slide's other ROIs): the ROI cannot
    /// be drawn, or its mask is empty. The other errors are bcss's own refusals.
    pub fn htk_skips(&self) -> bool {
        matches!(self, RasterError::BadRoi { .. } | RasterError::Empty(_))
    }
}

/// The pixels of a `width x height` box, saturating (negative sides count as 0).
fn box_pixels(width: i64, height: i64) -> u64 {
    (width.max(0) as u64).saturating_mul(height.max(0) as u64)
}

/// Refuses a ROI element whose box (the canvas [`roi_mask`] draws on) exceeds [`MAX_PIXELS`].
fn check_roi_size(element: usize, bbox: Rect<i64>) -> Result<(), RasterError> {
    let (width, height) = (bbox.width(), bbox.height());
    if box_pixels(width, height) > MAX_PIXELS {
        return Err(RasterError::TooLarge { element, width, height, max: MAX_PIXELS });
    }
    Ok(())
}

/// An element ready to draw: vertices in the scaled grid, integer box, area for ordering.
#[derive(Debug, Clone)]
struct Prepared {
    vertices: Vec<[f64; 2]>,
    bbox: Rect<i64>,
    /// Strict geometry: the untruncated box, for overlap tests.
    fbox: Rect<f64>,
    area: f64,
}

fn prepare(shape: &Shape, opts: &RasterOptions) -> Option<Prepared> {
    match opts.geometry {
        Geometry::Htk => prepare_htk(shape, opts.scale),
        Geometry::Strict => prepare_strict(shape, opts.scale),
    }
}

/// HTK's scaling: `int(v * sf)`, and nothing at all when `sf == 1`.
fn htk_scale(v: f64, sf: f64) -> f64 {
    if sf == 1.0 {
        v
    } else {
        (v * sf).trunc()
    }
}

fn prepare_htk(shape: &Shape, sf: f64) -> Option<Prepared> {
    let vertices: Vec<[f64; 2]> = match shape {
        Shape::Polyline { points } => points.iter().map(|p| [htk_scale(p[0], sf), htk_scale(p[1], sf)]).collect(),
        Shape::Rectangle { center, width, height, rotation } => {
            let (cx, cy) = (htk_scale(center[0], sf), htk_scale(center[1], sf));
            let (w, h) = (htk_scale(*width, sf), htk_scale(*height, sf));
            let (hw, hh) = ((w / 2.0).trunc(), (h / 2.0).trunc());
            let (x_min, x_max, y_min, y_max) = (cx - hw, cx + hw, cy - hh, cy + hh);
            let (cos, sin) = (rotation.cos(), rotation.sin());
            [[x_min, y_min], [x_max, y_min], [x_max, y_max], [x_min, y_max]]
                .iter()
                .map(|p| {
                    let (x, y) = (p[0] - cx, p[1] - cy);
                    // Python evaluates left to right without fusing: (x*cos - y*sin) + cx.
                    [(x * cos - y * sin + cx).trunc(), (x * sin + y * cos + cy).trunc()]
                })
                .collect()
        }
        // `Other` and any shape added later: nothing HistomicsTK draws.
        _ => return None,
    };
    let fbox = extent(&vertices);
    let bbox = fbox.map(|v| v.trunc() as i64);
    let area = bbox.height() as f64 * bbox.width() as f64;
    Some(Prepared { vertices, bbox, fbox, area })
}

fn prepare_strict(shape: &Shape, sf: f64) -> Option<Prepared> {
    let vertices: Vec<[f64; 2]> = match shape {
        Shape::Polyline { points } => points.iter().map(|p| [p[0] * sf, p[1] * sf]).collect(),
        Shape::Rectangle { center, width, height, rotation } => {
            let (cx, cy, hw, hh) = (center[0] * sf, center[1] * sf, width * sf / 2.0, height * sf / 2.0);
            let (cos, sin) = (rotation.cos(), rotation.sin());
            [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]]
                .iter()
                .map(|p| [p[0] * cos - p[1] * sin + cx, p[0] * sin + p[1] * cos + cy])
                .collect()
        }
        // `Other` and any shape added later: nothing HistomicsTK draws.
        _ => return None,
    };
    let fbox = extent(&vertices);
    // Outward (top-left floored, bottom-right ceiled): the box holds every pixel it touches.
    let (left, top, right, bottom) = (fbox.left.floor(), fbox.top.floor(), fbox.right.ceil(), fbox.bottom.ceil());
    let bbox = Rect { left, top, right, bottom }.map(|v| v as i64);
    Some(Prepared { vertices, bbox, fbox, area: (fbox.right - fbox.left) * (fbox.bottom - fbox.top) })
}

/// The smallest box holding every vertex (`right`/`bottom` the largest coordinates).
fn extent(v: &[[f64; 2]]) -> Rect<f64> {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in v {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    Rect { left: lo[0], top: lo[1], right: hi[0], bottom: hi[1] }
}

/// The bounding box of an element in the scaled grid as [`roi_mask`] uses it (`None` for
/// element types that are not rasterised).
pub fn element_bbox(shape: &Shape, opts: &RasterOptions) -> Option<Rect<i64>> {
    prepare(shape, opts).map(|p| p.bbox)
}

/// The ROI elements of a slide, in document order: polylines and rectangles whose group is an
/// `is_roi` row of the table.
pub fn roi_elements(annotations: &Annotations, table: &CodeTable) -> Vec<usize> {
    annotations
        .elements
        .iter()
        .enumerate()
        .filter(|(_, e)| !matches!(e.shape, Shape::Other { .. }) && table.is_roi(e.group.as_deref()))
        .map(|(i, _)| i)
        .collect()
}

/// The masks of every ROI of a slide, in document order (computed in parallel), each made
/// whole: `roi_rasters_each` paints them a band at a time instead.
pub fn roi_masks(
    annotations: &Annotations,
    table: &CodeTable,
    opts: &RasterOptions,
) -> Vec<Result<RoiMask, RasterError>> {
    roi_rasters_each(annotations, table, opts, |_, raster| raster.map(RoiRaster::into_mask))
}

/// Every ROI of a slide planned for painting ([`RoiRaster`]), handed to `each` (with its
/// position among the ROI elements) as soon as it is planned, in parallel, collecting what
/// `each` returns in document order. Nothing of the size of a mask is allocated here: a caller
/// that paints and writes a band of rows at a time ([`RoiRaster::paint_rows`]) holds a band per
/// thread, whatever the masks' sizes.
pub fn roi_rasters_each<T: Send>(
    annotations: &Annotations,
    table: &CodeTable,
    opts: &RasterOptions,
    each: impl Fn(usize, Result<RoiRaster, RasterError>) -> T + Sync,
) -> Vec<T> {
    let prepared: Vec<Option<Prepared>> = annotations.elements.par_iter().map(|e| prepare(&e.shape, opts)).collect();
    let rois = roi_elements(annotations, table);
    rois.par_iter().enumerate().map(|(k, &roi)| each(k, plan(annotations, &prepared, roi, k, table, opts))).collect()
}

/// Whether a ROI element's mask at `opts` stays within [`MAX_PIXELS`] (its box in the scaled
/// grid, the canvas [`roi_mask`] allocates): `Err((width, height))` when it does not. Elements
/// that are not rasterised fit.
pub fn fits(shape: &Shape, opts: &RasterOptions) -> Result<(), (i64, i64)> {
    match element_bbox(shape, opts) {
        Some(b) if box_pixels(b.width(), b.height()) > MAX_PIXELS => Err((b.width(), b.height())),
        _ => Ok(()),
    }
}

/// The mask of one ROI element (`element` indexes [`Annotations::elements`]), made whole.
pub fn roi_mask(
    annotations: &Annotations,
    element: usize,
    table: &CodeTable,
    opts: &RasterOptions,
) -> Result<RoiMask, RasterError> {
    roi_raster(annotations, element, table, opts).map(RoiRaster::into_mask)
}

/// The mask of one ROI element planned for painting a band at a time (see [`RoiRaster`]).
pub fn roi_raster(
    annotations: &Annotations,
    element: usize,
    table: &CodeTable,
    opts: &RasterOptions,
) -> Result<RoiRaster, RasterError> {
    let rois = roi_elements(annotations, table);
    let roi_index = rois.iter().position(|&i| i == element).ok_or(RasterError::NotRoi(element))?;
    let prepared: Vec<Option<Prepared>> = annotations.elements.iter().map(|e| prepare(&e.shape, opts)).collect();
    plan(annotations, &prepared, element, roi_index, table, opts)
}

/// Why no mask could be fitted to a catalogue ROI's rectangle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RectMaskError {
    /// No ROI element overlaps the rectangle.
    #[error("no ROI element of the annotations overlaps ROI `{roi}` ({rois} ROI element(s) on the slide)")]
    NoMatchingRoi {
        /// Catalogue ROI id.
        roi: String,
        /// ROI elements found.
        rois: usize,
    },
    /// The catalogue ROI itself is over [`MAX_PIXELS`].
    #[error("ROI `{roi}` is {width}x{height} base pixels, over the limit of {max} pixels for one mask")]
    RoiTooLarge {
        /// Catalogue ROI id.
        roi: String,
        /// Its width.
        width: u64,
        /// Its height.
        height: u64,
        /// [`MAX_PIXELS`].
        max: u64,
    },
    /// The best-matching ROI element is far larger than the catalogue ROI (over
    /// `MAX_AREA_RATIO` times its area), so rasterising it would cost far more than the mask is
    /// worth; it is refused before any allocation.
    #[error(
        "the ROI element matching ROI `{roi}` ({width}x{height} pixels) is over {MAX_AREA_RATIO} times the \
         ROI's area ({roi_width}x{roi_height}); refusing to rasterise it"
    )]
    ElementTooLarge {
        /// Catalogue ROI id.
        roi: String,
        /// The element's box width.
        width: i64,
        /// The element's box height.
        height: i64,
        /// The ROI's width.
        roi_width: u64,
        /// The ROI's height.
        roi_height: u64,
    },
    /// The matching ROI element gave no mask.
    #[error(transparent)]
    Raster(#[from] RasterError),
}

/// How much larger (in area) than its catalogue ROI a matched ROI element may be. The published
/// ROI bounds are the elements' own boxes (ratio 1); an element over 4 times the ROI's area
/// overlaps it with an IoU below 1/4 and is not the ROI it claims to be.
pub const MAX_AREA_RATIO: u64 = 4;

/// The mask of the catalogue ROI `roi` (its id, for errors) covering base-pixel rectangle
/// `rect`, at base resolution: exactly `rect.width() x rect.height()` pixels.
///
/// **Which ROI element.** Among the ROI elements (groups with `is_roi`), the one whose
/// bounding box has the largest intersection-over-union with `rect` (ties: the first in
/// document order); none overlapping is an error. The published `roiBounds` are the boxes of
/// these elements, so the match is normally exact (IoU 1), and the IoU (not the bare
/// intersection) keeps a small `evaluation_roi` nested in a large `roi` from being taken for it.
///
/// **Crop/pad rule.** The mask [`roi_mask`] makes sits at slide position `(bounds.left,
/// bounds.top)` and, with HistomicsTK's off-by-one tightening, usually lacks the ROI's last
/// row and column. Output pixel `(x, y)` is the mask pixel at slide position
/// `(rect.left + x, rect.top + y)` when the mask has one there, else 0 ("outside the ROI /
/// don't care"): the mask is placed by its slide coordinates, cropped where it exceeds the
/// rectangle and padded with 0 where it falls short.
///
/// **Size.** A rectangle over [`MAX_PIXELS`], or a matched element whose box is over
/// `MAX_AREA_RATIO` times the rectangle's area, is an error before anything is allocated: the
/// work is bounded by the catalogue ROI, not by the annotation file.
pub fn mask_for_rect(
    annotations: &Annotations,
    roi: &str,
    rect: Rect,
    table: &CodeTable,
    geometry: Geometry,
) -> Result<GrayImage, RectMaskError> {
    let raster = raster_for_rect(annotations, roi, rect, table, geometry)?;
    // Within MAX_PIXELS (checked by `raster_for_rect`), so the sizes fit `usize` and `i64`.
    let (width, height) = (rect.width() as usize, rect.height() as usize);
    let mut data = vec![0; width * height];
    raster.paint_window(rect.map(|v| v as i64), &mut data);
    Ok(GrayImage { width, height, data })
}

/// [`mask_for_rect`] planned, not painted: the ROI element matched to `rect` and checked by the
/// same rules, whose rows of `rect` (`rect.map(|v| v as i64)`, or any band of its rows) are
/// painted by [`RoiRaster::paint_window`] a band at a time, 0 where the mask has no pixel.
pub fn raster_for_rect(
    annotations: &Annotations,
    roi: &str,
    rect: Rect,
    table: &CodeTable,
    geometry: Geometry,
) -> Result<RoiRaster, RectMaskError> {
    let opts = RasterOptions { geometry, scale: 1.0 };
    let rois = roi_elements(annotations, table);
    // Base pixels are below 2^63 (the catalogue's ROIs are below 2^20).
    let target = rect.map(|v| v as i64);
    let mut best: Option<(usize, f64)> = None;
    for &i in &rois {
        let Some(b) = element_bbox(&annotations.elements[i].shape, &opts) else { continue };
        let iou = iou(b, target);
        if iou > 0.0 && best.is_none_or(|(_, s)| iou > s) {
            best = Some((i, iou));
        }
    }
    let Some((element, _)) = best else {
        return Err(RectMaskError::NoMatchingRoi { roi: roi.to_string(), rois: rois.len() });
    };
    let (roi_width, roi_height) = (rect.width(), rect.height());
    let target_pixels = roi_width.saturating_mul(roi_height);
    if target_pixels > MAX_PIXELS {
        return Err(RectMaskError::RoiTooLarge {
            roi: roi.to_string(),
            width: roi_width,
            height: roi_height,
            max: MAX_PIXELS,
        });
    }
    let b = element_bbox(&annotations.elements[element].shape, &opts).expect("a matched element has a box");
    if box_pixels(b.width(), b.height()) > target_pixels.saturating_mul(MAX_AREA_RATIO) {
        return Err(RectMaskError::ElementTooLarge {
            roi: roi.to_string(),
            width: b.width(),
            height: b.height(),
            roi_width,
            roi_height,
        });
    }
    Ok(roi_raster(annotations, element, table, &opts)?)
}

fn iou(a: Rect<i64>, b: Rect<i64>) -> f64 {
    let iw = a.right.min(b.right).saturating_sub(a.left.max(b.left)).max(0) as f64;
    let ih = a.bottom.min(b.bottom).saturating_sub(a.top.max(b.top)).max(0) as f64;
    let inter = iw * ih;
    let area = |r: Rect<i64>| box_pixels(r.width(), r.height()) as f64;
    let union = area(a) + area(b) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// The box overlap test of `get_idxs_for_annots_overlapping_roi_by_bbox` with `iou_thresh = 0`
/// (inclusive widths: touching boxes overlap), or plain closed-interval overlap in strict mode.
fn overlaps(a: &Prepared, b: &Prepared, geometry: Geometry) -> bool {
    match geometry {
        Geometry::Htk => {
            a.bbox.left.max(b.bbox.left) <= a.bbox.right.min(b.bbox.right)
                && a.bbox.top.max(b.bbox.top) <= a.bbox.bottom.min(b.bbox.bottom)
        }
        Geometry::Strict => {
            a.fbox.left <= b.fbox.right
                && b.fbox.left <= a.fbox.right
                && a.fbox.top <= b.fbox.bottom
                && b.fbox.top <= a.fbox.bottom
        }
    }
}

/// Pixels of a window of the slide grid (`window`: its rows top to bottom, `window.width()` bytes
/// each), of which the part `clip` (inside the window) is painted.
struct MaskWindow<'a> {
    window: Rect<i64>,
    clip: Rect<i64>,
    data: &'a mut [u8],
}

impl MaskWindow<'_> {
    /// Paints global row `y`, columns `x0..=x1`, clipped to `clip`.
    fn span(&mut self, y: i64, x0: i64, x1: i64, code: u8) {
        let c = self.clip;
        if y < c.top || y >= c.bottom {
            return;
        }
        let (a, b) = (x0.max(c.left), x1.min(c.right - 1));
        if a > b {
            return;
        }
        let w = self.window;
        let row = ((y - w.top) * w.width()) as usize;
        self.data[row + (a - w.left) as usize..=row + (b - w.left) as usize].fill(code);
    }
}

/// The box of the pixels of `window` that spans cover (inclusive), clipped as [`Coverage::set`]
/// clips: HistomicsTK's tightened box, found without keeping the pixels.
struct Extent {
    window: Rect<i64>,
    extent: Option<Rect<i64>>,
}

impl Extent {
    fn new(window: Rect<i64>) -> Extent {
        Extent { window, extent: None }
    }

    /// Covers global row `y`, columns `x0..=x1`, clipped to the window.
    fn add(&mut self, y: i64, x0: i64, x1: i64) {
        let w = self.window;
        let (a, b) = (x0.max(w.left), x1.min(w.right - 1));
        if y < w.top || y >= w.bottom || a > b {
            return;
        }
        self.extent = Some(match self.extent {
            None => Rect { left: a, top: y, right: b, bottom: y },
            Some(e) => Rect { left: e.left.min(a), top: e.top.min(y), right: e.right.max(b), bottom: e.bottom.max(y) },
        });
    }
}

/// Which pixels of a window a polygon covers, one bit each: the ROI's raster over a band of rows,
/// for the crop.
struct Coverage {
    window: Rect<i64>,
    words_per_row: usize,
    bits: Vec<u64>,
}

impl Coverage {
    fn new(window: Rect<i64>) -> Coverage {
        let words_per_row = (window.width().max(0) as usize).div_ceil(64);
        let bits = vec![0; words_per_row * window.height().max(0) as usize];
        Coverage { window, words_per_row, bits }
    }

    /// Covers global row `y`, columns `x0..=x1`, clipped to the window.
    fn set(&mut self, y: i64, x0: i64, x1: i64) {
        let w = self.window;
        let (a, b) = (x0.max(w.left), x1.min(w.right - 1));
        if y < w.top || y >= w.bottom || a > b {
            return;
        }
        let row = &mut self.bits[(y - w.top) as usize * self.words_per_row..][..self.words_per_row];
        let (a, b) = ((a - w.left) as usize, (b - w.left) as usize);
        for (k, word) in row.iter_mut().enumerate().take(b / 64 + 1).skip(a / 64) {
            let lo = if k == a / 64 { a % 64 } else { 0 };
            let hi = if k == b / 64 { b % 64 } else { 63 };
            *word |= (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
        }
    }

    /// Sets to 0 every pixel of `canvas.clip` (which lies inside this window) that is not covered.
    fn crop(&self, canvas: &mut MaskWindow) {
        let (c, w, layout) = (canvas.clip, self.window, canvas.window);
        let width = c.width().max(0) as usize;
        if width == 0 {
            return;
        }
        let shift = (c.left - w.left) as usize;
        for y in c.top..c.bottom {
            let start = ((y - layout.top) * layout.width() + (c.left - layout.left)) as usize;
            let row = &mut canvas.data[start..start + width];
            let bits = &self.bits[(y - w.top) as usize * self.words_per_row..][..self.words_per_row];
            let mut x = 0;
            while x < width {
                let (bit, off) = ((shift + x) / 64, (shift + x) % 64);
                let take = (64 - off).min(width - x);
                let all = if take == 64 { u64::MAX } else { (1 << take) - 1 };
                let word = (bits[bit] >> off) & all;
                if word == 0 {
                    row[x..x + take].fill(0);
                } else if word != all {
                    for k in (0..take).filter(|k| word >> k & 1 == 0) {
                        row[x + k] = 0;
                    }
                }
                x += take;
            }
        }
    }
}

/// Most rows of a band one thread paints: enough to make the per-element setup of a band (its
/// edge table) small next to filling its rows.
const BAND_ROWS: usize = 256;

/// Most bytes of a band one thread paints, so that a band of a very wide mask stays small.
const BAND_BYTES: usize = 2 << 20;

/// Rows of a `width`-pixel band one thread paints.
fn thread_band_rows(width: usize) -> usize {
    (BAND_BYTES / width.max(1)).clamp(1, BAND_ROWS)
}

/// Rows of a mask `width` pixels wide that [`RoiRaster::paint_rows`] paints on every thread of
/// the current rayon pool at once: 256 per thread, fewer for masks wider than 8192
/// pixels (2 MiB per thread). A caller that paints and writes this many rows at a time holds a
/// few MiB per mask, whatever its height, and keeps every thread busy.
pub fn band_rows(width: usize) -> usize {
    thread_band_rows(width) * rayon::current_num_threads().max(1)
}

impl RoiRaster {
    /// The mask's width.
    pub fn width(&self) -> usize {
        self.window.width() as usize
    }

    /// The mask's height.
    pub fn height(&self) -> usize {
        self.window.height() as usize
    }

    /// Paints mask rows `top..top + out.len() / width` into `out` (rows past the mask's last are
    /// 0), in bands of rows on the current rayon pool.
    ///
    /// # Panics
    ///
    /// When `out` is not whole rows.
    pub fn paint_rows(&self, top: usize, out: &mut [u8]) {
        let width = self.width();
        assert!(out.len().is_multiple_of(width), "{} bytes are not whole rows of {width}", out.len());
        let top = self.window.top.saturating_add(top as i64);
        let bottom = top.saturating_add((out.len() / width) as i64);
        self.paint_window(Rect { top, bottom, ..self.window }, out);
    }

    /// Paints `window`, any rectangle of the scaled grid, into `out` (its rows top to bottom):
    /// the mask's pixels where it has them, 0 elsewhere. Painted in bands of rows on the current
    /// rayon pool; every pixel is the same however the mask is cut into windows.
    ///
    /// # Panics
    ///
    /// When `out` is not `window.width() * window.height()` bytes.
    pub fn paint_window(&self, window: Rect<i64>, out: &mut [u8]) {
        let (width, height) = (window.width().max(0) as usize, window.height().max(0) as usize);
        assert_eq!(out.len(), width * height, "{width}x{height} window");
        if out.is_empty() {
            return;
        }
        let rows = thread_band_rows(width);
        out.par_chunks_mut(width * rows).enumerate().for_each(|(b, data)| {
            let top = window.top + (b * rows) as i64;
            let band = Rect { top, bottom: top + (data.len() / width) as i64, ..window };
            self.paint_band(band, data);
        });
    }

    /// One band: the ROI's code, every element in order, then the crop to the ROI's raster.
    fn paint_band(&self, band: Rect<i64>, data: &mut [u8]) {
        let m = self.window;
        let clip = Rect {
            left: band.left.max(m.left),
            top: band.top.max(m.top),
            right: band.right.min(m.right),
            bottom: band.bottom.min(m.bottom),
        };
        if clip.left >= clip.right || clip.top >= clip.bottom {
            data.fill(0);
            return;
        }
        if clip != band {
            data.fill(0);
        }
        let mut canvas = MaskWindow { window: band, clip, data };
        for y in clip.top..clip.bottom {
            canvas.span(y, clip.left, clip.right - 1, self.roi_code);
        }
        for (s, code) in &self.paint {
            s.spans(clip, |y, x0, x1| canvas.span(y, x0, x1, *code));
        }
        // The mask lies inside the ROI element's box, whose pixels the ROI's raster covers or not
        // by the same spans in every band.
        let mut cover = Coverage::new(clip);
        self.roi.spans(clip, |y, x0, x1| cover.set(y, x0, x1));
        cover.crop(&mut canvas);
    }

    /// The whole mask, painted at once (`width * height` bytes).
    pub fn into_mask(self) -> RoiMask {
        let (width, height) = (self.width(), self.height());
        // Zeroed memory comes from the allocator untouched (fresh pages), so the first write of
        // every pixel happens in the bands, in parallel.
        let mut data = vec![0; width * height];
        self.paint_rows(0, &mut data);
        RoiMask {
            element: self.element,
            roi_index: self.roi_index,
            mask: GrayImage { width, height, data },
            bounds: self.bounds,
            searched: self.searched,
            roi_bbox: self.roi_bbox,
            name_bounds: self.name_bounds,
            outside_roi: self.outside_roi,
            element_errors: self.element_errors,
        }
    }

    /// The stem HistomicsTK's `get_all_rois_from_slide` gives the mask (see [`RoiMask::name`]).
    pub fn name(&self, slide_name: &str) -> String {
        mask_name(slide_name, self.name_bounds)
    }
}

/// Plans the mask of ROI element `roi`: its place, the elements to paint in order, and the
/// metadata HistomicsTK returns. The ROI's raster is taken once here for its box (no pixels
/// kept); nothing of the mask's size is allocated.
fn plan(
    annotations: &Annotations,
    prepared: &[Option<Prepared>],
    roi: usize,
    roi_index: usize,
    table: &CodeTable,
    opts: &RasterOptions,
) -> Result<RoiRaster, RasterError> {
    let elements = &annotations.elements;
    let geometry = opts.geometry;
    let (Some(r), Some(roi_group)) =
        (prepared.get(roi).and_then(Option::as_ref), elements.get(roi).and_then(|e| e.group.as_deref()))
    else {
        return Err(RasterError::NotRoi(roi));
    };
    let Some(roi_row) = table.get(roi_group).filter(|g| g.is_roi) else { return Err(RasterError::NotRoi(roi)) };
    check_roi_size(roi, r.bbox)?;

    let candidates: Vec<usize> = prepared
        .iter()
        .enumerate()
        .filter(|&(i, p)| {
            i != roi
                && p.as_ref().is_some_and(|p| overlaps(p, r, geometry))
                && !table.is_roi(elements[i].group.as_deref())
        })
        .map(|(i, _)| i)
        .collect();
    let searched =
        candidates.iter().fold(r.bbox, |acc, &i| acc.union(prepared[i].as_ref().expect("candidate is prepared").bbox));

    // The ROI's own raster, as the box of the pixels of its box it covers (HTK draws the whole
    // searched area, but everything the ROI's raster does not cover ends as 0, and that raster
    // lies inside the box). Every code is non-zero (`CodeTable`), so after that crop the non-zero
    // pixels are exactly the covered ones, and the box HTK tightens to is the box of the covered
    // pixels: the mask is painted at its final size, with no second pass to find it and no copy
    // to cut it out. Each band is cropped by the same raster, taken again over its rows.
    let roi_stencil = stencil(r, geometry).map_err(|reason| RasterError::BadRoi { element: roi, reason })?;
    let mut extent = Extent::new(r.bbox);
    roi_stencil.spans(r.bbox, |y, x0, x1| extent.add(y, x0, x1));
    let Some(e) = extent.extent else { return Err(RasterError::Empty(roi)) };
    // HTK slices [min:max], dropping the last non-zero row and column; strict keeps them.
    let window = match geometry {
        Geometry::Htk => e,
        Geometry::Strict => Rect { right: e.right + 1, bottom: e.bottom + 1, ..e },
    };
    if window.width() <= 0 || window.height() <= 0 {
        return Err(RasterError::Empty(roi));
    }

    // What to paint over the ROI's code, in order: for each overlay order ascending, larger
    // boxes first. The checks of one element do not depend on the others, so they run in
    // parallel; their outcomes are gathered in drawing order.
    let mut order: Vec<(usize, u8)> = Vec::new();
    let orders: BTreeSet<i64> =
        table.groups().iter().filter(|g| g.group != roi_group).map(|g| g.overlay_order).collect();
    for overlay in orders {
        let mut level: Vec<(usize, u8)> = Vec::new();
        for g in table.groups().iter().filter(|g| g.overlay_order == overlay && g.group != roi_group) {
            level.extend(
                candidates
                    .iter()
                    .filter(|&&i| elements[i].group.as_deref() == Some(g.group.as_str()))
                    .map(|&i| (i, g.gt_code)),
            );
        }
        // Stable: equal areas keep table order, then document order.
        level.sort_by(|a, b| area(prepared, b.0).total_cmp(&area(prepared, a.0)));
        order.extend(level);
    }
    let checked: Vec<Result<Option<Stencil>, String>> = order
        .par_iter()
        .map(|&(i, _)| {
            let p = prepared[i].as_ref().expect("candidate is prepared");
            if geometry == Geometry::Htk {
                ring_check(&p.vertices)?;
                if !within_distance(&p.vertices, &r.vertices, 2.0) {
                    return Ok(None);
                }
            }
            stencil(p, geometry).map(Some)
        })
        .collect();
    let mut outside_roi = 0;
    let mut element_errors = Vec::new();
    let mut paint: Vec<(Stencil, u8)> = Vec::new();
    for (&(i, code), outcome) in order.iter().zip(checked) {
        match outcome {
            Ok(Some(s)) => paint.push((s, code)),
            Ok(None) => outside_roi += 1,
            Err(reason) => element_errors.push(ElementError { element: i, reason }),
        }
    }
    let roi_code = table.background().map_or(roi_row.gt_code, |g| g.gt_code);

    let (gx, gy) = (window.left, window.top);
    let sf = opts.scale;
    let unscale = |b: Rect<i64>| Rect {
        left: (b.left as f64 / sf).trunc() as i64,
        top: (b.top as f64 / sf).trunc() as i64,
        right: (b.right as f64 / sf).trunc() as i64,
        bottom: (b.bottom as f64 / sf).trunc() as i64,
    };
    let (bounds, name_bounds) = match geometry {
        Geometry::Htk => {
            let b = Rect {
                left: gx,
                top: gy,
                right: searched.right.saturating_add(gx.saturating_sub(searched.left)),
                bottom: searched.bottom.saturating_add(gy.saturating_sub(searched.top)),
            };
            (b, unscale(r.bbox))
        }
        Geometry::Strict => (window, unscale(window)),
    };
    Ok(RoiRaster {
        element: roi,
        roi_index,
        bounds,
        searched,
        roi_bbox: r.bbox,
        name_bounds,
        outside_roi,
        element_errors,
        window,
        roi_code,
        roi: roi_stencil,
        paint,
    })
}

fn area(prepared: &[Option<Prepared>], i: usize) -> f64 {
    prepared[i].as_ref().map_or(0.0, |p| p.area)
}

/// shapely 2 builds a ring from any 3 or more coordinates (it appends the first one even when the
/// ring is already closed, so a there-and-back `A, B, A` is the ring `A, B, A, A`) and refuses
/// fewer ("A linearring requires at least 4 coordinates."); Pillow then draws what it gets.
fn ring_check(v: &[[f64; 2]]) -> Result<(), String> {
    if v.len() < 3 {
        return Err(format!(
            "A linearring requires at least 4 coordinates (a polygon needs at least 3 vertices; this one has {})",
            v.len()
        ));
    }
    Ok(())
}

/// An element's fill, placed on the slide grid, from which the spans of any rows can be taken.
#[derive(Debug, Clone)]
enum Stencil {
    /// `create_mask_from_coords` + `_add_element_to_roi`: Pillow's fill of the truncated
    /// vertices on the element's own canvas, whose top-left pixel lands at `origin`.
    Htk { vertices: Vec<[i32; 2]>, width: i64, height: i64, origin: (i64, i64) },
    /// The strict rule on the scaled vertices.
    Strict(Vec<[f64; 2]>),
}

/// Places an element, or says why it cannot be drawn.
fn stencil(p: &Prepared, geometry: Geometry) -> Result<Stencil, String> {
    match geometry {
        Geometry::Htk => {
            ring_check(&p.vertices)?;
            let e = extent(&p.vertices);
            let (width, height) = ((e.right - e.left).trunc() as i64, (e.bottom - e.top).trunc() as i64);
            let (patch_w, patch_h) = (p.bbox.width(), p.bbox.height());
            if width > patch_w || height > patch_h {
                return Err(format!(
                    "element mask {width}x{height} is larger than its bounding box {patch_w}x{patch_h}"
                ));
            }
            let vertices: Vec<[i32; 2]> =
                p.vertices.iter().map(|v| [(v[0] - e.left).trunc() as i32, (v[1] - e.top).trunc() as i32]).collect();
            // Zero padding on the top and left: the element canvas is aligned to the box's
            // bottom-right.
            let origin = (p.bbox.left.saturating_add(patch_w - width), p.bbox.top.saturating_add(patch_h - height));
            Ok(Stencil::Htk { vertices, width, height, origin })
        }
        Geometry::Strict => {
            if p.vertices.len() < 3 {
                return Err(format!("a polygon needs at least 3 vertices (this one has {})", p.vertices.len()));
            }
            Ok(Stencil::Strict(p.vertices.clone()))
        }
    }
}

impl Stencil {
    /// The fill's spans `(y, x0, x1)` (inclusive, slide grid) in the rows of `window`; columns
    /// are not clipped to it.
    fn spans(&self, window: Rect<i64>, mut span: impl FnMut(i64, i64, i64)) {
        match self {
            Stencil::Htk { vertices, width, height, origin: (ox, oy) } => {
                let rows = (window.top.saturating_sub(*oy).max(0), window.bottom.saturating_sub(*oy).min(*height));
                if rows.0 >= rows.1 {
                    return;
                }
                pil_spans(vertices, *width as i32, *height as i32, (rows.0 as i32, rows.1 as i32), |y, x0, x1| {
                    let (y, x0, x1) = (i64::from(y), i64::from(x0), i64::from(x1));
                    span(oy.saturating_add(y), ox.saturating_add(x0), ox.saturating_add(x1));
                });
            }
            Stencil::Strict(vertices) => strict_spans(vertices, window, span),
        }
    }
}

/// Whether the shapely distance between two polygons (closed rings, even-odd interiors) is at
/// most `limit`: 0 when they intersect or one contains the other, else the least distance
/// between their boundaries.
fn within_distance(a: &[[f64; 2]], b: &[[f64; 2]], limit: f64) -> bool {
    let (ea, eb) = (extent(a), extent(b));
    let gap_x = (eb.left - ea.right).max(ea.left - eb.right).max(0.0);
    let gap_y = (eb.top - ea.bottom).max(ea.top - eb.bottom).max(0.0);
    if (gap_x * gap_x + gap_y * gap_y).sqrt() > limit {
        return false;
    }
    if point_in_ring(a[0], b) || point_in_ring(b[0], a) {
        return true;
    }
    let seg = |v: &[[f64; 2]], i: usize| (v[i], v[(i + 1) % v.len()]);
    for i in 0..a.len() {
        let (p, q) = seg(a, i);
        for j in 0..b.len() {
            let (r, s) = seg(b, j);
            if segment_distance(p, q, r, s) <= limit {
                return true;
            }
        }
    }
    false
}

fn point_in_ring(p: [f64; 2], ring: &[[f64; 2]]) -> bool {
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (vi, vj) = (ring[i], ring[j]);
        if (vi[1] > p[1]) != (vj[1] > p[1]) && p[0] < (vj[0] - vi[0]) * (p[1] - vi[1]) / (vj[1] - vi[1]) + vi[0] {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn segment_distance(p: [f64; 2], q: [f64; 2], r: [f64; 2], s: [f64; 2]) -> f64 {
    if segments_intersect(p, q, r, s) {
        return 0.0;
    }
    point_segment_distance(p, r, s)
        .min(point_segment_distance(q, r, s))
        .min(point_segment_distance(r, p, q))
        .min(point_segment_distance(s, p, q))
}

fn point_segment_distance(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 { 0.0 } else { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) };
    let (cx, cy) = (a[0] + t * dx, a[1] + t * dy);
    ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt()
}

fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn segments_intersect(p: [f64; 2], q: [f64; 2], r: [f64; 2], s: [f64; 2]) -> bool {
    let (d1, d2, d3, d4) = (orient(r, s, p), orient(r, s, q), orient(p, q, r), orient(p, q, s));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0)) {
        return true;
    }
    let on = |a: [f64; 2], b: [f64; 2], c: [f64; 2]| {
        c[0] >= a[0].min(b[0]) && c[0] <= a[0].max(b[0]) && c[1] >= a[1].min(b[1]) && c[1] <= a[1].max(b[1])
    };
    (d1 == 0.0 && on(r, s, p)) || (d2 == 0.0 && on(r, s, q)) || (d3 == 0.0 && on(p, q, r)) || (d4 == 0.0 && on(p, q, s))
}

// ---------------------------------------------------------------------------------------------
// Pillow's polygon fill.

/// One edge of Pillow's polygon engine (`Draw.c` `Edge`, built by `add_edge`).
#[derive(Debug, Clone, Copy)]
struct PilEdge {
    x0: i32,
    y0: i32,
    xmin: i32,
    ymin: i32,
    xmax: i32,
    ymax: i32,
    dx: f32,
}

impl PilEdge {
    fn new(x0: i32, y0: i32, x1: i32, y1: i32) -> PilEdge {
        let dx = if y0 == y1 { 0.0 } else { (x1 - x0) as f32 / (y1 - y0) as f32 };
        PilEdge { x0, y0, xmin: x0.min(x1), xmax: x0.max(x1), ymin: y0.min(y1), ymax: y0.max(y1), dx }
    }
    /// `(y - y0) * dx + x0`, in single precision as Pillow computes it.
    fn x_at(&self, y: i32) -> f32 {
        (y - self.y0) as f32 * self.dx + self.x0 as f32
    }
}

/// Pillow's `ROUND_UP`: half away from zero after adding 0.5 in single precision.
fn round_up(f: f32) -> i32 {
    if f >= 0.0 {
        (f + 0.5).floor() as i32
    } else {
        -((f.abs() + 0.5).floor()) as i32
    }
}

/// Pillow's `ROUND_DOWN`.
fn round_down(f: f32) -> i32 {
    if f >= 0.0 {
        (f - 0.5).ceil() as i32
    } else {
        -((f.abs() - 0.5).ceil()) as i32
    }
}

/// Fills a polygon with Pillow's rule (`ImageDraw.polygon(xy, fill=1, outline=1)` on an 8-bit
/// image, Pillow ≥ 11) on a `width x height` canvas: returns the canvas, 1 inside, 0 outside.
///
/// **Rule** (`Draw.c` `ImagingDrawPolygon`, `polygon_generic`): vertices are integers (HTK's
/// callers truncate them). Horizontal edges are drawn as full inclusive spans. For every integer
/// row `y` from the lowest to the highest vertex row, each non-horizontal edge spanning `y`
/// contributes `x = (y − y0)·dx + x0` in `f32` (`dx = (x1 − x0) / (y1 − y0)`), twice when `y`
/// is the edge's bottom row and not the last row of the polygon; at an edge's end row, when two
/// edges meet in a corner (same rounded `x`) that sticks out by more than a pixel from both
/// edges' `x` on the adjacent row, the `x` is pulled in to one pixel beyond the rounded
/// adjacent `x` (Pillow 11's "connect discontiguous corners"). The sorted `x` are paired and
/// pixels `floor(xl + 0.5) ..= ceil(xr − 0.5)` are set. Net effect: pixel centres at integer
/// coordinates, edges and vertices included. Pixels beyond the canvas are dropped, so with
/// HTK's `trunc(max − min)` canvas the last row and column of the fill fall off.
///
/// Worked example: the square (0,0)-(4,0)-(4,4)-(0,4) fills the 5×5 block of pixel centres
/// 0..=4 on a 5×5 canvas, but only the 4×4 block 0..=3 on HTK's 4×4 canvas; the triangle
/// (0,0)-(4,0)-(0,4) on a 5×5 canvas:
///
/// ```
/// use bcss_transform::raster::pil_polygon_fill;
///
/// let m = pil_polygon_fill(&[[0, 0], [4, 0], [0, 4]], 5, 5);
/// let rows: Vec<String> = m.data.chunks(5).map(|r| r.iter().map(|v| v.to_string()).collect()).collect();
/// assert_eq!(rows, ["11111", "11110", "11100", "11000", "10000"]);
/// let square = pil_polygon_fill(&[[0, 0], [4, 0], [4, 4], [0, 4]], 4, 4);
/// assert!(square.data.iter().all(|&v| v == 1));
/// ```
pub fn pil_polygon_fill(vertices: &[[i32; 2]], width: usize, height: usize) -> GrayImage {
    let mut out = vec![0u8; width * height];
    pil_spans(vertices, width as i32, height as i32, (0, height as i32), |y, x0, x1| {
        let row = y as usize * width;
        out[row + x0 as usize..=row + x1 as usize].fill(1);
    });
    GrayImage { width, height, data: out }
}

/// Pillow's fill as spans `(y, x0, x1)` (inclusive, already clipped to the canvas), for rows in
/// `rows` (half-open) only. Rows are independent in Pillow's scanline, so a window of rows gives
/// exactly the corresponding rows of the full fill.
fn pil_spans(vertices: &[[i32; 2]], width: i32, height: i32, rows: (i32, i32), mut span: impl FnMut(i32, i32, i32)) {
    let n = vertices.len();
    if n == 0 {
        return;
    }
    // Edge list. Pillow merges consecutive horizontal edges going the same way; their union is
    // the same span, so the pixels do not change and the merge is left out.
    let mut edges: Vec<PilEdge> = Vec::with_capacity(n);
    for i in 0..n - 1 {
        let (a, b) = (vertices[i], vertices[i + 1]);
        edges.push(PilEdge::new(a[0], a[1], b[0], b[1]));
    }
    if vertices[n - 1] != vertices[0] {
        let (a, b) = (vertices[n - 1], vertices[0]);
        edges.push(PilEdge::new(a[0], a[1], b[0], b[1]));
    }
    if edges.is_empty() {
        return;
    }
    // `hline8`: clip to the canvas (and to the rows asked for).
    let mut hline = |y: i32, x0: i32, x1: i32| {
        if y < 0 || y >= height || y < rows.0 || y >= rows.1 || x0 >= width || x1 < 0 {
            return;
        }
        let (a, b) = (x0.max(0), x1.min(width - 1));
        if a <= b {
            span(y, a, b);
        }
    };
    let mut ymin = height - 1;
    let mut ymax = 0;
    let mut table: Vec<PilEdge> = Vec::with_capacity(edges.len());
    for e in &edges {
        ymin = ymin.min(e.ymin);
        ymax = ymax.max(e.ymax);
        if e.ymin == e.ymax {
            hline(e.ymin, e.xmin, e.xmax);
            continue;
        }
        table.push(*e);
    }
    let ymin = ymin.max(0);
    let ymax = ymax.min(height);

    // Active edges, kept in table order so the corner search sees the same "earlier" edges.
    let mut by_ymin: Vec<usize> = (0..table.len()).collect();
    by_ymin.sort_by_key(|&i| table[i].ymin);
    let mut next = 0;
    let mut active: Vec<usize> = Vec::new();
    let mut xx: Vec<f32> = Vec::new();
    let first = ymin.max(rows.0);
    let last = ymax.min(rows.1 - 1);
    for y in first..=last {
        while next < by_ymin.len() && table[by_ymin[next]].ymin <= y {
            let i = by_ymin[next];
            let pos = active.partition_point(|&a| a < i);
            active.insert(pos, i);
            next += 1;
        }
        active.retain(|&i| table[i].ymax >= y);
        xx.clear();
        for (ai, &i) in active.iter().enumerate() {
            let cur = &table[i];
            xx.push(cur.x_at(y));
            if y == cur.ymax && y < ymax {
                // "Needed to draw consistent polygons": the bottom vertex counts twice.
                xx.push(*xx.last().expect("pushed"));
            } else if (y == cur.ymin || y == cur.ymax) && cur.dx != 0.0 {
                // "Connect discontiguous corners" (Pillow 11).
                for &k in &active[..ai] {
                    let other = &table[k];
                    if (y != other.ymin && y != other.ymax) || other.dx == 0.0 {
                        continue;
                    }
                    let last_x = *xx.last().expect("pushed");
                    if last_x.round() != other.x_at(y).round() {
                        continue;
                    }
                    let offset = if y == cur.ymax { -1 } else { 1 };
                    let adjacent = cur.x_at(y + offset);
                    if y + offset >= other.ymin && y + offset <= other.ymax {
                        let adjacent_other = other.x_at(y + offset);
                        let slot = xx.last_mut().expect("pushed");
                        if last_x > adjacent + 1.0 && last_x > adjacent_other + 1.0 {
                            *slot = adjacent.max(adjacent_other).round() + 1.0;
                        } else if last_x < adjacent - 1.0 && last_x < adjacent_other - 1.0 {
                            *slot = adjacent.min(adjacent_other).round() - 1.0;
                        }
                        break;
                    }
                }
            }
        }
        xx.sort_by(f32::total_cmp);
        for pair in xx.chunks_exact(2) {
            hline(y, round_up(pair[0]), round_down(pair[1]));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strict rule.

/// Fills a polygon with the strict rule over `window` (slide pixels): returns the window, 1
/// inside, 0 outside.
///
/// **Rule**: pixel `(x, y)` is inside when its centre `(x + 0.5, y + 0.5)` is inside the
/// polygon by the even-odd rule, with ties broken top-left: a centre exactly on a left or top
/// edge is inside, on a right or bottom edge outside (the crossing test of PNPOLY: an edge
/// counts when exactly one end is strictly below the centre, and a crossing counts when it lies
/// strictly right of it). Coordinates are not rounded. So an axis-aligned rectangle
/// `[x0, x1) x [y0, y1)` with integer corners covers exactly its `(x1 − x0)·(y1 − y0)` pixels,
/// and polygons that share an edge never share a pixel.
///
/// Worked example, the triangle (0,0)-(5,0)-(0,5) on the 5×5 window at the origin: centre
/// (x + 0.5, y + 0.5) is inside when x + y + 1 < 5, so 15 pixels.
///
/// ```
/// use bcss_model::Rect;
/// use bcss_transform::raster::strict_polygon_fill;
///
/// let m = strict_polygon_fill(&[[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]], Rect { left: 0, top: 0, right: 5, bottom: 5 });
/// let rows: Vec<String> = m.data.chunks(5).map(|r| r.iter().map(|v| v.to_string()).collect()).collect();
/// assert_eq!(rows, ["11110", "11100", "11000", "10000", "00000"]);
/// ```
pub fn strict_polygon_fill(vertices: &[[f64; 2]], window: Rect<i64>) -> GrayImage {
    let (width, height) = (window.width().max(0) as usize, window.height().max(0) as usize);
    let mut data = vec![0; width * height];
    let mut canvas = MaskWindow { window, clip: window, data: &mut data };
    if vertices.len() >= 3 {
        strict_spans(vertices, window, |y, x0, x1| canvas.span(y, x0, x1, 1));
    }
    GrayImage { width, height, data }
}

/// The strict rule as spans `(y, x0, x1)`, inclusive, inside `window`.
fn strict_spans(vertices: &[[f64; 2]], window: Rect<i64>, mut span: impl FnMut(i64, i64, i64)) {
    let n = vertices.len();
    // Edge (i, j = i - 1) exactly as PNPOLY walks it, so the crossing is bit-identical.
    let edges: Vec<([f64; 2], [f64; 2])> = (0..n).map(|i| (vertices[i], vertices[(i + n - 1) % n])).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| edges[a].0[1].min(edges[a].1[1]).total_cmp(&edges[b].0[1].min(edges[b].1[1])));
    let mut next = 0;
    let mut active: Vec<usize> = Vec::new();
    let mut xs: Vec<f64> = Vec::new();
    for y in window.top..window.bottom {
        let py = y as f64 + 0.5;
        while next < n && edges[order[next]].0[1].min(edges[order[next]].1[1]) <= py {
            active.push(order[next]);
            next += 1;
        }
        active.retain(|&i| edges[i].0[1].max(edges[i].1[1]) > py);
        xs.clear();
        for &i in &active {
            let (vi, vj) = edges[i];
            if (vi[1] > py) != (vj[1] > py) {
                xs.push((vj[0] - vi[0]) * (py - vi[1]) / (vj[1] - vi[1]) + vi[0]);
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            // Pixels whose centre px satisfies pair[0] <= px < pair[1].
            let (a, b) = (first_centre_at_or_after(pair[0]), first_centre_at_or_after(pair[1]));
            if a < b {
                span(y, a.max(window.left), (b - 1).min(window.right - 1));
            }
        }
    }
}

/// The least integer `x` with `x + 0.5 >= c`.
fn first_centre_at_or_after(c: f64) -> i64 {
    let mut x = (c - 0.5).ceil() as i64;
    while (x as f64) + 0.5 < c {
        x += 1;
    }
    while ((x - 1) as f64) + 0.5 >= c {
        x -= 1;
    }
    x
}

#[cfg(test)]
mod tests;
