//! Writes the H&E-like picture (`tissue`) as an RGB PNG of any size, for pixel benchmarks
//! (`bcss normalize` on the BCSS median ROI, 4806 x 3870).
//!
//! ```sh
//! cargo run --release -p bcss-testserver --example tissue_png -- OUT.png 4806 3870
//! ```

#![expect(clippy::print_stderr, reason = "an example binary reports its usage")]

use bcss_testserver::tissue::paint_row;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, w, h] = &args[..] else {
        eprintln!("usage: tissue_png OUT.png WIDTH HEIGHT");
        std::process::exit(2);
    };
    let (w, h): (u32, u32) = (w.parse().expect("width"), h.parse().expect("height"));
    let file = std::io::BufWriter::new(std::fs::File::create(out).expect("create OUT"));
    let mut enc = png::Encoder::new(file, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().expect("header").into_stream_writer().expect("stream");
    let cols: Vec<u64> = (0..u64::from(w)).collect();
    let mut row = vec![0u8; w as usize * 3];
    for y in 0..u64::from(h) {
        paint_row(y, &cols, &mut row, 3);
        std::io::Write::write_all(&mut writer, &row).expect("write");
    }
    writer.finish().expect("finish");
}
