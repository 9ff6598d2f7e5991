//! `bcss overlay`: each ROI with its mask drawn over it in the class colours, with a legend, and
//! one contact sheet of every ROI as a labelled thumbnail.
//!
//! The painting (fill blends the class colour at `alpha`; outline draws the borders of class
//! regions, `r` growing with the picture so the line stays visible; don't care dimmed to 45% in
//! both) is `crate::render::overlay`'s, shared with the thumbnails of `bcss report`.
//!
//! The legend lists the classes present in the ROI only (the mask is read once more to count
//! them), in a white box in the top-left corner whose text height is 1/40 of the picture's
//! shorter side (11 to 40 pixels), shrunk to fit in half the picture, left out if it cannot be
//! read there or if `legend` is off. Text is DejaVu Sans (`crate::render::text`).
//!
//! Image and mask are streamed row by row (a window of `2r + 1` rows for outlines) and the
//! overlay is encoded as rows come, optionally shrunk by an integer `downsample` factor (box
//! filter); the thumbnail for the contact sheet is shrunk from the same rows. A worker holds a
//! few rows plus one thumbnail.
//!
//! Output: `out/<roi>_overlay.png` per ROI and `out/contact_sheet.png`: thumbnails in ROI order,
//! each labelled (13-pixel text) with its ROI id and, in the part's colour, its part of the split.

use crate::transform::canvas::Draw;
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;

use super::input::{self, InputError, InputProblem, RoiInput};
use crate::catalog::classmap::{ClassMap, NOT_A_CODE};
use crate::catalog::split::part_color;
use crate::codec::png::Compression;
use crate::dataset::atomic::write_atomic;
use crate::dataset::{DatasetLock, LockError};
use crate::model::{RgbImage, MAX_PIXELS};
use crate::render::legend::{fitted_legend, present_classes};
use crate::render::overlay::{palette, render_row, Paint};
use crate::render::text::{draw_text, text_size};
use crate::report::Reporter;
use crate::transform::remap::fold_counts;
use crate::transform::shrink::Shrink;

/// How classes are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverlayStyle {
    /// Class regions tinted with their colour (`alpha`).
    #[default]
    Fill,
    /// Only the borders of class regions, in their colour.
    Outline,
}

/// Text height of the contact sheet's labels.
const LABEL_PX: f64 = 13.0;

/// A validated overlay request.
///
/// Made by [`OverlayPlan::new`] from the class map and the output folder, every other setting
/// at the default its setter names (filled at opacity 0.4, full size, 192-pixel thumbnails,
/// with a legend), and changed by chainable setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OverlayPlan {
    pub(crate) map: ClassMap,
    pub(crate) alpha: f64,
    pub(crate) downsample: usize,
    pub(crate) thumb: usize,
    pub(crate) out: PathBuf,
    pub(crate) wait_lock: bool,
    pub(crate) compression: Compression,
    pub(crate) style: OverlayStyle,
    pub(crate) legend: bool,
}

impl OverlayPlan {
    /// A plan to draw the colours of `map` into the output folder `out` (created), with every
    /// other setting at its default.
    pub fn new(map: ClassMap, out: impl Into<PathBuf>) -> Self {
        OverlayPlan {
            map,
            alpha: 0.4,
            downsample: 1,
            thumb: 192,
            out: out.into(),
            wait_lock: false,
            compression: Compression::Fast,
            style: OverlayStyle::Fill,
            legend: true,
        }
    }
    /// Opacity of the class colour, 0..=1 (default: 0.4).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }
    /// Shrink overlays by this integer factor; 1 keeps full size (default: 1).
    pub fn downsample(mut self, factor: usize) -> Self {
        self.downsample = factor;
        self
    }
    /// Longest side of a contact-sheet thumbnail (default: 192).
    pub fn thumb(mut self, side: usize) -> Self {
        self.thumb = side;
        self
    }
    /// When another run holds `out`'s lock: wait for it instead of failing with
    /// [`LockError::Held`] (default: false).
    pub fn wait_lock(mut self, wait: bool) -> Self {
        self.wait_lock = wait;
        self
    }
    /// PNG compression (default: [`Compression::Fast`]).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }
    /// Fill or outline (default: [`OverlayStyle::Fill`]).
    pub fn style(mut self, style: OverlayStyle) -> Self {
        self.style = style;
        self
    }
    /// Draw the legend of the classes present (default: true).
    pub fn legend(mut self, legend: bool) -> Self {
        self.legend = legend;
        self
    }
}

