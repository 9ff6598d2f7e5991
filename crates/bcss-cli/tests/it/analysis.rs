//! The analysis commands (`classes`, `split`, `stats`, `tile`, `overlay`, `eval`) run as the real
//! binary on small datasets written here, in both layouts. Every number is computed by hand in
//! the comments next to it.

use std::path::Path;

use crate::util::{bcss, files_under, run, Dir};

pub(crate) fn write_png(path: &Path, w: usize, h: usize, channels: usize, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(if channels == 1 { png::ColorType::Grayscale } else { png::ColorType::Rgb });
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(data).unwrap();
}

fn read_png(path: &Path) -> (usize, usize, Vec<u8>) {
    let mut dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    dec.set_transformations(png::Transformations::IDENTITY);
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, buf)
}

pub(crate) fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn close(v: &serde_json::Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-9)
}

/// Truth of the 4x4 case, in BCSS codes: main5 turns 7 into don't care and 10 into class 3.
const TRUTH_4X4: [u8; 16] = [1, 1, 2, 2, 1, 1, 2, 2, 0, 7, 3, 3, 0, 0, 3, 10];
/// Prediction in main5 classes (5 on don't care pixels is ignored; 0 on a labelled pixel is a miss).
const PRED_4X4: [u8; 16] = [1, 1, 1, 2, 1, 1, 2, 2, 5, 5, 3, 2, 0, 0, 0, 3];

