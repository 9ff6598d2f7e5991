#![deny(missing_docs)]
#![forbid(unsafe_code)]

//! bcss's transforms: pure functions from pixels and geometry to pixels and geometry, each exact
//! to the tool it copies, so that a dataset bcss makes is the one the original tools make.
//!
//! - [`region`]: the exact output size and level of a DSA region request, large_image's
//!   arithmetic f64 for f64 ([`plan_region`]); [`Resolution`] and [`Mode`] (the original
//!   downloader's `%.4f` rounding, or the value asked for).
//! - [`pillow`]: RGB resampling exactly like Pillow's `Image.resize` (BICUBIC, LANCZOS;
//!   [`resize_rgb`], and `Resampler`, the same on rows streamed top to bottom), with
//!   [`filter_for`], the filter large_image picks.
//! - [`resize`]: label-mask nearest-neighbour resizing with scikit-image's sampling rule
//!   ([`resize_nearest`], and `NearestRows` on streamed rows).
//! - [`raster`]: label masks from annotation polygons with HistomicsTK's rules, quirks included,
//!   or a strict geometry ([`roi_masks`], [`mask_for_rect`], [`Geometry`]), painted a band of
//!   rows at a time.
//! - [`reinhard`]: Reinhard colour normalisation exactly as HistomicsTK 1.4.0 computes it, a
//!   row at a time.
//! - [`remap`]: label codes to classes through a class map's lookup table; code histograms.
//! - [`tile`]: the tile grid of a ROI, last row and column aligned to the edge.
//! - [`shrink`]: RGB pictures shrunk by an integer factor (box filter), a row at a time.
//! - [`canvas`]: rectangles and copies on a `bcss_model::Image`.
//!
//! Why our own code and not a crate: exactness. The `image` crate's resamplers, `imageproc`'s
//! polygon fill and the like are good, but not bit-identical to Pillow, scikit-image or
//! HistomicsTK, and BCSS is defined by what those tools made.
//!
//! Invariant: nothing here does I/O (the tests read fixtures made by the original tools).
//!
//! ```
//! use bcss_model::{Rect, SlideGeometry};
//! use bcss_transform::{plan_region, resize_nearest, Resolution, Mode};
//!
//! // A 40x slide at 0.25 um/px; a ROI asked for at MPP 0.5 the way the original script asks.
//! let slide = SlideGeometry {
//!     size_x: 100_000, size_y: 80_000, tile_width: 256, tile_height: 256, levels: 10,
//!     mm_x: Some(0.00025), mm_y: Some(0.00025), magnification: Some(40.0),
//! };
//! let roi = Rect { left: 1000, top: 2000, right: 3001, bottom: 4001 };
//! let (query, scale) = Resolution::Mpp(0.5).request(Mode::Compat);
//! assert_eq!(query[0], ("mm_x", "0.0005".to_string()));
//! let plan = plan_region(&slide, roi, scale);
//! assert_eq!((plan.out_width, plan.out_height), (1000, 1000));
//!
//! // Its mask, made at base resolution, resized with the same nearest-neighbour rule.
//! let mask = bcss_model::GrayImage { width: 2001, height: 2001, data: vec![1; 2001 * 2001] };
//! let small = resize_nearest(&mask, plan.out_width as usize, plan.out_height as usize);
//! assert_eq!(small.data.len(), 1000 * 1000);
//! ```

pub mod canvas;
pub mod pillow;
pub mod raster;
pub mod region;
pub mod reinhard;
pub mod remap;
pub mod resize;
pub mod shrink;
pub mod tile;

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
