//! Region geometry: what a DSA `tiles/region` request returns, computed exactly.
//!
//! large_image answers `GET item/{id}/tiles/region?left&top&right&bottom&mm_x&mm_y` (or
//! `magnification`) by (A) turning the requested resolution into a scale through a log2 ratio
//! rounded to 4 decimals, (B) clamping the region to the slide, (C) sizing the output with
//! `_calculateWidthHeight`, and (D) choosing the pyramid level to read from. [`plan_region`]
//! follows the same f64 operations in the same order (spec section 2.3), so bcss knows the exact
//! output size before downloading and can refuse a response of any other size.
//!
//! Worked example (spec 2.3): a 4040 x 2936 region of a slide with native `mm_x = 0.000252`,
//! requested at `mm_x = 0.0003` (the original downloader's MPP 0.25 after its `%.4f` rounding):
//! ratio = round(log2(0.000252 / 0.0003), 4) = -0.2515, scale = 2^0.2515 = 1.190444...,
//! output = floor(4040 / scale) x floor(2936 / scale) = 3393 x 2466.
//!
//! Invariant: pure arithmetic, no I/O.

use bcss_model::{Rect, SlideGeometry};

/// The resolution asked of the server, in the server's own terms.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ScaleRequest {
    /// No scale parameter: base resolution.
    Base,
    /// `mm_x` and `mm_y`, millimetres per output pixel.
    Mm {
        /// Requested mm per pixel, horizontally.
        mm_x: f64,
        /// Requested mm per pixel, vertically.
        mm_y: f64,
    },
    /// `magnification`, the requested objective power.
    Magnification(f64),
}

/// What the server will do with one region request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionPlan {
    /// The requested region after clamping to the slide (base pixels).
    pub region: Rect,
    /// Base pixels per output pixel (1.0 at base resolution; below 1 means up-sampling).
    pub scale: f64,
    /// Output width in pixels.
    pub out_width: u64,
    /// Output height in pixels.
    pub out_height: u64,
    /// Index of the pyramid level read (`levels - 1` is full resolution).
    pub read_level: u32,
    /// The region at the read level, in that level's pixels.
    pub level_region: Rect,
}

impl RegionPlan {
    /// Downsample factor of the level read, relative to base (a power of two).
    pub fn level_downsample(&self, geometry: &SlideGeometry) -> u64 {
        1u64 << (geometry.levels - 1 - self.read_level)
    }
}

/// Python's `round(x, 4)`: correctly rounded to 4 decimals.
fn round4(x: f64) -> f64 {
    format!("{x:.4}").parse().expect("a formatted float parses")
}

/// The scale large_image derives from a resolution request (step A of spec 2.3), or `None` when
/// no ratio can be formed (nothing requested, or the slide lacks the metadata): base resolution.
pub fn scale_for(geometry: &SlideGeometry, request: ScaleRequest) -> Option<f64> {
    let ln2 = std::f64::consts::LN_2;
    let mut ratios = Vec::new();
    match request {
        ScaleRequest::Base => {}
        ScaleRequest::Magnification(m) => {
            if let Some(native) = geometry.magnification.filter(|n| *n != 0.0) {
                if m != 0.0 {
                    ratios.push(round4((m / native).ln() / ln2));
                }
            }
        }
        ScaleRequest::Mm { mm_x, mm_y } => {
            if let Some(native) = geometry.mm_x.filter(|n| *n != 0.0) {
                if mm_x != 0.0 {
                    ratios.push(round4((native / mm_x).ln() / ln2));
                }
            }
            if let Some(native) = geometry.mm_y.filter(|n| *n != 0.0) {
                if mm_y != 0.0 {
                    ratios.push(round4((native / mm_y).ln() / ln2));
                }
            }
        }
    }
    if ratios.is_empty() {
        return None;
    }
    let l = f64::from(geometry.levels - 1);
    let ratio = round4(ratios.iter().sum::<f64>() / ratios.len() as f64);
    let level = l + ratio;
    Some(if level == l { 1.0 } else { 2f64.powf(l - level) })
}

