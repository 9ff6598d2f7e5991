//! `bcss eval`: the table on stdout (or JSON with `--json`); problems on stderr and exit 1.

use bcss::command::eval::{self, EvalReport, ProblemKind};
use bcss::dataset::pairs::find_masks;

use super::inputs::{self, pct};
use super::{print_json, Output};
use crate::cli::EvalArgs;
use crate::exit::{Classify, Failure};
use crate::progress::Bar;

pub fn run(args: &EvalArgs, out: Output) -> Result<(), Failure> {
    let map = inputs::class_map(&args.class_map)?;
    inputs::jobs(args.jobs)?;
    let mut truth = find_masks(&args.truth).input()?;
    let mut pred = find_masks(&args.pred).input()?;
    inputs::select_masks(&args.truth, &mut truth, &mut pred, &args.select)?;
    let bar = Bar::new("images", out.progress);
    let report = inputs::with_jobs(args.jobs, || eval::evaluate(&map, &truth, &pred, &bar))?;
    bar.finish();
    if out.json {
        print_json(&report);
    } else if !out.quiet {
        print_table(&report);
    }
    if !out.json {
        for p in &report.problems {
            eprintln!("problem: `{}`: {}", p.file.display(), p.message);
        }
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
    if !report.problems.is_empty() {
        if !out.json {
            eprintln!(
                "error: {} file(s) could not be evaluated; the metrics above leave them out",
                report.problems.len()
            );
            let missing = report.problems.iter().filter(|p| p.kind == ProblemKind::NoPrediction).count();
            if missing > 0 && args.select.part.is_none() {
                eprintln!(
                    "\nhint: {missing} ground-truth mask(s) have no prediction; to score one part of a split, \
                     give `--split official --part test` (or another split and part)"
                );
            }
        }
        return Err(Failure::Partial);
    }
    Ok(())
}

fn print_table(r: &EvalReport) {
    println!(
        "class map {}: {} images, {} labelled pixels (don't care excluded)\n",
        r.class_map, r.images, r.labelled_pixels
    );
    println!(
        "{:<24} {:>12} {:>8} {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8} {:>8}",
        "", "", "pooled", "", "", "", "per-image", "", "", ""
    );
    println!(
        "{:<24} {:>12} {:>8} {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8} {:>8}",
        "class", "truth px", "Dice", "IoU", "prec", "recall", "Dice", "IoU", "prec", "recall"
    );
    for (p, i) in r.pooled.per_class.iter().zip(&r.per_image_mean.per_class) {
        println!(
            "{:<24} {:>12} {:>8} {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8} {:>8}",
            format!("{} {}", p.value, p.name),
            p.truth_pixels,
            pct(p.dice),
            pct(p.iou),
            pct(p.precision),
            pct(p.recall),
            pct(i.dice),
            pct(i.iou),
            pct(i.precision),
            pct(i.recall)
        );
    }
    println!(
        "{:<24} {:>12} {:>8} {:>8} {:>8} {:>8}   {:>8} {:>8}",
        "mean",
        "",
        pct(r.pooled.mean_dice),
        pct(r.pooled.mean_iou),
        "",
        "",
        pct(r.per_image_mean.mean_dice),
        pct(r.per_image_mean.mean_iou)
    );
    println!(
        "pixel accuracy: pooled {}, per-image mean {}",
        pct(r.pooled.pixel_accuracy),
        pct(r.per_image_mean.pixel_accuracy)
    );
    println!("\nconfusion matrix (rows: truth, columns: prediction; 0 = no prediction)");
    print!("{:>8}", "");
    for p in 0..=r.confusion.k {
        print!(" {p:>10}");
    }
    println!();
    for (t, row) in r.confusion.counts.iter().enumerate() {
        print!("{:>8}", t + 1);
        for v in row {
            print!(" {v:>10}");
        }
        println!();
    }
}
