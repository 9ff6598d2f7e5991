//! The tile grid of a ROI: where tiles of `size` x `size` start, every `stride` pixels, with the
//! last row and column moved back to the ROI's edge so that every pixel is covered.
//!
//! Rule, per axis of length `len`:
//!
//! - `len <= size`: one tile at 0 (when `len < size` it hangs over the edge and the caller pads
//!   it: don't care in the mask, black in the image);
//! - otherwise the origins `0, stride, 2*stride, ...` whose tile fits (`o + size <= len`), then, if
//!   the last of them does not reach the edge, one more at `len - size`.
//!
//! Worked example: `len = 1100, size = 512, stride = 512` gives `[0, 512, 588]`: the third tile
//! `588..1100` overlaps the second by 436 pixels and ends exactly on the edge. With `len = 1024`
//! the grid is `[0, 512]` and nothing is added.
//!
//! `stride` must be 1..=`size`: a larger stride would leave gaps, and the point of the grid is
//! that the ROI is covered. `size` is at most [`MAX_TILE_SIZE`]: a worker holds a tile and a band
//! of `size` rows, so the size bounds memory.

/// The largest tile side: 8192 pixels (256 MB of tile buffers per worker, and bands of 8192
/// rows). Training tiles are 256 to 2048 pixels; a bigger side is a typo or hostile input, and
/// an absurd one would overflow the size of a buffer.
pub const MAX_TILE_SIZE: usize = 8192;

/// Why a grid cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GridError {
    /// `size` is 0.
    #[error("tile size must be at least 1")]
    ZeroSize,
    /// `size` is over `MAX_TILE_SIZE`.
    #[error("tile size {0} is over the largest supported, {MAX_TILE_SIZE} pixels")]
    TooLarge(usize),
    /// `stride` is 0 or larger than `size`.
    #[error("stride {stride} must be between 1 and the tile size {size} (a larger stride leaves gaps)")]
    BadStride {
        /// The stride.
        stride: usize,
        /// The size.
        size: usize,
    },
}

/// Tile origins along one axis (see the module docs), ascending and distinct.
pub fn origins(len: usize, size: usize, stride: usize) -> Result<Vec<usize>, GridError> {
    if size == 0 {
        return Err(GridError::ZeroSize);
    }
    if size > MAX_TILE_SIZE {
        return Err(GridError::TooLarge(size));
    }
    if stride == 0 || stride > size {
        return Err(GridError::BadStride { stride, size });
    }
    if len <= size {
        return Ok(vec![0]);
    }
    let mut out: Vec<usize> = (0..).map(|k| k * stride).take_while(|o| o + size <= len).collect();
    let last = *out.last().expect("len > size so 0 fits");
    if last + size < len {
        out.push(len - size);
    }
    Ok(out)
}

/// The tiles of a `width` x `height` ROI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileGrid {
    /// Tile side.
    pub size: usize,
    /// Column origins.
    pub xs: Vec<usize>,
    /// Row origins.
    pub ys: Vec<usize>,
}

impl TileGrid {
    /// The grid of a ROI.
    pub fn new(width: usize, height: usize, size: usize, stride: usize) -> Result<TileGrid, GridError> {
        Ok(TileGrid { size, xs: origins(width, size, stride)?, ys: origins(height, size, stride)? })
    }

    /// Number of tiles.
    pub fn len(&self) -> usize {
        self.xs.len() * self.ys.len()
    }

    /// True when there are no tiles (never, for a grid [`TileGrid::new`] made).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(x, y)` of every tile, row by row.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.ys.iter().flat_map(move |&y| self.xs.iter().map(move |&x| (x, y)))
    }
}

/// Pixel counts `[don't care, class 1, ..., class K]` of the tile at column `x` whose rows
/// `0..rows` are the first `rows` rows of `band` (`width` class values per row, 0 = don't care).
/// The tile is `size x size`: what lies outside the ROI (a ROI narrower or shorter than a tile)
/// counts as don't care. This and [`labelled_fraction`] are the one rule by which `bcss tile`
/// and the lazy tile datasets decide which tiles to keep.
///
/// Example: a 3-pixel-wide, 1-row ROI `[0, 1, 2]`, a tile of 2 at `x = 1`: counts
/// `[2, 1, 1]` (the two pixels below the ROI are padding).
pub fn tile_counts(band: &[u8], width: usize, x: usize, rows: usize, size: usize, classes: usize) -> Vec<u64> {
    let tw = (x + size).min(width) - x;
    let mut counts = vec![0u64; classes + 1];
    for row in 0..rows {
        for &v in &band[row * width + x..row * width + x + tw] {
            counts[v as usize] += 1;
        }
    }
    counts[0] += (size * size - rows * tw) as u64;
    counts
}

/// The share of a `size x size` tile's pixels that hold a class (see [`tile_counts`]). A tile is
/// kept when this is at least the minimum labelled fraction.
pub fn labelled_fraction(counts: &[u64], size: usize) -> f64 {
    let area = (size * size) as u64;
    (area - counts[0]) as f64 / area as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_examples() {
        assert_eq!(origins(1100, 512, 512).unwrap(), vec![0, 512, 588]);
        assert_eq!(origins(1024, 512, 512).unwrap(), vec![0, 512]);
        assert_eq!(origins(512, 512, 512).unwrap(), vec![0]);
        assert_eq!(origins(300, 512, 256).unwrap(), vec![0]);
        assert_eq!(origins(1000, 512, 256).unwrap(), vec![0, 256, 488]);
        assert_eq!(origins(10, 4, 5), Err(GridError::BadStride { stride: 5, size: 4 }));
        assert_eq!(origins(10, 0, 0), Err(GridError::ZeroSize));
        assert_eq!(origins(10, MAX_TILE_SIZE, 1).unwrap(), vec![0]);
        assert_eq!(origins(10, 4_000_000_000, 1), Err(GridError::TooLarge(4_000_000_000)));
    }

    #[test]
    fn counts_with_padding() {
        assert_eq!(tile_counts(&[0, 1, 2], 3, 1, 1, 2, 2), vec![2, 1, 1]);
        assert_eq!(labelled_fraction(&[2, 1, 1], 2), 0.5);
    }

    proptest! {
        /// Oracle: every pixel is in some tile, every tile is inside (or, when the axis is shorter
        /// than a tile, starts at 0), origins ascend, and the count is the minimum for the stride:
        /// ceil((len - size) / stride) + 1.
        #[test]
        fn grid_covers_exactly(len in 1usize..3000, size in 1usize..700, stride_frac in 1usize..=100) {
            let stride = (size * stride_frac).div_ceil(100).max(1);
            let o = origins(len, size, stride).unwrap();
            prop_assert!(o.windows(2).all(|w| w[0] < w[1]));
            let mut covered = vec![false; len];
            for &s in &o {
                if len >= size { prop_assert!(s + size <= len); } else { prop_assert_eq!(s, 0); }
                for c in covered.iter_mut().skip(s).take(size) { *c = true; }
            }
            prop_assert!(covered.iter().all(|&c| c));
            let expect = if len <= size { 1 } else { (len - size).div_ceil(stride) + 1 };
            prop_assert_eq!(o.len(), expect);
        }
    }
}