/// large_image's `_calculateWidthHeight`: the largest size within `max_w` x `max_h` that keeps
/// the region's aspect ratio.
fn calculate_width_height(max_w: f64, max_h: f64, region_w: f64, region_h: f64) -> (u64, u64) {
    if region_w == 0.0 || region_h == 0.0 {
        return (0, 0);
    }
    let scaled_w = (region_w * max_h / region_h).trunc().max(1.0);
    let scaled_h = (region_h * max_w / region_w).trunc().max(1.0);
    let (w, h) = if scaled_w == max_w || (max_w * region_h > max_h * region_w && scaled_h != max_h) {
        (scaled_w, max_h)
    } else {
        (max_w, scaled_h)
    };
    (w.trunc() as u64, h.trunc() as u64)
}

/// A base-pixel region at pyramid level `level` (of `levels`), as `_tileIteratorInfo` scales it:
/// `left = trunc(left / factor)`, `right = max(trunc(right / factor), left + 1)`, same for
/// top/bottom, with `factor = 2^(levels - 1 - level)`.
pub fn region_at_level(region: Rect, levels: u32, level: u32) -> Rect {
    let factor = 1u64 << (levels - 1 - level);
    let left = region.left / factor;
    let right = (region.right / factor).max(left + 1);
    let top = region.top / factor;
    let bottom = (region.bottom / factor).max(top + 1);
    Rect { left, top, right, bottom }
}

