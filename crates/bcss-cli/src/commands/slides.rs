//! `bcss slides manifest`: the GDC manifest of the catalogue's slides.

use bcss::command::slides::{self, ManifestPlan, SlidesError};

use super::{print_json, Output};
use crate::cli::{SlidesArgs, SlidesCommand, SlidesManifestArgs};
use crate::config;
use crate::exit::{Classify, Failure};

pub fn run(args: &SlidesArgs, out: Output) -> Result<(), Failure> {
    match &args.command {
        SlidesCommand::Manifest(m) => manifest(m, out),
    }
}

fn manifest(args: &SlidesManifestArgs, out: Output) -> Result<(), Failure> {
    let env = &config::process_env;
    let rois = config::select_rois(args.roi_bounds.as_deref(), config::slides_flag(&args.slides).as_ref()).input()?;
    let (url, token) = config::gdc_settings(
        config::pick("gdc-url", args.gdc_url.clone(), Some(("BCSS_GDC_URL", env("BCSS_GDC_URL"))), (None, None)),
        args.gdc_token_file.clone().map(|f| config::Sourced::flag("gdc-token-file", f)),
    )
    .input()?;
    let plan = ManifestPlan::new(rois)
        .url(url)
        .token(token)
        .http(config::net_config(&args.net, env).input()?)
        .out(args.out.clone());
    let found = match slides::manifest(&plan) {
        Ok(f) => f,
        Err(e @ SlidesError::Gdc(_)) => {
            return Err(Failure::Unavailable(
                e.into(),
                "check --gdc-url and the network; the GDC API is https://api.gdc.cancer.gov",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let files = &found.files;
    if args.out.is_none() && !out.json {
        print!("{}", found.text);
    }
    if out.json {
        let rows: Vec<serde_json::Value> = files
            .iter()
            .map(
                |f| serde_json::json!({"id": f.id, "filename": f.name, "md5": f.md5, "size": f.size, "state": f.state}),
            )
            .collect();
        print_json(&serde_json::json!({"files": rows, "missing": found.missing, "out": args.out}));
    } else if !out.quiet {
        let total: u64 = files.iter().map(|f| f.size).sum();
        eprintln!(
            "{} slide files, {:.1} GB in all{}",
            files.len(),
            total as f64 / 1e9,
            args.out.as_ref().map(|p| format!(" -> {}", p.display())).unwrap_or_default()
        );
    }
    if found.missing.is_empty() {
        return Ok(());
    }
    if !out.json {
        for (slide, why) in &found.missing {
            eprintln!("missing: {slide}: {why}");
        }
    }
    Err(Failure::Partial)
}