/// What an overlay run wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OverlaySummary {
    /// Overlay files, in ROI order.
    pub overlays: Vec<PathBuf>,
    /// The contact sheet.
    pub contact_sheet: PathBuf,
}

/// Why overlays failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OverlayError {
    /// Another run holds the output folder, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A ROI has no image.
    #[error("ROI `{0}` has no image; overlays need images and masks")]
    NoImage(String),
    /// An input file is unreadable or inconsistent.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The contact sheet of this many ROIs at this thumbnail size would exceed [`MAX_PIXELS`].
    #[error(
        "a contact sheet of {rois} ROIs with {thumb}-pixel thumbnails would be {width}x{height} pixels, over the \
         limit of {MAX_PIXELS} pixels; use a smaller `--thumb`"
    )]
    SheetTooLarge {
        /// ROIs on the sheet.
        rois: usize,
        /// Thumbnail side.
        thumb: usize,
        /// Sheet width.
        width: usize,
        /// Sheet height.
        height: usize,
    },
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

impl crate::report::Blamed for OverlayError {
    fn blame(&self) -> crate::report::Blame {
        use crate::report::Blame;
        match self {
            OverlayError::Lock(e) => e.blame(),
            OverlayError::NoImage { .. } | OverlayError::Input { .. } | OverlayError::SheetTooLarge { .. } => {
                Blame::Input
            }
            OverlayError::Output { .. } => Blame::Output,
        }
    }
}

enum Inner {
    Io(std::io::Error),
    Input(InputError),
}

impl From<std::io::Error> for Inner {
    fn from(e: std::io::Error) -> Self {
        Inner::Io(e)
    }
}

impl From<InputError> for Inner {
    fn from(e: InputError) -> Self {
        Inner::Input(e)
    }
}

/// Draws every ROI's overlay and the contact sheet.
pub fn overlay(plan: &OverlayPlan, rois: &[RoiInput], reporter: &dyn Reporter) -> Result<OverlaySummary, OverlayError> {
    if let Some(r) = rois.iter().find(|r| r.files.image.is_none()) {
        return Err(OverlayError::NoImage(r.files.roi_id.clone()));
    }
    let ids: Vec<&str> = rois.iter().map(|r| r.files.roi_id.as_str()).collect();
    let (width, height) = sheet_size(&ids, plan.thumb);
    if (width as u64).saturating_mul(height as u64) > MAX_PIXELS {
        return Err(OverlayError::SheetTooLarge { rois: rois.len(), thumb: plan.thumb, width, height });
    }
    std::fs::create_dir_all(&plan.out).map_err(|source| OverlayError::Output { path: plan.out.clone(), source })?;
    let _lock = DatasetLock::acquire(&plan.out, "overlay", plan.wait_lock)?;
    let results = input::for_each_reported(rois, true, reporter, |r| overlay_roi(plan, r));
    let mut overlays = Vec::new();
    let mut thumbs = Vec::new();
    for (r, res) in rois.iter().zip(results) {
        let (path, thumb) = res?;
        overlays.push(path);
        thumbs.push((r, thumb));
    }
    let sheet = contact_sheet(&thumbs, plan.thumb);
    let path = plan.out.join("contact_sheet.png");
    write_atomic(&path, |w: &mut dyn Write| {
        crate::codec::png::write_rgb(w, &sheet, plan.compression)
            .map_err(|e| std::io::Error::other(crate::report::error_chain(&e)))
    })
    .map_err(|source| OverlayError::Output { path: path.clone(), source })?;
    Ok(OverlaySummary { overlays, contact_sheet: path })
}

