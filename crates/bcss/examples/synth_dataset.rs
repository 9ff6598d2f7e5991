//! Writes a synthetic BCSS-shaped dataset: for each ROI of the built-in table, an RGB image and a
//! label mask of the ROI's real size (times `--scale`), named as `bcss download` names them.
//!
//! Used by `scripts/bench-analysis.sh`. Masks are blobs of tissue codes on a coarse grid (mostly
//! tumour and stroma, some of every code, including exclude and undetermined) inside a border
//! of 0 (outside the ROI); images are the code's colour plus per-pixel noise, so PNGs compress
//! about as poorly as real tissue does. Deterministic: the same arguments give the same pixels.
//!
//! ```text
//! cargo run --release --example synth_dataset -- OUT [--scale 1.0] [--rois 151] [--drive]
//! ```
//!
//! Arguments go through clap (a dev-dependency: the library itself never depends on it), so
//! `--help` prints help and an unknown flag is an error instead of a folder name: the full
//! dataset is about 9 GB, not something to write into `./--help`.

#![expect(clippy::print_stderr, reason = "an example binary reports what it wrote")]

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;

use bcss::catalog::codes::CODES;
use bcss::catalog::RoiTable;
use bcss::codec::png::{write_raw, Compression};
use bcss::dataset::atomic::write_atomic;
use bcss::dataset::roi_file_name;
use rayon::prelude::*;

fn hash(mut v: u64) -> u64 {
    v ^= v >> 33;
    v = v.wrapping_mul(0xff51afd7ed558ccd);
    v ^= v >> 33;
    v = v.wrapping_mul(0xc4ceb9fe1a85ec53);
    v ^ (v >> 33)
}

/// Code of a 128-pixel cell: weights roughly like BCSS (tumour and stroma dominate).
fn cell_code(seed: u64, cx: usize, cy: usize) -> u8 {
    let r = hash(seed ^ ((cx as u64) << 32) ^ cy as u64) % 100;
    match r {
        0..=34 => 1,
        35..=64 => 2,
        65..=74 => 3,
        75..=80 => 4,
        81..=82 => 7,
        83 => 15,
        84 => 19,
        85..=86 => 20,
        87..=88 => 10,
        89 => 11,
        90..=93 => 9,
        94..=95 => 6,
        96 => 13,
        97 => 18,
        98 => 12,
        _ => 21,
    }
}

/// Write a synthetic BCSS-shaped dataset (the ROIs of the built-in table at their real sizes
/// times --scale; the full 151 at scale 1 is about 9 GB).
#[derive(Debug, Parser)]
#[command(name = "synth_dataset")]
struct Args {
    /// Output folder (created): images/ (or rgbs_colorNormalized/ with --drive) and masks/.
    #[arg(value_name = "OUT")]
    out: PathBuf,
    /// Scale of every ROI's side (0.1 gives 1% of the pixels).
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = scale)]
    scale: f64,
    /// Only the first N ROIs of the table. [default: all 151]
    #[arg(long, value_name = "N")]
    rois: Option<usize>,
    /// The Google Drive copy's layout (rgbs_colorNormalized/ + masks/).
    #[arg(long)]
    drive: bool,
}

/// A positive, finite scale of at most 4 (a bigger one is a typo that would fill the disk).
fn scale(v: &str) -> Result<f64, String> {
    let f: f64 = v.parse().map_err(|e| format!("{e}"))?;
    if f.is_finite() && f > 0.0 && f <= 4.0 {
        Ok(f)
    } else {
        Err(format!("{v} is not a scale between 0 (excluded) and 4"))
    }
}

fn main() {
    let Args { out, scale, rois: n, drive } = Args::parse();
    let n = n.unwrap_or(usize::MAX);
    let image_dir = out.join(if drive { "rgbs_colorNormalized" } else { "images" });
    let mask_dir = out.join("masks");
    std::fs::create_dir_all(&image_dir).expect("create images dir");
    std::fs::create_dir_all(&mask_dir).expect("create masks dir");
    let table = RoiTable::builtin();
    let rois: Vec<_> = table.rois().iter().take(n).collect();
    let start = std::time::Instant::now();
    let pixels: u64 = rois
        .par_iter()
        .enumerate()
        .map(|(i, roi)| {
            let w = ((roi.width() as f64 * scale).round() as usize).max(1);
            let h = ((roi.height() as f64 * scale).round() as usize).max(1);
            let seed = hash(i as u64 + 1);
            let border = (w.min(h) / 40).max(1);
            let mut mask = vec![0u8; w * h];
            let mut img = vec![0u8; w * h * 3];
            for y in 0..h {
                for x in 0..w {
                    let inside = x >= border && y >= border && x + border < w && y + border < h;
                    let code = if inside { cell_code(seed, x / 128, y / 128) } else { 0 };
                    mask[y * w + x] = code;
                    let noise = hash(seed ^ ((y * w + x) as u64)) as u8 & 31;
                    let base = if code == 0 { [235, 235, 235] } else { CODES[code as usize].color };
                    for c in 0..3 {
                        img[(y * w + x) * 3 + c] = base[c].saturating_sub(16).saturating_add(noise);
                    }
                }
            }
            let name = roi_file_name(&roi.id, roi.xmin, roi.ymin, "MPP-0.2500");
            for (dir, channels, pixels) in [(&mask_dir, 1, &mask), (&image_dir, 3, &img)] {
                write_atomic::<std::io::Error>(&dir.join(&name), |f: &mut dyn Write| {
                    write_raw(f, w, h, channels, pixels, Compression::Fast).map_err(std::io::Error::other)
                })
                .expect("write");
            }
            (w * h) as u64
        })
        .sum();
    eprintln!(
        "{} ROIs, {:.1} MP written to {} in {:.1} s",
        rois.len(),
        pixels as f64 / 1e6,
        out.display(),
        start.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_and_bad_flags_are_not_an_output_folder() {
        let help = Args::try_parse_from(["synth_dataset", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        let e = Args::try_parse_from(["synth_dataset", "--scael", "2", "out"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(Args::try_parse_from(["synth_dataset", "--scale", "100", "out"]).is_err());
        let a = Args::try_parse_from(["synth_dataset", "out", "--rois", "3", "--drive"]).unwrap();
        assert_eq!((a.out, a.rois, a.drive, a.scale), (PathBuf::from("out"), Some(3), true, 1.0));
    }
}
