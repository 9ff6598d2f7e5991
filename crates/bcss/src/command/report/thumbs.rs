//! The report's pictures of one ROI, made in one streamed pass over its mask and image: the
//! image shrunk to at most `long_side` pixels on its long side (box filter,
//! [`crate::transform::shrink`]), the mask sampled at the same size (nearest neighbour with
//! [`crate::transform::resize::NearestRows`]' rule), and from those three JPEGs (plain, fill,
//! outline: painted by [`crate::render::overlay`], as `bcss overlay` paints) and one PNG of the
//! mask in class colours. A worker holds a row of the source and the thumbnails, never the ROI.

use std::path::Path;

use crate::catalog::classmap::{ClassMap, NOT_A_CODE};
use crate::codec::png::{write_rgb, Compression};
use crate::command::input::{self, InputError, InputProblem};
use crate::model::{GrayImage, RgbImage};
use crate::render::overlay::{palette, render_row, Paint};
use crate::transform::resize::NearestRows;
use crate::transform::shrink::Shrink;

/// JPEG quality of the thumbnails: small files, and at 256 pixels no visible blocks.
const JPEG_QUALITY: i32 = 80;
/// Opacity of the fill overlay, as `bcss overlay`'s default `--alpha 0.4` (out of 256).
const FILL_ALPHA256: u32 = 102;
/// The colour of don't care (truth) and of "no prediction" in a class-colour picture.
pub const NO_CLASS: [u8; 3] = [224, 224, 224];

/// The thumbnail size of a `width x height` ROI: the shrink factor and the output size, at most
/// `long_side` on the long side (a factor of 1 for a ROI already that small).
pub fn thumb_size(width: usize, height: usize, long_side: usize) -> (usize, usize, usize) {
    let f = width.max(height).div_ceil(long_side.max(1)).max(1);
    (f, width.div_ceil(f), height.div_ceil(f))
}

/// The pictures of one ROI.
#[derive(Debug, Clone)]
pub struct RoiThumbs {
    /// Thumbnail width.
    pub width: usize,
    /// Thumbnail height.
    pub height: usize,
    /// JPEGs of the image, plain, with the mask filled, with the mask outlined (`None` without
    /// an image).
    pub views: Option<[Vec<u8>; 3]>,
    /// PNG of the mask in class colours.
    pub truth: Vec<u8>,
}

/// Samples rows of a `w x h` label picture at `tw x th` ([`NearestRows`], the pipeline's rule).
struct Sampler {
    resize: NearestRows,
    out: Vec<u8>,
    size: (usize, usize),
}

impl Sampler {
    fn new(w: usize, h: usize, tw: usize, th: usize) -> Sampler {
        Sampler { resize: NearestRows::new(w, h, tw, th), out: Vec::with_capacity(tw * th), size: (tw, th) }
    }

    /// Takes what it needs of the next source row.
    fn offer(&mut self, row: &[u8]) {
        self.resize.push_rows(row, &mut self.out);
    }

    /// The sampled picture, once every source row was offered.
    fn into_image(self) -> GrayImage {
        GrayImage { width: self.size.0, height: self.size.1, data: self.out }
    }
}

/// A PNG of class values in their colours (0: [`NO_CLASS`]; a value past K black).
pub fn class_picture(classes: &GrayImage, map: &ClassMap) -> Vec<u8> {
    let mut pal = palette(map);
    pal[0] = NO_CLASS;
    let data = classes.data.iter().flat_map(|&v| pal[v as usize]).collect();
    let rgb = RgbImage { width: classes.width, height: classes.height, data };
    let mut png = Vec::new();
    write_rgb(&mut png, &rgb, Compression::Balanced).expect("encoding to memory");
    png
}

fn jpeg(image: &RgbImage) -> Result<Vec<u8>, std::io::Error> {
    crate::codec::jpeg::encode_rgb(image, JPEG_QUALITY)
        .map_err(|e| std::io::Error::other(crate::report::error_chain(&e)))
}

