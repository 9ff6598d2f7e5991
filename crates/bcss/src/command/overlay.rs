//! `bcss overlay`: each ROI with its mask drawn over it in the class colours, with a legend, and
//! one contact sheet of every ROI as a labelled thumbnail.
//!
//! Per pixel: `out = round((1 - alpha) * image + alpha * colour(class))` for pixels of a class;
//! don't-care pixels keep the image unchanged, so what is not annotated stays visible as such.
//! The legend (class colour and name, for every class of the map) sits in a white box in the
//! top-left corner, its text scaled with the image.
//!
//! Image and mask are streamed row by row and the overlay is encoded as rows come, optionally
//! shrunk by an integer `downsample` factor (box filter); the thumbnail for the contact sheet is
//! shrunk from the same rows. A worker holds a few rows plus one thumbnail.
//!
//! Output: `out/<roi>_overlay.png` per ROI and `out/contact_sheet.png`: thumbnails in ROI order,
//! each labelled with its ROI id and, in the part's colour, its part of the split.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::input::{self, InputError, InputProblem, RoiInput};
use crate::catalog::classmap::{ClassMap, NOT_A_CODE};
use crate::catalog::split::part_color;
use crate::codec::png::Compression;
use crate::dataset::atomic::write_atomic;
use crate::dataset::{DatasetLock, LockError};
use crate::model::MAX_PIXELS;
use crate::report::Reporter;
use crate::transform::canvas::{text_width, Canvas, ADVANCE, LINE};

/// A validated overlay request.
#[derive(Debug, Clone)]
pub struct OverlayPlan {
    /// The class map whose colours are drawn.
    pub map: ClassMap,
    /// Opacity of the class colour, 0..=1.
    pub alpha: f64,
    /// Shrink overlays by this integer factor (1 = full size).
    pub downsample: usize,
    /// Longest side of a contact-sheet thumbnail.
    pub thumb: usize,
    /// Output folder (created).
    pub out: PathBuf,
    /// When another run holds `out`'s lock: wait for it instead of failing with
    /// [`LockError::Held`](crate::dataset::LockError::Held).
    pub wait_lock: bool,
    /// PNG compression.
    pub compression: Compression,
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

/// Averages blocks of `f x f` pixels of RGB rows fed one at a time (edge blocks average the
/// pixels they have).
struct Shrink {
    f: usize,
    src_w: usize,
    out_w: usize,
    /// u64: a block of a thumbnail can hold a whole ROI (2^31 pixels x 255 overflows u32).
    sums: Vec<u64>,
    counts: Vec<u64>,
    rows_in_group: usize,
}

impl Shrink {
    fn new(src_w: usize, f: usize) -> Shrink {
        let out_w = src_w.div_ceil(f);
        Shrink { f, src_w, out_w, sums: vec![0; out_w * 3], counts: vec![0; out_w], rows_in_group: 0 }
    }

    /// Adds a row; returns an output row when a group of `f` rows is complete.
    fn push(&mut self, row: &[u8], out: &mut Vec<u8>) -> bool {
        for x in 0..self.src_w {
            let o = x / self.f;
            self.counts[o] += 1;
            for c in 0..3 {
                self.sums[o * 3 + c] += u64::from(row[x * 3 + c]);
            }
        }
        self.rows_in_group += 1;
        if self.rows_in_group == self.f {
            self.flush(out)
        } else {
            false
        }
    }