fn overlay_roi(plan: &OverlayPlan, r: &RoiInput) -> Result<(PathBuf, RgbImage), OverlayError> {
    let (mask_path, image_path) = (&r.files.mask, r.files.image.as_deref().expect("checked before"));
    let lut = plan.map.lut();
    // First pass over the mask: which classes the legend lists (masks decode fast).
    let legend = if plan.legend {
        let (_, _, hist) = input::code_histogram(mask_path)?;
        let counts = fold_counts(&hist, lut, plan.map.num_classes()).unwrap_or_default();
        Some(present_classes(&plan.map, &counts))
    } else {
        None
    };
    let mut mrows = input::open_mask(mask_path)?;
    let mut irows = input::open_image_of(image_path, &mrows)?;
    let (w, h) = (mrows.width(), mrows.height());
    let f = plan.downsample.max(1);
    let (ow, oh) = (w.div_ceil(f), h.div_ceil(f));
    let legend = legend.and_then(|entries| fitted_legend(&entries, ow, oh));
    let style = match plan.style {
        OverlayStyle::Fill => Paint::Fill { alpha256: (plan.alpha.clamp(0.0, 1.0) * 256.0).round() as u32 },
        // About 1 output pixel per 800 of the shorter side, at least 1, at most 64 source rows.
        OverlayStyle::Outline => Paint::Outline { r: (f * (ow.min(oh) / 800).clamp(1, 4)).min(64) },
    };
    let radius = match style {
        Paint::Fill { .. } => 0,
        Paint::Outline { r } => r,
    };
    let palette = palette(&plan.map);
    let tf = w.max(h).div_ceil(plan.thumb.max(1)).max(1);
    let mut thumb_shrink = Shrink::new(w, tf);
    let mut thumb = RgbImage { width: w.div_ceil(tf), height: 0, data: Vec::new() };
    let mut shrink = Shrink::new(w, f);

    let path = input::overlay_file(&plan.out, &r.files.roi_id);
    let result = write_atomic(&path, |out: &mut dyn Write| -> Result<(), Inner> {
        let mut stream =
            crate::codec::png::PngWriter::new(out, ow, oh, 3, plan.compression).map_err(std::io::Error::from)?;
        let (mut small, mut tsmall) = (Vec::new(), Vec::new());
        let mut out_y = 0;
        let emit = |row: &mut Vec<u8>, out_y: &mut usize, stream: &mut dyn Write| -> std::io::Result<()> {
            if let Some((legend, margin)) = &legend {
                let ly = out_y.wrapping_sub(*margin);
                if *out_y >= *margin && ly < legend.height && *margin < ow {
                    let lw = legend.width.min(ow - margin);
                    row[margin * 3..(margin + lw) * 3].copy_from_slice(&legend.row(ly)[..lw * 3]);
                }
            }
            *out_y += 1;
            stream.write_all(row)
        };
        // Rows y - radius ..= y + radius: (classes, image) of each, oldest first.
        let mut window: VecDeque<(Vec<u8>, Vec<u8>)> = VecDeque::with_capacity(2 * radius + 1);
        let mut next_out = 0;
        for y in 0..h + radius {
            if y < h {
                let (mut codes, mut rgb) = match window.len() > 2 * radius {
                    true => window.pop_front().expect("a full window"),
                    false => (vec![0u8; w], vec![0u8; w * 3]),
                };
                input::read_row(&mut mrows, &mut codes, mask_path)?;
                input::read_row(&mut irows, &mut rgb, image_path)?;
                for (x, v) in codes.iter_mut().enumerate() {
                    let class = lut[*v as usize];
                    if class == NOT_A_CODE {
                        let expected = "a BCSS code (0..=21)".into();
                        let problem = InputProblem::BadValue { value: *v, x, y, expected };
                        return Err(InputError::new(mask_path, problem).into());
                    }
                    *v = class;
                }
                window.push_back((codes, rgb));
            } else if y > 2 * radius {
                // Past the last row: row y - 2r - 1 leaves as the center moves on.
                window.pop_front();
            }
            if y < radius {
                continue;
            }
            // The window holds rows max(0, c - r) ..= min(h - 1, c + r) for the center c.
            let center = next_out.min(radius);
            let rows: Vec<&[u8]> = window.iter().map(|(c, _)| c.as_slice()).collect();
            let mut rgb = window[center].1.clone();
            render_row(&mut rgb, &rows, center, &palette, style);
            next_out += 1;
            if thumb_shrink.push(&rgb, &mut tsmall) {
                thumb.data.extend_from_slice(&tsmall);
                thumb.height += 1;
            }
            if f == 1 {
                emit(&mut rgb, &mut out_y, &mut stream)?;
            } else if shrink.push(&rgb, &mut small) {
                emit(&mut small, &mut out_y, &mut stream)?;
            }
        }
        if f > 1 && shrink.flush(&mut small) {
            emit(&mut small, &mut out_y, &mut stream)?;
        }
        if thumb_shrink.flush(&mut tsmall) {
            thumb.data.extend_from_slice(&tsmall);
            thumb.height += 1;
        }
        stream.finish().map_err(std::io::Error::from)?;
        Ok(())
    });
    match result {
        Ok(_) => {}
        Err(Inner::Io(source)) => return Err(OverlayError::Output { path, source }),
        Err(Inner::Input(e)) => return Err(e.into()),
    }
    input::finish(mrows, mask_path)?;
    input::finish(irows, image_path)?;
    Ok((path, thumb))
}

