//! A grouped horizontal bar chart, drawn by `plotters` into SVG or an RGB bitmap.
//!
//! One group per category (a class: its name and, beside it, a swatch of its colour), one bar
//! per series (a part of the split, in the part's colour, named in the legend). Horizontal, so
//! class names are written level and in full. The value axis is linear (with a unit suffix,
//! e.g. `%`) or logarithmic (powers of ten, for absolute pixel counts where the rare raw
//! classes would be invisible on a linear scale). Ticks come from [`super::ticks`]: each label
//! is its value, drawn at that value through the chart's own coordinate mapping.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::font;
use super::ticks::{self, Tick};
use crate::model::RgbImage;

/// A category (class) of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// Shown left of its group.
    pub name: String,
    /// Its swatch.
    pub color: [u8; 3],
}

/// A series (a part of the split): one bar in every group.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Shown in the legend.
    pub name: String,
    /// The bars' colour.
    pub color: [u8; 3],
    /// One value per category, in the categories' order.
    pub values: Vec<f64>,
}

/// The value axis.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Scale {
    /// From 0, ticks at round steps, labels with this suffix.
    Linear {
        /// E.g. `%`.
        suffix: String,
    },
    /// Powers of ten; values at or below 0 have no bar.
    Log,
}

/// A chart to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Top line.
    pub title: String,
    /// Under the value axis.
    pub axis_label: String,
    /// The groups, top to bottom.
    pub categories: Vec<Category>,
    /// The bars of each group, top to bottom.
    pub series: Vec<Series>,
    /// The value axis.
    pub scale: Scale,
}

/// Drawing failed (a backend error; not expected for in-memory backends).
#[derive(Debug, thiserror::Error)]
#[error("the plotting backend failed: {0}")]
pub struct RenderError(pub(crate) String);

const BAR: u32 = 14;
const GAP: u32 = 12;
const TOP: u32 = 72;
const BOTTOM: u32 = 64;
const RIGHT: u32 = 36;
const WIDTH: u32 = 960;
const TEXT: u32 = 14;
const INK: RGBColor = RGBColor(33, 33, 33);
const GRID: RGBColor = RGBColor(224, 224, 224);

