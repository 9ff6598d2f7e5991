//! Transforms: pure functions from pixels and geometry to pixels and geometry.
//!
//! Public are the rules a user may want on their own, each exact to the tool it copies:
//!
//! - [`plan_region`]: the exact output size and level of a DSA region request (large_image).
//! - [`resize_nearest`]: label-mask nearest-neighbour resizing with scikit-image's sampling rule.
//! - [`resize_rgb`]: RGB resampling exactly like Pillow's `Image.resize` (BICUBIC, LANCZOS), with
//!   [`filter_for`], the filter large_image picks.
//! - [`roi_masks`], [`mask_for_rect`]: label masks from annotation polygons (HistomicsTK's rules,
//!   or a strict one: [`Geometry`]).
//! - [`reinhard`]: Reinhard colour normalisation exactly as HistomicsTK computes it, a row at a time.
//! - [`remap_in_place`]: label codes to classes through a class map's lookup table.
//!
//! The rest is the commands' machinery, private to the crate: the streaming forms of the
//! resamplers (`pillow::Resampler`, `resize::NearestRows`), `shrink` (RGB pictures shrunk by an
//! integer factor, a row at a time), `tile` (the tile grid of a ROI, last row and column aligned
//! to the edge) and `canvas` (rectangles and copies on a `model::Image`).
//!
//! Invariant: nothing here does I/O.

pub(crate) mod canvas;
pub(crate) mod pillow;
pub(crate) mod raster;
pub(crate) mod region;
pub mod reinhard;
pub(crate) mod remap;
pub(crate) mod resize;
pub(crate) mod shrink;
pub(crate) mod tile;

pub use pillow::{filter_for, resize_rgb, Filter};
pub use raster::{
    mask_for_rect, roi_mask, roi_masks, scale_from_mag, scale_from_mpp, ElementError, Geometry, RasterError,
    RasterOptions, RectMaskError, RoiMask,
};
pub use region::{plan_region, RegionPlan, ScaleRequest};
pub use remap::remap_in_place;
pub use resize::resize_nearest;

/// The output resolution of a dataset, as the user asks for it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Resolution {
    /// Microns per pixel (`--mpp`).
    Mpp(f64),
    /// Objective magnification (`--mag`).
    Mag(f64),
    /// The slide's own scan resolution (`--base`).
    Base,
}

/// How requests are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Mode {
    /// Ask for exactly the resolution the user gave (at least 8 decimals of mm per pixel).
    Exact,
    /// Reproduce the original downloader's requests, including its `%.4f` rounding of mm per
    /// pixel (MPP 0.25 asks for 0.0003 mm = 0.3 um per pixel) and its base-resolution masks when
    /// images are not fetched.
    Compat,
}

impl Mode {
    /// `exact` or `compat`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Exact => "exact",
            Mode::Compat => "compat",
        }
    }
}

impl Resolution {
    /// Human form for manifests and logs: `mpp 0.25`, `mag 20`, `base`.
    pub fn describe(self) -> String {
        match self {
            Resolution::Mpp(v) => format!("mpp {v}"),
            Resolution::Mag(v) => format!("mag {v}"),
            Resolution::Base => "base".to_string(),
        }
    }

    /// The scale parameters of a region request in this mode: the query pairs to send, and the
    /// same values as the server will parse them, for planning the output size.
    pub fn request(self, mode: Mode) -> (Vec<(&'static str, String)>, ScaleRequest) {
        match self {
            Resolution::Base => (Vec::new(), ScaleRequest::Base),
            Resolution::Mpp(mpp) => {
                let mm = 0.001 * mpp;
                let text = match mode {
                    Mode::Compat => format!("{mm:.4}"),
                    Mode::Exact => exact_decimal(mm, 8),
                };
                let v: f64 = text.parse().expect("formatted float");
                (vec![("mm_x", text.clone()), ("mm_y", text)], ScaleRequest::Mm { mm_x: v, mm_y: v })
            }
            Resolution::Mag(mag) => {
                let text = match mode {
                    Mode::Compat => format!("{mag:.2}"),
                    Mode::Exact => exact_decimal(mag, 8),
                };
                let v: f64 = text.parse().expect("formatted float");
                (vec![("magnification", text)], ScaleRequest::Magnification(v))
            }
        }
    }
}

/// `x` with at least `min_decimals` decimals and as many more as it takes to parse back to
/// exactly `x`.
pub fn exact_decimal(x: f64, min_decimals: usize) -> String {
    (min_decimals..=30)
        .map(|p| format!("{x:.p$}"))
        .find(|s| s.parse::<f64>().ok() == Some(x))
        .unwrap_or_else(|| format!("{x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_reproduces_the_percent_4f_bug() {
        let (q, s) = Resolution::Mpp(0.25).request(Mode::Compat);
        assert_eq!(q, vec![("mm_x", "0.0003".to_string()), ("mm_y", "0.0003".to_string())]);
        assert_eq!(s, ScaleRequest::Mm { mm_x: 0.0003, mm_y: 0.0003 });
        let (q, _) = Resolution::Mpp(0.23).request(Mode::Compat);
        assert_eq!(q[0].1, "0.0002");
        let (q, _) = Resolution::Mag(20.0).request(Mode::Compat);
        assert_eq!(q, vec![("magnification", "20.00".to_string())]);
    }

    #[test]
    fn exact_sends_the_true_value() {
        let (q, s) = Resolution::Mpp(0.25).request(Mode::Exact);
        assert_eq!(q[0].1, "0.00025000");
        assert_eq!(s, ScaleRequest::Mm { mm_x: 0.00025, mm_y: 0.00025 });
        let (q, _) = Resolution::Mpp(0.2345678).request(Mode::Exact);
        assert_eq!(q[0].1.parse::<f64>().unwrap(), 0.001 * 0.2345678);
        assert!(q[0].1.len() >= 10);
        assert_eq!(Resolution::Base.request(Mode::Exact).1, ScaleRequest::Base);
    }
}
