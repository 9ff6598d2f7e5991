//! The stand-in's pictures: a known colour at every base pixel, a known label at every base
//! pixel, and the region geometry of large_image (spec section 2.3), written here from the spec
//! independently of `bcss::transform::region` so that a bug in the client's copy shows up.
//!
//! # The pixel function
//!
//! The colour of base pixel (bx, by) is [`colour`]:
//! `R = bx mod 256`, `G = by mod 256`, `B = (37 * (bx div 256) + 91 * (by div 256)) mod 256`.
//! R and G pin a pixel's position within a 256-pixel block, B tells blocks apart, so a region
//! shifted by any amount, or scaled wrongly, does not match.
//!
//! # The tissue picture
//!
//! For download benchmarks, the region endpoint can paint an H&E-like picture instead
//! ([`Picture::Tissue`], `bcss-testserver --picture tissue`; see [`crate::tissue`]): white glass,
//! pink stroma with fibres, purple nuclei and sensor noise, a pure function of (bx, by) that
//! never repeats, so compressors meet what they meet on real slides. Sampling, encodings and
//! masks are the same for both pictures; only the colour of a base pixel differs. The test
//! pattern stays the default: the geometry tests need it.
//!
//! # Sampling
//!
//! A region of `rw x rh` base pixels at `(left, top)` rendered at `ow x oh` output pixels
//! samples, for output pixel (i, j), the base pixel
//! `(left + floor((2i + 1) * rw / (2 ow)), top + floor((2j + 1) * rh / (2 oh)))`, the base pixel
//! under the output pixel's centre (integer arithmetic, so tests can repeat it exactly; see
//! [`sample_index`]). Example: 5 base columns into 2 output columns sample columns 1 and 3.
//!
//! # The mask function
//!
//! The label of base pixel (bx, by) is [`mask_code`]: `(bx div 37 + 3 * (by div 53)) mod 22`,
//! so every code 0..=21 appears and the mask is piecewise constant in 37 x 53 blocks.
//!
//! Invariant: pure functions, no I/O.

use bcss_model::{GrayImage, Rect};

use crate::tissue;

/// The colour of base pixel (bx, by). See the module docs.
pub fn colour(bx: u64, by: u64) -> [u8; 3] {
    [(bx % 256) as u8, (by % 256) as u8, ((37 * (bx / 256) + 91 * (by / 256)) % 256) as u8]
}

/// The label code (0..=21) of base pixel (bx, by). See the module docs.
pub fn mask_code(bx: u64, by: u64) -> u8 {
    ((bx / 37 + 3 * (by / 53)) % 22) as u8
}

/// The base offset (within the region) sampled by output index `o` when `n_in` base pixels are
/// rendered as `n_out` output pixels: `floor((2o + 1) * n_in / (2 n_out))`.
pub fn sample_index(o: u64, n_in: u64, n_out: u64) -> u64 {
    ((2 * o + 1) * n_in / (2 * n_out)).min(n_in.saturating_sub(1))
}

/// Which picture the region endpoint paints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Picture {
    /// The test pattern, [`colour`]: positions can be read back from pixels.
    #[default]
    Pattern,
    /// H&E-like tissue, [`crate::tissue::tissue`]: compresses like a real slide (benchmarks).
    Tissue,
}

/// Renders a region of the test pattern as packed RGB (`out_w * out_h * 3` bytes) or RGBA
/// (4 bytes, alpha 255).
pub fn render(region: Rect, out_w: u64, out_h: u64, alpha: bool) -> Vec<u8> {
    render_picture(Picture::Pattern, region, out_w, out_h, alpha)
}