impl BarChart {
    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        let groups = self.categories.len().max(1) as u32;
        let per = BAR * self.series.len().max(1) as u32 + GAP;
        (WIDTH, TOP + groups * per + BOTTOM)
    }

    /// The value axis: its range and ticks.
    pub fn axis(&self) -> ((f64, f64), Vec<Tick>) {
        let values = self.series.iter().flat_map(|s| s.values.iter().copied()).filter(|v| v.is_finite());
        match &self.scale {
            Scale::Linear { suffix } => {
                let max = values.fold(0.0f64, f64::max);
                let (top, t) = ticks::linear(max, 5, suffix);
                ((0.0, top), t)
            }
            Scale::Log => {
                let positive: Vec<f64> = values.filter(|&v| v > 0.0).collect();
                let min = positive.iter().copied().fold(f64::INFINITY, f64::min);
                let max = positive.iter().copied().fold(0.0f64, f64::max);
                ticks::log10(min, max)
            }
        }
    }

    fn left(&self) -> u32 {
        // Room for the longest class name at ~0.6 em per character, its swatch and a margin.
        let chars = self.categories.iter().map(|c| c.name.chars().count()).max().unwrap_or(0) as u32;
        (chars * TEXT * 6 / 10 + 44).clamp(120, 420)
    }

    /// The chart as an SVG document (text in the viewer's sans-serif).
    pub fn svg(&self) -> Result<String, RenderError> {
        font::ensure_registered();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, self.size()).into_drawing_area();
            self.draw(&root).map_err(|e| RenderError(e.to_string()))?;
            root.present().map_err(|e| RenderError(e.to_string()))?;
        }
        Ok(out)
    }

    /// The chart as an RGB bitmap (text in the embedded DejaVu Sans).
    pub fn bitmap(&self) -> Result<RgbImage, RenderError> {
        font::ensure_registered();
        let (w, h) = self.size();
        let mut data = vec![255u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut data, (w, h)).into_drawing_area();
            self.draw(&root).map_err(|e| RenderError(e.to_string()))?;
            root.present().map_err(|e| RenderError(e.to_string()))?;
        }
        Ok(RgbImage { width: w as usize, height: h as usize, data })
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let ((lo, hi), axis_ticks) = self.axis();
        let n = self.categories.len().max(1) as f64;
        let left = self.left();
        let text = |size: u32| (font::FAMILY, size).into_font().color(&INK);
        root.draw_text(&self.title, &text(TEXT + 4), (16, 12))?;
        // Legend: the series, in their colours, on the second line.
        let mut x = 16i32;
        for s in &self.series {
            root.draw(&Rectangle::new([(x, 46), (x + 14, 58)], rgb(s.color).filled()))?;
            root.draw_text(&s.name, &text(TEXT), (x + 20, 46))?;
            x += 40 + (s.name.chars().count() as u32 * TEXT * 6 / 10) as i32;
        }
        let area = root.margin(TOP, BOTTOM, left, RIGHT);
        let y_of = |group: f64| n - group;
        let draw_axis = |map: &dyn Fn(f64, f64) -> (i32, i32)| -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
            for t in &axis_ticks {
                let (x0, y0) = map(t.value, 0.0);
                let (_, y1) = map(t.value, n);
                root.draw(&PathElement::new([(x0, y0), (x0, y1)], GRID))?;
                root.draw(&PathElement::new([(x0, y0), (x0, y0 + 5)], INK))?;
                let style = text(TEXT - 1).pos(Pos::new(HPos::Center, VPos::Top));
                root.draw_text(&t.label, &style, (x0, y0 + 8))?;
            }
            let (ax0, ay) = map(lo, 0.0);
            let (ax1, _) = map(hi, 0.0);
            root.draw(&PathElement::new([(ax0, ay), (ax1, ay)], INK))?;
            let (_, top) = map(lo, n);
            root.draw(&PathElement::new([(ax0, ay), (ax0, top)], INK))?;
            let style = text(TEXT).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw_text(&self.axis_label, &style, ((ax0 + ax1) / 2, ay + 30))?;
            Ok(())
        };
        let draw_labels = |map: &dyn Fn(f64, f64) -> (i32, i32)| -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
            for (i, c) in self.categories.iter().enumerate() {
                let (x0, yc) = map(lo, y_of(i as f64 + 0.5));
                let style = text(TEXT).pos(Pos::new(HPos::Right, VPos::Center));
                root.draw_text(&c.name, &style, (x0 - 26, yc))?;
                root.draw(&Rectangle::new([(x0 - 20, yc - 6), (x0 - 8, yc + 6)], rgb(c.color).filled()))?;
                root.draw(&Rectangle::new([(x0 - 20, yc - 6), (x0 - 8, yc + 6)], INK))?;
            }
            Ok(())
        };
        let pad = GAP as f64 / 2.0 / (BAR as f64 * self.series.len().max(1) as f64 + GAP as f64);
        let bars = |i: usize, j: usize| {
            let per = (1.0 - 2.0 * pad) / self.series.len().max(1) as f64;
            let top = y_of(i as f64) - pad - j as f64 * per;
            (top - per, top)
        };
        // Everything is drawn through the chart's mapping of data to pixels; only the mapping
        // differs between the scales. Bars are clamped to the axis, so nothing leaves the plot.
        let draw_all = |map: &dyn Fn(f64, f64) -> (i32, i32)| -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
            draw_axis(map)?;
            draw_labels(map)?;
            for (j, s) in self.series.iter().enumerate() {
                for (i, &v) in s.values.iter().enumerate().filter(|(_, v)| v.is_finite() && **v > 0.0) {
                    let (b, t) = bars(i, j);
                    root.draw(&Rectangle::new([map(lo, t), map(v.clamp(lo, hi), b)], rgb(s.color).filled()))?;
                }
            }
            Ok(())
        };
        match self.scale {
            Scale::Linear { .. } => {
                let chart = ChartBuilder::on(&area).build_cartesian_2d(lo..hi, 0.0..n)?;
                draw_all(&|x, y| chart.backend_coord(&(x, y)))?;
            }
            Scale::Log => {
                let chart = ChartBuilder::on(&area).build_cartesian_2d((lo..hi).log_scale(), 0.0..n)?;
                draw_all(&|x, y| chart.backend_coord(&(x, y)))?;
            }
        }
        Ok(())
    }
}

fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(scale: Scale, values: [[f64; 3]; 2]) -> BarChart {
        BarChart {
            title: "Class distribution".into(),
            axis_label: "share of labelled pixels".into(),
            categories: vec![
                Category { name: "tumor".into(), color: [200, 0, 0] },
                Category { name: "stroma, \"loose\" & <dense>".into(), color: [0, 150, 0] },
                Category { name: "lymphocytic_infiltrate".into(), color: [0, 0, 200] },
            ],
            series: vec![
                Series { name: "train (2 ROIs)".into(), color: [31, 119, 180], values: values[0].to_vec() },
                Series { name: "test (1 ROI)".into(), color: [255, 127, 14], values: values[1].to_vec() },
            ],
            scale,
        }
    }

    /// `(x, y, text)` of a `<text>` element.
    type Text = (f64, f64, String);
    /// `(x, y, w, h, fill)` of a `<rect>`.
    type Rect = (f64, f64, f64, f64, String);

    /// Every `<text>` and every `<rect>` of an SVG document.
    fn parse(svg: &str) -> (Vec<Text>, Vec<Rect>) {
        let attr = |tag: &str, name: &str| -> Option<String> {
            let key = format!(" {name}=\"");
            let at = tag.find(&key)? + key.len();
            Some(tag[at..at + tag[at..].find('"')?].to_string())
        };
        let num = |tag: &str, name: &str| attr(tag, name).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
        let mut texts = Vec::new();
        for part in svg.split("<text").skip(1) {
            let (tag, rest) = part.split_once('>').unwrap();
            let body = rest.split("</text>").next().unwrap();
            texts.push((num(tag, "x"), num(tag, "y"), body.trim().to_string()));
        }
        let mut rects = Vec::new();
        for part in svg.split("<rect").skip(1) {
            let tag = part.split('>').next().unwrap();
            rects.push((
                num(tag, "x"),
                num(tag, "y"),
                num(tag, "width"),
                num(tag, "height"),
                attr(tag, "fill").unwrap_or_default(),
            ));
        }
        (texts, rects)
    }

    #[test]
    fn tick_labels_stand_at_their_values_and_bars_end_at_the_data() {
        let c = chart(Scale::Linear { suffix: "%".into() }, [[62.5, 30.0, 7.5], [40.0, 0.0, 60.0]]);
        let ((lo, hi), ticks) = c.axis();
        assert_eq!((lo, hi), (0.0, 80.0));
        let svg = c.svg().unwrap();
        let (texts, rects) = parse(&svg);
        let tick_texts: Vec<&Text> = texts.iter().filter(|t| t.2.ends_with('%')).collect();
        assert_eq!(
            tick_texts.iter().map(|t| t.2.as_str()).collect::<Vec<_>>(),
            ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>()
        );
        // Each label's x maps back to its value on the line through the first and last labels.
        let (x0, x1) = (tick_texts[0].0, tick_texts.last().unwrap().0);
        for (t, tick) in tick_texts.iter().zip(&ticks) {
            let value = (t.0 - x0) / (x1 - x0) * hi;
            assert!((value - tick.value).abs() <= hi / (x1 - x0), "{} at {} reads {value}", t.2, t.0);
            assert_eq!(ticks::parse_label(&t.2, "%"), Some(tick.value));
        }
        // Bars: one per non-zero value, in the series' colours, each ending at its value.
        // (The legend's swatches, in the same colours, sit above the plot.)
        let bars: Vec<_> =
            rects.iter().filter(|r| (r.4 == "#1F77B4" || r.4 == "#FF7F0E") && r.1 >= TOP as f64).collect();
        assert_eq!(bars.len(), 5, "{rects:?}");
        let train: Vec<f64> = bars.iter().filter(|r| r.4 == "#1F77B4").map(|r| (r.2) / (x1 - x0) * hi).collect();
        for (got, want) in train.iter().zip([62.5, 30.0, 7.5]) {
            assert!((got - want).abs() <= 2.0 * hi / (x1 - x0), "bar {got} for {want}");
        }
        // Names are written whole and escaped; the legend names the series, not the classes.
        for want in [
            "tumor",
            "stroma, &quot;loose&quot; &amp; &lt;dense&gt;",
            "lymphocytic_infiltrate",
            "train (2 ROIs)",
            "test (1 ROI)",
            "share of labelled pixels",
        ] {
            assert!(texts.iter().any(|t| t.2 == want), "{want} missing from {texts:?}");
        }
    }

    #[test]
    fn log_scale_shows_rare_classes_and_skips_zeros() {
        let c = chart(Scale::Log, [[4.0e8, 2.0e3, 15.0], [1.0e6, 0.0, 3.0e2]]);
        let ((lo, hi), ticks) = c.axis();
        assert_eq!((lo, hi), (10.0, 1e9));
        let (texts, rects) = parse(&c.svg().unwrap());
        let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["10", "100", "1k", "10k", "100k", "1M", "10M", "100M", "1G"]);
        let xs: Vec<f64> = labels.iter().map(|l| texts.iter().find(|t| t.2 == *l).unwrap().0).collect();
        // Decades are evenly spaced.
        let step = (xs[8] - xs[0]) / 8.0;
        assert!(xs.windows(2).all(|w| ((w[1] - w[0]) - step).abs() <= 1.0), "{xs:?}");
        // (The legend's swatches, in the same colours, sit above the plot.)
        let bars: Vec<_> =
            rects.iter().filter(|r| (r.4 == "#1F77B4" || r.4 == "#FF7F0E") && r.1 >= TOP as f64).collect();
        assert_eq!(bars.len(), 5, "the zero has no bar");
        // The 15-pixel class is a visible bar (log10(15) - 1 = 0.18 decades).
        let smallest = bars.iter().map(|r| r.2).fold(f64::INFINITY, f64::min);
        assert!(smallest >= 0.15 * step, "{smallest} vs a decade of {step}");
    }

    #[test]
    fn bitmap_has_text_and_bars() {
        let c = chart(Scale::Linear { suffix: "%".into() }, [[62.5, 30.0, 7.5], [40.0, 0.0, 60.0]]);
        let img = c.bitmap().unwrap();
        assert_eq!((img.width as u32, img.height as u32), c.size());
        let count = |rgb: [u8; 3]| img.data.chunks_exact(3).filter(|p| *p == rgb).count();
        assert!(count([31, 119, 180]) > 1000 && count([255, 127, 14]) > 1000);
        // Text is drawn in ink, antialiased: many grey levels, not a 5x7 bitmap's two.
        let greys =
            img.data.chunks_exact(3).filter(|p| p[0] == p[1] && p[1] == p[2] && p[0] < 250 && p[0] > 40).count();
        assert!(greys > 500, "{greys} antialiased text pixels");
    }
}