/// Plans a region request of integer base-pixel bounds at a resolution: the clamped region, the
/// scale, the exact output size and the level read (spec 2.3 steps A to D).
pub fn plan_region(geometry: &SlideGeometry, requested: Rect, request: ScaleRequest) -> RegionPlan {
    let scale = scale_for(geometry, request);
    // Step B: clamp (integers in, so Python's round() is the identity here).
    let clamp = |v: u64, lo: u64, hi: u64| v.max(lo).min(hi);
    let left = clamp(requested.left, 0, geometry.size_x);
    let right = clamp(requested.right, left, geometry.size_x);
    let top = clamp(requested.top, 0, geometry.size_y);
    let bottom = clamp(requested.bottom, top, geometry.size_y);
    let region = Rect { left, top, right, bottom };
    let (rw, rh) = (region.width() as f64, region.height() as f64);
    // Step C.
    let (max_w, max_h) = match scale {
        Some(s) if s != 1.0 => (rw / s, rh / s),
        _ => (rw, rh),
    };
    let (out_width, out_height) = calculate_width_height(max_w, max_h, rw, rh);
    // Step D.
    let l = geometry.levels - 1;
    let mut read_level = l;
    let mut level_region = region;
    if (out_width, out_height) != (region.width(), region.height()) && rw > 0.0 && rh > 0.0 {
        let ratio = (out_width as f64 / rw).min(out_height as f64 / rh);
        let wanted = f64::from(l) + round4(ratio.ln() / std::f64::consts::LN_2).ceil();
        let wanted = wanted.max(0.0).min(f64::from(l)) as u32;
        if wanted < l {
            read_level = wanted;
            level_region = region_at_level(region, geometry.levels, wanted);
        }
    }
    RegionPlan { region, scale: scale.unwrap_or(1.0), out_width, out_height, read_level, level_region }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(size_x: u64, size_y: u64, mm: f64, mag: f64) -> SlideGeometry {
        let levels = ((size_x as f64 / 256.0).log2().max((size_y as f64 / 256.0).log2())).ceil() as u32 + 1;
        SlideGeometry {
            size_x,
            size_y,
            tile_width: 256,
            tile_height: 256,
            levels,
            magnification: Some(mag),
            mm_x: Some(mm),
            mm_y: Some(mm),
        }
    }

    fn rect(l: u64, t: u64, r: u64, b: u64) -> Rect {
        Rect { left: l, top: t, right: r, bottom: b }
    }

    #[test]
    fn spec_worked_examples() {
        let g = geom(100_000, 80_000, 0.000252, 40.0);
        let roi = rect(45749, 25055, 49789, 27991);
        let p = plan_region(&g, roi, ScaleRequest::Mm { mm_x: 0.0002, mm_y: 0.0002 });
        assert_eq!((p.out_width, p.out_height), (5090, 3699));
        assert!((p.scale - 0.793664).abs() < 1e-6, "{}", p.scale);
        let p = plan_region(&g, roi, ScaleRequest::Mm { mm_x: 0.0003, mm_y: 0.0003 });
        assert_eq!((p.out_width, p.out_height), (3393, 2466));
        let g20 = geom(100_000, 80_000, 0.000504, 20.0);
        let p = plan_region(&g20, roi, ScaleRequest::Mm { mm_x: 0.0002, mm_y: 0.0002 });
        assert_eq!((p.out_width, p.out_height), (10180, 7398));
        assert_eq!(p.read_level, g20.levels - 1, "up-sampling reads the base level");
    }

    #[test]
    fn real_dsa_observations() {
        // ../shared/real-dsa/README.md: 0.25 um slide, 2000x1500 box.
        let g = SlideGeometry {
            size_x: 20000,
            size_y: 15000,
            tile_width: 256,
            tile_height: 256,
            levels: 8,
            magnification: Some(40.0),
            mm_x: Some(0.00025),
            mm_y: Some(0.00025),
        };
        let b = rect(4000, 3000, 6000, 4500);
        let native = plan_region(&g, b, ScaleRequest::Mm { mm_x: 0.00025, mm_y: 0.00025 });
        assert_eq!((native.out_width, native.out_height, native.scale), (2000, 1500, 1.0));
        let half = plan_region(&g, b, ScaleRequest::Magnification(20.0));
        assert_eq!((half.out_width, half.out_height), (1000, 750));
        assert_eq!(half.read_level, 6);
        assert_eq!(half.level_region, rect(2000, 1500, 3000, 2250));
        let clipped = plan_region(&g, rect(19000, 0, 21000, 1000), ScaleRequest::Base);
        assert_eq!((clipped.out_width, clipped.out_height), (1000, 1000));
        let outside = plan_region(&g, rect(25000, 0, 26000, 1000), ScaleRequest::Base);
        assert_eq!((outside.out_width, outside.out_height), (0, 0));
    }

    #[test]
    fn impossible_metadata_is_refused() {
        let mut g = geom(1000, 1000, 0.00025, 40.0);
        assert!(g.check().is_ok());
        g.levels = 0;
        assert!(g.check().unwrap_err().contains("0 levels"));
        let mut g = geom(1000, 1000, 0.00025, 40.0);
        g.mm_x = Some(-1.0);
        assert!(g.check().unwrap_err().contains("mm_x = -1"));
        let mut g = geom(1000, 1000, 0.00025, 40.0);
        g.size_y = 0;
        assert!(g.check().is_err());
    }

    #[test]
    fn missing_metadata_means_base() {
        let mut g = geom(10000, 10000, 0.00025, 40.0);
        g.mm_x = None;
        g.mm_y = None;
        let p = plan_region(&g, rect(0, 0, 1000, 500), ScaleRequest::Mm { mm_x: 0.0005, mm_y: 0.0005 });
        assert_eq!((p.out_width, p.out_height), (1000, 500));
        let p = plan_region(&g, rect(0, 0, 1000, 500), ScaleRequest::Magnification(20.0));
        assert_eq!((p.out_width, p.out_height), (500, 250));
    }

    #[test]
    fn output_is_floor_of_region_over_scale() {
        // Spec 2.3 C.2: on the mm/magnification path the branch logic reduces to floor(region/scale).
        let g = geom(200_000, 200_000, 0.000252, 40.0);
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..5000 {
            let w = rng.u64(1..12000);
            let h = rng.u64(1..12000);
            let mm = rng.f64() * 0.002 + 0.0001;
            let p = plan_region(&g, rect(1000, 1000, 1000 + w, 1000 + h), ScaleRequest::Mm { mm_x: mm, mm_y: mm });
            let fw = ((w as f64 / p.scale).floor() as u64).max(1);
            let fh = ((h as f64 / p.scale).floor() as u64).max(1);
            assert_eq!((p.out_width, p.out_height), (fw, fh), "w={w} h={h} mm={mm}");
        }
    }
}
