//! `bcss masks`.

use anyhow::{anyhow, bail};
use bcss::codec::png::Compression;
use bcss::command::masks::{self, MasksError, MasksPlan, Scale};
use bcss::model::CodeTable;
use bcss::transform::raster::Geometry;

use super::{print_json, Output};
use crate::cli::MasksArgs;
use crate::exit::{Classify, Failure};

/// Validates the arguments into a plan (every failure here is bad input, exit 2).
pub fn plan(args: &MasksArgs) -> anyhow::Result<MasksPlan> {
    let positive = |flag: &str, v: f64| -> anyhow::Result<f64> {
        if !v.is_finite() || v <= 0.0 {
            bail!("`--{flag} {v}` must be a number above 0");
        }
        Ok(v)
    };
    let scale = match (args.mpp, args.mag) {
        (Some(_), Some(_)) => bail!("choose one resolution: `--mpp` and `--mag` are mutually exclusive"),
        (Some(mpp), None) => {
            let native = args
                .native_mpp
                .ok_or_else(|| anyhow!("`--mpp` needs `--native-mpp`, the slide's own microns per pixel"))?;
            Scale::Mpp { mpp: positive("mpp", mpp)?, native_mpp: positive("native-mpp", native)? }
        }
        (None, Some(mag)) => {
            let native = args
                .native_mag
                .ok_or_else(|| anyhow!("`--mag` needs `--native-mag`, the slide's own magnification"))?;
            Scale::Mag { mag: positive("mag", mag)?, native_mag: positive("native-mag", native)? }
        }
        (None, None) => Scale::Base,
    };
    let factor = scale.factor();
    if !factor.is_finite() || factor <= 0.0 {
        bail!("the resolution asked for gives a scale factor of {factor}; give `--mpp`/`--native-mpp` or `--mag`/`--native-mag` of similar sizes");
    }
    let codes = match &args.codes {
        Some(p) => CodeTable::from_path(p)
            .map_err(|e| anyhow!(e).context(format!("cannot use codes table `{}`", p.display())))?,
        None => CodeTable::bcss(),
    };
    let slide_name = match &args.slide_name {
        Some(n) => n.clone(),
        None => masks::slide_name_from_path(&args.annotations).ok_or_else(|| {
            anyhow!("cannot derive a slide name from `{}`; give `--slide-name`", args.annotations.display())
        })?,
    };
    let png = match args.png_compression.as_deref() {
        None | Some("balanced") => Compression::Balanced,
        Some("fast") => Compression::Fast,
        Some("high") => Compression::High,
        Some(other) => bail!("unknown PNG compression `{other}`: use fast, balanced or high"),
    };
    if args.out.exists() && !args.out.is_dir() {
        bail!("`--out {}` exists and is not a directory", args.out.display());
    }
    Ok(MasksPlan {
        annotations: args.annotations.clone(),
        codes,
        slide_name,
        out: args.out.clone(),
        scale,
        geometry: if args.strict { Geometry::Strict } else { Geometry::Htk },
        png,
        wait_lock: args.wait_lock,
    })
}

pub fn run(args: &MasksArgs, out: Output) -> Result<(), Failure> {
    let plan = plan(args).input()?;
    let summary = match masks::run(&plan) {
        Ok(s) => s,
        Err(e @ (MasksError::Output { .. } | MasksError::Write { .. })) => return Err(Failure::Output(e.into())),
        Err(MasksError::Lock(e)) => return Err(super::lock_failure(e)),
        Err(e) => return Err(Failure::Input(e.into())),
    };
    if out.json {
        print_json(&summary);
    } else if !out.quiet {
        for m in &summary.masks {
            println!("{}", m.png.display());
        }
        let skipped: Vec<String> = summary.skipped_elements.iter().map(|(k, v)| format!("{v} {k}")).collect();
        eprintln!(
            "{} mask(s) from {} ROI element(s){} of {} element(s){}, scale factor {} ({} geometry) -> {}",
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
            plan.out.display()
        );
    }
    if !out.quiet {
        for k in &summary.skipped_rois {
            eprintln!(
                "skipped: ROI {} ({}, annotation {} element {}, {} `{}`), as HistomicsTK skips it: {}",
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
    if summary.rois == 0 {
        return Err(Failure::Input(anyhow!(
            "`{}` has no ROI element: no polyline or rectangle belongs to a group with is_roi (here: {})",
            plan.annotations.display(),
            plan.codes
                .groups()
                .iter()
                .filter(|g| g.is_roi)
                .map(|g| format!("`{}`", g.group))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !summary.failed.is_empty() {
        if !out.json {
            for f in &summary.failed {
                eprintln!("failed: ROI {} ({}): {}", f.roi_index, f.element_id.as_deref().unwrap_or("no id"), f.reason);
            }
        }
        return Err(Failure::Partial);
    }
    Ok(())
}