/// The grid of a contact sheet: cell width and height, columns (saturating, so an absurd
/// thumbnail size gives a huge size rather than an overflow).
fn sheet_grid(ids: &[&str], thumb: usize) -> (usize, usize, usize, usize) {
    let label_w = ids.iter().map(|id| text_size(id, LABEL_PX).0).max().unwrap_or(0);
    let line = (LABEL_PX * 1.35).ceil() as usize;
    let cell_w = thumb.max(label_w).saturating_add(12);
    let cell_h = thumb.saturating_add(2 * line + 12);
    let cols = ids.len().clamp(1, 10);
    let rows = ids.len().div_ceil(cols).max(1);
    (cell_w, cell_h, cols, rows)
}

/// Width and height of the contact sheet of these ROIs.
fn sheet_size(ids: &[&str], thumb: usize) -> (usize, usize) {
    let (cell_w, cell_h, cols, rows) = sheet_grid(ids, thumb);
    (cols.saturating_mul(cell_w), rows.saturating_mul(cell_h))
}

/// Thumbnails in a grid, each labelled with its ROI id and, in the part's colour, its part.
pub fn contact_sheet(thumbs: &[(&RoiInput, RgbImage)], thumb: usize) -> RgbImage {
    let ids: Vec<&str> = thumbs.iter().map(|(r, _)| r.files.roi_id.as_str()).collect();
    let (cell_w, cell_h, cols, _) = sheet_grid(&ids, thumb);
    let (width, height) = sheet_size(&ids, thumb);
    let line = (LABEL_PX * 1.35).ceil() as i32;
    let mut c = RgbImage::filled(width, height, [255, 255, 255]);
    for (i, (r, t)) in thumbs.iter().enumerate() {
        let (x0, y0) = ((i % cols) * cell_w + 6, (i / cols) * cell_h + 6);
        c.blit(x0, y0, t);
        let ty = (y0 + thumb + 3) as i32;
        draw_text(&mut c, x0 as i32, ty, &r.files.roi_id, LABEL_PX, [0, 0, 0]);
        let part = r.part.as_str();
        draw_text(&mut c, x0 as i32, ty + line, part, LABEL_PX, part_color(part));
    }
    c
}

