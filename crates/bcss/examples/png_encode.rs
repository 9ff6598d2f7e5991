//! PNG encoding cost: bcss's writer at each `--png-compression` level, and the `png` crate's
//! encoder (zlib-rs, what bcss used before) as the anchor, on one raw RGB image.
//!
//! ```sh
//! cargo run --release -p bcss --example png_encode -- IMAGE.rgb WIDTH HEIGHT [OUT_DIR]
//! CHANNELS=1 cargo run --release -p bcss --example png_encode -- MASK.raw WIDTH HEIGHT   # grey
//! ```
//!
//! Prints one tab-separated line per encoder: name, bytes, CPU seconds (user + system of the
//! whole process, all threads, best of 3), wall seconds. `PNG_ENCODE_ONLY=NAME` runs one of them. With `OUT_DIR`, writes each PNG there
//! (`bcss-fast.png`, ...) for `scripts/bench-png.py` to check with Pillow.
#![expect(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark prints its figures and its usage")]

use std::time::Instant;

use bcss::codec::png::{write_raw, Compression};

/// User + system CPU seconds of this process (all threads), from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    // Fields after the command name in parentheses; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn measure(name: &str, out_dir: Option<&str>, mut encode: impl FnMut() -> Vec<u8>) {
    // `PNG_ENCODE_ONLY=bcss-fast` measures one encoder (for a profiler).
    if std::env::var("PNG_ENCODE_ONLY").is_ok_and(|only| only != name) {
        return;
    }
    let (mut best_cpu, mut best_wall, mut bytes) = (f64::MAX, f64::MAX, Vec::new());
    for _ in 0..3 {
        let (c, t) = (cpu_seconds(), Instant::now());
        bytes = encode();
        best_cpu = best_cpu.min(cpu_seconds() - c);
        best_wall = best_wall.min(t.elapsed().as_secs_f64());
    }
    println!("{name}\t{}\t{best_cpu:.2}\t{best_wall:.2}", bytes.len());
    if let Some(dir) = out_dir {
        std::fs::write(format!("{dir}/{name}.png"), &bytes).unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: png_encode IMAGE.rgb WIDTH HEIGHT [OUT_DIR]");
        std::process::exit(2);
    }
    let data = std::fs::read(&args[1]).expect("read the raw RGB file");
    let (w, h): (usize, usize) = (args[2].parse().unwrap(), args[3].parse().unwrap());
    // `CHANNELS=1` reads a grey image (a label mask), else RGB.
    let channels: usize = std::env::var("CHANNELS").ok().and_then(|c| c.parse().ok()).unwrap_or(3);
    assert_eq!(data.len(), w * h * channels, "the file is not WIDTH x HEIGHT x CHANNELS bytes");
    let out_dir = args.get(4).map(String::as_str);
    for (name, c) in
        [("bcss-fast", Compression::Fast), ("bcss-balanced", Compression::Balanced), ("bcss-high", Compression::High)]
    {
        measure(name, out_dir, || {
            let mut v = Vec::new();
            write_raw(&mut v, w, h, channels, &data, c).unwrap();
            v
        });
    }
    for (name, c) in [("png-crate-fast", png::Compression::Fast), ("png-crate-balanced", png::Compression::Balanced)] {
        measure(name, out_dir, || {
            let mut v = Vec::new();
            let mut enc = png::Encoder::new(&mut v, w as u32, h as u32);
            enc.set_color(if channels == 1 { png::ColorType::Grayscale } else { png::ColorType::Rgb });
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(c);
            enc.write_header().unwrap().write_image_data(&data).unwrap();
            v
        });
    }
}