#[test]
fn eval_four_by_four_by_hand_drive_layout_and_suffixes() {
    let d = Dir::new();
    // Truth in the Drive layout (MPP-0.2300), predictions named MPP-0.2500: paired by ROI + xmin + ymin.
    write_png(&d.join("truth/masks/TCGA-A1-A0SK-DX1_xmin10_ymin20_MPP-0.2300.png"), 4, 4, 1, &TRUTH_4X4);
    write_png(&d.join("truth/rgbs_colorNormalized/TCGA-A1-A0SK-DX1_xmin10_ymin20_MPP-0.2300.png"), 4, 4, 3, &[9; 48]);
    write_png(&d.join("pred/TCGA-A1-A0SK-DX1_xmin10_ymin20_MPP-0.2500.png"), 4, 4, 1, &PRED_4X4);
    // A second, perfect image: 2x2 necrosis (code 4 -> class 4).
    write_png(&d.join("truth/masks/TCGA-OL-A5RW-DX1_xmin0_ymin0_MPP-0.2300.png"), 2, 2, 1, &[4; 4]);
    write_png(&d.join("pred/TCGA-OL-A5RW-DX1_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[4; 4]);

    let r = run(bcss()
        .args(["--json", "eval", "--class-map", "main5", "--pred"])
        .arg(d.join("pred"))
        .arg("--truth")
        .arg(d.join("truth")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["images"], 2);
    // 12 labelled pixels in the 4x4 (four are don't care), 4 in the 2x2.
    assert_eq!(v["labelled_pixels"], 16);
    // Rows: truth 1..=5; columns: prediction 0..=5.
    assert_eq!(v["confusion"]["counts"][0], serde_json::json!([0, 4, 0, 0, 0, 0]));
    assert_eq!(v["confusion"]["counts"][1], serde_json::json!([0, 1, 3, 0, 0, 0]));
    assert_eq!(v["confusion"]["counts"][2], serde_json::json!([1, 0, 1, 2, 0, 0]));
    assert_eq!(v["confusion"]["counts"][3], serde_json::json!([0, 0, 0, 0, 4, 0]));
    let pooled = &v["pooled"]["per_class"];
    // Tumour: TP 4, FP 1 (a stroma pixel), FN 0: Dice 8/9, IoU 4/5.
    assert!(close(&pooled[0]["dice"], 8.0 / 9.0) && close(&pooled[0]["iou"], 0.8));
    assert!(close(&pooled[0]["precision"], 0.8) && close(&pooled[0]["recall"], 1.0));
    // Stroma: TP 3, FP 1, FN 1: Dice 6/8, IoU 3/5.
    assert!(close(&pooled[1]["dice"], 0.75) && close(&pooled[1]["iou"], 0.6));
    // Inflammatory: TP 2, FP 0, FN 2 (one called stroma, one not predicted): Dice 4/6, IoU 2/4.
    assert!(close(&pooled[2]["dice"], 2.0 / 3.0) && close(&pooled[2]["iou"], 0.5));
    assert!(close(&pooled[2]["precision"], 1.0) && close(&pooled[2]["recall"], 0.5));
    // Necrosis perfect; other never present nor predicted on labelled pixels: undefined.
    assert!(close(&pooled[3]["dice"], 1.0));
    assert!(pooled[4]["dice"].is_null() && pooled[4]["iou"].is_null());
    // Pixel accuracy (4 + 3 + 2 + 4) / 16.
    assert!(close(&v["pooled"]["pixel_accuracy"], 13.0 / 16.0));
    assert!(close(&v["pooled"]["mean_dice"], (8.0 / 9.0 + 0.75 + 2.0 / 3.0 + 1.0) / 4.0));
    // Per image: accuracies 9/12 and 1 -> mean 0.875; mean Dice of image 1 is (8/9 + 3/4 + 2/3) / 3.
    let pi = &v["per_image_mean"];
    assert!(close(&pi["pixel_accuracy"], 0.875));
    assert!(close(&pi["mean_dice"], ((8.0 / 9.0 + 0.75 + 2.0 / 3.0) / 3.0 + 1.0) / 2.0));
    // Tumour only defined in image 1; necrosis only in image 2.
    assert!(close(&pi["per_class"][0]["dice"], 8.0 / 9.0) && close(&pi["per_class"][3]["iou"], 1.0));

    // The table on screen carries the same numbers.
    let r = run(bcss().args(["eval", "--pred"]).arg(d.join("pred")).arg("--truth").arg(d.join("truth")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("1 tumour") && r.stdout.contains("88.9%") && r.stdout.contains("pooled 81.2%"),
        "{}",
        r.stdout
    );
}

#[test]
fn eval_problems_name_the_file_and_exit_1() {
    let d = Dir::new();
    write_png(&d.join("truth/masks/A_xmin0_ymin0_MPP-0.2500.png"), 4, 4, 1, &TRUTH_4X4);
    write_png(&d.join("truth/masks/B_xmin0_ymin0_MPP-0.2500.png"), 4, 4, 1, &TRUTH_4X4);
    write_png(&d.join("truth/masks/C_xmin0_ymin0_MPP-0.2500.png"), 4, 4, 1, &TRUTH_4X4);
    write_png(&d.join("pred/A_xmin0_ymin0_MPP-0.2500.png"), 4, 3, 1, &[1; 12]);
    let mut bad = PRED_4X4;
    bad[6] = 6; // main5 has 5 classes
    write_png(&d.join("pred/B_xmin0_ymin0_MPP-0.2500.png"), 4, 4, 1, &bad);
    let r = run(bcss().args(["eval", "--pred"]).arg(d.join("pred")).arg("--truth").arg(d.join("truth")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("A_xmin0_ymin0_MPP-0.2500.png`: size 4x3 does not match the ground truth 4x4"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("B_xmin0_ymin0_MPP-0.2500.png`: value 6 at (x 2, y 1) is not a class of map main5 (0..=5)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("C_xmin0_ymin0_MPP-0.2500.png`: no prediction"), "{}", r.stderr);
    let r = run(bcss().args(["--json", "eval", "--pred"]).arg(d.join("pred")).arg("--truth").arg(d.join("truth")));
    assert_eq!(r.code, 1);
    assert_eq!(json(&r.stdout)["problems"].as_array().unwrap().len(), 3);
    let r = run(bcss().args(["eval", "--pred"]).arg(d.join("nope")).arg("--truth").arg(d.join("truth")));
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_map_with_code_1_missing_is_refused() {
    let d = Dir::new();
    // The widely copied loader: angioinvasion and DCIS are tumour, tumour itself is forgotten.
    let map = d.write(
        "buggy.toml",
        "dont_care = [7, 15]\n[[class]]\nname = \"tumour\"\ncodes = [19, 20]\n[[class]]\nname = \"rest\"\ncodes = [2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 21]\n",
    );
    let r = run(bcss().args(["classes", "--class-map"]).arg(&map));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("code 1 (tumor) is not mapped"), "{}", r.stderr);
    write_png(&d.join("ds/masks/A_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[1; 4]);
    let r = run(bcss().args(["stats"]).arg(d.join("ds")).arg("--class-map").arg(&map).arg("--out").arg(d.join("s")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("code 1 (tumor) is not mapped"), "{}", r.stderr);
    let twice = d.write("twice.toml", &std::fs::read_to_string(&map).unwrap().replace("[19, 20]", "[1, 19, 20, 21]"));
    let r = run(bcss().args(["classes", "--class-map"]).arg(&twice));
    assert!(r.code == 2 && r.stderr.contains("code 21 (other) is mapped twice"), "{}", r.stderr);
    let zero =
        d.write("zero.toml", &std::fs::read_to_string(&map).unwrap().replace("[19, 20]", "[1, 19, 20]\nvalue = 0"));
    let r = run(bcss().args(["classes", "--class-map"]).arg(&zero));
    assert!(r.code == 2 && r.stderr.contains("class `tumour` has value 0"), "{}", r.stderr);
}

#[test]
fn classes_and_help_say_where_exclude_and_undetermined_go() {
    let r = run(bcss().args(["--json", "classes"]));
    assert_eq!(r.code, 0);
    let v = json(&r.stdout);
    assert_eq!(v["codes"].as_array().unwrap().len(), 22);
    assert_eq!(v["codes"][1]["color"], "#dc143c");
    let main5 = &v["maps"][1];
    assert_eq!(main5["name"], "main5");
    assert_eq!(main5["classes"][0]["codes"], serde_json::json!([1, 19, 20]));
    assert_eq!(main5["dont_care"], serde_json::json!([7, 15]));
    for cmd in ["stats", "tile", "eval", "overlay"] {
        let r = run(bcss().args([cmd, "--help"]));
        assert!(r.stdout.contains("exclude (7) and undetermined (15) are don't care"), "{cmd}: {}", r.stdout);
    }
    let r = run(bcss().args(["classes", "--toml", "--class-map", "wsss4"]));
    assert!(r.stdout.contains("name = \"wsss4\"") && r.stdout.contains("codes = [1, 19, 20]"), "{}", r.stdout);
}

#[test]
fn official_split_and_leakage_check() {
    let d = Dir::new();
    let r = run(bcss().args(["split", "--out"]).arg(d.join("s.csv")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = std::fs::read_to_string(d.join("s.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 151);
    assert_eq!(rows.iter().filter(|l| l.ends_with(",test")).count(), 45);
    assert_eq!(rows.iter().filter(|l| l.ends_with(",train")).count(), 106);
    assert!(rows.contains(&"TCGA-OL-A5RW-DX1,OL,TCGA-OL-A5RW,test"));
    let r = run(bcss().args(["--json", "split", "--scheme", "official-val", "--out"]).arg(d.join("s.json")));
    assert_eq!(json(&r.stdout)["counts"], serde_json::json!({"train": 76, "val": 30, "test": 45}));
    let r = run(bcss().args(["split", "--check"]).arg(d.join("s.json")));
    assert_eq!(r.code, 0, "{}", r.stderr);

    let leaky = d.write("leaky.csv", "roi,part\nTCGA-A1-A0SK-DX1,train\nTCGA-A1-A0SP-DX1,test\n");
    let r = run(bcss().args(["split", "--check"]).arg(&leaky));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("site A1 is in both train (TCGA-A1-A0SK-DX1) and test (TCGA-A1-A0SP-DX1)"),
        "{}",
        r.stderr
    );
    // A leaky split is refused as input by the commands that use it.
    write_png(&d.join("ds/masks/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png"), 2, 2, 1, &[1; 4]);
    let r = run(bcss().args(["stats"]).arg(d.join("ds")).arg("--split").arg(&leaky).arg("--out").arg(d.join("o")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("refusing split file") && r.stderr.contains("site A1"), "{}", r.stderr);
}

#[test]
fn stats_by_hand_on_the_drive_layout() {
    let d = Dir::new();
    // Train ROI (site A1), 4x2: codes 0 0 1 1 / 2 7 19 20 -> main5: dc dc t t / s dc t t.
    write_png(&d.join("ds/masks/TCGA-A1-A0SK-DX1_xmin1_ymin2_MPP-0.2300.png"), 4, 2, 1, &[0, 0, 1, 1, 2, 7, 19, 20]);
    // Test ROI (site OL), 2x2: 3 10 / 4 2 -> inflammatory x2, necrosis, stroma.
    write_png(&d.join("ds/masks/TCGA-OL-A5RW-DX1_xmin3_ymin4_MPP-0.2500.png"), 2, 2, 1, &[3, 10, 4, 2]);
    std::fs::create_dir_all(d.join("ds/rgbs_colorNormalized")).unwrap();
    let r = run(bcss().args(["--json", "stats"]).arg(d.join("ds")).arg("--out").arg(d.join("st")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    let parts = v["parts"].as_array().unwrap();
    let names: Vec<&str> = parts.iter().map(|p| p["part"].as_str().unwrap()).collect();
    assert_eq!(names, ["train", "test", "all"]);
    // Train: 8 pixels, 3 don't care, labelled 5: tumour 4/5, stroma 1/5.
    assert_eq!((parts[0]["pixels"].as_u64(), parts[0]["dont_care"].as_u64()), (Some(8), Some(3)));
    assert!(close(&parts[0]["dont_care_fraction"], 3.0 / 8.0));
    assert!(close(&parts[0]["classes"][0]["fraction"], 0.8) && close(&parts[0]["classes"][0]["weight_inverse"], 0.2));
    // Median frequency in train: freq = 4/5, 1/5 -> median 1/2 -> weights 0.625 and 2.5; absent classes 0.
    assert!(close(&parts[0]["classes"][0]["weight_median_frequency"], 0.625));
    assert!(close(&parts[0]["classes"][1]["weight_median_frequency"], 2.5));
    assert!(close(&parts[0]["classes"][2]["weight_median_frequency"], 0.0));
    // All: labelled 9; stroma in both ROIs (present_in 2), 2/9 of labelled pixels.
    assert_eq!(parts[2]["classes"][1]["present_in"], 2);
    assert!(close(&parts[2]["classes"][1]["fraction"], 2.0 / 9.0));
    let rois = std::fs::read_to_string(d.join("st/rois.csv")).unwrap();
    assert_eq!(
        rois,
        "roi,part,width,height,pixels,dont_care,dont_care_fraction,tumour,stroma,inflammatory,necrosis,other\n\
         TCGA-A1-A0SK-DX1,train,4,2,8,3,0.375000,4,1,0,0,0\n\
         TCGA-OL-A5RW-DX1,test,2,2,4,0,0.000000,0,1,2,1,0\n"
    );
    assert_eq!(
        files_under(&d.join("st")),
        [
            "classes.csv",
            "distribution-pixels.svg",
            "distribution.png",
            "distribution.svg",
            "parts.csv",
            "rois.csv",
            "stats.json"
        ]
    );
    let (w, h, _) = read_png(&d.join("st/distribution.png"));
    assert!(w > 200 && h > 200);
    // The charts name every class and, in the legend, the parts with their ROI counts.
    let share = std::fs::read_to_string(d.join("st/distribution.svg")).unwrap();
    let pixels = std::fs::read_to_string(d.join("st/distribution-pixels.svg")).unwrap();
    for svg in [&share, &pixels] {
        for want in ["tumour", "stroma", "inflammatory", "necrosis", "other", "train (1 ROI)", "test (1 ROI)"] {
            assert!(svg.contains(&format!(">\n{want}\n</text>")), "{want} missing");
        }
    }
    assert!(
        share.contains("share of the part&apos;s labelled pixels")
            || share.contains("share of the part's labelled pixels")
    );
    assert!(
        pixels.contains("pixels (log scale)") && pixels.contains(">\n1\n</text>") && pixels.contains(">\n10\n</text>")
    );
}

#[test]
fn tile_covers_a_roi_whose_size_is_not_a_multiple_of_the_stride() {
    let d = Dir::new();
    // 10 x 7 ROI, tiles of 4 every 4: xs 0, 4, 6 and ys 0, 3 (last row and column moved back).
    let (w, h) = (10, 7);
    let mask: Vec<u8> = (0..w * h).map(|i| if i % w < 5 { 1 } else { 2 }).collect();
    let img: Vec<u8> = (0..w * h).flat_map(|i| [(i % w) as u8, (i / w) as u8, 0]).collect();
    write_png(&d.join("ds/masks/TCGA-OL-A5RW-DX1_xmin0_ymin0_MPP-0.2500.png"), w, h, 1, &mask);
    write_png(&d.join("ds/images/TCGA-OL-A5RW-DX1_xmin0_ymin0_MPP-0.2500.png"), w, h, 3, &img);
    let r = run(bcss()
        .args(["tile"])
        .arg(d.join("ds"))
        .args(["--size", "4", "--stride", "4", "--class-map", "raw", "--min-labelled", "0", "--out"])
        .arg(d.join("t")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let index = std::fs::read_to_string(d.join("t/test/index.csv")).unwrap();
    let origins: Vec<(usize, usize)> = index
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    assert_eq!(origins, [(0, 0), (4, 0), (6, 0), (0, 3), (4, 3), (6, 3)]);
    // Tile (4, 3): columns 4..8, rows 3..7: column 4 is class 1, 5..8 class 2 -> 4 and 12 pixels.
    assert!(index.contains("\nTCGA-OL-A5RW-DX1,4,3,1.000000,images/TCGA-OL-A5RW-DX1_x4_y3.png,masks/TCGA-OL-A5RW-DX1_x4_y3.png,0,4,12,"), "{index}");
    let mut covered = vec![false; w * h];
    for (x, y) in &origins {
        let (_, _, m) = read_png(&d.join(&format!("t/test/masks/TCGA-OL-A5RW-DX1_x{x}_y{y}.png")));
        let (_, _, im) = read_png(&d.join(&format!("t/test/images/TCGA-OL-A5RW-DX1_x{x}_y{y}.png")));
        for ty in 0..4 {
            for tx in 0..4 {
                let (sx, sy) = (x + tx, y + ty);
                covered[sy * w + sx] = true;
                assert_eq!(m[ty * 4 + tx], mask[sy * w + sx]);
                assert_eq!(&im[(ty * 4 + tx) * 3..(ty * 4 + tx) * 3 + 2], &[sx as u8, sy as u8]);
            }
        }
    }
    assert!(covered.iter().all(|&c| c));
    let r =
        run(bcss().args(["tile"]).arg(d.join("ds")).args(["--size", "4", "--stride", "5", "--out"]).arg(d.join("u")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("stride 5 must be between 1 and the tile size 4"), "{}", r.stderr);
}

#[test]
fn tile_drops_sparse_tiles_and_remaps() {
    let d = Dir::new();
    // 4 x 4, main5: top half tumour (code 20), bottom half exclude (7, don't care).
    let mask: Vec<u8> = (0..16).map(|i| if i < 8 { 20 } else { 7 }).collect();
    write_png(&d.join("ds/masks/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png"), 4, 4, 1, &mask);
    write_png(&d.join("ds/images/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png"), 4, 4, 3, &[50; 48]);
    // Tiles of 2: the top two have labelled fraction 1, the bottom two 0.
    let r = run(bcss().args(["--json", "tile"]).arg(d.join("ds")).args(["--size", "2", "--out"]).arg(d.join("t")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(
        (v["tiles_total"].as_u64(), v["tiles_written"].as_u64(), v["tiles_dropped"].as_u64()),
        (Some(4), Some(2), Some(2))
    );
    let (_, _, m) = read_png(&d.join("t/train/masks/TCGA-A1-A0SK-DX1_x2_y0.png"));
    assert_eq!(m, [1, 1, 1, 1]);
    // Same input, second run into a fresh directory: identical pixels.
    let r = run(bcss()
        .args(["-q", "tile"])
        .arg(d.join("ds"))
        .args(["--size", "2", "--jobs", "1", "--out"])
        .arg(d.join("t2")));
    assert_eq!(r.code, 0);
    assert_eq!(files_under(&d.join("t")), files_under(&d.join("t2")));
    assert_eq!(
        std::fs::read(d.join("t/train/index.csv")).unwrap(),
        std::fs::read(d.join("t2/train/index.csv")).unwrap()
    );
    // A non-empty output directory is refused.
    let r = run(bcss().args(["tile"]).arg(d.join("ds")).args(["--size", "2", "--out"]).arg(d.join("t")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not empty"), "{}", r.stderr);
}

#[test]
fn overlay_writes_each_roi_and_a_contact_sheet() {
    let d = Dir::new();
    for (id, w, h) in [("TCGA-A1-A0SK-DX1", 40, 30), ("TCGA-OL-A5RW-DX1", 20, 50)] {
        write_png(&d.join(&format!("ds/masks/{id}_xmin0_ymin0_MPP-0.2500.png")), w, h, 1, &vec![2u8; w * h]);
        write_png(
            &d.join(&format!("ds/rgbs_colorNormalized/{id}_xmin0_ymin0_MPP-0.2500.png")),
            w,
            h,
            3,
            &vec![0u8; w * h * 3],
        );
    }
    let r = run(bcss()
        .args(["overlay"])
        .arg(d.join("ds"))
        .args(["--alpha", "1", "--thumb", "10", "--out"])
        .arg(d.join("o")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        files_under(&d.join("o")),
        ["TCGA-A1-A0SK-DX1_overlay.png", "TCGA-OL-A5RW-DX1_overlay.png", "contact_sheet.png"]
    );
    let (w, h, px) = read_png(&d.join("o/TCGA-OL-A5RW-DX1_overlay.png"));
    assert_eq!((w, h), (20, 50));
    // Alpha 1: a pixel left of the legend is exactly the stroma colour.
    assert_eq!(&px[(49 * 20 + 3) * 3..(49 * 20 + 3) * 3 + 3], &[255, 160, 200]);
    // Two cells side by side, each as wide as a 16-character id in 13-pixel text, plus 12.
    let (sw, sh, _) = read_png(&d.join("o/contact_sheet.png"));
    assert!(sw % 2 == 0 && sw / 2 >= 100 + 12 && sh >= 10 + 2 * 17, "{sw} x {sh}");

    // Outline style without a legend: stroma everywhere has no border, so the picture is the
    // image itself (black).
    let r = run(bcss()
        .args(["overlay"])
        .arg(d.join("ds"))
        .args(["--style", "outline", "--no-legend", "--thumb", "10", "--out"])
        .arg(d.join("outline")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, _, px) = read_png(&d.join("outline/TCGA-A1-A0SK-DX1_overlay.png"));
    assert!(px.iter().all(|&v| v == 0), "nothing drawn over a single-class ROI in outline style");
    let r = run(bcss().args(["overlay"]).arg(d.join("ds")).args(["--style", "dots", "--out"]).arg(d.join("x")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("invalid value 'dots'") && r.stderr.contains("fill, outline"), "{}", r.stderr);
}
