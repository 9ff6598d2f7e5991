//! Painting a label mask over its picture, a row at a time: the drawing of `bcss overlay` and of
//! the thumbnails of `bcss report` (one implementation).
//!
//! Per pixel, with [`Paint::Fill`]: `out = round((1 - alpha) * image + alpha * colour(class))`
//! for pixels of a class. With [`Paint::Outline`] only the borders of each class region are
//! drawn, in the class colour at full strength (a pixel is on a border when a pixel of another
//! class lies within `r` pixels left, right, above or below), and the tissue inside is left as
//! it is. Don't-care pixels (class 0: outside the ROI) are dimmed to [`DIM`]/256 in both styles,
//! so the ROI's shape shows.
//!
//! Pure: rows in, rows out.

/// Don't care is dimmed to this share of its brightness, out of 256 (45%).
pub const DIM: u32 = 115;
/// Draws one row. `window` holds the class rows from `y - r` to `y + r` (fewer at the picture's
/// edges) and `center` is row `y` in it. Don't care is dimmed; class pixels are tinted
/// (fill) or, on a border, painted (outline).
pub fn render_row(image: &mut [u8], window: &[&[u8]], center: usize, palette: &[[u8; 3]; 256], style: Paint) {
    let classes = window[center];
    let w = classes.len();
    for (x, (px, &v)) in image.chunks_exact_mut(3).zip(classes).enumerate() {
        if v == 0 {
            for c in px.iter_mut() {
                *c = ((*c as u32 * DIM + 128) >> 8) as u8;
            }
            continue;
        }
        let col = palette[v as usize];
        match style {
            Paint::Fill { alpha256 } => {
                for c in 0..3 {
                    px[c] = ((px[c] as u32 * (256 - alpha256) + col[c] as u32 * alpha256 + 128) >> 8) as u8;
                }
            }
            Paint::Outline { r } => {
                let horizontal = (1..=r).any(|d| (x >= d && classes[x - d] != v) || (x + d < w && classes[x + d] != v));
                let vertical = window.iter().enumerate().any(|(i, row)| i != center && row[x] != v);
                if horizontal || vertical {
                    px.copy_from_slice(&col);
                }
            }
        }
    }
}

/// How a row is painted, with its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Paint {
    /// Class pixels blended with their colour at `alpha256 / 256`.
    Fill {
        /// Opacity of the class colour, out of 256.
        alpha256: u32,
    },
    /// Class pixels within `r` pixels (left, right, above, below) of another class painted in
    /// their colour; the others left as they are.
    Outline {
        /// Border reach in pixels.
        r: usize,
    },
}

/// The palette of `map`: the colour of every class value (0 and values past K black).
pub fn palette(map: &crate::catalog::classmap::ClassMap) -> [[u8; 3]; 256] {
    let mut palette = [[0u8; 3]; 256];
    for c in map.classes() {
        palette[c.value as usize] = c.color;
    }
    palette
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_blends_and_dont_care_is_dimmed() {
        let mut palette = [[0u8; 3]; 256];
        palette[1] = [200, 0, 100];
        let mut row = vec![100u8, 100, 100, 100, 100, 100];
        let classes = [1u8, 0];
        render_row(&mut row, &[&classes], 0, &palette, Paint::Fill { alpha256: 128 });
        // (100 * 128 + 200 * 128 + 128) >> 8 = 150; (100 * 128 + 128) >> 8 = 50; 100. Don't care:
        // (100 * 115 + 128) >> 8 = 45.
        assert_eq!(row, vec![150, 50, 100, 45, 45, 45]);
    }

    #[test]
    fn outline_paints_borders_within_r_and_leaves_the_inside() {
        let mut palette = [[0u8; 3]; 256];
        palette[1] = [255, 0, 0];
        palette[2] = [0, 0, 255];
        // Three rows of 8: classes 1 1 1 1 2 2 2 2, the middle row with a 2 at x = 1.
        let (a, b) = ([1u8, 1, 1, 1, 2, 2, 2, 2], [1u8, 2, 1, 1, 2, 2, 2, 2]);
        let draw = |window: &[&[u8]], center: usize, r: usize| {
            let mut row = vec![100u8; 24];
            render_row(&mut row, window, center, &palette, Paint::Outline { r });
            row.chunks(3)
                .map(|p| {
                    if p == [100, 100, 100] {
                        '.'
                    } else if p[0] == 255 {
                        'R'
                    } else {
                        'B'
                    }
                })
                .collect::<String>()
        };
        assert_eq!(draw(&[&a, &a, &a], 1, 1), "...RB...");
        assert_eq!(draw(&[&a, &a, &a], 1, 2), "..RRBB..");
        // Above and below count: the 2 at (1, 1) marks (1, 0) of the row above.
        assert_eq!(draw(&[&a, &b], 0, 1), ".R.RB...");
        assert_eq!(draw(&[&a, &b, &a], 1, 1), "RBRRB...");
    }
}