/// Renders a region of `picture` as [`render`] does (same sampling, same layout).
pub fn render_picture(picture: Picture, region: Rect, out_w: u64, out_h: u64, alpha: bool) -> Vec<u8> {
    let channels = if alpha { 4 } else { 3 };
    let cols: Vec<u64> = (0..out_w).map(|i| region.left + sample_index(i, region.width(), out_w)).collect();
    let row_len = out_w as usize * channels;
    let mut data = vec![255u8; row_len * out_h as usize];
    if data.is_empty() {
        return data;
    }
    let paint = |j: u64, row: &mut [u8]| {
        let by = region.top + sample_index(j, region.height(), out_h);
        // Alpha, when there is one, is already 255.
        match picture {
            Picture::Pattern => {
                for (px, &bx) in row.chunks_exact_mut(channels).zip(&cols) {
                    px[..3].copy_from_slice(&colour(bx, by));
                }
            }
            Picture::Tissue => tissue::paint_row(by, &cols, row, channels),
        }
    };
    let paint_band = |first: usize, band: &mut [u8]| {
        for (r, row) in band.chunks_mut(row_len).enumerate() {
            paint((first + r) as u64, row);
        }
    };
    // Large regions in bands of rows, one per core: the tissue costs about 25 ns of CPU a
    // pixel, so a 12000 x 11000 region would take over 3 s on one core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bands = if out_w * out_h < 1 << 20 { 1 } else { cores.min(out_h as usize) };
    let band_rows = (out_h as usize).div_ceil(bands);
    if bands == 1 {
        paint_band(0, &mut data);
    } else {
        std::thread::scope(|s| {
            for (k, band) in data.chunks_mut(band_rows * row_len).enumerate() {
                let paint_band = &paint_band;
                s.spawn(move || paint_band(k * band_rows, band));
            }
        });
    }
    data
}

/// The grey mask of a ROI at base size: pixel (x, y) = [`mask_code`]`(xmin + x, ymin + y)`.
pub fn render_mask(region: Rect) -> GrayImage {
    let mut data = Vec::with_capacity((region.width() * region.height()) as usize);
    for by in region.top..region.bottom {
        for bx in region.left..region.right {
            data.push(mask_code(bx, by));
        }
    }
    GrayImage { width: region.width() as usize, height: region.height() as usize, data }
}

/// What a slide says about itself (`GET item/{id}/tiles`), as the geometry needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Native {
    /// Base width.
    pub size_x: u64,
    /// Base height.
    pub size_y: u64,
    /// Pyramid levels.
    pub levels: u32,
    /// Objective power.
    pub magnification: Option<f64>,
    /// mm per base pixel, x.
    pub mm_x: Option<f64>,
    /// mm per base pixel, y.
    pub mm_y: Option<f64>,
}

/// The query of a region request, parsed (all optional, as on the server).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RegionQuery {
    /// `left` (negative: from the right edge).
    pub left: Option<f64>,
    /// `top`.
    pub top: Option<f64>,
    /// `right` (exclusive).
    pub right: Option<f64>,
    /// `bottom` (exclusive).
    pub bottom: Option<f64>,
    /// `regionWidth`.
    pub region_width: Option<f64>,
    /// `regionHeight`.
    pub region_height: Option<f64>,
    /// `width` (maximum output width).
    pub width: Option<f64>,
    /// `height` (maximum output height).
    pub height: Option<f64>,
    /// `magnification`.
    pub magnification: Option<f64>,
    /// `mm_x`.
    pub mm_x: Option<f64>,
    /// `mm_y`.
    pub mm_y: Option<f64>,
}

/// What the server makes of a region request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionAnswer {
    /// The region after clamping.
    pub region: Rect,
    /// Output width (0 = empty body).
    pub out_w: u64,
    /// Output height (0 = empty body).
    pub out_h: u64,
    /// The step-A scale (base pixels per output pixel), `None` when no ratio could be formed.
    pub scale: Option<f64>,
}

/// Python's `round(x, 4)` (correctly rounded decimal, via Rust's exact float formatting).
pub fn py_round4(x: f64) -> f64 {
    let s = format!("{x:.4}");
    s.parse().expect("formatted float")
}

/// Python's `round(x)` for a float: nearest integer, ties to even.
pub fn py_round(x: f64) -> f64 {
    let f = x.floor();
    let d = x - f;
    // Up when past the half, or exactly at it from an odd integer.
    if d > 0.5 || (d == 0.5 && f % 2.0 != 0.0) {
        f + 1.0
    } else {
        f
    }
}

fn log2(x: f64) -> f64 {
    // Python's math.log(x, 2) is ln(x) / ln(2).
    x.ln() / 2f64.ln()
}

