//! Slide geometry: rectangles of base pixels and the size, tiling and resolution of a slide.

/// A rectangle in base pixels; `right` and `bottom` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    /// Left edge, inclusive.
    pub left: u64,
    /// Top edge, inclusive.
    pub top: u64,
    /// Right edge, exclusive.
    pub right: u64,
    /// Bottom edge, exclusive.
    pub bottom: u64,
}

impl Rect {
    /// Width.
    pub fn width(&self) -> u64 {
        self.right - self.left
    }
    /// Height.
    pub fn height(&self) -> u64 {
        self.bottom - self.top
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
