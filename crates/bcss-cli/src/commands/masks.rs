//! `bcss masks`.

use anyhow::{anyhow, bail};
use bcss::command::masks::{self, MasksPlan, MasksSummary, Scale, SlideAnnotations};
use bcss::model::CodeTable;
use bcss::transform::Geometry;

use super::{print_json, Output};
use crate::cli::MasksArgs;
use crate::exit::{Classify, Failure};

/// Validates the arguments into a plan (every failure here is bad input, exit 2).
pub fn plan(args: &MasksArgs) -> anyhow::Result<MasksPlan> {
    use crate::config::{check_mag, check_mpp, Sourced};
    let scale = match (args.mpp, args.mag) {
        (Some(_), Some(_)) => bail!("choose one resolution: `--mpp` and `--mag` are mutually exclusive"),
        (Some(mpp), None) => {
            let native = args
                .native_mpp
                .ok_or_else(|| anyhow!("`--mpp` needs `--native-mpp`, the slide's own microns per pixel"))?;
            Scale::Mpp {
                mpp: check_mpp(&Sourced::flag("mpp", mpp))?,
                native_mpp: check_mpp(&Sourced::flag("native-mpp", native))?,
            }
        }
        (None, Some(mag)) => {
            let native = args
                .native_mag
                .ok_or_else(|| anyhow!("`--mag` needs `--native-mag`, the slide's own magnification"))?;
            Scale::Mag {
                mag: check_mag(&Sourced::flag("mag", mag))?,
                native_mag: check_mag(&Sourced::flag("native-mag", native))?,
            }
        }
        (None, None) => Scale::Base,
    };
    let factor = scale.factor();
    if !factor.is_finite() || factor <= 0.0 {
        bail!("the resolution asked for gives a scale factor of {factor}; give `--mpp`/`--native-mpp` or `--mag`/`--native-mag` of similar sizes");
    }
    let codes = match &args.codes {
        Some(p) => bcss::catalog::read_code_table(p)
            .map_err(|e| anyhow!(e).context(format!("cannot use codes table `{}`", p.display())))?,
        None => CodeTable::bcss(),
    };
    let slides = slides(args)?;
    let png = args.png_compression.unwrap_or_default();
    if args.out.exists() && !args.out.is_dir() {
        bail!("`--out {}` exists and is not a directory", args.out.display());
    }
    Ok(MasksPlan::new(slides, &args.out)
        .codes(codes)
        .scale(scale)
        .geometry(if args.strict { Geometry::Strict } else { Geometry::Htk })
        .png(png)
        .wait_lock(args.wait_lock))
}

/// Whether the run is about one slide given by its file: its summary is then the output, and
/// its failure the command's.
fn one_file(args: &MasksArgs) -> bool {
    matches!(args.annotations.as_slice(), [p] if !p.is_dir())
}

