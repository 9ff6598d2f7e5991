//! The charts of a class distribution (`dataset::distribution`): one bar per part of the
//! split for every class, named and in its colour. `bcss stats` draws two of them, `bcss report`
//! shows them on its page.

use crate::catalog::classmap::ClassMap;
use crate::catalog::split::part_color;
use crate::dataset::distribution::{ClassStats, PartStats, Stats};
use crate::render::chart::{BarChart, Category, Scale, Series};

/// What a distribution chart measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Measure {
    /// Each class's share of the part's labelled pixels, in %.
    Share,
    /// Each class's pixels.
    Pixels,
}

/// A chart of the distribution: one bar per part (train, val, test) for every class, named and
/// with its colour, measuring `measure` on a linear or a log scale.
pub fn chart(stats: &Stats, map: &ClassMap, measure: Measure, log: bool) -> BarChart {
    let parts: Vec<&PartStats> = stats.parts.iter().filter(|p| p.part != "all").collect();
    let categories: Vec<Category> =
        map.classes().iter().map(|c| Category { name: c.name.clone(), color: c.color }).collect();
    let value = |c: &ClassStats| match measure {
        Measure::Share => c.fraction * 100.0,
        Measure::Pixels => c.pixels as f64,
    };
    let series = parts
        .iter()
        .map(|p| Series {
            name: format!("{} ({} ROI{})", p.part, p.rois, if p.rois == 1 { "" } else { "s" }),
            color: part_color(&p.part),
            values: p.classes.iter().map(value).collect(),
        })
        .collect();
    let (title, axis, suffix) = match measure {
        Measure::Share => ("Class distribution", "share of the part's labelled pixels", "%"),
        Measure::Pixels => ("Labelled pixels per class", "pixels", ""),
    };
    BarChart {
        title: format!("{title} ({}), by part of the split", stats.class_map),
        axis_label: if log { format!("{axis} (log scale)") } else { axis.to_string() },
        categories,
        series,
        scale: if log { Scale::Log } else { Scale::Linear { suffix: suffix.into() } },
    }
}

/// The two charts of `bcss stats`: the share of each part's labelled pixels (linear, %), and
/// the absolute pixel counts on a log scale (where the rare classes of the raw map are visible).
pub fn distribution_charts(stats: &Stats, map: &ClassMap) -> (BarChart, BarChart) {
    (chart(stats, map, Measure::Share, false), chart(stats, map, Measure::Pixels, true))
}
