//! Slide geometry: rectangles of pixels ([`Rect`], the one rectangle type of bcss) and the
//! size, tiling and resolution of a slide.

use std::cmp::{max, min};

/// A rectangle of pixels; `right` and `bottom` exclusive.
///
/// The one rectangle type of bcss, generic over its coordinate so that it serves both grids bcss
/// meets:
///
/// - `Rect` (that is, `Rect<u64>`): base slide pixels: the catalogue's ROIs (`bcss::catalog::Roi::rect`),
///   region requests, pyramid levels, tiles. Never negative: a slide starts at (0, 0).
/// - `Rect<i64>`: the rasteriser's grid of annotation coordinates (`transform::raster`). An
///   annotation may be drawn past the slide's top-left corner, and HistomicsTK's bookkeeping
///   shifts boxes by signed offsets, so these bounds are signed; their widths saturate, since a
///   hostile file's coordinates reach `i64`'s limits.
///
/// [`Rect::map`] converts one into the other where a catalogue rectangle meets annotation boxes.
///
/// Serialized as `{"xmin": .., "ymin": .., "xmax": .., "ymax": ..}`, other keys refused: the
/// names of `roiBounds.csv` and of HistomicsTK's bounds, which `manifest.json` (existing
/// datasets resume from it) and `bcss masks --json` have always written.
///
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rect<T = u64> {
    /// Left edge, inclusive.
    #[serde(rename = "xmin")]
    pub left: T,
    /// Top edge, inclusive.
    #[serde(rename = "ymin")]
    pub top: T,
    /// Right edge, exclusive.
    #[serde(rename = "xmax")]
    pub right: T,
    /// Bottom edge, exclusive.
    #[serde(rename = "ymax")]
    pub bottom: T,
}

impl<T> Rect<T> {
    /// The same rectangle with every coordinate passed through `f` (a change of coordinate
    /// type, or of grid).
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Rect<U> {
        Rect { left: f(self.left), top: f(self.top), right: f(self.right), bottom: f(self.bottom) }
    }
}

impl<T: Ord> Rect<T> {
    /// Whether pixel `(x, y)` lies inside.
    pub fn contains(&self, x: T, y: T) -> bool {
        x >= self.left && x < self.right && y >= self.top && y < self.bottom
    }

    /// Whether the two share a pixel.
    pub fn intersects(&self, other: &Rect<T>) -> bool {
        self.left < other.right && other.left < self.right && self.top < other.bottom && other.top < self.bottom
    }

    /// The smallest rectangle holding both.
    pub fn union(self, other: Rect<T>) -> Rect<T> {
        Rect {
            left: min(self.left, other.left),
            top: min(self.top, other.top),
            right: max(self.right, other.right),
            bottom: max(self.bottom, other.bottom),
        }
    }
}

impl Rect<u64> {
    /// Width.
    pub fn width(&self) -> u64 {
        self.right - self.left
    }
    /// Height.
    pub fn height(&self) -> u64 {
        self.bottom - self.top
    }
}

impl Rect<i64> {
    /// Width, saturating (coordinates from a hostile file or an absurd scale reach `i64`'s
    /// limits); negative when `right < left`.
    pub fn width(&self) -> i64 {
        self.right.saturating_sub(self.left)
    }
    /// Height, saturating as [`width`](Self::width).
    pub fn height(&self) -> i64 {
        self.bottom.saturating_sub(self.top)
    }
}

/// A slide's geometry as large_image describes it (the DSA's `GET item/{id}/tiles`, or a local
/// slide read the same way): what region planning needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SlideGeometry {
    /// Base-level width in pixels.
    pub size_x: u64,
    /// Base-level height in pixels.
    pub size_y: u64,
    /// Tile width.
    pub tile_width: u64,
    /// Tile height.
    pub tile_height: u64,
    /// Number of levels of large_image's virtual power-of-two pyramid.
    pub levels: u32,
    /// Objective power of the base level, if known.
    pub magnification: Option<f64>,
    /// Millimetres per base pixel horizontally, if known.
    pub mm_x: Option<f64>,
    /// Millimetres per base pixel vertically, if known.
    pub mm_y: Option<f64>,
}

impl SlideGeometry {
    /// Refuses metadata no real slide has (zero levels or sizes, non-positive resolutions), so
    /// region planning never meets it.
    pub fn check(&self) -> Result<(), String> {
        if self.levels == 0 || self.levels > 40 {
            return Err(format!("the tile metadata has {} levels", self.levels));
        }
        if self.size_x == 0 || self.size_y == 0 || self.tile_width == 0 || self.tile_height == 0 {
            return Err(format!(
                "the tile metadata has an empty size ({}x{}, tiles {}x{})",
                self.size_x, self.size_y, self.tile_width, self.tile_height
            ));
        }
        for (name, v) in [("mm_x", self.mm_x), ("mm_y", self.mm_y), ("magnification", self.magnification)] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("the tile metadata has {name} = {v}"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rectangle_in_both_grids() {
        let r: Rect = Rect { left: 10, top: 20, right: 30, bottom: 25 };
        assert_eq!((r.width(), r.height()), (20, 5));
        assert!(r.contains(10, 20) && r.contains(29, 24) && !r.contains(30, 24) && !r.contains(29, 25));
        assert!(r.intersects(&Rect { left: 29, top: 0, right: 40, bottom: 21 }));
        assert!(!r.intersects(&Rect { left: 30, top: 0, right: 40, bottom: 100 }), "touching is not sharing");
        let s = r.map(|v| v as i64 - 15);
        assert_eq!(s, Rect { left: -5, top: 5, right: 15, bottom: 10 });
        assert_eq!(
            s.union(Rect { left: 0, top: -7, right: 1, bottom: 1 }),
            Rect { left: -5, top: -7, right: 15, bottom: 10 }
        );
        let huge = Rect { left: i64::MIN, top: 0, right: i64::MAX, bottom: 1 };
        assert_eq!(huge.width(), i64::MAX, "saturating");
    }

    #[test]
    fn serialized_with_the_names_of_roi_bounds_csv() {
        let r: Rect = Rect { left: 1, top: 2, right: 3, bottom: 4 };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"xmin":1,"ymin":2,"xmax":3,"ymax":4}"#);
        assert_eq!(serde_json::from_str::<Rect>(&text).unwrap(), r);
        assert!(serde_json::from_str::<Rect>(r#"{"xmin":1,"ymin":2,"xmax":3,"ymax":4,"z":0}"#).is_err());
    }
}
