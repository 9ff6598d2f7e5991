//! Drawing on an [`Image`]: filled and outlined rectangles and copies of other images (legends,
//! contact sheets), as the trait [`Draw`] of the one image type (`bcss_model::Image`) rather
//! than a canvas type of its own: a legend, a chart bitmap and a thumbnail are all images and
//! can be copied into each other.
//!
//! Everything is clipped to the image: drawing off the edge is not an error.
//!
//! Invariant: pure pixel operations, no I/O.

use bcss_model::Image;

/// Drawing on an image, clipped to it.
pub trait Draw<const C: usize> {
    /// Fills the rectangle `[x, x + w) x [y, y + h)` with `color`.
    fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; C]);
    /// Draws the outline of a rectangle, 1 pixel wide.
    fn stroke_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; C]);
    /// Copies `src` with its top-left corner at `(x, y)`.
    fn blit(&mut self, x: usize, y: usize, src: &Image<C>);
}

impl<const C: usize> Draw<C> for Image<C> {
    fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; C]) {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        for yy in y.min(y1)..y1 {
            let row = &mut self.data[(yy * self.width + x.min(x1)) * C..(yy * self.width + x1) * C];
            for px in row.chunks_exact_mut(C) {
                px.copy_from_slice(&color);
            }
        }
    }

    fn stroke_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; C]) {
        if w == 0 || h == 0 {
            return;
        }
        self.fill_rect(x, y, w, 1, color);
        self.fill_rect(x, y + h - 1, w, 1, color);
        self.fill_rect(x, y, 1, h, color);
        self.fill_rect(x + w - 1, y, 1, h, color);
    }

    fn blit(&mut self, x: usize, y: usize, src: &Image<C>) {
        if x >= self.width || y >= self.height {
            return;
        }
        let cw = src.width.min(self.width - x);
        for r in 0..src.height.min(self.height - y) {
            let dst = ((y + r) * self.width + x) * C;
            self.data[dst..dst + cw * C].copy_from_slice(&src.row(r)[..cw * C]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcss_model::RgbImage;

    const W: [u8; 3] = [255, 255, 255];
    const K: [u8; 3] = [0, 0, 0];

    #[test]
    fn rectangles_and_copies_are_clipped() {
        let mut c = RgbImage::filled(4, 4, K);
        c.stroke_rect(0, 0, 4, 4, W);
        assert_eq!((c.pixel(0, 0), c.pixel(3, 3), c.pixel(1, 1)), (W, W, K));
        c.fill_rect(3, 3, 10, 10, [9; 3]);
        assert_eq!((c.pixel(3, 3), c.pixel(2, 2)), ([9; 3], K));
        c.blit(2, 2, &RgbImage::filled(3, 3, [7; 3]));
        assert_eq!((c.pixel(3, 3), c.pixel(1, 1)), ([7, 7, 7], K));
        c.blit(9, 9, &RgbImage::filled(3, 3, [5; 3]));
        assert!(!c.data.contains(&5));
    }
}
