//! Drawing on an [`Image`]: filled and outlined rectangles, copies of other images, and text in
//! an embedded 5 x 7 bitmap font (legends, labels, contact sheets). These are methods of the
//! one image type (`model::Image`), not of a canvas type of their own: a legend, a chart bitmap
//! and a thumbnail are all [`RgbImage`]s and can be copied into each other.
//!
//! The font is hand-written here (upper case, digits and the punctuation of ROI ids, class
//! names and numbers; lower case is drawn as upper case, anything else as `?`) so that drawing
//! a label costs no font dependency, no font file and no rasteriser: a glyph is 7 rows of 5
//! bits, drawn as `scale` x `scale` blocks. A character advances `6 * scale` pixels and a line
//! is `8 * scale` pixels tall (`text_width`).
//!
//! Everything is clipped to the image: drawing off the edge is not an error.
//!
//! Invariant: pure pixel operations, no I/O.

use crate::model::{Image, RgbImage};

/// Advance of one character at scale 1 (5 columns of glyph, 1 of spacing).
pub const ADVANCE: usize = 6;

/// Width in pixels of `text` drawn at `scale` (no trailing spacing).
#[cfg(test)]
pub fn text_width(text: &str, scale: usize) -> usize {
    let n = text.chars().count();
    if n == 0 {
        0
    } else {
        (n * ADVANCE - 1) * scale
    }
}

impl<const C: usize> Image<C> {
    /// Fills the rectangle `[x, x + w) x [y, y + h)` with `color`, clipped.
    pub fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; C]) {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        for yy in y.min(y1)..y1 {
            let row = &mut self.data[(yy * self.width + x.min(x1)) * C..(yy * self.width + x1) * C];
            for px in row.chunks_exact_mut(C) {
                px.copy_from_slice(&color);
            }
        }
    }

    /// Draws the outline of a rectangle, 1 pixel wide, clipped.
    pub fn stroke_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; C]) {
        if w == 0 || h == 0 {
            return;
        }
        self.fill_rect(x, y, w, 1, color);
        self.fill_rect(x, y + h - 1, w, 1, color);
        self.fill_rect(x, y, 1, h, color);
        self.fill_rect(x + w - 1, y, 1, h, color);
    }

    /// Copies `src` with its top-left corner at `(x, y)`, clipped.
    pub fn blit(&mut self, x: usize, y: usize, src: &Image<C>) {
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

impl RgbImage {
    /// Draws `text` with its top-left corner at `(x, y)`, each font pixel a `scale` x `scale`
    /// block, clipped. Returns the x just after the text.
    pub fn text(&mut self, x: usize, y: usize, text: &str, scale: usize, color: [u8; 3]) -> usize {
        let scale = scale.max(1);
        let mut cx = x;
        for ch in text.chars() {
            let rows = glyph(ch);
            for (r, bits) in rows.iter().enumerate() {
                for c in 0..5 {
                    if bits & (0x10 >> c) != 0 {
                        self.fill_rect(cx + c * scale, y + r * scale, scale, scale, color);
                    }
                }
            }
            cx += ADVANCE * scale;
        }
        cx
    }
}

/// The 7 rows (5 low bits each, bit 4 leftmost) of a character.
fn glyph(ch: char) -> [u8; 7] {
    match ch.to_ascii_uppercase() {
        ' ' => [0; 7],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        '+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
        '!' => [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: [u8; 3] = [255, 255, 255];
    const K: [u8; 3] = [0, 0, 0];

    #[test]
    fn a_letter_is_drawn_from_its_rows() {
        let mut c = RgbImage::filled(6, 8, K);
        assert_eq!(c.text(0, 0, "T", 1, W), 6);
        // T: top row full, then the middle column.
        let lit: Vec<(usize, usize)> =
            (0..8).flat_map(|y| (0..6).map(move |x| (x, y))).filter(|&(x, y)| c.pixel(x, y) == W).collect();
        let mut want: Vec<(usize, usize)> = (0..5).map(|x| (x, 0)).collect();
        want.extend((1..7).map(|y| (2, y)));
        want.sort_by_key(|&(x, y)| (y, x));
        assert_eq!(lit, want);
    }

    #[test]
    fn scale_clipping_and_width() {
        let mut c = RgbImage::filled(10, 10, K);
        c.text(8, 8, "W", 3, W); // mostly off the canvas: clipped, no panic
        assert_eq!(c.pixel(8, 8), W);
        assert_eq!(text_width("ab", 2), 22);
        assert_eq!(text_width("", 2), 0);
        assert_eq!(glyph('a'), glyph('A'));
        assert_eq!(glyph('~'), glyph('?'));
        let mut c = RgbImage::filled(4, 4, K);
        c.stroke_rect(0, 0, 4, 4, W);
        assert_eq!((c.pixel(0, 0), c.pixel(3, 3), c.pixel(1, 1)), (W, W, K));
        c.blit(2, 2, &RgbImage::filled(3, 3, [7; 3]));
        assert_eq!((c.pixel(3, 3), c.pixel(1, 1)), ([7, 7, 7], K));
    }
}