/// Makes the pictures of a ROI: `mask` (BCSS codes, remapped through `map`) and its `image`.
pub fn roi_thumbs(
    mask: &Path,
    image: Option<&Path>,
    map: &ClassMap,
    long_side: usize,
) -> Result<RoiThumbs, InputError> {
    let mut mrows = input::open_mask(mask)?;
    let (w, h) = (mrows.width(), mrows.height());
    let mut irows = match image {
        Some(path) => Some((input::open_image_of(path, &mrows)?, path)),
        None => None,
    };
    let (f, tw, th) = thumb_size(w, h, long_side);
    let lut = map.lut();
    let mut sampler = Sampler::new(w, h, tw, th);
    let mut shrink = Shrink::new(w, f);
    let (mut codes, mut rgb, mut small) = (vec![0u8; w], vec![0u8; w * 3], Vec::new());
    let mut plain = Vec::with_capacity(tw * th * 3);
    for y in 0..h {
        input::read_row(&mut mrows, &mut codes, mask)?;
        for (x, v) in codes.iter_mut().enumerate() {
            let class = lut[*v as usize];
            if class == NOT_A_CODE {
                let problem = InputProblem::BadValue { value: *v, x, y, expected: "a BCSS code (0..=21)".into() };
                return Err(InputError::new(mask, problem));
            }
            *v = class;
        }
        sampler.offer(&codes);
        if let Some((rows, path)) = irows.as_mut() {
            input::read_row(rows, &mut rgb, path)?;
            if shrink.push(&rgb, &mut small) {
                plain.extend_from_slice(&small);
            }
        }
    }
    input::finish(mrows, mask)?;
    let classes = sampler.into_image();
    let truth = class_picture(&classes, map);
    let Some((rows, path)) = irows else { return Ok(RoiThumbs { width: tw, height: th, views: None, truth }) };
    input::finish(rows, path)?;
    if shrink.flush(&mut small) {
        plain.extend_from_slice(&small);
    }
    let pal = palette(map);
    let plain = RgbImage { width: tw, height: th, data: plain };
    let (mut fill, mut outline) = (plain.clone(), plain.clone());
    let class_rows: Vec<&[u8]> = classes.data.chunks_exact(tw).collect();
    for (y, (frow, orow)) in fill.data.chunks_exact_mut(tw * 3).zip(outline.data.chunks_exact_mut(tw * 3)).enumerate() {
        render_row(frow, &class_rows[y..=y], 0, &pal, Paint::Fill { alpha256: FILL_ALPHA256 });
        let (lo, hi) = (y.saturating_sub(1), (y + 1).min(th - 1));
        render_row(orow, &class_rows[lo..=hi], y - lo, &pal, Paint::Outline { r: 1 });
    }
    let err = |e: std::io::Error| InputError::new(path, e);
    let views = [jpeg(&plain).map_err(err)?, jpeg(&fill).map_err(err)?, jpeg(&outline).map_err(err)?];
    Ok(RoiThumbs { width: tw, height: th, views: Some(views), truth })
}

