//! `bcss extract`.

use bcss::command::extract::{self, ExtractError};

use super::Output;
use crate::cli::ExtractArgs;
use crate::config;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &ExtractArgs, out: Output) -> Result<(), Failure> {
    let plan = config::resolve_extract(args, &config::process_env).input()?;
    let log = crate::logging::init(Some(&plan.out.join("logs")), out.quiet).output()?;
    tracing::info!(slides_dir = %plan.slides_dir.display(), rois = plan.rois.rois().len(), resolution = %plan.resolution.describe(), mask_source = plan.mask_source.as_str(), "bcss extract starts");

    let bar = Bar::new("ROIs", out.progress);
    let result = extract::extract(&plan, &bar);
    bar.finish();
    let summary = match result {
        Ok(s) => s,
        Err(ExtractError::Run(e)) => return Err(super::run_failure(e)),
        Err(e) => return Err(Failure::Input(e.into())),
    };
    super::finish_run("extract", &summary, &plan.out, log, out)
}
