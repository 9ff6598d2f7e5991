//! `bcss extract` on a real slide file (the committed fixture `crates/bcss/tests/fixtures/slide`,
//! a 3000x2000 Aperio-style SVS) through real OpenSlide: names, sizes, pixels and masks.

use std::path::{Path, PathBuf};

use crate::util::{bcss, files_under, png_claiming, run, run_peak_mb, write_zero_png, Dir};

const SLIDE: &str = "TCGA-SY-TEST-01Z-00-DX1.FIXTURE.svs";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bcss/tests/fixtures/slide")
}

fn decode(path: &Path) -> (u32, u32, png::ColorType, Vec<u8>) {
    let mut reader =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap())).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, info.color_type, buf)
}

fn write_gray(path: &Path, w: u32, h: u32, data: &[u8]) {
    let mut enc = png::Encoder::new(std::fs::File::create(path).unwrap(), w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.write_header().unwrap().write_image_data(data).unwrap();
}

/// A slides dir holding the fixture, a roiBounds.csv with two ROIs on it, and a mask PNG per ROI
/// (codes = column / 40 mod 22) linked from the CSV.
fn setup(d: &Dir) -> (PathBuf, PathBuf) {
    let slides = d.join("slides");
    std::fs::create_dir(&slides).unwrap();
    std::fs::copy(fixture_dir().join(SLIDE), slides.join(SLIDE)).unwrap();
    std::fs::write(slides.join("notes.txt"), "not a slide").unwrap();
    let mut csv = String::from(",xmin,ymin,xmax,ymax,mask_link\r\n");
    for (id, (x0, y0, x1, y1)) in
        [("TCGA-SY-TEST-DX1", (1000, 500, 1600, 900)), ("TCGA-SY-TEST-DX2", (2000, 1200, 2513, 1517))]
    {
        let (w, h) = (x1 - x0, y1 - y0);
        let data: Vec<u8> = (0..w * h).map(|i| ((i % w) / 40 % 22) as u8).collect();
        let mask = d.join(&format!("{id}.png"));
        write_gray(&mask, w, h, &data);
        csv += &format!("{id},{x0},{y0},{x1},{y1},{}\r\n", mask.display());
    }
    (slides, d.write("roiBounds.csv", &csv))
}

#[test]
fn extract_writes_images_and_masks_like_download() {
    let d = Dir::new();
    let (slides, csv) = setup(&d);
    let out = d.join("BCSS");
    let r = run(bcss()
        .args(["extract", "--mag", "20", "--no-progress", "--slides-dir"])
        .arg(&slides)
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files: Vec<String> = files_under(&out).into_iter().filter(|f| !f.starts_with("logs/")).collect();
    assert_eq!(
        files,
        [
            "images/TCGA-SY-TEST-DX1_xmin1000_ymin500_MAG-20.00.png",
            "images/TCGA-SY-TEST-DX2_xmin2000_ymin1200_MAG-20.00.png",
            "manifest.json",
            "masks/TCGA-SY-TEST-DX1_xmin1000_ymin500_MAG-20.00.png",
            "masks/TCGA-SY-TEST-DX2_xmin2000_ymin1200_MAG-20.00.png",
        ]
    );
    // Pixels: large_image's getRegion of the same file at magnification 20 (committed reference).
    let (w, h, colour, rgb) = decode(&out.join("images/TCGA-SY-TEST-DX1_xmin1000_ymin500_MAG-20.00.png"));
    assert_eq!((w, h, colour), (300, 200, png::ColorType::Rgb));
    let (_, _, _, want) = decode(&fixture_dir().join("expected/mag20.png"));
    assert!(rgb == want, "the image differs from large_image's region");
    // Odd sizes: 513x317 base -> floor(513/2) x floor(317/2).
    let (w, h, _, _) = decode(&out.join("images/TCGA-SY-TEST-DX2_xmin2000_ymin1200_MAG-20.00.png"));
    assert_eq!((w, h), (256, 158));
    let (mw, mh, mcolour, mask) = decode(&out.join("masks/TCGA-SY-TEST-DX2_xmin2000_ymin1200_MAG-20.00.png"));
    assert_eq!((mw, mh, mcolour), (256, 158, png::ColorType::Grayscale));
    // Nearest with the pixel-centre rule: output column 255 samples source column (2*255+1)*513/512 = 511.
    assert_eq!(mask[255], 12, "511 / 40 = 12");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let e = &manifest["rois"]["TCGA-SY-TEST-DX1"];
    assert_eq!(e["encoding"], "local");
    assert_eq!(e["mask_source"], "links");
    assert_eq!(e["slide_name"], SLIDE);
    assert_eq!((e["width"].as_u64(), e["height"].as_u64()), (Some(300), Some(200)));

    // A rerun skips both ROIs.
    let r = run(bcss()
        .args(["extract", "--mag", "20", "--json", "--slides-dir"])
        .arg(&slides)
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["skipped"].as_array().map(Vec::len), Some(2), "{}", r.stdout);
}

#[test]
fn extract_native_matches_large_image_and_masks_from_a_directory() {
    let d = Dir::new();
    let (slides, csv) = setup(&d);
    let masks = d.join("masks-in");
    std::fs::create_dir(&masks).unwrap();
    std::fs::rename(d.join("TCGA-SY-TEST-DX1.png"), masks.join("TCGA-SY-TEST-DX1_xmin1000_ymin500_MPP-0.2500.png"))
        .unwrap();
    let out = d.join("o");
    let r = run(bcss()
        .args(["extract", "--mpp", "0.25", "--slides", "TCGA-SY-TEST-DX1", "--slides-dir"])
        .arg(&slides)
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--masks-dir")
        .arg(&masks)
        .arg("--out")
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (w, h, _, rgb) = decode(&out.join("images/TCGA-SY-TEST-DX1_xmin1000_ymin500_MPP-0.2500.png"));
    assert_eq!((w, h), (600, 400));
    let (_, _, _, want) = decode(&fixture_dir().join("expected/native.png"));
    assert!(rgb == want, "native region differs from large_image's");
    let (_, _, _, mask) = decode(&out.join("masks/TCGA-SY-TEST-DX1_xmin1000_ymin500_MPP-0.2500.png"));
    let want_mask: Vec<u8> = (0..600 * 400).map(|i| ((i % 600) / 40 % 22) as u8).collect();
    assert!(mask == want_mask, "a native mask is copied unchanged");
}

#[test]
fn extract_refuses_bad_input_and_reports_missing_slides() {
    let d = Dir::new();
    let (slides, csv) = setup(&d);
    let r = run(bcss().args(["extract", "--slides-dir"]).arg(d.join("nope")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a directory"), "{}", r.stderr);
    let r = run(bcss()
        .args(["extract", "--mask-source", "dir", "--slides-dir"])
        .arg(&slides)
        .arg("--roi-bounds")
        .arg(&csv));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("needs `--masks-dir DIR`"), "{}", r.stderr);
    let r = run(bcss().args(["extract", "--pipeline", "annotations", "--slides-dir"]).arg(&slides));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("images and masks only"), "{}", r.stderr);
    // Annotation masks from a directory without the slide's JSON: that ROI fails, naming what was looked for.
    let r = run(bcss()
        .args(["extract", "--slides-dir"])
        .arg(&slides)
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--annotations-dir")
        .arg(&slides)
        .arg("--out")
        .arg(d.join("a")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no annotation file for slide"), "{}", r.stderr);
    // Built-in table: slides that are not on disk fail per ROI (exit 1) with the file name looked for.
    let r = run(bcss()
        .args(["extract", "--pipeline", "images", "--slides", "TCGA-A1-A0SK", "--slides-dir"])
        .arg(&slides)
        .arg("--out")
        .arg(d.join("b")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no slide file for `TCGA-A1-A0SK`"), "{}", r.stderr);
}

fn extract(slides: &Path, csv: &Path, out: &Path) -> std::process::Command {
    let mut cmd = bcss();
    cmd.args(["extract", "--mag", "20", "--no-progress", "--slides-dir"])
        .arg(slides)
        .arg("--roi-bounds")
        .arg(csv)
        .arg("--out")
        .arg(out);
    cmd
}

/// A 70-byte mask PNG whose header claims 60000 x 2147483647 pixels (129 TB decoded) fails its
/// ROI from the header, and the other ROI is done: no abort, every in-flight ROI kept.
#[test]
fn a_mask_bomb_fails_its_roi_only() {
    let d = Dir::new();
    let (slides, csv) = setup(&d);
    std::fs::write(d.join("TCGA-SY-TEST-DX1.png"), png_claiming(60000, 2_147_483_647)).unwrap();
    let out = d.join("o");
    let r = run(&mut extract(&slides, &csv, &out));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("memory allocation") && !r.stderr.contains("panicked"), "{}", r.stderr);
    let line = r.stderr.lines().find(|l| l.starts_with("failed: TCGA-SY-TEST-DX1")).expect(&r.stderr);
    assert!(line.contains("is 60000x2147483647 but the ROI is 600x400 base pixels"), "{line}");
    assert!(out.join("masks/TCGA-SY-TEST-DX2_xmin2000_ymin1200_MAG-20.00.png").is_file(), "{}", r.stderr);
    assert!(!out.join("masks/TCGA-SY-TEST-DX1_xmin1000_ymin500_MAG-20.00.png").exists());
}

/// A real 20000 x 50000 zero-filled mask (5 MB on disk, 1 GB decoded) for a 600 x 400 ROI is
/// refused before it is read: the process never holds its pixels.
#[test]
fn a_gigapixel_mask_of_the_wrong_size_is_refused_before_decoding() {
    let d = Dir::new();
    let (slides, csv) = setup(&d);
    write_zero_png(&d.join("TCGA-SY-TEST-DX1.png"), 20000, 50000);
    let out = d.join("o");
    let (r, peak_mb) = run_peak_mb(extract(&slides, &csv, &out).args(["--jobs", "1"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = r.stderr.lines().find(|l| l.starts_with("failed: TCGA-SY-TEST-DX1")).expect(&r.stderr);
    // The file is over a mask's budget (2 bytes per base pixel + 1 MiB, as for a mask link's
    // body) before its header is read; the header check stays for masks within the budget.
    assert!(line.contains("it is 4977149 bytes, over the limit of 1528576 bytes"), "{line}");
    // Decoding first peaked at about 1 GB; the header check leaves the slide reading.
    assert!(peak_mb < 300, "peak resident memory {peak_mb} MB");
}

/// `--mask-source annotations`: a ROI element 1e7 pixels wide matched to a 600 x 400 ROI is
/// refused before rasterising (its ROI fails, clearly), the other ROI's element is used.
#[test]
fn an_absurd_annotation_element_fails_its_roi_only() {
    let d = Dir::new();
    let (slides, csv) = setup(&d);
    let anns = d.join("anns");
    std::fs::create_dir(&anns).unwrap();
    let json = r#"[{"annotation": {"name": "t", "elements": [
        {"type": "rectangle", "id": "wide", "group": "roi", "center": [5001000, 700, 0], "width": 10000000, "height": 400, "rotation": 0},
        {"type": "polyline", "id": "dx2", "group": "roi", "points": [[2000, 1200, 0], [2513, 1200, 0], [2513, 1517, 0], [2000, 1517, 0]]}
    ]}}]"#;
    std::fs::write(anns.join("TCGA-SY-TEST-01Z-00-DX1.FIXTURE.json"), json).unwrap();
    let out = d.join("o");
    let (r, peak_mb) = run_peak_mb(extract(&slides, &csv, &out).arg("--annotations-dir").arg(&anns));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = r.stderr.lines().find(|l| l.starts_with("failed: TCGA-SY-TEST-DX1")).expect(&r.stderr);
    assert!(line.contains("(10000000x400 pixels) is over 4 times the ROI's area (600x400)"), "{line}");
    assert!(out.join("masks/TCGA-SY-TEST-DX2_xmin2000_ymin1200_MAG-20.00.png").is_file(), "{}", r.stderr);
    assert!(peak_mb < 300, "peak resident memory {peak_mb} MB");
}

/// Streaming changes no byte: `bcss extract` (tile strips read and resampled a few at a time on
/// two threads, output rows handed to the PNG writer as the rolling window makes them) writes,
/// byte for byte at the same compression, the file of the one-shot road: the whole region read
/// at the base level, resized in one call to Pillow's resampler (`resize_rgb`, pinned to Pillow
/// by its fixtures), encoded in one call. Three cases: a LANCZOS 2x shrink (`--mag 20` of a 40x
/// slide), a BICUBIC 2x enlarge (`--mpp 0.25` of a 20x slide) and a native read. The ROIs span
/// several 256-row tile strips, several deflate pieces and several output bands.
#[test]
fn streamed_extract_equals_the_one_shot_road_byte_for_byte() {
    use bcss::codec::png::{write_rgb, Compression};
    use bcss::model::Rect;
    use bcss::source::LocalSlide;
    use bcss::transform::{filter_for, plan_region, resize_rgb, ScaleRequest};
    use bcss_testserver::svs::{write_svs, SvsSpec};

    let d = Dir::new();
    let slides = d.join("slides");
    std::fs::create_dir(&slides).unwrap();
    let forty = "TCGA-SY-STRA-01Z-00-DX1.STREAM.svs";
    let twenty = "TCGA-SY-STRB-01Z-00-DX1.STREAM.svs";
    write_svs(&slides.join(forty), &SvsSpec { levels: vec![1, 4], ..SvsSpec::new(2600, 2200) }).unwrap();
    write_svs(
        &slides.join(twenty),
        &SvsSpec { levels: vec![1, 4], mpp: 0.5, objective: 20.0, ..SvsSpec::new(1400, 1200) },
    )
    .unwrap();
    // (ROI id, slide, bounds, flags, output suffix, scale request)
    let cases = [
        (
            "TCGA-SY-STRA-DX1",
            forty,
            (333, 101, 2150, 2077),
            "--mag",
            "20",
            "MAG-20.00",
            ScaleRequest::Magnification(20.0),
        ),
        (
            "TCGA-SY-STRB-DX1",
            twenty,
            (57, 33, 1190, 1101),
            "--mpp",
            "0.25",
            "MPP-0.2500",
            ScaleRequest::Mm { mm_x: 0.00025, mm_y: 0.00025 },
        ),
        (
            "TCGA-SY-STRA-DX1",
            forty,
            (333, 101, 2150, 2077),
            "--mpp",
            "0.25",
            "MPP-0.2500",
            ScaleRequest::Mm { mm_x: 0.00025, mm_y: 0.00025 },
        ),
    ];
    for (i, (id, slide, (x0, y0, x1, y1), flag, value, suffix, request)) in cases.into_iter().enumerate() {
        let csv =
            d.write(&format!("rois{i}.csv"), &format!(",xmin,ymin,xmax,ymax,mask_link\n{id},{x0},{y0},{x1},{y1},\n"));
        let out = d.join(&format!("out{i}"));
        let r = run(bcss()
            .args(["extract", "--pipeline", "images", "--png-compression", "fast", "--jobs", "2", "--no-progress"])
            .args([flag, value])
            .arg("--slides-dir")
            .arg(&slides)
            .arg("--roi-bounds")
            .arg(&csv)
            .arg("--out")
            .arg(&out));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let streamed = std::fs::read(out.join(format!("images/{id}_xmin{x0}_ymin{y0}_{suffix}.png"))).unwrap();

        let local = LocalSlide::open(&slides.join(slide)).unwrap();
        let g = local.geometry().clone();
        let rect = Rect { left: x0, top: y0, right: x1, bottom: y1 };
        let plan = plan_region(&g, rect, request);
        let (bw, bh) = (rect.width() as usize, rect.height() as usize);
        let (ow, oh) = (plan.out_width as usize, plan.out_height as usize);
        let base = local.read_region(rect, g.levels - 1, bw as u64, bh as u64).unwrap();
        let image = if (ow, oh) == (bw, bh) { base } else { resize_rgb(&base, ow, oh, filter_for(bw, ow)) };
        let mut one_shot = Vec::new();
        write_rgb(&mut one_shot, &image, Compression::Fast).unwrap();
        let what = match i {
            0 => "LANCZOS shrink",
            1 => "BICUBIC enlarge",
            _ => "native",
        };
        assert_eq!((ow, oh), [(908, 988), (2266, 2136), (1817, 1976)][i], "{what}: planned size");
        assert!(streamed == one_shot, "{what}: the streamed extract differs from the one-shot file");
    }
}

/// Memory does not grow with the ROI: the same slide, the same width, a ROI four times as tall
/// (90 MB of RGB more at the native resolution, and as much again for the intermediate the
/// resampler held before streaming) raises the process's peak by a few MB at most. Native and a
/// LANCZOS shrink (`--mag 20`), at `--jobs 2`.
///
/// Both ROIs are taller than what fills OpenSlide's tile cache (32 MB of decoded tiles in
/// OpenSlide 3.4: about 2000 rows of a 4000-pixel-wide ROI), which grows to its cap and then
/// stays: a shorter first ROI made this test measure the cache filling, not bcss, and fail or
/// pass with the machine's load.
#[test]
fn extract_memory_does_not_grow_with_the_roi() {
    use bcss_testserver::svs::{write_svs, SvsSpec};
    let d = Dir::new();
    let slides = d.join("slides");
    std::fs::create_dir(&slides).unwrap();
    write_svs(
        &slides.join("TCGA-SY-FLAT-01Z-00-DX1.FLAT.svs"),
        &SvsSpec { levels: vec![1, 4], ..SvsSpec::new(4200, 10200) },
    )
    .unwrap();
    for (flag, value) in [("--mpp", "0.25"), ("--mag", "20")] {
        let mut peaks = Vec::new();
        for (i, height) in [2500u64, 10000].into_iter().enumerate() {
            let csv = d.write(
                &format!("flat{i}{value}.csv"),
                &format!(",xmin,ymin,xmax,ymax,mask_link\nTCGA-SY-FLAT-DX1,100,100,4100,{},\n", 100 + height),
            );
            let out = d.join(&format!("flat{i}{value}"));
            let (r, peak_mb) = run_peak_mb(
                bcss()
                    .args([
                        "extract",
                        "--pipeline",
                        "images",
                        "--png-compression",
                        "fast",
                        "--jobs",
                        "2",
                        "--no-progress",
                    ])
                    .args([flag, value])
                    .arg("--slides-dir")
                    .arg(&slides)
                    .arg("--roi-bounds")
                    .arg(&csv)
                    .arg("--out")
                    .arg(&out),
            );
            assert_eq!(r.code, 0, "{}", r.stderr);
            peaks.push(peak_mb);
        }
        assert!(
            peaks[1] <= peaks[0] + 12,
            "{flag} {value}: peak {} MB for 4000x10000 against {} MB for 4000x2500: memory grows with the ROI",
            peaks[1],
            peaks[0]
        );
    }
}

/// A mask link that is a FIFO (issue 22): the ROI fails at once naming it, the other ROI is
/// written, and the end-of-run report does not offer a rerun for a failure a rerun cannot fix.
#[test]
fn a_fifo_mask_link_fails_its_roi_without_blocking_or_a_rerun_hint() {
    let d = Dir::new();
    let (slides, csv) = setup(&d);
    let fifo = d.join("TCGA-SY-TEST-DX2.png");
    std::fs::remove_file(&fifo).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = d.join("BCSS");
    let r = run(bcss()
        .args(["extract", "--mag", "20", "--no-progress", "--slides-dir"])
        .arg(&slides)
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&out));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("TCGA-SY-TEST-DX2") && r.stderr.contains("it is a FIFO"), "{}", r.stderr);
    assert!(!r.stderr.contains("rerun the same command"), "{}", r.stderr);
    assert!(r.stderr.contains("will not change on a rerun alone"), "{}", r.stderr);
    assert!(out.join("masks/TCGA-SY-TEST-DX1_xmin1000_ymin500_MAG-20.00.png").is_file());
}
