//! `bcss slides manifest`: the GDC manifest of the catalogue's slides.

use bcss::command::pipeline::find_gdc_slides;
use bcss::source::gdc::{write_manifest, Gdc, GdcFile};
use bcss::source::http::Http;

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
    let http = Http::new(config::net_config(&args.net, env).input()?).input()?;
    let gdc = Gdc::new(http, &url, token);
    let found = match find_gdc_slides(&gdc, &rois, None) {
        Ok(f) => f,
        Err(e) => {
            return Err(Failure::Unavailable(
                e.into(),
                "check --gdc-url and the network; the GDC API is https://api.gdc.cancer.gov",
            ))
        }
    };
    let files: Vec<GdcFile> = found.files.values().cloned().collect();
    let text = write_manifest(&files);
    match &args.out {
        Some(path) => {
            bcss::dataset::atomic::write_atomic(path, |w| w.write_all(text.as_bytes()))
                .map_err(|e| anyhow::Error::new(e).context(format!("cannot write `{}`", path.display())))
                .output()?;
        }
        None if !out.json => print!("{text}"),
        None => {}
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
