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

#![expect(clippy::print_stderr, reason = "an example binary reports what it wrote")]

use std::io::Write;
use std::path::PathBuf;

use bcss::catalog::codes::CODES;
use bcss::catalog::RoiTable;
use bcss::codec::png::{write_raw, Compression};
use bcss::dataset::atomic::write_atomic;
use bcss::dataset::names::roi_file_name;
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

fn main() {
    let mut args = std::env::args().skip(1);
    let mut out: Option<PathBuf> = None;
    let (mut scale, mut n, mut drive) = (1.0f64, usize::MAX, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scale" => scale = args.next().and_then(|v| v.parse().ok()).expect("--scale F"),
            "--rois" => n = args.next().and_then(|v| v.parse().ok()).expect("--rois N"),
            "--drive" => drive = true,
            _ => out = Some(PathBuf::from(a)),
        }
    }
    let out = out.expect("usage: synth_dataset OUT [--scale F] [--rois N] [--drive]");
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
            write_atomic::<std::io::Error>(&mask_dir.join(&name), |f: &mut dyn Write| {
                write_raw(f, w, h, 1, &mask, Compression::Fast).map_err(std::io::Error::other)
            })
            .expect("write mask");
            write_atomic::<std::io::Error>(&image_dir.join(&name), |f: &mut dyn Write| {
                write_raw(f, w, h, 3, &img, Compression::Fast).map_err(std::io::Error::other)
            })
            .expect("write image");
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
