//! `bcss split`: the official split by institution, or a leakage check of a split file.

use std::path::PathBuf;

use bcss::catalog::split::{Part, Scheme, Split};
use bcss::catalog::RoiTable;

use super::{print_json, Output};
use crate::cli::SplitArgs;
use crate::exit::{Classify, Failure};

fn counts_text(s: &Split) -> String {
    s.counts().iter().map(|(p, n)| format!("{p} {n}")).collect::<Vec<_>>().join(", ")
}

/// What `bcss split` did.
pub enum Done {
    /// `--check FILE`: the file's split and its leaks (a site or patient in two parts).
    Checked { file: PathBuf, split: Split, leaks: Vec<String> },
    /// A split of `scheme` written to `out`.
    Written { out: PathBuf, scheme: Scheme, split: Split },
}

impl Done {
    /// The `--json` summary.
    pub fn value(&self) -> serde_json::Value {
        match self {
            Done::Checked { file, split, leaks } => serde_json::json!({
                "file": file.display().to_string(), "counts": split.counts(), "ok": leaks.is_empty(), "leaks": leaks
            }),
            Done::Written { out, scheme, split } => serde_json::json!({
                "out": out.display().to_string(), "scheme": scheme.as_str(), "counts": split.counts()
            }),
        }
    }
}

/// Checks a split file, or writes the split of a scheme.
pub fn execute(args: &SplitArgs) -> Result<Done, Failure> {
    if let Some(path) = &args.check {
        let split = Split::from_path(path).input()?;
        let leaks = split.leaks().iter().map(|l| l.to_string()).collect();
        return Ok(Done::Checked { file: path.clone(), split, leaks });
    }
    let scheme = args.scheme;
    let table = match &args.roi_bounds {
        Some(p) => RoiTable::from_path(p).input()?,
        None => RoiTable::builtin(),
    };
    let split = Split::from_scheme(scheme, table.rois().iter().map(|r| r.id.as_str()));
    split.check_leakage().input()?;
    let path = args.out.as_ref().expect("clap requires --out without --check");
    bcss::command::split::write(&split, path, Some(scheme)).output()?;
    Ok(Done::Written { out: path.clone(), scheme, split })
}

pub fn run(args: &SplitArgs, out: Output) -> Result<(), Failure> {
    let done = execute(args)?;
    if out.json {
        print_json(&done.value());
    }
    match &done {
        Done::Checked { file, split, leaks } => {
            if leaks.is_empty() {
                if !out.quiet && !out.json {
                    eprintln!("no leakage: every site and patient is in one part ({})", counts_text(split));
                }
                return Ok(());
            }
            if !out.json {
                for l in leaks {
                    eprintln!("leak: {l}");
                }
                eprintln!("error: `{}` leaks {} site(s)/patient(s) across parts", file.display(), leaks.len());
            }
            Err(Failure::Partial)
        }
        Done::Written { out: path, scheme, split } => {
            if !out.quiet && !out.json {
                let sites = |p: Part| {
                    let mut s: Vec<&str> = split
                        .iter()
                        .filter(|(_, q)| *q == p)
                        .filter_map(|(r, _)| bcss::catalog::tissue_source_site(r))
                        .collect();
                    s.dedup();
                    s.sort();
                    s.dedup();
                    s.join(" ")
                };
                eprintln!(
                    "{} split of {} ROIs: {} -> {}",
                    scheme.as_str(),
                    split.len(),
                    counts_text(split),
                    path.display()
                );
                for p in [Part::Val, Part::Test] {
                    if split.counts().contains_key(&p) {
                        eprintln!("  {p} sites: {}", sites(p));
                    }
                }
            }
            Ok(())
        }
    }
}