pub use super::input::overlay_file as overlay_path;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::split::Part;
    use crate::codec::png::{decode_rgb, write_raw};
    use crate::dataset::pairs::RoiFiles;
    use crate::report::Silent;

    /// A 120 x 90 ROI of grey 100: don't care in the left half, stroma (raw code 2) in the right.
    fn roi(d: &Path) -> RoiInput {
        let (w, h) = (120, 90);
        std::fs::create_dir_all(d.join("masks")).unwrap();
        std::fs::create_dir_all(d.join("images")).unwrap();
        let mask: Vec<u8> = (0..w * h).map(|i| if i % w < 60 { 0 } else { 2 }).collect();
        let img = vec![100u8; w * h * 3];
        let (mp, ip) = (d.join("masks/R_xmin0_ymin0_MPP-0.2500.png"), d.join("images/R_xmin0_ymin0_MPP-0.2500.png"));
        let mut b = Vec::new();
        write_raw(&mut b, w, h, 1, &mask, Compression::Fast).unwrap();
        std::fs::write(&mp, b).unwrap();
        let mut b = Vec::new();
        write_raw(&mut b, w, h, 3, &img, Compression::Fast).unwrap();
        std::fs::write(&ip, b).unwrap();
        RoiInput {
            files: RoiFiles { roi_id: "R".into(), xmin: 0, ymin: 0, image: Some(ip), mask: mp },
            part: Part::Test,
        }
    }

    fn plan(d: &Path, name: &str) -> OverlayPlan {
        OverlayPlan {
            map: ClassMap::preset("main5").unwrap(),
            alpha: 0.5,
            downsample: 1,
            thumb: 16,
            out: d.join(name),
            compression: Compression::Fast,
            wait_lock: false,
            style: OverlayStyle::Fill,
            legend: true,
        }
    }

    #[test]
    fn overlay_and_sheet_end_to_end() {
        let d = tempfile::tempdir().unwrap();
        let roi = roi(d.path());
        let plan = plan(d.path(), "o");
        let map = plan.map.clone();
        let s = overlay(&plan, std::slice::from_ref(&roi), &Silent).unwrap();
        let o = decode_rgb(&std::fs::read(&s.overlays[0]).unwrap()).unwrap();
        assert_eq!((o.width, o.height), (120, 90));
        let at = |x: usize, y: usize| o.data[(y * 120 + x) * 3..(y * 120 + x) * 3 + 3].to_vec();
        // Bottom-right pixel (below the legend): stroma blended half and half with 100.
        let want: Vec<u8> = map.color(2).iter().map(|&v| ((100 * 128 + v as u32 * 128 + 128) >> 8) as u8).collect();
        assert_eq!(at(119, 89), want);
        // Bottom-left: don't care, dimmed to 45%.
        assert_eq!(at(0, 89), vec![45, 45, 45]);
        // The legend: its swatch is stroma's colour itself; no other class of main5 is there.
        let count = |c: [u8; 3]| o.data.chunks_exact(3).filter(|p| *p == c).count();
        assert!(count(map.color(2)) >= 25, "a stroma swatch");
        for v in [1, 3, 4, 5] {
            assert_eq!(count(map.color(v)), 0, "class {v} is absent from the ROI, so from the legend");
        }
        let sheet = decode_rgb(&std::fs::read(&s.contact_sheet).unwrap()).unwrap();
        // One cell: the thumbnail (16 wide) or the label, whichever is wider, and two lines of
        // 13-pixel text under it, inked (the part in its colour).
        assert!(sheet.width >= 28 && sheet.height >= 16 + 2 * 17 + 12, "{} x {}", sheet.width, sheet.height);
        let label_rows = (16 + 6..sheet.height)
            .filter(|&y| (0..sheet.width).any(|x| sheet.data[(y * sheet.width + x) * 3] < 128))
            .count();
        assert!(label_rows >= 16, "two readable lines of text, {label_rows} rows inked");

        // Without a legend: no pure stroma pixel anywhere.
        let quiet = OverlayPlan { legend: false, ..plan.clone() };
        let q =
            overlay(&OverlayPlan { out: d.path().join("q"), ..quiet }, std::slice::from_ref(&roi), &Silent).unwrap();
        let q = decode_rgb(&std::fs::read(&q.overlays[0]).unwrap()).unwrap();
        assert_eq!(q.data.chunks_exact(3).filter(|p| *p == map.color(2)).count(), 0);
        assert_eq!(q.data[(5 * 120 + 100) * 3..(5 * 120 + 100) * 3 + 3], want[..]);

        // A thumbnail size whose contact sheet would exceed MAX_PIXELS: refused before `out` is
        // created (an absurd size saturates instead of overflowing).
        for thumb in [100_000, usize::MAX] {
            let plan = OverlayPlan { thumb, out: d.path().join("huge"), ..plan.clone() };
            let err = overlay(&plan, std::slice::from_ref(&roi), &Silent).unwrap_err();
            assert!(matches!(err, OverlayError::SheetTooLarge { rois: 1, .. }), "{err}");
            assert!(!plan.out.exists());
        }
    }

    #[test]
    fn outline_overlay_draws_the_region_border_only() {
        let d = tempfile::tempdir().unwrap();
        let roi = roi(d.path());
        let plan = OverlayPlan { style: OverlayStyle::Outline, legend: false, ..plan(d.path(), "o") };
        let s = overlay(&plan, std::slice::from_ref(&roi), &Silent).unwrap();
        let o = decode_rgb(&std::fs::read(&s.overlays[0]).unwrap()).unwrap();
        let at = |x: usize, y: usize| o.data[(y * 120 + x) * 3..(y * 120 + x) * 3 + 3].to_vec();
        let stroma = plan.map.color(2).to_vec();
        // r = 1 at this size: the stroma column next to don't care is painted, the rest of the
        // stroma is the image, don't care is dimmed, on every row (edges included).
        for y in [0, 45, 89] {
            assert_eq!(
                (at(60, y), at(61, y), at(100, y), at(59, y)),
                (stroma.clone(), vec![100; 3], vec![100; 3], vec![45; 3])
            );
        }
    }
}
