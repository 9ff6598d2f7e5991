//! Compatibility of `bcss extract` with a real DSA: the same slide files read locally and
//! fetched through large_image's `tiles/region` (as lossless PNG) must agree.
//!
//! Needs the real DSA of `compat/real-dsa` (run by `.ci/run`):
//! `eval "$(compat/real-dsa/start.sh --env)"` and `REAL_DSA_SLIDES=~/.cache/real-dsa/run/slides`,
//! then `set -a` / export `DSA_API_URL`, `DSA_API_KEY`, `DSA_FOLDER_ID`, `REAL_DSA_SLIDES` and
//! `cargo test --test it compat_extract -- --ignored --nocapture`.
//!
//! Cases: `--mpp 0.25` (slide 1, 40x: native; slide 2, 20x: BICUBIC 2x enlarge) and `--mag 20`
//! (slide 1: LANCZOS 2x shrink; slide 2: native). Images must have the same size, per-channel
//! max abs difference <= 2 and mean < 0.5; masks must be identical.

use std::path::{Path, PathBuf};

use crate::util::{bcss, run, Dir};

pub(crate) const ROIS: [(&str, [u32; 4]); 2] =
    [("TCGA-SY-NTH1-DX1", [4000, 3000, 12000, 9000]), ("TCGA-SY-NTH2-DX1", [2000, 1250, 4000, 2750])];

pub(crate) fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set; see the module docs"))
}

pub(crate) fn decode_rgb(path: &Path) -> (u32, u32, Vec<u8>) {
    let mut reader =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap())).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    let rgb = match channels {
        3 => buf,
        1 => buf.iter().flat_map(|&v| [v, v, v]).collect(),
        _ => buf.chunks_exact(channels).flat_map(|p| [p[0], p[1], p[2]]).collect(),
    };
    (info.width, info.height, rgb)
}

pub(crate) fn setup(d: &Dir) -> PathBuf {
    let mut csv = String::from(",xmin,ymin,xmax,ymax,mask_link\r\n");
    for (id, [x0, y0, x1, y1]) in ROIS {
        let (w, h) = (x1 - x0, y1 - y0);
        // Codes 0..=21 in bands, plus a diagonal so both axes matter for the resize.
        let data: Vec<u8> = (0..w * h).map(|i| (((i % w) / 97 + (i / w) / 131) % 22) as u8).collect();
        let path = d.join(&format!("{id}.png"));
        let mut enc = png::Encoder::new(std::fs::File::create(&path).unwrap(), w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.write_header().unwrap().write_image_data(&data).unwrap();
        csv += &format!("{id},{x0},{y0},{x1},{y1},{}\r\n", path.display());
    }
    d.write("roiBounds.csv", &csv)
}

/// Per-channel (max, mean) absolute difference of two RGB buffers.
fn channel_diff(a: &[u8], b: &[u8]) -> [(u8, f64); 3] {
    let mut out = [(0u8, 0.0f64); 3];
    for (c, o) in out.iter_mut().enumerate() {
        let mut max = 0;
        let mut sum = 0u64;
        let mut n = 0u64;
        for (x, y) in a.iter().skip(c).step_by(3).zip(b.iter().skip(c).step_by(3)) {
            let d = x.abs_diff(*y);
            max = max.max(d);
            sum += u64::from(d);
            n += 1;
        }
        *o = (max, sum as f64 / n.max(1) as f64);
    }
    out
}

fn compare(resolution: &[&str], suffix: &str) {
    let d = Dir::new();
    let csv = setup(&d);
    let (dl, ex) = (d.join("download"), d.join("extract"));
    let r = run(bcss()
        .args(["download", "--encoding", "png", "--no-progress", "--jobs", "1"])
        .args(resolution)
        .args([
            "--api-url",
            &env("DSA_API_URL"),
            "--api-key",
            &env("DSA_API_KEY"),
            "--folder-id",
            &env("DSA_FOLDER_ID"),
        ])
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&dl));
    assert_eq!(r.code, 0, "download: {}", r.stderr);
    let r = run(bcss()
        .args(["extract", "--no-progress"])
        .args(resolution)
        .arg("--slides-dir")
        .arg(env("REAL_DSA_SLIDES"))
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&ex));
    assert_eq!(r.code, 0, "extract: {}", r.stderr);
    for (id, [x0, y0, _, _]) in ROIS {
        let name = format!("{id}_xmin{x0}_ymin{y0}_{suffix}.png");
        let (w1, h1, a) = decode_rgb(&dl.join("images").join(&name));
        let (w2, h2, b) = decode_rgb(&ex.join("images").join(&name));
        assert_eq!((w1, h1), (w2, h2), "{name}: sizes differ");
        let diff = channel_diff(&a, &b);
        let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        eprintln!("{resolution:?} {name}: {w1}x{h1}, per-channel (max, mean) |download - extract| = {diff:?}, {differing} of {} samples differ", a.len());
        for (max, mean) in diff {
            assert!(max <= 2 && mean < 0.5, "{name}: {diff:?}");
        }
        let m1 = std::fs::read(dl.join("masks").join(&name)).unwrap();
        let m2 = std::fs::read(ex.join("masks").join(&name)).unwrap();
        assert!(
            decode_rgb(&dl.join("masks").join(&name)).2 == decode_rgb(&ex.join("masks").join(&name)).2,
            "{name}: masks differ"
        );
        assert_eq!(m1.len(), m2.len(), "{name}: same mask, same encoder");
    }
}

