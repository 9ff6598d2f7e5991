//! Transforms: pure functions from pixels and geometry to pixels and geometry.
//!
//! - [`region`]: the exact output size and level of a DSA region request.
//! - [`resize`]: label-mask nearest-neighbour resizing with scikit-image's sampling rule.
//! - [`pillow`]: RGB resampling exactly like Pillow's `Image.resize` (BICUBIC, LANCZOS).
//! - [`raster`]: label masks from annotation polygons (HistomicsTK's rules, or a strict one).
//! - [`reinhard`]: Reinhard colour normalisation exactly as HistomicsTK computes it, a row at a time.
//! - [`remap`]: label codes to classes through a lookup table; code histograms.
//! - `shrink`: RGB pictures shrunk by an integer factor (box filter), a row at a time.
//! - [`tile`]: the tile grid of a ROI, last row and column aligned to the edge.
//! - `canvas`: drawing on a `model::Image`: rectangles and copies.
//!
//! Invariant: nothing here does I/O.

pub(crate) mod canvas;
pub mod pillow;
pub mod raster;
pub mod region;
pub mod reinhard;
pub mod remap;
pub mod resize;
pub(crate) mod shrink;
pub mod tile;

pub use region::{plan_region, RegionPlan, ScaleRequest};

/// Kept at this path for `command::download` and `command::extract` while they are rewritten;
/// other code imports them from `crate::model`.
pub use crate::model::{Rect, SlideGeometry};

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
