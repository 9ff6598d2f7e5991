//! A legend box: a swatch and a name per entry, in a white box with a thin border, its size set
//! by the text height asked for (so it scales with the picture it sits on).

use super::text::{draw_text, text_size};
use crate::catalog::classmap::ClassMap;
use crate::model::RgbImage;
use crate::transform::canvas::Draw;

/// One line of a legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The name shown.
    pub name: String,
    /// The swatch.
    pub color: [u8; 3],
}

/// The size of the legend of `entries` at text height `px`, without drawing it.
pub fn legend_size(entries: &[Entry], px: f64) -> (usize, usize) {
    let (pad, swatch, line) = metrics(px);
    let text_w = entries.iter().map(|e| text_size(&e.name, px).0).max().unwrap_or(0);
    (3 * pad + swatch + text_w, 2 * pad + line * entries.len())
}

fn metrics(px: f64) -> (usize, usize, usize) {
    let pad = (px * 0.5).round().max(2.0) as usize;
    let swatch = px.round().max(4.0) as usize;
    let line = (px * 1.45).round().max(6.0) as usize;
    (pad, swatch, line)
}

/// The legend of `entries` at text height `px`.
pub fn legend(entries: &[Entry], px: f64) -> RgbImage {
    let (w, h) = legend_size(entries, px);
    let (pad, swatch, line) = metrics(px);
    let mut c = RgbImage::filled(w, h, [255, 255, 255]);
    c.stroke_rect(0, 0, w, h, [60, 60, 60]);
    for (i, e) in entries.iter().enumerate() {
        let y = pad + i * line + (line - swatch) / 2;
        c.fill_rect(pad, y, swatch, swatch, e.color);
        c.stroke_rect(pad, y, swatch, swatch, [60, 60, 60]);
        let ty = pad + i * line + (line.saturating_sub(text_size(&e.name, px).1)) / 2;
        draw_text(&mut c, (2 * pad + swatch) as i32, ty as i32, &e.name, px, [20, 20, 20]);
    }
    c
}

/// The legend entries of the classes of `map` that have pixels in `counts` (indexed by class
/// value, as [`fold_counts`](crate::transform::remap::fold_counts) gives them), in the map's order.
pub fn present_classes(map: &ClassMap, counts: &[u64]) -> Vec<Entry> {
    map.classes()
        .iter()
        .filter(|c| counts.get(c.value as usize).is_some_and(|&n| n > 0))
        .map(|c| Entry { name: c.name.clone(), color: c.color })
        .collect()
}

/// The legend for a `w x h` picture, or `None` (off, nothing present, or no room to read it).
pub fn fitted_legend(entries: &[Entry], w: usize, h: usize) -> Option<(RgbImage, usize)> {
    if entries.is_empty() {
        return None;
    }
    let mut px = (w.min(h) as f64 / 40.0).clamp(11.0, 40.0);
    let (lw, lh) = legend_size(entries, px);
    let fit = (w as f64 * 0.6 / lw as f64).min(h as f64 * 0.5 / lh as f64);
    if fit < 1.0 {
        px = (px * fit).floor();
    }
    if px < 8.0 {
        return None;
    }
    let margin = (px * 0.75).round() as usize;
    Some((legend(entries, px), margin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_swatch_per_entry_and_the_box_grows_with_the_text() {
        let entries = vec![
            Entry { name: "tumor".into(), color: [200, 0, 0] },
            Entry { name: "lymphocytic_infiltrate".into(), color: [0, 0, 200] },
        ];
        let small = legend(&entries, 12.0);
        let big = legend(&entries, 36.0);
        assert!(big.width > 2 * small.width && big.height > 2 * small.height);
        assert_eq!((small.width, small.height), legend_size(&entries, 12.0));
        for (l, px) in [(&small, 12.0), (&big, 36.0)] {
            let count = |rgb: [u8; 3]| l.data.chunks_exact(3).filter(|p| *p == rgb).count();
            let swatch = (px as usize - 2) * (px as usize - 2);
            assert!(count([200, 0, 0]) >= swatch && count([0, 0, 200]) >= swatch, "{px}");
            assert_eq!(count([0, 200, 0]), 0);
        }
    }
}
