//! `bcss download`.

use std::path::PathBuf;

use bcss::command::download::{self, DownloadError, DownloadPlan, Summary};

use super::Output;
use crate::cli::DownloadArgs;
use crate::config;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &DownloadArgs, out: Output) -> Result<(), Failure> {
    let (plan, log) = prepare(args, out.quiet)?;
    let bar = Bar::new("ROIs", out.progress);
    let result = download::download(&plan, &bar);
    bar.finish();
    super::finish_run("download", &classify(result)?, plan.get_out(), log, out)
}

/// Resolves the plan (flags, environment, file) and opens the run's log. Returns the plan and
/// the log's path.
pub fn prepare(args: &DownloadArgs, quiet: bool) -> Result<(DownloadPlan, Option<PathBuf>), Failure> {
    let ask = |user: &str| -> anyhow::Result<String> {
        rpassword::prompt_password(format!("password for {user}: ")).map_err(|e| {
            anyhow::Error::new(e).context(
                "cannot read the password for `--login` from the terminal (BCSS_PASSWORD gives it without one)",
            )
        })
    };
    let plan = config::resolve_download(args, &config::process_env, &ask).input()?;
    let log = crate::logging::init(Some(&plan.get_out().join("logs")), quiet).output()?;
    tracing::info!(source = ?plan.get_source(), api_url = %bcss::source::http::redact_url(plan.get_api_url()), gdc_url = %bcss::source::http::redact_url(plan.get_gdc().get_url()), wsis = plan.get_wsis(), rois = plan.get_rois().rois().len(), resolution = %plan.get_resolution().describe(), mode = plan.get_mode().as_str(), "bcss download starts");
    Ok((plan, log))
}

/// The exit class of a run that could not start.
pub fn classify(result: Result<Summary, DownloadError>) -> Result<Summary, Failure> {
    match result {
        Ok(s) => Ok(s),
        Err(e @ DownloadError::Listing { .. }) if listing_refused(&e) => Err(Failure::Unavailable(
            e.into(),
            "the folder listing was refused: give --api-key (or BCSS_API_KEY) or --login for an account that may read the folder, or the --folder-id of a folder you can read",
        )),
        Err(DownloadError::Connect(e)) if dsa_down(&e) => Err(Failure::Unavailable(
            e.into(),
            "the DSA is down or failing; `bcss download --source gdc` builds the same images from the slide files on the NCI GDC without it (rerunning resumes where this stopped), and the authors' Google Drive copy (colour-normalised, 0.25 um/px; see the README) is read by every bcss command as it is",
        )),
        #[cfg(feature = "openslide")]
        Err(DownloadError::Gdc(e @ bcss::command::download::GdcSlidesError::Gdc(_))) => Err(Failure::Unavailable(
            e.into(),
            "check --gdc-url and the network; with the slides' GDC manifest (`bcss slides manifest`) the search is skipped",
        )),
        // The rest by whose side it is on (the library's exhaustive classification).
        Err(e) => Err(e.into()),
    }
}

/// True when the folder listing was refused for want of (the right) credentials: 401 or 403.
fn listing_refused(e: &DownloadError) -> bool {
    matches!(e, DownloadError::Listing { source, .. } if matches!(source.status(), Some(401 | 403)))
}

/// True when the DSA could not be reached or answered a server error (5xx) while connecting:
/// the GDC can stand in for it.
fn dsa_down(e: &bcss::source::GirderError) -> bool {
    use bcss::source::GirderError;
    match e {
        GirderError::Http { .. } => true,
        GirderError::Server { status, .. } => *status >= 500,
        _ => false,
    }
}