    /// Emits a partial group, if any.
    fn flush(&mut self, out: &mut Vec<u8>) -> bool {
        if self.rows_in_group == 0 {
            return false;
        }
        out.clear();
        for o in 0..self.out_w {
            let n = self.counts[o];
            for c in 0..3 {
                out.push(((self.sums[o * 3 + c] + n / 2) / n) as u8);
            }
        }
        self.sums.fill(0);
        self.counts.fill(0);
        self.rows_in_group = 0;
        true
    }
}

/// The legend of a map: a white box with a swatch and the name of every class.
pub fn legend(map: &ClassMap, scale: usize) -> Canvas {
    let pad = 4 * scale;
    let sw = 7 * scale;
    let names: Vec<String> = map.classes().iter().map(|c| format!("{} {}", c.value, c.name)).collect();
    let tw = names.iter().map(|n| text_width(n, scale)).max().unwrap_or(0);
    let w = pad * 3 + sw + tw;
    let line = (LINE + 3) * scale;
    let h = pad * 2 + line * names.len() - 3 * scale;
    let mut c = Canvas::new(w, h, [255, 255, 255]);
    c.stroke_rect(0, 0, w, h, [0, 0, 0]);
    for (i, (cl, name)) in map.classes().iter().zip(&names).enumerate() {
        let y = pad + i * line;
        c.fill_rect(pad, y, sw, sw, cl.color);
        c.stroke_rect(pad, y, sw, sw, [0, 0, 0]);
        c.text(pad * 2 + sw, y, name, scale, [0, 0, 0]);
    }
    c
}

/// Blends one row: class pixels take `alpha` of their class colour, don't care is unchanged.
fn blend_row(image: &mut [u8], classes: &[u8], palette: &[[u8; 3]; 256], alpha256: u32) {
    for (px, &v) in image.chunks_exact_mut(3).zip(classes) {
        if v == 0 {
            continue;
        }
        let col = palette[v as usize];
        for c in 0..3 {
            px[c] = ((px[c] as u32 * (256 - alpha256) + col[c] as u32 * alpha256 + 128) >> 8) as u8;
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
        crate::codec::png::write_raw(w, sheet.width, sheet.height, 3, &sheet.data, plan.compression)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
    .map_err(|source| OverlayError::Output { path: path.clone(), source })?;
    Ok(OverlaySummary { overlays, contact_sheet: path })
}

fn overlay_roi(plan: &OverlayPlan, r: &RoiInput) -> Result<(PathBuf, Canvas), OverlayError> {
    let (mask_path, image_path) = (&r.files.mask, r.files.image.as_deref().expect("checked before"));
    let mut mrows = input::open_mask(mask_path)?;
    let mut irows = input::open_image(image_path)?;
    let (w, h) = (mrows.width(), mrows.height());
    if (irows.width(), irows.height()) != (w, h) {
        let problem =
            InputProblem::Size { got_w: irows.width(), got_h: irows.height(), want_w: w, want_h: h, what: "its mask" };
        return Err(InputError::new(image_path, problem).into());
    }
    let f = plan.downsample.max(1);
    let (ow, oh) = (w.div_ceil(f), h.div_ceil(f));
    let scale = (ow.min(oh) / 500).clamp(1, 8);
    let legend = legend(&plan.map, scale);
    let margin = 8 * scale;
    let mut palette = [[0u8; 3]; 256];
    for c in plan.map.classes() {
        palette[c.value as usize] = c.color;
    }
    let alpha256 = (plan.alpha.clamp(0.0, 1.0) * 256.0).round() as u32;
    let tf = w.max(h).div_ceil(plan.thumb.max(1)).max(1);
    let mut thumb_shrink = Shrink::new(w, tf);
    let mut thumb = Canvas { width: w.div_ceil(tf), height: 0, data: Vec::new() };
    let mut shrink = Shrink::new(w, f);
    let lut = plan.map.lut();

    let path = plan.out.join(format!("{}_overlay.png", r.files.roi_id));
    let result = write_atomic(&path, |out: &mut dyn Write| -> Result<(), Inner> {
        let mut stream =
            crate::codec::png::PngWriter::new(out, ow, oh, 3, plan.compression).map_err(std::io::Error::from)?;
        let (mut codes, mut rgb, mut small, mut tsmall) = (vec![0u8; w], vec![0u8; w * 3], Vec::new(), Vec::new());
        let mut out_y = 0;
        let emit = |row: &mut Vec<u8>, out_y: &mut usize, stream: &mut dyn Write| -> std::io::Result<()> {
            let ly = out_y.wrapping_sub(margin);
            if *out_y >= margin && ly < legend.height && margin < ow {
                let lw = legend.width.min(ow - margin);
                row[margin * 3..(margin + lw) * 3]
                    .copy_from_slice(&legend.data[ly * legend.width * 3..(ly * legend.width + lw) * 3]);
            }
            *out_y += 1;
            stream.write_all(row)
        };
        for y in 0..h {
            input::read_row(&mut mrows, &mut codes, mask_path)?;
            input::read_row(&mut irows, &mut rgb, image_path)?;
            for (x, v) in codes.iter_mut().enumerate() {
                let class = lut[*v as usize];
                if class == NOT_A_CODE {
                    let problem = InputProblem::BadValue { value: *v, x, y, expected: "a BCSS code (0..=21)".into() };
                    return Err(InputError::new(mask_path, problem).into());
                }
                *v = class;
            }
            blend_row(&mut rgb, &codes, &palette, alpha256);
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
    let longest_id = ids.iter().map(|id| id.chars().count()).max().unwrap_or(0);
    let cell_w = thumb.max(longest_id * ADVANCE).saturating_add(12);
    let cell_h = thumb.saturating_add(2 * LINE + 14);
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
pub fn contact_sheet(thumbs: &[(&RoiInput, Canvas)], thumb: usize) -> Canvas {
    let ids: Vec<&str> = thumbs.iter().map(|(r, _)| r.files.roi_id.as_str()).collect();
    let (cell_w, cell_h, cols, _) = sheet_grid(&ids, thumb);
    let (width, height) = sheet_size(&ids, thumb);
    let mut c = Canvas::new(width, height, [255, 255, 255]);
    for (i, (r, t)) in thumbs.iter().enumerate() {
        let (x0, y0) = ((i % cols) * cell_w + 6, (i / cols) * cell_h + 6);
        c.blit(x0, y0, t.width, t.height, &t.data);
        c.text(x0, y0 + thumb + 3, &r.files.roi_id, 1, [0, 0, 0]);
        c.text(x0, y0 + thumb + 3 + LINE, r.part.as_str(), 1, part_color(r.part.as_str()));
    }
    c
}

/// The overlay file of a ROI under `out`.
pub fn overlay_path(out: &Path, roi_id: &str) -> PathBuf {
    out.join(format!("{roi_id}_overlay.png"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::split::Part;
    use crate::codec::png::{decode_rgb, write_raw};
    use crate::dataset::pairs::RoiFiles;
    use crate::report::Silent;

    #[test]
    fn blend_by_hand_and_dont_care_untouched() {
        let mut palette = [[0u8; 3]; 256];
        palette[1] = [200, 0, 100];
        let mut row = vec![100u8, 100, 100, 100, 100, 100];
        blend_row(&mut row, &[1, 0], &palette, 128);
        // (100 * 128 + 200 * 128 + 128) >> 8 = 150; (100 * 128 + 128) >> 8 = 50; 100.
        assert_eq!(row, vec![150, 50, 100, 100, 100, 100]);
    }

    #[test]
    fn shrink_averages_blocks_with_partial_edges() {
        let mut s = Shrink::new(3, 2);
        let mut out = Vec::new();
        assert!(!s.push(&[0, 0, 0, 10, 10, 10, 7, 7, 7], &mut out));
        assert!(s.push(&[20, 20, 20, 30, 30, 30, 9, 9, 9], &mut out));
        assert_eq!(out, vec![15, 15, 15, 8, 8, 8]);
        assert!(!s.flush(&mut out));
    }

    #[test]
    fn overlay_and_sheet_end_to_end() {
        let d = tempfile::tempdir().unwrap();
        let (w, h) = (120, 90);
        std::fs::create_dir_all(d.path().join("masks")).unwrap();
        std::fs::create_dir_all(d.path().join("images")).unwrap();
        let mask: Vec<u8> = (0..w * h).map(|i| if i % w < 60 { 0 } else { 2 }).collect();
        let img = vec![100u8; w * h * 3];
        let (mp, ip) =
            (d.path().join("masks/R_xmin0_ymin0_MPP-0.2500.png"), d.path().join("images/R_xmin0_ymin0_MPP-0.2500.png"));
        let mut b = Vec::new();
        write_raw(&mut b, w, h, 1, &mask, Compression::Fast).unwrap();
        std::fs::write(&mp, b).unwrap();
        let mut b = Vec::new();
        write_raw(&mut b, w, h, 3, &img, Compression::Fast).unwrap();
        std::fs::write(&ip, b).unwrap();
        let map = ClassMap::preset("main5").unwrap();
        let plan = OverlayPlan {
            map: map.clone(),
            alpha: 0.5,
            downsample: 1,
            thumb: 16,
            out: d.path().join("o"),
            compression: Compression::Fast,
            wait_lock: false,
        };
        let roi = RoiInput {
            files: RoiFiles { roi_id: "R".into(), xmin: 0, ymin: 0, image: Some(ip), mask: mp },
            part: Part::Test,
        };
        let s = overlay(&plan, std::slice::from_ref(&roi), &Silent).unwrap();
        let o = decode_rgb(&std::fs::read(&s.overlays[0]).unwrap()).unwrap();
        assert_eq!((o.width, o.height), (120, 90));
        let at = |x: usize, y: usize| o.data[(y * 120 + x) * 3..(y * 120 + x) * 3 + 3].to_vec();
        // Bottom-right pixel (below the legend): stroma blended half and half with 100.
        let want: Vec<u8> = map.color(2).iter().map(|&v| ((100 * 128 + v as u32 * 128 + 128) >> 8) as u8).collect();
        assert_eq!(at(119, 89), want);
        // Bottom-left: don't care, unchanged.
        assert_eq!(at(0, 89), vec![100, 100, 100]);
        // The legend box starts at (8, 8) with its black border, white inside.
        assert_eq!((at(8, 8), at(9, 9), at(7, 7)), (vec![0, 0, 0], vec![255, 255, 255], vec![100, 100, 100]));
        let sheet = decode_rgb(&std::fs::read(&s.contact_sheet).unwrap()).unwrap();
        // One cell: thumbnail 16 wide (factor 8 -> 15 x 12), label width max(16, 6) + 12.
        assert_eq!((sheet.width, sheet.height), (28, 16 + 16 + 14));

        // A thumbnail size whose contact sheet would exceed MAX_PIXELS: refused before `out` is
        // created (an absurd size saturates instead of overflowing).
        for thumb in [100_000, usize::MAX] {
            let plan = OverlayPlan { thumb, out: d.path().join("huge"), ..plan.clone() };
            let err = overlay(&plan, std::slice::from_ref(&roi), &Silent).unwrap_err();
            assert!(matches!(err, OverlayError::SheetTooLarge { rois: 1, .. }), "{err}");
            assert!(!plan.out.exists());
        }
    }
}
