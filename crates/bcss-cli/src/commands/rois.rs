//! `bcss rois`: the catalogue, one ROI a line.

use bcss::catalog::split::Scheme;
use bcss::catalog::{tissue_source_site, SlideTable};

use super::{print_json, Output};
use crate::cli::RoisArgs;
use crate::config;
use crate::exit::{Classify, Failure};

pub fn run(args: &RoisArgs, out: Output) -> Result<(), Failure> {
    let table = config::select_rois(args.roi_bounds.as_deref(), config::slides_flag(&args.slides).as_ref()).input()?;
    let slides = SlideTable::builtin();
    let rows: Vec<serde_json::Value> = table
        .rois()
        .iter()
        .map(|r| {
            let slide = slides.get(r.short_name());
            serde_json::json!({
                "roi": r.id,
                "slide": r.short_name(),
                "slide_name": slide.map(|s| s.name.clone()),
                "item_id": slide.map(|s| s.item_id.clone()),
                "magnification": slide.and_then(|s| s.magnification),
                "xmin": r.xmin, "ymin": r.ymin, "xmax": r.xmax, "ymax": r.ymax,
                "width": r.width(), "height": r.height(),
                "site": tissue_source_site(&r.id),
                "split": Scheme::Official.part_of(&r.id).as_str(),
                "split_val": Scheme::OfficialVal.part_of(&r.id).as_str(),
                "mask_link": r.mask_link,
            })
        })
        .collect();
    if out.json {
        print_json(&rows);
        return Ok(());
    }
    println!(
        "{:<18} {:>4} {:>7} {:>7} {:>6} {:>6} {:>5} {:<5} {:<5}",
        "roi", "site", "xmin", "ymin", "width", "height", "mag", "split", "(val)"
    );
    for (r, row) in table.rois().iter().zip(&rows) {
        let mag = row["magnification"].as_f64().map(|m| format!("{m:.0}x")).unwrap_or_else(|| "-".into());
        println!(
            "{:<18} {:>4} {:>7} {:>7} {:>6} {:>6} {:>5} {:<5} {:<5}",
            r.id,
            row["site"].as_str().unwrap_or("-"),
            r.xmin,
            r.ymin,
            r.width(),
            r.height(),
            mag,
            row["split"].as_str().unwrap_or("-"),
            row["split_val"].as_str().unwrap_or("-"),
        );
    }
    let pixels: u64 = table.rois().iter().map(|r| r.width() * r.height()).sum();
    if !out.quiet {
        eprintln!("{} ROIs, {:.2} gigapixels at base resolution", table.rois().len(), pixels as f64 / 1e9);
    }
    Ok(())
}
