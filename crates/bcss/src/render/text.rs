//! Text in a real font (the embedded DejaVu Sans, antialiased by `ab_glyph` through
//! `plotters`) on an [`RgbImage`], for legends and labels that must be read at any size.

use plotters::prelude::*;

use super::font;
use crate::model::RgbImage;

fn style(px: f64, color: [u8; 3]) -> TextStyle<'static> {
    (font::FAMILY, px).into_font().color(&RGBColor(color[0], color[1], color[2]))
}

/// Width and height in pixels of `text` at `px` pixels (0 x 0 if the font cannot lay it out).
pub fn text_size(text: &str, px: f64) -> (usize, usize) {
    font::ensure_registered();
    match (font::FAMILY, px).into_font().box_size(text) {
        Ok((w, h)) => (w as usize, h as usize),
        Err(_) => (0, 0),
    }
}

/// Draws `text` with its top-left corner at `(x, y)`, clipped to the image.
pub fn draw_text(image: &mut RgbImage, x: i32, y: i32, text: &str, px: f64, color: [u8; 3]) {
    if image.width == 0 || image.height == 0 || text.is_empty() {
        return;
    }
    font::ensure_registered();
    let size = (image.width as u32, image.height as u32);
    let root = BitMapBackend::with_buffer(&mut image.data, size).into_drawing_area();
    // Drawing into memory cannot fail but for a glyph the font lacks, which is then left out.
    let _ = root.draw_text(text, &style(px, color), (x, y));
    let _ = root.present();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_inked_where_measured_and_clipped_elsewhere() {
        let mut c = RgbImage::filled(200, 40, [255, 255, 255]);
        let (w, h) = text_size("stroma 12%", 16.0);
        assert!((60..140).contains(&w) && (10..24).contains(&h), "{w} x {h}");
        draw_text(&mut c, 10, 10, "stroma 12%", 16.0, [0, 0, 0]);
        let inked: Vec<(usize, usize)> = (0..40)
            .flat_map(|y| (0..200).map(move |x| (x, y)))
            .filter(|&(x, y)| c.pixel(x, y) != [255, 255, 255])
            .collect();
        assert!(inked.len() > 100);
        let (xs, ys) = (inked.iter().map(|p| p.0), inked.iter().map(|p| p.1));
        let (x0, x1) = (xs.clone().min().unwrap(), xs.max().unwrap());
        let (y0, y1) = (ys.clone().min().unwrap(), ys.max().unwrap());
        assert!(
            x0 >= 8 && x1 <= 10 + w + 3 && y0 >= 6 && y1 <= 10 + h + 4,
            "ink at {x0}..{x1} x {y0}..{y1} for {w} x {h}"
        );
        // Antialiased: grey levels between ink and paper.
        assert!(inked.iter().any(|&(x, y)| {
            let p = c.pixel(x, y)[0];
            p > 60 && p < 200
        }));
        // Off the canvas: nothing drawn, no panic.
        let before = c.clone();
        draw_text(&mut c, 500, 500, "x", 16.0, [0, 0, 0]);
        assert_eq!(c, before);
    }
}
