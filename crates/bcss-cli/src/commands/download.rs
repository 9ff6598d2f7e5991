//! `bcss download`.

use bcss::command::download::{self, DownloadError};

use super::Output;
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
        Err(DownloadError::Run(e)) => return Err(super::run_failure(e)),
        Err(e @ DownloadError::Client(_)) => return Err(Failure::Input(e.into())),
        Err(e) => return Err(e).server(),
    };
    super::finish_run("download", &summary, &plan.out, log, out)
}