/// The slides of `--annotations`: files as given, folders as their `*.json` files in name
/// order. Two files of one slide name would write over each other's masks: refused.
fn slides(args: &MasksArgs) -> anyhow::Result<Vec<SlideAnnotations>> {
    if let Some(name) = &args.slide_name {
        if !one_file(args) {
            bail!("`--slide-name` names the masks of one annotation file; with several slides each is named after its file");
        }
        return Ok(vec![SlideAnnotations { annotations: args.annotations[0].clone(), slide_name: name.clone() }]);
    }
    let mut files = Vec::new();
    for path in &args.annotations {
        if path.is_dir() {
            let mut found: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| anyhow!(e).context(format!("cannot list `{}`", path.display())))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                // Every `*.json` but a folder: a FIFO or device named so is a slide that fails
                // (the library refuses to read it), not one left out without a word.
                .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.is_dir())
                .collect();
            if found.is_empty() {
                bail!("`{}` holds no annotation file (`*.json`)", path.display());
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    let mut slides = Vec::new();
    for file in files {
        let slide = SlideAnnotations::from_path(&file)
            .ok_or_else(|| anyhow!("cannot derive a slide name from `{}`; give `--slide-name`", file.display()))?;
        if let Some(first) = seen.insert(slide.slide_name.clone(), file.clone()) {
            bail!(
                "`{}` and `{}` are both slide `{}`: their masks would have the same names",
                first.display(),
                file.display(),
                slide.slide_name
            );
        }
        slides.push(slide);
    }
    Ok(slides)
}

pub fn run(args: &MasksArgs, out: Output) -> Result<(), Failure> {
    let plan = plan(args).input()?;
    let mut done = masks::run(&plan)?;
    if one_file(args) {
        if let Some(failed) = done.failed.pop() {
            return Err(Failure::Input(failed.error.into()));
        }
        let summary = &done.slides[0];
        if out.json {
            print_json(summary);
        }
        report_slide(summary, &plan, out, false);
        if summary.rois == 0 {
            return Err(Failure::Input(anyhow!(no_roi(summary, &plan))));
        }
        return if summary.failed.is_empty() { Ok(()) } else { Err(Failure::Partial) };
    }
    if out.json {
        print_json(&done);
    }
    for summary in &done.slides {
        report_slide(summary, &plan, out, true);
        if summary.rois == 0 && !out.quiet && !out.json {
            eprintln!("failed: {}", no_roi(summary, &plan));
        }
    }
    if !out.json {
        for f in &done.failed {
            eprintln!("failed: {}", f.reason);
        }
    }
    let masks: usize = done.slides.iter().map(|s| s.masks.len()).sum();
    let unfinished = done.failed.len() + done.slides.iter().filter(|s| s.rois == 0 || !s.failed.is_empty()).count();
    if !out.quiet && !out.json {
        eprintln!(
            "{masks} mask(s) of {} slide(s){} -> {}",
            done.slides.len() + done.failed.len(),
            match unfinished {
                0 => String::new(),
                n => format!(", {n} with failures"),
            },
            plan.get_out().display()
        );
    }
    if unfinished > 0 {
        return Err(Failure::Partial);
    }
    Ok(())
}

/// Why a slide without a ROI element has no mask.
fn no_roi(summary: &MasksSummary, plan: &MasksPlan) -> String {
    format!(
        "`{}` has no ROI element: no polyline or rectangle belongs to a group with is_roi (here: {})",
        summary.annotations.display(),
        plan.get_codes()
            .groups()
            .iter()
            .filter(|g| g.is_roi)
            .map(|g| format!("`{}`", g.group))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The masks of one slide, what was skipped and what failed (stdout: the mask files; stderr:
/// the rest). With `--json` only the failures, on stderr (the JSON holds the rest).
fn report_slide(summary: &MasksSummary, plan: &MasksPlan, out: Output, several: bool) {
    // With several slides each line says which.
    let who = if several { format!("{}: ", summary.slide_name) } else { String::new() };
    if !out.json && !out.quiet {
        for m in &summary.masks {
            println!("{}", m.png.display());
        }
        let skipped: Vec<String> = summary.skipped_elements.iter().map(|(k, v)| format!("{v} {k}")).collect();
        eprintln!(
            "{who}{} mask(s) from {} ROI element(s){} of {} element(s){}, scale factor {} ({} geometry) -> {}",
            summary.masks.len(),
            summary.rois,
            match summary.skipped_rois.len() {
                0 => String::new(),
                n => format!(" ({n} skipped)"),
            },
            summary.elements,
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" (skipped, not rasterised: {})", skipped.join(", "))
            },
            summary.scale_factor,
            summary.geometry.as_str(),
            plan.get_out().display()
        );
    }
    if !out.quiet {
        for k in &summary.skipped_rois {
            eprintln!(
                "skipped: {who}ROI {} ({}, annotation {} element {}, {} `{}`), as HistomicsTK skips it: {}",
                k.roi_index,
                k.element_id.as_deref().unwrap_or("no id"),
                k.annidx,
                k.elementidx,
                k.element_type,
                k.group.as_deref().unwrap_or(""),
                k.reason
            );
        }
    }
    if !out.json {
        for f in &summary.failed {
            eprintln!(
                "failed: {who}ROI {} ({}): {}",
                f.roi_index,
                f.element_id.as_deref().unwrap_or("no id"),
                f.reason
            );
        }
    }
}