/// A prediction sampled at the thumbnail size of its ROI (`w x h` source, `tw x th` out) and
/// painted in class colours. Values are the map's classes (0: no prediction).
pub fn prediction_picture(pred: &Path, tw: usize, th: usize, map: &ClassMap) -> Result<Vec<u8>, InputError> {
    let mut rows = input::open_mask(pred)?;
    let (w, h) = (rows.width(), rows.height());
    let mut sampler = Sampler::new(w, h, tw, th);
    let mut row = vec![0u8; w];
    for _ in 0..h {
        input::read_row(&mut rows, &mut row, pred)?;
        sampler.offer(&row);
    }
    input::finish(rows, pred)?;
    Ok(class_picture(&sampler.into_image(), map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_fit_the_long_side_and_keep_the_aspect() {
        for (w, h) in [(4000, 3000), (12000, 11000), (300, 5000), (256, 256), (100, 40), (257, 1), (1, 1)] {
            let (f, tw, th) = thumb_size(w, h, 256);
            assert!(tw.max(th) <= 256 && tw >= 1 && th >= 1, "{w}x{h} -> {tw}x{th}");
            assert_eq!((tw, th), (w.div_ceil(f), h.div_ceil(f)));
            // The factor is the smallest that fits: one less would not.
            assert!(f == 1 || w.max(h).div_ceil(f - 1) > 256, "{w}x{h}: {f}");
        }
        assert_eq!(thumb_size(100, 40, 256), (1, 100, 40));
        assert_eq!(thumb_size(4000, 3000, 256), (16, 250, 188));
    }

    /// A 600 x 300 ROI of grey 100: tumour (code 1) on the left, stroma (code 2) on the right,
    /// a 20-pixel border of don't care. Shrunk by 3 to 200 x 100; the views are JPEG, so pixels
    /// are compared within a tolerance.
    #[test]
    fn views_are_painted_as_overlay_paints_them() {
        let d = tempfile::tempdir().unwrap();
        let (w, h) = (600, 300);
        let mask: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if x < 20 || y < 20 || x >= w - 20 || y >= h - 20 {
                    0
                } else if x < w / 2 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let (mp, ip) = (d.path().join("m.png"), d.path().join("i.png"));
        let mut b = Vec::new();
        crate::codec::png::write_gray(&mut b, &GrayImage { width: w, height: h, data: mask }, Compression::Fast)
            .unwrap();
        std::fs::write(&mp, b).unwrap();
        let mut b = Vec::new();
        write_rgb(&mut b, &RgbImage::filled(w, h, [100; 3]), Compression::Fast).unwrap();
        std::fs::write(&ip, b).unwrap();
        let map = ClassMap::preset("main5").unwrap();
        let t = roi_thumbs(&mp, Some(&ip), &map, 256).unwrap();
        assert_eq!((t.width, t.height), (200, 100));
        let [plain, fill, outline] =
            t.views.as_ref().unwrap().clone().map(|j| crate::codec::jpeg::decode_rgb(&j).unwrap());
        let at = |img: &RgbImage, x: usize, y: usize| img.pixel(x, y).map(i32::from);
        let near = |a: [i32; 3], b: [i32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 12);
        let tumour = map.color(1).map(i32::from);
        let blend = tumour.map(|c| (100 * (256 - FILL_ALPHA256 as i32) + c * FILL_ALPHA256 as i32 + 128) >> 8);
        let dim = (100 * crate::render::overlay::DIM as i32 + 128) >> 8;
        // Inside the tumour: plain grey, filled blended, outlined left alone.
        assert!(near(at(&plain, 50, 50), [100; 3]), "{:?}", at(&plain, 50, 50));
        assert!(near(at(&fill, 50, 50), blend), "{:?} vs {blend:?}", at(&fill, 50, 50));
        assert!(near(at(&outline, 50, 50), [100; 3]), "{:?}", at(&outline, 50, 50));
        // On the tumour/stroma border (thumbnail column 99): outlined in the tumour's colour.
        assert!(near(at(&outline, 99, 50), tumour), "{:?} vs {tumour:?}", at(&outline, 99, 50));
        // Don't care (the border) is dimmed in the painted views, not in the plain one.
        assert!(near(at(&fill, 2, 2), [dim; 3]) && near(at(&outline, 2, 50), [dim; 3]));
        assert!(near(at(&plain, 2, 2), [100; 3]));
        // The truth picture: class colours, don't care light grey, exact (PNG).
        let truth = crate::codec::png::decode_rgb(&t.truth).unwrap();
        assert_eq!((truth.width, truth.height), (200, 100));
        assert_eq!(at(&truth, 50, 50), tumour);
        assert_eq!(at(&truth, 1, 1), NO_CLASS.map(i32::from));
    }
}
