//! `bcss split`: the official split by institution, or a leakage check of a split file.

use bcss::catalog::split::{Part, Scheme, Split};
use bcss::catalog::RoiTable;

use super::{print_json, Output};
use crate::cli::SplitArgs;
use crate::exit::{Classify, Failure};

fn counts_text(s: &Split) -> String {
    s.counts().iter().map(|(p, n)| format!("{p} {n}")).collect::<Vec<_>>().join(", ")
}

pub fn run(args: &SplitArgs, out: Output) -> Result<(), Failure> {
    if let Some(path) = &args.check {
        let split = Split::from_path(path).input()?;
        let result = split.check_leakage();
        if out.json {
            let leaks: Vec<String> = match &result {
                Err(bcss::catalog::split::SplitError::Leakage { leaks }) => {
                    leaks.iter().map(|l| l.to_string()).collect()
                }
                _ => vec![],
            };
            print_json(
                &serde_json::json!({"file": path.display().to_string(), "counts": split.counts(), "ok": leaks.is_empty(), "leaks": leaks}),
            );
        }
        return match result {
            Ok(()) => {
                if !out.quiet && !out.json {
                    eprintln!("no leakage: every site and patient is in one part ({})", counts_text(&split));
                }
                Ok(())
            }
            Err(bcss::catalog::split::SplitError::Leakage { leaks }) => {
                if !out.json {
                    for l in &leaks {
                        eprintln!("leak: {l}");
                    }
                    eprintln!("error: `{}` leaks {} site(s)/patient(s) across parts", path.display(), leaks.len());
                }
                Err(Failure::Partial)
            }
            Err(e) => Err(Failure::Input(e.into())),
        };
    }
    let scheme = Scheme::parse(&args.scheme).expect("clap checked the value");
    let table = match &args.roi_bounds {
        Some(p) => RoiTable::from_path(p).input()?,
        None => RoiTable::builtin(),
    };
    let split = Split::from_scheme(scheme, table.rois().iter().map(|r| r.id.as_str()));
    split.check_leakage().input()?;
    let path = args.out.as_ref().expect("clap requires --out without --check");
    bcss::command::split::write(&split, path, Some(scheme)).output()?;
    if out.json {
        print_json(
            &serde_json::json!({"out": path.display().to_string(), "scheme": scheme.as_str(), "counts": split.counts()}),
        );
    } else if !out.quiet {
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
        eprintln!("{} split of {} ROIs: {} -> {}", scheme.as_str(), split.len(), counts_text(&split), path.display());
        for p in [Part::Val, Part::Test] {
            if split.counts().contains_key(&p) {
                eprintln!("  {p} sites: {}", sites(p));
            }
        }
    }
    Ok(())
}