#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn extract_matches_the_dsa_at_mpp_025() {
    compare(&["--mpp", "0.25"], "MPP-0.2500");
}

#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn extract_matches_the_dsa_at_mag_20() {
    compare(&["--mag", "20"], "MAG-20.00");
}

/// Masks rasterised from the server's annotations: `download --mask-source annotations` and
/// `extract --mask-source annotations` (on the JSON the download saved) agree pixel for pixel,
/// and the masks hold what the synthetic annotations drew (spec 4.3: stroma is the background
/// class inside the ROI, tumour and lymphocytes painted over it).
#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn masks_from_annotations_agree_between_download_and_extract() {
    let d = Dir::new();
    let csv = setup(&d);
    let dl = d.join("dl");
    let r = run(bcss()
        .args([
            "download",
            "--api-url",
            &env("DSA_API_URL"),
            "--folder-id",
            &env("DSA_FOLDER_ID"),
            "--pipeline",
            "masks,annotations",
            "--mask-source",
            "annotations",
            "--mag",
            "20",
        ])
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&dl)
        .env("BCSS_API_KEY", env("DSA_API_KEY")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ex = d.join("ex");
    let r = run(bcss()
        .args([
            "extract",
            "--pipeline",
            "images,masks",
            "--mask-source",
            "annotations",
            "--mag",
            "20",
            "--slides-dir",
            &env("REAL_DSA_SLIDES"),
        ])
        .arg("--annotations-dir")
        .arg(dl.join("annotations"))
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&ex));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (id, [x0, y0, ..]) in ROIS {
        let name = format!("masks/{id}_xmin{x0}_ymin{y0}_MAG-20.00.png");
        let a = bcss::codec::png::decode_gray(&std::fs::read(dl.join(&name)).unwrap()).unwrap();
        let b = bcss::codec::png::decode_gray(&std::fs::read(ex.join(&name)).unwrap()).unwrap();
        assert_eq!((a.width, a.height), (b.width, b.height), "{name}");
        assert!(a.data == b.data, "{name}: download and extract masks differ");
        assert!(a.data.iter().all(|&v| v <= 21));
    }
    let count = |m: &bcss::model::GrayImage, v: u8| m.data.iter().filter(|&&x| x == v).count();
    // Slide 2: a tumour polygon inside the ROI, stroma (the background class) around it.
    let m2 = bcss::codec::png::decode_gray(
        &std::fs::read(dl.join("masks/TCGA-SY-NTH2-DX1_xmin2000_ymin1250_MAG-20.00.png")).unwrap(),
    )
    .unwrap();
    assert!(count(&m2, 1) > 0 && count(&m2, 2) > 0, "slide 2: tumour and stroma expected");
    // Slide 1 (40x, halved at 20x): its stroma polygon covers the whole ROI and the stroma group
    // has the higher overlay order (2 > 1), so HistomicsTK paints it over the tumour and
    // lymphocyte polygons: all stroma, except the last row and column, which HistomicsTK's
    // off-by-one tightening drops (0 = outside).
    let m1 = bcss::codec::png::decode_gray(
        &std::fs::read(dl.join("masks/TCGA-SY-NTH1-DX1_xmin4000_ymin3000_MAG-20.00.png")).unwrap(),
    )
    .unwrap();
    assert_eq!((m1.width, m1.height), (4000, 3000));
    assert_eq!(count(&m1, 0), 4000 + 3000 - 1);
    assert_eq!(count(&m1, 2), 4000 * 3000 - (4000 + 3000 - 1));
}
