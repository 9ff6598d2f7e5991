//! `bcss extract`.

use std::path::PathBuf;

use bcss::command::download::Summary;
use bcss::command::extract::{self, ExtractError, ExtractPlan};

use super::Output;
use crate::cli::ExtractArgs;
use crate::config;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &ExtractArgs, out: Output) -> Result<(), Failure> {
    let (plan, log) = prepare(args, out.quiet)?;
    let bar = Bar::new("ROIs", out.progress);
    let result = extract::extract(&plan, &bar);
    bar.finish();
    super::finish_run("extract", &classify(result)?, plan.get_out(), log, out)
}

/// Resolves the plan and opens the run's log. Returns the plan and the log's path.
pub fn prepare(args: &ExtractArgs, quiet: bool) -> Result<(ExtractPlan, Option<PathBuf>), Failure> {
    let plan = config::resolve_extract(args, &config::process_env).input()?;
    let log = crate::logging::init(Some(&plan.get_out().join("logs")), quiet).output()?;
    tracing::info!(slides_dir = %plan.get_slides_dir().display(), rois = plan.get_rois().rois().len(), resolution = %plan.get_resolution().describe(), mask_source = plan.get_mask_source().kind().as_str(), "bcss extract starts");
    Ok((plan, log))
}

/// The exit class of a run that could not start.
pub fn classify(result: Result<Summary, ExtractError>) -> Result<Summary, Failure> {
    Ok(result?)
}
