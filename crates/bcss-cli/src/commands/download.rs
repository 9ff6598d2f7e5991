//! `bcss download`.

use bcss::command::download::{self, DownloadError};

use super::{print_json, Output};
use crate::cli::DownloadArgs;
use crate::config;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &DownloadArgs, out: Output) -> Result<(), Failure> {
    let ask = |user: &str| -> anyhow::Result<String> {
        rpassword::prompt_password(format!("password for {user}: "))
            .map_err(|e| anyhow::anyhow!("cannot read the password for `--login` ({e}); set BCSS_PASSWORD instead"))
    };
    let plan = config::resolve_download(args, &config::process_env, &ask).input()?;
    let log = crate::logging::init(Some(&plan.out.join("logs")), out.quiet).output()?;
    tracing::info!(api_url = %bcss::source::http::redact_url(&plan.api_url), rois = plan.rois.rois().len(), resolution = %plan.resolution.describe(), mode = plan.mode.as_str(), "bcss download starts");

    let bar = Bar::new("ROIs", out.progress);
    let result = download::download(&plan, &bar);
    bar.finish();
    let summary = match result {
        Ok(s) => s,
        Err(e @ DownloadError::Output { .. }) => return Err(Failure::Output(e.into())),
        Err(e @ DownloadError::Manifest(_)) => return Err(Failure::Output(e.into())),
        Err(e) => return Err(e).server(),
    };
    tracing::info!(
        done = summary.done.len(),
        skipped = summary.skipped.len(),
        failed = summary.failed.len(),
        "bcss download ends"
    );
    if out.json {
        let mut value = serde_json::to_value(&summary).expect("summary serialises");
        value["out"] = serde_json::json!(plan.out.display().to_string());
        value["log"] = serde_json::json!(log.map(|p| p.display().to_string()));
        print_json(&value);
    } else if !out.quiet {
        eprintln!(
            "{} done, {} skipped (already complete), {} failed, {:.1} MB received in {:.1} s -> {}",
            summary.done.len(),
            summary.skipped.len(),
            summary.failed.len(),
            summary.bytes as f64 / 1e6,
            summary.seconds,
            plan.out.display()
        );
    }
    if !summary.failed.is_empty() {
        if !out.json {
            for (roi, reason) in &summary.failed {
                eprintln!("failed: {roi}: {reason}");
            }
            eprintln!("\nhint: rerun the same command to retry the failed ROIs; completed ones are skipped");
        }
        return Err(Failure::Partial);
    }
    Ok(())
}