/// Spec 2.3 step A: the scale, from the requested magnification / mm per pixel.
pub fn target_scale(native: &Native, q: &RegionQuery) -> Option<f64> {
    if q.width.is_some() || q.height.is_some() {
        return None;
    }
    let mut ratios: Vec<f64> = Vec::new();
    if let (Some(req), Some(nat)) = (q.magnification, native.magnification) {
        if req != 0.0 && nat != 0.0 {
            ratios.push(py_round4(log2(req / nat)));
        }
    }
    if let (Some(req), Some(nat)) = (q.mm_x, native.mm_x) {
        if req != 0.0 && nat != 0.0 {
            ratios.push(py_round4(log2(nat / req)));
        }
    }
    if let (Some(req), Some(nat)) = (q.mm_y, native.mm_y) {
        if req != 0.0 && nat != 0.0 {
            ratios.push(py_round4(log2(nat / req)));
        }
    }
    if ratios.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for r in &ratios {
        sum += r;
    }
    let mean = py_round4(sum / ratios.len() as f64);
    let max_level = f64::from(native.levels - 1);
    let level = max_level + mean;
    if level == max_level {
        Some(1.0)
    } else {
        Some(2f64.powf(max_level - level))
    }
}

/// Spec 2.3 step B: the region in base pixels, edges from the right/bottom when negative,
/// missing edges filled in, rounded half to even and clamped to the slide.
pub fn region_bounds(native: &Native, q: &RegionQuery) -> Rect {
    let axis = |lo: Option<f64>, hi: Option<f64>, size_req: Option<f64>, size: u64| -> (u64, u64) {
        let size_f = size as f64;
        let fix = |v: f64| if v < 0.0 { v + size_f } else { v };
        let lo = lo.map(fix);
        let hi = hi.map(fix);
        let (lo, hi) = match (lo, hi, size_req) {
            (Some(l), Some(h), _) => (l, h),
            (None, Some(h), Some(w)) => (h - w, h),
            (None, Some(h), None) => (0.0, h),
            (Some(l), None, Some(w)) => (l, l + w),
            (Some(l), None, None) => (l, size_f),
            (None, None, Some(w)) => (0.0, w),
            (None, None, None) => (0.0, size_f),
        };
        let lo = py_round(lo).max(0.0).min(size_f);
        let hi = py_round(hi).max(lo).min(size_f);
        (lo as u64, hi as u64)
    };
    let (left, right) = axis(q.left, q.right, q.region_width, native.size_x);
    let (top, bottom) = axis(q.top, q.bottom, q.region_height, native.size_y);
    Rect { left, top, right, bottom }
}

/// large_image's `_calculateWidthHeight` (current branch logic), spec 2.3 step C.2.
pub fn fit_within(max_w: Option<f64>, max_h: Option<f64>, region_w: f64, region_h: f64) -> (u64, u64) {
    let (max_w, max_h) = match (max_w, max_h) {
        (Some(w), Some(h)) => (w, h),
        (Some(w), None) => (w, w * 16.0),
        (None, Some(h)) => (h * 16.0, h),
        (None, None) => (region_w, region_h),
    };
    let sw = (region_w * max_h / region_h).trunc().max(1.0);
    let sh = (region_h * max_w / region_w).trunc().max(1.0);
    let (w, h) =
        if sw == max_w || (max_w * region_h > max_h * region_w && sh != max_h) { (sw, max_h) } else { (max_w, sh) };
    (w.trunc().max(0.0) as u64, h.trunc().max(0.0) as u64)
}

/// The whole of spec 2.3 A-C: clamped region, scale and output size.
pub fn answer(native: &Native, q: &RegionQuery) -> RegionAnswer {
    let region = region_bounds(native, q);
    let scale = target_scale(native, q);
    let (rw, rh) = (region.width() as f64, region.height() as f64);
    if rw == 0.0 || rh == 0.0 {
        return RegionAnswer { region, out_w: 0, out_h: 0, scale };
    }
    let (out_w, out_h) = if q.width.is_some() || q.height.is_some() {
        fit_within(q.width, q.height, rw, rh)
    } else {
        match scale {
            Some(s) if s != 1.0 => fit_within(Some(rw / s), Some(rh / s), rw, rh),
            _ => fit_within(Some(rw), Some(rh), rw, rh),
        }
    };
    RegionAnswer { region, out_w, out_h, scale }
}

/// large_image's level count for a base size and tile size.
pub fn levels(size_x: u64, size_y: u64, tile_w: u64, tile_h: u64) -> u32 {
    let lx = (size_x as f64 / tile_w as f64).log2();
    let ly = (size_y as f64 / tile_h as f64).log2();
    (lx.max(ly).ceil().max(0.0) as u32) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(size: u64, mm: f64, mag: f64) -> Native {
        Native {
            size_x: size,
            size_y: size,
            levels: levels(size, size, 256, 256),
            magnification: Some(mag),
            mm_x: Some(mm),
            mm_y: Some(mm),
        }
    }

    fn q(l: f64, t: f64, r: f64, b: f64) -> RegionQuery {
        RegionQuery { left: Some(l), top: Some(t), right: Some(r), bottom: Some(b), ..Default::default() }
    }

    #[test]
    fn spec_worked_examples() {
        let n = native(100_000, 0.000252, 40.0);
        let base = q(45749.0, 25055.0, 49789.0, 27991.0);
        let a = answer(&n, &RegionQuery { mm_x: Some(0.0002), mm_y: Some(0.0002), ..base });
        assert_eq!((a.out_w, a.out_h), (5090, 3699));
        assert!((a.scale.unwrap() - 0.793664).abs() < 1e-6);
        let a = answer(&n, &RegionQuery { mm_x: Some(0.0003), mm_y: Some(0.0003), ..base });
        assert_eq!((a.out_w, a.out_h), (3393, 2466));
        let n20 = native(100_000, 0.000504, 20.0);
        let a = answer(&n20, &RegionQuery { mm_x: Some(0.0002), mm_y: Some(0.0002), ..base });
        assert_eq!((a.out_w, a.out_h), (10180, 7398));
    }

    #[test]
    fn real_dsa_observations() {
        // ../shared/real-dsa/README.md, slide 1: 20000 x 15000, 0.25 um, 40x.
        let n = Native {
            size_x: 20000,
            size_y: 15000,
            levels: 8,
            magnification: Some(40.0),
            mm_x: Some(0.00025),
            mm_y: Some(0.00025),
        };
        let b = q(4000.0, 3000.0, 6000.0, 4500.0);
        let a = answer(&n, &RegionQuery { magnification: Some(20.0), ..b });
        assert_eq!((a.out_w, a.out_h), (1000, 750));
        let a = answer(&n, &RegionQuery { mm_x: Some(0.00025), mm_y: Some(0.00025), ..b });
        assert_eq!((a.out_w, a.out_h, a.scale), (2000, 1500, Some(1.0)));
        let a = answer(&n, &q(19000.0, 0.0, 21000.0, 1000.0));
        assert_eq!((a.out_w, a.out_h), (1000, 1000), "clipped, not padded");
        let a = answer(&n, &q(-1000.0, 0.0, -500.0, 10.0));
        assert_eq!(a.region, Rect { left: 19000, top: 0, right: 19500, bottom: 10 });
        let a = answer(&n, &q(25000.0, 0.0, 26000.0, 1000.0));
        assert_eq!((a.out_w, a.out_h), (0, 0));
        let a = answer(&n, &q(4000.5, 0.0, 4100.7, 10.0));
        assert_eq!(a.out_w, 101, "fractional edges round half to even: 4000..4101");
        let a = answer(&n, &RegionQuery { width: Some(1000.0), ..q(0.0, 0.0, 20000.0, 15000.0) });
        assert_eq!((a.out_w, a.out_h), (1000, 750));
    }

    #[test]
    fn python_rounding() {
        assert_eq!(py_round(2.5), 2.0);
        assert_eq!(py_round(3.5), 4.0);
        assert_eq!(py_round(-0.5), -0.0);
        assert_eq!(py_round4(-0.26303440583379395), -0.263);
        assert_eq!(levels(20000, 15000, 256, 256), 8);
    }

    #[test]
    fn sampling_is_the_pixel_under_the_centre() {
        assert_eq!((0..2).map(|o| sample_index(o, 5, 2)).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!((0..4).map(|o| sample_index(o, 2, 4)).collect::<Vec<_>>(), vec![0, 0, 1, 1]);
        assert_eq!((0..3).map(|o| sample_index(o, 3, 3)).collect::<Vec<_>>(), vec![0, 1, 2]);
        let px = render(Rect { left: 256, top: 1, right: 258, bottom: 2 }, 2, 1, false);
        assert_eq!(px, vec![0, 1, 37, 1, 1, 37]);
        assert!((0..=21).all(|c| render_mask(Rect { left: 0, top: 0, right: 37 * 22, bottom: 1 }).data.contains(&c)));
    }
}
